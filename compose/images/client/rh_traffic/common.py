"""What every client shares: the output lines, the stop event and fixed-rate schedules."""

import contextlib
import json
import sys
import threading
import time

STOP = threading.Event()
_OUT = threading.Lock()


def emit(obj):
    line = json.dumps(obj, separators=(",", ":"))
    with _OUT:
        sys.stdout.write(line + "\n")
        sys.stdout.flush()


def info(msg, problem=False, **extra):
    """A diagnostic line; ``problem``: it makes the history less than complete."""
    emit({"info": msg, "t": round(time.time(), 4), "problem": problem, **extra})


def record(service, client, op, start, end, ok, target="", error="", key=""):
    emit(
        {
            "service": service,
            "client": client,
            "op": op,
            "start": round(start, 4),
            "end": round(end, 4),
            "ok": bool(ok),
            "target": target,
            "error": "" if ok else (error or "error"),
            "key": key,
        }
    )


def sleep_until(deadline):
    """Sleep until time.monotonic() reaches ``deadline``; False when stopping."""
    delay = deadline - time.monotonic()
    if delay > 0:
        return not STOP.wait(delay)
    return not STOP.is_set()


class Schedule:
    """Fixed-rate ticks with a seeded phase; no burst of catch-up ticks after a stall."""

    def __init__(self, rate, rng):
        self.interval = 1.0 / rate
        self.next = time.monotonic() + rng.random() * self.interval

    def wait(self):
        if not sleep_until(self.next):
            return False
        now = time.monotonic()
        self.next = max(self.next + self.interval, now)
        return True


def quietly(fn):
    with contextlib.suppress(Exception):
        fn()
