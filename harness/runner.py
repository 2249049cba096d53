"""Bringing a stack up until it is recovered, and judging it once."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from harness.checks import run_checks
from harness.errors import CheckTimeout, HarnessError, UsageError
from harness.interrupts import shielded
from harness.model import CheckResult
from harness.owner import Owner
from harness.stack import Stack, down, start
from harness.state import ProjectState

Progress = Callable[[str], None]


@dataclass
class Readiness:
    """How long each host took, from `compose up` to its checks all holding."""

    started: float
    ready_at: dict[str, float] = field(default_factory=dict)
    rounds: int = 0
    results: list[CheckResult] = field(default_factory=list)

    def seconds(self) -> dict[str, float]:
        return {h: t - self.started for h, t in sorted(self.ready_at.items())}


def wait_recovered(
    stack: Stack,
    *,
    checks: Sequence[str] = (),
    since: float | None = None,
    timeout: float = 180.0,
    started: float | None = None,
    check_deadline: float = 3.0,
    progress: Progress = lambda _: None,
) -> Readiness:
    """Run every check in rounds until one round passes entirely.

    Raises:
        CheckTimeout: ``timeout`` ran out; carries the last round's results.
    """
    readiness = Readiness(started=started if started is not None else time.time())
    end = time.monotonic() + timeout
    names = list(checks) or None
    while True:
        round_start = time.time()
        results = run_checks(
            stack,
            names,
            deadline_s=check_deadline,
            since=readiness.started if since is None else since,
        )
        hosts = {r.host for r in results}
        readiness.rounds += 1
        readiness.results = results
        failing_hosts = {r.host for r in results if not r.ok}
        for host in hosts - failing_hosts - set(readiness.ready_at):
            readiness.ready_at[host] = time.time()
            progress(f"{host} ready after {readiness.ready_at[host] - readiness.started:.1f}s")
        if not failing_hosts:
            return readiness
        if time.monotonic() >= end:
            failing = [r for r in results if not r.ok]
            raise CheckTimeout(
                f"stack {stack.name} not recovered after {timeout:g}s; still failing: "
                + "; ".join(r.line() for r in failing[:6]),
                results,
            )
        # Do not spin: a round that failed fast waits a little before the next one.
        time.sleep(max(0.0, 0.5 - (time.time() - round_start)))


@dataclass
class UpReport:
    stack: Stack
    readiness: Readiness


def bring_up(
    name: str,
    *,
    extra_compose: Sequence[Path] = (),
    keep: bool = True,
    timeout: float = 240.0,
    owner: Owner | None = None,
    topology_file: Path | None = None,
    progress: Progress = lambda _: None,
) -> UpReport:
    """Start stack ``name`` and wait until every check passes; on failure remove it.

    Raises:
        CheckTimeout: with the last results (the stack has been removed).
        HarnessError: anything else (the stack has been removed).
    """
    stack = start(
        name,
        extra_compose=extra_compose,
        keep=keep,
        owner=owner,
        topology_file=topology_file,
        progress=progress,
    )
    started = time.time()
    try:
        readiness = wait_recovered(stack, timeout=timeout, started=started, progress=progress)
    except (HarnessError, KeyboardInterrupt) as e:
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


def failure_logs(stack: Stack, results: object, lines: int = 15) -> str:
    """Recent container logs of every host a failing result names."""
    hosts = sorted(
        {r.host for r in results if isinstance(r, CheckResult) and not r.ok and r.host != "*"}
        if isinstance(results, list)
        else set()
    )
    out = []
    for host in hosts[:6]:
        text = stack.logs(host, tail=lines).rstrip()
        out.append(f"--- recent logs of {host} ---\n{text or '(empty)'}")
    return "\n".join(out)


def check_once(name: str, *, deadline_s: float = 5.0) -> tuple[Stack, list[CheckResult]]:
    """Run every check once against running stack ``name`` and remember when."""
    state = ProjectState.load(name)
    stack = Stack(state)
    if not stack.containers():
        raise UsageError(
            f"no such project {name!r}: its containers are gone; `reboot-harness down --project"
            f" {name}` forgets it, `reboot-harness up --project {name}` starts it again"
        )
    began = time.time()
    results = run_checks(stack, deadline_s=deadline_s)
    stack.state = state.with_changes(last_check=began)
    stack.state.save()
    return stack, results
