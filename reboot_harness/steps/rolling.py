"""rolling: reboot hosts one at a time, waiting for recovery after each."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, ClassVar

from reboot_harness.model.topology import Topology
from reboot_harness.steps.kind import Param, StepKind


@dataclass(frozen=True)
class Rolling(StepKind):
    """Reboot each host of ``hosts`` alone, in order, waiting for recovery in between."""

    hosts: Annotated[tuple[str, ...], Param("hosts")]
    mode: Annotated[str, Param("mode")] = "graceful"
    down_for: Annotated[float, Param("duration")] = 0.0
    recover_within: Annotated[float, Param("duration")] = 90.0

    KEY: ClassVar[str] = "rolling"
    EXECUTOR: ClassVar[str] = "reboot_harness.steps.orchestration:rolling"

    def touches(self, topo: Topology) -> tuple[str, ...]:
        return tuple(self.hosts)

    def planned_s(self) -> float:
        grace = 10.0 if self.mode == "graceful" else 0.0
        return len(self.hosts) * (self.down_for + grace + self.recover_within)
