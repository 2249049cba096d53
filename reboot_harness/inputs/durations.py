"""Durations, one grammar wherever a duration is read (scenario files, the command line, pytest
options): a number of seconds (``90``) or parts with units, largest first (``90s``, ``1m30s``,
``2h``, ``500ms``), within the bounds of the field; one wording for every refusal."""

from __future__ import annotations

import argparse
import math
import re
from collections.abc import Callable
from typing import NoReturn

from reboot_harness.errors import ScenarioError
from reboot_harness.inputs.messages import _kind, _one_line, _show

UNITS = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001}  # largest first: the order parts take
GRAMMAR = "written 90, 90s, 1m30s, 2h or 500ms"  # the tail of every refusal, after the bounds
_NUMBER = r"(?:\d+(?:\.\d*)?|\.\d+)"
_SECONDS_RE = re.compile(rf"\s*[+-]?{_NUMBER}\s*")
_SIGN_RE = re.compile(r"\s*([+-]?)")
_PART_RE = re.compile(rf"({_NUMBER})\s*([A-Za-z]*)\s*")

DAY = 86400.0
# Bounds per duration key of the scenario files, in seconds: (maximum, zero allowed). The
# minimum is always 0.
DURATION_BOUNDS: dict[str, tuple[float, bool]] = {
    "down_for": (30 * 60.0, True),
    "grace": (5 * 60.0, True),
    "within": (3600.0, False),
    "recover_within": (3600.0, False),
    "timeout": (3600.0, False),
    "sleep": (3600.0, True),
    "seconds": (3600.0, True),
    "wait": (3600.0, True),
    "dns_min_ttl": (3600.0, True),
    "dns_stale": (3600.0, True),
    "max_downtime": (3600.0, True),
    "max_reconnect": (3600.0, True),
}


def format_seconds(seconds: float) -> str:
    """``1800`` -> ``30m``, ``0.5`` -> ``500ms``: a bound the way a scenario would write it."""
    if not math.isfinite(seconds) or abs(seconds) >= 1e9:
        return f"{seconds:g}s"
    if seconds == 0:
        return "0s"
    for unit, size in (("h", 3600.0), ("m", 60.0)):
        if seconds % size == 0:
            return f"{seconds / size:g}{unit}"
    if abs(seconds) >= 1 or seconds == int(seconds):
        return f"{seconds:g}s"
    return f"{seconds * 1000:g}ms"


# -- durations ---------------------------------------------------------------------------------


def parse_duration(
    value: object, *, where: str, minimum: float, maximum: float, allow_zero: bool
) -> float:
    """Seconds from a number or a string (``90``, ``90s``, ``1m30s``, ``2h``, ``500ms``).

    Args:
        value: what the YAML held.
        where: the start of any error message: the source and the key path
            (``scenarios/x.yaml: steps[0].reboot.down_for``).
        minimum: the smallest value allowed, in seconds.
        maximum: the largest value allowed, in seconds.
        allow_zero: whether exactly 0 is allowed (``False``: the value must be above 0).

    Raises:
        ScenarioError: one line naming ``where``, what is wrong, the allowed range and the
            grammar.
    """
    try:
        return _seconds(value, minimum, maximum, allow_zero)
    except ValueError as e:
        raise ScenarioError(_one_line(f"{where}: {e}")) from None


def duration_option(
    maximum: float, *, minimum: float = 0.0, allow_zero: bool = False
) -> Callable[[str], float]:
    """An argparse ``type=`` reading a duration within these bounds; argparse puts the option's
    name before the message (``argument --timeout: ...``)."""

    def duration(text: str) -> float:
        try:
            return _seconds(text, minimum, maximum, allow_zero)
        except ValueError as e:
            raise argparse.ArgumentTypeError(str(e)) from None

    return duration


# The command line's durations (and the pytest option of the same meaning): how long to wait
# for a stack or a check (up --timeout, check --deadline), and how long a whole run or a
# scenario's plan may take (run --max-duration, --max-planned; pytest --rh-max-duration).
wait_option = duration_option(DAY)
run_limit_option = duration_option(7 * DAY, minimum=1.0)


def _seconds(value: object, minimum: float, maximum: float, allow_zero: bool) -> float:
    """parse_duration without ``where``: raises ValueError(what is wrong; the valid range and
    the grammar)."""
    low = format_seconds(minimum)
    if allow_zero or minimum > 0:
        valid = f"valid: {low} to {format_seconds(maximum)}, {GRAMMAR}"
    else:
        valid = f"valid: more than {low} up to {format_seconds(maximum)}, {GRAMMAR}"

    def fail(problem: str) -> NoReturn:
        raise ValueError(f"{problem}; {valid}")

    seconds: float
    if isinstance(value, str):
        seconds = _text_seconds(value, fail)
    elif isinstance(value, bool) or not isinstance(value, int | float):
        fail(f"expected a duration, got {_kind(value)}")
    elif isinstance(value, int):
        # float() of a huge int overflows; anything this large is out of bounds anyway
        seconds = (
            float(value) if value.bit_length() <= 64 else (math.inf if value > 0 else -math.inf)
        )
    else:
        seconds = value
    shown = _show(value)
    if math.isnan(seconds):
        fail(f"duration is not a number ({shown})")
    if seconds < minimum:
        if minimum == 0:
            fail(f"negative duration {shown}")
        fail(f"duration {shown} is below the minimum {low}")
    if seconds == 0 and not allow_zero:
        fail(f"duration must be more than 0s, got {shown}")
    if seconds > maximum:
        fail(f"duration {shown} is above the maximum {format_seconds(maximum)}")
    return seconds + 0.0  # -0.0 -> 0.0


def _text_seconds(text: str, fail: Callable[[str], NoReturn]) -> float:
    """Seconds from ``90``, ``-5s`` or parts largest unit first (``1h30m``, ``1m0.5s``)."""
    if _SECONDS_RE.fullmatch(text):
        return float(text)
    sign = _SIGN_RE.match(text)
    assert sign is not None  # (every part of its pattern is optional)
    pos, total, previous = sign.end(), 0.0, math.inf
    while pos < len(text) or previous == math.inf:
        part = _PART_RE.match(text, pos)
        if part is None or not part.group(2):  # no number here, or a number without a unit
            fail(f"bad duration {_show(text)}")
        number, unit = part.groups()
        if unit not in UNITS:
            fail(f"unknown unit {_show(unit)} in {_show(text)}")
        if UNITS[unit] >= previous:
            fail(f"bad duration {_show(text)} (each unit once, the largest first)")
        total += float(number) * UNITS[unit]
        pos, previous = part.end(), UNITS[unit]
    return -total if sign.group(1) == "-" else total
