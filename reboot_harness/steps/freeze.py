"""freeze: a host's VM paused by its hypervisor for a while (a live migration's last moment, a
pause for maintenance), written ``freeze: {host: app1, for: 10s}``.

Every process of the host stops at once and nothing of it runs — no shutdown, no signal it
could see. Its sockets stay open: peers' connections are accepted by the kernel and then never
answered, so clients time out rather than being refused. When it resumes, its processes go on
where they were, and their clock has jumped by the pause (a container's clock is the
machine's): timers fire late, leases and heartbeats look expired all at once. The heal
unpauses a host left paused (reboot_harness.steps.base.RunContext.heal).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, ClassVar

from reboot_harness.model.events import EventKind
from reboot_harness.model.topology import Topology
from reboot_harness.steps.kind import Arg, Mark, OneShot, Param, StepKind

if TYPE_CHECKING:
    from reboot_harness.steps.base import RunContext

MAX_FREEZE_S = 600.0  # a pause longer than this is an outage: reboot or stop the host instead
_LEGEND = "freeze / thaw (▶)"


@dataclass(frozen=True)
class Freeze(StepKind):
    """Pause every process of ``host`` for ``for_`` seconds (the YAML key ``for``), then let
    them run again."""

    host: Annotated[str, Param("host")]
    for_: Annotated[float, Param("duration", key="for", max_s=MAX_FREEZE_S, zero=False)]

    KEY: ClassVar[str] = "freeze"
    EXECUTOR: ClassVar[str] = "reboot_harness.steps.freeze:freeze"
    ONESHOT: ClassVar[OneShot | None] = OneShot(
        "freeze",
        "pause every process of a host for a while, as a hypervisor does (sockets stay open,"
        " its clock jumps on resume)",
        (
            Arg("host", option=False, metavar="HOST"),
            Arg("for", "how long, e.g. 10s (at most 10m)", metavar="DURATION"),
        ),
        action="freeze",
        doc="Pause every process of ``host`` for ``for_`` (e.g. ``10s``), then resume them.",
    )
    MARKS: ClassVar[tuple[Mark, ...]] = (
        Mark(EventKind.PAUSE, "s", _LEGEND),
        Mark(EventKind.UNPAUSE, ">", _LEGEND),
    )

    def touches(self, topo: Topology) -> tuple[str, ...]:
        return (self.host,)

    def planned_s(self) -> float:
        return self.for_


def freeze(ctx: RunContext, step: Freeze) -> None:
    """Pause, stay paused ``for_`` seconds, unpause. Interrupted while paused, the run's heal
    unpauses the host."""
    began = time.time()
    ctx.stack.pause(step.host)
    paused = time.time()
    ctx.event(EventKind.PAUSE, step.host, f"for {step.for_:g}s", paused - began)
    time.sleep(step.for_)
    began = time.time()
    ctx.stack.unpause(step.host)
    ctx.event(EventKind.UNPAUSE, step.host, f"after {began - paused:.1f}s", time.time() - began)
