"""sentinel_failover: ask Sentinel to fail the redis master over (``sentinel_failover: {}``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, ClassVar

from reboot_harness.model.topology import Topology
from reboot_harness.steps.kind import Param, StepKind


@dataclass(frozen=True)
class SentinelFailover(StepKind):
    """Ask Sentinel to fail the redis master over, and wait until a new master is in place."""

    timeout: Annotated[float, Param("duration")] = 30.0

    KEY: ClassVar[str] = "sentinel_failover"
    EXECUTOR: ClassVar[str] = "reboot_harness.steps.operations:sentinel_failover"
    NULL_IS_EMPTY: ClassVar[bool] = True

    def touches(self, topo: Topology) -> tuple[str, ...]:
        return tuple(topo.redis_hosts)

    def planned_s(self) -> float:
        return self.timeout
