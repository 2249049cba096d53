"""Finding scenario files and incidents by name; loading them with the stack's vocabulary."""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from reboot_harness.checks.available import names as check_names
from reboot_harness.errors import ScenarioError, UsageError
from reboot_harness.inputs.paths import default_compose_dir, default_scenarios_dir, shipped
from reboot_harness.model.incidents import Incident
from reboot_harness.model.scenario import Scenario
from reboot_harness.model.topology import Topology
from reboot_harness.scenarios.files import load_scenario, load_scenarios
from reboot_harness.scenarios.incidents import load_incident, lookup


def scenarios_dir() -> Path:
    return default_scenarios_dir()


def incidents_dir() -> Path:
    return default_compose_dir() / "incidents"


INCIDENTS_ENV = "RH_INCIDENTS_DIR"


def incident_dirs() -> list[Path]:
    """Where incidents come from: the shipped ones, then the user's own directories
    (``$RH_INCIDENTS_DIR``, separated by ``os.pathsep``; set by ``--incidents DIR`` and the
    pytest plugin's ``--rh-incidents`` / ini ``rh_incidents``)."""
    user = [Path(p) for p in os.environ.get(INCIDENTS_ENV, "").split(os.pathsep) if p]
    return [incidents_dir(), *user]


def use_incident_dirs(dirs: Sequence[Path]) -> None:
    """Add the user's incident directories, for this process and the ones it starts."""
    have = [p for p in os.environ.get(INCIDENTS_ENV, "").split(os.pathsep) if p]
    new = [str(d.resolve()) for d in dirs]
    os.environ[INCIDENTS_ENV] = os.pathsep.join([*have, *(d for d in new if d not in have)])


def incident_files(dirs: Sequence[Path] | None = None) -> dict[str, Path]:
    """Every incident file by name; a UsageError for a directory that is not there or a name
    defined twice."""
    found: dict[str, Path] = {}
    for d in incident_dirs() if dirs is None else dirs:
        if not d.is_dir():
            raise UsageError(
                f"{d}: no such incidents directory (from --incidents or ${INCIDENTS_ENV})"
            )
        for p in sorted(d.glob("*.yaml")):
            if p.stem in found:
                raise UsageError(
                    f"incident {p.stem!r} is defined twice: {found[p.stem]} and {p};"
                    " rename one of them"
                )
            found[p.stem] = p
    return found


def known_incidents() -> list[str]:
    return sorted(incident_files())


class Incidents(Mapping[str, Incident]):
    """The incidents by name (shipped and the user's own, see :func:`incident_dirs`), each read
    and validated (against ``topology``) the first time it is asked for: a scenario run checks
    the incidents it names, not every file."""

    def __init__(self, topology: Topology | None = None, directory: Path | None = None) -> None:
        self._topology = topology or Topology()
        self._files = incident_files(None if directory is None else [directory])
        self._names = sorted(self._files)
        self._loaded: dict[str, Incident] = {}

    def __getitem__(self, name: str) -> Incident:
        if name not in self._files:
            raise KeyError(name)
        if name not in self._loaded:
            self._loaded[name] = load_incident(self._files[name], self._topology)
        return self._loaded[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._names)

    def __len__(self) -> int:
        return len(self._names)


def incident(name: str, topology: Topology | None = None) -> Incident:
    """Incident ``name``, validated; a UsageError naming the known ones if there is none."""
    return lookup(Incidents(topology), name)


def incident_file(name: str) -> Path:
    """The compose override of incident ``name``; a UsageError naming the known ones if none."""
    return incident(name).path


def scenario_files(dirs: Sequence[Path] | None = None) -> list[Path]:
    """The scenario files of ``dirs`` (default: :func:`scenarios_dir`; the project config
    file's ``scenarios``, resolved by the face), sorted within each folder."""
    return [
        p for d in ([scenarios_dir()] if dirs is None else dirs) for p in sorted(d.glob("*.yaml"))
    ]


def load(path: Path, topology: Topology | None = None) -> Scenario:
    topo = topology or Topology()
    return load_scenario(path, topology=topo, checks=check_names(topo), incidents=Incidents(topo))


def load_all(topology: Topology | None = None) -> list[Scenario]:
    topo = topology or Topology()
    return load_scenarios(
        scenario_files(), topology=topo, checks=check_names(topo), incidents=Incidents(topo)
    )


@dataclass(frozen=True)
class NotApplicable:
    """A shipped scenario that is valid but does not fit the topology: it names a host, a
    check or an incident the topology lacks (``why``: the first such name, as validation said
    it)."""

    scenario: Scenario  # as read against the shipped stack's topology
    why: str


def fit(path: Path, topology: Topology | None = None) -> Scenario | NotApplicable:
    """Scenario file ``path`` validated against ``topology``, or — for a shipped scenario that
    is valid on the shipped stack's topology but names what this one lacks — why it does not
    apply. Your own scenario files are validated against your topology only.

    Raises:
        ScenarioError: the file is invalid on this topology (and, if shipped, on the shipped
            one).
    """
    topo = topology or Topology()
    try:
        return load(path, topo)
    except UsageError as e:
        if topology is None or not path.resolve().is_relative_to(shipped("scenarios").resolve()):
            raise
        problem = e
    try:
        found = load(path, Topology())
    except UsageError:
        raise problem from None
    return NotApplicable(found, str(problem).removeprefix(f"{path}: "))


def survey(
    topology: Topology | None = None, dirs: Sequence[Path] | None = None
) -> tuple[list[Scenario], list[NotApplicable]]:
    """Every scenario file, split into those that apply to ``topology`` (validated against it)
    and those that do not (see :func:`fit`): a file valid on the shipped stack's topology but
    naming what this one lacks is not applicable, never an error.

    Args:
        topology: the stack's topology (None: the shipped stack's).
        dirs: the scenario folders (None: :func:`scenarios_dir`).

    Raises:
        ScenarioError: a file invalid on this topology and on the shipped one, or a scenario
            name used twice.
    """
    applies: list[Scenario] = []
    others: list[NotApplicable] = []
    seen: dict[str, str] = {}
    for path in scenario_files(dirs):
        found = fit(path, topology)
        scenario = found.scenario if isinstance(found, NotApplicable) else found
        if scenario.name in seen:
            raise ScenarioError(
                f"{scenario.source}: name: duplicate scenario name {scenario.name!r};"
                f" also in {seen[scenario.name]}"
            )
        seen[scenario.name] = scenario.source
        if isinstance(found, NotApplicable):
            others.append(found)
        else:
            applies.append(found)
    return applies, others


def resolve(
    args: Sequence[str], topology: Topology | None = None, dirs: Sequence[Path] | None = None
) -> list[Scenario]:
    """Scenario names (from ``dirs``, default :func:`scenarios_dir`) or paths to files →
    validated scenarios."""
    out = []
    folders = [scenarios_dir()] if dirs is None else dirs
    for arg in args:
        path = Path(arg)
        if not path.is_file():
            found = [d / f"{arg}.yaml" for d in folders if (d / f"{arg}.yaml").is_file()]
            if not found:
                known = ", ".join(p.stem for p in scenario_files(dirs)) or "none"
                raise UsageError(f"unknown scenario {arg!r}; known: {known}")
            path = found[0]
        out.append(load(path, topology))
    return out


def hosts_touched(scenario: Scenario, topology: Topology | None = None) -> list[str]:
    topo = topology or Topology()
    hosts = {h for step in scenario.steps for h in step.touches(topo)}
    return [h for h in topo.hosts if h in hosts]
