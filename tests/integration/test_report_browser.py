"""report.html in a real headless browser (Debian's chromium): it renders offline, the charts
are in the DOM after rendering, and a screenshot comes out. No Docker needed.

Skips when chromium is missing, except in CI (CI=true), where it fails: a report nobody can
open is a broken report.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from reboot_harness.report import write_reports
from tests.conftest import missing
from tests.unit.test_report import NOW, sample_results

CHROMIUM = "/usr/bin/chromium"
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--hide-scrollbars",
]


def _chromium() -> str:
    __tracebackhide__ = True
    found = CHROMIUM if os.access(CHROMIUM, os.X_OK) else shutil.which("chromium")
    if found:
        return found
    message = "chromium not installed (Debian: apt-get install chromium; scripts/setup-host.sh)"
    missing(message)


def _run(args: list[str], profile: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [_chromium(), *FLAGS, f"--user-data-dir={profile}", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    _chromium()
    out = tmp_path_factory.mktemp("browser")
    return write_reports(sample_results(), out / "report", now=NOW)["report.html"]


def test_report_renders_with_charts_in_the_dom(report: Path, tmp_path: Path) -> None:
    """After rendering, the DOM holds every section, one timeline <svg> per scenario variant
    with its lanes drawn (bars, lines) and labelled, and the tables."""
    res = _run(["--dump-dom", report.as_uri()], tmp_path / "profile")
    assert res.returncode == 0, res.stderr[-2000:]
    dom = res.stdout
    assert dom.count('<svg class="timeline-chart"') == 3, dom[:500]
    for i in range(3):
        chart = dom.split(f'<figure class="timeline" id="timeline-{i}">', 1)[1]
        chart = chart.split("</figure>", 1)[0]
        drawn = sum(chart.count(shape) for shape in ("<rect", "<line", "<polyline", "<path"))
        assert drawn > 10, chart[:1000]
        assert "seconds since" in chart
    assert re.search(r">http {2}\(3 clients\)</text>", dom)
    assert ">lb1</text>" in dom
    assert "<h3>Downtime per host</h3>" in dom
    assert "xen-reboot-week: lb1 → lb2 → redis1 → mysql1 → app1" in dom
    assert "<script" not in dom


def test_report_screenshot_is_drawn(report: Path, tmp_path: Path) -> None:
    """A screenshot of the page comes out as a PNG of the requested size, and not blank."""
    shot = tmp_path / "report.png"
    res = _run(
        [f"--screenshot={shot}", "--window-size=1400,2000", report.as_uri()],
        tmp_path / "profile",
    )
    assert res.returncode == 0, res.stderr[-2000:]
    data = shot.read_bytes()
    assert data.startswith(b"\x89PNG\r\n\x1a\n")
    width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    assert (width, height) == (1400, 2000)
    assert len(data) > 50_000  # a blank page compresses to a few kB
    keep = os.environ.get("RH_REPORT_SCREENSHOT")
    if keep:  # to look at it: RH_REPORT_SCREENSHOT=/tmp/report.png pytest ...
        shutil.copy(shot, keep)
