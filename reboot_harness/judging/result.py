"""The outcome of one scenario variant, typed to the edge: what the run loop
(reboot_harness.run.loop) produces, what reboot_harness.report.serialize writes as JSON
(``run --json``, results.json) and reads back (``compare``, ``history``), and what every report is
made from."""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import ClassVar

from reboot_harness.judging.judge import Outcome
from reboot_harness.judging.measures import Summary
from reboot_harness.judging.traffic import analyze
from reboot_harness.model.events import Event
from reboot_harness.model.results import BudgetViolation, CheckResult, StepError
from reboot_harness.model.scenario import Clients
from reboot_harness.model.traffic import History, Op


@dataclass
class ScenarioResult:
    """The outcome of one scenario variant, typed to the edge:
    ``reboot_harness.report.serialize.to_json`` makes its JSON (``run --json``, results.json), and
    the reports read it as it is.

    ``summary`` holds the verdicts on the clients' traffic (reboot_harness.judging.traffic); None
    when the run had no traffic, or ended before its traffic was judged.
    """

    name: str
    variant: str
    passed: bool
    reason: str
    duration_s: float
    project: str
    incident: str = ""  # the incident whose configuration the variant ran on
    engine: str = ""  # the Docker engine its stack lived on, when one was chosen (else "")
    repeat: int = 0  # which run of the variant this is, with `run --repeat N` (1..N); else 0
    checks: list[CheckResult] = field(default_factory=list)
    preflight: list[CheckResult] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)
    step_errors: list[StepError] = field(default_factory=list)
    history: History | None = None
    summary: Summary | None = None
    budget_violations: list[BudgetViolation] = field(default_factory=list)
    traffic_problems: list[str] = field(default_factory=list)
    reproduced: Outcome | None = None  # for an incident variant: what was and was not seen
    clients: Clients | None = None  # how the traffic's clients behaved (None: no traffic)

    # The JSON (reboot_harness.report.serialize) keeps the keys of the first JSON form:
    # `step_errors` and `budget_violations` are lines (the typed ones are `step_failures` and
    # `budget_breaches`), `history` the ops with `present` beside them, `verdicts` the summary.
    JSON_EXCLUDE: ClassVar[tuple[str, ...]] = ("history", "reproduced")
    JSON_EXTRA: ClassVar[tuple[str, ...]] = (
        "step_lines", "ops", "present", "budget_lines", "reproduction",
    )  # fmt: skip
    JSON_RENAME: ClassVar[Mapping[str, str]] = MappingProxyType(
        {
            "step_errors": "step_failures",
            "step_lines": "step_errors",
            "ops": "history",
            "summary": "verdicts",
            "budget_violations": "budget_breaches",
            "budget_lines": "budget_violations",
        }
    )

    @property
    def test_id(self) -> str:
        return f"{self.name}[{self.variant}]"

    @property
    def title(self) -> str:
        """``name [variant]``, and `` #k`` for the k-th run of a repeated variant (reports)."""
        return f"{self.name} [{self.variant}]" + (f" #{self.repeat}" if self.repeat else "")

    @property
    def traffic(self) -> bool:
        """Whether its clients recorded any operation."""
        return bool(self.ops)

    @property
    def timeline(self) -> list[Event]:
        """Its events in time order."""
        return sorted(self.events, key=lambda e: e.t)

    @property
    def t0(self) -> float:
        """The origin of its timeline: its first event or op."""
        times = [e.t - e.duration_s for e in self.events] + [op.start for op in self.ops]
        return min(times, default=0.0)

    @property
    def measured(self) -> Summary:
        """The verdicts the reports show: ``summary``, or, for a run without one (no traffic,
        or ended before its traffic was judged), those measured from its history and events
        without budgets."""
        return self.summary or analyze(self.history or History(()), self.timeline)

    @property
    def step_lines(self) -> list[str]:
        """Each failed step in one line (:meth:`StepError.line`)."""
        return [e.line() for e in self.step_errors]

    def verdict_lines(self) -> list[str]:
        """Why it failed, as a failure report shows it: the reason, each failed step, the
        failing checks (12 at most), the budgets exceeded (6 at most), what made the traffic's
        history partial (6 at most: a client killed at stop, writes not read back and why) and
        the last 15 events."""
        lines = [f"{self.test_id}: {self.reason}"]
        lines += [f"  step error: {e.line()}" for e in self.step_errors]
        lines += [f"  {r.line()}" for r in self.checks if not r.ok][:12]
        lines += [f"  budget: {v.line()}" for v in self.budget_violations][:6]
        lines += [f"  traffic: {p}" for p in self.traffic_problems][:6]
        lines += ["  events:"] + [
            f"    {time.strftime('%H:%M:%S', time.gmtime(e.t))} {e.kind} {e.host} {e.detail}"
            for e in self.events[-15:]
        ]
        return lines

    @property
    def ops(self) -> tuple[Op, ...]:
        """Every client operation recorded (none without traffic)."""
        return self.history.ops if self.history else ()

    @property
    def present(self) -> Mapping[str, frozenset[str]]:
        """Service -> the keys of acknowledged writes read back after the run."""
        return self.history.present if self.history else {}

    @property
    def budget_lines(self) -> list[str]:
        """The message of each budget exceeded."""
        return [v.message for v in self.budget_violations]

    @property
    def reproduction(self) -> Mapping[str, tuple[str, ...]] | None:
        """For an incident variant: the signatures ``matched``, ``missing`` (in the plan's
        reach, not seen) and ``out_of_plan``, and the undeclared failures (``extras``)."""
        o = self.reproduced
        if o is None:
            return None
        return {"matched": o.matched, "missing": o.missing, "extras": o.extras,
                "out_of_plan": o.out_of_plan}  # fmt: skip
