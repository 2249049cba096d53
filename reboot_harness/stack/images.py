"""Images without a registry: an offline Debian base and the service images, rebuilt only when
their inputs change (the tag is a hash of the build context and the base image)."""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import os
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from docker.errors import APIError, BuildError, DockerException, ImageNotFound

from reboot_harness.errors import EnvironmentProblem, HarnessError, ImageBuildError
from reboot_harness.inputs import paths
from reboot_harness.stack import diskfull, engines
from reboot_harness.stack.engine import client
from reboot_harness.stack.state import state_root

REGISTRY_BASE = "debian:bookworm-slim"
OFFLINE_BASE = "reboot-harness/base:bookworm"
IMAGE_REPO = "reboot-harness"
DEFAULT_DATA_ROOT = "/var/lib/docker"
# debootstrap's root and its tarball exist side by side for a moment.
BASE_SPACE_HINT = " (the offline base needs about 400 MB there for a moment)"

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
                found = diskfull.evidence(str(e))
                if found is not None:
                    raise diskfull.in_docker(
                        f"pulling RH_BASE_IMAGE={wanted}", found, *docker_data_root()
                    ) from e
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
        # Another configured engine (RH_ENGINES) may have a base already: the same image (and
        # id, so the same service image tags) without building.
        copied = engines.load_from_peers([REGISTRY_BASE], progress) or engines.load_from_peers(
            [OFFLINE_BASE], progress
        )
        if copied:
            return copied[0]
        try:
            client().images.pull(REGISTRY_BASE)
            return REGISTRY_BASE
        except DockerException as e:
            found = diskfull.evidence(str(e))
            if found is not None:  # a registry answered but the layers did not fit
                raise diskfull.in_docker(
                    f"pulling {REGISTRY_BASE}", found, *docker_data_root()
                ) from e
            progress(f"no registry answers for {REGISTRY_BASE}: building {OFFLINE_BASE} offline")
        _debootstrap_base(progress)
    return OFFLINE_BASE


def _as_root() -> str:
    """What to run as root to build the base: the setup script of a checkout (a wheel has none)."""
    return "`scripts/setup-host.sh`" if paths.from_checkout() else "`reboot-harness build`"


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
            f" run once as root ({_as_root()}) or set RH_BASE_IMAGE"
        )
    mirror = _apt_mirror()
    what = f"building the offline base image {OFFLINE_BASE}"
    try:
        with tempfile.TemporaryDirectory(prefix="rh-base-") as tmp:
            root = Path(tmp) / "root"
            _base_step(
                [debootstrap, "--variant=minbase", "bookworm", str(root), mirror],
                f"debootstrap bookworm from {mirror}",
                Path(tmp),
                log=root / "debootstrap" / "debootstrap.log",
                check=" and the mirror",
            )
            tarball = Path(tmp) / "root.tar"
            _base_step(["tar", "-C", str(root), "-cf", str(tarball), "."], "tar", Path(tmp))
            shutil.rmtree(root, ignore_errors=True)
            try:
                with open(tarball, "rb") as f:
                    client().api.import_image(
                        src=f, repository=OFFLINE_BASE.split(":")[0], tag=OFFLINE_BASE.split(":")[1]
                    )
            except (APIError, OSError) as e:
                found = diskfull.evidence(str(e))
                if found is not None:
                    raise diskfull.in_docker(
                        f"importing {OFFLINE_BASE}", found, *docker_data_root()
                    ) from e
                raise EnvironmentProblem(f"docker import of {tarball} failed: {e}") from e
    except OSError as e:
        # e.g. the work directory itself cannot be made on a full /tmp
        if e.errno != errno.ENOSPC:
            raise
        raise diskfull.in_dir(what, str(e), tempfile.gettempdir(), BASE_SPACE_HINT) from e


def _base_step(
    argv: list[str], what: str, tmp: Path, log: Path | None = None, check: str = ""
) -> None:
    """Run one step of the offline base build in ``tmp``; a full disk there is said as such."""
    proc = subprocess.run(argv, capture_output=True, text=True, check=False)
    if proc.returncode == 0:
        return
    output = proc.stdout + proc.stderr
    if log is not None:
        # debootstrap's stderr often only points at its log, which holds the real error
        with contextlib.suppress(OSError):
            output += "\n" + log.read_text(encoding="utf-8", errors="replace")[-20000:]
    found = diskfull.evidence(output)
    if found is not None:
        raise diskfull.in_dir(
            f"building the offline base image {OFFLINE_BASE} ({what})",
            found,
            str(tmp.parent),
            BASE_SPACE_HINT,
        )
    tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-5:])
    raise EnvironmentProblem(
        f"{what} failed (exit {proc.returncode}); check disk space (`df -h {tmp}`){check}:\n{tail}"
    )


def docker_data_root() -> tuple[str, int | None]:
    """Where the engine keeps images and layers, and its free bytes when the engine runs on
    this machine (a remote or VM engine's disk cannot be measured from here)."""
    try:
        root = str(client().info().get("DockerRootDir") or DEFAULT_DATA_ROOT)
    except (DockerException, OSError):
        root = DEFAULT_DATA_ROOT
    local = os.environ.get("DOCKER_HOST", "unix://").startswith("unix://")
    return root, diskfull.free_bytes(root) if local and os.path.isdir(root) else None


def context_hash(images_dir: Path, base_image_id: str) -> str:
    """A short hash of every file under ``images_dir`` and of the base image's id (Python's
    bytecode caches excluded: importing a client module on this machine changes no image)."""
    h = hashlib.sha256(base_image_id.encode())
    files = (p for p in images_dir.rglob("*") if p.is_file())
    for path in sorted(p for p in files if "__pycache__" not in p.parts and p.suffix != ".pyc"):
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
        # Images by content hash: another configured engine (RH_ENGINES) that has them hands
        # them over; only what no engine has is built.
        names = [f"{IMAGE_REPO}/{r}:{tag}" for r in missing]
        engines.load_from_peers([n for n in names if not _has_image(n)], progress)
        for role in missing:
            name = f"{IMAGE_REPO}/{role}:{tag}"
            if _has_image(name):
                client().images.get(name).tag(f"{IMAGE_REPO}/{role}", "latest")
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
            except (BuildError, APIError, OSError) as e:
                raise build_failure(e, image=name, context=images_dir / role) from e
            # Keep the "latest" tag pointing at what was built last, for plain `docker compose`.
            client().images.get(name).tag(f"{IMAGE_REPO}/{role}", "latest")
    return tag


def build_failure(
    e: BuildError | APIError | OSError,
    *,
    image: str,
    context: Path,
    data_root: Callable[[], tuple[str, int | None]] = docker_data_root,
) -> HarnessError:
    """What a failed ``images.build`` means for the user.

    A full disk, in the daemon or in a RUN step (the build log says so) or while the SDK packs
    the context into a temporary file here (OSError ENOSPC), is an EnvironmentProblem of one
    line; anything else is an ImageBuildError with the end of the build log.
    """
    if isinstance(e, BuildError):
        chunks = list(e.build_log)  # a one-shot iterator
        log_lines = "".join(
            str(c.get("stream", c.get("error", ""))) for c in chunks if isinstance(c, dict)
        ).splitlines()
        found = diskfull.evidence(str(e.msg))
        step = None
        for line in log_lines:
            if line.startswith("Step "):
                step = _shorten(" ".join(line.split()), 80)
            elif found is None and (found := diskfull.evidence(line)) is not None:
                break
        if found is not None:
            at = f" at {step}" if step else ""
            return diskfull.in_docker(
                f"{context}/Dockerfile: build of {image}{at}", found, *data_root()
            )
        tail = "\n".join("\n".join(log_lines).strip().splitlines()[-15:])
        return ImageBuildError(f"{context}/Dockerfile: build of {image} failed: {e.msg}\n{tail}")
    if isinstance(e, APIError):
        found = diskfull.evidence(str(e))
        if found is not None:
            return diskfull.in_docker(f"{context}: build of {image}", found, *data_root())
        return ImageBuildError(f"{context}: build of {image} failed: {e}")
    full = _enospc(e)
    if full is not None:
        # The SDK packs the context into a temporary file before sending it, and words a failed
        # write as "Can not read file in context" (the ENOSPC is its cause).
        where = os.path.dirname(full.filename) if isinstance(full.filename, str) else None
        return diskfull.in_dir(
            f"{context}: packing the build context of {image}",
            diskfull.evidence(str(full)) or str(full),
            where or tempfile.gettempdir(),
        )
    return ImageBuildError(f"{context}: build of {image} failed: {e}")


def _enospc(e: BaseException | None) -> OSError | None:
    """The OSError with errno ENOSPC in ``e``'s chain of causes, if any."""
    seen: set[int] = set()
    while e is not None and id(e) not in seen:
        seen.add(id(e))
        if isinstance(e, OSError) and e.errno == errno.ENOSPC:
            return e
        e = e.__cause__ or e.__context__
    return None


def _shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def image_commands(
    names: Sequence[str], timeout: float = 5.0
) -> dict[str, tuple[tuple[str, ...], tuple[str, ...]]]:
    """The entrypoint and command of each image of ``names`` the engine has (never pulled);
    nothing when the engine does not answer within ``timeout`` seconds (`init --from` then
    says which services are left for the user to fill in)."""
    if not names or not engines.answers(engines.current(), timeout):
        return {}
    found: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {}
    for name in names:
        try:
            config = client().images.get(name).attrs.get("Config") or {}
        except (ImageNotFound, APIError, DockerException, EnvironmentProblem):
            continue
        entrypoint, command = config.get("Entrypoint") or (), config.get("Cmd") or ()
        found[name] = (tuple(map(str, entrypoint)), tuple(map(str, command)))
    return found
