"""start: boot a host that is off."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, ClassVar

from reboot_harness.model.topology import Topology
from reboot_harness.steps.kind import Arg, OneShot, Param, StepKind
from reboot_harness.steps.power import power_on

if TYPE_CHECKING:
    from reboot_harness.steps.base import RunContext


@dataclass(frozen=True)
class Start(StepKind):
    """Boot ``host`` (off since a stop)."""

    host: Annotated[str, Param("host")]

    KEY: ClassVar[str] = "start"
    EXECUTOR: ClassVar[str] = "reboot_harness.steps.start:start"
    ONESHOT: ClassVar[OneShot | None] = OneShot(
        "start",
        "boot a host that is off",
        (Arg("host", option=False, metavar="HOST"),),
        action="start",
        doc="Boot ``host``.",
    )

    def touches(self, topo: Topology) -> tuple[str, ...]:
        return (self.host,)


def start(ctx: RunContext, step: Start) -> None:
    power_on(ctx, step.host)
