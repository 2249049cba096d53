"""One-line messages: how values, keys and choices are shown, and how the first pydantic error of
a document becomes ``KEY.PATH: what is wrong; valid: ...``."""

from __future__ import annotations

import datetime
import re
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, get_args

if TYPE_CHECKING:  # (annotations only: reading a config file or a duration needs no pydantic)
    from pydantic_core import ErrorDetails


def _clip(text: str, limit: int) -> str:
    text = " ".join(text.splitlines())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _one_line(text: str) -> str:
    return " ".join(text.splitlines()) or text


def _show(value: object) -> str:
    """A short, one-line rendering of a YAML value for a message; never walks containers."""
    if isinstance(value, str):
        return repr(value if len(value) <= 40 else value[:37] + "...")
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value) if value.bit_length() <= 64 else "a very large integer"
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return f"a {type(value).__name__}"


def _kind(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"the boolean {_show(value)}"
    if isinstance(value, int):
        return f"the integer {_show(value)}"
    if isinstance(value, float):
        return f"the number {_show(value)}"
    if isinstance(value, str):
        return f"the string {_show(value)}"
    if isinstance(value, list):
        return "an empty list" if not value else "a list"
    if isinstance(value, dict):
        return "an empty mapping" if not value else "a mapping"
    if isinstance(value, datetime.date):
        return f"the date {value.isoformat()}"
    if isinstance(value, bytes):
        return "binary data"
    return f"a {type(value).__name__}"


def _choices(names: Iterable[str]) -> str:
    return ", ".join(sorted(names)) or "(none)"


def _label(key: object) -> str:
    if isinstance(key, str) and re.fullmatch(r"[A-Za-z0-9_ -]{1,40}", key):
        return key
    return _show(key)


def _join(path: str, key: object) -> str:
    return f"{path}.{_label(key)}" if path else _label(key)


# -- pydantic errors -> one line ---------------------------------------------------------------

# The wording per pydantic error type: {kind} is "the integer 3", {shown} the value, {key} the
# last key of the path; the error's ctx (min_length, ...) is available too.
_MESSAGES = {
    "missing": "required key is missing",
    "string_type": "expected a string, got {kind}",
    "string_unicode": "expected text, got a string that is not valid Unicode",
    "string_pattern_mismatch": "invalid {key} {shown}",
    "bool_type": "expected true or false, got {kind}",
    "int_type": "expected an integer, got {kind}",
    "greater_than_equal": "{shown} is out of range",
    "less_than_equal": "{shown} is out of range",
    "list_type": "expected a list of {key}, got {kind}",
    "too_short": "empty; at least {min_length} needed",
    "too_long": "{actual_length} items; at most {max_length} allowed",
}
# What is valid, per key, for the messages above (each document adds its own).
_VALID: dict[str, str] = {}


_KEY_ERRORS = {"extra_forbidden": 0, "invalid_key": 0, "missing": 1}


def _first(errors: list[ErrorDetails]) -> ErrorDetails:
    """The error to report: the first one, unless a mapping around it has an unknown key (maybe
    a misspelt one) or a missing key; keys are checked before values, level by level."""
    loc = errors[0]["loc"]
    keys = [
        e for e in errors if e["type"] in _KEY_ERRORS and loc[: len(e["loc"]) - 1] == e["loc"][:-1]
    ]
    return min(keys, key=lambda e: (len(e["loc"]), _KEY_ERRORS[e["type"]]), default=errors[0])


def _keys_at(root: Any, loc: tuple[int | str, ...]) -> str:
    """The keys the model at ``loc`` takes, for 'unknown key' and 'expected a mapping'."""
    node: Any = root
    for part in loc:
        node = get_args(node)[0] if isinstance(part, int) else node.model_fields[part].annotation
    return ", ".join(sorted(field.alias or name for name, field in node.model_fields.items()))


def _path(loc: Iterable[int | str]) -> str:
    path = ""
    for part in loc:
        path = f"{path}[{part}]" if isinstance(part, int) else _join(path, part)
    return path


def _describe(
    error: ErrorDetails,
    root: Any,
    wordings: dict[str, str] | None = None,
    valid: dict[str, str] | None = None,
) -> str:
    """``KEY.PATH: what is wrong; valid: ...`` for one pydantic error of a document validated
    by the model ``root``; ``wordings`` and ``valid`` add to (and win over) the shared ones."""
    words = {**_MESSAGES, **(wordings or {})}
    valids = {**_VALID, **(valid or {})}
    kind, loc, value = error["type"], error["loc"], error["input"]
    ctx = error.get("ctx", {})
    if kind in ("extra_forbidden", "invalid_key"):  # invalid_key: a key that is not a string
        key = value if kind == "invalid_key" else loc[-1]
        loc = loc[:-1]
        return f"{_join(_path(loc), key)}: unknown key {_show(key)}; valid: {_keys_at(root, loc)}"
    if kind == "value_error":
        problem = str(ctx["error"])
    elif kind == "model_type":
        if value is None and not loc:
            return f"file is empty; expected a mapping with keys {_keys_at(root, loc)}"
        where = "" if loc else " at the top level"
        problem = f"expected a mapping{where} with keys {_keys_at(root, loc)}, got {_kind(value)}"
    else:
        key = loc[-1] if loc else ""
        if kind in words:
            problem = words[kind].format(kind=_kind(value), shown=_show(value), key=key, **ctx)
        else:  # not expected from these models; pydantic's own words, still on one line
            problem = f"{error['msg']}, got {_kind(value)}"
        if kind != "missing" and key in valids:
            problem += f"; valid: {valids[str(key)]}"
    return f"{_path(loc)}: {problem}" if loc else problem
