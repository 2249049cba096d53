"""The one serializer: typed results become JSON here, at the edge (``check --json``,
``run --json``, results.json), and nowhere in between.

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
import json
import math
from collections.abc import Mapping, Set
from typing import TypeAlias

DIGITS = 4  # floats are rounded to this many digits
# Every JSON document the harness writes (`--json` of every command, results.json) is an object
# whose "schema_version" says its shape: raised when a key is removed or changes meaning (adding
# one is not a new version).
SCHEMA_VERSION = 1

Json: TypeAlias = bool | int | float | str | list["Json"] | dict[str, "Json"] | None

# class -> (attribute, key) of each value its JSON holds, in order
_PLANS: dict[type, tuple[tuple[str, str], ...]] = {}


SCHEMAS = ("check", "list", "run", "oneshot")  # reboot_harness/schemas/<name>.schema.json


def schema(name: str) -> dict[str, Json]:
    """The JSON Schema (draft 2020-12) of a document the harness writes: ``check`` (check
    --json), ``list``, ``run`` (run --json and results.json), ``oneshot`` (a one-shot fault's
    --json). Shipped in the package."""
    from importlib import resources

    if name not in SCHEMAS:
        raise ValueError(f"no schema {name!r}; valid: {', '.join(SCHEMAS)}")
    text = (resources.files("reboot_harness") / "schemas" / f"{name}.schema.json").read_text()
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
