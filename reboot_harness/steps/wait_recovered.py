"""wait_recovered: wait until the recovery checks hold again (a step fails when they do not)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, ClassVar

from reboot_harness.steps.kind import Arg, OneShot, Param, StepKind


@dataclass(frozen=True)
class WaitRecovered(StepKind):
    """Run ``checks`` (all when empty) until they all hold or ``within`` seconds pass."""

    within: Annotated[float, Param("duration")]
    checks: Annotated[tuple[str, ...], Param("checks")] = ()

    KEY: ClassVar[str] = "wait_recovered"
    EXECUTOR: ClassVar[str] = "reboot_harness.steps.orchestration:wait"
    ONESHOT: ClassVar[OneShot | None] = OneShot(
        "wait",
        "wait until the checks hold (exit 1 with what failed if they do not)",
        (
            Arg("checks", "only these (default: all)", metavar="CHECK", many=True),
            Arg("within", "default 60s", metavar="DURATION", default="60s"),
        ),
        action="wait_recovered",
        doc="Wait until the checks (all by default) hold; fails the activity with what was"
        " observed when they do not within ``within``.",
        action_order=("within", "checks"),
    )

    def planned_s(self) -> float:
        return self.within
