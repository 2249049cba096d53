"""The one serializer and the one reader: typed results become JSON here, at the edge
(``check --json``, ``run --json``, results.json), and nowhere in between; results.json becomes the
typed results again here (:func:`load_results`, :func:`result_from_json`: what ``compare`` and
``history`` read), the inverse of :func:`to_json` (:func:`from_json`).

:func:`to_json` turns, recursively:

- a dataclass instance into an object: its fields in order, except those its class leaves out
  with ``JSON_EXCLUDE``, then the attributes (computed properties) its class names in
  ``JSON_EXTRA``; ``JSON_RENAME`` (attribute -> key) gives some of them another key;
- an enum into its value;
- a float into itself rounded to :data:`DIGITS` digits (infinity and NaN, which JSON has no
  word for, into null);
- a mapping into an object (keys as strings); a list or tuple into a list; a set or frozenset
  into a sorted list;
- None, a bool, an int or a str into itself.

Anything else is a TypeError: what reaches the edge is typed data, never an arbitrary object.
The result is JSON-ready: ``json.loads(json.dumps(to_json(x))) == to_json(x)``.

A class declares what its JSON holds beside its fields like this::

    @dataclass(frozen=True)
    class Window:
        start: float
        end: float

        JSON_EXTRA: ClassVar[tuple[str, ...]] = ("duration_s",)

        @property
        def duration_s(self) -> float: ...
"""

from __future__ import annotations

import dataclasses
import enum
import functools
import json
import math
import types
import typing
from collections.abc import Callable, Mapping, Set
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeAlias, TypeVar, cast

from reboot_harness.errors import UsageError

if TYPE_CHECKING:  # (read when results are read: every --json document is written here)
    from reboot_harness.judging.result import ScenarioResult

DIGITS = 4  # floats are rounded to this many digits
# Every JSON document the harness writes (`--json` of every command, results.json) is an object
# whose "schema_version" says its shape: raised when a key is removed or changes meaning (adding
# one is not a new version).
SCHEMA_VERSION = 1

Json: TypeAlias = bool | int | float | str | list["Json"] | dict[str, "Json"] | None
T = TypeVar("T")

# class -> (attribute, key) of each value its JSON holds, in order
_PLANS: dict[type, tuple[tuple[str, str], ...]] = {}


SCHEMAS = ("check", "list", "run", "oneshot", "doctor", "plan")  # report/schemas/<name>.schema.json


def schema(name: str) -> dict[str, Json]:
    """The JSON Schema (draft 2020-12) of a document the harness writes: ``check`` (check
    --json), ``list``, ``run`` (run --json and results.json), ``oneshot`` (a one-shot fault's
    --json), ``doctor`` (doctor --json), ``plan`` (run --dry-run --json). Shipped in the
    package."""
    from importlib import resources

    if name not in SCHEMAS:
        raise ValueError(f"no schema {name!r}; valid: {', '.join(SCHEMAS)}")
    text = (
        resources.files("reboot_harness.report") / "schemas" / f"{name}.schema.json"
    ).read_text()
    loaded: dict[str, Json] = json.loads(text)
    return loaded


def document(**parts: object) -> dict[str, Json]:
    """A JSON document: ``{"schema_version": SCHEMA_VERSION, **parts}``, each part serialized."""
    return {"schema_version": SCHEMA_VERSION, **{k: to_json(v) for k, v in parts.items()}}


def to_json(obj: object) -> Json:
    """``obj`` as JSON-ready values (see the module docstring)."""
    if isinstance(obj, enum.Enum):
        return to_json(obj.value)
    if obj is None or isinstance(obj, bool | int | str):
        return obj
    if isinstance(obj, float):
        return round(obj, DIGITS) if math.isfinite(obj) else None
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {key: to_json(getattr(obj, name)) for name, key in _plan(type(obj))}
    if isinstance(obj, Mapping):
        return {_key(k): to_json(v) for k, v in obj.items()}
    if isinstance(obj, Set):
        return _sorted([to_json(v) for v in obj])
    if isinstance(obj, list | tuple):
        return [to_json(v) for v in obj]
    raise TypeError(f"cannot make JSON of {type(obj).__name__}: {obj!r:.80}")


def _key(key: object) -> str:
    return str(key.value if isinstance(key, enum.Enum) else key)


def _sorted(values: list[Json]) -> list[Json]:
    try:
        return sorted(values)  # type: ignore[type-var]
    except TypeError:  # mixed types, or objects: ordered by their JSON text
        return sorted(values, key=lambda v: json.dumps(v, sort_keys=True))


def _plan(cls: type) -> tuple[tuple[str, str], ...]:
    """(attribute, key) of each value the JSON of a ``cls`` holds; checked once per class."""
    plan = _PLANS.get(cls)
    if plan is not None:
        return plan
    fields = [f.name for f in dataclasses.fields(cls)]
    exclude: tuple[str, ...] = getattr(cls, "JSON_EXCLUDE", ())
    extra: tuple[str, ...] = getattr(cls, "JSON_EXTRA", ())
    rename: Mapping[str, str] = getattr(cls, "JSON_RENAME", {})
    unknown = [n for n in (*exclude, *rename) if n not in fields and n not in extra]
    unknown += [n for n in extra if not hasattr(cls, n)]
    if unknown:
        raise TypeError(f"{cls.__name__}: JSON_* names unknown attributes: {', '.join(unknown)}")
    names = [n for n in fields if n not in exclude] + list(extra)
    plan = tuple((n, rename.get(n, n)) for n in names)
    keys = [key for _, key in plan]
    if len(set(keys)) != len(keys):
        raise TypeError(f"{cls.__name__}: two values under one JSON key: {keys}")
    _PLANS[cls] = plan
    return plan


# -- reading back ---------------------------------------------------------------------------------
class _Unreadable(ValueError):
    """A value that is not what its field holds; says where (a key path) and what was expected."""


def from_json(cls: type[T], data: object, where: str = "") -> T:
    """``data``, as :func:`to_json` made it of a ``cls``, as a ``cls`` again: each field read by
    its type (a dataclass from its object, under its ``JSON_RENAME`` key; tuples, lists,
    frozensets and mappings from theirs; an enum from its value; a null float as NaN, the
    infinity or NaN it stood for), the values ``JSON_EXTRA`` adds left unread (they are
    computed), and a key the file lacks (one written before the field existed) as the field's
    default, else as empty (None, "", 0, False, empty collections).

    Raises:
        ValueError: one line naming the key path (after ``where``) and what it should hold.
    """
    return cast(T, _read(cls, data, where))


def _read(tp: Any, value: object, where: str) -> object:
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        (arm,) = [a for a in args if a is not type(None)]  # (only `X | None` is read)
        return _read(arm, value, where)
    if dataclasses.is_dataclass(tp) and isinstance(tp, type):
        return _read_object(tp, value, where)
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        try:
            return tp(value)
        except ValueError:
            raise _Unreadable(f"{where}: unknown {tp.__name__} {value!r}") from None
    kind = origin or tp
    if kind not in _KINDS:
        raise TypeError(f"cannot read JSON as {tp!r}")
    words, holds = _KINDS[kind]
    if tp is float and value is None:
        return math.nan  # (what to_json writes for infinity and NaN)
    if not holds(value):
        raise _Unreadable(f"{where}: expected {words}, got {value!r:.40}")
    if kind is float:
        return float(cast(float, value))
    if kind in (tuple, list, frozenset):
        items = [_read(args[0], v, f"{where}[{i}]") for i, v in enumerate(cast(list[Json], value))]
        return items if kind is list else kind(items)
    if kind in (dict, Mapping):
        pairs = cast(dict[str, Json], value).items()
        return {k: _read(args[1], v, f"{where}.{k}") for k, v in pairs}
    return value


def _number(v: object) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


# kind -> (what it is in words, whether a JSON value is one)
_KINDS: dict[object, tuple[str, Callable[[object], bool]]] = {
    float: ("a number", _number),
    int: ("a whole number", lambda v: isinstance(v, int) and not isinstance(v, bool)),
    bool: ("true or false", lambda v: isinstance(v, bool)),
    str: ("a string", lambda v: isinstance(v, str)),
    **dict.fromkeys((tuple, list, frozenset), ("a list", lambda v: isinstance(v, list))),
    **dict.fromkeys((dict, Mapping), ("an object", lambda v: isinstance(v, dict))),
}


def _read_object(cls: type, value: object, where: str) -> object:
    if not isinstance(value, dict):
        raise _Unreadable(f"{where}: expected an object, got {value!r:.40}")
    hints = _hints(cls)
    keys = dict(_plan(cls))
    given: dict[str, object] = {}
    for f in dataclasses.fields(cls):
        if not f.init or f.name not in keys:  # (excluded: its class reads it from others)
            continue
        key = keys[f.name]
        if key in value:
            given[f.name] = _read(hints[f.name], value[key], f"{where}.{key}")
        elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            given[f.name] = _empty(hints[f.name], f"{where}.{key}")
    return cls(**given)


def _empty(tp: Any, where: str) -> object:
    """What a field the file lacks holds: None, or its type's empty value."""
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin in (typing.Union, types.UnionType) and type(None) in args:
        return None
    empty = {str: "", int: 0, float: 0.0, bool: False, tuple: (), list: [], frozenset: frozenset(),
             dict: {}, Mapping: {}}  # fmt: skip
    kind = origin or tp
    if kind in empty:
        return empty[kind]
    raise _Unreadable(f"{where}: missing")


@functools.cache
def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def result_from_json(data: object, where: str = "") -> ScenarioResult:
    """One scenario variant's result as ``run --json`` and results.json hold it, read back as
    the run produced it: its fields (:func:`from_json`), its history from the ops and the
    writes ``present``, its reproduction (an incident variant's) with its verdict.

    Raises:
        ValueError: one line naming the key path (after ``where``) and what it should hold.
    """
    from reboot_harness.judging.judge import Outcome
    from reboot_harness.judging.result import ScenarioResult
    from reboot_harness.model.traffic import History, Op

    result = from_json(ScenarioResult, data, where)
    raw = cast(dict[str, Json], data)
    ops = cast(tuple[Op, ...], _read(tuple[Op, ...], raw.get("history", []), f"{where}.history"))
    present = cast(
        dict[str, frozenset[str]],
        _read(dict[str, frozenset[str]], raw.get("present", {}), f"{where}.present"),
    )
    if ops or present:  # (a run without traffic has no history)
        result.history = History(ops, present)
    reproduction = raw.get("reproduction")
    if reproduction is not None:
        seen = cast(
            dict[str, tuple[str, ...]],
            _read(dict[str, tuple[str, ...]], reproduction, f"{where}.reproduction"),
        )
        result.reproduced = Outcome(result.passed, result.reason, **seen)
    return result


def load_results(path: Path) -> list[ScenarioResult]:
    """The scenario results of a results.json, or of every results.json in a report folder (and
    its subfolders one level down), read back typed (:func:`result_from_json`); a UsageError
    naming the path when there are none or one is not a results.json.

    A file written before a key existed reads it as its default (``repeat`` 0, ``engine`` "",
    no preflight …); one without ``schema_version`` is from before that key, and read too.
    """
    if path.is_dir():
        files = sorted([*path.glob("results.json"), *path.glob("*/results.json")])
        if not files:
            raise UsageError(f"{path}: no results.json in this folder or the ones in it")
    elif path.is_file():
        files = [path]
    else:
        raise UsageError(f"{path}: no such file or folder")
    out: list[ScenarioResult] = []
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
        for i, s in enumerate(data["scenarios"]):
            if not isinstance(s, dict) or not {"name", "variant", "passed"} <= set(s):
                raise UsageError(f"{f}: a scenario result without name, variant and passed")
            try:
                out.append(result_from_json(s, f"scenarios[{i}]"))
            except ValueError as e:
                raise UsageError(f"{f}: not a results.json ({e})") from None
    return out
