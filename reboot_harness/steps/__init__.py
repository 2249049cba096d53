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
from typing import TYPE_CHECKING

from reboot_harness.steps.kind import Param, StepKind
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


# One row per step kind, in the order reports and help list them.
KINDS: tuple[type[StepKind], ...] = _load(
    "reboot:Reboot",
    "kill:Kill",
    "stop:Stop",
    "start:Start",
    "dns_rotate:DnsRotate",
    "sentinel_failover:SentinelFailover",
    "mysql_failover:MysqlFailover",
    "wait_recovered:WaitRecovered",
    "sleep:Sleep",
    "rolling:Rolling",
    "full_restart:FullRestart",
)
# The YAML keys of the kinds, sorted (what scenarios write, what step errors and incidents name).
KEYS: tuple[str, ...] = tuple(sorted(kind.KEY for kind in KINDS))


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
    "KEYS",
    "KINDS",
    "Param",
    "RunContext",
    "StepKind",
    "by_key",
    "execute",
    "power_off",
    "power_on",
]
