"""A corrupted or hand-edited project state file (``$XDG_STATE_HOME/reboot-harness/projects/
NAME/project.json``): every command that loads it prints one line naming the file, the key and
the way out, and exits 2, before the stack is touched."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from reboot_harness.faces import cli
from reboot_harness.stack.state import MAX_STATE_BYTES, ProjectState

RH = [sys.executable, "-m", "reboot_harness"]
COMMANDS = {
    "check": ["check"],
    "reboot": ["reboot", "app1"],
    "stop": ["stop", "app1", "--mode", "hard"],
    "start": ["start", "app1"],
    "kill": ["kill", "app1", "app", "--signal", "STOP"],
    "failover": ["failover", "mysql"],
    "dns-rotate": ["dns-rotate", "out", "lb1"],
    "wait": ["wait", "--within", "5s"],
}


def _good() -> dict[str, object]:
    return json.loads(json.dumps(ProjectState(
        name="p1", compose_dir="/x", compose_files=("/x/stack.yaml",), subnet_prefix="172.30.9",
        domain="rh.test", image_tag="t", base_image="b", owner="", keep=True,
        rotation=("lb1", "lb2"), cut={"app2": {"p1_net": ["172.30.9.22", "app2"]}},
    ).__dict__))  # fmt: skip


def _with(**changes: object) -> bytes:
    return json.dumps({**_good(), **changes}).encode()


def _without(key: str) -> bytes:
    data = _good()
    del data[key]
    return json.dumps(data).encode()


# name: (what project.json holds, what the line says about it)
CORRUPT: dict[str, tuple[bytes, str]] = {
    "not-json": (b'{"name": "p1",', "not JSON: "),
    "not-utf8": (b'{"name": "\xff"}', "byte 10: not UTF-8 text"),
    "empty": (b"", "not JSON: "),
    "a-list": (b"[1, 2]", "expected a JSON object of name, compose_dir, compose_files"),
    "nested-deep": (b"[" * 100_000 + b"]" * 100_000, "JSON nested too deeply"),
    "huge": (b" " * (MAX_STATE_BYTES + 1), f"larger than {MAX_STATE_BYTES} bytes"),
    "compose-files-a-number": (_with(compose_files=5),
                               "compose_files: expected a list of compose file paths, not 5"),
    "compose-files-a-string": (_with(compose_files="/x/stack.yaml"), "compose_files: expected"),
    "cut-a-string": (_with(cut="x"), 'cut: expected host -> network -> [address, alias, ...],'
                     ' not "x"'),
    "cut-an-empty-record": (_with(cut={"app1": {"n": []}}), "cut: expected host -> network"),
    "rotation-of-numbers": (_with(rotation=[1, 2]),
                            "rotation: expected a list of load balancer names, not [1, 2]"),
    "subnet-prefix-null": (_with(subnet_prefix=None), "subnet_prefix: expected the /24's first"
                           ' three octets, e.g. "172.30.9", not null'),
    "subnet-prefix-forged": (_with(subnet_prefix="172.30.9; rm -rf /"), "subnet_prefix: "),
    "subnet-prefix-octet": (_with(subnet_prefix="172.300.9"), "subnet_prefix: "),
    "keep-a-string": (_with(keep="yes"), 'keep: expected true or false, not "yes"'),
    "last-check-nan": (_with(last_check=float("nan")), "last_check: expected a number of"
                       " seconds, not NaN"),
    "last-check-a-bool": (_with(last_check=True), "last_check: expected a number"),
    "topology-file-a-number": (_with(topology_file=7), "topology_file: expected a file path"),
    "domain-empty": (_with(domain=""), "domain: expected a DNS domain"),
    "another-project": (_with(name="p2"), "name: \"p2\" is not this folder's project 'p1'"),
    "missing-key": (_without("subnet_prefix"), "subnet_prefix: missing; expected"),
}  # fmt: skip


class _Resource:
    def __init__(self, kind: str, listing: list[_Resource]) -> None:
        self.name = f"p1-{kind}"
        self.attrs: dict[str, object] = {"Labels": {}}
        self._listing = listing

    def remove(self, **_kw: object) -> None:
        self._listing.remove(self)


class _Listing:
    def __init__(self, kind: str, count: int) -> None:
        self.items: list[_Resource] = []
        self.items += [_Resource(kind, self.items) for _ in range(count)]

    def list(self, **_kw: object) -> list[_Resource]:
        return list(self.items)


class _Engine:
    """An engine holding project p1's labelled resources (one of each), for `down`."""

    def __init__(self) -> None:
        self.containers, self.networks = _Listing("c", 1), _Listing("n", 1)
        self.volumes = _Listing("v", 1)
        self.images = _Listing("i", 0)  # nothing compose built for p1


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[[bytes], Path]:
    """Write project p1's project.json; `down` finds a fake engine, every other path to an
    engine fails the test (the state must be refused before the stack is touched)."""
    from reboot_harness.stack import engine, removal

    def no_engine() -> None:
        raise AssertionError("the engine was asked before the project state was read")

    # every module's handle on the engine (wherever the stack layer keeps one), then `down`'s
    for module in [m for m in list(sys.modules.values()) if m is not None]:
        if module.__name__.startswith("reboot_harness.") and getattr(module, "client", None) is (
            engine.client
        ):
            monkeypatch.setattr(module, "client", no_engine)
    fake = _Engine()
    monkeypatch.setattr(removal, "client", lambda: fake)
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent/docker.sock")

    def write(content: bytes) -> Path:
        folder = tmp_path / "state" / "reboot-harness" / "projects" / "p1"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "project.json").write_bytes(content)
        return folder / "project.json"

    return write


@pytest.mark.parametrize("case", sorted(CORRUPT))
@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_a_damaged_state_file_is_one_line_naming_it_and_the_way_out(
    command: str, case: str, project: Callable[[bytes], Path], capsys: pytest.CaptureFixture[str]
) -> None:
    """check, the one-shot faults and wait: exit 2, one line naming the file, what is
    wrong (the key, what is valid, what it holds) and the way out; nothing is touched."""
    content, said = CORRUPT[case]
    path = project(content)
    code = cli.main([*COMMANDS[command], "--project", "p1"])
    lines = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(lines) == 1, lines
    head = f"reboot-harness {command}: {path}: unreadable project state ("
    assert lines[0].startswith(head), lines
    assert said in lines[0], lines
    assert lines[0].endswith(
        "the stack can no longer be driven: `reboot-harness down --project p1` removes it by its"
        " labels, and this file"
    ), lines
    assert path.read_bytes() == content, "a refused state file is left as it was, for a look"


def test_a_folder_in_place_of_the_state_file(
    project: Callable[[bytes], Path], capsys: pytest.CaptureFixture[str]
) -> None:
    path = project(b"{}")
    path.unlink()
    path.mkdir()
    assert cli.main(["check", "--project", "p1"]) == 2
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert f"{path}: unreadable project state (Is a directory); the stack can" in line


def test_the_way_out_works(
    project: Callable[[bytes], Path], capsys: pytest.CaptureFixture[str]
) -> None:
    """`down`, as the line says: the stack goes by its labels, and the damaged file with it."""
    path = project(_with(cut="x"))
    assert cli.main(["check", "--project", "p1"]) == 2
    capsys.readouterr()
    assert cli.main(["down", "--project", "p1"]) == 0
    assert "removed stack p1: 1 containers, 1 networks, 1 volumes" in capsys.readouterr().out
    assert not path.parent.exists()


def test_a_sound_state_file_still_loads(project: Callable[[bytes], Path]) -> None:
    """What the harness writes (every key, every type) passes the same checks."""
    project(json.dumps(_good()).encode())
    state = ProjectState.load("p1")
    assert state.cut == {"app2": {"p1_net": ["172.30.9.22", "app2"]}}
    assert state.rotation == ("lb1", "lb2") and state.compose_files == ("/x/stack.yaml",)


@pytest.mark.parametrize("command", ["check", "wait"])
def test_a_damaged_state_file_end_to_end(command: str, tmp_path: Path) -> None:
    """The same through a real process with no engine: the state line, not "no engine"."""
    folder = tmp_path / "reboot-harness" / "projects" / "p1"
    folder.mkdir(parents=True)
    (folder / "project.json").write_bytes(_with(compose_files=5))
    env = {**os.environ, "XDG_STATE_HOME": str(tmp_path),
           "DOCKER_HOST": "unix:///nonexistent/docker.sock"}  # fmt: skip
    proc = subprocess.run([*RH, command, "--project", "p1"], capture_output=True, text=True,
                          env=env, timeout=60)  # fmt: skip
    assert proc.returncode == 2, proc.stderr
    (line,) = proc.stderr.strip().splitlines()
    assert line.startswith(f"reboot-harness {command}: {folder / 'project.json'}: unreadable")
    assert "compose_files: expected a list of compose file paths, not 5" in line
