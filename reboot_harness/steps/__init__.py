"""steps: the step kinds a scenario runs — faults (reboot, kill, stop, start, a full restart) and
the operator's moves (DNS rotation, failovers), their executors and heal, and what a host's
return cost its peers (comeback). ``KINDS`` below is the one table of step kinds: one module
per kind (the contract: reboot_harness.steps.kind), one row per module; a new kind is one new
file and one row.
Imports model, inputs and errors at the top of each kind's module (validating a scenario loads
no engine client); the executors import stack (through its protocol) and checks (to read what
a step changed, and to wait for recovery)."""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING

from reboot_harness.model.events import EventKind
from reboot_harness.steps.kind import Arg, Command, Mark, OneShot, Param, StepKind
from reboot_harness.steps.power import power_off, power_on

if TYPE_CHECKING:
    from reboot_harness.model.steps import Step
    from reboot_harness.steps.base import RunContext
else:

    def __getattr__(name: str) -> object:
        # The run context loads the stack's engine: imported when asked for, not when a
        # scenario is validated against the kinds.
        if name == "RunContext":
            from reboot_harness.steps.base import RunContext

            return RunContext
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _load(*rows: str) -> tuple[type[StepKind], ...]:
    """The kinds of ``rows`` (``module:Class`` below reboot_harness.steps), imported now: a
    kind's module is light (no engine client), and a typo fails at import, not mid-run."""
    kinds = []
    for row in rows:
        module, _, name = row.partition(":")
        kinds.append(getattr(importlib.import_module(f"{__name__}.{module}"), name))
    return tuple(kinds)


# One row per step kind, in the order `reboot-harness --help` lists their commands.
KINDS: tuple[type[StepKind], ...] = _load(
    "reboot:Reboot",
    "stop:Stop",
    "start:Start",
    "kill:Kill",
    "sentinel_failover:SentinelFailover",
    "mysql_failover:MysqlFailover",
    "dns_rotate:DnsRotate",
    "wait_recovered:WaitRecovered",
    "sleep:Sleep",
    "rolling:Rolling",
    "full_restart:FullRestart",
    "freeze:Freeze",
)
# The YAML keys of the kinds, sorted (what scenarios write, what step errors and incidents name).
KEYS: tuple[str, ...] = tuple(sorted(kind.KEY for kind in KINDS))


def _commands() -> tuple[Command, ...]:
    by_name: dict[str, list[type[StepKind]]] = {}
    for kind in KINDS:
        if kind.ONESHOT is not None:
            by_name.setdefault(kind.ONESHOT.command, []).append(kind)
    return tuple(Command.of(tuple(kinds)) for kinds in by_name.values())


# The one-shot commands (`reboot-harness reboot …`) and Chaos Toolkit actions, in table order.
COMMANDS: tuple[Command, ...] = _commands()
# How reports show each kind of event a step records (reboot_harness.report).
MARKS: Mapping[EventKind, Mark] = MappingProxyType(
    {mark.kind: mark for kind in KINDS for mark in kind.MARKS}
)


def by_key(key: str) -> type[StepKind]:
    """The kind whose YAML key is ``key`` (KeyError naming the known keys otherwise)."""
    for kind in KINDS:
        if key == kind.KEY:
            return kind
    raise KeyError(f"unknown step kind {key!r}; known: {', '.join(KEYS)}")


def execute(ctx: RunContext, step: Step) -> None:
    """Run one step of a scenario (its kind's executor, imported on first use)."""
    kind = by_key(step.KEY)
    kind.executor()(ctx, step)


__all__ = [
    "COMMANDS",
    "KEYS",
    "KINDS",
    "MARKS",
    "Arg",
    "Command",
    "Mark",
    "OneShot",
    "Param",
    "RunContext",
    "StepKind",
    "by_key",
    "execute",
    "power_off",
    "power_on",
]
