"""kill: send one program on a host a signal of choice, leaving the host up (STOP freezes it
until a CONT or the heal)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, ClassVar

from reboot_harness.errors import FaultError
from reboot_harness.model.events import Event, EventKind
from reboot_harness.model.topology import Topology
from reboot_harness.steps.kind import Arg, Mark, OneShot, Param, StepKind

if TYPE_CHECKING:
    from reboot_harness.steps.base import RunContext


def _words(e: Event) -> str:
    signal, _, program = e.detail.partition(" ")
    return f"Send {signal} to {program or '?'} on {e.host}"


@dataclass(frozen=True)
class Kill(StepKind):
    """Send ``signal`` to ``program`` (a supervisord program or a process name) on ``host``."""

    host: Annotated[str, Param("host")]
    program: Annotated[str, Param("program")]
    signal: Annotated[str, Param("signal")] = "TERM"

    KEY: ClassVar[str] = "kill"
    EXECUTOR: ClassVar[str] = "reboot_harness.steps.kill:kill"
    ONESHOT: ClassVar[OneShot | None] = OneShot(
        "kill",
        "send a signal to a program on a host (STOP freezes, CONT thaws)",
        (
            Arg("host", option=False, metavar="HOST"),
            Arg("program", "a supervisord program or process name", False, "PROGRAM"),
            Arg("signal", "TERM, KILL (default), INT, HUP, STOP, CONT…", default="KILL"),
        ),
        action="kill",
        doc="Send ``signal`` to ``program`` on ``host`` (STOP freezes it, CONT thaws it).",
    )
    MARKS: ClassVar[tuple[Mark, ...]] = (Mark(EventKind.KILL, "X", "kill", words=_words),)

    def touches(self, topo: Topology) -> tuple[str, ...]:
        return (self.host,)


def kill(ctx: RunContext, step: Kill) -> None:
    """A supervisord program is signalled through its pid; anything else by process name."""
    stack = ctx.stack
    topo = stack.topology
    target = step.program
    if step.host in topo.supervisor_hosts:
        pid = stack.exec(
            step.host, ["supervisorctl", "-c", topo.supervisor_conf, "pid", step.program]
        )
        if pid.stdout.strip().isdigit() and pid.stdout.strip() != "0":
            res = stack.exec(
                step.host, ["sh", "-c", f'kill -{step.signal} "$1"', "sh", pid.stdout.strip()]
            )
            if not res.ok:
                raise FaultError(
                    f"host {step.host}: kill -{step.signal} {step.program} failed ({res.brief()})",
                    "signal-failed",
                )
            comm = stack.exec(step.host, ["cat", f"/proc/{pid.stdout.strip()}/comm"]).stdout.strip()
            target = comm or step.program
            _record(ctx, step, target)
            return
    n = stack.signal_program(step.host, step.program, step.signal)
    if n == 0:
        raise FaultError(
            f"host {step.host}: no process named {step.program!r} to signal; for a supervisord"
            " program use its program name, otherwise the process name (as in /proc/PID/comm)",
            "signal-failed",
        )
    _record(ctx, step, target)


def _record(ctx: RunContext, step: Kill, target: str) -> None:
    if step.signal == "STOP":
        ctx.frozen.add((step.host, target))
    elif step.signal == "CONT":
        ctx.frozen.discard((step.host, target))
    ctx.event(EventKind.KILL, step.host, f"SIG{step.signal} {step.program}")
