"""wait_recovered: wait until the recovery checks hold again (a step fails when they do not)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, ClassVar

from reboot_harness.steps.kind import Param, StepKind


@dataclass(frozen=True)
class WaitRecovered(StepKind):
    """Run ``checks`` (all when empty) until they all hold or ``within`` seconds pass."""

    within: Annotated[float, Param("duration")]
    checks: Annotated[tuple[str, ...], Param("checks")] = ()

    KEY: ClassVar[str] = "wait_recovered"
    EXECUTOR: ClassVar[str] = "reboot_harness.steps.orchestration:wait"

    def planned_s(self) -> float:
        return self.within
