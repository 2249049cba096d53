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
import re
import statistics
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest

from reboot_harness.errors import UsageError
from reboot_harness.report.compare import (
    FLOORS,
    Change,
    Comparison,
    Floor,
    judge,
    load_results,
    parse_alpha,
    parse_floor,
    rows,
    summary,
)
from reboot_harness.report.compare import compare as compare_results
from reboot_harness.report.serialize import result_from_json
from reboot_harness.report.significance import p_larger, runs_needed, smallest_p

RH = [sys.executable, "-m", "reboot_harness"]


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
            "services": [_service("mysql", 100, longest=downtime)],
        },
    }  # fmt: skip


def _service(name: str, ops: int, *, longest: float) -> dict[str, Any]:
    """A service's verdict as results.json holds it: its longest window is its longest_s."""
    window = {"service": name, "start": 0.0, "end": longest, "clients": [], "errors": 0}
    return {"service": name, "ops": ops, "windows": [window], "longest_s": longest}


def compare(base: Sequence[Mapping[str, Any]], new: Sequence[Mapping[str, Any]],
            **kw: Any) -> Comparison:  # fmt: skip
    """compare() of results as results.json holds them, read back as `compare` reads them."""
    return compare_results([result_from_json(s) for s in base],
                           [result_from_json(s) for s in new], **kw)  # fmt: skip


def _runs(recoveries: Sequence[float], **kw: Any) -> list[dict[str, Any]]:
    """One run per recovery time, repeat indexes 1..N."""
    return [_result(recovery=r, repeat=i, **kw) for i, r in enumerate(recoveries, 1)]


def _write(tmp: Path, name: str, scenarios: list[dict[str, Any]]) -> Path:
    path = tmp / name
    path.write_text(json.dumps({"schema_version": 1, "scenarios": scenarios}))
    return path


def _kinds(base: list[dict[str, Any]], new: list[dict[str, Any]]) -> set[tuple[str, str, str]]:
    return {(c.where, c.metric, c.kind) for c in compare(base, new).shown()}


def _recovery(base: Sequence[float], new: Sequence[float], **kw: Any) -> Change:
    """The recovery_s change of one variant whose runs recovered in these times."""
    (change,) = [c for c in compare(_runs(base), _runs(new), **kw).changes
                 if c.metric == "recovery_s"]  # fmt: skip
    return change


def _downtimes(rows_: Mapping[str, tuple[Sequence[float], Sequence[float]]],
               **kw: Any) -> dict[str, Change]:  # fmt: skip
    """The downtime_s changes of one variant with a host row per key, whose downtime in each
    run is given (baseline runs, new runs); every other figure is the same in every run."""
    sides = []
    for side in (0, 1):
        runs = []
        for j in range(len(next(iter(rows_.values()))[side])):
            r = _result(hosts=tuple(rows_), repeat=j + 1)
            for row in r["verdicts"]["hosts"]:
                row["downtime_s"] = rows_[row["host"]][side][j]
            runs.append(r)
        sides.append(runs)
    return {c.where.split("/")[0]: c for c in compare(*sides, **kw).changes
            if c.metric == "downtime_s"}  # fmt: skip


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


def test_with_one_run_a_side_exactly_twice_by_exactly_the_large_amount_is_a_change() -> None:
    """The rule is "2x or more and by the large-change amount": 1 s -> 2 s of recovery is both,
    each at its limit: a regression (and back, an improvement). An improvement of less than
    2x is noise as a regression of less than 2x is; the reason says why only large changes are
    judged."""
    assert judge("recovery_s", 1.0, 2.0) == "regression"
    assert judge("recovery_s", 2.0, 1.0) == "improved"
    assert judge("recovery_s", 12.5, 7.3) == "noise"
    got = _recovery([4.0], [8.0])
    why = "1 vs 1 runs: too few to test (p < 0.01 needs 5 a side): 2x or more only"
    assert (got.kind, got.runs, got.why) == ("regression", "1/1", why)


def test_every_figure_of_the_downtime_table_and_each_services_longest_window_is_compared() -> None:
    """Failed operations, the longest reconnect and a service's longest window are figures as
    downtime is; a service without operations has no longest window to compare."""
    base, new = _result(), _result()
    base["verdicts"]["hosts"][1]["reconnect_max_s"] = 0.5
    new["verdicts"]["hosts"][0]["errors"] = 20
    new["verdicts"]["hosts"][1]["reconnect_max_s"] = 2.0
    base["verdicts"]["services"].append(_service("redis", 0, longest=1.0))
    new["verdicts"]["services"] = [_service("mysql", 100, longest=5.0),
                                   _service("redis", 0, longest=9.0)]  # fmt: skip
    got = compare([base], [new])
    assert [(c.where, c.metric, c.baseline, c.new) for c in got.regressions] == [
        ("lb1/mysql", "errors", 2.0, 20.0),
        ("mysql", "longest_s", 1.0, 5.0),
        ("mysql2/mysql", "reconnect_s", 0.5, 2.0),
    ]
    assert not [c for c in got.changes if c.where == "redis"]


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


def test_one_failed_operation_or_lost_write_appearing_is_a_regression() -> None:
    """Harm is any amount above zero, one included: a new row with 1 failed operation or 1
    lost write; one new run of five losing 1 write where no baseline run lost any."""
    assert judge("errors", None, 1.0) == "regression"
    assert judge("lost_writes", None, 1.0) == "regression"
    base, lossy = _runs(BASE), _runs(BASE)
    lossy[2]["verdicts"]["hosts"][1]["lost_writes"] = 1
    (lost,) = [c for c in compare(base, lossy).changes
               if (c.where, c.metric) == ("mysql2/mysql", "lost_writes")]  # fmt: skip
    assert (lost.kind, lost.why) == ("regression", "writes lost in 1 of 5 new runs; none before")


def _row(host: str) -> dict[str, Any]:
    return {"host": host, "service": "redis", "downtime_s": 0.5, "errors": 0,
            "reconnect_max_s": None, "lost_writes": 0}  # fmt: skip


def test_a_value_on_one_side_only_says_in_how_many_runs_it_was() -> None:
    """A row in 2 of 5 new runs appeared (0 failed operations: no harm), one in 3 of 5 baseline
    runs disappeared, a recovery missing from 1 of 5 new runs never recovered there, and one
    missing from every new run never recovered in them."""
    base, new = _runs(BASE), _runs(BASE)
    for r in base[:3]:
        r["verdicts"]["hosts"].append(_row("redis2"))
    for r in new[:2]:
        r["verdicts"]["hosts"].append(_row("redis1"))
    new[4]["events"] = new[4]["events"][:-1]  # its recovered event
    got = {(c.where, c.metric): (c.kind, c.why) for c in compare(base, new).changes}
    appeared = ("appeared", "not in the baseline; in 2 of 5 new runs")
    assert got[("redis1/redis", "downtime_s")] == got[("redis1/redis", "errors")] == appeared
    assert got[("redis2/redis", "downtime_s")] == ("disappeared", "in 3 of 5 baseline runs")
    assert got[("", "recovery_s")] == ("regression", "never recovered in 1 of 5 new runs")
    stuck = [_result(recovery=None, repeat=i) for i in range(1, 6)]
    (never,) = [c for c in compare(base, stuck).changes if c.metric == "recovery_s"]
    assert (never.kind, never.why) == ("regression", "never recovered in the 5 new runs")


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


def test_a_change_must_exceed_both_the_relative_and_the_absolute_floor() -> None:
    """Five runs a side, every new run higher (p = 1/252): 10 s -> 10.5 s of downtime is more
    than 0.25 s but not more than 10 %; 2 s -> 2.25 s of recovery, 5 s -> 5.5 s of downtime and
    two more failed operations are exactly a floor: none is a regression, a little more is."""
    assert judge("downtime_s", [10.0] * 5, [10.5] * 5) == "noise"
    assert judge("recovery_s", [2.0] * 5, [2.25] * 5) == "noise"
    assert judge("downtime_s", [5.0] * 5, [5.5] * 5) == "noise"
    assert judge("errors", [10.0] * 5, [12.0] * 5) == "noise"
    assert judge("recovery_s", [2.0] * 5, [2.26] * 5) == "regression"
    assert judge("downtime_s", [5.0] * 5, [5.51] * 5) == "regression"
    assert judge("errors", [10.0] * 5, [13.0] * 5) == "regression"


def test_an_improvement_is_judged_by_the_same_test_and_floors_as_a_regression() -> None:
    """Mirrored: 1.5x faster in five runs is an improvement; 3 % faster is within the floor;
    medians 2x apart in runs that interleave (p = 0.35) are noise. The reason gives the test,
    the runs, the p-value and the level it beat."""
    slower = [v * 1.5 for v in BASE]
    tight = [3.00, 3.01, 3.02, 3.03, 3.04]
    later = [v + 0.1 for v in tight]
    said = "Mann-Whitney U, 5 vs 5 runs: p="
    for base, new, kind, why in (
        (BASE, slower, "regression", "0.004 < 0.01"),
        (slower, BASE, "improved", "0.004 < 0.01"),
        (tight, later, "noise", "0.004, within the effect floor"),
        (later, tight, "noise", "0.004, within the effect floor"),
        ([5.0, 1.0, 6.0, 2.0, 7.0], [1.5, 5.5, 0.5, 2.5, 6.5], "noise", "0.35"),
        ([1.5, 5.5, 0.5, 2.5, 6.5], [5.0, 1.0, 6.0, 2.0, 7.0], "noise", "0.35"),
    ):
        got = _recovery(base, new)
        assert (got.kind, got.runs, got.why) == (kind, "5/5", said + why), (base, new)


def test_a_p_value_equal_to_the_level_is_not_below_it() -> None:
    """Three runs a side with one pair the other way give p = 2/20 = 0.1 exactly: at --alpha
    0.1 that is no change either way (p must be below alpha, as a side's runs must be able to
    go below it); at 0.11 it is."""
    low, high = [1.0, 2.0, 3.0], [2.5, 4.0, 5.0]
    for base, new in ((low, high), (high, low)):
        got = _recovery(base, new, alpha=0.1)
        assert (got.kind, got.why) == ("noise", "Mann-Whitney U, 3 vs 3 runs: p=0.1")
    assert _recovery(low, high, alpha=0.11).kind == "regression"
    assert _recovery(high, low, alpha=0.11).kind == "improved"


def test_the_test_is_used_only_when_a_sides_runs_can_go_below_the_level() -> None:
    """Five runs a side reach p = 1/252 at best: at alpha = 1/252 they cannot go below it, and
    only a 2x change is judged; just above it a 1.5x change is tested, and is a regression. A
    side needs 4 runs for 0.05, 5 for 0.01, 6 for 1/252."""
    assert smallest_p(5, 5) == 1 / 252 and smallest_p(0, 5) == p_larger([], [1.0] * 5) == 1.0
    doubled, slower = [v * 2 for v in BASE], [v * 1.5 for v in BASE]
    got = _recovery(BASE, doubled, alpha=1 / 252)
    assert (got.kind, got.why) == (
        "regression", "5 vs 5 runs: too few to test (p < 0.004 needs 6 a side): 2x or more only"
    )  # fmt: skip
    assert judge("recovery_s", BASE, slower, alpha=1 / 252) == "noise"
    assert judge("recovery_s", BASE, slower, alpha=1.5 / 252) == "regression"
    assert (runs_needed(0.05), runs_needed(0.01), runs_needed(1 / 252)) == (4, 5, 6)


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


# Six runs a side of a downtime (1/924 at best): baseline runs, new runs.
CLEAR = ([1.0, 1.1, 1.2, 1.3, 1.4, 1.5], [2.0, 2.1, 2.2, 2.3, 2.4, 2.5])  # p = 1/924
NEAR = ([1.0, 1.1, 1.2, 1.3, 1.4, 3.0], [2.0, 2.1, 2.2, 3.1, 3.2, 3.3])  # p = 7/924
LESS = ([1.0, 1.1, 1.2, 1.3, 2.5, 3.0], [2.0, 2.1, 3.1, 3.2, 3.3, 3.4])  # p = 12/924


def test_holm_tests_the_smallest_p_first_at_the_strictest_level() -> None:
    """Two other figures of a variant: the clearer one (p = 1/924) must beat 0.01/2, then the
    next (p = 7/924) only 0.01, whichever comes first in the table: both are regressions."""
    assert (p_larger(*CLEAR), p_larger(*NEAR), p_larger(*LESS)) == (1 / 924, 7 / 924, 12 / 924)
    got = _downtimes({"a": NEAR, "b": CLEAR})
    said = "Mann-Whitney U, 6 vs 6 runs: p="
    assert (got["a"].kind, got["a"].why) == ("regression", said + "0.0076 < 0.01")
    assert (got["b"].kind, got["b"].why) == ("regression", said + "0.0011 < 0.005")


def test_holm_stops_at_the_first_figure_that_fails_its_level() -> None:
    """Two figures at p = 7/924: alone either is a regression; together the first fails 0.01/2,
    and every figure after it fails too: both noise. A p-value equal to its level fails it
    (alpha = 14/924: the first level is 7/924), so the next figure (p = 12/924, a regression on
    its own) is not tested against the relaxed level either."""
    assert judge("downtime_s", *NEAR) == "regression"
    got = _downtimes({"a": NEAR, "b": NEAR})
    assert (got["a"].kind, got["b"].kind) == ("noise", "noise")
    alpha = 14 / 924
    assert judge("downtime_s", *LESS, alpha=alpha) == "regression"
    got = _downtimes({"a": NEAR, "b": LESS}, alpha=alpha)
    assert (got["a"].kind, got["b"].kind) == ("noise", "noise")


def test_beyond_forty_runs_a_side_the_p_value_is_the_normal_approximation() -> None:
    """Up to 40 runs a side p is exact (checked against the Gaussian binomial coefficients,
    which count the orderings by U); beyond, the normal approximation with continuity
    correction, here within 0.001 of the exact value."""
    for size, shift in ((40, 13.0), (41, 13.0), (41, 23.0)):
        base = [float(i) for i in range(0, 2 * size, 2)]
        new = [v + shift for v in base]
        u = sum(1 for x in base for y in new if y > x)
        counts = _orderings_by_u(size, size)
        exact = sum(counts[u:]) / math.comb(2 * size, size)
        if size <= 40:
            assert math.isclose(p_larger(base, new), exact, rel_tol=1e-12)
            continue
        normal = statistics.NormalDist(size * size / 2, math.sqrt(size**2 * (2 * size + 1) / 12))
        assert math.isclose(p_larger(base, new), 1 - normal.cdf(u - 0.5), rel_tol=1e-9)
        assert abs(p_larger(base, new) - exact) < 0.001 and p_larger(base, new) != exact


def _orderings_by_u(m: int, n: int) -> list[int]:
    """How many orderings of m x's and n y's give each U: the coefficients of the Gaussian
    binomial [m+n choose m]_q = prod_{i=1..m} (1 - q^(n+i)) / (1 - q^i)."""
    poly = [1] + [0] * (m * n)
    for i in range(1, m + 1):
        for j in range(m * n, n + i - 1, -1):
            poly[j] -= poly[j - n - i]
    for i in range(1, m + 1):
        for j in range(i, m * n + 1):
            poly[j] += poly[j - i]
    assert sum(poly) == math.comb(m + n, m)
    return poly


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

    from reboot_harness.report import write_reports
    from reboot_harness.report.serialize import schema
    from reboot_harness.run.loop import ScenarioResult

    results = []
    for k in (1, 2, 3):
        r = ScenarioResult("cold-start", "fixed", True, "recovered", 20.0, f"p{k}", repeat=k)
        results.append(r)
    write_reports(results, tmp_path / "night")
    doc = json.loads((tmp_path / "night" / "results.json").read_text())
    jsonschema.validate(doc, schema("run"))
    assert [s["repeat"] for s in doc["scenarios"]] == [1, 2, 3]
    assert [s.repeat for s in load_results(tmp_path / "night")] == [1, 2, 3]
    assert results[1].title == "cold-start [fixed] #2"
    got = compare_results(load_results(tmp_path / "night"), load_results(tmp_path / "night"))
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


def test_bad_floors_and_alphas_are_refused_with_the_way_out() -> None:
    """Zero floors are valid (any change counts); alpha 0.5 is not a one-sided level. Each
    refusal names the option, the text, and what is expected."""
    assert parse_floor("lost_writes=0,0") == ("lost_writes", Floor(0.0, 0.0))
    for bad, said in (
        ("speed=1,1", "--floor 'speed=1,1': unknown metric 'speed'; valid: recovery_s, "
         "downtime_s, longest_s, errors, reconnect_s, lost_writes"),
        ("downtime_s=x", "--floor 'downtime_s=x': expected METRIC=REL,ABS (e.g. downtime_s=0.5,1)"),
        ("downtime_s=0.5=1", "--floor 'downtime_s=0.5=1': expected METRIC=REL,ABS"),
        ("downtime_s=-1,0", "--floor 'downtime_s=-1,0': REL and ABS must be finite and >= 0"),
    ):  # fmt: skip
        with pytest.raises(UsageError, match=re.escape(said)):
            parse_floor(bad)
    with pytest.raises(
        UsageError,
        match=re.escape("--alpha '0.5': expected a p-value between 0 and 0.5 (e.g. 0.01)"),
    ):
        parse_alpha("0.5")


def test_what_is_not_a_results_json_is_a_usage_error_naming_the_file(tmp_path: Path) -> None:
    """A folder without one, a file that is not JSON, JSON that is no results document, another
    schema_version, a scenario that is not a result: one line each, naming the file. A result
    with only name, variant and passed is enough."""
    (tmp_path / "empty").mkdir()
    with pytest.raises(
        UsageError, match=r"empty: no results\.json in this folder or the ones in it"
    ):
        load_results(tmp_path / "empty")
    cases = {
        "text.json": ("not json", "text.json: not a results.json (Expecting value"),
        "list.json": ("[1, 2]", 'list.json: not a results.json (no "scenarios" list)'),
        "none.json": ('{"runs": []}', 'none.json: not a results.json (no "scenarios" list)'),
        "v9.json": ('{"schema_version": 9, "scenarios": []}',
                    "v9.json: schema_version 9; this reboot-harness reads 1"),
        "odd.json": ('{"scenarios": [1]}',
                     "odd.json: a scenario result without name, variant and passed"),
        "part.json": ('{"scenarios": [{"name": "a", "variant": "fixed"}]}',
                      "part.json: a scenario result without name, variant and passed"),
    }  # fmt: skip
    for name, (text, said) in cases.items():
        (tmp_path / name).write_text(text)
        with pytest.raises(UsageError, match=re.escape(said)):
            load_results(tmp_path / name)
    least = _write(tmp_path, "least.json", [{"name": "a", "variant": "fixed", "passed": True}])
    # a key the file lacks reads as its default, or empty
    from reboot_harness.judging.result import ScenarioResult

    assert load_results(least) == [ScenarioResult("a", "fixed", True, "", 0.0, "")]


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


def test_an_outcome_says_how_many_runs_passed_on_each_side() -> None:
    """One run a side: pass or FAIL; several: "k/n pass". A variant failing on both sides is
    shown as noise, one passing on both has no outcome change at all; an outcome is never a
    figure of the large-change rule."""

    def outcome(base: list[dict[str, Any]], new: list[dict[str, Any]]) -> list[Change]:
        got = compare(base, new)
        assert got.large_only == 0
        return [c for c in got.changes if c.metric == "outcome"]

    def runs(passed: int, n: int) -> list[dict[str, Any]]:
        return [_result(passed=i < passed, repeat=i + 1) for i in range(n)]

    key = "week[fixed]"
    assert outcome([_result()], [_result(passed=False)]) == [
        Change(key, "", "outcome", "pass", "FAIL", "regression", "1/1", "failed in 1 of 1 new runs")
    ]
    assert outcome([_result(passed=False)], [_result()]) == [
        Change(key, "", "outcome", "FAIL", "pass", "improved", "1/1", "passed in every new run")
    ]
    assert outcome([_result(passed=False)], [_result(passed=False)]) == [
        Change(key, "", "outcome", "FAIL", "FAIL", "noise", "1/1", "failed on both sides")
    ]
    assert outcome(runs(5, 5), runs(3, 5)) == [
        Change(key, "", "outcome", "5/5 pass", "3/5 pass", "regression", "5/5",
               "failed in 2 of 5 new runs")
    ]  # fmt: skip
    assert outcome(runs(2, 5), runs(3, 3)) == [
        Change(
            key, "", "outcome", "2/5 pass", "3/3 pass", "improved", "5/3", "passed in every new run"
        )
    ]
    assert outcome(runs(4, 5), runs(1, 2)) == [
        Change(key, "", "outcome", "4/5 pass", "1/2 pass", "noise", "5/2", "failed on both sides")
    ]
    assert outcome(runs(5, 5), runs(2, 2)) == [] == outcome([_result()], [_result()])


def test_added_removed_and_renamed_scenarios_are_changes_of_their_own() -> None:
    """Removed ones first (a renamed one among them, in the baseline's order), then added ones;
    a renamed one is then compared under its new name."""
    base = [_result("old-name", hosts=("redis2",)), _result("gone", hosts=("x",))]
    new = [_result("new-name", hosts=("redis2",)), _result("fresh", hosts=("y",))]
    got = compare(base, new).changes
    assert got[:3] == [
        Change("old-name[fixed]", "", "name", "old-name[fixed]", "new-name[fixed]", "renamed"),
        Change("gone[fixed]", "", "scenario", "present", None, "removed"),
        Change("fresh[fixed]", "", "scenario", None, "present", "added"),
    ]
    assert {c.scenario for c in got[3:]} == {"new-name[fixed]"}


def test_a_rename_is_told_by_the_faults_and_operations_and_their_hosts_only() -> None:
    """Scenarios that powered off the same hosts in the same order are one renamed, whatever
    bookkeeping events (a heal) they recorded besides; one that killed them instead of powering
    them off did something else: removed and added."""
    old, same, other = (_result(name, hosts=("redis2",)) for name in ("old", "same", "other"))
    same["events"].append({"t": 3.0, "kind": "heal", "host": "redis2", "detail": "",
                           "duration_s": 0.1})  # fmt: skip
    other["events"][0]["kind"] = "kill"
    assert [(c.scenario, c.kind, c.new) for c in compare([old], [same]).changes[:1]] == [
        ("old[fixed]", "renamed", "same[fixed]")
    ]
    assert [(c.scenario, c.kind) for c in compare([old], [other]).changes] == [
        ("old[fixed]", "removed"), ("other[fixed]", "added")
    ]  # fmt: skip


def _night(n: int, new: bool) -> list[dict[str, Any]]:
    """n runs of `week`: lb1's downtime 1 s -> 9 s, mysql2's 9 s -> 1 s, one more failed
    operation on each row and a write lost in the first new run; and a scenario removed or
    added."""
    runs = []
    for j in range(n):
        r = _result(repeat=j + 1)
        lb1, mysql2 = r["verdicts"]["hosts"]
        lb1["downtime_s"], mysql2["downtime_s"] = (9.0, 1.0) if new else (1.0, 9.0)
        if new:
            lb1["errors"] = mysql2["errors"] = 3
            mysql2["lost_writes"] = int(j == 0)
        runs.append(r)
    return [*runs, _result("fresh", hosts=("y",)) if new else _result("gone", hosts=("x",))]


def test_the_summary_counts_each_kind_and_the_figures_judged_by_the_large_change_rule() -> None:
    """Regressions first, the other kinds by name with their counts ("same" left out), then,
    when figures had too few runs for the test, how many and what would do."""
    assert summary(compare([_result()], [_result()])) == "no regression"
    assert summary(compare([], [])) == "no regression"
    moved = compare([_result("gone", hosts=("x",))], [_result("fresh", hosts=("y",))])
    assert summary(moved) == "no regression; also 1 added, 1 removed"
    later = "and one commit's single runs sometimes differ that much; run each side 5 times or more"
    later += " (`run --repeat N`, `pytest --rh-repeat N`) to have each figure tested"
    worse = _result()
    worse["verdicts"]["hosts"][0]["downtime_s"] = 9.0
    got = compare([_result()], [worse])
    assert got.large_only == 1
    assert summary(got) == (
        "1 regression. With 1 run against 1 per scenario, only changes of 2x or more can be seen"
        " (1 figure), " + later
    )
    got = compare(_night(3, new=False), _night(2, new=True))
    assert got.large_only == 4 and got.runs == (3, 2)
    said = summary(got)
    head, _, tail = later.partition(" 5 times")
    assert said.startswith(
        "2 regressions; also 1 added, 1 improved, 2 within the noise, 1 removed. With 3 runs"
        " against 2 per scenario, only changes of 2x or more can be seen (4 figures), " + head
    )
    assert said.endswith(" times" + tail)  # how many: the test below


def test_the_summary_asks_for_the_runs_its_untested_figures_would_need() -> None:
    """The runs a side the summary asks for are what the figures judged by the large-change
    rule need, as each one's reason says: five figures sharing 0.01 need 6 a side (1/924 <
    0.01/5); a lone recovery at --alpha 0.05 needs 4 (1/70 < 0.05)."""
    got = compare(_night(3, new=False), _night(2, new=True))
    (lb1,) = [c for c in got.changes if (c.where, c.metric) == ("lb1/mysql", "downtime_s")]
    assert "needs 6 a side" in lb1.why
    assert "run each side 6 times or more" in summary(got)
    lone = compare([_result(recovery=4.0)], [_result(recovery=8.0)], alpha=0.05)
    assert "needs 4 a side" in next(c.why for c in lone.changes if c.metric == "recovery_s")
    assert "run each side 4 times or more" in summary(lone)


def test_the_table_shows_units_dashes_and_plain_counts_and_leaves_out_the_noise() -> None:
    """Seconds with two decimals and a unit, counts as they are, "-" for no value and for the
    variant itself; noise and unchanged figures only when everything is asked for."""
    got = compare(_night(3, new=False), _night(2, new=True))
    why = "3 vs 2 runs: too few to test (p < 0.002 needs 6 a side): 2x or more only"
    shown = [
        ["gone[fixed]", "-", "scenario", "present", "-", "removed", "1/1", ""],
        ["fresh[fixed]", "-", "scenario", "-", "present", "added", "1/1", ""],
        ["week[fixed]", "lb1/mysql", "downtime_s", "1.00 s", "9.00 s", "regression", "3/2", why],
        ["week[fixed]", "mysql2/mysql", "downtime_s", "9.00 s", "1.00 s", "improved", "3/2", why],
        ["week[fixed]", "mysql2/mysql", "lost_writes", "0", "0.5", "regression", "3/2",
         "writes lost in 1 of 2 new runs; none before"],
    ]  # fmt: skip
    assert rows(got) == shown and [c.kind for c in got.shown()] == [r[5] for r in shown]
    everything = rows(got, True)
    assert len(everything) == len(got.changes) == 12
    assert ["week[fixed]", "-", "recovery_s", "4.00 s", "4.00 s", "same", "3/2", ""] in everything
    assert ["week[fixed]", "lb1/mysql", "errors", "2", "3", "noise", "3/2", why] in everything
    assert ["week[fixed]", "lb1/mysql", "reconnect_s", "-", "-", "same", "3/2", ""] in everything


def test_report_folders_are_read_one_level_down(tmp_path: Path) -> None:
    """A pytest --rh-report folder holds one folder per item, each with its results.json."""
    for item in ("a", "b"):
        (tmp_path / item).mkdir()
        _write(tmp_path / item, "results.json", [_result(item)])
    assert sorted(s.name for s in load_results(tmp_path)) == ["a", "b"]


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
    from reboot_harness.report.history import load_nights, render, series

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
    from reboot_harness.report.history import load_nights, render, series

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
