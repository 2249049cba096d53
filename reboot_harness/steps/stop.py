"""stop: power a host off and leave it off until a start (or the final heal)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, ClassVar

from reboot_harness.model.topology import Topology
from reboot_harness.steps.kind import Arg, OneShot, Param, StepKind
from reboot_harness.steps.power import graceful_only, power_off

if TYPE_CHECKING:
    from reboot_harness.steps.base import RunContext


@dataclass(frozen=True)
class Stop(StepKind):
    """Power ``host`` off (graceful or hard) and leave it off until a Start (or the final heal)."""

    host: Annotated[str, Param("host")]
    mode: Annotated[str, Param("mode")] = "graceful"
    grace: Annotated[float, Param("duration")] = 10.0

    KEY: ClassVar[str] = "stop"
    EXECUTOR: ClassVar[str] = "reboot_harness.steps.stop:stop"
    ONESHOT: ClassVar[OneShot | None] = OneShot(
        "stop",
        "power one host off and leave it off (`start` boots it)",
        (
            Arg("host", option=False, metavar="HOST"),
            Arg("mode", "graceful (default), hard or crash", default="graceful"),
            Arg("grace", "graceful only: SIGKILL after (10s)", metavar="DURATION"),
        ),
        action="stop",
        doc="Power ``host`` off and leave it off (``start`` or ``heal`` boots it).",
    )

    def touches(self, topo: Topology) -> tuple[str, ...]:
        return (self.host,)

    def planned_s(self) -> float:
        return self.grace if self.mode == "graceful" else 0.0

    @classmethod
    def refuse(cls, key: str, value: object, given: Mapping[str, object]) -> str | None:
        return graceful_only(key, value, given)


def stop(ctx: RunContext, step: Stop) -> None:
    power_off(ctx, step.host, step.mode, step.grace)
