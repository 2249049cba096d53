"""Who owns a stack: a process identity that survives pid reuse, for `gc` after a crash."""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass


def _start_ticks(pid: int) -> int | None:
    """Start time of ``pid`` in clock ticks since boot, or None if there is no such process."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as f:
            stat = f.read()
    except OSError:
        return None
    # The command name (field 2) may contain spaces and parentheses: split after the last ')'.
    fields = stat.rsplit(")", 1)[1].split()
    return int(fields[19])


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
