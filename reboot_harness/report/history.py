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

import io
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from html import escape
from pathlib import Path

import matplotlib as mpl
from matplotlib.figure import Figure

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
from reboot_harness.report.timeline import svg_for_html


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
    fig = Figure(figsize=(10.0, 2.9), layout="constrained")
    ax = fig.add_subplot()
    x = list(range(len(labels)))
    for values, ranges, name, colour in (
        (ser.recovery, ser.recovery_range, "longest recovery wait (s)", "#2f5fb3"),
        (ser.downtime, ser.downtime_range, "downtime, all hosts (s)", "#8a5a00"),
    ):
        ax.plot(x, [float("nan") if v is None else v for v in values], marker="o", ms=4,
                color=colour, label=name)  # fmt: skip
        # several runs in a night: a bar from the least to the most of them
        bars = [(i, r) for i, r in enumerate(ranges) if r is not None and r[0] != r[1]]
        if bars:
            ax.vlines([i for i, _ in bars], [r[0] for _, r in bars], [r[1] for _, r in bars],
                      color=colour, alpha=0.45, linewidth=3)  # fmt: skip
    tops = [r[1] for r in (*ser.recovery_range, *ser.downtime_range) if r is not None]
    top = max(tops or [1.0])
    failed = [i for i, p in enumerate(ser.passed) if p is False]
    if failed:
        ax.scatter(failed, [top * 1.05] * len(failed), marker="x", s=60, color="#b3261e",
                   label="failed", zorder=3)  # fmt: skip
    worse = [i for i, r in enumerate(ser.regressions) if r]
    if worse:
        ax.scatter(worse, [top * 1.12] * len(worse), marker="o", s=80, facecolors="none",
                   edgecolors="#b3261e", label="regression", zorder=3)  # fmt: skip
    tilt = len(labels) > 8
    ax.set_xticks(x, labels, rotation=30 if tilt else 0, ha="right" if tilt else "center")
    ax.set_ylim(bottom=0, top=top * 1.25)
    ax.set_ylabel("seconds")
    ax.grid(axis="y", color="#dfe3e8")
    fig.legend(loc="outside lower center", fontsize=8, ncols=4, frameon=False)
    out = io.StringIO()
    with mpl.rc_context({"svg.fonttype": "none", "svg.hashsalt": uid, "font.size": 9}):
        fig.savefig(out, format="svg", metadata={"Creator": None, "Date": None,
                                                 "Format": None, "Type": None})  # fmt: skip
    return svg_for_html(out.getvalue(), uid)


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
