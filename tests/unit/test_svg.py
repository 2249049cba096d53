"""reboot_harness.report.svg and the charts drawn with it (the run's timeline, the nights'
history): well-formed inline SVG that shows what the run recorded, with no plotting library."""

from __future__ import annotations

import itertools
import math
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections import Counter

import pytest
from hypothesis import given
from hypothesis import strategies as st

from reboot_harness.model.events import Category, EventKind
from reboot_harness.report import timeline
from reboot_harness.report.history import Night, chart_svg, series
from reboot_harness.report.svg import MARKERS, Canvas, Key, Scale
from reboot_harness.steps import MARKS
from tests.unit.test_report import _Run, reboot_week


def _tree(svg: str) -> ET.Element:
    """The element, parsed as XML (it must be well-formed)."""
    return ET.fromstring(svg)


def _texts(root: ET.Element) -> list[str]:
    return [t.text or "" for t in root.iter("text")]


@given(
    st.floats(-1e4, 1e4, allow_nan=False),
    st.floats(1e-2, 1e6, allow_nan=False),
    st.integers(2, 12),
)
def test_ticks_are_round_evenly_spaced_and_inside_the_domain(
    lo: float, span: float, about: int
) -> None:
    """Between 1 and about 2.5x ``about`` ticks, inside lo..hi, equally spaced by 1, 2, 2.5 or 5
    times a power of ten."""
    scale = Scale(lo, lo + span, 0.0, 100.0)
    ticks = scale.ticks(about)
    assert 1 <= len(ticks) <= 2.5 * about + 1
    assert all(lo - 1e-6 * span <= t <= lo + span + 1e-6 * span for t in ticks)
    steps = [b - a for a, b in itertools.pairwise(ticks)]
    for step in steps:
        assert step == pytest.approx(steps[0], rel=1e-6)
        mantissa = step / 10 ** math.floor(math.log10(step))
        assert min(abs(mantissa - m) for m in (1, 2, 2.5, 5, 10)) < 1e-3, step


def test_a_scale_maps_its_domain_onto_its_pixels_either_way_up() -> None:
    x = Scale(0.0, 10.0, 50.0, 150.0)
    assert (x(0), x(5), x(10)) == (50.0, 100.0, 150.0)
    y = Scale(0.0, 4.0, 200.0, 0.0)  # up: the domain's top at pixel 0
    assert (y(0), y(1), y(4)) == (200.0, 150.0, 0.0)
    assert Scale(0.0, 10.0, 0.0, 1.0).ticks(5) == [0.0, 2.0, 4.0, 6.0, 8.0, 10.0]
    assert Scale(0.0, 63.0, 0.0, 1.0).ticks(8) == [0.0, 10.0, 20.0, 30.0, 40.0, 50.0, 60.0]


def test_every_mark_of_every_step_kind_has_a_shape() -> None:
    """The step kinds' marks (and the markers some pick per event) are shapes the writer draws."""
    used = {m.marker for m in MARKS.values()} | {"^", "v"}  # dns_rotate: out v, in ^
    assert used <= MARKERS.keys()
    canvas = Canvas(20, 20)
    for shape in MARKERS:
        canvas.marker(10, 10, shape, "#000", 8.0)
    root = _tree(canvas.element("m", "c"))
    assert len(list(root.iter("polygon"))) + len(list(root.iter("circle"))) == len(MARKERS)


def test_the_element_is_inline_svg_that_scales_and_escapes_its_text() -> None:
    """No prolog and no namespace URL (HTML supplies it), a viewBox and width 100%, the id and
    class asked for; text is escaped and keeps its spaces."""
    canvas = Canvas(300, 80)
    canvas.text(10, 10, "a <b> & c  (2 clients)")
    svg = canvas.element("t0", "timeline-chart")
    assert svg.startswith('<svg class="timeline-chart" id="t0" role="img" width="100%"')
    assert "xmlns" not in svg and "<?xml" not in svg
    root = _tree(svg)
    assert root.get("viewBox") == "0 0 300 80"
    assert _texts(root) == ["a <b> & c  (2 clients)"]


def test_a_legend_too_wide_for_one_row_wraps_centred() -> None:
    canvas = Canvas(300, 0)
    keys = [Key(f"entry number {i}", "patch", "#123456") for i in range(6)]
    bottom = canvas.legend(keys, 10.0, size=10.0)
    rows = Counter(
        round(float(r.get("y") or 0)) for r in _tree(canvas.element("l", "c")).iter("rect")
    )
    assert len(rows) >= 3 and sum(rows.values()) == 6
    assert bottom == pytest.approx(10.0 + len(rows) * 18.0)


def test_the_timeline_shows_lanes_windows_outages_marks_and_lines() -> None:
    """The week's chart: a lane label per service and disrupted host, each long downtime
    window labelled, a grey bar per power-off of each host, a marker per marked event on its
    host's lane, a vertical line per fault, operation and recovery, and the legend."""
    run = reboot_week()
    root = _tree(timeline.timeline_svg(run, "t0"))
    texts = _texts(root)
    for lane in ("http  (3 clients)", "socketio  (2 clients)", "redis  (1 client)"):
        assert lane in texts
    for host in ("lb1", "lb2", "redis1", "redis2", "mysql1", "mysql2", "app1"):
        assert host in texts
    assert "5.2s down" in texts and "1.5s down" in texts
    offs = [r for r in root.iter("rect") if r.get("fill") == timeline.OFF]
    assert len(offs) == 5 + 1  # the five reboots' bars and the legend's swatch
    assert texts.count("down 4.5s") == 5
    marked = [e for e in run.timeline if e.kind in MARKS and e.host]
    shapes = [*root.iter("polygon"), *root.iter("circle")]
    legend_shapes = 3  # DNS out / in, failover, kill
    assert len(shapes) == len(marked) + legend_shapes
    colours = {Category.FAULT: timeline.FAULT, Category.OPERATION: timeline.OPERATION}
    lines = Counter(ln.get("stroke") for ln in root.iter("line"))
    for category, colour in colours.items():
        events = [e for e in run.timeline if e.kind.category is category]
        assert lines[colour] == len(events) + 1, category  # and the legend's
    recovered = [e for e in run.timeline if e.kind is EventKind.RECOVERED]
    assert lines[timeline.RECOVERY] == len(recovered) + 1
    for label in ("ops ok", "reconnecting", "fault span", "host down (power off → on)", "kill"):
        assert label in texts
    assert "seconds since 2023-11-14 22:13:20 UTC" in texts


def test_a_run_without_traffic_or_faults_says_so() -> None:
    run = _Run().result("idle", "fixed", True, "ok")
    texts = _texts(_tree(timeline.timeline_svg(run, "t2")))
    assert "no traffic and no faults recorded" in texts


def test_the_history_chart_draws_both_series_failures_and_regressions() -> None:
    """Two series over three nights (a line and a dot a night each), the failed night a cross,
    the regression a ring, and the nights named under the axis."""
    week, failed = reboot_week(), reboot_week()
    failed.passed = False
    nights = [Night("n1", [week]), Night("n2", [failed]), Night("n3", [reboot_week()])]
    (ser,) = series(nights)
    root = _tree(chart_svg(ser, ["n1", "n2", "n3"], "h0"))
    assert len(list(root.iter("polyline"))) == 2
    dots = [c for c in root.iter("circle") if c.get("fill") not in (None, "none")]
    assert len(dots) == 2 * 3 + 2  # a dot a night per series, and one in each legend entry
    rings = [c for c in root.iter("circle") if c.get("fill") == "none"]
    assert len(rings) == 1 + 1  # night 2 (an outcome regression) and its legend entry
    texts = _texts(root)
    assert [t for t in texts if t.startswith("n")] == ["n1", "n2", "n3"]
    assert {"failed", "regression", "seconds", "longest recovery wait (s)"} <= set(texts)


def test_reports_need_no_plotting_library() -> None:
    """report.html and history.html are written with matplotlib impossible to import."""
    code = (
        "import sys, tempfile; sys.modules['matplotlib'] = None\n"
        "from pathlib import Path\n"
        "from reboot_harness.report import write_reports\n"
        "from reboot_harness.report.history import load_nights, render\n"
        "from tests.unit.test_report import sample_results\n"
        "out = Path(tempfile.mkdtemp())\n"
        "written = write_reports(sample_results(), out / 'n1')\n"
        "page = render(load_nights([out / 'n1']))\n"
        "print(written['report.html'].read_text().count('<svg'), page.count('<svg'))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["3", "3"]
