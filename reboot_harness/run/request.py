"""What a face asks the run layer for: one frozen :class:`RunRequest`, resolved once from the
command line (reboot_harness.faces.cli.run) or the pytest options
(reboot_harness.faces.pytest_plugin.options) and handed down unchanged to the run loop
(reboot_harness.run.loop), the pool of jobs (reboot_harness.run.jobs) and bring_up
(reboot_harness.run.bringup)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from reboot_harness.errors import UsageError
from reboot_harness.model.incidents import Incident
from reboot_harness.model.scenario import Scenario
from reboot_harness.model.topology import Topology

MAX_REPEAT = 1000
UP_TIMEOUT_S = 300.0  # how long a scenario's or rh_stack's stack may take to come up


@dataclass(frozen=True)
class RunRequest:
    """How stacks are started and scenario variants run, the same for every one of a session.

    Attributes:
        stack: your compose file as the whole stack (``--stack FILE``); None: the preset
            ``seed``, the stack the harness ships (compose/stack.yaml).
        compose: the user's compose overrides, layered over the stack in this order.
        topology_file: the user's topology file (None: the shipped stack's topology, or with
            ``stack`` the one read from your compose file).
        topology: ``topology_file`` as read; read at construction when not given. Not carried
            to another process (a Topology does not pickle): there :meth:`loaded` reads it again.
        incident: run only on this incident's configuration (``run --incident NAME``, or an
            incident loaded from anywhere); None: each scenario's own ``reproduces``.
        keep: leave each stack running afterwards.
        allow_unsafe: start even compose files that void the rehearsal.
        up_timeout: seconds a stack may take to come up with every check holding.
        jobs: scenario variants at once, each in a process of its own.
        repeat: runs of each scenario variant (1..1000).
        max_duration: stop after this many seconds (None: no limit).
        max_planned: refuse a scenario whose own plan may take longer (seconds).
        report: where the reports go (None: none written).

    Raises:
        UsageError: at construction, one line naming the option and the way out.
    """

    stack: Path | None = None
    compose: tuple[Path, ...] = ()
    topology_file: Path | None = None
    topology: Topology | None = field(default=None, compare=False, repr=False)
    incident: Incident | None = None
    keep: bool = False
    allow_unsafe: bool = False
    up_timeout: float = UP_TIMEOUT_S
    jobs: int = 1
    repeat: int = 1
    max_duration: float | None = None
    max_planned: float = 4 * 3600.0
    report: Path | None = None

    def __post_init__(self) -> None:
        if self.jobs < 1:
            raise UsageError(f"--jobs {self.jobs}: run at least 1 scenario at a time")
        if not 1 <= self.repeat <= MAX_REPEAT:
            raise UsageError(
                f"--repeat {self.repeat}: run each scenario variant 1 to {MAX_REPEAT} times"
            )
        for f in self.compose:
            if not f.is_file():
                raise UsageError(f"{f}: compose file not found")
        if self.stack is not None:
            from reboot_harness.inputs.compose.yourstack import read_stack
            from reboot_harness.inputs.paths import default_compose_dir

            yours = read_stack(self.stack, default_compose_dir())  # (refused here when bad)
            if self.topology is None and self.topology_file is None:
                object.__setattr__(self, "topology", yours.topology())
        if self.topology is None and self.topology_file is not None:
            from reboot_harness.inputs.topology import load_topology

            object.__setattr__(self, "topology", load_topology(self.topology_file))

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "topology": None}  # (a Topology's mapping proxies do not pickle)

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)  # (the topology: by loaded(), where errors are reported)

    def loaded(self) -> RunRequest:
        """This request with its topology read: itself, unless it came from another process
        (where the topology file is then read again, as each job does)."""
        if self.topology is None and (self.topology_file is not None or self.stack is not None):
            return dataclasses.replace(self)  # (__post_init__ reads it)
        return self

    def incident_for(self, scenario: Scenario) -> Incident | None:
        """The incident an incident variant of ``scenario`` runs on: the one asked for, else the
        scenario's ``reproduces`` — validated against the topology (its hosts, and its own
        checks and their causes); None when there is neither."""
        if self.incident is not None:
            return self.incident
        if scenario.reproduces is None:
            return None
        from reboot_harness.scenarios import find

        return find.incident(scenario.reproduces.incident, self.topology)
