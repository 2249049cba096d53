"""An incident as a frozen value: its compose override and what its failure must show
(reboot_harness.scenarios.incidents reads its declaration from the override)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from reboot_harness.model.steps import Step
from reboot_harness.model.topology import Topology


@dataclass(frozen=True)
class Signature:
    """One failure an incident shows.

    Attributes:
        kind: ``check``, ``budget`` or ``step``.
        name: the check's name, the budget's service, or the step kind.
        cause: the check's cause code, the budget's measurement, or the step error's cause.
        host: the host a check must fail on ('' for any); the host a budget violation must be
            attributed to (required); unused for steps.
    """

    kind: str
    name: str
    cause: str
    host: str = ""

    def describe(self) -> str:
        where = f" [{self.host}]" if self.host else ""
        if self.kind == "check":
            return f"{self.name}{where} {self.cause}"
        if self.kind == "budget":
            return f"{self.name} budget {self.cause}{where}"
        return f"step {self.name} {self.cause}"


@dataclass(frozen=True)
class Incident:
    """An incident's compose override and what its failure must show."""

    name: str
    path: Path
    summary: str
    reproduced_by: tuple[Signature, ...]
    allows: tuple[Signature, ...] = ()
    drops: tuple[str, ...] = ()  # step kinds the incident's plan leaves out
    # its cause does not heal by itself: once its checks show it and nothing else fails, the
    # final recovery wait may end (reboot_harness.judging.judge.settled)
    lasts: bool = False

    def plan(self, steps: tuple[Step, ...]) -> tuple[Step, ...]:
        """The incident's plan: ``steps`` without the kinds it drops."""
        return tuple(s for s in steps if s.KEY not in self.drops)

    def touched(self, steps: tuple[Step, ...], topology: Topology) -> frozenset[str]:
        """The hosts its plan of ``steps`` faults or operates on (reboot_harness.judging.judge: a
        signature on another host is out of the plan's reach)."""
        return frozenset(h for step in self.plan(steps) for h in step.touches(topology))

    @property
    def checks(self) -> tuple[str, ...]:
        """The recovery checks its declaration names (they must run in its scenarios)."""
        return tuple(dict.fromkeys(s.name for s in self.reproduced_by if s.kind == "check"))

    def describe(self) -> str:
        return " and ".join(s.describe() for s in self.reproduced_by)
