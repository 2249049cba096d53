"""What every recovery check shares: its context, its registry, and how it reports."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field

from harness.checks.hostview import HostView, read_view
from harness.model import CHECK_KINDS, COMMON_CAUSES, CheckResult, Topology
from harness.stack import StackLike


@dataclass
class CheckContext:
    """Everything a check may look at.

    Attributes:
        stack: the running stack (the only way to reach a host).
        deadline_s: how long a check may wait for something to settle (a metric to land,
            a replica to catch up) before it reports what it saw.
        since: epoch seconds of the previous check run; log-based checks judge only lines newer
            than this.
        rotation: the load balancers that should be in the DNS answer.
        statuses: docker state of every host at the start of this run.
    """

    stack: StackLike
    deadline_s: float = 5.0
    since: float = 0.0
    rotation: tuple[str, ...] = ()
    statuses: dict[str, str] = field(default_factory=dict)
    _views: dict[str, Future[HostView]] = field(default_factory=dict, repr=False)
    _views_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def topology(self) -> Topology:
        return self.stack.topology

    def down(self, host: str) -> str | None:
        """A reason the host cannot be checked (not running), or None."""
        status = self.statuses.get(host)
        if status is None:
            return "host does not exist"
        if status != "running":
            return f"host down ({status})"
        return None

    def deadline(self) -> float:
        return time.monotonic() + self.deadline_s

    def views(self, hosts: Iterable[str]) -> dict[str, HostView]:
        """One reading of each host's processes (see :mod:`harness.checks.hostview`), taken
        once per run however many checks ask, the hosts read concurrently."""
        hosts = list(hosts)
        todo: list[tuple[str, Future[HostView]]] = []
        with self._views_lock:
            for host in hosts:
                if host not in self._views:
                    self._views[host] = Future()
                    todo.append((host, self._views[host]))
        if todo:
            with ThreadPoolExecutor(max_workers=len(todo)) as pool:
                for host, fut in todo:
                    pool.submit(_fill, fut, self.stack, host)
        return {host: self._views[host].result() for host in hosts}


def _fill(fut: Future[HostView], stack: StackLike, host: str) -> None:
    try:
        fut.set_result(read_view(stack, host))
    except Exception as e:  # a view that cannot be read is an observation, not a crash
        fut.set_result(HostView(host, error=f"cannot read the host: {short_error(e)}"))


CheckFn = Callable[[CheckContext], list[CheckResult]]
SubjectsFn = Callable[[Topology], tuple[str, ...]]


@dataclass(frozen=True)
class Registered:
    """A check's implementation, and the subjects a topology asks it to cover (each must be
    named by one of its results, or the run reports `not-exercised`)."""

    fn: CheckFn
    subjects: SubjectsFn


# name -> implementation, in the order results are shown.
REGISTRY: dict[str, Registered] = {}


def register(name: str, subjects: SubjectsFn) -> Callable[[CheckFn], CheckFn]:
    def deco(fn: CheckFn) -> CheckFn:
        if name not in CHECK_KINDS:  # pragma: no cover - a programming error
            raise RuntimeError(f"check {name!r} is not in harness.model.CHECKS")
        REGISTRY[name] = Registered(fn, subjects)
        return fn

    return deco


@dataclass(frozen=True)
class Problem:
    """One thing wrong, with its stable cause code (harness.model.CHECKS)."""

    cause: str
    text: str


def failure(
    check: str,
    host: str,
    expected: str,
    observed: str,
    detail: str = "",
    *,
    cause: str,
    subjects: tuple[str, ...] = (),
) -> CheckResult:
    _known_cause(check, cause)
    return CheckResult(check, host, False, expected, observed, detail, (cause,), subjects)


def judged(
    check: str,
    host: str,
    expected: str,
    problems: list[Problem],
    ok_text: str,
    *,
    subjects: tuple[str, ...],
    detail: str = "",
) -> CheckResult:
    """A result from the problems found (none: it held, and ``subjects`` were exercised)."""
    for p in problems:
        _known_cause(check, p.cause)
    observed = "; ".join(p.text for p in problems) if problems else ok_text
    causes = tuple(dict.fromkeys(p.cause for p in problems))
    return CheckResult(check, host, not problems, expected, observed, detail, causes, subjects)


def _known_cause(check: str, cause: str) -> None:
    if cause in COMMON_CAUSES:  # every check's, your own checks' included
        return
    if check not in CHECK_KINDS or cause not in CHECK_KINDS[check].causes:
        raise RuntimeError(f"check {check!r} reported unknown cause {cause!r}")  # a bug


def host_down(check: str, host: str, expected: str, reason: str, detail: str = "",
              subjects: tuple[str, ...] = ()) -> CheckResult:  # fmt: skip
    return failure(check, host, expected, reason, detail, cause="host-down", subjects=subjects)


def short_error(e: BaseException) -> str:
    text = str(e).strip().splitlines()
    return f"{type(e).__name__}: {text[0][:160]}" if text else type(e).__name__
