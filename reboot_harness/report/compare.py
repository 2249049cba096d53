"""Two sets of runs side by side: what got worse beyond the noise (``reboot-harness compare``).

Each side is a ``results.json`` (``run --report DIR``, ``run --json``, ``pytest --rh-report``)
or a folder holding some (report folders of pytest items are searched one level down). A side
may hold several runs of one scenario variant (``run --repeat N``, ``pytest --rh-repeat N``, or
report folders of several nights put side by side): each figure's values over those runs are
its samples. Compared, per scenario variant:

- its outcome, and its longest wait for recovery (``recovery_s``: the ``recovered`` events of
  the run, each ``wait_recovered``, each rolling reboot's wait and the final recovery);
- per host x service (the downtime table): downtime, failed operations, the longest reconnect,
  acknowledged writes lost;
- per service: the longest downtime window.

How a figure is judged (``regression``, ``improved``, ``noise`` or ``same``):

- **with enough runs on both sides** (five each, by default), by a one-sided Mann-Whitney U
  test, exact, ties counted against the change (as ``asv compare`` does; a rank test, not
  pyperf's t-test on means, because one slow boot in five would move a mean): a regression
  when the new runs are larger with p < ``alpha`` (0.01) *and* the medians differ by more than
  the figure's effect floor (10 % of the baseline's median and an absolute amount, e.g. 0.25 s
  of recovery), so that a statistically clear but tiny change is not one. ``recovery_s`` is
  each variant's headline and is tested at ``alpha``; the other figures of the variant (often
  dozens) share ``alpha`` (Holm's step-down correction), so that a variant is not flagged
  because one of many figures came out high by chance — with five runs a side they cannot
  reach it and are judged as with fewer runs;
- **with fewer** (one run per side, as a night without ``--repeat``), only a large change is
  judged: the medians differ by 2x or more and by the figure's large-change amount (e.g. 1 s of
  recovery). The same commit's single runs spread that much now and then: the summary says so,
  and how many runs a side would need for the test.

Whatever the numbers: a variant that passed in every baseline run and failed in a new one is a
regression (one that now passes is an improvement); a figure present on one side only is shown
as ``appeared`` or ``disappeared`` — never noise — and is a regression when it means harm: lost
writes or failed operations appearing, a recovery that no longer happens. Acknowledged writes
lost where the baseline lost none are a regression in any number. Scenarios only in one run are
``added`` or ``removed``; a removed and an added one that did the same things to the same hosts
(their faults and operations, in order) are ``renamed``. Pure: no Docker.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from reboot_harness.errors import UsageError
from reboot_harness.judging.result import ScenarioResult
from reboot_harness.model.events import Category, EventKind
from reboot_harness.report.serialize import load_results
from reboot_harness.report.significance import holm, p_larger, runs_needed, smallest_p


@dataclass(frozen=True)
class Floor:
    """A metric's effect floor: a change is never a regression unless the medians differ by
    more than ``rel`` x the baseline's median *and* by more than ``abs_``."""

    rel: float
    abs_: float


# Small on purpose: the test tells noise from a change; these only keep a clear but tiny change
# (3.00 s -> 3.10 s, one more failed request) from being called a regression.
FLOORS: Mapping[str, Floor] = {
    "recovery_s": Floor(0.10, 0.25),
    "downtime_s": Floor(0.10, 0.25),
    "longest_s": Floor(0.10, 0.25),
    "errors": Floor(0.10, 2.0),
    "reconnect_s": Floor(0.10, 0.1),
    "lost_writes": Floor(0.0, 0.0),  # any acknowledged write lost is a regression
}
# Too few runs for the test: only a change of LARGE_FACTOR x or more, and at least this much,
# is judged. A doubled recovery (3 s -> 6 s) is seen; the spread of one commit's single runs is
# sometimes that large too (bench/RESULTS.md, "compare and the spread of one commit").
LARGE_FACTOR = 2.0
LARGE: Mapping[str, float] = {
    "recovery_s": 1.0, "downtime_s": 1.0, "longest_s": 1.0, "errors": 5.0, "reconnect_s": 0.5,
    "lost_writes": 0.0,
}  # fmt: skip
ALPHA = 0.01
HEADLINE = "recovery_s"  # tested on its own; the others of a variant share ALPHA (Holm)
UNITS: Mapping[str, str] = {
    "recovery_s": "s", "downtime_s": "s", "longest_s": "s", "errors": "", "reconnect_s": "s",
    "lost_writes": "",
}  # fmt: skip
# Figures whose appearing (a row the baseline did not have) is harm when above zero.
HARM_WHEN_APPEARING = ("lost_writes", "errors")


@dataclass(frozen=True)
class Change:
    """One compared value. ``kind``: regression, improved, noise, same, appeared, disappeared,
    added, removed, renamed. ``baseline``/``new``: the value, or the median over the runs;
    ``runs``: how many runs each side had (``"5/5"``); ``why``: how it was judged."""

    scenario: str  # "name[variant]"
    where: str  # "host/service", "service" or "" (the variant itself)
    metric: str
    baseline: float | str | None
    new: float | str | None
    kind: str
    runs: str = "1/1"
    why: str = ""

    @property
    def regression(self) -> bool:
        return self.kind == "regression"


@dataclass
class Comparison:
    baseline: str
    new: str
    changes: list[Change] = field(default_factory=list)
    runs: tuple[int, int] = (0, 0)  # the fewest runs of a compared variant, per side
    large_only: int = 0  # figures judged by the large-change rule (too few runs for the test)
    needed: int = 0  # runs a side that would have each of those figures tested

    @property
    def regressions(self) -> list[Change]:
        return [c for c in self.changes if c.regression]

    def shown(self, everything: bool = False) -> list[Change]:
        """What a reader needs: everything but values within the noise (all when asked)."""
        return [c for c in self.changes if everything or c.kind not in ("noise", "same")]


# -- reading ----------------------------------------------------------------------------------
def key_of(s: ScenarioResult) -> str:
    """``name[variant]``: what a scenario result is compared under (its repeats pooled)."""
    return f"{s.name}[{s.variant}]"


def _number(v: float | None) -> float | None:
    return None if v is None or not math.isfinite(v) else float(v)


def metrics(s: ScenarioResult) -> dict[tuple[str, str], float | None]:
    """(where, metric) -> value of one scenario result."""
    out: dict[tuple[str, str], float | None] = {}
    waits = [_number(e.duration_s) for e in s.events if e.kind is EventKind.RECOVERED]
    waits_ok = [w for w in waits if w is not None]
    out[("", "recovery_s")] = max(waits_ok) if waits_ok else None
    if s.summary is None:
        return out
    for row in s.summary.hosts:
        where = f"{row.host}/{row.service}"
        out[(where, "downtime_s")] = _number(row.downtime_s)
        out[(where, "errors")] = _number(row.errors)
        out[(where, "reconnect_s")] = _number(row.reconnect_max_s)
        out[(where, "lost_writes")] = _number(row.lost_writes)
    for svc in s.summary.services:
        if svc.ops:
            out[(svc.service, "longest_s")] = _number(svc.longest_s)
    return out


def _signature(s: ScenarioResult) -> tuple[tuple[str, str], ...]:
    """What the run did, in order: its faults and operations with their hosts."""
    return tuple(
        (e.kind.value, e.host) for e in s.events if e.kind.category is not Category.BOOKKEEPING
    )


@dataclass(frozen=True)
class _Figure:
    """One figure of one scenario variant, over the runs of each side (None: not in that run)."""

    where: str
    metric: str
    base: tuple[float | None, ...]
    new: tuple[float | None, ...]

    @property
    def base_values(self) -> list[float]:
        return [v for v in self.base if v is not None]

    @property
    def new_values(self) -> list[float]:
        return [v for v in self.new if v is not None]

    @property
    def testable(self) -> bool:
        """Values on both sides, not all equal: it can take part in a test."""
        b, n = self.base_values, self.new_values
        return bool(b and n) and len({*b, *n}) > 1


@dataclass(frozen=True)
class _Levels:
    """What a figure's one-sided p-values must beat to be a regression (``worse``) or an
    improvement (``better``); ``first``: the smallest level of its family, which its sample
    sizes must be able to reach for the test to be used at all (else: large changes only)."""

    worse: float
    better: float
    first: float


@dataclass(frozen=True)
class _Verdict:
    kind: str
    why: str = ""
    large_only: bool = False  # too few runs for the test: judged by the large-change rule


def _beyond(metric: str, base: float, new: float, floors: Mapping[str, Floor], large: bool) -> bool:
    """Whether ``new`` is worse than ``base`` by more than the figure's effect floor (with
    ``large``, also by LARGE_FACTOR x and the large-change amount)."""
    floor = floors[metric]
    delta = new - base
    if not (delta > floor.abs_ and delta > floor.rel * abs(base)):
        return False
    return not large or (delta >= LARGE[metric] and new >= LARGE_FACTOR * base)


def judge(
    metric: str,
    base: Sequence[float | None] | float | None,
    new: Sequence[float | None] | float | None,
    floors: Mapping[str, Floor] = FLOORS,
    *,
    alpha: float = ALPHA,
) -> str:
    """regression / improved / noise / same / appeared / disappeared for one figure judged on
    its own, given its value on each side (one run) or its values over the runs (a sequence;
    None: not in that run)."""
    fig = _Figure("", metric, _as_runs(base), _as_runs(new))
    return _judge_one(fig, floors, _Levels(alpha, alpha, alpha)).kind


def _as_runs(v: Sequence[float | None] | float | None) -> tuple[float | None, ...]:
    if v is None or isinstance(v, int | float):
        return (None if v is None else float(v),)
    return tuple(v)


def _judge_one(fig: _Figure, floors: Mapping[str, Floor], levels: _Levels) -> _Verdict:
    base, new = fig.base_values, fig.new_values
    runs = f"{len(fig.base)} vs {len(fig.new)} runs"
    if not base and not new:
        return _Verdict("same")
    if not base or not new:
        return _presence(fig, appeared=not base)
    if fig.metric == HEADLINE and len(new) < len(fig.new) and len(base) == len(fig.base):
        never = len(fig.new) - len(new)
        return _Verdict("regression", f"never recovered in {never} of {len(fig.new)} new runs")
    if fig.metric == "lost_writes" and max(base) == 0 and max(new) > 0:
        lost = sum(1 for v in new if v > 0)
        return _Verdict("regression", f"writes lost in {lost} of {len(new)} new runs; none before")
    if not fig.testable or sorted(base) == sorted(new):
        return _Verdict("same")
    mb, mn = statistics.median(base), statistics.median(new)
    if smallest_p(len(base), len(new)) >= levels.first:
        why = (
            f"{runs}: too few to test (p < {levels.first:.2g} needs"
            f" {runs_needed(levels.first)} a side): {LARGE_FACTOR:g}x or more only"
        )
        kind = "noise"
        if _beyond(fig.metric, mb, mn, floors, large=True):
            kind = "regression"
        elif _beyond(fig.metric, mn, mb, floors, large=True):
            kind = "improved"
        return _Verdict(kind, why, large_only=True)
    worse, better = p_larger(base, new), p_larger(new, base)
    said = f"Mann-Whitney U, {runs}"
    if worse < levels.worse and _beyond(fig.metric, mb, mn, floors, large=False):
        return _Verdict("regression", f"{said}: p={worse:.2g} < {levels.worse:.2g}")
    if better < levels.better and _beyond(fig.metric, mn, mb, floors, large=False):
        return _Verdict("improved", f"{said}: p={better:.2g} < {levels.better:.2g}")
    if worse < levels.worse or better < levels.better:
        return _Verdict("noise", f"{said}: p={min(worse, better):.2g}, within the effect floor")
    return _Verdict("noise", f"{said}: p={min(worse, better):.2g}")


def _presence(fig: _Figure, *, appeared: bool) -> _Verdict:
    """A figure on one side only: never noise; a regression when it means harm."""
    if appeared:
        values = fig.new_values
        harm = fig.metric in HARM_WHEN_APPEARING and max(values) > 0
        what = f"not in the baseline; in {len(values)} of {len(fig.new)} new runs"
        return _Verdict("regression" if harm else "appeared", what)
    if fig.metric == HEADLINE:
        return _Verdict("regression", f"never recovered in the {len(fig.new)} new runs")
    return _Verdict("disappeared", f"in {len(fig.base_values)} of {len(fig.base)} baseline runs")


def levels_of(figures: Sequence[_Figure], alpha: float) -> list[_Levels]:
    """Each figure's levels: the headline (recovery) its own ``alpha``; the others of the
    variant that can be tested share ``alpha`` by Holm's correction, each direction apart."""
    others = [i for i, f in enumerate(figures) if f.metric != HEADLINE and f.testable]
    out = [_Levels(alpha, alpha, alpha) for _ in figures]
    if others:
        k = len(others)
        worse = holm([p_larger(figures[i].base_values, figures[i].new_values) for i in others],
                      alpha)  # fmt: skip
        better = holm([p_larger(figures[i].new_values, figures[i].base_values) for i in others],
                       alpha)  # fmt: skip
        for j, i in enumerate(others):
            out[i] = _Levels(worse[j], better[j], alpha / k)
    return out


# -- comparing --------------------------------------------------------------------------------
def compare(
    baseline: Sequence[ScenarioResult],
    new: Sequence[ScenarioResult],
    *,
    floors: Mapping[str, Floor] = FLOORS,
    names: tuple[str, str] = ("baseline", "new"),
    alpha: float = ALPHA,
) -> Comparison:
    """Each side's scenario results (a variant's repeats are its runs) compared variant by
    variant (see the module docstring)."""
    result = Comparison(*names)
    old_by: dict[str, list[ScenarioResult]] = {}
    new_by: dict[str, list[ScenarioResult]] = {}
    for s in baseline:
        old_by.setdefault(key_of(s), []).append(s)
    for s in new:
        new_by.setdefault(key_of(s), []).append(s)
    removed = [k for k in old_by if k not in new_by]
    added = [k for k in new_by if k not in old_by]
    renamed: dict[str, str] = {}
    for k in removed:
        sig = _signature(old_by[k][0])
        match = next(
            (
                a
                for a in added
                if a not in renamed.values() and _signature(new_by[a][0]) == sig and sig
            ),
            None,
        )
        if match is not None:
            renamed[k] = match
    for k in removed:
        if k in renamed:
            result.changes.append(Change(k, "", "name", k, renamed[k], "renamed"))
        else:
            result.changes.append(Change(k, "", "scenario", "present", None, "removed"))
    for a in added:
        if a not in renamed.values():
            result.changes.append(Change(a, "", "scenario", None, "present", "added"))
    pairs = [(k, old_by[k], new_by[k]) for k in old_by if k in new_by]
    pairs += [(renamed[k], old_by[k], new_by[renamed[k]]) for k in renamed]
    if pairs:
        result.runs = (min(len(p[1]) for p in pairs), min(len(p[2]) for p in pairs))
    for key, old_runs, new_runs in pairs:
        for change, needed in _compare_one(key, old_runs, new_runs, floors, alpha):
            result.changes.append(change)
            result.large_only += needed > 0
            result.needed = max(result.needed, needed)
    return result


def _outcome(key: str, old: Sequence[ScenarioResult], new: Sequence[ScenarioResult],
             runs: str) -> Change | None:  # fmt: skip
    """Passed in every baseline run and failed in a new one: a regression (and back: improved);
    both sides failing some runs: shown, as noise."""
    passed_old = sum(s.passed for s in old)
    passed_new = sum(s.passed for s in new)

    def said(passed: int, n: int) -> str:
        return ("pass" if passed else "FAIL") if n == 1 else f"{passed}/{n} pass"

    was, now = said(passed_old, len(old)), said(passed_new, len(new))
    if passed_old == len(old) and passed_new < len(new):
        return Change(key, "", "outcome", was, now, "regression", runs,
                      f"failed in {len(new) - passed_new} of {len(new)} new runs")  # fmt: skip
    if passed_old < len(old) and passed_new == len(new):
        return Change(key, "", "outcome", was, now, "improved", runs, "passed in every new run")
    if passed_old < len(old) or passed_new < len(new):
        return Change(key, "", "outcome", was, now, "noise", runs, "failed on both sides")
    return None


def _compare_one(
    key: str,
    old_runs: Sequence[ScenarioResult],
    new_runs: Sequence[ScenarioResult],
    floors: Mapping[str, Floor],
    alpha: float,
) -> Iterable[tuple[Change, int]]:
    """The changes of one scenario variant, each with the runs a side its test would need
    when it was judged by the large-change rule (else 0)."""
    runs = f"{len(old_runs)}/{len(new_runs)}"
    flip = _outcome(key, old_runs, new_runs, runs)
    if flip is not None:
        yield flip, 0
    old_m = [metrics(s) for s in old_runs]
    new_m = [metrics(s) for s in new_runs]
    figures = [
        _Figure(where, metric, tuple(m.get((where, metric)) for m in old_m),
                tuple(m.get((where, metric)) for m in new_m))
        for where, metric in sorted({k for m in (*old_m, *new_m) for k in m})
    ]  # fmt: skip
    for f, levels in zip(figures, levels_of(figures, alpha), strict=True):
        v = _judge_one(f, floors, levels)
        change = Change(key, f.where, f.metric, _shown(f.base_values), _shown(f.new_values),
                        v.kind, runs, v.why)  # fmt: skip
        yield change, runs_needed(levels.first) if v.large_only else 0


def _shown(values: Sequence[float]) -> float | None:
    """The value a side shows: its only value, or the median over its runs."""
    return float(statistics.median(values)) if values else None


# -- floors from the command line -----------------------------------------------------------
def parse_floor(text: str) -> tuple[str, Floor]:
    """``downtime_s=0.3,2`` -> ("downtime_s", Floor(0.3, 2.0)); a UsageError naming the valid
    metrics otherwise."""
    name, _, value = text.partition("=")
    rel, _, abs_ = value.partition(",")
    if name not in FLOORS:
        raise UsageError(f"--floor {text!r}: unknown metric {name!r}; valid: {', '.join(FLOORS)}")
    try:
        floor = Floor(float(rel), float(abs_))
    except ValueError:
        raise UsageError(
            f"--floor {text!r}: expected METRIC=REL,ABS (e.g. downtime_s=0.5,1)"
        ) from None
    if (
        not (math.isfinite(floor.rel) and math.isfinite(floor.abs_))
        or min(floor.rel, floor.abs_) < 0
    ):
        raise UsageError(f"--floor {text!r}: REL and ABS must be finite and >= 0")
    return name, floor


def parse_alpha(text: str) -> float:
    """``--alpha P``: a p-value in (0, 0.5); a UsageError otherwise."""
    try:
        alpha = float(text)
    except ValueError:
        alpha = math.nan
    if not 0 < alpha < 0.5:
        raise UsageError(f"--alpha {text!r}: expected a p-value between 0 and 0.5 (e.g. 0.01)")
    return alpha


# -- output -----------------------------------------------------------------------------------
def show(v: float | str | None, metric: str) -> str:
    if v is None:
        return "-"
    if isinstance(v, str):
        return v
    unit = UNITS.get(metric, "")
    return f"{v:g}" if not unit else f"{v:.2f} {unit}"


def rows(comparison: Comparison, everything: bool = False) -> list[list[str]]:
    return [
        [c.scenario, c.where or "-", c.metric, show(c.baseline, c.metric), show(c.new, c.metric),
         c.kind, c.runs, c.why]
        for c in comparison.shown(everything)
    ]  # fmt: skip


HEADINGS = ["scenario", "where", "metric", "baseline", "new", "change", "runs", "why"]


def summary(comparison: Comparison) -> str:
    """``2 regressions; also 1 improved, 14 within the noise`` — and, when some figures had too
    few runs for the test, what that means and how many runs a side would need."""
    counts: dict[str, int] = {}
    for c in comparison.changes:
        counts[c.kind] = counts.get(c.kind, 0) + 1
    n = counts.pop("regression", 0)
    counts.pop("same", None)
    words = {"noise": "within the noise"}
    others = ", ".join(f"{v} {words.get(k, k)}" for k, v in sorted(counts.items()))
    head = f"{n} regression{'s' if n != 1 else ''}" if n else "no regression"
    line = head + (f"; also {others}" if others else "")
    if comparison.large_only:
        a, b = comparison.runs
        line += (
            f". With {a} run{'s' if a != 1 else ''} against {b} per scenario, only changes of"
            f" {LARGE_FACTOR:g}x or more can be seen ({comparison.large_only}"
            f" figure{'s' if comparison.large_only != 1 else ''}), and one"
            " commit's single runs sometimes differ that much; run each side"
            f" {comparison.needed} times or more (`run --repeat N`, `pytest --rh-repeat N`) to"
            " have each figure tested"
        )
    return line


# `load_results` is report.serialize's, the one reader of results.json; `compare` and `history`
# read through it (imported from here, where they always did)
__all__ = [
    "ALPHA", "FLOORS", "HEADINGS", "HEADLINE", "LARGE", "LARGE_FACTOR", "UNITS", "Change",
    "Comparison", "Floor", "compare", "judge", "key_of", "levels_of", "load_results", "metrics",
    "p_larger", "parse_alpha", "parse_floor", "rows", "runs_needed", "show", "smallest_p",
    "summary",
]  # fmt: skip
