"""sentinel_failover: ask Sentinel to fail the redis master over (``sentinel_failover: {}``)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, ClassVar

from reboot_harness.model.events import Event, EventKind
from reboot_harness.model.topology import Topology
from reboot_harness.steps.kind import Arg, Mark, OneShot, Param, StepKind, took


def _words(e: Event) -> str:
    return f"Fail the Redis master over with Sentinel: {e.detail.replace(' -> ', ' → ')}{took(e)}"


@dataclass(frozen=True)
class SentinelFailover(StepKind):
    """Ask Sentinel to fail the redis master over, and wait until a new master is in place."""

    timeout: Annotated[float, Param("duration")] = 30.0

    KEY: ClassVar[str] = "sentinel_failover"
    EXECUTOR: ClassVar[str] = "reboot_harness.steps.operations:sentinel_failover"
    NULL_IS_EMPTY: ClassVar[bool] = True
    ONESHOT: ClassVar[OneShot | None] = OneShot(
        "failover",
        "fail redis over with Sentinel, or MySQL to its other server",
        (
            Arg("to", refused="Sentinel elects the new redis master itself"),
            Arg("timeout", "how long it may take", metavar="DURATION", chaos=False),
        ),
        action="failover",
        doc="Fail ``service`` over: ``redis`` (Sentinel elects) or ``mysql`` (to ``to``, default"
        " the other server).",
        pick=("service", "redis"),
    )
    MARKS: ClassVar[tuple[Mark, ...]] = (
        Mark(EventKind.SENTINEL_FAILOVER, "D", "failover", _words),
    )

    @classmethod
    def refuse_form(cls, given: Mapping[str, object], topology: Topology) -> str | None:
        if topology.sentinel_hosts:
            return None
        return (
            "needs Redis Sentinel, and no host of this topology runs it (no redis-sentinel among"
            " its daemons)"
        )

    def touches(self, topo: Topology) -> tuple[str, ...]:
        return tuple(dict.fromkeys((*topo.redis_hosts, *topo.sentinel_hosts)))

    def planned_s(self) -> float:
        return self.timeout
