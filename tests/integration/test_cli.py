"""The CLI contract end to end on real containers: up, check (table and JSON), down, gc."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import docker
import pytest

from reboot_harness.stack.owner import Owner, _start_ticks
from tests.integration.conftest import unique_project

pytestmark = pytest.mark.docker

RH = [sys.executable, "-m", "reboot_harness"]


def rh(*args: str, timeout: float = 400) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*RH, *args], capture_output=True, text=True, timeout=timeout, check=False
    )


def labelled(project: str) -> list[str]:
    c = docker.from_env()
    flt = {"label": [f"com.docker.compose.project={project}"]}
    return [
        *(x.name for x in c.containers.list(all=True, filters=flt)),
        *(x.name for x in c.networks.list(filters=flt)),
        *(x.name for x in c.volumes.list(filters=flt)),
    ]


@pytest.fixture(scope="module")
def project() -> Iterator[str]:
    name = unique_project("cli")
    up = rh("up", "--project", name)
    try:
        assert up.returncode == 0, up.stdout + up.stderr
        # every host reports its time to ready
        for host in ("dns", "lb1", "app1", "redis3", "mysql2", "graphite"):
            assert host in up.stdout
        yield name
    finally:
        rh("down", "--project", name)


def test_check_json_lists_every_result_and_exits_0(project: str) -> None:
    """`check --json` prints {check, host, ok, cause, causes, expected, observed, detail,
    subjects} for every result; a passing one has no cause and names what it exercised."""
    proc = rh("check", "--project", project, "--json")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["schema_version"] == 1
    results = doc["results"]
    keys = {"check", "host", "ok", "cause", "causes", "expected", "observed", "detail", "subjects"}
    assert results and all(set(r) == keys for r in results)
    assert all(r["cause"] == "" and r["causes"] == [] and r["subjects"] for r in results)
    assert all(r["ok"] for r in results)
    assert {r["check"] for r in results} >= {"limits", "redis roles", "mysql replication", "dns"}


def test_check_exits_1_naming_the_broken_host(project: str) -> None:
    """With app2's program stopped, `check` exits 1 and its table names app2."""
    c = docker.from_env()
    app2 = c.containers.list(
        filters={
            "label": [f"com.docker.compose.project={project}", "com.docker.compose.service=app2"]
        }
    )[0]
    conf = "/etc/supervisor/supervisord.conf"
    app2.exec_run(["supervisorctl", "-c", conf, "stop", "app"])
    try:
        proc = rh("check", "--project", project, "--json")
        assert proc.returncode == 1
        bad = {
            (r["check"], r["host"]): r["causes"]
            for r in json.loads(proc.stdout)["results"]
            if not r["ok"]
        }
        assert bad[("limits", "app2")] == ["program-not-running"]
        # the app's python3 is gone, and supervisord says its program is STOPPED
        assert bad[("processes", "app2")] == ["daemon-not-running", "program-not-running"]
        table = rh("check", "--project", project)
        assert table.returncode == 1 and "app2" in table.stdout and "FAIL" in table.stdout
    finally:
        app2.exec_run(["supervisorctl", "-c", conf, "start", "app"])


def test_secrets_never_printed(project: str) -> None:
    """No password of the stack appears in what `check` prints."""
    from reboot_harness.stack.state import ProjectState

    secrets = ProjectState.load(project).secrets()
    proc = rh("check", "--project", project, "--json")
    for value in secrets.values():
        assert value not in proc.stdout + proc.stderr


def _dead_owner() -> str:
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    start = _start_ticks(p.pid)
    p.wait()
    return str(Owner(p.pid, start or 0, Owner.current().hostname))


def _fake_run(name: str, owner: str, image: str) -> None:
    """What a SIGKILLed run leaves: a labelled container, network and volume."""
    c = docker.from_env()
    labels = {
        "org.reboot-harness.managed": "true",
        "org.reboot-harness.owner": owner,
        "org.reboot-harness.keep": "false",
        "com.docker.compose.project": name,
    }
    c.networks.create(f"{name}_net", labels=labels)
    c.volumes.create(f"{name}_data", labels=labels)
    c.containers.create(image, ["sleep", "60"], name=f"{name}-x-1", labels=labels)


def test_gc_removes_dead_runs_only(project: str) -> None:
    """gc removes what dead runs left and nothing of live ones or of `up` stacks."""
    image = (
        docker.from_env()
        .containers.list(filters={"label": [f"com.docker.compose.project={project}"]})[0]
        .image.id
    )
    dead = [unique_project(f"dead{i}") for i in range(3)]
    live = unique_project("live")
    for name in dead:
        _fake_run(name, _dead_owner(), image)
    _fake_run(live, str(Owner.current()), image)
    try:
        proc = rh("gc")
        assert proc.returncode == 0, proc.stderr
        for name in dead:
            assert labelled(name) == [], name
        assert len(labelled(live)) == 3, "a live run's stack must be left alone"
        assert len(labelled(project)) >= 11, "an `up` stack stays until down or gc --all"
    finally:
        for name in [*dead, live]:
            rh("down", "--project", name)


def test_up_of_an_existing_project_is_refused(project: str) -> None:
    """Starting a project that exists is a usage error that names `down`."""
    proc = rh("up", "--project", project)
    assert proc.returncode == 2
    assert "already exists" in proc.stderr and "down --project" in proc.stderr


def _one_line(proc: subprocess.CompletedProcess[str], code: int) -> str:
    assert proc.returncode == code, proc.stdout + proc.stderr
    text = proc.stdout if code == 0 else proc.stderr
    lines = text.strip().splitlines()
    assert len(lines) == 1, text
    return lines[0]


def test_one_shot_faults_on_the_running_stack(project: str) -> None:
    """Each one-shot command applies one step to the running stack, prints one line and exits
    0, or 1 with what failed: a power loss and boot, a host left off (the wait fails naming
    it) and started again, DNS rotated out and back in, a frozen and thawed program, a redis
    and a MySQL failover; every check holds at the end."""
    p = ("--project", project)
    line = _one_line(rh("reboot", *p, "app1", "--mode", "hard", "--down-for", "1s"), 0)
    assert line.startswith("reboot: power off app1: hard") and "power on app1" in line, line
    _one_line(rh("wait", *p, "--within", "90s"), 0)

    assert "power off redis2: hard" in _one_line(rh("stop", *p, "redis2", "--mode", "hard"), 0)
    line = _one_line(rh("wait", *p, "--checks", "redis roles", "--within", "3s"), 1)
    assert line.startswith("reboot-harness wait: wait_recovered: not recovered within 3s:"), line
    assert "redis2" in line, line
    assert "power on redis2" in _one_line(rh("start", *p, "redis2"), 0)
    _one_line(rh("wait", *p, "--within", "90s"), 0)

    assert "in rotation: lb2" in _one_line(rh("dns-rotate", *p, "out", "lb1", "--wait", "2s"), 0)
    line = _one_line(rh("dns-rotate", *p, "out", "lb2"), 2)
    assert "rotating lb2 out leaves no load balancer in DNS" in line, line
    assert "in rotation: lb1, lb2" in _one_line(rh("dns-rotate", *p, "in", "lb1"), 0)
    assert "kill app2: SIGSTOP app" in _one_line(
        rh("kill", *p, "app2", "app", "--signal", "STOP"), 0
    )
    assert "kill app2: SIGCONT app" in _one_line(
        rh("kill", *p, "app2", "app", "--signal", "CONT"), 0
    )

    assert "sentinel failover" in _one_line(rh("failover", *p, "redis"), 0)
    assert "mysql promote mysql2" in _one_line(rh("failover", *p, "mysql", "--to", "mysql2"), 0)
    _one_line(rh("wait", *p, "--within", "90s"), 0)
    final = rh("check", *p)
    assert final.returncode == 0 and "checks hold" in final.stdout, final.stdout + final.stderr


def test_down_removes_everything_then_the_project_is_unknown(project: str) -> None:
    """`down` leaves no labelled container, network or volume; `check`/`down` then exit 2.
    (Last in the file: it removes the module's stack.)"""
    assert labelled(project)
    proc = rh("down", "--project", project)
    assert proc.returncode == 0, proc.stderr
    assert labelled(project) == []
    assert rh("check", "--project", project).returncode == 2
    assert rh("down", "--project", project).returncode == 2


def test_up_that_never_recovers_reports_and_removes_everything(tmp_path: Path) -> None:
    """`up` on a stack whose graphite cannot boot exits 1 naming the failing check with its last
    observed state and the host's recent logs, and leaves nothing behind."""
    override = tmp_path / "broken.yaml"
    crash = "['/bin/sh', '-c', 'echo carbon: broken >&2; exit 1']"
    override.write_text(f"services:\n  graphite:\n    entrypoint: {crash}\n")
    name = unique_project("broken")
    proc = rh("up", "--project", name, "--compose", str(override), "--timeout", "25")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "directories" in proc.stderr and "graphite" in proc.stderr
    assert "--- recent logs of graphite ---" in proc.stderr and "carbon: broken" in proc.stderr
    assert labelled(name) == []


def test_up_with_a_compose_file_that_does_not_parse_exits_2(tmp_path: Path) -> None:
    """A compose override compose itself refuses (a service key that is not one) is a usage
    error naming the file and compose's complaint; nothing is created, nothing is recorded."""
    override = tmp_path / "typo.yaml"
    override.write_text("services:\n  graphite:\n    entrypiont: [/bin/true]\n")
    name = unique_project("typo")
    proc = rh("up", "--project", name, "--compose", str(override), "--timeout", "25")
    assert proc.returncode == 2, proc.stdout + proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "compose files do not parse" in lines[0], proc.stderr
    assert "typo.yaml" in lines[0] and "entrypiont" in lines[0], lines[0]
    assert labelled(name) == []
    assert rh("check", "--project", name).returncode == 2, "the project was forgotten"


def test_up_refuses_an_unsafe_compose_override_unless_allowed(tmp_path: Path) -> None:
    """A privileged host (or any setting that voids the rehearsal) is refused before anything
    is created, naming service and key; --allow-unsafe-compose starts one (here a port
    published on every address: this machine's engine cannot start privileged containers)
    with a warning per setting."""
    override = tmp_path / "unsafe.yaml"
    override.write_text("services:\n  app1:\n    privileged: true\n")
    name = unique_project("unsafe")
    proc = rh("up", "--project", name, "--compose", str(override))
    assert proc.returncode == 2, proc.stdout + proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert "not safe to rehearse with: service app1: privileged: " in lines[0], lines[0]
    assert "--allow-unsafe-compose" in lines[0] and "unsafe.yaml" in lines[0]
    assert labelled(name) == []
    open_port = tmp_path / "open-port.yaml"
    open_port.write_text("services:\n  app1:\n    ports: ['0.0.0.0::8001']\n")
    proc = rh("up", "--project", name, "--compose", str(open_port))
    assert proc.returncode == 2 and "port 8001 published on 0.0.0.0" in proc.stderr, proc.stderr
    try:
        proc = rh("up", "--project", name, "--compose", str(open_port), "--allow-unsafe-compose")
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert "warning: unsafe compose, allowed: service app1: ports: port 8001" in proc.stderr
    finally:
        rh("down", "--project", name)


def test_no_engine_exits_2_with_a_hint() -> None:
    """With no engine reachable, commands exit 2 and say what to install."""
    env = {**os.environ, "DOCKER_HOST": "unix:///nonexistent/docker.sock"}
    proc = subprocess.run(
        [*RH, "gc"], capture_output=True, text=True, env=env, timeout=60, check=False
    )
    assert proc.returncode == 2
    assert "no Docker engine reachable" in proc.stderr
