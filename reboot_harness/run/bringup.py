"""Bringing a stack up until it is recovered, and judging it once."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from reboot_harness.checks.recovery import Pacing, Readiness, wait_recovered
from reboot_harness.checks.run import run_checks
from reboot_harness.errors import CheckTimeout, UsageError
from reboot_harness.interrupts import shielded
from reboot_harness.model.results import CheckResult
from reboot_harness.model.topology import Topology
from reboot_harness.run.request import RunRequest
from reboot_harness.stack.core import Stack
from reboot_harness.stack.lifecycle import start
from reboot_harness.stack.protocol import StackLike
from reboot_harness.stack.removal import down
from reboot_harness.stack.state import ProjectState

Progress = Callable[[str], None]


@dataclass
class UpReport:
    stack: Stack
    readiness: Readiness


def bring_up(
    name: str,
    request: RunRequest,
    *,
    extra: Sequence[Path] = (),
    progress: Progress = lambda _: None,
) -> UpReport:
    """Start stack ``name`` as ``request`` says (its compose files, then ``extra``: an
    incident's override) and wait up to ``request.up_timeout`` until every check passes; on
    failure remove it.

    Raises:
        CheckTimeout: with the last results (the stack has been removed).
        HarnessError: anything else (the stack has been removed).
    """
    # The stack layer takes the request's parts one by one: it sits below run/ and its request.
    stack = start(
        name,
        stack_file=request.stack,
        extra_compose=[*request.compose, *extra],
        keep=request.keep,
        topology_file=request.topology_file,
        progress=progress,
        allow_unsafe=request.allow_unsafe,
        topology=request.topology,
    )
    started = time.time()
    try:
        readiness = wait_recovered(
            stack, timeout=request.up_timeout, started=started, progress=progress
        )
    except BaseException as e:  # any failure once the stack exists removes it, bugs included
        with shielded():
            if isinstance(e, CheckTimeout):
                e.args = (e.args[0] + "\n" + failure_logs(stack, e.results),)
            down(name)
        raise
    stack.state = stack.state.with_changes(
        last_check=time.time(), rotation=stack.state.rotation or stack.topology.lbs, ready=True
    )
    stack.state.save()
    return UpReport(stack, readiness)


def failure_logs(stack: StackLike, results: Sequence[CheckResult], lines: int = 15) -> str:
    """Recent container logs of every host a failing result names."""
    hosts = sorted({r.host for r in results if not r.ok and r.host != "*"})
    out = []
    for host in hosts[:6]:
        text = stack.logs(host, tail=lines).rstrip()
        out.append(f"--- recent logs of {host} ---\n{text or '(empty)'}")
    return "\n".join(out)


def attach(name: str, topology: Topology | None = None) -> Stack:
    """Running stack ``name`` (with ``topology`` when the caller has read it already, else
    the one its state names); a UsageError saying the way out when it is not there."""
    state = ProjectState.load(name)
    from reboot_harness.stack.engines import bind, of_state

    recorded = of_state(state)
    if recorded:  # wherever it lives (RH_ENGINES): this process talks to that engine now
        bind(recorded)
    stack = Stack(state, topology)
    if not stack.containers():
        raise UsageError(
            f"no such project {name!r}: its containers are gone; `reboot-harness down --project"
            f" {name}` forgets it, `reboot-harness up --project {name}` starts it again"
        )
    return stack


def check_once(name: str, *, deadline_s: float = 5.0) -> tuple[Stack, list[CheckResult]]:
    """Run every check once against running stack ``name`` and remember when."""
    stack = attach(name)
    state = stack.state
    began = time.time()
    try:
        results = run_checks(stack, deadline_s=deadline_s)
    finally:
        stack.close_sessions()
    stack.state = state.with_changes(last_check=began)
    stack.state.save()
    return stack, results


__all__ = [
    "Pacing",
    "Readiness",
    "UpReport",
    "attach",
    "bring_up",
    "check_once",
    "failure_logs",
    "wait_recovered",
]
