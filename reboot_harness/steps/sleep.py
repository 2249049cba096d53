"""sleep: let time pass (``sleep: 2s``)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, ClassVar

from reboot_harness.steps.kind import Param, StepKind

if TYPE_CHECKING:
    from reboot_harness.steps.base import RunContext


@dataclass(frozen=True)
class Sleep(StepKind):
    """Do nothing for ``seconds``."""

    seconds: Annotated[float, Param("duration")]

    KEY: ClassVar[str] = "sleep"
    EXECUTOR: ClassVar[str] = "reboot_harness.steps.sleep:sleep"
    BARE: ClassVar[str] = "seconds"

    def planned_s(self) -> float:
        return self.seconds


def sleep(_ctx: RunContext, step: Sleep) -> None:
    time.sleep(step.seconds)
