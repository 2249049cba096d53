"""The executors of the steps that arrange other steps: wait for recovery, a rolling reboot, a
full restart of the fleet (their kinds: wait_recovered, rolling, full_restart)."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

from reboot_harness.checks.recovery import wait_recovered
from reboot_harness.errors import CheckTimeout, FaultError
from reboot_harness.model.events import EventKind
from reboot_harness.steps.base import RunContext
from reboot_harness.steps.full_restart import FullRestart
from reboot_harness.steps.power import power_off, power_on
from reboot_harness.steps.reboot import Reboot, reboot
from reboot_harness.steps.rolling import Rolling
from reboot_harness.steps.wait_recovered import WaitRecovered


def wait_for(ctx: RunContext, within: float, checks: tuple[str, ...], label: str) -> None:
    """Wait until ``checks`` (all when empty) hold; a FaultError (cause ``not-recovered``)
    keeping the failing results when ``within`` runs out."""
    began = time.time()
    try:
        readiness = wait_recovered(ctx.stack, checks=checks, since=began, timeout=within)
    except CheckTimeout as e:
        failing = tuple(r for r in e.results if not r.ok)
        raise FaultError(
            f"{label}: not recovered within {within:g}s: "
            + "; ".join(r.brief() for r in failing[:4]),
            cause="not-recovered",
            checks=failing,
        ) from e
    # measured to when the last check held, not to when the runs still under way ended
    ctx.event(EventKind.RECOVERED, "", label, (readiness.recovered_at or time.time()) - began)
    ctx.came_back()


def wait(ctx: RunContext, step: WaitRecovered) -> None:
    wait_for(ctx, step.within, step.checks, "wait_recovered")


def rolling(ctx: RunContext, step: Rolling) -> None:
    for host in step.hosts:
        reboot(ctx, Reboot(host=host, mode=step.mode, down_for=step.down_for))
        wait_for(ctx, step.recover_within, (), f"after rebooting {host}")


def full_restart(ctx: RunContext, step: FullRestart) -> None:
    hosts = list(step.hosts)
    if step.order == "reverse":
        hosts.reverse()
    elif step.order == "random":
        ctx.rng.shuffle(hosts)
    # Everything goes down at once (in parallel), as when the whole fleet is rebooted.
    with ThreadPoolExecutor(max_workers=min(8, len(hosts))) as pool:
        for f in [pool.submit(power_off, ctx, h, step.mode, 10.0, alone=False) for h in step.hosts]:
            f.result()
    if step.down_for:
        time.sleep(step.down_for)
    ctx.event(EventKind.FULL_RESTART, "", "boot order: " + ", ".join(hosts))
    for host in hosts:
        power_on(ctx, host)
