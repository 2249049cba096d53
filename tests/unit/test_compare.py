"""`reboot-harness compare`: regressions beyond both noise floors, named by scenario, host and
service; identical runs and noise are not; outcome flips, added, removed and renamed scenarios
are shown as such; bad input exits 2."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from harness.compare import FLOORS, Floor, compare, judge, load_results, parse_floor
from harness.errors import UsageError

RH = [sys.executable, "-m", "harness"]


def _result(name: str = "week", *, passed: bool = True, downtime: float = 1.0,
            hosts: tuple[str, ...] = ("lb1", "mysql2")) -> dict[str, Any]:  # fmt: skip
    return {
        "name": name, "variant": "fixed", "passed": passed,
        "events": [
            {"t": 1.0, "kind": "power off", "host": h, "detail": "", "duration_s": 0.1}
            for h in hosts
        ] + [{"t": 2.0, "kind": "recovered", "host": "", "detail": "", "duration_s": 4.0}],
        "verdicts": {
            "hosts": [
                {"host": h, "service": "mysql", "downtime_s": downtime, "errors": 2,
                 "reconnect_max_s": None, "lost_writes": 0}
                for h in hosts
            ],
            "services": [{"service": "mysql", "ops": 100, "longest_s": downtime}],
        },
    }  # fmt: skip


def _write(tmp: Path, name: str, scenarios: list[dict[str, Any]]) -> Path:
    path = tmp / name
    path.write_text(json.dumps({"schema_version": 1, "scenarios": scenarios}))
    return path


def test_identical_runs_have_no_regression() -> None:
    got = compare([_result()], [_result()])
    assert got.regressions == [] and got.shown() == []


def test_one_hosts_downtime_doubled_is_a_regression_naming_it() -> None:
    base, new = _result(downtime=8.0), _result(downtime=8.0)
    new["verdicts"]["hosts"][1]["downtime_s"] = 16.0
    got = compare([base], [new])
    assert [(c.scenario, c.where, c.metric, c.baseline, c.new) for c in got.regressions] == [
        ("week[fixed]", "mysql2/mysql", "downtime_s", 8.0, 16.0)
    ]


def test_a_doubled_recovery_is_a_regression() -> None:
    """The nightly job's question: a night whose recovery took twice as long as the night
    before (7 s -> 14 s, as measured here) is a regression; the spread seen between repeats of
    one commit (7.3 s -> 12.5 s) is not."""
    assert judge("recovery_s", 7.0, 14.0, FLOORS) == "regression"
    assert judge("recovery_s", 7.3, 12.5, FLOORS) == "noise"


def test_noise_below_either_floor_is_not_a_regression() -> None:
    assert judge("downtime_s", 0.04, 6.4, FLOORS) == "noise"  # +6.4 s: below the 7 s floor
    assert judge("downtime_s", 20.0, 28.0, FLOORS) == "noise"  # +40 %: below the 50 % floor
    assert judge("downtime_s", 20.0, 31.0, FLOORS) == "regression"
    assert judge("downtime_s", 31.0, 10.0, FLOORS) == "improved"
    assert judge("lost_writes", 0.0, 1.0, FLOORS) == "regression", "any lost write"
    assert judge("recovery_s", None, 3.0, FLOORS) == "noise"
    assert judge("errors", 2.0, 2.0, {"errors": Floor(0, 0)}) == "same"


def test_outcome_flips_and_scenarios_added_removed_renamed() -> None:
    base = [_result("week"), _result("old-name", hosts=("redis2",)), _result("gone", hosts=("x",))]
    new = [_result("week", passed=False), _result("new-name", hosts=("redis2",)),
           _result("fresh", hosts=("y",))]  # fmt: skip
    kinds = {(c.scenario, c.metric, c.kind) for c in compare(base, new).shown()}
    assert ("week[fixed]", "outcome", "regression") in kinds
    assert ("old-name[fixed]", "name", "renamed") in kinds
    assert ("gone[fixed]", "scenario", "removed") in kinds
    assert ("fresh[fixed]", "scenario", "added") in kinds
    back = {(c.metric, c.kind) for c in compare(new[:1], base[:1]).shown()}
    assert ("outcome", "improved") in back


def test_floors_from_the_command_line() -> None:
    assert parse_floor("downtime_s=0.3,2") == ("downtime_s", Floor(0.3, 2.0))
    for bad in ("speed=1,1", "downtime_s=x", "downtime_s=-1,0", "downtime_s=nan,1"):
        with pytest.raises(UsageError):
            parse_floor(bad)


def test_report_folders_are_read_one_level_down(tmp_path: Path) -> None:
    """A pytest --rh-report folder holds one folder per item, each with its results.json."""
    for item in ("a", "b"):
        (tmp_path / item).mkdir()
        _write(tmp_path / item, "results.json", [_result(item)])
    assert sorted(s["name"] for s in load_results(tmp_path)) == ["a", "b"]


def test_the_command(tmp_path: Path) -> None:
    """Exit 1 and a Markdown table naming the host on a regression, 0 on identical runs, JSON
    with schema_version; 2 with one line for a missing file, a file that is not results.json
    or another schema_version."""
    base = _write(tmp_path, "base.json", [_result()])
    worse = copy.deepcopy(_result())
    worse["verdicts"]["hosts"][0]["downtime_s"] = 9.0
    new = _write(tmp_path, "new.json", [worse])  # +8 s: beyond the 7 s and 50 % floors
    md = tmp_path / "cmp.md"
    proc = subprocess.run([*RH, "compare", str(base), str(new), "--md", str(md)],
                          capture_output=True, text=True, timeout=60)  # fmt: skip
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "1 regression" in proc.stdout
    assert "| week[fixed] | lb1/mysql | downtime_s | 1.00 s | 9.00 s | regression |" in (
        md.read_text()
    )
    proc = subprocess.run([*RH, "compare", str(base), str(base), "--json"],
                          capture_output=True, text=True, timeout=60)  # fmt: skip
    assert proc.returncode == 0
    doc = json.loads(proc.stdout)
    assert doc["schema_version"] == 1 and doc["regressions"] == 0 and doc["changes"] == []
    (tmp_path / "junk.json").write_text("[1, 2]")
    other = _write(tmp_path, "v9.json", [])
    other.write_text(json.dumps({"schema_version": 9, "scenarios": []}))
    for bad, fragment in ((tmp_path / "missing.json", "no such file or folder"),
                          (tmp_path / "junk.json", "not a results.json"),
                          (other, "schema_version 9")):  # fmt: skip
        proc = subprocess.run([*RH, "compare", str(base), str(bad)],
                              capture_output=True, text=True, timeout=60)  # fmt: skip
        assert proc.returncode == 2, proc.stderr
        lines = proc.stderr.strip().splitlines()
        assert len(lines) == 1 and fragment in lines[0], proc.stderr


def test_history_marks_failed_nights_and_regressions(tmp_path: Path) -> None:
    """`history` over three nights: one chart and table per scenario variant; the night whose
    downtime doubled is marked a regression (against the night before), a failed night FAIL;
    the page is offline (no script, no external URL)."""
    from harness.report.history import load_nights, render, series

    worse = _result()
    worse["verdicts"]["hosts"][0]["downtime_s"] = 9.0  # from 1 s: beyond both floors
    nights = []
    for i, scenarios in enumerate([[_result()], [worse], [_result(passed=False)]], 1):
        folder = tmp_path / f"night{i}"
        folder.mkdir()
        _write(folder, "results.json", scenarios)
        nights.append(folder)
    (ser,) = series(load_nights(nights))
    assert ser.key == "week[fixed]" and ser.passed == [True, True, False]
    assert ser.regressions[0] == [] and ser.regressions[1] == ["downtime_s lb1/mysql"]
    assert "outcome" in ser.regressions[2]
    assert ser.downtime == [2.0, 10.0, 2.0] and ser.recovery == [4.0, 4.0, 4.0]
    out = tmp_path / "history.html"
    proc = subprocess.run([*RH, "history", *map(str, nights), "--out", str(out)],
                          capture_output=True, text=True, timeout=120)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    page = out.read_text()
    assert page == render(load_nights(nights))
    assert page.count("<svg") == 1 and "week[fixed]" in page and ">FAIL<" in page
    assert '<td class="bad">downtime_s lb1/mysql</td>' in page
    assert "<script" not in page and "http://" not in page.replace("http://www.w3.org", "")
    proc = subprocess.run([*RH, "history", str(tmp_path / "none")],
                          capture_output=True, text=True, timeout=60)  # fmt: skip
    assert proc.returncode == 2 and "no such file or folder" in proc.stderr
