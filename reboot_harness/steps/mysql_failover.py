"""mysql_failover: promote the MySQL replica and repoint the old primary at it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, ClassVar

from reboot_harness.model.events import Event, EventKind
from reboot_harness.model.topology import Topology
from reboot_harness.steps.kind import Arg, Mark, OneShot, Param, StepKind, took


def _promoted(e: Event) -> str:
    return f"Promote {e.host} to MySQL primary ({e.detail})"


def _repointed(e: Event) -> str:
    return f"Repoint {e.host} as {e.detail}{' — switchover' + took(e) if took(e) else ''}"


@dataclass(frozen=True)
class MysqlFailover(StepKind):
    """Promote ``to`` (default: the current replica) and repoint the old primary at it with the
    configured replication credentials."""

    to: Annotated[str, Param("mysql_host")] = ""
    timeout: Annotated[float, Param("duration")] = 30.0

    KEY: ClassVar[str] = "mysql_failover"
    EXECUTOR: ClassVar[str] = "reboot_harness.steps.operations:mysql_failover"
    NULL_IS_EMPTY: ClassVar[bool] = True
    # the `failover` command and action of sentinel_failover (its help), picked by `mysql`
    ONESHOT: ClassVar[OneShot | None] = OneShot(
        "failover",
        "",
        (
            Arg("to", "mysql only: the server to promote", metavar="HOST"),
            Arg("timeout", "how long it may take", metavar="DURATION", chaos=False),
        ),
        action="failover",
        pick=("service", "mysql"),
    )
    MARKS: ClassVar[tuple[Mark, ...]] = (
        Mark(EventKind.MYSQL_PROMOTE, "D", "failover", _promoted),
        Mark(EventKind.MYSQL_REPOINT, "d", "failover", _repointed),
    )

    def touches(self, topo: Topology) -> tuple[str, ...]:
        return tuple(topo.mysql_hosts)

    def planned_s(self) -> float:
        return self.timeout
