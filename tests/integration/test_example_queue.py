"""The second example stack the harness has never seen (examples/queue/: Redis as a job queue and
two workers under supervisord, every image built from Debian's packages), as its README runs it:
`init --from` recognises the queue and the workers' supervisord, `doctor` names what in it will
not behave like a server across a reboot, `list --stack` offers only what applies (no Sentinel
here: nothing that fails redis over), `reboot-each-host` passes with the queue a master and the
workers' programs running, and the team's own incident reproduces by its cause while its fix
passes."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml

from tests.integration.conftest import listed, reported, rh_in

pytestmark = [pytest.mark.docker, pytest.mark.usefixtures("debian_base")]
INDEPENDENT = True  # its own stacks: it may share a worker with anything

PROJECT = Path(__file__).resolve().parents[2] / "examples" / "queue"
COMPOSE = "docker-compose.yml"
HOSTS = ("queue", "worker1", "worker2")


def rh(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return rh_in(PROJECT, *args, timeout=timeout)


def test_init_recognises_the_queue_and_the_workers_supervisord(tmp_path: Path) -> None:
    out = tmp_path / "topology.yaml"
    proc = rh("init", "--from", COMPOSE, "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    topo = yaml.safe_load(out.read_text())
    assert (topo["redis_hosts"], topo["lbs"], topo["apps"]) == (["queue"], [], [])
    assert topo["daemons"] == {
        "queue": ["redis-server"], "worker1": ["supervisord"], "worker2": ["supervisord"],
    }  # fmt: skip


def test_doctor_names_the_restart_policies_and_the_workers_without_healthcheck() -> None:
    proc = rh("doctor", COMPOSE)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    found = {tuple(line.split(":")[1:4]) for line in proc.stdout.splitlines()[:-1]}
    assert {(host, "restart", " restart-policy") for host in HOSTS} <= found, proc.stdout
    assert {(h, "healthcheck", " no-healthcheck") for h in ("worker1", "worker2")} <= found, (
        proc.stdout
    )


def test_list_offers_no_sentinel_failover_for_a_redis_without_sentinel() -> None:
    offered, why = listed(PROJECT, "--stack", COMPOSE)
    assert {"reboot-each-host", "cold-start"} <= set(offered)
    for name, hosts in offered.items():
        assert set(hosts) <= set(HOSTS), name
    assert "failover-back-and-forth" in why and "sentinel-all-replicas" in why, why


def test_reboot_each_host_passes_with_the_queue_a_master_and_the_workers_running(
    tmp_path: Path,
) -> None:
    proc = rh("run", "reboot-each-host", "--stack", COMPOSE, "--report", str(tmp_path),
              timeout=900)  # fmt: skip
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    (result,) = reported(tmp_path)
    assert result["passed"], result["reason"]
    held = {(c["check"], c["host"]) for c in result["checks"] if c["ok"]}
    assert held == {
        *(("processes", h) for h in HOSTS), ("redis roles", "queue"), ("host", "queue"),
    }, result["checks"]  # fmt: skip
    by = {(c["check"], c["host"]): c for c in result["checks"]}
    assert by[("redis roles", "queue")]["subjects"] == ["queue/redis"]
    assert "supervisord program" in by[("processes", "worker1")]["expected"]
    powered = sorted(e["host"] for e in result["events"] if e["kind"] == "power on")
    assert powered == sorted(2 * list(HOSTS)), powered


def test_the_teams_workers_giving_up_reproduces_and_its_fix_passes(tmp_path: Path) -> None:
    """The queue away for a minute: workers that exit when they cannot reach it are FATAL in
    supervisord by the time it is back; workers that wait for it take jobs again."""
    proc = rh("run", "scenarios/queue-outage.yaml", "--stack", COMPOSE, "--incidents",
              "incidents", "--report", str(tmp_path), timeout=900)  # fmt: skip
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    runs = {r["variant"]: r for r in reported(tmp_path)}
    fixed, incident = runs["fixed"], runs["incident"]
    assert fixed["passed"] and fixed["reason"].startswith("recovered in"), fixed["reason"]
    assert incident["passed"] and incident["reason"].startswith("reproduced:"), incident["reason"]
    failed = {(c["check"], c["host"], c["cause"]) for c in incident["checks"] if not c["ok"]}
    assert failed == {
        ("processes", "worker1", "program-not-running"),
        ("processes", "worker2", "program-not-running"),
    }, failed
    assert "FATAL" in incident["reason"], incident["reason"]
