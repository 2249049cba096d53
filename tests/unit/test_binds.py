"""Bind sources for an engine on another machine (reboot_harness.stack.binds): each source of this
machine copied once, the binds pointed at the copies by an override that Compose itself merges
as intended (checked with `docker compose config`, which needs no engine); sources that are not
here, and every other mount, left as written. The copy over ssh itself is exercised on a real
machine by tests/integration/test_remote_engine.py."""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from reboot_harness.errors import StackError
from reboot_harness.stack import binds, tunnel
from reboot_harness.stack.engines import Engine
from reboot_harness.stack.state import ProjectState
from tests.conftest import missing

ENGINE = Engine("ssh://ops@far.example", "ssh://ops@far.example")


class FakeTunnel:
    def __init__(self) -> None:
        self.uploads: list[tuple[Path, str]] = []
        self.commands: list[str] = []

    def upload(self, local: Path, folder: str) -> str:
        self.uploads.append((local, folder))
        return f"{folder}/{local.name}"

    def run(self, command: str, **_: Any) -> None:
        self.commands.append(command)


@pytest.fixture()
def far(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> FakeTunnel:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    fake = FakeTunnel()
    monkeypatch.setattr(tunnel, "to", lambda url: fake)
    return fake


def _state(name: str = "rh-binds-1") -> ProjectState:
    state = ProjectState(
        name=name, compose_dir="/x", compose_files=("/x/stack.yaml",), subnet_prefix="172.30.9",
        domain="rh.test", image_tag="h-1", base_image="b", owner="manual", keep=False,
        engine=ENGINE.host,
    )  # fmt: skip
    state.save({})
    return state


def _compose_config(*files: Path) -> dict[str, Any]:
    docker = shutil.which("docker")
    if docker is None:
        missing("no docker CLI")
    args = [docker, "compose", "-p", "rh-binds"]
    for f in files:
        args += ["-f", str(f)]
    proc = subprocess.run([*args, "config", "--format", "json"], capture_output=True, text=True)
    if proc.returncode != 0 and "is not a docker command" in proc.stderr:
        missing("no compose plugin")
    assert proc.returncode == 0, proc.stderr
    resolved: dict[str, Any] = json.loads(proc.stdout)
    return resolved


def test_bind_sources_here_are_copied_once_and_the_binds_point_at_the_copies(
    far: FakeTunnel, tmp_path: Path
) -> None:
    conf = tmp_path / "app.conf"
    conf.write_text("x=1\n")
    folder = tmp_path / "data"
    folder.mkdir()
    device = tmp_path / "device"
    device.mkdir()
    compose = tmp_path / "compose.yaml"
    compose.write_text(
        "services:\n"
        "  a:\n"
        "    image: busybox\n"
        "    volumes:\n"
        f"      - {conf}:/etc/app.conf:ro\n"
        "      - ./data:/data\n"
        "      - cache:/cache\n"
        "      - binder:/bound\n"
        "      - /only/on/that/machine:/there\n"
        "    tmpfs: [/run]\n"
        "  b:\n"
        "    image: busybox\n"
        "    volumes:\n"
        f"      - {conf}:/etc/app.conf:ro\n"
        "  c:\n"
        "    image: busybox\n"
        "volumes:\n"
        "  cache: {}\n"
        "  binder:\n"
        "    driver: local\n"
        f"    driver_opts: {{type: none, o: bind, device: {device}}}\n"
    )
    resolved = _compose_config(compose)
    state = _state()
    said: list[str] = []
    written = binds.override(state, resolved, ENGINE, said.append)
    assert written == state.directory / "binds.yaml"
    stage = binds.stage_folder("rh-binds-1")
    assert stage == "/tmp/reboot-harness-binds/rh-binds-1"
    assert [(local, f) for local, f in far.uploads] == [
        (conf, f"{stage}/0"), (folder, f"{stage}/1"), (device, f"{stage}/2"),
    ]  # fmt: skip
    assert len(said) == 3 and said[0] == f"copying bind source {conf} to {ENGINE.label()}"

    merged = _compose_config(compose, written)
    mounts = {
        svc: {v["target"]: (v["type"], v.get("source"), v.get("read_only", False))
              for v in merged["services"][svc].get("volumes", [])}
        for svc in ("a", "b", "c")
    }  # fmt: skip
    assert mounts["a"] == {
        "/etc/app.conf": ("bind", f"{stage}/0/app.conf", True),
        "/data": ("bind", f"{stage}/1/data", False),
        "/cache": ("volume", "cache", False),
        "/bound": ("volume", "binder", False),
        "/there": ("bind", "/only/on/that/machine", False),  # not here: maybe there
    }
    assert mounts["b"] == {"/etc/app.conf": ("bind", f"{stage}/0/app.conf", True)}
    assert mounts["c"] == {}
    assert merged["volumes"]["binder"]["driver_opts"]["device"] == f"{stage}/2/device"
    assert merged["services"]["a"]["tmpfs"] == ["/run"]  # everything else as it was


def test_nothing_of_this_machine_bound_means_no_override(far: FakeTunnel, tmp_path: Path) -> None:
    compose = tmp_path / "compose.yaml"
    compose.write_text(
        "services:\n  a:\n    image: busybox\n    volumes: [cache:/cache, /not/here:/x]\n"
        "volumes:\n  cache: {}\n"
    )
    assert binds.override(_state(), _compose_config(compose), ENGINE, print) is None
    assert far.uploads == []


def test_forget_removes_the_projects_copies_there(far: FakeTunnel) -> None:
    binds.forget("rh-binds-1", ENGINE)
    assert far.commands == ["rm -rf /tmp/reboot-harness-binds/rh-binds-1"]


# An `ssh` that runs the remote command here (`sh -c`), with a control master that is a file:
# enough to put Tunnel.upload's real pipe (tar here -> ssh -> tar there) to work without sshd.
STAND_IN_SSH = """#!/bin/sh
sock=""; master=""; op=""
while [ $# -gt 1 ]; do
  case "$1" in
    -S) sock="$2"; shift 2 ;;
    -O) op="$2"; shift 2 ;;
    -M) master=1; shift ;;
    -o|-p|-L) shift 2 ;;
    *) shift ;;
  esac
done
if [ -n "$op" ]; then [ -e "$sock" ]; exit $?; fi
if [ -n "$master" ]; then : > "$sock"; exec cat >/dev/null; fi
exec sh -c "$1"
"""


@pytest.fixture()
def stand_in_ssh(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[tunnel.Tunnel]:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    ssh = bin_dir / "ssh"
    ssh.write_text(STAND_IN_SSH)
    ssh.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:{os.environ['PATH']}")
    t = tunnel.Tunnel("ssh://ops@far.example")
    yield t
    t.close()


def test_upload_copies_a_folder_with_its_modes_and_links_through_ssh(
    stand_in_ssh: tunnel.Tunnel, tmp_path: Path
) -> None:
    src = tmp_path / "conf"
    (src / "sub").mkdir(parents=True)
    (src / "sub" / "a.conf").write_text("a=1\n")
    (src / "sub" / "a.conf").chmod(0o640)
    (src / "run.sh").write_text("#!/bin/sh\n")
    (src / "run.sh").chmod(0o755)
    (src / "link").symlink_to("sub/a.conf")
    there = tmp_path / "machine" / "stage" / "0"
    got = stand_in_ssh.upload(src, str(there))
    assert got == f"{there}/conf"
    copy = Path(got)
    assert (copy / "sub" / "a.conf").read_text() == "a=1\n"
    assert stat.S_IMODE((copy / "sub" / "a.conf").stat().st_mode) == 0o640
    assert stat.S_IMODE((copy / "run.sh").stat().st_mode) == 0o755
    assert os.readlink(copy / "link") == "sub/a.conf"
    one = stand_in_ssh.upload(src / "run.sh", str(there.parent / "1"))
    assert Path(one).read_text() == "#!/bin/sh\n"


def test_upload_that_fails_there_says_what_and_where(
    stand_in_ssh: tunnel.Tunnel, tmp_path: Path
) -> None:
    src = tmp_path / "app.conf"
    src.write_text("x\n")
    blocked = tmp_path / "a-file"
    blocked.write_text("")
    with pytest.raises(StackError) as e:
        stand_in_ssh.upload(src, f"{blocked}/stage")
    text = str(e.value)
    assert text.startswith(f"engine ssh://ops@far.example: copying {src} to {blocked}/stage")
    assert "Not a directory" in text and "needs `tar` and a writable" in text
