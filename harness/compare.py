"""Two runs side by side: what got worse beyond the noise (``reboot-harness compare``).

Each run is a ``results.json`` (``run --report DIR``, ``run --json``, ``pytest --rh-report``) or
a folder holding one (report folders of pytest items are searched one level down). Compared:

- per scenario variant: its outcome, and its longest wait for recovery (the ``recovered``
  events of the run: each ``wait_recovered`` and the final recovery);
- per host x service (the downtime table): downtime, failed operations, the longest
  reconnect, acknowledged writes lost;
- per service: the longest downtime window.

A change is a **regression** when the new value is worse than the baseline by more than both
noise floors of its metric: the relative one (a fraction of the baseline) and the absolute one
(in the metric's unit). A variant that passed and now fails is a regression whatever the
numbers; one that now passes is an improvement. Scenarios only in one run are ``added`` or
``removed``; a removed and an added one that did the same things to the same hosts (their
faults and operations, in order) are ``renamed``. Pure: no Docker.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.errors import UsageError
from harness.model import Category, EventKind
from harness.serialize import SCHEMA_VERSION


@dataclass(frozen=True)
class Floor:
    """A metric's noise: a change is noise unless it exceeds ``rel`` x baseline and ``abs_``."""

    rel: float
    abs_: float


# Defaults from the run-to-run spread measured on the CI machine (bench/RESULTS.md, "Noise
# floors for compare": 3 repeats of xen-reboot-week and reboot-each-host, one commit): each
# absolute floor is above the largest difference seen between two repeats of the same value
# (recovery 5.2 s, downtime 6.4 s, longest window 3.1 s, errors 16, reconnect 0.15 s), and a
# doubled recovery of a typical run (7 s -> 14 s) is still a regression.
FLOORS: Mapping[str, Floor] = {
    "recovery_s": Floor(0.75, 6.0),
    "downtime_s": Floor(0.5, 7.0),
    "longest_s": Floor(0.5, 4.0),
    "errors": Floor(0.5, 20.0),
    "reconnect_s": Floor(0.5, 2.0),
    "lost_writes": Floor(0.0, 0.0),  # any acknowledged write lost is a regression
}
UNITS: Mapping[str, str] = {
    "recovery_s": "s", "downtime_s": "s", "longest_s": "s", "errors": "", "reconnect_s": "s",
    "lost_writes": "",
}  # fmt: skip


@dataclass(frozen=True)
class Change:
    """One compared value. ``kind``: regression, improved, noise, same, added, removed,
    renamed, flipped."""

    scenario: str  # "name[variant]"
    where: str  # "host/service", "service" or "" (the variant itself)
    metric: str
    baseline: float | str | None
    new: float | str | None
    kind: str

    @property
    def regression(self) -> bool:
        return self.kind == "regression"


@dataclass
class Comparison:
    baseline: str
    new: str
    changes: list[Change] = field(default_factory=list)

    @property
    def regressions(self) -> list[Change]:
        return [c for c in self.changes if c.regression]

    def shown(self, everything: bool = False) -> list[Change]:
        """What a reader needs: everything but values within the noise (all when asked)."""
        return [c for c in self.changes if everything or c.kind not in ("noise", "same")]


# -- reading ----------------------------------------------------------------------------------
def load_results(path: Path) -> list[dict[str, Any]]:
    """The scenario results of a results.json, or of every results.json in a report folder (and
    its subfolders one level down); a UsageError naming the path when there are none."""
    if path.is_dir():
        files = sorted([*path.glob("results.json"), *path.glob("*/results.json")])
        if not files:
            raise UsageError(f"{path}: no results.json in this folder or the ones in it")
    elif path.is_file():
        files = [path]
    else:
        raise UsageError(f"{path}: no such file or folder")
    out: list[dict[str, Any]] = []
    for f in files:
        try:
            data = json.loads(f.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, ValueError) as e:
            raise UsageError(f"{f}: not a results.json ({e})") from None
        if not isinstance(data, dict) or not isinstance(data.get("scenarios"), list):
            raise UsageError(f'{f}: not a results.json (no "scenarios" list)')
        version = data.get("schema_version")
        if version not in (None, SCHEMA_VERSION):  # None: written before schema_version
            raise UsageError(
                f"{f}: schema_version {version!r}; this reboot-harness reads {SCHEMA_VERSION}"
            )
        for s in data["scenarios"]:
            if not isinstance(s, dict) or not {"name", "variant", "passed"} <= set(s):
                raise UsageError(f"{f}: a scenario result without name, variant and passed")
            out.append(s)
    return out


def _key(s: Mapping[str, Any]) -> str:
    return f"{s['name']}[{s['variant']}]"


def _number(v: Any) -> float | None:
    if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v):
        return None
    return float(v)


def metrics(s: Mapping[str, Any]) -> dict[tuple[str, str], float | None]:
    """(where, metric) -> value of one scenario result."""
    out: dict[tuple[str, str], float | None] = {}
    waits = [
        _number(e.get("duration_s"))
        for e in s.get("events") or []
        if isinstance(e, dict) and e.get("kind") == EventKind.RECOVERED.value
    ]
    waits_ok = [w for w in waits if w is not None]
    out[("", "recovery_s")] = max(waits_ok) if waits_ok else None
    verdicts = s.get("verdicts") or {}
    for row in verdicts.get("hosts") or []:
        where = f"{row.get('host')}/{row.get('service')}"
        out[(where, "downtime_s")] = _number(row.get("downtime_s"))
        out[(where, "errors")] = _number(row.get("errors"))
        out[(where, "reconnect_s")] = _number(row.get("reconnect_max_s"))
        out[(where, "lost_writes")] = _number(row.get("lost_writes"))
    for svc in verdicts.get("services") or []:
        if svc.get("ops"):
            out[(str(svc.get("service")), "longest_s")] = _number(svc.get("longest_s"))
    return out


def _signature(s: Mapping[str, Any]) -> tuple[tuple[str, str], ...]:
    """What the run did, in order: its faults and operations with their hosts."""
    kinds = {k.value for k in EventKind if k.category is not Category.BOOKKEEPING}
    return tuple(
        (str(e.get("kind")), str(e.get("host")))
        for e in s.get("events") or []
        if isinstance(e, dict) and e.get("kind") in kinds
    )


# -- judging ----------------------------------------------------------------------------------
def judge(metric: str, base: float | None, new: float | None, floors: Mapping[str, Floor]) -> str:
    """regression / improved / noise / same for one value (a missing side is noise)."""
    if base is None or new is None:
        return "same" if base == new else "noise"
    if base == new:
        return "same"
    floor = floors[metric]
    delta = new - base
    beyond = abs(delta) > floor.abs_ and abs(delta) > floor.rel * abs(base)
    if not beyond:
        return "noise"
    return "regression" if delta > 0 else "improved"


def compare(
    baseline: Sequence[Mapping[str, Any]],
    new: Sequence[Mapping[str, Any]],
    *,
    floors: Mapping[str, Floor] = FLOORS,
    names: tuple[str, str] = ("baseline", "new"),
) -> Comparison:
    result = Comparison(*names)
    old_by = {_key(s): s for s in baseline}
    new_by = {_key(s): s for s in new}
    removed = [k for k in old_by if k not in new_by]
    added = [k for k in new_by if k not in old_by]
    renamed: dict[str, str] = {}
    for k in removed:
        sig = _signature(old_by[k])
        match = next(
            (
                a
                for a in added
                if a not in renamed.values() and _signature(new_by[a]) == sig and sig
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
    for key, old_s, new_s in pairs:
        result.changes.extend(_compare_one(key, old_s, new_s, floors))
    return result


def _compare_one(
    key: str, old_s: Mapping[str, Any], new_s: Mapping[str, Any], floors: Mapping[str, Floor]
) -> Iterable[Change]:
    was, now = bool(old_s["passed"]), bool(new_s["passed"])
    if was != now:
        yield Change(key, "", "outcome", "pass" if was else "FAIL", "pass" if now else "FAIL",
                     "regression" if was else "improved")  # fmt: skip
    old_m, new_m = metrics(old_s), metrics(new_s)
    for where, metric in sorted({*old_m, *new_m}):
        base, value = old_m.get((where, metric)), new_m.get((where, metric))
        yield Change(key, where, metric, base, value, judge(metric, base, value, floors))


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
         c.kind]
        for c in comparison.shown(everything)
    ]  # fmt: skip


HEADINGS = ["scenario", "where", "metric", "baseline", "new", "change"]


def summary(comparison: Comparison) -> str:
    """``2 regressions; also 1 improved, 14 within the noise``."""
    counts: dict[str, int] = {}
    for c in comparison.changes:
        counts[c.kind] = counts.get(c.kind, 0) + 1
    n = counts.pop("regression", 0)
    counts.pop("same", None)
    words = {"noise": "within the noise"}
    others = ", ".join(f"{v} {words.get(k, k)}" for k, v in sorted(counts.items()))
    head = f"{n} regression{'s' if n != 1 else ''}" if n else "no regression"
    return head + (f"; also {others}" if others else "")
