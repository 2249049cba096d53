"""The timeline chart of one run, as an inline SVG for a self-contained page (drawn with
reboot_harness.report.svg).

One lane per service, one thin row per client inside it: green while its ops succeed, red while
they fail, amber while a socket.io client reconnects; the service's downtime windows shaded
behind. Below, one lane per disrupted host: grey while it is powered off, markers for kills,
DNS rotations and failovers. Vertical lines mark every fault (red), operation (blue) and
recovery (green) across the service lanes; the fault span is shaded.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from datetime import UTC, datetime

from reboot_harness.judging.measures import FAULT_KINDS, OPERATION_KINDS, RECONNECT_OP, RECOVERED
from reboot_harness.judging.result import ScenarioResult
from reboot_harness.judging.traffic import host_faults
from reboot_harness.model.events import Category, Event, EventKind
from reboot_harness.model.traffic import SERVICES, Op
from reboot_harness.report.svg import Canvas, Key, Scale, text_width
from reboot_harness.steps import MARKS, Mark

OK = "#2e9e5b"
FAILED = "#d64541"
RECONNECTING = "#f0a030"
WINDOW = "#f6c9c6"
SPAN = "#fdf6e3"
OFF = "#6b6f76"
FAULT = "#b03a2e"
OPERATION = "#2f5fb3"
RECOVERY = "#2e8b57"
LANE = "#f4f6f8"
GRID = "#dde1e5"

WIDTH = 1300.0  # pixels; the page scales the chart to its width
SERVICE_LANE = 60.0  # height of a service lane, in pixels
HOST_LANE = 33.0
_COLORS = {Category.FAULT: FAULT, Category.OPERATION: OPERATION}
_LINES = {  # the vertical lines across the service lanes: colour, dashes, opacity
    Category.FAULT: (FAULT, "5 3", 0.55),
    Category.OPERATION: (OPERATION, "1.5 2.5", 0.8),
}


def _marker_legend(kinds: set[EventKind]) -> list[Key]:
    """One legend entry per label of the step kinds' marks (reboot_harness.steps.MARKS) whose
    events the run has, by label; the first mark of a label gives its marker."""
    by_label: dict[str, Mark] = {}
    for mark in MARKS.values():
        if mark.kind in kinds:
            by_label.setdefault(mark.legend, mark)
    return [
        Key(label, "marker", _COLORS[m.kind.category], marker=m.marker)
        for label, m in sorted(by_label.items())
    ]


def _runs(ops: Sequence[Op], gap: float) -> list[tuple[float, float, str]]:
    """Consecutive ops of one client in the same state as (start, end, state) bars; state is
    ok, failed or reconnecting. Merging keeps the SVG small and shows a working client as one
    bar: gaps up to ``gap`` or 2.5 times the client's usual interval between ops are joined,
    so a client that went quiet shows a hole."""
    ordered = sorted(ops, key=lambda o: o.start)
    intervals = sorted(b.start - a.start for a, b in itertools.pairwise(ordered))
    if intervals:
        gap = max(gap, 2.5 * intervals[len(intervals) // 2])
    bars: list[tuple[float, float, str]] = []
    for op in ordered:
        state = "failed" if not op.ok else "reconnecting" if op.op == RECONNECT_OP else "ok"
        end = max(op.end, op.start)
        if bars and bars[-1][2] == state and op.start - bars[-1][1] <= gap:
            bars[-1] = (bars[-1][0], max(bars[-1][1], end), state)
        else:
            bars.append((op.start, end, state))
    return bars


def _off_periods(events: Sequence[Event], host: str, end: float) -> list[tuple[float, float]]:
    periods = []
    off: float | None = None
    for e in events:
        if e.host != host:
            continue
        if e.kind is EventKind.POWER_OFF and off is None:
            off = e.t - e.duration_s
        elif e.kind is EventKind.POWER_ON and off is not None:
            periods.append((off, e.t))
            off = None
    if off is not None:  # never powered on by a step: the heal (or the end) brought it back
        heal = next((e.t for e in events if e.kind is EventKind.HEAL and e.t >= off), end)
        periods.append((off, heal))
    return periods


def timeline_svg(run: ScenarioResult, uid: str) -> str:
    """The run's timeline as an inline ``<svg>`` element with id ``uid``."""
    t0 = run.t0
    by_service: dict[str, list[Op]] = {}
    for op in run.ops:
        by_service.setdefault(op.service, []).append(op)
    services = [s for s in SERVICES if s in by_service]
    services += sorted(s for s in by_service if s not in SERVICES)
    hosts = list(host_faults(run.timeline))
    last = max([e.t for e in run.timeline] + [op.end for op in run.ops] + [t0 + 1.0])
    length = max(last - t0, 1.0)

    lanes: list[tuple[str, float, float]] = []  # (label, top, height) in pixels, top to bottom
    y = 8.0
    for s in services:
        n = len({op.client for op in by_service[s]})
        lanes.append((f"{s}  ({n} client{'s' if n != 1 else ''})", y, SERVICE_LANE))
        y += SERVICE_LANE
    split = y
    for h in hosts:
        lanes.append((h, y, HOST_LANE))
        y += HOST_LANE
    bottom = y if lanes else y + 80.0
    left = max([text_width(label, 13.0) for label, _, _ in lanes] + [40.0]) + 14.0
    chart = Canvas(WIDTH, 0.0)
    x = Scale(-0.01 * length, length * 1.01, left, WIDTH - 16.0)
    gap = length / 1500  # below a pixel at the page's width

    def width(a: float, b: float) -> float:  # of the span a..b (seconds since t0), >= gap
        return x(a + max(b - a, gap)) - x(a)

    for i, (_, lane_y, lane_h) in enumerate(lanes):
        if i % 2 == 0:
            chart.rect(left, lane_y, WIDTH - 16.0 - left, lane_h, LANE)
    span = run.measured.fault_span
    if span is not None:
        chart.rect(x(span.start - t0), 8.0, width(span.start - t0, span.end - t0), bottom - 8, SPAN)
    ticks = x.ticks(8)
    for t in ticks:
        chart.line(x(t), 8.0, x(t), bottom, GRID, width=0.6)

    verdicts = {v.service: v for v in run.measured.services}
    for (_, lane_y, lane_h), s in zip(lanes, services, strict=False):
        windows = verdicts[s].windows if s in verdicts else ()
        for w in windows:
            a = w.start - t0
            chart.rect(x(a), lane_y + 0.04 * lane_h, width(a, a + w.duration_s), 0.92 * lane_h,
                       WINDOW)  # fmt: skip
    top = split if services else bottom
    for e in run.timeline:
        at = e.t - e.duration_s - t0
        if e.kind.category in _LINES:
            color, dash, opacity = _LINES[e.kind.category]
        elif e.kind is EventKind.RECOVERED:
            at, (color, dash, opacity) = e.t - t0, (RECOVERY, "", 0.6)
        else:
            continue
        if services:
            chart.line(x(at), 8.0, x(at), top, color, width=0.9, dash=dash, opacity=opacity)
    if services and hosts:
        chart.line(left, split, WIDTH - 16.0, split, "#9aa3ad")

    for (_, lane_y, lane_h), s in zip(lanes, services, strict=False):
        clients = sorted({op.client for op in by_service[s]})
        row_h = min(0.8 / len(clients), 0.3) * lane_h  # one thin row per client, centred
        rows_top = lane_y + (lane_h - row_h * len(clients)) / 2
        for j, client in enumerate(clients):
            row_y = rows_top + j * row_h + 0.15 * row_h
            colors = {"ok": OK, "failed": FAILED, "reconnecting": RECONNECTING}
            for a, b, state in _runs([op for op in by_service[s] if op.client == client], gap):
                c = colors[state]
                chart.rect(x(a - t0), row_y, width(a - t0, b - t0), 0.7 * row_h, c, edge=c)
        windows = verdicts[s].windows if s in verdicts else ()
        for w in windows:
            if w.duration_s >= length * 0.02:
                chart.text(x(w.start - t0 + w.duration_s / 2), lane_y + 0.02 * lane_h + 6,
                           f"{w.duration_s:.1f}s down", size=10.5, color="#8b1e15",
                           anchor="middle")  # fmt: skip

    for (_, lane_y, lane_h), h in zip(lanes[len(services) :], hosts, strict=True):
        for a, b in _off_periods(run.timeline, h, last):
            chart.rect(x(a - t0), lane_y + 7.0, width(a - t0, b - t0), lane_h - 14.0, OFF)
            if b - a >= length * 0.03:
                chart.text(x((a + b) / 2 - t0), lane_y + lane_h / 2, f"down {b - a:.1f}s",
                           size=10, color="white", anchor="middle")  # fmt: skip
        for e in run.timeline:
            mark = MARKS.get(e.kind)
            if e.host != h or mark is None:
                continue
            shape = mark.marker_of(e) if mark.marker_of else mark.marker
            chart.marker(x(e.t - e.duration_s - t0), lane_y + lane_h / 2, shape,
                         _COLORS[e.kind.category], 11.0)  # fmt: skip

    for label, lane_y, lane_h in lanes:
        host = label in hosts
        chart.text(left - 8, lane_y + lane_h / 2, label, size=11.5 if host else 13.0,
                   color="#4a4f57" if host else "#1f2328", anchor="end", bold=not host)  # fmt: skip
    if not lanes:
        chart.text((left + WIDTH) / 2, (8 + bottom) / 2, "no traffic and no faults recorded",
                   color="#666", anchor="middle")  # fmt: skip
    chart.line(left, bottom, WIDTH - 16.0, bottom, "#1f2328", width=0.8)
    for t in ticks:
        chart.line(x(t), bottom, x(t), bottom + 4, "#1f2328", width=0.8)
        chart.text(x(t), bottom + 15, f"{t:g}", size=12, anchor="middle")
    began = datetime.fromtimestamp(t0, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    chart.text((left + WIDTH - 16.0) / 2, bottom + 36, f"seconds since {began}", size=12.5,
               anchor="middle")  # fmt: skip

    kinds = {e.kind for e in run.timeline}
    shown: list[tuple[bool, Key]] = [
        (bool(services), Key("ops ok", "patch", OK)),
        (bool(services), Key("ops failed", "patch", FAILED)),
        (any(op.op == RECONNECT_OP for op in run.ops), Key("reconnecting", "patch", RECONNECTING)),
        (bool(services), Key("downtime window", "patch", WINDOW)),
        (span is not None, Key("fault span", "patch", SPAN, edge="#e0d6b8")),
        (EventKind.POWER_OFF in kinds, Key("host down (power off → on)", "patch", OFF)),
        (bool(services and kinds & set(FAULT_KINDS)), Key("fault", "line", FAULT, dash="5 3")),
        (
            bool(services and kinds & set(OPERATION_KINDS)),
            Key("operation", "line", OPERATION, dash="1.5 2.5"),
        ),
        (bool(services) and RECOVERED in kinds, Key("recovered", "line", RECOVERY)),
        *((True, key) for key in _marker_legend(kinds)),
    ]
    chart.height = (
        chart.legend([key for wanted, key in shown if wanted], bottom + 56, size=11.5) + 4
    )
    return chart.element(uid, "timeline-chart")
