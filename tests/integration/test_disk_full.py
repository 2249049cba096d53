"""A disk that really fills up during `reboot-harness build` is the machine's problem: exit 2,
one line naming what filled, how much is free and what to do, no traceback, nothing left behind.

What fills is always a small tmpfs (the 64 MiB /dev/shm of a build container, a 1 MiB TMPDIR in
a private mount namespace), never the real root or /var/lib/docker. Each build uses its own
throwaway service image (a unique role under a temporary RH_COMPOSE_DIR) on the harness's base.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import docker
import pytest

from tests.conftest import missing

pytestmark = pytest.mark.docker

RH = [sys.executable, "-m", "reboot_harness"]
FREE_NOW = re.compile(r"\b(\d+ B|\d+\.\d (KiB|MiB|GiB|TiB)) free now\b")


@dataclass(frozen=True)
class Service:
    role: str
    context: Path
    env: dict[str, str]


def _leftover_containers(marker: str) -> list[str]:
    c = docker.from_env()
    return [
        x.id
        for x in c.containers.list(all=True, sparse=True)
        if marker in str(x.attrs.get("Command", ""))
    ]


@pytest.fixture
def service(tmp_path: Path) -> Iterator[Service]:
    """A one-image compose dir; removes whatever a build of it left (images, containers)."""
    role = f"rhtest-full-{uuid.uuid4().hex[:8]}"
    compose = tmp_path / "compose"
    context = compose / "images" / role
    context.mkdir(parents=True)
    env = {
        **os.environ,
        "RH_COMPOSE_DIR": str(compose),
        # own build lock: this unique image cannot clash with other builds on the machine
        "XDG_STATE_HOME": str(tmp_path / "state"),
    }
    yield Service(role, context, env)
    c = docker.from_env()
    for cid in _leftover_containers(role):
        c.containers.get(cid).remove(force=True)
    for image in c.images.list(name=f"reboot-harness/{role}"):
        c.images.remove(image.id, force=True)


def _the_one_error_line(proc: subprocess.CompletedProcess[str]) -> str:
    """After the progress lines, stderr ends with exactly one error line; no traceback. (The
    callers check that line's start and end, so the whole message is on it.)"""
    assert "Traceback" not in proc.stderr, proc.stderr
    lines = proc.stderr.splitlines()
    errors = [line for line in lines if line.startswith("reboot-harness build: ")]
    assert len(errors) == 1 and lines[-1] == errors[0], proc.stderr
    return errors[0]


def test_a_run_step_filling_its_disk_exits_2_with_one_line(service: Service) -> None:
    """A RUN step writes past the end of its 64 MiB /dev/shm: `build` exits 2 with one line
    naming the Dockerfile, the image, the step, the evidence, docker's data-root with its free
    space and the cleanup commands; no image or build container is left."""
    fill = f"/dev/shm/{service.role}"
    (service.context / "Dockerfile").write_text(
        f"ARG BASE_IMAGE\nFROM ${{BASE_IMAGE}}\nRUN dd if=/dev/zero of={fill} bs=1M count=100\n",
        encoding="utf-8",
    )
    proc = subprocess.run(
        [*RH, "build"], env=service.env, capture_output=True, text=True, timeout=300, check=False
    )
    assert proc.returncode == 2, proc.stdout + proc.stderr
    line = _the_one_error_line(proc)
    data_root = docker.from_env().info()["DockerRootDir"]
    assert line.startswith(
        f"reboot-harness build: {service.context}/Dockerfile: build of"
        f" reboot-harness/{service.role}:h-"
    ), line
    assert f": RUN dd if=/dev/zero of={fill} bs=1M count=100 ran out of disk space" in line
    assert f"(dd: error writing '{fill}': No space left on device)" in line
    assert f"its data-root {data_root} (" in line and FREE_NOW.search(line), line
    assert line.endswith(
        "`docker system df`, then `docker image prune` and `docker builder prune`, and run again"
    )
    assert docker.from_env().images.list(name=f"reboot-harness/{service.role}") == []
    assert _leftover_containers(service.role) == []


def _in_private_mount_ns() -> list[str]:
    """A prefix running a command in its own mount namespace (as mapped root when we are not
    root), so a tmpfs mounted there vanishes with it and no other process ever sees it."""
    if shutil.which("unshare") is None:
        return []
    return (
        ["unshare", "--mount"] if os.geteuid() == 0 else ["unshare", "--mount", "--map-root-user"]
    )


def test_a_full_tmpdir_while_packing_the_context_exits_2_with_one_line(
    service: Service, tmp_path: Path
) -> None:
    """TMPDIR is a 1 MiB tmpfs and the build context is 2 MiB: docker-py cannot pack the
    context, `build` exits 2 with one line naming that TMPDIR and its free space."""
    (service.context / "Dockerfile").write_text(
        "ARG BASE_IMAGE\nFROM ${BASE_IMAGE}\nCOPY blob /blob\n", encoding="utf-8"
    )
    (service.context / "blob").write_bytes(os.urandom(2 * 1024 * 1024))
    tiny = tmp_path / "tiny"
    tiny.mkdir()
    prefix = _in_private_mount_ns()
    # $0 is the mount point; the harness runs only if the tmpfs is mounted there.
    script = 'mount -t tmpfs -o size=1m rh-tiny "$0" || exit 99; TMPDIR="$0" exec "$@"'
    proc = subprocess.run(
        [*prefix, "sh", "-c", script, str(tiny), *RH, "build"],
        env=service.env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if not prefix or proc.returncode == 99:
        why = f"cannot mount a tmpfs in a private mount namespace: {proc.stderr.strip()}"
        missing(why)
    assert not os.path.ismount(tiny), "the tmpfs must not outlive its namespace"
    assert proc.returncode == 2, proc.stdout + proc.stderr
    line = _the_one_error_line(proc)
    assert line.startswith(
        f"reboot-harness build: {service.context}: packing the build context of"
        f" reboot-harness/{service.role}:h-"
    ), line
    assert f"ran out of disk space in {tiny} ([Errno 28] No space left on device; " in line
    assert FREE_NOW.search(line), line
    assert line.endswith(
        "free space there or point TMPDIR at a larger filesystem, and run again"
    ), line
    assert docker.from_env().images.list(name=f"reboot-harness/{service.role}") == []
