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
        """True if this process still runs (same pid *and* start time) on this machine.

        A stack owned by another machine's process is treated as alive: we cannot tell.
        """
        if self.hostname != socket.gethostname():
            return True
        return _start_ticks(self.pid) == self.start
