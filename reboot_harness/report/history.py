"""history.html: the nights side by side (``reboot-harness history NIGHT...``).

Each night is a ``results.json`` or a report folder (see :mod:`reboot_harness.report.compare`). Per
scenario variant, a chart over the nights of its longest recovery wait and its total downtime
(summed over every host and service), with the nights it failed and the nights `compare` calls a
regression against the night before marked, and a table of the same figures. A night that ran a
variant several times (``run --repeat N``, ``pytest --rh-repeat N``) shows the median of its
runs with their range (a bar from the least to the most), and fails when any run failed. One
offline page: inline CSS and SVG, no scripts.
"""

from __future__ import annotations

import itertools
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from html import escape
from pathlib import Path

from reboot_harness.judging.result import ScenarioResult
from reboot_harness.report.compare import (
    ALPHA,
    FLOORS,
    Floor,
    compare,
    key_of,
    load_results,
    metrics,
)
from reboot_harness.report.html import CSS, EMPTY
from reboot_harness.report.svg import Canvas, Key, Scale


@dataclass
class Series:
    """One scenario variant over the nights (None: not in that night's results). With several
    runs in a night: the median of each figure, its range in ``*_range``, ``passed`` only when
    every run passed."""

    key: str
    recovery: list[float | None] = field(default_factory=list)
    downtime: list[float | None] = field(default_factory=list)
    passed: list[bool | None] = field(default_factory=list)
    regressions: list[list[str]] = field(default_factory=list)  # per night: what got worse
    runs: list[int] = field(default_factory=list)  # per night: how many runs (0: not run)
    passes: list[int] = field(default_factory=list)  # per night: how many of them passed
    recovery_range: list[tuple[float, float] | None] = field(default_factory=list)
    downtime_range: list[tuple[float, float] | None] = field(default_factory=list)


def _median_range(
    values: Sequence[float | None],
) -> tuple[float | None, tuple[float, float] | None]:
    got = [v for v in values if v is not None]
    if not got:
        return None, None
    return float(statistics.median(got)), (min(got), max(got))


@dataclass(frozen=True)
class Night:
    label: str
    results: list[ScenarioResult]


def load_nights(paths: Sequence[Path]) -> list[Night]:
    """The nights in the order given, each labelled by its folder or file name."""
    return [Night(p.name if p.is_dir() else p.stem, load_results(p)) for p in paths]


def series(
    nights: Sequence[Night], floors: Mapping[str, Floor] = FLOORS, alpha: float = ALPHA
) -> list[Series]:
    keys: list[str] = []
    for night in nights:
        for s in night.results:
            if key_of(s) not in keys:
                keys.append(key_of(s))
    out = {k: Series(k) for k in keys}
    previous: list[ScenarioResult] | None = None
    for night in nights:
        by_key: dict[str, list[ScenarioResult]] = {}
        for s in night.results:
            by_key.setdefault(key_of(s), []).append(s)
        worse: dict[str, list[str]] = {}
        if previous is not None:
            for c in compare(previous, night.results, floors=floors, alpha=alpha).regressions:
                where = f" {c.where}" if c.where else ""
                worse.setdefault(c.scenario, []).append(f"{c.metric}{where}")
        for key, ser in out.items():
            runs = by_key.get(key, [])
            recovery, downtime = [], []
            for result in runs:
                m = metrics(result)
                recovery.append(m.get(("", "recovery_s")))
                downtime.append(
                    sum(v or 0.0 for (_w, name), v in m.items() if name == "downtime_s")
                )
            median, spread = _median_range(recovery)
            ser.recovery.append(median)
            ser.recovery_range.append(spread)
            median, spread = _median_range(downtime)
            ser.downtime.append(median)
            ser.downtime_range.append(spread)
            passes = sum(r.passed for r in runs)
            ser.passed.append(passes == len(runs) if runs else None)
            ser.runs.append(len(runs))
            ser.passes.append(passes)
            ser.regressions.append(worse.get(key, []))
        previous = night.results
    return list(out.values())


def chart_svg(ser: Series, labels: Sequence[str], uid: str) -> str:
    """Recovery and downtime over the nights; a failed night as a red cross, a regression as a
    red ring."""
    tilt = len(labels) > 8
    chart = Canvas(1000.0, 0.0)
    left, right, top_px, bottom = 64.0, 984.0, 12.0, 212.0
    margin = 0.05 * max(len(labels) - 1, 1)
    x = Scale(-margin, len(labels) - 1 + margin, left, right)
    tops = [r[1] for r in (*ser.recovery_range, *ser.downtime_range) if r is not None]
    top = max(tops or [1.0]) or 1.0
    y = Scale(0.0, top * 1.25, bottom, top_px)
    for t in y.ticks(5):
        chart.line(left, y(t), right, y(t), "#dfe3e8", width=0.8)
        chart.line(left - 4, y(t), left, y(t), "#1f2328", width=0.8)
        chart.text(left - 7, y(t), f"{t:g}", size=12, anchor="end")
    chart.text(16, (top_px + bottom) / 2, "seconds", size=12.5, anchor="middle", rotate=-90)
    keys = []
    for values, ranges, name, colour in (
        (ser.recovery, ser.recovery_range, "longest recovery wait (s)", "#2f5fb3"),
        (ser.downtime, ser.downtime_range, "downtime, all hosts (s)", "#8a5a00"),
    ):
        # several runs in a night: a bar from the least to the most of them
        for i, r in enumerate(ranges):
            if r is not None and r[0] != r[1]:
                chart.line(x(i), y(r[0]), x(i), y(r[1]), colour, width=3, opacity=0.45)
        known = [(i, v) for i, v in enumerate(values) if v is not None]
        for _, run in itertools.groupby(enumerate(known), lambda p: p[1][0] - p[0]):
            points = [(x(i), y(v)) for _, (i, v) in run]  # unbroken: consecutive nights
            if len(points) > 1:
                chart.polyline(points, colour, 1.5)
            for px, py in points:
                chart.marker(px, py, "o", colour, 5.5)
        keys.append(Key(name, "line", colour, marker="o"))
    failed = [i for i, p in enumerate(ser.passed) if p is False]
    for i in failed:
        chart.cross(x(i), y(top * 1.05), 9.0, "#b3261e")
    worse = [i for i, r in enumerate(ser.regressions) if r]
    for i in worse:
        chart.marker(x(i), y(top * 1.12), "o", "#b3261e", 11.0, hollow=True)
    keys += [Key("failed", "marker", "#b3261e", marker="x")] if failed else []
    keys += [Key("regression", "marker", "#b3261e", marker="o", hollow=True)] if worse else []
    chart.rect(left, top_px, right - left, bottom - top_px, "none", edge="#1f2328")
    for i, label in enumerate(labels):
        chart.line(x(i), bottom, x(i), bottom + 4, "#1f2328", width=0.8)
        if tilt:
            chart.text(x(i), bottom + 12, label, size=12, anchor="end", rotate=-30)
        else:
            chart.text(x(i), bottom + 16, label, size=12.5, anchor="middle")
    below = bottom + (max(len(label) for label in labels) * 3.2 + 16 if tilt else 30)
    chart.height = chart.legend(keys, below, size=11.5) + 4
    return chart.element(uid, "timeline-chart")


def _cell(v: float | None, spread: tuple[float, float] | None = None) -> str:
    if v is None:
        return EMPTY
    if spread is None or spread[0] == spread[1]:
        return f"{v:.2f}"
    return f"{v:.2f} ({spread[0]:.2f} to {spread[1]:.2f})"


def render(
    nights: Sequence[Night], floors: Mapping[str, Floor] = FLOORS, alpha: float = ALPHA
) -> str:
    labels = [n.label for n in nights]
    all_series = series(nights, floors, alpha)
    parts = [
        "<!doctype html><html lang=en><head><meta charset=utf-8>",
        "<title>reboot-harness history</title>",
        f"<style>{CSS}</style></head><body>",
        "<header><h1>reboot-harness: the nights</h1>",
        f"<p>{len(nights)} nights: {escape(', '.join(labels))}</p></header><main>",
    ]
    for i, ser in enumerate(all_series):
        parts.append(f'<h2 id="s{i}">{escape(ser.key)}</h2>')
        parts.append(f'<figure class="timeline">{chart_svg(ser, labels, f"h{i}")}</figure>')
        rows = []
        for j, label in enumerate(labels):
            outcome = {True: "pass", False: "FAIL", None: EMPTY}[ser.passed[j]]
            if ser.runs[j] > 1:
                outcome += f" ({ser.passes[j]}/{ser.runs[j]})"
            worse = escape(", ".join(ser.regressions[j])) or EMPTY
            cls = ' class="bad"' if ser.regressions[j] or ser.passed[j] is False else ""
            rows.append(
                f"<tr><td>{escape(label)}</td><td{cls}>{outcome}</td>"
                f'<td class="num">{ser.runs[j] or EMPTY}</td>'
                f'<td class="num">{_cell(ser.recovery[j], ser.recovery_range[j])}</td>'
                f'<td class="num">{_cell(ser.downtime[j], ser.downtime_range[j])}</td>'
                f"<td{cls}>{worse}</td></tr>"
            )
        parts.append(
            "<table><tr><th>night</th><th>outcome</th><th>runs</th>"
            "<th>longest recovery wait s (median, range)</th>"
            "<th>downtime s, all hosts (median, range)</th>"
            "<th>regression vs the night before</th></tr>" + "".join(rows) + "</table>"
        )
    parts.append("</main></body></html>\n")
    return "\n".join(parts)
