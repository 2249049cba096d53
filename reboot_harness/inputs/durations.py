"""Durations in scenario files: a number of seconds or a string with a unit, within bounds."""

from __future__ import annotations

import math
import re
from typing import NoReturn

from reboot_harness.errors import ScenarioError
from reboot_harness.inputs.messages import _kind, _one_line, _show

UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}
_DURATION_RE = re.compile(r"\s*([+-]?(?:\d+(?:\.\d*)?|\.\d+))\s*([A-Za-z]*)\s*")
_DURATION_HINT = "a number of seconds or a string like 500ms, 30s, 2m, 1h"

# Bounds per duration key, in seconds: (maximum, zero allowed). The minimum is always 0.
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
    """Seconds from a number or a string with a unit (``500ms``, ``30s``, ``2m``, ``1h``).

    Args:
        value: what the YAML held.
        where: the start of any error message: the source and the key path
            (``scenarios/x.yaml: steps[0].reboot.down_for``).
        minimum: the smallest value allowed, in seconds.
        maximum: the largest value allowed, in seconds.
        allow_zero: whether exactly 0 is allowed (``False``: the value must be above 0).

    Raises:
        ScenarioError: one line naming ``where``, what is wrong and the allowed range.
    """
    try:
        return _seconds(value, minimum, maximum, allow_zero)
    except ValueError as e:
        raise ScenarioError(_one_line(f"{where}: {e}")) from None


def _seconds(value: object, minimum: float, maximum: float, allow_zero: bool) -> float:
    """parse_duration without ``where``: raises ValueError(what is wrong; the valid range)."""
    low = format_seconds(minimum)
    if allow_zero or minimum > 0:
        valid = f"valid: {low} to {format_seconds(maximum)}"
    else:
        valid = f"valid: more than {low} up to {format_seconds(maximum)}"

    def fail(problem: str) -> NoReturn:
        raise ValueError(problem)

    seconds: float
    if isinstance(value, str):
        match = _DURATION_RE.fullmatch(value)
        if match is None:
            fail(f"bad duration {_show(value)}; valid: {_DURATION_HINT}")
        number, unit = match.groups()
        if not unit:
            fail(f"duration {_show(value)} has no unit; valid units: {', '.join(UNITS)}")
        if unit not in UNITS:
            fail(f"unknown unit {_show(unit)} in {_show(value)}; valid units: {', '.join(UNITS)}")
        seconds = float(number) * UNITS[unit]
    elif isinstance(value, bool) or not isinstance(value, int | float):
        fail(f"expected a duration ({_DURATION_HINT}), got {_kind(value)}")
    elif isinstance(value, int):
        # float() of a huge int overflows; anything this large is out of bounds anyway
        seconds = (
            float(value) if value.bit_length() <= 64 else (math.inf if value > 0 else -math.inf)
        )
    else:
        seconds = value
    shown = _show(value)
    if math.isnan(seconds):
        fail(f"duration is not a number ({shown}); {valid}")
    if seconds < minimum:
        if minimum == 0:
            fail(f"negative duration {shown}; {valid}")
        fail(f"duration {shown} is below the minimum {low}; {valid}")
    if seconds == 0 and not allow_zero:
        fail(f"duration must be more than 0s, got {shown}; {valid}")
    if seconds > maximum:
        fail(f"duration {shown} is above the maximum {format_seconds(maximum)}; {valid}")
    return seconds + 0.0  # -0.0 -> 0.0


def seconds_option(text: str, maximum: float = 86400.0) -> float:
    """A command-line option in seconds (argparse ``type=``): finite, above 0, at most
    ``maximum`` (a day by default)."""
    import argparse

    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected seconds, got {text!r}") from None
    if not math.isfinite(value) or not 0 < value <= maximum:
        raise argparse.ArgumentTypeError(
            f"expected seconds above 0 and at most {maximum:g}, got {text!r}"
        )
    return value
