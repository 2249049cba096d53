"""The timeline chart of one run (matplotlib, rendered to inline SVG for a self-contained page).

One lane per service, one thin row per client inside it: green while its ops succeed, red while
they fail, amber while a socket.io client reconnects; the service's downtime windows shaded
behind. Below, one lane per disrupted host: grey while it is powered off, markers for kills,
DNS rotations and failovers. Vertical lines mark every fault (red), operation (blue) and
recovery (green) across the service lanes; the fault span is shaded.
"""

from __future__ import annotations

import io
import itertools
import re
from collections.abc import Sequence
from datetime import UTC, datetime

import matplotlib as mpl
from matplotlib.artist import Artist
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from reboot_harness.judging.measures import FAULT_KINDS, OPERATION_KINDS, RECONNECT_OP, RECOVERED
from reboot_harness.judging.result import ScenarioResult
from reboot_harness.judging.traffic import host_faults
from reboot_harness.model.events import Category, Event, EventKind
from reboot_harness.model.traffic import SERVICES, Op
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

SERVICE_LANE = 1.0  # height of a service lane, in lane units
HOST_LANE = 0.55
_COLORS = {Category.FAULT: FAULT, Category.OPERATION: OPERATION}


def _marker_legend(kinds: set[EventKind]) -> list[Line2D]:
    """One legend entry per label of the step kinds' marks (reboot_harness.steps.MARKS) whose
    events the run has, by label; the first mark of a label gives its marker."""
    by_label: dict[str, Mark] = {}
    for mark in MARKS.values():
        if mark.kind in kinds:
            by_label.setdefault(mark.legend, mark)
    return [
        Line2D([], [], marker=m.marker, color=_COLORS[m.kind.category], ls="none", label=label)
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


def svg_for_html(svg: str, uid: str) -> str:
    """Matplotlib's SVG document -> an element to inline in HTML: no XML prolog, no namespace
    URLs (the HTML parser puts <svg> in its namespace), ids unique on the page, scalable."""
    svg = svg[svg.index("<svg") :]
    svg = re.sub(r'\s+xmlns(:xlink)?="[^"]*"', "", svg)
    svg = svg.replace("xlink:href=", "href=")
    svg = re.sub(r'\bid="([^"]+)"', rf'id="{uid}-\1"', svg)
    svg = re.sub(r"url\(#([^)]+)\)", rf"url(#{uid}-\1)", svg)
    svg = re.sub(r'href="#([^"]+)"', rf'href="#{uid}-\1"', svg)
    svg = re.sub(
        r'<svg width="[^"]*" height="[^"]*"',
        f'<svg class="timeline-chart" id="{uid}" role="img" width="100%"',
        svg,
        count=1,
    )
    svg = re.sub(r"<metadata>.*?</metadata>", "", svg, flags=re.S)
    return svg


def timeline_svg(run: ScenarioResult, uid: str) -> str:
    """The run's timeline as an inline ``<svg>`` element whose ids all start with ``uid``."""
    t0 = run.t0
    by_service: dict[str, list[Op]] = {}
    for op in run.ops:
        by_service.setdefault(op.service, []).append(op)
    services = [s for s in SERVICES if s in by_service]
    services += sorted(s for s in by_service if s not in SERVICES)
    hosts = list(host_faults(run.timeline))
    last = max([e.t for e in run.timeline] + [op.end for op in run.ops] + [t0 + 1.0])
    length = max(last - t0, 1.0)

    height = 1.5 + 0.62 * len(services) + 0.36 * len(hosts)
    fig = Figure(figsize=(13.0, max(height, 2.6)), layout="constrained")
    ax = fig.add_subplot()
    ax.set_xlim(-0.01 * length, length * 1.01)

    lanes: list[tuple[str, float, float]] = []  # (label, bottom, height), top to bottom
    y = 0.0
    for s in services:
        y -= SERVICE_LANE
        n = len({op.client for op in by_service[s]})
        lanes.append((f"{s}  ({n} client{'s' if n != 1 else ''})", y, SERVICE_LANE))
    split = y
    for h in hosts:
        y -= HOST_LANE
        lanes.append((h, y, HOST_LANE))
    bottom = y if lanes else -1.0
    ax.set_ylim(bottom - 0.05, 0.05)

    for i, (_, lane_y, lane_h) in enumerate(lanes):
        if i % 2 == 0:
            ax.axhspan(lane_y, lane_y + lane_h, color=LANE, zorder=0, lw=0)

    span = run.measured.fault_span
    if span is not None:
        ax.axvspan(span.start - t0, span.end - t0, color=SPAN, zorder=0.1, lw=0)

    gap = length / 1500  # below a pixel at the page's width
    verdicts = {v.service: v for v in run.measured.services}
    for (_, lane_y, lane_h), s in zip(lanes, services, strict=False):
        windows = verdicts[s].windows if s in verdicts else ()
        ax.broken_barh(
            [(w.start - t0, max(w.duration_s, gap)) for w in windows],
            (lane_y + 0.04, lane_h - 0.08),
            facecolors=WINDOW,
            zorder=0.5,
            lw=0,
        )
        clients = sorted({op.client for op in by_service[s]})
        row_h = min((lane_h - 0.2) / len(clients), 0.3)  # one thin row per client, centred
        rows_bottom = lane_y + (lane_h - row_h * len(clients)) / 2
        for j, client in enumerate(clients):
            ops = [op for op in by_service[s] if op.client == client]
            row_y = rows_bottom + (len(clients) - 1 - j) * row_h + row_h * 0.15
            bars = _runs(ops, gap)
            for state, color in (("ok", OK), ("failed", FAILED), ("reconnecting", RECONNECTING)):
                ranges = [(a - t0, max(b - a, gap)) for a, b, st in bars if st == state]
                if ranges:
                    ax.broken_barh(
                        ranges,
                        (row_y, row_h * 0.7),
                        facecolors=color,
                        edgecolors=color,
                        linewidth=0.6,
                        zorder=2,
                    )
        for w in windows:
            if w.duration_s >= length * 0.02:
                ax.text(
                    w.start - t0 + w.duration_s / 2,
                    lane_y + lane_h - 0.02,
                    f"{w.duration_s:.1f}s down",
                    ha="center",
                    va="top",
                    fontsize=7.5,
                    color="#8b1e15",
                    zorder=3,
                )

    for (_, lane_y, lane_h), h in zip(lanes[len(services) :], hosts, strict=True):
        offs = _off_periods(run.timeline, h, last)
        if offs:
            ax.broken_barh(
                [(a - t0, max(b - a, gap)) for a, b in offs],
                (lane_y + 0.12, lane_h - 0.24),
                facecolors=OFF,
                zorder=2,
            )
            for a, b in offs:
                if b - a >= length * 0.03:
                    ax.text(
                        (a + b) / 2 - t0,
                        lane_y + lane_h / 2,
                        f"down {b - a:.1f}s",
                        ha="center",
                        va="center",
                        fontsize=7,
                        color="white",
                        zorder=3,
                    )
        for e in run.timeline:
            mark = MARKS.get(e.kind)
            if e.host != h or mark is None:
                continue
            marker = mark.marker_of(e) if mark.marker_of else mark.marker
            color = _COLORS[e.kind.category]
            ax.plot(
                [e.t - e.duration_s - t0],
                [lane_y + lane_h / 2],
                marker=marker,
                color=color,
                markersize=6.5,
                linestyle="none",
                zorder=4,
            )

    top = split if services else bottom
    for e in run.timeline:
        x = e.t - e.duration_s - t0
        if e.kind.category is Category.FAULT:
            style = {"color": FAULT, "linestyle": "--", "alpha": 0.55}
        elif e.kind.category is Category.OPERATION:
            style = {"color": OPERATION, "linestyle": ":", "alpha": 0.8}
        elif e.kind is EventKind.RECOVERED:
            x = e.t - t0
            style = {"color": RECOVERY, "linestyle": "-", "alpha": 0.6}
        else:
            continue
        if services:
            ax.vlines(x, top, 0, linewidth=0.9, zorder=1, **style)  # type: ignore[arg-type]
    if services and hosts:
        ax.axhline(split, color="#9aa3ad", linewidth=1.0, zorder=1)

    ax.set_yticks([ly + lh / 2 for _, ly, lh in lanes], [label for label, _, _ in lanes])
    for tick, (label, _, _) in zip(ax.get_yticklabels(), lanes, strict=True):
        if label in hosts:
            tick.set_color("#4a4f57")
            tick.set_fontsize(8.5)
        else:
            tick.set_fontweight("bold")
    ax.tick_params(axis="y", length=0)
    for side in ("top", "right", "left"):
        ax.spines[side].set_visible(False)
    ax.grid(axis="x", color="#dde1e5", linewidth=0.6, zorder=0)
    ax.set_axisbelow(True)
    began = datetime.fromtimestamp(t0, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    ax.set_xlabel(f"seconds since {began}", fontsize=9)
    if not lanes:
        ax.text(
            0.5,
            0.5,
            "no traffic and no faults recorded",
            transform=ax.transAxes,
            ha="center",
            va="center",
            color="#666",
        )
        ax.set_yticks([])

    kinds = {e.kind for e in run.timeline}
    shown: list[tuple[bool, Artist]] = [
        (bool(services), Patch(color=OK, label="ops ok")),
        (bool(services), Patch(color=FAILED, label="ops failed")),
        (
            any(op.op == RECONNECT_OP for op in run.ops),
            Patch(color=RECONNECTING, label="reconnecting"),
        ),
        (bool(services), Patch(color=WINDOW, label="downtime window")),
        (span is not None, Patch(color=SPAN, label="fault span", ec="#e0d6b8")),
        (EventKind.POWER_OFF in kinds, Patch(color=OFF, label="host down (power off → on)")),
        (
            bool(services and kinds & set(FAULT_KINDS)),
            Line2D([], [], color=FAULT, linestyle="--", label="fault"),
        ),
        (
            bool(services and kinds & set(OPERATION_KINDS)),
            Line2D([], [], color=OPERATION, linestyle=":", label="operation"),
        ),
        (bool(services) and RECOVERED in kinds, Line2D([], [], color=RECOVERY, label="recovered")),
        *((True, line) for line in _marker_legend(kinds)),
    ]  # fmt: skip
    legend = [artist for wanted, artist in shown if wanted]
    fig.legend(
        handles=legend,
        loc="outside lower center",
        ncol=max(len(legend), 1),
        fontsize=8,
        frameon=False,
        handlelength=1.6,
        columnspacing=1.2,
    )

    out = io.StringIO()
    with mpl.rc_context({"svg.fonttype": "none", "svg.hashsalt": uid, "font.size": 9}):
        fig.savefig(
            out,
            format="svg",
            metadata={"Creator": None, "Date": None, "Format": None, "Type": None},
        )
    return svg_for_html(out.getvalue(), uid)
