"""Split a test session into shards and order it longest first, by recorded durations.

Pure functions over plain data (the pytest plugin turns items into :class:`Unit` and back), plus
the durations file they read and the plugin writes. Nothing here imports pytest or Docker.

Items of one ``xdist_group`` share a stack or a set-up, so they form one block: a block goes to
one shard whole and keeps its items' order. Sharding is greedy longest-processing-time over the
blocks, heaviest first, ties broken by name, and the weights are whole milliseconds: the same
items and the same durations give the same shards on every machine, whatever order the items
were collected in.
"""

from __future__ import annotations

import heapq
import json
import math
import os
import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from reboot_harness.errors import UsageError

SCHEMA_VERSION = 1
DEFAULT_SECONDS = 1.0  # an item's weight when nothing at all is known about the session


@dataclass(frozen=True)
class Unit:
    """One test item as sharding and ordering see it.

    Attributes:
        nodeid: the item's node id, without the ``@group`` suffix pytest-xdist may append.
        group: its ``xdist_group`` (the items of one group are never separated), or None.
        seconds: its recorded duration, or an estimate (:func:`estimates`).
    """

    nodeid: str
    group: str | None
    seconds: float


def parse_shard(text: str) -> tuple[int, int]:
    """``"K/N"`` -> ``(K, N)`` with ``1 <= K <= N``; anything else is a UsageError."""
    k_text, sep, n_text = text.partition("/")
    if not sep or not k_text.strip().isdecimal() or not n_text.strip().isdecimal():
        raise UsageError(f"expected K/N (shard K of N, e.g. 2/3), got {text!r}")
    k, n = int(k_text), int(n_text)
    if n < 1 or not 1 <= k <= n:
        raise UsageError(f"expected K/N with 1 <= K <= N, got {text!r}")
    return k, n


def group_name(names: Iterable[str]) -> str | None:
    """The group of an item with these ``xdist_group`` names, as pytest-xdist joins them (all
    of an item's groups make one), or None when it has none."""
    unique = sorted(set(names))
    return "_".join(unique) if unique else None


def strip_group_suffix(nodeid: str, group: str | None) -> str:
    """The node id without the ``@group`` pytest-xdist's loadgroup appends in its workers, so a
    duration recorded with or without xdist is found under one name."""
    suffix = f"@{group}"
    if group is not None and nodeid.endswith(suffix):
        return nodeid[: -len(suffix)]
    return nodeid


def estimates(
    nodeids: Sequence[str], recorded: Mapping[str, float], planned: Mapping[str, float]
) -> list[float]:
    """Each item's weight in seconds: its recorded duration; else what its plan says it may
    take (a scenario's ``planned_s``); else the median of the recorded durations of its nearest
    neighbours here (its file's items, else its directory's, a parent's, the whole session's);
    else :data:`DEFAULT_SECONDS` (nothing is known: all weigh the same)."""
    near: dict[str, list[float]] = {}  # a file or directory ("" for all) -> recorded durations
    for n in set(nodeids) & recorded.keys():
        for place in _places(n):
            near.setdefault(place, []).append(recorded[n])
    medians = {place: statistics.median(values) for place, values in near.items()}

    def estimate(nodeid: str) -> float:
        if nodeid in recorded:
            return recorded[nodeid]
        if nodeid in planned:
            return planned[nodeid]
        found = (medians[p] for p in _places(nodeid) if p in medians)
        return next(found, DEFAULT_SECONDS)

    return [estimate(n) for n in nodeids]


def _places(nodeid: str) -> list[str]:
    """Where an item is, nearest first: ``a/b/test_c.py::test_d`` -> ``a/b/test_c.py``,
    ``a/b``, ``a``, ``""``."""
    path = nodeid.split("::", 1)[0]
    places = [path]
    while "/" in path:
        path = path.rsplit("/", 1)[0]
        places.append(path)
    return [*places, ""] if places[-1] else places


def _millis(seconds: float) -> int:
    """Whole milliseconds, at least 1: sums stay exact (so ties break the same everywhere) and
    instant items still spread instead of piling onto one shard."""
    return max(1, round(seconds * 1000))


def _blocks(units: Sequence[Unit]) -> dict[tuple[int, str], list[int]]:
    """The indices of the units, by block: a group's units together, every other unit alone.
    Keys sort groups before single items, each by name; a duplicated node id is one block."""
    blocks: dict[tuple[int, str], list[int]] = {}
    for i, u in enumerate(units):
        key = (0, u.group) if u.group is not None else (1, u.nodeid)
        blocks.setdefault(key, []).append(i)
    return blocks


def assign(units: Sequence[Unit], count: int) -> list[int]:
    """The shard (0-based, below ``count``) of each unit: blocks heaviest first, each onto the
    shard with the least weight so far (the lowest-numbered on a tie). Depends only on the set
    of units, not on their order."""
    if count < 1:
        raise ValueError(f"count must be at least 1, got {count}")
    blocks = _blocks(units)
    weight = {
        key: sum(_millis(units[i].seconds) for i in members) for key, members in blocks.items()
    }
    loads = [(0, s) for s in range(count)]  # a heap of (weight so far, shard)
    shard_of = [0] * len(units)
    for key in sorted(blocks, key=lambda b: (-weight[b], b)):
        load, shard = heapq.heappop(loads)
        for i in blocks[key]:
            shard_of[i] = shard
        heapq.heappush(loads, (load + weight[key], shard))
    return shard_of


def select(units: Sequence[Unit], k: int, n: int) -> list[int]:
    """The indices (in input order) of the units in shard ``k`` of ``n`` (1-based, as in
    ``--rh-shard K/N``)."""
    if not 1 <= k <= n:
        raise ValueError(f"shard {k}/{n}: K must be in 1..N")
    return [i for i, s in enumerate(assign(units, n)) if s == k - 1]


def longest_first(units: Sequence[Unit]) -> list[int]:
    """The indices of the units, heaviest block first (a block's units stay together and in
    their order; equal blocks keep the order they came in), so that parallel workers fed in
    this order do not end with one running the longest item alone."""
    blocks = _blocks(units)
    weight = {
        key: sum(_millis(units[i].seconds) for i in members) for key, members in blocks.items()
    }
    ordered = sorted(blocks, key=lambda b: (-weight[b], blocks[b][0]))
    return [i for key in ordered for i in blocks[key]]


# -- the durations file --------------------------------------------------------------------------
def load_durations(path: Path) -> dict[str, float]:
    """node id -> seconds from a durations file; an absent file is empty. A file that is not a
    durations file is a UsageError (it is never overwritten: it may be someone else's)."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except OSError as e:
        raise UsageError(f"{path}: cannot read the durations file: {e.strerror}") from e
    try:
        data = json.loads(text)
    except ValueError as e:
        raise UsageError(f"{path}: not a durations file (invalid JSON: {e})") from e
    if not isinstance(data, dict) or data.get("schema_version") != SCHEMA_VERSION:
        raise UsageError(
            f"{path}: not a durations file (expected an object with"
            f" schema_version {SCHEMA_VERSION}); remove it or choose another file"
        )
    durations = data.get("durations")
    if not isinstance(durations, dict):
        raise UsageError(f"{path}: durations: expected an object of node id -> seconds")
    out: dict[str, float] = {}
    for nodeid, seconds in durations.items():
        ok = isinstance(seconds, int | float) and not isinstance(seconds, bool)
        if not ok or not math.isfinite(seconds) or seconds < 0:
            raise UsageError(
                f"{path}: durations[{nodeid!r}]: expected seconds >= 0, got {seconds!r}"
            )
        out[nodeid] = float(seconds)
    return out


def dump_durations(durations: Mapping[str, float]) -> str:
    """The file's text: sorted, one item a line, milliseconds (small diffs when committed)."""
    data = {
        "schema_version": SCHEMA_VERSION,
        "durations": {n: round(s, 3) for n, s in sorted(durations.items())},
    }
    return json.dumps(data, indent=1) + "\n"


def record_durations(path: Path, new: Mapping[str, float]) -> None:
    """Merge ``new`` into the file (a partial run keeps what it did not run; what it ran
    replaces the old figure), written whole under a temporary name then renamed, so a reader
    never sees half a file."""
    merged = load_durations(path) | dict(new)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        tmp.write_text(dump_durations(merged), encoding="utf-8")
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
