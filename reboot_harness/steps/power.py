"""Power a host off and on as a step does: the events, and what replication must be measured
for when the host comes back (shared by reboot, stop, start, rolling and full_restart)."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import TYPE_CHECKING

from reboot_harness.model.events import EventKind

if TYPE_CHECKING:
    from reboot_harness.steps.base import RunContext


def power_off(ctx: RunContext, host: str, mode: str, grace: float, *, alone: bool = True) -> None:
    """``alone``: the host goes down while the others stay up, so what its return costs
    replication is measured (not in a full restart: every host is away at once)."""
    if alone:
        ctx.going_down(host)
    began = time.time()
    ctx.stack.power_off(host, mode=mode, grace=grace)
    ctx.event(EventKind.POWER_OFF, host, mode, time.time() - began)


def power_on(ctx: RunContext, host: str) -> None:
    began = time.time()
    ctx.stack.power_on(host)
    ctx.event(EventKind.POWER_ON, host, "", time.time() - began)
    if host in ctx.away:
        ctx.booted[host] = time.time()


def graceful_only(key: str, value: object, given: Mapping[str, object]) -> str | None:
    """``grace`` is the time a graceful power-off gives init; with another mode it is a mistake."""
    mode = given.get("mode")
    if key == "grace" and mode not in (None, "graceful"):
        return (
            f"grace only applies to mode graceful, not {mode}; valid: remove grace "
            "or set mode: graceful"
        )
    return None
