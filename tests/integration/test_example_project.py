"""The example user project (examples/memcached/) as its README runs it: the team's compose file
as the stack (`--stack`), declared checks, a Python check and an incident of the project's own —
from the project's folder, with relative paths, through the command line."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.integration.conftest import listed, reported, rh_in

pytestmark = [pytest.mark.docker, pytest.mark.usefixtures("debian_base")]
INDEPENDENT = True  # one run, its own stacks: it may share a worker with anything

PROJECT = Path(__file__).resolve().parents[2] / "examples" / "memcached"


def test_the_example_project_runs_as_its_readme_says(tmp_path: Path) -> None:
    """Its README's command (with --report): -j 2, so each variant runs in a job process of its
    own that reads the topology (with its Python check), the team's incidents and compose file
    again, relative to the same folder."""
    report = tmp_path / "report"
    said = " ".join((PROJECT / "README.md").read_text().split())
    written = "reboot-harness run --stack docker-compose.yml --topology topology.yaml \\"
    written += " --incidents incidents -j 2 scenarios/cache-reboot.yaml"
    assert written in said, "the README's command changed: change it here too"
    command = (
        "run --stack docker-compose.yml --topology topology.yaml --incidents incidents -j 2"
        f" --report {report} scenarios/cache-reboot.yaml"
    )
    proc = subprocess.run(
        [sys.executable, "-m", "reboot_harness", *command.split()],
        cwd=PROJECT,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    runs = {r["variant"]: r for r in reported(report)}
    fixed, incident = runs["fixed"], runs["incident"]
    assert fixed["passed"] and fixed["reason"].startswith("recovered in")
    held = {(c["check"], s) for c in fixed["checks"] if c["ok"] for s in c["subjects"]}
    assert {
        ("cache", "cache/process:memcached"),
        ("cache", "cache/nofile:memcached"),
        ("cache", "cache/directory:/run/memcached"),
        ("cache", "cache/file:/run/memcached/memcached.pid"),
        ("cache", "cache/port:11211"),
        ("memcached stats", "cache"),
    } <= held
    # the team's file is the whole stack: its one host, none of the post-mortem's
    assert {c["host"] for r in (fixed, incident) for c in r["checks"]} == {"cache"}
    assert incident["passed"] and incident["reason"].startswith("reproduced:")
    failed = {(c["check"], c["host"], c["cause"]) for c in incident["checks"] if not c["ok"]}
    assert ("cache", "cache", "directory-missing") in failed
    assert ("cache", "cache", "file-missing") in failed
    assert ("memcached stats", "cache", "pid-file-wrong") in failed
    # memcached itself runs on, with its connections: only the run directory is wrong
    assert ("cache", "cache", "process-not-running") not in failed


def test_pytest_collects_the_example_projects_scenarios_from_its_ini() -> None:
    """The project's pytest.ini (rh_scenarios, rh_incidents, rh_topology, rh_stack_file): its
    scenario is validated against its own topology and checks, one item per variant."""
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--collect-only", "-q"],
        cwd=PROJECT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert "scenarios/cache-reboot.yaml::cache-reboot[fixed]" in proc.stdout
    assert "scenarios/cache-reboot.yaml::cache-reboot[incident]" in proc.stdout


def test_init_and_doctor_on_the_teams_file(tmp_path: Path) -> None:
    """`init` finds the cache's port and says it cannot tell its daemon (its image is built
    here, from an entrypoint script): the team's topology.yaml fills it in; `doctor` names the
    restart policy and the missing healthcheck."""
    out = tmp_path / "topology.yaml"
    proc = rh_in(PROJECT, "init", "--from", "docker-compose.yml", "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    assert "cache: daemons not known: no command and no image (built here)" in proc.stdout
    assert "fill in daemons.cache" in proc.stdout
    written = yaml.safe_load(out.read_text())
    assert written["daemons"] == {"cache": []}
    assert written["host_checks"] == [{"host": "cache", "port": 11211}]
    doctor = rh_in(PROJECT, "doctor", "docker-compose.yml")
    assert doctor.returncode == 1, doctor.stdout + doctor.stderr
    codes = [line.split(":")[3].strip() for line in doctor.stdout.splitlines()[:-1]]
    assert codes == ["restart-policy", "no-healthcheck"], doctor.stdout


def test_reboot_each_host_passes_on_the_teams_stack(tmp_path: Path) -> None:
    proc = rh_in(PROJECT, "run", "reboot-each-host", "--stack", "docker-compose.yml",
                 "--topology", "topology.yaml", "--report", str(tmp_path), timeout=600)  # fmt: skip
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    (result,) = reported(tmp_path)
    assert result["passed"], result["reason"]
    assert {(c["check"], c["host"]) for c in result["checks"]} == {
        ("processes", "cache"), ("cache", "cache"), ("memcached stats", "cache"),
    }, result["checks"]  # fmt: skip
    assert all(c["ok"] for c in result["checks"]), result["checks"]


def test_list_offers_only_what_fits_the_teams_stack() -> None:
    """`list --stack` with the team's topology: the shipped scenarios that fit take the cache
    host; the post-mortem's own are not applicable, each with why."""
    offered, refused = listed(PROJECT, "--stack", "docker-compose.yml", "--topology",
                              "topology.yaml")  # fmt: skip
    assert {"reboot-each-host", "cold-start"} <= set(offered), offered
    for name, hosts in offered.items():
        assert hosts == ["cache"], name
    assert {"failover-back-and-forth", "no-minfds", "graphite-piddir"} <= set(refused)
