"""reboot_harness.faces.pytest_plugin.sharding: shards that partition the items, keep xdist
groups whole, do not depend on the order of collection and are balanced; longest-first ordering;
estimates for items without a record; the durations file."""

from __future__ import annotations

import json
import random
from collections import defaultdict
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reboot_harness.errors import UsageError
from reboot_harness.faces.pytest_plugin.sharding import (
    DEFAULT_SECONDS,
    Unit,
    assign,
    estimates,
    group_name,
    load_durations,
    longest_first,
    parse_shard,
    record_durations,
    select,
    strip_group_suffix,
)

GROUPS = st.one_of(st.none(), st.sampled_from(["db", "web", "stack_a", "x"]))
UNIT_SETS = st.lists(
    # a node id, maybe one of a few groups, whole milliseconds (so the loads below are exact)
    st.builds(Unit, st.from_regex(r"tests/[a-f]{1,3}\.py::t[0-9]{1,2}", fullmatch=True), GROUPS,
              st.integers(0, 3_600_000).map(lambda ms: ms / 1000)),
    max_size=40,
    unique_by=lambda u: u.nodeid,
)  # fmt: skip


def _ms(seconds: float) -> int:
    return max(1, round(seconds * 1000))


def _blocks(units: list[Unit]) -> dict[str, list[int]]:
    blocks: dict[str, list[int]] = defaultdict(list)
    for i, u in enumerate(units):
        blocks[f"group {u.group}" if u.group else u.nodeid].append(i)
    return blocks


@settings(max_examples=100, deadline=None)
@given(UNIT_SETS, st.integers(min_value=1, max_value=9))
def test_shards_partition_the_items_and_keep_groups_whole(units: list[Unit], n: int) -> None:
    """Shards 1..N of the same items are disjoint and cover them all; every unit of an
    xdist_group is in the same shard."""
    shards = [select(units, k, n) for k in range(1, n + 1)]
    everything = [i for shard in shards for i in shard]
    assert sorted(everything) == list(range(len(units)))  # covering, and no index twice
    where = {i: k for k, shard in enumerate(shards) for i in shard}
    for members in _blocks(units).values():
        assert len({where[i] for i in members}) == 1, [units[i] for i in members]


@settings(max_examples=100, deadline=None)
@given(UNIT_SETS, st.integers(min_value=1, max_value=9), st.randoms(use_true_random=False))
def test_shards_do_not_depend_on_the_order_of_collection(
    units: list[Unit], n: int, rnd: random.Random
) -> None:
    """The same items in another order land in the same shards (each runner collects on its
    own)."""
    shuffled = units[:]
    rnd.shuffle(shuffled)
    before = dict(zip((u.nodeid for u in units), assign(units, n), strict=True))
    after = dict(zip((u.nodeid for u in shuffled), assign(shuffled, n), strict=True))
    assert before == after


@settings(max_examples=100, deadline=None)
@given(UNIT_SETS, st.integers(min_value=1, max_value=9))
def test_shards_are_balanced_within_one_block(units: list[Unit], n: int) -> None:
    """The most loaded shard carries at most the heaviest block more than the least loaded one
    (the greedy bound), so no shard is above the average by more than one block."""
    shard_of = assign(units, n)
    loads = [0] * n
    for u, s in zip(units, shard_of, strict=True):
        loads[s] += _ms(u.seconds)
    heaviest = max(
        (sum(_ms(units[i].seconds) for i in members) for members in _blocks(units).values()),
        default=0,
    )
    assert max(loads) - min(loads) <= heaviest
    assert max(loads) <= sum(loads) / n + heaviest


def test_longest_items_are_placed_first_not_in_collection_order() -> None:
    """Six one-second items then a six-second one on two shards: 6 | 6, where dealing them out
    in collection order would give 9 | 3."""
    units = [Unit(f"t.py::short{i}", None, 1.0) for i in range(6)] + [Unit("t.py::long", None, 6.0)]
    shard_of = assign(units, 2)
    assert {shard_of[6]} != set(shard_of[:6])
    assert select(units, 1, 2) == [6] and select(units, 2, 2) == [0, 1, 2, 3, 4, 5]


def test_more_shards_than_items_leaves_some_empty() -> None:
    """Three items on five shards: three shards of one, two empty (all items still run once)."""
    units = [Unit(f"t.py::t{i}", None, 1.0) for i in range(3)]
    sizes = sorted(len(select(units, k, 5)) for k in range(1, 6))
    assert sizes == [0, 0, 1, 1, 1]


@settings(max_examples=100, deadline=None)
@given(UNIT_SETS)
def test_longest_first_keeps_groups_together_in_their_order(units: list[Unit]) -> None:
    """Longest-first is a permutation; each group's items are contiguous and in their collected
    order; block weights do not increase along it."""
    order = longest_first(units)
    assert sorted(order) == list(range(len(units)))
    position = {i: p for p, i in enumerate(order)}
    weights = []
    for members in sorted(_blocks(units).values(), key=lambda m: position[m[0]]):
        spots = [position[i] for i in members]
        assert spots == list(range(spots[0], spots[0] + len(spots)))
        weights.append(sum(_ms(units[i].seconds) for i in members))
    assert weights == sorted(weights, reverse=True)


def test_longest_first_keeps_collection_order_among_equals() -> None:
    """A group of two 3 s items weighs 6 s and goes first; items of equal weight keep the order
    they were collected in."""
    units = [
        Unit("a.py::one", None, 1.0),
        Unit("a.py::two", None, 1.0),
        Unit("b.py::x", "stack", 3.0),
        Unit("a.py::big", None, 5.0),
        Unit("b.py::y", "stack", 3.0),
        Unit("a.py::three", None, 1.0),
    ]
    assert [units[i].nodeid for i in longest_first(units)] == [
        "b.py::x", "b.py::y", "a.py::big", "a.py::one", "a.py::two", "a.py::three",
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("text", "expected"), [("1/1", (1, 1)), ("2/3", (2, 3)), ("3/3", (3, 3)), ("10/12", (10, 12))]
)
def test_parse_shard(text: str, expected: tuple[int, int]) -> None:
    """K/N with 1 <= K <= N is read as such."""
    assert parse_shard(text) == expected


@pytest.mark.parametrize(
    "text", ["0/3", "4/3", "1/0", "0/0", "a/b", "3", "", "1/3/5", "-1/3", "²/3", "1.5/3"]
)
def test_parse_shard_refuses(text: str) -> None:
    """Zero, K above N, not numbers, not K/N: one line saying what is expected."""
    with pytest.raises(UsageError, match=r"expected K/N") as info:
        parse_shard(text)
    assert "\n" not in str(info.value)


def test_group_names_and_suffixes_as_xdist_makes_them() -> None:
    """Several xdist_group marks make one group, joined sorted; the @group suffix loadgroup
    appends is removed, and only that suffix."""
    assert group_name([]) is None
    assert group_name(["web", "db", "web"]) == "db_web"
    assert strip_group_suffix("t.py::test_a@db_web", "db_web") == "t.py::test_a"
    assert strip_group_suffix("t.py::test_a", "db_web") == "t.py::test_a"
    assert strip_group_suffix("t.py::test_a[x@y]", None) == "t.py::test_a[x@y]"
    assert strip_group_suffix("t.py::test_a@other", "db") == "t.py::test_a@other"


def test_estimates_prefer_the_record_then_the_plan_then_the_neighbours() -> None:
    """Recorded wins; a scenario without a record weighs its plan; any other item the median of
    its file's recorded items, else its directory's, else all recorded items'; with nothing
    recorded, the default."""
    recorded = {
        "tests/integration/test_a.py::t1": 100.0,
        "tests/integration/test_a.py::t2": 140.0,
        "tests/integration/test_b.py::t1": 300.0,
        "tests/unit/test_c.py::t1": 0.5,
        "gone.py::t": 999.0,  # not in this session: not a neighbour
    }
    nodeids = [
        "tests/integration/test_a.py::t1",
        "tests/integration/test_a.py::t2",
        "tests/integration/test_a.py::new",  # its file: median(100, 140)
        "tests/integration/test_new.py::t",  # its directory: median(100, 140, 300)
        "tests/integration/test_b.py::t1",
        "tests/unit/test_c.py::t1",
        "tests/other/test_d.py::t",  # tests/: median of the four
        "top.py::t",  # all: median of the four
        "scenarios/s.yaml::s[fixed]",  # planned
    ]
    planned = {"scenarios/s.yaml::s[fixed]": 2150.0, "tests/integration/test_a.py::t1": 1.0}
    assert estimates(nodeids, recorded, planned) == [
        100.0, 140.0, 120.0, 140.0, 300.0, 0.5, 120.0, 120.0, 2150.0,
    ]  # fmt: skip
    assert estimates(["a.py::x", "b.py::y"], {}, {}) == [DEFAULT_SECONDS, DEFAULT_SECONDS]


def test_durations_file_round_trip_and_merge(tmp_path: Path) -> None:
    """Recording creates the file (and its directory); a later partial recording replaces what
    it ran and keeps the rest; no temporary file is left behind."""
    path = tmp_path / ".reports" / "durations.json"
    assert load_durations(path) == {}
    record_durations(path, {"a.py::x": 1.23456, "a.py::y": 2.0})
    record_durations(path, {"a.py::y": 5.0, "b.py::z": 0.0004})
    assert load_durations(path) == {"a.py::x": 1.235, "a.py::y": 5.0, "b.py::z": 0.0}
    assert [p.name for p in path.parent.iterdir()] == ["durations.json"]
    data = json.loads(path.read_text())
    assert data["schema_version"] == 1 and list(data["durations"]) == sorted(data["durations"])


@pytest.mark.parametrize(
    "text",
    [
        "{not json",
        '{"name": "my-package", "version": "1.0"}',
        '{"schema_version": 1, "durations": [1, 2]}',
        '{"schema_version": 1, "durations": {"a.py::x": -1}}',
        '{"schema_version": 1, "durations": {"a.py::x": "3s"}}',
        '{"schema_version": 1, "durations": {"a.py::x": true}}',
    ],
)
def test_a_file_that_is_not_a_durations_file_is_refused_and_kept(tmp_path: Path, text: str) -> None:
    """Reading it is a one-line UsageError naming the file; recording into it changes nothing
    (it may be someone else's file given by mistake)."""
    path = tmp_path / "durations.json"
    path.write_text(text)
    with pytest.raises(UsageError, match=f"^{path}: ") as info:
        load_durations(path)
    assert "\n" not in str(info.value)
    with pytest.raises(UsageError):
        record_durations(path, {"a.py::x": 1.0})
    assert path.read_text() == text
