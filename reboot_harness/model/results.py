"""What a run observed, typed: a check's result, a step's error, a budget exceeded."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar


@dataclass(frozen=True)
class CheckResult:
    """One observation of one recovery check on one host.

    Attributes:
        check: name of the check (``limits``, ``redis roles`` …).
        host: the host it is about (the compose service name), or ``*`` for the whole set.
        ok: whether the expectation held.
        expected: what a recovered stack shows, in words a user can compare.
        observed: what was seen, as precisely as it can be said.
        detail: anything else worth knowing (which command, last error).
        causes: for a failure, the stable codes of what failed, most telling first (see
            :data:`CHECKS` and :data:`COMMON_CAUSES`); empty when ``ok``.
        subjects: what this result is about, each named as the check names its subjects
            (``app1``, ``lb1->app2``, ``redis2/sentinel``): for a passing result, exactly what
            it exercised; for a failing one, what it tried.
    """

    check: str
    host: str
    ok: bool
    expected: str
    observed: str
    detail: str = ""
    causes: tuple[str, ...] = ()
    subjects: tuple[str, ...] = ()

    JSON_EXTRA: ClassVar[tuple[str, ...]] = ("cause",)  # report.serialize

    @property
    def cause(self) -> str:
        """The most telling cause of a failure ('' when ok)."""
        return self.causes[0] if self.causes else ""

    def line(self) -> str:
        if self.ok:
            return f"{self.check} [{self.host}] ok: {self.observed}"
        return (
            f"{self.check} [{self.host}] {self.cause or 'FAIL'}: {self.observed}"
            f" (expected {self.expected})"
        )

    def brief(self) -> str:
        """``limits [app1] nofile-below-minimum: soft 1024 < 10000`` (no expectation)."""
        said = self.cause or ("ok" if self.ok else "FAIL")
        return f"{self.check} [{self.host}] {said}: {self.observed}"


@dataclass(frozen=True)
class StepError:
    """A step that failed: where, why (a cause of :data:`STEP_ERROR_CAUSES`), and for a wait
    that ran out, the checks that were still failing."""

    index: int
    kind: str
    message: str
    cause: str = "step-failed"
    checks: tuple[CheckResult, ...] = ()

    def line(self) -> str:
        return f"steps[{self.index}].{self.kind} {self.cause}: {self.message}"


@dataclass(frozen=True)
class BudgetViolation:
    """A budget exceeded: which service and measurement, the message, and the hosts whose
    disruption it is attributed to (``-``: no host explains it)."""

    service: str
    measurement: str
    message: str
    hosts: tuple[str, ...] = ()

    def line(self) -> str:
        where = f" [{', '.join(self.hosts)}]" if self.hosts else ""
        return f"{self.service} {self.measurement}{where}: {self.message}"
