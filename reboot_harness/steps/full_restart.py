"""full_restart: every host of a group down at once, then booted in an order."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, ClassVar

from reboot_harness.model.topology import Topology
from reboot_harness.steps.kind import Param, StepKind


@dataclass(frozen=True)
class FullRestart(StepKind):
    """Every host of ``hosts`` down, then all up at once in ``order`` (seeded when random)."""

    hosts: Annotated[tuple[str, ...], Param("hosts")]
    order: Annotated[str, Param("order")] = "given"
    mode: Annotated[str, Param("mode")] = "graceful"
    down_for: Annotated[float, Param("duration")] = 0.0

    KEY: ClassVar[str] = "full_restart"
    EXECUTOR: ClassVar[str] = "reboot_harness.steps.orchestration:full_restart"

    def touches(self, topo: Topology) -> tuple[str, ...]:
        return tuple(self.hosts)

    def planned_s(self) -> float:
        return self.down_for + (10.0 if self.mode == "graceful" else 0.0)
