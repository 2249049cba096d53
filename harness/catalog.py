"""Finding scenario files and incidents by name; loading them with the stack's vocabulary."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from harness.errors import UsageError
from harness.model import (
    CHECK_NAMES,
    DnsRotate,
    FullRestart,
    Kill,
    MysqlFailover,
    Reboot,
    Rolling,
    Scenario,
    SentinelFailover,
    Start,
    Stop,
    Topology,
)
from harness.paths import default_compose_dir
from harness.scenario import load_scenario, load_scenarios


def scenarios_dir() -> Path:
    override = os.environ.get("RH_SCENARIOS_DIR")
    return Path(override) if override else Path(__file__).resolve().parents[1] / "scenarios"


def known_incidents() -> list[str]:
    return sorted(p.stem for p in (default_compose_dir() / "incidents").glob("*.yaml"))


def incident_file(name: str) -> Path:
    """The compose override of incident ``name``; a UsageError naming the known ones if none."""
    known = known_incidents()
    if name not in known:
        raise UsageError(f"unknown incident {name!r}; known: {', '.join(known)}")
    return default_compose_dir() / "incidents" / f"{name}.yaml"


def scenario_files() -> list[Path]:
    return sorted(scenarios_dir().glob("*.yaml"))


def load(path: Path, topology: Topology | None = None) -> Scenario:
    return load_scenario(
        path, topology=topology or Topology(), checks=CHECK_NAMES, incidents=known_incidents()
    )


def load_all(topology: Topology | None = None) -> list[Scenario]:
    return load_scenarios(
        scenario_files(),
        topology=topology or Topology(),
        checks=CHECK_NAMES,
        incidents=known_incidents(),
    )


def resolve(args: Sequence[str], topology: Topology | None = None) -> list[Scenario]:
    """Scenario names (from scenarios/) or paths to files → validated scenarios."""
    out = []
    for arg in args:
        path = Path(arg)
        if not path.is_file():
            candidate = scenarios_dir() / f"{arg}.yaml"
            if not candidate.is_file():
                known = ", ".join(p.stem for p in scenario_files()) or "none"
                raise UsageError(f"unknown scenario {arg!r}; known: {known}")
            path = candidate
        out.append(load(path, topology))
    return out


def hosts_touched(scenario: Scenario, topology: Topology | None = None) -> list[str]:
    topo = topology or Topology()
    hosts: list[str] = []
    for step in scenario.steps:
        if isinstance(step, Reboot | Kill | Stop | Start):
            hosts.append(step.host)
        elif isinstance(step, DnsRotate):
            hosts += [step.lb, topo.dns_host]
        elif isinstance(step, SentinelFailover):
            hosts += list(topo.redis_hosts)
        elif isinstance(step, MysqlFailover):
            hosts += list(topo.mysql_hosts)
        elif isinstance(step, Rolling | FullRestart):
            hosts += list(step.hosts)
    return [h for h in topo.hosts if h in hosts]
