"""What a run records happening: events, their kinds and what each kind is to the verdicts."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType


class Category(StrEnum):
    """What an event is to the verdicts and reports: a fault done to a host, an operator's move,
    or the harness's own bookkeeping."""

    FAULT = "fault"
    OPERATION = "operation"
    BOOKKEEPING = "bookkeeping"


class EventKind(StrEnum):
    """Every kind of event a run records; its value is what reports and JSON show."""

    POWER_OFF = "power off"
    POWER_ON = "power on"
    PAUSE = "pause"  # every process of the host stopped at once, sockets left open
    UNPAUSE = "unpause"
    KILL = "kill"
    NEW_ADDRESS = "new address"
    FULL_RESTART = "full restart"
    DNS_ROTATE = "dns rotate"
    SENTINEL_FAILOVER = "sentinel failover"
    MYSQL_PROMOTE = "mysql promote"
    MYSQL_REPOINT = "mysql repoint"
    RECOVERED = "recovered"
    CAME_BACK = "came back"  # what a redis/mysql host's return cost replication (comeback.py)
    NOT_RECOVERED = "not recovered"
    STACK_READY = "stack ready"
    PREFLIGHT = "preflight"
    STEP_FAILED = "step failed"
    STEP_SKIPPED = "step skipped"  # left out by an incident's plan
    HEAL = "heal"
    HEAL_FAILED = "heal failed"
    TRAFFIC_STARTED = "traffic started"
    TRAFFIC_STOPPED = "traffic stopped"

    @property
    def category(self) -> Category:
        return _CATEGORIES.get(self, Category.BOOKKEEPING)


_CATEGORIES: Mapping[EventKind, Category] = MappingProxyType(
    {
        **dict.fromkeys(
            (
                EventKind.POWER_OFF,
                EventKind.POWER_ON,
                EventKind.PAUSE,
                EventKind.UNPAUSE,
                EventKind.KILL,
                EventKind.NEW_ADDRESS,
                EventKind.FULL_RESTART,
            ),
            Category.FAULT,
        ),
        **dict.fromkeys(
            (
                EventKind.DNS_ROTATE,
                EventKind.SENTINEL_FAILOVER,
                EventKind.MYSQL_PROMOTE,
                EventKind.MYSQL_REPOINT,
            ),
            Category.OPERATION,
        ),
    }
)


@dataclass(frozen=True)
class Event:
    """Something the harness did or saw during a run, at ``t`` (epoch seconds)."""

    t: float
    kind: EventKind
    host: str = ""
    detail: str = ""
    duration_s: float = 0.0

    def __post_init__(self) -> None:
        # A kind given by its value ("power off", as read back from JSON) becomes the member.
        object.__setattr__(self, "kind", EventKind(self.kind))
