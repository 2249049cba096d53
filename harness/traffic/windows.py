"""Downtime windows as the clients saw them: a small helper (the verdicts build on the same
definition). Pure."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from harness.model import Op


@dataclass(frozen=True)
class Window:
    """An outage of one service: from the start of the first failed operation to the start of
    the first successful one after it; ``end`` None when it had not ended by the last op."""

    start: float
    end: float | None
    failures: int

    @property
    def duration(self) -> float | None:
        return None if self.end is None else self.end - self.start


def available_at(op: Op) -> float:
    """When an operation shows the service's state: its start, except a successful socket.io
    ``reconnect``, whose start is when the connection was lost (its duration is the reconnect
    latency) — service came back at its end."""
    return op.end if op.ok and op.op == "reconnect" else op.start


def downtime_windows(ops: Iterable[Op], service: str) -> list[Window]:
    """Every outage of ``service`` in ``ops``, in time order."""
    events = sorted((available_at(o), not o.ok) for o in ops if o.service == service)
    windows: list[Window] = []
    start: float | None = None
    failures = 0
    for t, failed in events:
        if failed:
            if start is None:
                start, failures = t, 0
            failures += 1
        elif start is not None:
            windows.append(Window(start, t, failures))
            start = None
    if start is not None:
        windows.append(Window(start, None, failures))
    return windows


def engine_outages(
    events: Iterable[tuple[float, str]], down_on: tuple[str, ...] = ("kill", "die")
) -> list[tuple[float, float | None]]:
    """(went down, came back) for each power cycle of one host, from its engine events in
    time order; came back None when it had not started again.

    Down is the first of ``down_on``: for a hard power-off the ``kill`` event is the moment
    of SIGKILL (power loss), while ``die`` is the engine noticing the exit, which lags by
    tens of ms and by hundreds on a loaded engine. Pass ``down_on=("die",)`` for a host whose
    service keeps serving between its stop signal and its exit (a draining app).
    """
    outages: list[tuple[float, float | None]] = []
    down: float | None = None
    for t, action in sorted(events):
        if action in down_on and down is None:
            down = t
        elif action == "start" and down is not None:
            outages.append((down, t))
            down = None
    if down is not None:
        outages.append((down, None))
    return outages
