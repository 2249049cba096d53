"""What nginx's own words say about its backends: the entries of its error log (disabled, no
live upstreams), the ``fail_timeout`` of its live configuration, and the judgements the nginx
check draws from them (a backend disabled or held out while it served; one not yet back in
rotation). Pure: text in, values out."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from reboot_harness.checks.api import Problem

_LINE = re.compile(r"^(\d{4}/\d\d/\d\d \d\d:\d\d:\d\d) \[(\w+)\] (.*)$")
_UPSTREAM = re.compile(r'upstream: "\w+://([^:/"]+):(\d+)')
_DISABLED = "upstream server temporarily disabled"


@dataclass(frozen=True)
class Disabled:
    """nginx gave up on a backend at ``at`` (epoch seconds)."""

    at: float
    address: str
    port: int
    line: str


def parse_entries(error_log: str) -> list[tuple[float, str, str, str]]:
    """(epoch seconds, level, message, raw line) of every timestamped line. nginx writes its
    local time; the hosts run in UTC."""
    out = []
    for raw in error_log.splitlines():
        m = _LINE.match(raw)
        if m:
            at = datetime.strptime(m.group(1), "%Y/%m/%d %H:%M:%S").replace(tzinfo=UTC)
            out.append((at.timestamp(), m.group(2), m.group(3), raw))
    return out


def _lines(error_log: str, needle: str, since: float) -> list[tuple[float, str, str]]:
    """(epoch seconds, message, raw line) of every line containing ``needle`` newer than
    ``since``."""
    return [
        (at, message, raw)
        for at, _, message, raw in parse_entries(error_log)
        if needle in message and at >= int(since)
    ]


def parse_disabled(error_log: str, since: float) -> list[Disabled]:
    """Every "upstream server temporarily disabled" line newer than ``since``."""
    out = []
    for at, message, raw in _lines(error_log, _DISABLED, since):
        up = _UPSTREAM.search(message)
        if up:
            out.append(Disabled(at, up.group(1), int(up.group(2)), raw[:300]))
    return out


def parse_no_live(error_log: str, since: float) -> list[float]:
    """When nginx answered "no live upstreams" (every backend disabled), newer than ``since``."""
    return [at for at, _, _ in _lines(error_log, "no live upstreams", since)]


_SERVER = re.compile(r"^\s*server\s+([^\s:;]+)(?::\d+)?\b([^;]*);", re.M)
_FAIL_TIMEOUT = re.compile(r"\bfail_timeout=(\d+)(ms|s|m)?\b")
NGINX_DEFAULT_FAIL_TIMEOUT = 10.0
_UNIT = {"ms": 0.001, "s": 1.0, "m": 60.0, None: 1.0}


def parse_fail_timeouts(config: str) -> dict[str, float]:
    """Backend host name -> its ``fail_timeout`` in seconds, from ``nginx -T`` output (server
    lines of upstream blocks; nginx's default is 10 s)."""
    out = {}
    for m in _SERVER.finditer(config):
        t = _FAIL_TIMEOUT.search(m.group(2))
        out[m.group(1)] = int(t.group(1)) * _UNIT[t.group(2)] if t else NGINX_DEFAULT_FAIL_TIMEOUT
    return out


_WHAT = re.compile(r"^\d+#\d+: (?:\*\d+ )?(.*?)(?: while |, client: |$)")


def last_disabled(error_log: str) -> dict[str, tuple[float, str]]:
    """Backend address -> (time, why) of the newest "upstream server temporarily disabled" line
    against it — nginx logs one whenever a failure brings the backend to ``max_fails`` and holds
    it out of rotation for ``fail_timeout`` from that failure — with what failed (the newest
    error against it up to then). An error alone that stays below ``max_fails`` (a stray reset
    or timeout) takes nothing out of rotation."""
    out: dict[str, tuple[float, str]] = {}
    cause: dict[str, str] = {}
    for at, level, message, _ in parse_entries(error_log):
        up = _UPSTREAM.search(message) if level in ("error", "warn") else None
        if not up:
            continue
        if _DISABLED in message:
            out[up.group(1)] = (at, cause.get(up.group(1), "?"))
        else:
            what = _WHAT.match(message)
            cause[up.group(1)] = (what.group(1) if what else message)[:120]
    return out


def not_yet_back(
    disabled: dict[str, tuple[float, str]],
    fail_timeouts: dict[str, float],
    serving: list[str],
    by_address: dict[str, str],
    now: float,
) -> list[Problem]:
    """Serving backends nginx still holds out: its passive health check lets a disabled backend
    back only ``fail_timeout`` after the failure that disabled it (logged in whole seconds, hence
    + 1 s). Until then, a reboot of the other backend leaves this LB with "no live upstreams"."""
    waiting = []
    for address, (at, what) in sorted(disabled.items()):
        app = by_address.get(address)
        if app not in serving:
            continue
        timeout = fail_timeouts.get(app, NGINX_DEFAULT_FAIL_TIMEOUT)
        if now < at + 1 + timeout:
            waiting.append(
                f"{app} (disabled at {_clock(at)} after: {what}; fail_timeout {timeout:g}s)"
            )
    if not waiting:
        return []
    return [Problem("backend-not-back", "not yet back in rotation: " + ", ".join(waiting))]


def _clock(at: float) -> str:
    return f"{datetime.fromtimestamp(at, UTC):%H:%M:%S}"


def wrongly_unavailable(
    disabled: list[Disabled],
    no_live: list[float],
    serving_since: dict[str, float],
    by_address: dict[str, str],
    fail_timeouts: Mapping[str, float] | None = None,
    history: Sequence[Disabled] = (),
) -> list[Problem]:
    """Problems: backends disabled while serving, and requests refused for lack of a live
    backend while one was serving (each second reported once) — unless nginx was holding that
    backend out for failures it met before the backend served (``history``: every disable
    logged; its ``fail_timeouts`` had not run out): that is its passive health check doing what
    it is configured to do after a backend that was really down, not a healthy one held out."""
    problems = []
    marked = []
    for d in disabled:
        app = by_address.get(d.address, d.address)
        since = serving_since.get(app)
        if since is not None and since < d.at - 1:
            marked.append(f"{app} at {_clock(d.at)}")
    if marked:
        problems.append(
            Problem(
                "healthy-backend-marked-down",
                "healthy backend marked unavailable: " + ", ".join(marked),
            )
        )
    held = []
    timeouts = fail_timeouts or {}
    for at in sorted(set(no_live)):
        serving = sorted(
            app
            for app, since in serving_since.items()
            if since < at - 1 and not _held_after_real_failures(app, at, since, history,
                                                                 by_address, timeouts)
        )  # fmt: skip
        if serving:
            held.append(f"{_clock(at)} ({', '.join(serving)} serving)")
    if held:
        shown = held[:3] + ([f"… {len(held) - 3} more second(s)"] if len(held) > 3 else [])
        problems.append(
            Problem(
                "healthy-backend-held-out",
                "healthy backend held unavailable: 'no live upstreams' at " + ", ".join(shown),
            )
        )
    return problems


def _held_after_real_failures(
    app: str,
    at: float,
    since: float,
    history: Sequence[Disabled],
    by_address: dict[str, str],
    fail_timeouts: Mapping[str, float],
) -> bool:
    """nginx disabled ``app`` at most 1 s (log rounding) after it began serving — for failures
    it met while the app was not serving yet — and that disable's ``fail_timeout`` (+1 s) has
    not run out at ``at``."""
    timeout = fail_timeouts.get(app, NGINX_DEFAULT_FAIL_TIMEOUT)
    return any(
        by_address.get(d.address, d.address) == app and d.at <= since + 1
        and d.at <= at < d.at + 1 + timeout
        for d in history
    )  # fmt: skip
