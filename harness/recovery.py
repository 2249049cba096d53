"""Waiting until a stack has recovered: rounds of checks, paced, until one round holds."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from harness.checks import run_checks
from harness.errors import CheckTimeout
from harness.model import CheckResult
from harness.stack import StackLike

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


@dataclass
class Pacing:
    """When the next round of checks starts, so that a recovery is noticed soon after it
    happens without polling hard while nothing moves.

    A round that saw any result change is followed at once: recovery is under way and the next
    change tends to come soon. While nothing changes the pause doubles from ``first`` up to
    ``longest``, which bounds how long after a round could have seen a recovery the next round
    starts. A round itself is cheap (the checks read hosts through probes that stay running
    there, not one `docker exec` each), and where the host's probe can tell when a starting
    program serves, it waits for that inside the host, so pacing is not what delays noticing it.
    """

    first: float = 0.005
    longest: float = 0.04
    _pause: float = field(default=0.0, init=False)

    def after(self, changed: bool) -> float:
        """Seconds to wait before the next round, given whether the last one saw a change."""
        self._pause = 0.0 if changed else min(self.longest, max(self.first, 2 * self._pause))
        return self._pause


def _signature(results: Sequence[CheckResult]) -> tuple[tuple[str, str, bool, str], ...]:
    return tuple((r.check, r.host, r.ok, r.observed) for r in results)


def wait_recovered(
    stack: StackLike,
    *,
    checks: Sequence[str] = (),
    since: float | None = None,
    timeout: float = 180.0,
    started: float | None = None,
    check_deadline: float = 3.0,
    progress: Progress = lambda _: None,
    pacing: Pacing | None = None,
) -> Readiness:
    """Run every check in rounds until one round passes entirely; rounds are paced by
    ``pacing`` (a fresh :class:`Pacing` by default).

    Raises:
        CheckTimeout: ``timeout`` ran out; carries the last round's results.
    """
    readiness = Readiness(started=started if started is not None else time.time())
    end = time.monotonic() + timeout
    names = list(checks) or None
    pacing = pacing or Pacing()
    previous: tuple[tuple[str, str, bool, str], ...] = ()
    try:
        while True:
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
            left = end - time.monotonic()
            if left <= 0:
                failing = [r for r in results if not r.ok]
                raise CheckTimeout(
                    f"stack {stack.name} not recovered after {timeout:g}s; still failing: "
                    + "; ".join(r.line() for r in failing[:6]),
                    results,
                )
            signature = _signature(results)
            time.sleep(min(left, pacing.after(signature != previous)))
            previous = signature
    finally:
        stack.close_sessions()
