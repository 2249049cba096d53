"""Project state, owners, subnet choice, image hashing and CLI exit codes (no Docker)."""

from __future__ import annotations

import ipaddress
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from reboot_harness.errors import UsageError
from reboot_harness.faces import cli
from reboot_harness.inputs.compose.variables import SECRET_NAMES
from reboot_harness.stack.owner import Owner
from reboot_harness.stack.state import ProjectState, new_secrets, validate_project_name


@pytest.fixture(autouse=True)
def _state_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))


def _state(name: str = "p1") -> ProjectState:
    return ProjectState(
        name=name,
        compose_dir="/x/compose",
        compose_files=("/x/compose/stack.yaml",),
        subnet_prefix="172.30.9",
        domain="rh.test",
        image_tag="h-abc",
        base_image="debian:bookworm-slim",
        owner=str(Owner.current()),
        keep=True,
    )


def test_state_roundtrip_and_private_secrets() -> None:
    """Saved state loads back equal; the secrets file is readable by its owner only."""
    st = _state()
    secrets = new_secrets()
    st.save(secrets)
    assert ProjectState.load("p1") == st
    assert st.secrets() == secrets
    assert set(secrets) == set(SECRET_NAMES)
    assert all(len(v) == 32 for v in secrets.values())
    assert stat.S_IMODE(os.stat(st.secrets_file).st_mode) == 0o600
    env = st.compose_env_file.read_text()
    assert "COMPOSE_PROJECT_NAME=p1" in env and "RH_SUBNET_PREFIX=172.30.9" in env
    assert not any(v in env for v in secrets.values()), "passwords must stay in secrets.env"


def test_unknown_project_is_a_usage_error_naming_the_fix() -> None:
    """Loading a project nobody started says so and how to start it."""
    with pytest.raises(
        UsageError, match=r"no such project 'nope'.*reboot-harness up --project nope"
    ):
        ProjectState.load("nope")


@pytest.mark.parametrize("bad", ["", "Upper", "-lead", "a b", "x" * 64, "semi;colon"])
def test_invalid_project_names(bad: str) -> None:
    """Names compose would reject are refused before anything starts."""
    with pytest.raises(UsageError, match="project name"):
        validate_project_name(bad)


def test_owner_alive_and_dead() -> None:
    """An owner is alive while its process (same pid and start time) runs."""
    me = Owner.current()
    assert me.alive()
    assert Owner.parse(str(me)) == me
    assert Owner.parse("manual") is None
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    from reboot_harness.stack.owner import _start_ticks

    start = _start_ticks(proc.pid)
    proc.wait()
    assert start is not None
    assert not Owner(proc.pid, start, me.hostname).alive()
    reused = Owner(me.pid, me.start - 60 * 100, me.hostname)
    assert not reused.alive(), "pid reused: this process started a minute after the owner"
    assert Owner(999999, 1, "another-machine").alive(), "cannot judge another machine's process"
    assert Owner(proc.pid, start, me.hostname).why_dead() == f"process {proc.pid} is gone"
    assert "another process has that pid" in reused.why_dead()


@pytest.mark.skipif(sys.platform != "linux", reason="psutil's Linux boot time")
@pytest.mark.parametrize("step", [-1.0, 1.0, 4.0])
def test_an_owner_stays_alive_when_the_clock_is_stepped(
    monkeypatch: pytest.MonkeyPatch, step: float
) -> None:
    """The kernel's boot time moves when the clock is stepped, and with it every process's start
    time as read: a `gc` after such a step must not take the owner of a live run for dead (it
    removed a live run's stack in CI)."""
    import psutil._pslinux as pslinux

    me = Owner.current()
    booted = pslinux.boot_time()
    monkeypatch.setattr(pslinux, "boot_time", lambda: booted + step)
    from reboot_harness.stack.owner import _start_ticks

    assert _start_ticks(me.pid) != me.start, "the step should move the start as read"
    assert me.alive()


def test_free_subnet_avoids_used_and_tried() -> None:
    """The chosen /24 overlaps no existing network and none already tried."""
    from reboot_harness.stack.lifecycle import SUBNET_POOL, free_subnet_prefix

    all24 = list(SUBNET_POOL.subnets(new_prefix=24))
    used = all24[:-2]
    prefix = free_subnet_prefix("x", used, set())
    assert prefix in {str(n.network_address).rsplit(".", 1)[0] for n in all24[-2:]}
    other = free_subnet_prefix("x", used, {prefix})
    assert other != prefix
    big = [ipaddress.ip_network("172.30.0.0/16")]
    from reboot_harness.errors import StackError

    with pytest.raises(StackError, match="no free /24"):
        free_subnet_prefix("x", big, set())


def test_context_hash_changes_with_content_and_mode(tmp_path: Path) -> None:
    """Images are rebuilt when a file, its executable bit, or the base image changes."""
    from reboot_harness.stack.images import context_hash

    (tmp_path / "app").mkdir()
    f = tmp_path / "app" / "Dockerfile"
    f.write_text("FROM x\n")
    h1 = context_hash(tmp_path, "sha256:1")
    assert context_hash(tmp_path, "sha256:1") == h1
    assert context_hash(tmp_path, "sha256:2") != h1
    f.chmod(0o755)
    h2 = context_hash(tmp_path, "sha256:1")
    assert h2 != h1
    f.write_text("FROM y\n")
    assert context_hash(tmp_path, "sha256:1") != h2


@pytest.mark.parametrize(
    "argv",
    [
        [],
        ["up"],
        ["check"],
        ["frobnicate"],
        ["check", "--project", "x", "--bogus"],
        ["up", "--project", "x", "--timeout", "soon"],
        ["up", "--project", "x", "--timeout", "nan"],
        ["up", "--project", "x", "--timeout", "-5"],
        ["check", "--project", "x", "--deadline", "inf"],
        ["check", "--project", "x", "--deadline", "0"],
    ],
)
def test_cli_usage_errors_exit_2(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    """Bad command lines exit 2 with argparse's message."""
    with pytest.raises(SystemExit) as exc:
        cli.main(argv)
    assert exc.value.code == 2
    assert "usage:" in capsys.readouterr().err


def test_cli_check_unknown_project_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    """`check` on a project that was never started exits 2 and says how to start it."""
    assert cli.main(["check", "--project", "ghost"]) == 2
    assert "no such project 'ghost'" in capsys.readouterr().err


def test_cli_bad_project_name_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    """An invalid project name is a usage error (exit 2), before any engine is contacted."""
    assert cli.main(["check", "--project", "Bad Name"]) == 2
    assert "project name" in capsys.readouterr().err


def test_python_dash_m_harness_runs() -> None:
    """`python -m reboot_harness` is the same CLI."""
    proc = subprocess.run(
        [sys.executable, "-m", "reboot_harness", "--version"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0 and "reboot-harness" in proc.stdout


def test_a_cut_host_is_remembered_across_processes() -> None:
    """A host whose power was cut (off its network) is recorded with the address and aliases it
    rejoins with, so a heal in another process can boot it."""
    st = _state().with_changes(cut={"app2": {"p1_net": ["172.30.9.22", "app2"]}})
    st.save(new_secrets())
    assert ProjectState.load("p1").cut == {"app2": {"p1_net": ["172.30.9.22", "app2"]}}


def test_boot_override_empties_or_keeps_tmp_as_the_topology_says() -> None:
    """Hosts whose resolved /tmp differs from the topology's `tmp` get a compose override (a
    tmpfs /tmp for `clear`, none for `keep`; other tmpfs mounts kept); none when nothing
    differs."""
    import dataclasses

    from reboot_harness.model.topology import Topology
    from reboot_harness.stack.lifecycle import _boot_override

    st = _state()
    st.save(new_secrets())
    shipped = {"tmpfs": ["/run", "/tmp:exec,mode=1777"]}
    resolved = {"services": {h: dict(shipped) for h in Topology().hosts}}
    assert _boot_override(st, resolved, Topology()) is None
    resolved["services"]["app1"] = {"tmpfs": ["/run"]}  # a user's own host, no tmpfs /tmp
    topo = dataclasses.replace(Topology(), tmp={"graphite": "keep"})
    path = _boot_override(st, resolved, topo)
    assert path is not None
    assert path.read_text().splitlines()[1:] == [
        "services:",
        '  "app1":',
        '    tmpfs: !override ["/run", "/tmp:exec,mode=1777"]',
        '  "graphite":',
        '    tmpfs: !override ["/run"]',
    ]


def test_state_of_another_version_loads_or_says_the_way_out() -> None:
    """Keys a newer harness wrote are ignored; a file missing what this one needs is one usage
    error naming the file and `down`."""
    import json

    st = _state()
    st.save(new_secrets())
    path = st.directory / "project.json"
    data = json.loads(path.read_text())
    path.write_text(json.dumps({**data, "from_the_future": 1}))
    assert ProjectState.load("p1") == st
    del data["subnet_prefix"]
    path.write_text(json.dumps(data))
    with pytest.raises(
        UsageError, match=r"project.json: unreadable project state .*down --project p1"
    ):
        ProjectState.load("p1")


class _Listing:
    def __init__(self, labels: list[dict[str, str]]) -> None:
        self.items = [type("R", (), {"attrs": {"Labels": x}})() for x in labels]

    def list(self, **_kw: object) -> list[object]:
        return self.items


def _engine_listing(container_labels: list[dict[str, str]]) -> object:
    """An engine client whose containers carry ``container_labels`` (no networks, no volumes):
    what `gc` lists."""
    return type("C", (), {"containers": _Listing(container_labels), "networks": _Listing([]),
                          "volumes": _Listing([])})()  # fmt: skip


def test_forgetting_never_leaves_the_state_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A project name from a crafted label (`../x`, `/etc`, `.`) is refused: nothing outside
    the state directory's projects/ can be removed; gc skips such labels altogether."""
    from reboot_harness.errors import UsageError
    from reboot_harness.stack.state import ProjectState

    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    precious = tmp_path / "state" / "reboot-harness" / "precious"
    precious.mkdir(parents=True)
    (tmp_path / "state" / "reboot-harness" / "projects").mkdir()
    for name in ("../precious", "..", ".", "/etc", "a/../../precious", ""):
        with pytest.raises(UsageError):
            ProjectState.forget(name)
    assert precious.is_dir()

    from reboot_harness.stack import removal

    crafted = {"org.reboot-harness.managed": "true", "com.docker.compose.project": "../precious",
               "org.reboot-harness.owner": "1:1@nowhere"}  # fmt: skip
    monkeypatch.setattr(removal, "client", lambda: _engine_listing([crafted]))
    assert removal._labelled_projects() == {}
    assert removal.gc(include_kept=True).projects == []
    assert precious.is_dir()


@pytest.mark.skipif(sys.platform != "linux", reason="psutil's Linux boot time")
def test_gc_removes_only_dead_owners_stacks_and_says_why(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """A stack whose owner exited is removed, naming the owner and why it is dead, in the
    result and in gc.log of the state folder; the stack of a live owner (this process) stays —
    also after the clock was stepped."""
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path))
    import psutil._pslinux as pslinux

    from reboot_harness.stack import removal

    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    from reboot_harness.stack.owner import _start_ticks

    start = _start_ticks(proc.pid)
    proc.wait()
    me = Owner.current()
    dead = Owner(proc.pid, start or 1, me.hostname)

    def labels(project: str, owner: Owner) -> dict[str, str]:
        return {"org.reboot-harness.managed": "true", "com.docker.compose.project": project,
                "org.reboot-harness.owner": str(owner)}  # fmt: skip

    fake = _engine_listing([labels("rh-dead", dead), labels("rh-live", me)])
    removed: list[str] = []
    monkeypatch.setattr(removal, "client", lambda: fake)
    monkeypatch.setattr(removal, "_remove_resources", lambda name, _r=None: removed.append(name))
    monkeypatch.setattr(ProjectState, "forget", staticmethod(lambda name: None))
    booted = pslinux.boot_time()
    monkeypatch.setattr(pslinux, "boot_time", lambda: booted + 1.0)  # the clock was stepped
    result = removal.gc()
    assert removed == ["rh-dead"] and result.projects == ["rh-dead"]
    assert result.lines() == [f"rh-dead (owner {dead}: process {proc.pid} is gone)"]
    (logged,) = (tmp_path / "reboot-harness" / "gc.log").read_text().splitlines()
    assert logged.endswith(f"removed rh-dead: owner {dead}: process {proc.pid} is gone"), logged


def test_a_time_limit_interrupts_and_waits_for_shielded_cleanup() -> None:
    """interrupts.time_limit raises TimeUp (a KeyboardInterrupt: everything unwinds and heals)
    once its time has passed; inside `shielded` it waits until the cleanup is done."""
    import time

    from reboot_harness import interrupts

    began = time.monotonic()
    with pytest.raises(interrupts.TimeUp), interrupts.time_limit(0.2):
        time.sleep(5)
    assert time.monotonic() - began < 2
    cleaned = []
    with pytest.raises(interrupts.TimeUp), interrupts.time_limit(0.1):
        with interrupts.shielded():
            time.sleep(0.4)
            cleaned.append(True)
        time.sleep(5)  # never reached: the deferred alarm is raised on leaving the shield
    assert cleaned == [True]
    with interrupts.time_limit(None):
        pass


def test_every_key_of_the_state_is_checked_when_loaded() -> None:
    """The checks project.json is read with cover exactly the fields of ProjectState: a field
    added without its check (or a check left for a removed field) fails here."""
    import dataclasses

    from reboot_harness.stack.state import _KINDS, _REQUIRED

    names = [f.name for f in dataclasses.fields(ProjectState)]
    assert list(_KINDS) == names
    required = [
        f.name
        for f in dataclasses.fields(ProjectState)
        if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
    ]
    assert list(_REQUIRED) == required
