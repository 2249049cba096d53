"""reboot: power a host off (graceful, hard or crash), leave it off, maybe renumber it, boot it."""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, ClassVar

from reboot_harness.model.events import EventKind
from reboot_harness.model.topology import Topology
from reboot_harness.steps.kind import Arg, Mark, OneShot, Param, StepKind
from reboot_harness.steps.power import graceful_only, power_off, power_on

if TYPE_CHECKING:
    from reboot_harness.steps.base import RunContext


@dataclass(frozen=True)
class Reboot(StepKind):
    """Reboot ``host``: graceful (SIGTERM to init, ``grace`` seconds, then SIGKILL), hard (power
    loss: the host leaves the network, then everything in it dies) or crash (SIGKILL at once,
    the kernel alive); off for ``down_for`` seconds; back with a new address if ``new_ip``."""

    host: Annotated[str, Param("host")]
    mode: Annotated[str, Param("mode")] = "graceful"
    grace: Annotated[float, Param("duration")] = 10.0
    down_for: Annotated[float, Param("duration")] = 0.0
    new_ip: Annotated[bool, Param("flag")] = False

    KEY: ClassVar[str] = "reboot"
    EXECUTOR: ClassVar[str] = "reboot_harness.steps.reboot:reboot"
    ONESHOT: ClassVar[OneShot | None] = OneShot(
        "reboot",
        "reboot one host of a running stack (a scenario's `reboot` step)",
        (
            Arg("host", option=False, metavar="HOST"),
            Arg("mode", "graceful (default), hard or crash", default="graceful"),
            Arg("down_for", "time off, e.g. 5s (default 0)", metavar="DURATION", chaos_default=0),
            Arg("new_ip", "come back on a new address", default=False),
            Arg("grace", "graceful only: SIGKILL after (10s)", metavar="DURATION"),
        ),
        action="reboot",
        doc="Reboot ``host``: graceful, hard (power loss) or crash; off for ``down_for``.",
    )
    MARKS: ClassVar[tuple[Mark, ...]] = (Mark(EventKind.NEW_ADDRESS, "o", "new address"),)

    def touches(self, topo: Topology) -> tuple[str, ...]:
        return (self.host,)

    def planned_s(self) -> float:
        return self.down_for + (self.grace if self.mode == "graceful" else 0.0)

    @classmethod
    def refuse(cls, key: str, value: object, given: Mapping[str, object]) -> str | None:
        return graceful_only(key, value, given)


def reboot(ctx: RunContext, step: Reboot) -> None:
    """Power off, stay off ``down_for``, optionally renumber, boot. /run comes back empty, boot
    ulimits apply again, data on disk (volumes and the host's own filesystem) is kept."""
    power_off(ctx, step.host, step.mode, step.grace)
    if step.down_for:
        time.sleep(step.down_for)
    if step.new_ip:
        new = ctx.stack.renumber(step.host)
        ctx.event(EventKind.NEW_ADDRESS, step.host, new)
    power_on(ctx, step.host)


__all__ = ["Reboot", "power_off", "power_on", "reboot"]
