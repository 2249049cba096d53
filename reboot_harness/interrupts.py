"""Ctrl-C and SIGTERM: both become KeyboardInterrupt so every `finally` heals and removes what
was started; cleanup itself runs shielded so a second signal cannot leave a stack behind."""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType


class Terminated(KeyboardInterrupt):
    """SIGTERM arrived (treated like Ctrl-C: heal, clean up, exit non-zero)."""


class TimeUp(KeyboardInterrupt):
    """A time limit (``run --max-duration``) ran out: unwound like Ctrl-C (faults healed,
    stacks removed), reported as a failure."""


def _on_alarm(_signum: int, _frame: FrameType | None) -> None:
    raise TimeUp("the time limit ran out")


@contextmanager
def time_limit(seconds: float | None) -> Iterator[None]:
    """Raise :class:`TimeUp` in the main thread once ``seconds`` have passed (None: never)."""
    if seconds is None or threading.current_thread() is not threading.main_thread():
        yield
        return
    old = signal.signal(signal.SIGALRM, _on_alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


def _on_term(signum: int, _frame: FrameType | None) -> None:
    raise Terminated(f"signal {signal.Signals(signum).name}")


def install() -> None:
    """Make SIGTERM behave like Ctrl-C, and make SIGINT interrupt even when it was inherited as
    ignored (a shell starts background jobs with SIGINT ignored, and Python then never turns it
    into KeyboardInterrupt: a CI job cancelled with SIGINT would run on). Main thread only."""
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _on_term)
        signal.signal(signal.SIGINT, signal.default_int_handler)


@contextmanager
def shielded() -> Iterator[None]:
    """Defer SIGINT/SIGTERM (and a time limit's SIGALRM) until the block is done; re-raise the
    first one afterwards."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    pending: list[int] = []

    def defer(signum: int, _frame: FrameType | None) -> None:
        pending.append(signum)

    old = {s: signal.signal(s, defer) for s in (signal.SIGINT, signal.SIGTERM, signal.SIGALRM)}
    try:
        yield
    finally:
        for s, handler in old.items():
            signal.signal(s, handler)
        first = pending[0] if pending else None
        if first == signal.SIGTERM:
            raise Terminated("signal SIGTERM")
        if first == signal.SIGINT:
            raise KeyboardInterrupt
        if first == signal.SIGALRM and old[signal.SIGALRM] is _on_alarm:
            raise TimeUp("the time limit ran out")
