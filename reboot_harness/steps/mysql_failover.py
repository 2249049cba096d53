"""mysql_failover: promote the MySQL replica and repoint the old primary at it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, ClassVar

from reboot_harness.model.topology import Topology
from reboot_harness.steps.kind import Param, StepKind


@dataclass(frozen=True)
class MysqlFailover(StepKind):
    """Promote ``to`` (default: the current replica) and repoint the old primary at it with the
    configured replication credentials."""

    to: Annotated[str, Param("mysql_host")] = ""
    timeout: Annotated[float, Param("duration")] = 30.0

    KEY: ClassVar[str] = "mysql_failover"
    EXECUTOR: ClassVar[str] = "reboot_harness.steps.operations:mysql_failover"
    NULL_IS_EMPTY: ClassVar[bool] = True

    def touches(self, topo: Topology) -> tuple[str, ...]:
        return tuple(topo.mysql_hosts)

    def planned_s(self) -> float:
        return self.timeout
