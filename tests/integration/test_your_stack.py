"""Your compose file as the stack (`--stack FILE`), on real containers: a small team's stack
written for `docker compose up` (tests/integration/yourstack/docker-compose.yml: a web server
that publishes a port on every address and a worker, both under a restart policy) comes up with
the boot model over it — tmpfs /run, the boot open-file limit, no restart policy, its port on
127.0.0.1 only, the harness's labels — and passes `reboot-each-host` (every host rebooted
gracefully, then with a hard power loss) with every check on that stack's own hosts: their
daemons, the web server's healthcheck and its port reached from the worker."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from reboot_harness.stack.engine import client
from reboot_harness.stack.labels import MANAGED_LABEL, PROJECT_LABEL
from tests.integration.conftest import registry_debian, unique_project

pytestmark = pytest.mark.docker

TEAM = Path(__file__).with_name("yourstack") / "docker-compose.yml"
RH = [sys.executable, "-m", "reboot_harness"]


@pytest.fixture
def project() -> Iterator[str]:
    name = unique_project("yours")
    try:
        yield name
    finally:
        subprocess.run([*RH, "down", "--project", name], capture_output=True, timeout=120,
                       check=False)  # fmt: skip


def test_up_gives_your_services_the_boot_model(project: str) -> None:
    proc = subprocess.run([*RH, "up", "--project", project, "--stack", str(TEAM)],
                          capture_output=True, text=True, timeout=300, check=False)  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    found = {
        c.labels["com.docker.compose.service"]: c
        for c in client().containers.list(filters={"label": f"{PROJECT_LABEL}={project}"})
    }
    assert set(found) == {"web", "worker"}
    for c in found.values():
        host = c.attrs["HostConfig"]
        assert c.labels[MANAGED_LABEL] == "true"
        assert host["RestartPolicy"]["Name"] in ("", "no"), host["RestartPolicy"]
        assert "/run" in (host.get("Tmpfs") or {}), host.get("Tmpfs")
        assert {(u["Name"], u["Soft"], u["Hard"]) for u in host["Ulimits"]} == {
            ("nofile", 1024, 16384)
        }
        # what the service itself (the container's first process) runs with
        code, out = c.exec_run(["sh", "-c", "grep 'Max open files' /proc/1/limits"])
        assert code == 0 and out.decode().split()[3:5] == ["1024", "16384"], out
    bindings = found["web"].attrs["NetworkSettings"]["Ports"]["8080/tcp"]
    assert bindings and {b["HostIp"] for b in bindings} == {"127.0.0.1"}, bindings
    # at a port the engine picked, not the file's 8080: stacks side by side never collide
    assert "8080" not in {b["HostPort"] for b in bindings}, bindings
    # the commands that attach to it by name know it is your stack: its hosts, not the seed's
    checked = subprocess.run([*RH, "check", "--project", project, "--json"],
                             capture_output=True, text=True, timeout=120, check=False)  # fmt: skip
    assert checked.returncode == 0, checked.stdout + checked.stderr
    results = json.loads(checked.stdout)["results"]
    assert {(r["check"], r["host"], r["ok"]) for r in results} == {
        ("processes", "web", True),
        ("processes", "worker", True),
        ("host", "web", True),  # read from the file: its healthcheck, its port from a peer
    }, results
    assert {s for r in results if r["check"] == "host" for s in r["subjects"]} == {
        "web/healthcheck",
        "web/port:8080 from worker",
    }, results
    off = subprocess.run([*RH, "reboot", "worker", "--project", project, "--mode", "hard"],
                         capture_output=True, text=True, timeout=120, check=False)  # fmt: skip
    assert off.returncode == 0, off.stdout + off.stderr


def test_reboot_each_host_passes_on_your_stack_and_checks_its_hosts(project: str) -> None:
    proc = subprocess.run(
        [*RH, "run", "reboot-each-host", "--stack", str(TEAM), "--json"],
        capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    (result,) = json.loads(proc.stdout)["scenarios"]
    assert result["passed"], result["reason"]
    checked = {(c["check"], c["host"]) for c in result["checks"]}
    assert checked == {("processes", "web"), ("processes", "worker"), ("host", "web")}, checked
    subjects = {s for c in result["checks"] for s in c.get("subjects", ())}
    assert {"web/healthcheck", "web/port:8080 from worker"} <= subjects, subjects
    assert all(c["ok"] for c in result["checks"])
    # every host lost power twice (graceful, then hard) and came back
    for kind in ("power off", "power on"):
        hosts = [e["host"] for e in result["events"] if e["kind"] == kind]
        assert sorted(hosts) == ["web", "web", "worker", "worker"], (kind, hosts)


def test_new_ip_takes_an_address_of_your_networks_subnet_or_says_why_it_cannot(
    project: str, tmp_path: Path
) -> None:
    """`new_ip` on your stack: a network whose subnet your file configures gives the host an
    address of that subnet (not the shipped stack's); on one whose subnet the engine chose, no
    address of the harness's choosing can be given, and the reboot says so instead of claiming
    a new address while the host came back at its old one."""
    up = subprocess.run([*RH, "up", "--project", project, "--stack", str(TEAM)],
                        capture_output=True, text=True, timeout=300, check=False)  # fmt: skip
    assert up.returncode == 0, up.stdout + up.stderr
    moved = subprocess.run(
        [*RH, "reboot", "worker", "--project", project, "--mode", "hard", "--new-ip"],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert moved.returncode != 0, moved.stdout
    assert "new_ip needs a network whose subnet the compose file configures" in moved.stderr, (
        moved.stdout + moved.stderr
    )
    subprocess.run([*RH, "down", "--project", project], capture_output=True, timeout=120,
                   check=False)  # fmt: skip

    own = tmp_path / "docker-compose.yml"
    own.write_text(
        TEAM.read_text()
        + "networks:\n  default:\n    ipam:\n      config:\n        - subnet: 10.213.7.0/24\n"
    )
    up = subprocess.run([*RH, "up", "--project", project, "--stack", str(own)],
                        capture_output=True, text=True, timeout=300, check=False)  # fmt: skip
    assert up.returncode == 0, up.stdout + up.stderr
    for mode in ("hard", "graceful"):  # off the network first, and not
        moved = subprocess.run(
            [*RH, "reboot", "worker", "--project", project, "--mode", mode, "--new-ip"],
            capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip
        assert moved.returncode == 0, moved.stdout + moved.stderr
        (worker,) = client().containers.list(
            filters={"label": [f"{PROJECT_LABEL}={project}", "com.docker.compose.service=worker"]}
        )
        (net,) = worker.attrs["NetworkSettings"]["Networks"].values()
        assert net["IPAddress"].startswith("10.213.7."), net
        assert int(net["IPAddress"].rsplit(".", 1)[1]) >= 100, net
        assert net["IPAddress"] in moved.stdout + moved.stderr, moved.stdout + moved.stderr


def test_down_removes_the_images_compose_built_for_your_stack(project: str, tmp_path: Path) -> None:
    """A service your file builds (`build:`) gets an image compose names after the run's
    project; `down` removes it with the stack (nothing piles up run after run), and an image
    your file names (`image:` beside `build:`) is yours and stays."""
    registry_debian()
    (tmp_path / "Dockerfile").write_text("FROM debian:bookworm-slim\nRUN echo built > /built\n")
    mine = f"rh-test-{project}-mine:1"
    (tmp_path / "docker-compose.yml").write_text(
        "services:\n"
        "  built:\n    build: .\n    entrypoint: [sleep, infinity]\n"
        f"  named:\n    build: .\n    image: {mine}\n    entrypoint: [sleep, infinity]\n"
    )
    stack = str(tmp_path / "docker-compose.yml")
    up = subprocess.run([*RH, "up", "--project", project, "--stack", stack],
                        capture_output=True, text=True, timeout=300, check=False)  # fmt: skip
    assert up.returncode == 0, up.stdout + up.stderr
    labelled = {"label": f"com.docker.compose.project={project}"}
    assert {t for i in client().images.list(filters=labelled) for t in i.tags} == {
        f"{project}-built:latest",
        mine,
    }
    down = subprocess.run([*RH, "down", "--project", project], capture_output=True, text=True,
                          timeout=120, check=False)  # fmt: skip
    assert down.returncode == 0, down.stdout + down.stderr
    assert re.search(r",\s+1\s+images", down.stdout), down.stdout
    try:
        assert [t for i in client().images.list(filters=labelled) for t in i.tags] == [mine]
    finally:
        client().images.remove(mine, force=True)
