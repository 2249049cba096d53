"""`reboot-harness compare`: with several runs a side each figure is tested (one-sided
Mann-Whitney U, exact, with an effect floor; the figures of a variant beside its recovery share
the p-value by Holm's correction); with one run a side only a change of 2x or more is judged,
and the summary says so; a value on one side only is never noise; outcome flips, added, removed
and renamed scenarios are shown as such; repeats keep their index through results.json; bad
input exits 2."""

from __future__ import annotations

import copy
import itertools
import json
import math
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from harness.compare import (
    FLOORS,
    Floor,
    compare,
    judge,
    load_results,
    p_larger,
    parse_alpha,
    parse_floor,
    runs_needed,
    summary,
)
from harness.errors import UsageError

RH = [sys.executable, "-m", "harness"]


def _result(name: str = "week", *, passed: bool = True, downtime: float = 1.0,
            hosts: tuple[str, ...] = ("lb1", "mysql2"), recovery: float | None = 4.0,
            lost: int = 0, repeat: int = 0) -> dict[str, Any]:  # fmt: skip
    recovered = (
        [{"t": 2.0, "kind": "recovered", "host": "", "detail": "", "duration_s": recovery}]
        if recovery is not None else []
    )  # fmt: skip
    return {
        "name": name, "variant": "fixed", "passed": passed, "repeat": repeat,
        "events": [
            {"t": 1.0, "kind": "power off", "host": h, "detail": "", "duration_s": 0.1}
            for h in hosts
        ] + recovered,
        "verdicts": {
            "hosts": [
                {"host": h, "service": "mysql", "downtime_s": downtime, "errors": 2,
                 "reconnect_max_s": None, "lost_writes": lost}
                for h in hosts
            ],
            "services": [{"service": "mysql", "ops": 100, "longest_s": downtime}],
        },
    }  # fmt: skip


def _runs(recoveries: Sequence[float], **kw: Any) -> list[dict[str, Any]]:
    """One run per recovery time, repeat indexes 1..N."""
    return [_result(recovery=r, repeat=i, **kw) for i, r in enumerate(recoveries, 1)]


def _write(tmp: Path, name: str, scenarios: list[dict[str, Any]]) -> Path:
    path = tmp / name
    path.write_text(json.dumps({"schema_version": 1, "scenarios": scenarios}))
    return path


def _kinds(base: list[dict[str, Any]], new: list[dict[str, Any]]) -> set[tuple[str, str, str]]:
    return {(c.where, c.metric, c.kind) for c in compare(base, new).shown()}


# -- single runs --------------------------------------------------------------------------------
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


@pytest.mark.parametrize(
    ("metric", "base", "new"),
    [
        ("recovery_s", 3.0, 6.0),
        ("recovery_s", 3.0, 9.0),
        ("recovery_s", 5.0, 10.0),
        ("recovery_s", 5.9, 11.8),
        ("recovery_s", 7.0, 14.0),
        ("downtime_s", 3.0, 9.9),
        ("longest_s", 1.0, 4.9),
        ("errors", 0.0, 20.0),
        ("reconnect_s", 0.5, 2.4),
    ],
)
def test_with_one_run_a_side_a_doubling_or_more_is_a_regression(
    metric: str, base: float, new: float
) -> None:
    """Single runs cannot tell noise from a change, but a change of 2x or more (and more than
    the figure's large-change amount) is one: the cases the old 75 %-and-6 s floors hid."""
    assert judge(metric, base, new) == "regression"
    assert judge(metric, new, base) == "improved"


def test_with_one_run_a_side_less_than_a_doubling_is_noise_and_the_summary_says_why() -> None:
    """One commit's single runs spread up to 1.7x (7.3 s -> 12.5 s, bench/RESULTS.md): noise;
    and a difference of 2x under the large-change amount (0.3 s -> 0.6 s) too. The summary says
    only large changes can be seen and how many runs a side the test needs."""
    assert judge("recovery_s", 7.3, 12.5) == "noise"
    assert judge("recovery_s", 0.3, 0.6) == "noise"
    assert judge("errors", 2.0, 2.0) == "same"
    got = compare([_result(recovery=4.0)], [_result(recovery=8.0)])
    assert [(c.metric, c.kind) for c in got.regressions] == [("recovery_s", "regression")]
    said = summary(got)
    assert said.startswith("1 regression") and "only changes of 2x or more" in said
    assert f"run each side {runs_needed(0.01)} times" in said and runs_needed(0.01) == 5


# -- a value on one side only -------------------------------------------------------------------
def test_a_value_on_one_side_only_is_never_noise() -> None:
    """A recovery that no longer happens and lost writes (or failed operations) appearing are
    regressions; any other value appearing or disappearing is shown as such."""
    assert judge("recovery_s", 5.0, None) == "regression"
    assert judge("lost_writes", None, 12.0) == "regression"
    assert judge("errors", None, 3.0) == "regression"
    assert judge("recovery_s", None, 3.0) == "appeared"
    assert judge("downtime_s", None, 3.0) == "appeared"
    assert judge("lost_writes", None, 0.0) == "appeared"
    assert judge("downtime_s", 3.0, None) == "disappeared"
    assert judge("lost_writes", 0.0, 1.0) == "regression", "any lost write"


def test_a_new_row_with_lost_writes_is_a_regression_of_a_failing_variant_too() -> None:
    """An incident variant that failed on both nights: the outcome does not flip, yet a new
    -/mysql row with 9 lost writes is a regression, and a row gone is shown."""
    base = _result(passed=False, hosts=("lb1", "mysql2"))
    new = _result(passed=False, hosts=("lb1", "-"))
    new["verdicts"]["hosts"][1]["lost_writes"] = 9
    got = compare([base], [new])
    assert ("-/mysql", "lost_writes", "regression") in {
        (c.where, c.metric, c.kind) for c in got.regressions
    }
    assert ("mysql2/mysql", "downtime_s", "disappeared") in _kinds([base], [new])


# -- several runs a side: the test -----------------------------------------------------------------
def _brute_p(base: Sequence[float], new: Sequence[float]) -> float:
    """P(U >= u) by listing every split of the pooled values (distinct values only)."""
    pooled = [*base, *new]
    u = sum(1 for x in base for y in new if y > x)
    hits = total = 0
    for chosen in itertools.combinations(range(len(pooled)), len(new)):
        ys = [pooled[i] for i in chosen]
        xs = [pooled[i] for i in range(len(pooled)) if i not in chosen]
        total += 1
        hits += sum(1 for x in xs for y in ys if y > x) >= u
    return hits / total


def test_the_p_value_is_the_exact_one_and_ties_never_make_a_change() -> None:
    """p_larger counts orderings exactly (checked against listing every split); complete
    separation of 5 and 5 gives 1/252; equal values give 1."""
    samples = [
        ([2.8, 3.1, 2.9, 3.3, 3.0], [3.2, 4.4, 4.6, 3.4, 4.1]),
        ([1.0, 5.0, 2.0], [4.0, 3.0, 6.0, 0.5]),
        ([7.0, 8.0, 9.0, 1.0, 2.0, 3.0], [4.0, 5.0, 6.0, 10.0, 11.0, 12.0]),
    ]
    for base, new in samples:
        assert math.isclose(p_larger(base, new), _brute_p(base, new)), (base, new)
    assert math.isclose(p_larger([1, 2, 3, 4, 5], [6, 7, 8, 9, 10]), 1 / 252)
    assert p_larger([0.0] * 5, [0.0] * 5) == 1.0


BASE = [2.9, 3.0, 3.2, 2.8, 3.1]  # a recovery of about 3 s, as cold-start's


def test_a_recovery_half_as_long_again_is_a_regression_with_five_runs_a_side() -> None:
    """3 s -> 4.5 s (1.5x), five runs a side, one slow baseline outlier: flagged (p = 2/252);
    the same five runs against themselves or a reshuffle of one pool are not."""
    slower = [v * 1.5 for v in BASE]
    assert judge("recovery_s", [*BASE[:4], 4.3], slower) == "regression"
    assert judge("recovery_s", BASE, BASE) == "same"
    pool = [2.9, 3.0, 3.2, 2.8, 3.1, 3.05, 2.95, 3.3, 2.7, 3.15]
    assert judge("recovery_s", pool[::2], pool[1::2]) == "noise"
    assert judge("recovery_s", pool[:5], pool[5:]) == "noise"


def test_a_clear_but_tiny_change_is_below_the_effect_floor() -> None:
    """+3 % in every run (p = 1/252) is no regression: under 10 % and 0.25 s."""
    tight = [3.00, 3.01, 3.02, 3.03, 3.04]
    later = [v + 0.1 for v in tight]
    assert p_larger(tight, later) < 0.01
    assert judge("recovery_s", tight, later) == "noise"
    assert judge("recovery_s", tight, later, {"recovery_s": Floor(0, 0)}) == "regression"


def test_too_few_runs_for_the_test_fall_back_to_large_changes() -> None:
    """Four runs a side cannot reach p < 0.01 (1/70 at best): a 1.5x change is not judged,
    a 2x one is."""
    assert judge("recovery_s", BASE[:4], [v * 1.5 for v in BASE[:4]]) == "noise"
    assert judge("recovery_s", BASE[:4], [v * 2 for v in BASE[:4]]) == "regression"
    got = compare(_runs(BASE[:4]), _runs([v * 1.5 for v in BASE[:4]]))
    assert "only changes of 2x or more" in summary(got)


def test_the_other_figures_of_a_variant_share_alpha_but_recovery_does_not() -> None:
    """Eleven host rows whose downtime wanders and one whose downtime is 30 % higher in every
    run: with five runs a side the one row cannot beat 0.01/12 (1/252 at best) and a 30 % rise
    is no 2x change, so it is noise; with eight a side (1/12870 at best) it is a regression.
    Recovery, the headline, is tested on its own: 1.5x in five runs is a regression."""
    hosts = tuple(f"h{i}" for i in range(12))

    def night(n: int, k: int, factor: float) -> list[dict[str, Any]]:
        runs = []
        for j in range(n):
            r = _result(hosts=hosts, recovery=BASE[j % 5] * factor, repeat=j + 1)
            for i, row in enumerate(r["verdicts"]["hosts"]):
                row["downtime_s"] = 2.0 + ((i * 7 + j * 3 + k) % 5) / 10
            r["verdicts"]["hosts"][0]["downtime_s"] = (2.0 + j / 50) * (1.3 if k else 1.0)
            runs.append(r)
        return runs

    five = compare(night(5, 0, 1.0), night(5, 1, 1.5))
    assert [(c.where, c.metric) for c in five.regressions] == [("", "recovery_s")]
    h0 = next(c for c in five.changes if c.where == "h0/mysql" and c.metric == "downtime_s")
    assert h0.kind == "noise" and "too few to test" in h0.why
    eight = compare(night(8, 0, 1.0), night(8, 1, 1.0))
    assert [(c.where, c.metric) for c in eight.regressions] == [("h0/mysql", "downtime_s")]


def test_with_runs_lost_writes_or_a_failure_where_the_baseline_had_none_are_regressions() -> None:
    """Five clean baseline runs: one new run losing 3 writes, or one failing, is a regression;
    a run that never recovered too."""
    base = _runs(BASE)
    lossy = _runs(BASE)
    lossy[2]["verdicts"]["hosts"][1]["lost_writes"] = 3
    assert ("mysql2/mysql", "lost_writes", "regression") in _kinds(base, lossy)
    failing = _runs(BASE)
    failing[4]["passed"] = False
    (flip,) = [c for c in compare(base, failing).changes if c.metric == "outcome"]
    assert (flip.kind, flip.baseline, flip.new) == ("regression", "5/5 pass", "4/5 pass")
    stuck = _runs([*BASE[:4], 3.0])
    stuck[4]["events"] = stuck[4]["events"][:-1]
    assert ("", "recovery_s", "regression") in _kinds(base, stuck)


# -- repeats through results.json ------------------------------------------------------------------
def test_repeat_index_round_trips_through_results_json(tmp_path: Path) -> None:
    """Three runs of one variant written by the reports keep their repeat index (and validate
    against the run schema); compare pools them as the variant's runs; a results.json written
    before the key existed reads as one run."""
    import jsonschema

    from harness.report import Run, write_reports
    from harness.scenario_run import ScenarioResult
    from harness.serialize import schema

    results = []
    for k in (1, 2, 3):
        r = ScenarioResult("cold-start", "fixed", True, "recovered", 20.0, f"p{k}", repeat=k)
        results.append(r)
    write_reports(results, tmp_path / "night")
    doc = json.loads((tmp_path / "night" / "results.json").read_text())
    jsonschema.validate(doc, schema("run"))
    assert [s["repeat"] for s in doc["scenarios"]] == [1, 2, 3]
    assert [s["repeat"] for s in load_results(tmp_path / "night")] == [1, 2, 3]
    assert Run.from_result(results[1]).title == "cold-start [fixed] #2"
    got = compare(load_results(tmp_path / "night"), load_results(tmp_path / "night"))
    assert {c.runs for c in got.changes} <= {"3/3"} and got.runs == (3, 3)
    old = _result()
    del old["repeat"]
    assert compare([old], [old]).runs == (1, 1)


# -- the command line ------------------------------------------------------------------------------
def test_floors_and_alpha_from_the_command_line() -> None:
    assert parse_floor("downtime_s=0.3,2") == ("downtime_s", Floor(0.3, 2.0))
    for bad in ("speed=1,1", "downtime_s=x", "downtime_s=-1,0", "downtime_s=nan,1"):
        with pytest.raises(UsageError):
            parse_floor(bad)
    assert parse_alpha("0.05") == 0.05
    for bad in ("0", "1", "x", "nan", "-0.1"):
        with pytest.raises(UsageError, match="--alpha"):
            parse_alpha(bad)
    assert set(FLOORS) == {"recovery_s", "downtime_s", "longest_s", "errors", "reconnect_s",
                           "lost_writes"}  # fmt: skip


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


def test_report_folders_are_read_one_level_down(tmp_path: Path) -> None:
    """A pytest --rh-report folder holds one folder per item, each with its results.json."""
    for item in ("a", "b"):
        (tmp_path / item).mkdir()
        _write(tmp_path / item, "results.json", [_result(item)])
    assert sorted(s["name"] for s in load_results(tmp_path)) == ["a", "b"]


def test_the_command(tmp_path: Path) -> None:
    """Exit 1 and a Markdown table naming the host on a regression, 0 on identical runs, JSON
    with schema_version; 2 with one line for a missing file, a file that is not results.json,
    another schema_version or a bad --alpha."""
    base = _write(tmp_path, "base.json", [_result()])
    worse = copy.deepcopy(_result())
    worse["verdicts"]["hosts"][0]["downtime_s"] = 9.0
    new = _write(tmp_path, "new.json", [worse])  # 1 s -> 9 s: a large change
    md = tmp_path / "cmp.md"
    proc = subprocess.run([*RH, "compare", str(base), str(new), "--md", str(md)],
                          capture_output=True, text=True, timeout=60)  # fmt: skip
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "1 regression" in proc.stdout
    assert "| week[fixed] | lb1/mysql | downtime_s | 1.00 s | 9.00 s | regression | 1/1 |" in (
        md.read_text()
    )
    assert "only changes of 2x or more" in md.read_text()
    proc = subprocess.run([*RH, "compare", str(base), str(base), "--json"],
                          capture_output=True, text=True, timeout=60)  # fmt: skip
    assert proc.returncode == 0
    doc = json.loads(proc.stdout)
    assert doc["schema_version"] == 1 and doc["regressions"] == 0 and doc["changes"] == []
    (tmp_path / "junk.json").write_text("[1, 2]")
    other = _write(tmp_path, "v9.json", [])
    other.write_text(json.dumps({"schema_version": 9, "scenarios": []}))
    for args, fragment in (([str(tmp_path / "missing.json")], "no such file or folder"),
                           ([str(tmp_path / "junk.json")], "not a results.json"),
                           ([str(other)], "schema_version 9"),
                           ([str(base), "--alpha", "2"], "--alpha")):  # fmt: skip
        proc = subprocess.run([*RH, "compare", str(base), *args],
                              capture_output=True, text=True, timeout=60)  # fmt: skip
        assert proc.returncode == 2, proc.stderr
        lines = proc.stderr.strip().splitlines()
        assert len(lines) == 1 and fragment in lines[0], proc.stderr


def test_history_marks_failed_nights_and_regressions(tmp_path: Path) -> None:
    """`history` over three nights: one chart and table per scenario variant; the night whose
    downtime went up ninefold is marked a regression (against the night before), a failed night
    FAIL; the page is offline (no script, no external URL)."""
    from harness.report.history import load_nights, render, series

    worse = _result()
    worse["verdicts"]["hosts"][0]["downtime_s"] = 9.0  # from 1 s: a large change
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


def test_history_of_repeated_nights_shows_medians_ranges_and_runs(tmp_path: Path) -> None:
    """Nights of five runs each: the median recovery with its range, the number of runs and of
    passes, a night with one failed run marked FAIL, and the night whose recovery is 1.5x in
    every run a regression (the test, not a floor)."""
    from harness.report.history import load_nights, render, series

    nights = []
    for i, runs in enumerate([_runs(BASE), _runs([v * 1.5 for v in BASE]), _runs(BASE)], 1):
        if i == 3:
            runs[1]["passed"] = False
        _write(tmp_path, f"night{i}.json", runs)
        nights.append(tmp_path / f"night{i}.json")
    (ser,) = series(load_nights(nights))
    assert ser.runs == [5, 5, 5] and ser.passes == [5, 5, 4]
    assert ser.passed == [True, True, False]
    assert ser.recovery == [3.0, 4.5, 3.0]
    assert ser.recovery_range[0] == (2.8, 3.2)
    assert ser.regressions[1] == ["recovery_s"] and "outcome" in ser.regressions[2]
    page = render(load_nights(nights))
    assert "3.00 (2.80 to 3.20)" in page and "FAIL (4/5)" in page
