"""steps: the step kinds a scenario runs — faults (reboot, kill, stop, start, a full restart) and
the operator's moves (DNS rotation, failovers), their executors and heal, and what a host's
return cost its peers (comeback); this module is the one table from step kind to executor.
Imports model, stack (through its protocol) and checks (to read what a step changed, and to
wait for recovery). Each executor takes the run context and its step; the step's YAML key and
the hosts it touches are the step's own (reboot_harness.model.steps: ``KEY``, ``touches()``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from reboot_harness.model.steps import (
    STEP_TYPES,
    DnsRotate,
    FullRestart,
    Kill,
    MysqlFailover,
    Reboot,
    Rolling,
    SentinelFailover,
    Sleep,
    Start,
    Step,
    Stop,
    WaitRecovered,
)
from reboot_harness.steps.base import RunContext
from reboot_harness.steps.kill import kill
from reboot_harness.steps.operations import dns_rotate, mysql_failover, sentinel_failover
from reboot_harness.steps.orchestration import full_restart, rolling, sleep, wait
from reboot_harness.steps.reboot import power_off, power_on, reboot, start, stop

EXECUTORS: dict[type, Callable[[RunContext, Any], None]] = {
    Reboot: reboot,
    Kill: kill,
    Stop: stop,
    Start: start,
    DnsRotate: dns_rotate,
    SentinelFailover: sentinel_failover,
    MysqlFailover: mysql_failover,
    WaitRecovered: wait,
    Sleep: sleep,
    Rolling: rolling,
    FullRestart: full_restart,
}
if set(EXECUTORS) != set(STEP_TYPES):  # pragma: no cover - a programming error, caught at import
    raise RuntimeError("every step type of reboot_harness.model.steps.STEP_TYPES needs an executor")


def execute(ctx: RunContext, step: Step) -> None:
    """Run one step of a scenario."""
    EXECUTORS[type(step)](ctx, step)


__all__ = ["EXECUTORS", "RunContext", "execute", "power_off", "power_on"]
