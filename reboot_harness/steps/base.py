"""What every fault and operation shares: the run context, the event log and the heal."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from reboot_harness.model.events import Event, EventKind
from reboot_harness.stack.protocol import StackLike
from reboot_harness.steps import comeback

Progress = Callable[[str], None]


@dataclass
class RunContext:
    """A scenario run in progress: the stack, the seeded randomness, and the history so far.

    Attributes:
        stack: the stack under test.
        rng: the scenario's seeded random source (same seed, same schedule).
        events: everything the harness did, in order, with timestamps.
        frozen: (host, program) pairs sent SIGSTOP, to be thawed by the heal.
        away: replication as it stood when each redis/mysql host now off (or booting) went
            down, until a recovery wait says what coming back cost it.
        booted: when each host of ``away`` was powered on again.
    """

    stack: StackLike
    rng: random.Random
    progress: Progress = lambda _: None
    events: list[Event] = field(default_factory=list)
    frozen: set[tuple[str, str]] = field(default_factory=set)
    away: dict[str, comeback.Before] = field(default_factory=dict)
    booted: dict[str, float] = field(default_factory=dict)

    def event(
        self, kind: EventKind, host: str = "", detail: str = "", duration_s: float = 0.0
    ) -> Event:
        ev = Event(time.time(), kind, host, detail, duration_s)
        self.events.append(ev)
        where = f" {host}" if host else ""
        self.progress(f"{kind}{where}{': ' + detail if detail else ''}")
        return ev

    def going_down(self, host: str) -> None:
        """Note how far replication had got before ``host`` goes down (redis and mysql hosts)."""
        was = comeback.before(self.stack, host)
        if was is not None:
            self.away[host] = was
            self.booted.pop(host, None)

    def came_back(self) -> None:
        """The stack has recovered: one ``came back`` event per host noted going down and
        booted since, saying what its return cost replication."""
        for host in sorted(h for h in self.away if h in self.booted):
            was = self.away.pop(host)
            self.event(
                EventKind.CAME_BACK, host, comeback.after(self.stack, was, self.booted.pop(host))
            )

    def heal(self) -> list[str]:
        """Bring back everything a fault left broken: unpause paused hosts, thaw frozen
        programs, boot hosts that are off. Safe to call at any time, any number of times;
        never raises."""
        healed = []
        unlisted: Exception | None = None
        try:
            statuses = {h: c.attrs["State"]["Status"] for h, c in self.stack.containers().items()}
        except Exception as e:
            statuses, unlisted = {}, e
        # Paused hosts first: nothing inside one (a frozen program) answers until it runs.
        for host in sorted(h for h, status in statuses.items() if status == "paused"):
            try:
                self.stack.unpause(host)
                statuses[host] = "running"
                healed.append(f"{host} (unpaused)")
            except Exception as e:
                self.event(EventKind.HEAL_FAILED, host, f"unpause: {str(e).splitlines()[0]}")
        for host, program in sorted(self.frozen):
            try:
                self.stack.signal_program(host, program, "CONT")
                healed.append(f"{host}:{program}")
            except Exception as e:  # a heal must go on with the next host
                self.event(EventKind.HEAL_FAILED, host, f"thaw {program}: {e}")
        self.frozen.clear()
        if unlisted is not None:
            self.event(EventKind.HEAL_FAILED, "", f"cannot list hosts: {unlisted}")
            return healed
        for host, status in sorted(statuses.items()):
            if status not in ("running", "paused"):  # a host still paused cannot be booted
                try:
                    self.stack.power_on(host)
                    healed.append(host)
                except Exception as e:
                    self.event(EventKind.HEAL_FAILED, host, str(e).splitlines()[0])
        if healed:
            self.event(EventKind.HEAL, "", "started again: " + ", ".join(healed))
        return healed
