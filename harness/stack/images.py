"""Images without a registry: an offline Debian base and the service images, rebuilt only when
their inputs change (the tag is a hash of the build context and the base image)."""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from docker.errors import APIError, BuildError, DockerException, ImageNotFound

from harness.errors import EnvironmentProblem, ImageBuildError
from harness.stack.engine import client
from harness.state import state_root

REGISTRY_BASE = "debian:bookworm-slim"
OFFLINE_BASE = "reboot-harness/base:bookworm"
IMAGE_REPO = "reboot-harness"

Progress = Callable[[str], None]


def _quiet(_: str) -> None:
    return None


@contextmanager
def build_lock() -> Iterator[None]:
    """Serialise builds between processes (parallel xdist workers share one image cache)."""
    root = state_root()
    root.mkdir(parents=True, exist_ok=True)
    with open(root / "build.lock", "w", encoding="ascii") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def _has_image(name: str) -> bool:
    try:
        client().images.get(name)
    except ImageNotFound:
        return False
    return True


def _apt_mirror() -> str:
    """The Debian mirror this machine's apt already uses (so we name no host ourselves)."""
    candidates = [Path("/etc/apt/sources.list.d/debian.sources"), Path("/etc/apt/sources.list")]
    for path in candidates:
        try:
            text = path.read_text(encoding="utf-8")
        except OSError:
            continue
        for line in text.splitlines():
            parts = line.split()
            if parts[:1] == ["URIs:"] and len(parts) > 1 and "security" not in parts[1]:
                return parts[1]
            if parts[:1] == ["deb"] and len(parts) > 2 and "security" not in parts[2]:
                return parts[-3] if parts[1].startswith("[") else parts[1]
    raise EnvironmentProblem(
        "cannot find a Debian mirror in /etc/apt/sources.list(.d) to build the offline base image;"
        f" set RH_BASE_IMAGE to an image you have (e.g. {REGISTRY_BASE})"
    )


def ensure_base_image(progress: Progress = _quiet) -> str:
    """Return the base image to build from, making one offline if no registry answers.

    Order: ``$RH_BASE_IMAGE`` if set; ``debian:bookworm-slim`` if present or pullable; the local
    debootstrap image (built once with ``debootstrap --variant=minbase`` + ``docker import``).
    """
    wanted = os.environ.get("RH_BASE_IMAGE")
    if wanted:
        if not _has_image(wanted):
            try:
                client().images.pull(wanted)
            except DockerException as e:
                raise EnvironmentProblem(
                    f"RH_BASE_IMAGE={wanted} is not present and cannot be pulled ({e});"
                    " unset RH_BASE_IMAGE to build an offline base with debootstrap"
                ) from e
        return wanted
    if _has_image(REGISTRY_BASE):
        return REGISTRY_BASE
    if _has_image(OFFLINE_BASE):
        return OFFLINE_BASE
    with build_lock():
        if _has_image(OFFLINE_BASE):
            return OFFLINE_BASE
        try:
            client().images.pull(REGISTRY_BASE)
            return REGISTRY_BASE
        except DockerException:
            progress(f"no registry answers for {REGISTRY_BASE}: building {OFFLINE_BASE} offline")
        _debootstrap_base(progress)
    return OFFLINE_BASE


def _debootstrap_base(progress: Progress) -> None:
    debootstrap = shutil.which("debootstrap")
    if debootstrap is None:
        raise EnvironmentProblem(
            f"no registry can serve {REGISTRY_BASE} and `debootstrap` is not installed:"
            " `apt-get install debootstrap` (as root), or set RH_BASE_IMAGE to a Debian 12 image"
        )
    if os.geteuid() != 0:
        raise EnvironmentProblem(
            f"building the offline base image {OFFLINE_BASE} with debootstrap needs root;"
            " run once as root (`scripts/setup-host.sh`) or set RH_BASE_IMAGE"
        )
    mirror = _apt_mirror()
    with tempfile.TemporaryDirectory(prefix="rh-base-") as tmp:
        root = Path(tmp) / "root"
        proc = subprocess.run(
            [debootstrap, "--variant=minbase", "bookworm", str(root), mirror],
            capture_output=True,
            text=True,
            check=False,
        )
        if proc.returncode != 0:
            tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-5:])
            raise EnvironmentProblem(
                f"debootstrap bookworm from {mirror} failed (exit {proc.returncode}); check disk"
                f" space (`df -h {tmp}`) and the mirror:\n{tail}"
            )
        tarball = Path(tmp) / "root.tar"
        subprocess.run(["tar", "-C", str(root), "-cf", str(tarball), "."], check=True)
        shutil.rmtree(root, ignore_errors=True)
        try:
            with open(tarball, "rb") as f:
                client().api.import_image(
                    src=f, repository=OFFLINE_BASE.split(":")[0], tag=OFFLINE_BASE.split(":")[1]
                )
        except (APIError, OSError) as e:
            raise EnvironmentProblem(f"docker import of {tarball} failed: {e}") from e


def context_hash(images_dir: Path, base_image_id: str) -> str:
    """A short hash of every file under ``images_dir`` and of the base image's id."""
    h = hashlib.sha256(base_image_id.encode())
    for path in sorted(p for p in images_dir.rglob("*") if p.is_file()):
        rel = path.relative_to(images_dir).as_posix()
        h.update(rel.encode() + b"\0" + str(path.stat().st_mode & 0o111).encode() + b"\0")
        h.update(path.read_bytes())
    return h.hexdigest()[:12]


def roles(images_dir: Path) -> list[str]:
    return sorted(p.parent.name for p in images_dir.glob("*/Dockerfile"))


def build_images(images_dir: Path, base_image: str, progress: Progress = _quiet) -> str:
    """Build every ``images_dir/<role>/Dockerfile`` missing for this tag; return the tag."""
    base_id = client().images.get(base_image).id
    tag = f"h-{context_hash(images_dir, base_id)}"
    missing = [r for r in roles(images_dir) if not _has_image(f"{IMAGE_REPO}/{r}:{tag}")]
    if not missing:
        return tag
    with build_lock():
        for role in missing:
            name = f"{IMAGE_REPO}/{role}:{tag}"
            if _has_image(name):
                continue
            progress(f"building {name}")
            try:
                client().images.build(
                    path=str(images_dir / role),
                    tag=name,
                    buildargs={"BASE_IMAGE": base_image},
                    rm=True,
                    forcerm=True,
                    labels={"org.reboot-harness.image": role},
                )
            except BuildError as e:
                log = "".join(
                    str(chunk.get("stream", chunk.get("error", ""))) for chunk in e.build_log
                )
                tail = "\n".join(log.strip().splitlines()[-15:])
                raise ImageBuildError(
                    f"{images_dir / role}/Dockerfile: build of {name} failed: {e.msg}\n{tail}"
                ) from e
            except APIError as e:
                raise ImageBuildError(f"{images_dir / role}: build of {name} failed: {e}") from e
            # Keep the "latest" tag pointing at what was built last, for plain `docker compose`.
            client().images.get(name).tag(f"{IMAGE_REPO}/{role}", "latest")
    return tag
