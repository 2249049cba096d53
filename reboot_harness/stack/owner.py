"""Who owns a stack: a process identity that survives pid reuse, for `gc` after a crash.

The identity is the pid and the process's start time, read through psutil, so it holds on
every system the harness runs on (Linux, and macOS with Docker Desktop, which has no /proc: read
from /proc there, every stack would look abandoned and a concurrent `gc` would remove live ones).
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass

import psutil

# A process's start time reads as the kernel's boot time plus the ticks since boot at which it
# started, and the boot time the kernel reports moves when the clock is stepped (NTP, a VM's clock
# resynchronised): the same process, read by two processes a while apart, can start a second or
# more apart. Same pid and a start this close is the same process (a pid reused by a later
# process would need the whole pid space to wrap within these seconds); without it a `gc` taken
# after such a step removed the stack of a run still alive.
START_TOLERANCE = 1000  # hundredths of a second


def _start_ticks(pid: int) -> int | None:
    """When ``pid`` started, in hundredths of a second since the epoch; None if there is no
    such process."""
    try:
        return round(float(psutil.Process(pid).create_time()) * 100)
    except (psutil.NoSuchProcess, psutil.ZombieProcess, psutil.AccessDenied, ValueError):
        return None


@dataclass(frozen=True)
class Owner:
    """``pid:start@hostname`` of the process that started a stack."""

    pid: int
    start: int
    hostname: str

    @classmethod
    def current(cls) -> Owner:
        pid = os.getpid()
        return cls(pid, _start_ticks(pid) or 0, socket.gethostname())

    @classmethod
    def parse(cls, text: str) -> Owner | None:
        """Parse a label value; None for ``manual`` or anything that is not an owner."""
        try:
            proc, hostname = text.split("@", 1)
            pid, start = proc.split(":", 1)
            return cls(int(pid), int(start), hostname)
        except ValueError:
            return None

    def __str__(self) -> str:
        return f"{self.pid}:{self.start}@{self.hostname}"

    def alive(self) -> bool:
        """True if this process still runs (same pid *and* start time, within
        :data:`START_TOLERANCE`) on this machine.

        A stack owned by another machine's process is treated as alive: we cannot tell.
        """
        return not self.why_dead()

    def why_dead(self) -> str:
        """Why this owner is taken for dead (what `gc` says of each stack it removes), or ""
        while it is alive."""
        if self.hostname != socket.gethostname():
            return ""
        start = _start_ticks(self.pid)
        if start is None:
            return f"process {self.pid} is gone"
        if abs(start - self.start) > START_TOLERANCE:
            return (
                f"process {self.pid} started {(start - self.start) / 100:+.2f} s from its owner's"
                " start: another process has that pid"
            )
        return ""
