"""What every recovery check shares: its context, its registry, and how it reports."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from harness.model import CheckResult, Topology
from harness.stack import Stack


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

    stack: Stack
    deadline_s: float = 5.0
    since: float = 0.0
    rotation: tuple[str, ...] = ()
    statuses: dict[str, str] = field(default_factory=dict)

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


CheckFn = Callable[[CheckContext], list[CheckResult]]

# name -> implementation, in the order results are shown.
REGISTRY: dict[str, CheckFn] = {}


def register(name: str) -> Callable[[CheckFn], CheckFn]:
    def deco(fn: CheckFn) -> CheckFn:
        REGISTRY[name] = fn
        return fn

    return deco


def failure(check: str, host: str, expected: str, observed: str, detail: str = "") -> CheckResult:
    return CheckResult(check, host, False, expected, observed, detail)


def short_error(e: BaseException) -> str:
    text = str(e).strip().splitlines()
    return f"{type(e).__name__}: {text[0][:160]}" if text else type(e).__name__
