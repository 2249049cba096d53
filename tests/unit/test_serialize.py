"""The one serializer (reboot_harness.report.serialize): typed results to JSON-ready values, at the
edge."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from enum import Enum, StrEnum
from pathlib import Path
from types import MappingProxyType
from typing import ClassVar

import pytest

from reboot_harness.model.events import Event, EventKind
from reboot_harness.model.results import CheckResult, StepError
from reboot_harness.model.traffic import Op
from reboot_harness.report.serialize import DIGITS, to_json


class Colour(StrEnum):
    RED = "red"
    GREEN = "green"


class Level(Enum):
    LOW = 1
    HIGH = 2


@dataclass(frozen=True)
class Leg:
    start: float
    end: float

    JSON_EXTRA: ClassVar[tuple[str, ...]] = ("length",)

    @property
    def length(self) -> float:
        return self.end - self.start


@dataclass(frozen=True)
class Trip:
    name: str
    legs: tuple[Leg, ...]
    colour: Colour = Colour.RED
    tags: frozenset[str] = frozenset()
    note: str | None = None
    secret: str = "hidden"
    by_colour: dict[Colour, int] = field(default_factory=dict)

    JSON_EXCLUDE: ClassVar[tuple[str, ...]] = ("secret",)
    JSON_EXTRA: ClassVar[tuple[str, ...]] = ("total",)
    JSON_RENAME: ClassVar[MappingProxyType[str, str]] = MappingProxyType({"legs": "stages"})

    @property
    def total(self) -> float:
        return sum(leg.length for leg in self.legs)


def test_a_dataclass_is_its_fields_then_its_computed_properties() -> None:
    """Fields in order, then the JSON_EXTRA properties, computed when serialized."""
    assert to_json(Leg(1.0, 3.5)) == {"start": 1.0, "end": 3.5, "length": 2.5}


def test_nested_dataclasses_are_serialized_recursively() -> None:
    """Dataclasses inside tuples inside dataclasses; JSON_EXCLUDE leaves a field out,
    JSON_RENAME gives one another key; the enum is its value, the set a sorted list."""
    trip = Trip(
        "tour",
        (Leg(0.0, 1.0), Leg(2.0, 4.5)),
        Colour.GREEN,
        frozenset({"b", "c", "a"}),
        by_colour={Colour.RED: 1},
    )
    assert to_json(trip) == {
        "name": "tour",
        "stages": [
            {"start": 0.0, "end": 1.0, "length": 1.0},
            {"start": 2.0, "end": 4.5, "length": 2.5},
        ],
        "colour": "green",
        "tags": ["a", "b", "c"],
        "note": None,
        "by_colour": {"red": 1},
        "total": 3.5,
    }


def test_enums_become_their_values() -> None:
    """A StrEnum or a plain Enum becomes its value, also as a mapping key."""
    assert to_json(Colour.RED) == "red"
    assert type(to_json(Colour.RED)) is str
    assert to_json([Level.LOW, Level.HIGH]) == [1, 2]
    assert to_json({Level.HIGH: Colour.GREEN}) == {"2": "green"}


def test_floats_are_rounded_to_four_digits() -> None:
    """Floats are rounded to DIGITS (4) digits, wherever they are; ints and bools are kept;
    infinity and NaN, which JSON cannot say, become null."""
    assert DIGITS == 4
    assert to_json(1.23456789) == 1.2346
    assert to_json(1_700_000_000.123456) == 1_700_000_000.1235
    assert to_json({"x": [0.000049, 2.5]}) == {"x": [0.0, 2.5]}
    assert to_json(Leg(0.11111, 0.33333)) == {"start": 0.1111, "end": 0.3333, "length": 0.2222}
    assert to_json(3) == 3 and to_json(True) is True
    assert to_json(math.inf) is None and to_json(math.nan) is None


def test_sets_become_sorted_lists() -> None:
    """A frozenset (or set) is a sorted list; mixed values still get a stable order."""
    assert to_json(frozenset({"k3", "k1", "k2"})) == ["k1", "k2", "k3"]
    assert to_json({"redis": frozenset({"b", "a"})}) == {"redis": ["a", "b"]}
    assert to_json({2, 1}) == [1, 2]
    mixed = to_json(frozenset({1, "a"}))
    assert isinstance(mixed, list) and sorted(map(str, mixed)) == ["1", "a"]
    assert to_json(frozenset({1, "a"})) == mixed


def test_none_and_plain_values_are_kept() -> None:
    """None, strings, ints, bools as they are; tuples and lists are lists."""
    assert to_json(None) is None
    assert to_json("x") == "x"
    assert to_json((1, (2, 3), [None])) == [1, [2, 3], [None]]
    assert to_json({}) == {} and to_json(()) == []


def test_the_result_is_json_ready() -> None:
    """What the serializer gives survives json.dumps and json.loads unchanged."""
    trip = Trip("t", (Leg(0.123456, 9.87654),), tags=frozenset({"x"}), note="n")
    value = to_json([trip, {"k": (1.5, Colour.RED)}])
    assert json.loads(json.dumps(value, allow_nan=False)) == value


def test_anything_else_is_refused() -> None:
    """An object that is no data (or a dataclass class, not an instance) is a TypeError."""
    with pytest.raises(TypeError, match="cannot make JSON of object"):
        to_json(object())
    with pytest.raises(TypeError, match="cannot make JSON of type"):
        to_json(Leg)


def test_json_declarations_naming_unknown_attributes_are_refused() -> None:
    """A JSON_EXCLUDE, JSON_EXTRA or JSON_RENAME that names no attribute is a mistake, said
    at once, as is two values under one key."""

    @dataclass
    class Typo:
        a: int = 1
        JSON_EXCLUDE: ClassVar[tuple[str, ...]] = ("b",)

    @dataclass
    class Clash:
        a: int = 1
        b: int = 2
        JSON_RENAME: ClassVar[dict[str, str]] = {"b": "a"}

    with pytest.raises(TypeError, match="Typo: JSON_\\* names unknown attributes: b"):
        to_json(Typo())
    with pytest.raises(TypeError, match="Clash: two values under one JSON key"):
        to_json(Clash())


# -- the harness's own types -------------------------------------------------------------------


def test_check_result_json_has_the_keys_check_json_prints() -> None:
    """`check --json` prints these keys for each result; `cause` is computed."""
    r = CheckResult(
        "limits", "app1", False, "nofile >= 10000", "soft 1024", "pid 31",
        ("nofile-below-minimum", "host-down"), ("app1",),
    )  # fmt: skip
    assert to_json(r) == {
        "check": "limits",
        "host": "app1",
        "ok": False,
        "expected": "nofile >= 10000",
        "observed": "soft 1024",
        "detail": "pid 31",
        "causes": ["nofile-below-minimum", "host-down"],
        "subjects": ["app1"],
        "cause": "nofile-below-minimum",
    }


def test_events_ops_and_step_errors() -> None:
    """An event's kind is its display string; a step error holds its checks, serialized."""
    e = Event(1_700_000_000.123456, EventKind.POWER_OFF, "lb1", "graceful", 1.00004)
    assert to_json(e) == {
        "t": 1_700_000_000.1235,
        "kind": "power off",
        "host": "lb1",
        "detail": "graceful",
        "duration_s": 1.0,
    }
    op = Op("redis", "redis-1", "set", 1.0, 1.00512, True, "redis2", "", "k1")
    assert to_json(op) == {
        "service": "redis", "client": "redis-1", "op": "set", "start": 1.0, "end": 1.0051,
        "ok": True, "target": "redis2", "error": "", "key": "k1",
    }  # fmt: skip
    check = CheckResult("nginx", "lb1", False, "up", "down", causes=("lb-not-answering",))
    error = StepError(2, "wait_recovered", "ran out", "not-recovered", (check,))
    assert to_json(error) == {
        "index": 2,
        "kind": "wait_recovered",
        "message": "ran out",
        "cause": "not-recovered",
        "checks": [to_json(check)],
    }


def test_every_json_document_matches_its_shipped_schema(tmp_path: Path) -> None:
    """check, run (and results.json), list and one-shot documents carry schema_version and
    validate against the JSON Schemas shipped in the package; a document missing a key does
    not."""
    import jsonschema

    from reboot_harness.report import write_reports
    from reboot_harness.report.serialize import SCHEMAS, document, schema
    from tests.unit.test_report import sample_results

    for name in SCHEMAS:
        jsonschema.Draft202012Validator.check_schema(schema(name))
    results = sample_results()
    checks = [CheckResult("limits", "app1", False, "e", "o", causes=("nofile-below-minimum",))]
    events = [Event(1.0, EventKind.POWER_OFF, "app1", "hard", 0.2)]
    written = json.loads(write_reports(results, tmp_path)["results.json"].read_text())
    cases = {
        "check": document(results=checks),
        "run": document(scenarios=results),
        "oneshot": document(command="reboot", events=events),
    }
    for name, doc in cases.items():
        jsonschema.validate(json.loads(json.dumps(doc)), schema(name))
    jsonschema.validate(written, schema("run"))
    broken = json.loads(json.dumps(cases["check"]))
    del broken["results"][0]["causes"]
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(broken, schema("check"))
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({**cases["run"], "schema_version": 2}, schema("run"))


def test_list_json_matches_its_schema() -> None:
    import subprocess
    import sys

    import jsonschema

    from reboot_harness.report.serialize import schema

    proc = subprocess.run([sys.executable, "-m", "reboot_harness", "list", "--json"],
                          capture_output=True, text=True, timeout=60, check=True)  # fmt: skip
    jsonschema.validate(json.loads(proc.stdout), schema("list"))
