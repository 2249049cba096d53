"""dns_rotate: take a load balancer out of the DNS answer, or put it back (the operator's move
before rebooting it); written ``{out: lb1}`` or ``{in: lb1}``."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any, ClassVar, Self

from reboot_harness.inputs.messages import _choices
from reboot_harness.model.events import Event, EventKind
from reboot_harness.model.topology import Topology
from reboot_harness.steps.kind import Arg, Mark, OneShot, Param, StepKind

DNS_READ_BACK_S = 5.0  # how long a DNS rotation may take to be served (steps.operations)


def _words(e: Event) -> str:
    action, _, rotation = e.detail.partition(";")
    where = "out of" if action.strip() == "out" else "back into"
    answer = rotation.strip().removeprefix("in rotation:").strip()
    return f"Rotate {e.host} {where} DNS (answer: {answer or 'none'}); wait for the TTL"


def _marker(e: Event) -> str:
    return "^" if e.detail.startswith("in") else "v"


@dataclass(frozen=True)
class _Form:
    """How a scenario writes a rotation: exactly one of ``in`` or ``out``, and ``wait``."""

    in_: Annotated[str, Param("lb", key="in")] = ""
    out: Annotated[str, Param("lb")] = ""
    wait: Annotated[float, Param("duration")] = 2.0


@dataclass(frozen=True)
class DnsRotate(StepKind):
    """Take an LB out of (``action='out'``) or back into (``'in'``) the DNS answer, then wait
    ``wait`` seconds (default: the TTL plus a margin) so clients have moved."""

    lb: str
    action: str
    wait: float = 2.0

    KEY: ClassVar[str] = "dns_rotate"
    EXECUTOR: ClassVar[str] = "reboot_harness.steps.operations:dns_rotate"
    FORM: ClassVar[type | None] = _Form
    ONESHOT: ClassVar[OneShot | None] = OneShot(
        "dns-rotate",
        "take a load balancer out of the DNS answer, or put it back",
        (
            Arg("action", option=False, choices=("in", "out")),
            Arg("lb", option=False, metavar="LB", keys=("in", "out")),
            Arg("wait", "then wait this long (default: the TTL)", metavar="DURATION"),
        ),
        action="dns_rotate",
        doc="Take load balancer ``lb`` out of the DNS answer (``action: out``) or put it back.",
    )
    MARKS: ClassVar[tuple[Mark, ...]] = (
        Mark(EventKind.DNS_ROTATE, "v", "DNS out / in (▲)", _words, _marker),
    )

    def touches(self, topo: Topology) -> tuple[str, ...]:
        return (self.lb, topo.dns_host)

    def planned_s(self) -> float:
        return self.wait + DNS_READ_BACK_S

    @classmethod
    def refuse_form(cls, given: Mapping[str, object], topology: Topology) -> str | None:
        in_, out = given.get("in_"), given.get("out")
        if (in_ is None) == (out is None):
            got = "neither" if in_ is None else "both"
            return (
                f"takes exactly one of 'in' or 'out', got {got}; valid: {{out: LB}} or {{in: LB}} "
                f"with LB one of {_choices(topology.lbs)}"
            )
        return None

    @classmethod
    def from_args(cls, given: dict[str, object]) -> dict[str, object]:
        rest = dict(given)
        return {str(rest.pop("action")): rest.pop("lb"), **rest}

    @classmethod
    def from_form(cls, given: Mapping[str, Any]) -> Self:
        action, lb = ("out", given["out"]) if "out" in given else ("in", given["in_"])
        wait = {"wait": given["wait"]} if "wait" in given else {}
        return cls(lb=lb, action=action, **wait)
