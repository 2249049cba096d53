"""What the machine lacks for the harness (`reboot-harness doctor --engine`): a Docker engine
that answers, the Compose v2 plugin, a base image to build the hosts from, and FUSE in a
container (the lazy disk: a container given /dev/fuse and CAP_SYS_ADMIN must be able to mount
a FUSE filesystem) — each with the command that fixes it on Debian/Ubuntu and where to look
elsewhere. Nothing is installed or changed; the FUSE probe is one throwaway container."""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Callable
from typing import Any

from docker.errors import ContainerError, DockerException, ImageNotFound

from reboot_harness.errors import EnvironmentProblem
from reboot_harness.model.machine import Need
from reboot_harness.stack.labels import MANAGED_LABEL

ENGINE_DOCS = "https://docs.docker.com/engine/install/ (or start Docker Desktop)"
ENGINE_FIX = (
    "sudo apt-get install docker.io && sudo systemctl enable --now docker; to use it without"
    " sudo: sudo usermod -aG docker $USER, then log in again"
)
COMPOSE_FIX = (
    "sudo apt-get install docker-compose (Debian 13), docker-compose-v2 (Ubuntu 24.04) or"
    " docker-compose-plugin (Docker's apt repository)"
)
COMPOSE_DOCS = "https://docs.docker.com/compose/install/"
BASE_FIX = (
    "reboot-harness build (pulls debian:bookworm-slim; with no registry it builds the base"
    " offline, as root, with debootstrap: sudo apt-get install debootstrap), or set"
    " RH_BASE_IMAGE to a Debian 12 image you have"
)
# The FUSE probe: /dev/fuse present and openable in the container, then a FUSE mount made with
# mount(8) alone (no FUSE library in the base image; -i: no mount.fuse helper); its exit status
# says which part failed.
FUSE_PROBE = (
    "test -c /dev/fuse || exit 3; exec 3<>/dev/fuse || exit 4;"
    " mount -i -t fuse -o fd=3,rootmode=40000,user_id=0,group_id=0 rh-fuse-probe /mnt"
    " || exit 5; umount -l /mnt"
)
FUSE_NOTE = "needed only by the lazy disk (issue 22); hosts without it run as today"
FUSE_FAILURES = {
    3: (
        "the engine gives a container no /dev/fuse (the machine has no FUSE device)",
        "sudo modprobe fuse (the module is in Debian's and Ubuntu's kernels)",
        "load the fuse kernel module on the engine's machine",
    ),
    4: (
        "/dev/fuse cannot be opened in a container given it",
        "let the engine's device rules give it read-write (--device /dev/fuse:/dev/fuse:rwm)",
        "the engine's device rules",
    ),
    5: (
        "a container given /dev/fuse and CAP_SYS_ADMIN may not mount (a security profile:"
        " AppArmor or SELinux denies mount)",
        "run the lazy disk's hosts unconfined (--security-opt apparmor=unconfined), or give"
        " docker-default a profile that allows `mount fstype=fuse`",
        "your engine's security profile (AppArmor, SELinux, seccomp) must allow mount",
    ),
}


def base_images() -> tuple[str, ...]:
    """The base images the harness builds from, in the order it looks for them."""
    from reboot_harness.stack.images import OFFLINE_BASE, REGISTRY_BASE

    wanted = os.environ.get("RH_BASE_IMAGE")
    return (wanted,) if wanted else (REGISTRY_BASE, OFFLINE_BASE)


def examine(
    connect: Callable[[], Any],
    compose_version: Callable[[], str],
    which: Callable[[str], str | None] = shutil.which,
) -> list[Need]:
    """What the machine has and lacks, in the order the harness needs it.

    Args:
        connect: the engine's client (a docker SDK client: ping, version, images.get,
            containers.run); raises EnvironmentProblem when no engine answers.
        compose_version: the Compose v2 plugin's version; raises EnvironmentProblem.
        which: shutil.which (where the docker command is).
    """
    engine, answered = _engine(connect)
    needs = [answered, _compose(compose_version, which)]
    if engine is None:
        unchecked = "not checked: no engine answers"
        return [*needs, Need("base-image", False, unchecked, "the engine first"),
                Need("fuse", False, unchecked, "the engine first")]  # fmt: skip
    base = _base_image(engine)
    return [*needs, base, _fuse(engine, base.detail if base.ok else "")]


def _engine(connect: Callable[[], Any]) -> tuple[Any, Need]:
    """The engine's client (None when none answers) and what was found."""
    where = os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock")
    try:
        engine = connect()
        version = engine.version().get("Version", "?")
    except (EnvironmentProblem, DockerException, OSError) as e:
        if where.startswith("ssh://"):
            from reboot_harness.stack.engine import SSH_HINT

            return None, Need("engine", False, str(e).split("; ")[0], SSH_HINT.format(where=where))
        said = str(e) if isinstance(e, EnvironmentProblem) else f"no Docker engine at {where}: {e}"
        return None, Need("engine", False, said.split("; ")[0], ENGINE_FIX, ENGINE_DOCS)
    return engine, Need("engine", True, f"Docker {version} at {where}")


def _compose(compose_version: Callable[[], str], which: Callable[[str], str | None]) -> Need:
    if which("docker") is None:
        return Need("compose", False, "the `docker` command is not on PATH",
                    f"sudo apt-get install docker.io; {COMPOSE_FIX}", COMPOSE_DOCS)  # fmt: skip
    try:
        version = compose_version()
    except EnvironmentProblem as e:
        return Need("compose", False, str(e).split("; ")[0], COMPOSE_FIX, COMPOSE_DOCS)
    return Need("compose", True, f"Docker Compose {version}")


def _base_image(engine: Any) -> Need:
    for name in base_images():
        try:
            engine.images.get(name)
        except ImageNotFound:
            continue
        except DockerException as e:
            return Need("base-image", False, f"cannot list images: {e}", BASE_FIX)
        return Need("base-image", True, name)
    return Need("base-image", False, f"none of {', '.join(base_images())} is present", BASE_FIX)


def _fuse(engine: Any, image: str) -> Need:
    if not image:
        return Need("fuse", False, "not checked: the probe runs in the base image", BASE_FIX)
    try:
        engine.containers.run(
            image, ["sh", "-c", FUSE_PROBE], remove=True, network_mode="none",
            devices=["/dev/fuse:/dev/fuse:rwm"], cap_add=["SYS_ADMIN"],
            name=f"rh-fuse-probe-{uuid.uuid4().hex[:8]}", labels={MANAGED_LABEL: "fuse-probe"},
        )  # fmt: skip
    except ContainerError as e:
        said, fix, elsewhere = FUSE_FAILURES.get(
            e.exit_status,
            (f"the probe container failed ({_first_line(e.stderr)})", FUSE_NOTE, ""),
        )
        return Need("fuse", False, f"{said}; {FUSE_NOTE}", fix, elsewhere)
    except DockerException as e:  # e.g. the engine refuses the device outright
        return Need("fuse", False, f"the engine refused the probe ({_first_line(e)}); {FUSE_NOTE}",
                    FUSE_FAILURES[3][1], FUSE_FAILURES[3][2])  # fmt: skip
    return Need("fuse", True, "a container given /dev/fuse and CAP_SYS_ADMIN can mount FUSE")


def _first_line(said: object) -> str:
    text = said.decode("utf-8", "replace") if isinstance(said, bytes) else str(said or "")
    lines = text.strip().splitlines()
    return lines[-1][:200] if lines else "no reason given"
