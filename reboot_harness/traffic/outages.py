"""When a host was off, as the engine saw it (the clients' downtime windows are defined once, in
reboot_harness.judging.traffic). Pure."""

from __future__ import annotations

from collections.abc import Iterable


def engine_outages(
    events: Iterable[tuple[float, str]], down_on: tuple[str, ...] = ("disconnect", "kill", "die")
) -> list[tuple[float, float | None]]:
    """(went down, came back) for each power cycle of one host, from its engine events in
    time order; came back None when it had not started again.

    Down is the first of ``down_on``: for a hard power-off (power loss) the host's network
    ``disconnect``, which comes before the ``kill`` (SIGKILL) by tens of ms, by hundreds on a
    loaded engine; for a crash the ``kill``; ``die`` is the engine noticing the exit, which lags
    again. (A graceful stop's disconnect follows its ``die``.) Pass ``down_on=("die",)`` for a
    host whose service keeps serving between its stop signal and its exit (a draining app).
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
