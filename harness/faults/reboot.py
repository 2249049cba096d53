"""Reboots with real semantics: graceful or hard power-off, time off, a new address, boot."""

from __future__ import annotations

import time

from harness.faults.base import RunContext
from harness.model import EventKind, Reboot, Start, Stop


def power_off(ctx: RunContext, host: str, mode: str, grace: float) -> None:
    began = time.time()
    ctx.stack.power_off(host, mode=mode, grace=grace)
    ctx.event(EventKind.POWER_OFF, host, mode, time.time() - began)


def power_on(ctx: RunContext, host: str) -> None:
    began = time.time()
    ctx.stack.power_on(host)
    ctx.event(EventKind.POWER_ON, host, "", time.time() - began)


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
