"""The first example stack the harness has never seen (examples/webapp/: nginx in front of two
gunicorn apps, PostgreSQL 15 primary + streaming standby, every image built from Debian's
packages), as its README runs it: `init --from` recognises its roles, `doctor` names what in it
will not behave like a server across a reboot, `list --stack` offers only what applies,
`reboot-each-host` passes with `postgres replication` holding, and the team's own incident
reproduces by its cause while its fix passes."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml

from tests.integration.conftest import listed, reported, rh_in

pytestmark = [pytest.mark.docker, pytest.mark.usefixtures("debian_base")]
INDEPENDENT = True  # its own stacks: it may share a worker with anything

PROJECT = Path(__file__).resolve().parents[2] / "examples" / "webapp"
COMPOSE = "docker-compose.yml"


def rh(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return rh_in(PROJECT, *args, timeout=timeout)


def test_init_recognises_the_load_balancer_and_the_postgres_pair(tmp_path: Path) -> None:
    """nginx is the load balancer, db1 and db2 the PostgreSQL hosts (primary first, in the
    file's order); each host's daemon is read from its command."""
    out = tmp_path / "topology.yaml"
    proc = rh("init", "--from", COMPOSE, "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    topo = yaml.safe_load(out.read_text())
    assert (topo["lbs"], topo["postgres_hosts"]) == (["proxy"], ["db1", "db2"])
    assert (topo["apps"], topo["mysql_hosts"], topo["redis_hosts"]) == ([], [], [])
    assert topo["daemons"] == {
        "proxy": ["nginx"], "web1": ["gunicorn"], "web2": ["gunicorn"],
        "db1": ["postgres"], "db2": ["postgres"],
    }  # fmt: skip


def test_doctor_names_the_restart_policies_and_the_port_on_every_address() -> None:
    proc = rh("doctor", COMPOSE)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    found = {tuple(line.split(":")[1:4]) for line in proc.stdout.splitlines()[:-1]}
    assert found == {
        *((host, "restart", " restart-policy") for host in ("proxy", "web1", "web2", "db1", "db2")),
        ("proxy", "ports", " port-every-address"),
    }, proc.stdout
    assert proc.stdout.splitlines()[-1] == f"{COMPOSE}: 5 services, 6 findings; codes:" \
        " reboot-harness doctor --help"  # fmt: skip


def test_list_offers_only_the_scenarios_that_fit_the_stack() -> None:
    offered, refused = listed(PROJECT, "--stack", COMPOSE)
    assert {"reboot-each-host", "cold-start"} <= set(offered)
    for name, hosts in offered.items():
        assert set(hosts) <= {"proxy", "web1", "web2", "db1", "db2"}, name
    assert {"failover-back-and-forth", "mysql-long-repl-password", "no-minfds"} <= set(refused)


def test_reboot_each_host_passes_with_postgres_replication_holding(tmp_path: Path) -> None:
    proc = rh("run", "reboot-each-host", "--stack", COMPOSE, "--report", str(tmp_path),
              timeout=900)  # fmt: skip
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    (result,) = reported(tmp_path)
    assert result["passed"], result["reason"]
    held = {(c["check"], c["host"]) for c in result["checks"] if c["ok"]}
    hosts = ("proxy", "web1", "web2", "db1", "db2")
    assert held == {
        *(("processes", h) for h in hosts),
        ("postgres replication", "db1"), ("postgres replication", "db2"),
        # read from the file: every service's healthcheck, the proxy's port from a peer
        *(("host", h) for h in hosts),
    }, result["checks"]  # fmt: skip
    subjects = {s for c in result["checks"] if c["check"] == "host" and c["ok"]
                for s in c["subjects"]}  # fmt: skip
    assert {f"{h}/healthcheck" for h in hosts} | {"proxy/port:80 from web1"} <= subjects, subjects
    powered = sorted(e["host"] for e in result["events"] if e["kind"] == "power on")
    assert powered == sorted(2 * ["proxy", "web1", "web2", "db1", "db2"]), powered


def test_the_teams_standby_takeover_reproduces_and_its_fix_passes(tmp_path: Path) -> None:
    """db2 boots while the primary is off: the team's old boot script promotes it (two
    primaries once db1 is back); as the stack is now, it waits and streams again."""
    proc = rh("run", "scenarios/db-cold-start.yaml", "--stack", COMPOSE, "--incidents",
              "incidents", "--report", str(tmp_path), timeout=900)  # fmt: skip
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    runs = {r["variant"]: r for r in reported(tmp_path)}
    fixed, incident = runs["fixed"], runs["incident"]
    assert fixed["passed"] and fixed["reason"].startswith("recovered in"), fixed["reason"]
    assert {c["host"] for c in fixed["checks"] if c["check"] == "postgres replication"
            and c["ok"]} == {"db1", "db2"}  # fmt: skip
    assert incident["passed"] and incident["reason"].startswith("reproduced:"), incident["reason"]
    failed = {(c["check"], c["host"], c["cause"]) for c in incident["checks"] if not c["ok"]}
    assert failed == {
        ("postgres replication", "db1", "several-primaries"),
        ("postgres replication", "db2", "several-primaries"),
    }, failed
