"""Reboots with real semantics: graceful or hard power-off, time off, a new address, boot."""

from __future__ import annotations

import time

from reboot_harness.model.events import EventKind
from reboot_harness.model.steps import Reboot, Start, Stop
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


def reboot(ctx: RunContext, step: Reboot) -> None:
    """Power off, stay off ``down_for``, optionally renumber, boot. /run comes back empty, boot
    ulimits apply again, data on disk (volumes and the host's own filesystem) is kept."""
    power_off(ctx, step.host, step.mode, step.grace)
    if step.down_for:
        time.sleep(step.down_for)
    if step.new_ip:
        new = ctx.stack.renumber(step.host)
        ctx.event(EventKind.NEW_ADDRESS, step.host, new)
    power_on(ctx, step.host)


def stop(ctx: RunContext, step: Stop) -> None:
    power_off(ctx, step.host, step.mode, step.grace)


def start(ctx: RunContext, step: Start) -> None:
    power_on(ctx, step.host)
