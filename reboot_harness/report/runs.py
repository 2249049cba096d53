"""The scenario results the reports are made from, as the reports need them: typed, never
read back from JSON.

A :class:`Run` is made from a ``reboot_harness.run.loop.ScenarioResult``; a result without a
verdict summary (no traffic, or a run that ended early) gets one computed here from its history
and events (without budgets), so the reports never branch on missing verdicts.
"""

from __future__ import annotations

from dataclasses import dataclass

from reboot_harness.judging.measures import Summary
from reboot_harness.judging.result import ScenarioResult
from reboot_harness.judging.traffic import analyze
from reboot_harness.model.events import Event
from reboot_harness.model.results import BudgetViolation, CheckResult, StepError
from reboot_harness.model.scenario import Clients
from reboot_harness.model.traffic import History, Op


@dataclass(frozen=True)
class Run:
    """One scenario variant, as the reports need it."""

    name: str
    variant: str
    passed: bool
    reason: str
    duration_s: float
    checks: tuple[CheckResult, ...]
    events: tuple[Event, ...]  # in time order
    ops: tuple[Op, ...]
    summary: Summary
    violations: tuple[BudgetViolation, ...] = ()
    step_errors: tuple[StepError, ...] = ()
    clients: Clients | None = None  # how the traffic's clients behaved (None: no traffic)
    repeat: int = 0  # which run of the variant (`run --repeat N`: 1..N; else 0)

    @classmethod
    def from_result(cls, result: ScenarioResult) -> Run:
        """The run of one result; its summary computed when the result has none."""
        events = tuple(sorted(result.events, key=lambda e: e.t))
        history = result.history or History(())
        return cls(
            name=result.name,
            variant=result.variant,
            passed=result.passed,
            reason=result.reason,
            duration_s=result.duration_s,
            checks=tuple(result.checks),
            events=events,
            ops=history.ops,
            summary=result.summary or analyze(history, events),
            violations=tuple(result.budget_violations),
            step_errors=tuple(result.step_errors),
            clients=result.clients,
            repeat=result.repeat,
        )

    @property
    def title(self) -> str:
        return f"{self.name} [{self.variant}]" + (f" #{self.repeat}" if self.repeat else "")

    @property
    def traffic(self) -> bool:
        return bool(self.ops)

    @property
    def t0(self) -> float:
        """The origin of the run's timeline: its first event or op."""
        times = [e.t - e.duration_s for e in self.events] + [op.start for op in self.ops]
        return min(times, default=0.0)
