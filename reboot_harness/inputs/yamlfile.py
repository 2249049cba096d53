"""Reading the YAML files users hand the harness (scenarios, incidents): bounded in size and
nesting, UTF-8 only, YAML 1.2 booleans, duplicate keys refused; every problem one line naming
the file (and the line and column where the YAML itself is wrong)."""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Hashable
from pathlib import Path
from typing import Any

import yaml

from reboot_harness.errors import ScenarioError
from reboot_harness.inputs.messages import _clip, _one_line, _show

MAX_FILE_BYTES = 1024 * 1024
MAX_DEPTH = 50  # YAML nesting; a scenario needs about 6
_TOO_DEEP = f"nested deeper than {MAX_DEPTH} levels; a scenario needs only a few"
_BOOL_TAG = "tag:yaml.org,2002:bool"
_MERGE_TAG = "tag:yaml.org,2002:merge"


class _ShapeError(yaml.MarkedYAMLError):
    """Well-formed YAML that no scenario has: a duplicate key, absurd nesting."""


class _Loader(yaml.SafeLoader):
    """SafeLoader with YAML 1.2 booleans, duplicate keys refused and nesting bounded.

    The nesting bound matters: PyYAML composes recursively and rescans every open flow level per
    token, so ``[[[[...`` thousands deep costs seconds before it hits the recursion limit.
    """

    def fetch_flow_collection_start(self, TokenClass: type[yaml.Token]) -> None:
        if self.flow_level >= MAX_DEPTH:
            raise _ShapeError(None, None, _TOO_DEEP, self.get_mark())
        super().fetch_flow_collection_start(TokenClass)

    def add_indent(self, column: int) -> bool:
        if self.indent < column and len(self.indents) >= MAX_DEPTH:
            raise _ShapeError(None, None, _TOO_DEEP, self.get_mark())
        return super().add_indent(column)

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Hashable, Any]:
        seen: set[Hashable] = set()
        for key_node, _ in node.value:
            if not isinstance(key_node, yaml.ScalarNode) or key_node.tag == _MERGE_TAG:
                continue
            key = self.construct_object(key_node)
            if not isinstance(key, Hashable):
                continue
            if key in seen:
                raise _ShapeError(
                    None,
                    None,
                    f"duplicate key {_show(key)}; each key may appear once per mapping",
                    key_node.start_mark,
                )
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


_Loader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != _BOOL_TAG]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Loader.add_implicit_resolver(
    _BOOL_TAG, re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)


def _load_yaml(text: str, source: str) -> object:
    def fail(problem: str) -> ScenarioError:
        return ScenarioError(_one_line(f"{source}: {problem}"))

    try:
        return yaml.load(text, Loader=_Loader)  # _Loader is a SafeLoader: no arbitrary objects
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        problem = e.problem or e.context or "malformed YAML"
        if e.problem and e.context:
            problem = f"{e.problem} ({e.context})"
        problem = _clip(problem, 200)
        if isinstance(e, _ShapeError):
            raise fail(f"{where}{problem}") from e
        if "'\\t'" in problem:
            problem += "; indent with spaces, not tabs"
        raise fail(f"{where}YAML syntax error: {problem}") from e
    except yaml.reader.ReaderError as e:
        line = text.count("\n", 0, e.position) + 1
        column = e.position - (text.rfind("\n", 0, e.position) + 1) + 1
        code = ord(e.character) if isinstance(e.character, str) else e.character
        char = f"#x{code:04x}" if isinstance(code, int) else "byte"
        raise fail(
            f"line {line}, column {column}: YAML syntax error: "
            f"unacceptable character {char}: {_clip(str(e.reason), 100)}"
        ) from e
    except RecursionError as e:
        raise fail("YAML nested too deeply to read; scenarios need only a few levels") from e
    except Exception as e:  # a scalar that resolves but cannot be built, e.g. 2001-13-45
        raise fail(f"YAML error: {type(e).__name__}: {_clip(str(e), 200)}") from e


def _too_big(source: str, size: int | None) -> ScenarioError:
    said = f"{size} bytes" if size is not None else f"more than {MAX_FILE_BYTES} bytes"
    return ScenarioError(
        _one_line(f"{source}: file is {said}; the limit is {MAX_FILE_BYTES} bytes (1 MiB)")
    )


def read_text(path: Path, what: str = "scenario") -> str:
    """The text of ``path`` (refused unread when larger than 1 MiB; UTF-8 only).

    Raises:
        ScenarioError: the file cannot be read, is too large, or is not UTF-8.
    """
    source = str(path)
    try:
        with open(path, "rb") as f:
            size = _regular_size(f.fileno())
            if size is not None and size > MAX_FILE_BYTES:
                raise _too_big(source, size)
            # read one byte past the limit: a FIFO or a growing file has no honest st_size
            raw = f.read(MAX_FILE_BYTES + 1)
    except OSError as e:
        raise ScenarioError(
            _one_line(f"{source}: cannot read {what} file: {e.strerror or e}")
        ) from e
    if len(raw) > MAX_FILE_BYTES:
        raise _too_big(source, size)
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise ScenarioError(
            _one_line(f"{source}: byte {e.start}: not UTF-8 text; {what} files are UTF-8")
        ) from e


def _regular_size(fd: int) -> int | None:
    st = os.fstat(fd)
    return st.st_size if stat.S_ISREG(st.st_mode) else None
