"""An engine on another machine, reached over ssh: a "machine" started by the test (a container
running sshd and its own dockerd, tests/integration/remote_machine.py) whose published ports are
on *its* loopback, out of this machine's reach except through ssh. The harness forwards them;
the whole stack lives there; the checks, a power loss, a scenario with traffic and `down` work
through the forwards; nothing is left on either side."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from tests.integration.conftest import unique_project
from tests.integration.remote_machine import RemoteMachine, remote_machine, remove_leftovers

pytestmark = pytest.mark.docker

RH = [sys.executable, "-m", "reboot_harness"]
LOCAL = "unix:///var/run/docker.sock"


@pytest.fixture(scope="module")
def machine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RemoteMachine]:
    remove_leftovers()
    with remote_machine(tmp_path_factory.mktemp("remote")) as m:
        yield m


def _projects(m: RemoteMachine, name: str) -> list[str]:
    out = m.docker("ps", "-a", "--filter", f"label=com.docker.compose.project={name}",
                   "--format", "{{.Names}} {{.Ports}}")  # fmt: skip
    assert out.returncode == 0, out.stderr
    return out.stdout.decode().split("\n")[:-1]


def _local_projects(prefix: str) -> set[str]:
    """Compose projects starting with ``prefix`` that have containers on this machine's engine."""
    out = subprocess.run(
        ["docker", "-H", LOCAL, "ps", "-a", "--format", '{{.Label "com.docker.compose.project"}}'],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    return {p for p in out.stdout.split() if p.startswith(prefix)}


def _tunnels() -> list[str]:
    """ssh control masters of this machine's harness processes still running."""
    return [
        " ".join(p.info["cmdline"] or [])
        for p in psutil.process_iter(["cmdline"])
        if "rh-ssh-" in " ".join(p.info["cmdline"] or []) and "-M" in (p.info["cmdline"] or [])
    ]


def test_a_stack_on_another_machine_is_reached_through_ssh(
    machine: RemoteMachine, tmp_path: Path
) -> None:
    """`up` with RH_ENGINES=ssh://<machine>,<this engine>: the stack starts on the machine, its
    images copied there from this engine; its published ports answer nobody here; `check`
    (DNS over TCP), then `run` of a scenario with traffic and a power loss, all pass through
    ssh forwards; `down` leaves nothing, and no ssh connection outlives a command."""
    name = unique_project("remote")
    env = machine.env({k: v for k, v in os.environ.items() if k not in ("RH_ENGINES",)})
    env.pop("DOCKER_HOST", None)
    engines = f"{machine.engine_url},{LOCAL}"

    def rh(*args: str, **extra: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*RH, *args], env={**env, **extra}, capture_output=True, text=True, timeout=900,
            check=False, cwd=tmp_path,
        )  # fmt: skip

    up = rh("up", "--project", name, RH_ENGINES=engines)
    try:
        assert up.returncode == 0, up.stdout + up.stderr
        there = _projects(machine, name)
        assert len(there) >= 10, there
        assert not _local_projects(name)
        # what redis1 publishes is on the machine's loopback: nothing of it answers here
        redis1 = next(p for p in there if p.split()[0].endswith("redis1-1"))
        port = int(re.search(r"127\.0\.0\.1:(\d+)->6379/tcp", redis1)[1])  # type: ignore[index]
        with socket.socket() as s:
            s.settimeout(2)
            assert s.connect_ex(("127.0.0.1", port)) != 0 or port in _own_listeners()
        assert not _tunnels(), "an ssh connection outlived `up`"
        check = rh("check", "--project", name, "--json")
        assert check.returncode == 0, check.stdout + check.stderr
        results = json.loads(check.stdout)["results"]
        assert all(r["ok"] for r in results), results
        assert {"dns", "redis roles", "mysql replication", "socket.io", "nginx"} <= {
            r["check"] for r in results
        }
        # (a power loss through the forwards: the scenario's hard reboot below, and the pytest
        # item's of mysql2)
    finally:
        down = rh("down", "--project", name)
    assert down.returncode == 0, down.stdout + down.stderr
    assert not _projects(machine, name)
    assert not _tunnels(), "an ssh connection outlived `down`"

    # a scenario with traffic on the machine, on the incident's configuration: every client's
    # operations come back through the ssh forwards and are judged (no write lost); no-minfds's
    # incident binds a supervisord.conf of this machine: copied there, it is what the apps run
    # with (else the engine there would mount an empty directory in its place) and its cause is
    # seen. (The incident variant alone: a stack on a machine inside this one costs minutes, and
    # the fixed variant there proves nothing the `up`/`check` above and this one do not.)
    scenario = tmp_path / "apps-remote.yaml"
    scenario.write_text(
        "name: apps-remote\n"
        "description: both app hosts rebooted on another machine, clients measuring\n"
        "reproduces: {incident: no-minfds, check: limits}\n"
        "traffic: true\n"
        "steps:\n"
        "  - reboot: {host: app1, mode: graceful}\n"
        "  - wait_recovered: {within: 60s, checks: [processes]}\n"
        "  - reboot: {host: app2, mode: hard}\n"
        "expect: {checks: [processes, limits, socket.io], recover_within: 60s}\n"
    )
    run = rh(
        "run", str(scenario), "--incident", "no-minfds", "--json", RH_ENGINES=machine.engine_url
    )
    failed = _failed_runs(run.stdout) + run.stderr[-3000:]
    assert run.returncode == 0, failed
    results = {s["variant"]: s for s in json.loads(run.stdout)["scenarios"]}
    assert set(results) == {"incident"}, results
    assert {s["engine"] for s in results.values()} == {machine.engine_url}
    assert results["incident"]["passed"], failed
    served = {(op["service"], op["target"]) for op in results["incident"]["history"] if op["ok"]}
    assert {"http", "socketio", "redis", "mysql"} <= {service for service, _ in served}, served
    assert {("http", "lb1/app1"), ("http", "lb2/app2")} & served, served
    reproduced = results["incident"]["reason"]
    assert "limits [app1] nofile-below-minimum" in reproduced, reproduced
    said = " ".join(run.stderr.split())  # rich may wrap a long line
    assert "copying bind source " in said and "supervisord.conf to ssh://" in said, said[-3000:]
    left = machine.ssh("ls -A /tmp/reboot-harness-binds 2>/dev/null; true")
    assert left.stdout.decode().split() == [], "a run's copies outlived it there"
    assert not _tunnels(), "an ssh connection outlived `run`"
    assert not _local_projects("rh-apps-remote")


def _failed_runs(stdout: str) -> str:
    """Each failed scenario run's reason and failing checks, from `run --json` (else nothing)."""
    try:
        scenarios = json.loads(stdout)["scenarios"]
    except (ValueError, KeyError):
        return ""
    return "".join(
        f"{s['name']}[{s['variant']}]: {s['reason']}\n"
        + "".join(
            f"  {c['check']} [{c['host']}] {c['cause']}: {c['observed']}\n"
            for c in s.get("checks", [])
            if not c["ok"]
        )
        for s in scenarios
        if not s["passed"]
    )


def _projects_like(m: RemoteMachine, prefix: str) -> set[str]:
    out = m.docker("ps", "-a", "--format", '{{.Label "com.docker.compose.project"}}')
    assert out.returncode == 0, out.stderr
    return {p for p in out.stdout.decode().split() if p.startswith(prefix)}


def test_a_run_killed_there_leaves_no_ssh_behind_and_gc_removes_its_stack(
    machine: RemoteMachine, tmp_path: Path
) -> None:
    """SIGKILL a `run` while its checks reach the machine: its ssh connection ends by itself
    (the remote side reads the dead process's pipe), the stack stays there, and `gc` with
    RH_ENGINES naming the machine removes it."""
    env = machine.env({k: v for k, v in os.environ.items() if k != "DOCKER_HOST"})
    env["RH_ENGINES"] = machine.engine_url
    prefix = "rh-graphite-piddir-"
    assert not _projects_like(machine, prefix)
    said = tmp_path / "run.log"
    with said.open("wb") as log:
        proc = subprocess.Popen(
            [*RH, "run", "graphite-piddir", "--incident", "graphite-piddir"], env=env,
            cwd=tmp_path, stdout=log, stderr=log, start_new_session=True,
        )  # fmt: skip
    try:
        deadline = time.monotonic() + 300
        while not _tunnels():
            assert proc.poll() is None, f"run ended (exit {proc.returncode}): {said.read_text()}"
            assert time.monotonic() < deadline, f"no ssh within 300 s: {said.read_text()}"
            time.sleep(0.2)
        os.kill(proc.pid, signal.SIGKILL)  # the harness alone: nobody closes its ssh for it
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    deadline = time.monotonic() + 30
    while _tunnels():
        assert time.monotonic() < deadline, f"ssh outlived its process: {_tunnels()}"
        time.sleep(0.2)
    left = _projects_like(machine, prefix)
    assert left, f"the killed run should have left its stack there: {said.read_text()[-2000:]}"
    gc = subprocess.run([*RH, "gc"], env=env, capture_output=True, text=True, timeout=300)
    assert gc.returncode == 0, gc.stdout + gc.stderr
    assert not _projects_like(machine, prefix), gc.stdout + gc.stderr


INNER = """
import os

def test_on_the_machine(rh_stack, rh_reboot, rh_check):
    assert os.environ["DOCKER_HOST"] == os.environ["RH_TEST_MACHINE"]
    rh_check(within=120)  # every check, through the forwards
    rh_reboot("mysql2", mode="hard")
    rh_check("mysql replication", "dns", within=120)
"""


def test_pytest_items_run_on_another_machine(machine: RemoteMachine, tmp_path: Path) -> None:
    """`pytest --rh-engines ssh://<machine>`: the item's stack lives there, its checks and a
    power loss go through the forwards, and nothing is left on either side."""
    (tmp_path / "test_inner.py").write_text(INNER)
    unset = ("DOCKER_HOST", "RH_ENGINES", "PYTEST_XDIST_WORKER")
    env = machine.env({k: v for k, v in os.environ.items() if k not in unset})
    env["RH_TEST_MACHINE"] = machine.engine_url
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "-rA",
         f"--rh-engines={machine.engine_url}"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=900, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-4000:]
    assert "PASSED test_inner.py::test_on_the_machine" in proc.stdout
    assert not _projects_like(machine, "rh-py-")  # (other tests' rh-py- stacks may run here)
    assert not _tunnels()


def _own_listeners() -> set[int]:
    return {c.laddr.port for c in psutil.net_connections("tcp") if c.status == "LISTEN"}
