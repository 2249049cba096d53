"""Waiting until a stack has recovered: every check run again and again, each at its own pace,
until every check's latest run holds."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import Any, cast

from reboot_harness.checks.available import kinds
from reboot_harness.checks.run import resolve, run_checks
from reboot_harness.errors import CheckTimeout
from reboot_harness.model.checks import COMMON_CAUSES
from reboot_harness.model.results import CheckResult
from reboot_harness.stack.protocol import StackLike

Progress = Callable[[str], None]

# How old the engine's view of which hosts run may be when a check starts (see _SharedStatuses).
STATUSES_FRESH = 0.1
# How long a failure must stay settled (and every check have run again meanwhile) before a wait
# that may end on it does: a host still booting fails in ways that change from run to run.
SETTLE_S = 5.0

Settled = Callable[[Sequence[CheckResult]], bool]


@dataclass
class Readiness:
    """How long each host took, from `compose up` (or the wait's start) to its checks all
    holding, and when the last check came to hold.

    ``rounds`` counts check runs (each check is run on its own, not in rounds of all of them);
    ``results`` are every check's latest results, in check order; ``recovered_at`` is when the
    last check came to hold (epoch seconds; None until then) — what a recovery time is measured
    to, not the moment the wait returned (it lets runs still under way finish first).
    """

    started: float
    ready_at: dict[str, float] = field(default_factory=dict)
    rounds: int = 0
    results: list[CheckResult] = field(default_factory=list)
    recovered_at: float | None = None
    settled_at: float | None = None  # when a wait that may end on a settled failure did

    def seconds(self) -> dict[str, float]:
        return {h: t - self.started for h, t in sorted(self.ready_at.items())}


@dataclass
class Pacing:
    """When a check runs again, so that a recovery is noticed soon after it happens without
    polling hard while nothing moves.

    A failing run that saw a change is followed at once: recovery is under way and the next
    change tends to come soon. While nothing changes the pause doubles from ``first`` up to
    ``longest``, which bounds how long after a run could have seen a recovery the next run
    starts. A check that holds is run again every ``holding`` seconds, only to notice it
    failing again (its latest run must still hold when the last check comes to hold). A run
    is cheap (the checks read hosts through probes that stay running there, not one
    `docker exec` each), and where the host's probe can tell when a starting program serves, it
    waits for that inside the host, so pacing is not what delays noticing it.
    """

    first: float = 0.005
    longest: float = 0.04
    holding: float = 1.0
    _pause: float = field(default=0.0, init=False)

    def after(self, changed: bool) -> float:
        """Seconds to wait before the next run, given whether the last one saw a change."""
        self._pause = 0.0 if changed else min(self.longest, max(self.first, 2 * self._pause))
        return self._pause


class _SharedStatuses:
    """The stack as the checks' threads see it: ``statuses()`` asked of the engine at most
    every ``fresh`` seconds and shared by them, everything else passed through. (One list of
    the project's containers costs the engine about 6 ms of CPU; eight checks each asking it
    before each of their runs would keep a core of a 2-core machine busy while it boots the
    stack whose recovery is being timed.)"""

    def __init__(self, inner: StackLike, fresh: float) -> None:
        self._inner = inner
        self._fresh = fresh
        self._lock = threading.Lock()
        self._value: dict[str, str] = {}
        self._at: float | None = None

    def statuses(self) -> dict[str, str]:
        with self._lock:
            now = time.monotonic()
            if self._at is None or now - self._at >= self._fresh:
                self._value = self._inner.statuses()
                self._at = now
            return dict(self._value)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


def _signature(results: Sequence[CheckResult]) -> tuple[tuple[str, str, bool, str], ...]:
    return tuple((r.check, r.host, r.ok, r.observed) for r in results)


@dataclass
class _Latest:
    """Every check's latest results, shared by the checks' threads and the waiting one."""

    names: list[str]
    cond: threading.Condition = field(default_factory=threading.Condition)
    results: dict[str, list[CheckResult]] = field(default_factory=dict)
    at: dict[str, float] = field(default_factory=dict)  # when each check's latest run ended
    runs: int = 0
    error: BaseException | None = None

    def ordered(self) -> list[CheckResult]:
        return [r for name in self.names for r in self.results.get(name, [])]


def _watch(
    name: str,
    latest: _Latest,
    stop: threading.Event,
    run: Callable[[str], list[CheckResult]],
    pacing: Pacing,
) -> None:
    """Run check ``name`` until ``stop``: at once after a change, backing off while it fails
    unchanged, every ``pacing.holding`` seconds while it holds.

    A check is never busy more than half the time while it fails unchanged, nor a third while it
    holds: on a loaded machine its runs take longer, and a check run back to back would take
    the cores the stack needs to boot (and make the recovery it times slower). On a quiet one
    its runs take milliseconds and the pacing alone decides."""
    pace = replace(pacing)  # its own back-off state
    previous: tuple[tuple[str, str, bool, str], ...] = ()
    try:
        while not stop.is_set():
            began = time.monotonic()
            results = run(name)
            took = time.monotonic() - began
            with latest.cond:
                latest.results[name] = results
                latest.at[name] = time.monotonic()
                latest.runs += 1
                latest.cond.notify_all()
            signature = _signature(results)
            changed = signature != previous
            previous = signature
            pause = pace.after(changed)
            if all(r.ok for r in results):
                pause = max(pause, pacing.holding, 2 * took)
            elif not changed:
                pause = max(pause, took)
            stop.wait(pause)
    except BaseException as e:  # raised in the waiting thread, as if it had run the check
        with latest.cond:
            latest.error = latest.error or e
            latest.cond.notify_all()


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
    settled: Settled | None = None,
    settle_s: float = SETTLE_S,
) -> Readiness:
    """Run every check (``checks``; all the topology has when empty), each in a thread of its
    own and paced by ``pacing`` (a fresh :class:`Pacing` by default), until every check's latest
    run holds — or, given ``settled``, until the latest results have satisfied it for
    ``settle_s`` seconds with every check run again meanwhile (a failure that cannot heal by
    itself: waiting out ``timeout`` would only observe it longer).

    Each check runs at its own pace instead of in rounds of all of them, so a check that comes
    to hold is noticed when its own run ends, not when the slowest check of its round does (a
    round lasted as long as its slowest check: seconds for one waiting out a timeout on a host
    still booting, which is what the recovery time then measured).

    Raises:
        CheckTimeout: ``timeout`` ran out, or the failure settled (``settled_at`` says when);
            carries every check's latest results.
        UsageError: an unknown check name.
    """
    readiness = Readiness(started=started if started is not None else time.time())
    end = time.monotonic() + timeout
    names = resolve(list(checks) or None, stack.topology)
    pacing = pacing or Pacing()
    since_ = readiness.started if since is None else since
    latest = _Latest(names)
    stop = threading.Event()

    shared = cast(StackLike, _SharedStatuses(stack, STATUSES_FRESH))

    def run(name: str) -> list[CheckResult]:
        return run_checks(shared, [name], deadline_s=check_deadline, since=since_)

    threads = [
        threading.Thread(target=_watch, args=(n, latest, stop, run, pacing), daemon=True,
                         name=f"rh-check-{n}")
        for n in names
    ]  # fmt: skip
    settled_since: float | None = None
    try:
        for t in threads:
            t.start()
        with latest.cond:
            while True:
                if latest.error is not None:
                    raise latest.error
                if len(latest.results) == len(names):
                    results = latest.ordered()
                    _note_ready(readiness, results, progress)
                    if all(r.ok for r in results):
                        readiness.results = results
                        readiness.recovered_at = time.time()
                        break
                    if settled is not None and settled(results):
                        now = time.monotonic()
                        settled_since = now if settled_since is None else settled_since
                        if now - settled_since >= settle_s and all(
                            latest.at[n] > settled_since for n in names
                        ):
                            readiness.settled_at = time.time()
                            break
                    else:
                        settled_since = None
                left = end - time.monotonic()
                if left <= 0:
                    break
                latest.cond.wait(left if settled_since is None else min(left, settle_s))
    finally:
        stop.set()
        for t in threads:  # runs under way finish (none is left reading the stack)
            t.join()
        stack.close_sessions()
    readiness.rounds = latest.runs
    if readiness.recovered_at is None:
        if latest.error is not None:
            raise latest.error
        blind = [n for n in names if _could_not_see(stack, latest.results.get(n, []))]
        if blind:  # (the waiting is over: these runs only decide what is reported)
            latest.results.update(_last_look(shared, blind, 2 * check_deadline, since_))
        results = latest.ordered()
        readiness.results = results
        failing = [r for r in results if not r.ok]
        how = (
            f"settled failing after {readiness.settled_at - readiness.started:.0f}s"
            if readiness.settled_at is not None
            else f"not recovered after {timeout:g}s"
        )
        raise CheckTimeout(
            f"stack {stack.name} {how}; still failing: " + "; ".join(r.line() for r in failing[:6]),
            results,
            settled=readiness.settled_at is not None,
        )
    return readiness


def _could_not_see(stack: StackLike, results: Sequence[CheckResult]) -> bool:
    """Whether a check's latest run failed only because it could not see (a read that timed
    out, a host that did not answer) on a host that is running: no observation, so not what a
    wait that ran out should report as the stack's state if one more look can see."""
    return any(
        not r.ok and r.causes and set(r.causes) <= _blind_causes(stack, r.check) for r in results
    )


def _blind_causes(stack: StackLike, check: str) -> frozenset[str]:
    """The causes of ``check`` that say it saw nothing of a running host (``host-down`` is the
    engine's own answer: another look would say it again)."""
    kind = kinds(stack.topology).get(check)
    own = kind.unobserved if kind is not None else frozenset()
    return (own | frozenset(COMMON_CAUSES)) - {"host-down"}


def _last_look(
    stack: StackLike, names: Sequence[str], deadline_s: float, since: float
) -> dict[str, list[CheckResult]]:
    """One more run of each of ``names``, at once and with a longer deadline: a wait that ran out
    reports what its checks saw, and a check whose last run saw nothing (a probe that timed out
    on a loaded machine) gets one more look before its silence is reported."""
    with ThreadPoolExecutor(max_workers=len(names)) as pool:
        runs = {
            n: pool.submit(run_checks, stack, [n], deadline_s=deadline_s, since=since)
            for n in names
        }
    return {n: f.result() for n, f in runs.items()}


def _note_ready(readiness: Readiness, results: Sequence[CheckResult], progress: Progress) -> None:
    """Mark each host whose latest results all hold ready (the first time they do)."""
    hosts = {r.host for r in results}
    failing_hosts = {r.host for r in results if not r.ok}
    for host in sorted(hosts - failing_hosts - set(readiness.ready_at)):
        readiness.ready_at[host] = time.time()
        progress(f"{host} ready after {readiness.ready_at[host] - readiness.started:.1f}s")
