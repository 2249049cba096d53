"""The project config file: what a team fixes once per repository instead of repeating it on
every call (``--topology``, ``--compose``, ``--incidents``, ``--project`` ...), read the same
way by the command line, the pytest plugin and Chaos Toolkit.

Either a ``reboot-harness.toml`` (keys at the top level) or the table ``[tool.reboot-harness]``
of a ``pyproject.toml``, found from the working folder upwards to the filesystem root: the
nearest folder holding one wins (a ``pyproject.toml`` without the table does not count). A
folder holding both is refused, naming both: which one a reader of the repository should trust
is not for the harness to guess. Relative paths are relative to the file's folder.

Each setting is resolved the same way everywhere (:func:`resolve`), key by key: the command
line, else the environment (where a variable exists: ``$RH_PROJECT``, ``$RH_SCENARIOS_DIR``),
else this file, else the built-in default. A list the command line gives (``--compose``)
replaces the file's; incidents alone add up (the shipped ones, the file's, ``$RH_INCIDENTS_DIR``
and ``--incidents``), since a name defined twice is refused anyway. The pytest plugin puts its
own options, then its ini values, above this file (reboot_harness.faces.pytest_plugin.hooks);
Chaos Toolkit puts an activity's ``project`` argument and the experiment's configuration above
``$RH_PROJECT`` (reboot_harness.faces.chaostoolkit).
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from reboot_harness.errors import UsageError
from reboot_harness.inputs.durations import DAY, parse_duration
from reboot_harness.inputs.messages import _kind, _show

FILE = "reboot-harness.toml"
PYPROJECT = "pyproject.toml"
TABLE = "tool.reboot-harness"

# The keys a file may set, each with what its value is (files and folders must exist).
KEYS = {
    "stack": "your compose file as the whole stack, or `seed` (the harness's own)",
    "topology": "your topology file",
    "compose": "your compose overrides, layered in this order",
    "incidents": "folder(s) of your own incidents, beside the shipped ones",
    "scenarios": "folder(s) of scenarios for `list`, `run` without names and pytest",
    "project": "the stack's compose project name (up, check, down, the one-shot commands)",
    "up-timeout": "how long a stack may take to come up with every check holding",
    "max-planned": "refuse a scenario whose own plan takes longer",
}
# Options deliberately not settable from a file, with the way out the refusal names. A file
# lies in a repository and applies to every call made there, unseen: nothing that weakens what
# a run proves (unsafe compose files) or leaves stacks behind may be switched on that way. The
# machine's share (--jobs, $RH_ENGINES) and one call's outputs and budget (--report,
# --junitxml, --max-duration, --repeat) are not the repository's to fix, so they are left out
# too and are unknown keys.
REFUSED = {
    "allow-unsafe-compose": "give --allow-unsafe-compose on the command line of each call that"
    " needs it (a file would switch it on for every call, unseen)",
    "keep": "give --keep (or pytest's --rh-keep) on the command line of each call that needs"
    " it (a file would leave stacks behind on every call)",
}
# Where each key's environment variable, when there is one, sits between the command line and
# the file.
ENV = {"project": "RH_PROJECT", "scenarios": "RH_SCENARIOS_DIR"}


@dataclass(frozen=True)
class ProjectConfig:
    """The project config file in force, read and validated (every path absolute and there).

    Attributes:
        path: the file (None: none was found; nothing below is then set).
        given: the keys the file sets (``stack = "seed"`` sets ``stack`` to None).
        stack: your compose file as the whole stack (None: the shipped stack).
        topology: your topology file.
        compose: your compose overrides, in layering order.
        incidents: folders of your own incidents.
        scenarios: folders of scenarios.
        project: the stack's compose project name.
        up_timeout: seconds a stack may take to come up.
        max_planned: the longest plan a scenario may have, in seconds.
    """

    path: Path | None = None
    given: frozenset[str] = frozenset()
    stack: Path | None = None
    topology: Path | None = None
    compose: tuple[Path, ...] = ()
    incidents: tuple[Path, ...] = ()
    scenarios: tuple[Path, ...] = ()
    project: str | None = None
    up_timeout: float | None = None
    max_planned: float | None = None

    def value(self, key: str) -> object:
        """The value of the file's ``key`` (one of :data:`KEYS`)."""
        return getattr(self, key.replace("-", "_"))

    @property
    def where(self) -> str:
        """The file as messages name it: ``/p/pyproject.toml [tool.reboot-harness]``."""
        if self.path is None:
            return "no config file"
        return f"{self.path} [{TABLE}]" if self.path.name == PYPROJECT else str(self.path)

    def summary(self) -> str:
        """Two lines for `--help`: the file in force, or that there is none."""
        head = f"config: {self.where}" if self.path else "config: no config file found"
        return (
            f"{head}\n  (the nearest {FILE} or {PYPROJECT} [{TABLE}]\n"
            "  from here up; `reboot-harness config` shows each setting and its source)"
        )


def _table(path: Path) -> dict[str, object] | None:
    """The harness's table of ``path`` (None: a pyproject.toml without one)."""
    try:
        with path.open("rb") as f:
            document = tomllib.load(f)
    except OSError as e:
        raise UsageError(f"{path}: cannot read it ({e.strerror or e})") from None
    except tomllib.TOMLDecodeError as e:
        raise UsageError(f"{path}: not valid TOML ({e}); fix the file") from None
    if path.name != PYPROJECT:
        return document
    tool = document.get("tool")
    table = tool.get("reboot-harness") if isinstance(tool, dict) else None
    if table is not None and not isinstance(table, dict):
        raise UsageError(f"{path}: {TABLE}: expected a table ([{TABLE}]), got {_kind(table)}")
    return table


def find_config(start: Path | None = None) -> Path | None:
    """The project config file for ``start`` (default: the working folder): the nearest
    ``reboot-harness.toml`` or ``pyproject.toml`` with ``[tool.reboot-harness]`` in it or a
    folder above it; None when there is none.

    Raises:
        UsageError: one folder holds both (naming both), or a pyproject.toml cannot be read.
    """
    folder = (start or Path.cwd()).resolve()
    for here in (folder, *folder.parents):
        own = here / FILE
        pyproject = here / PYPROJECT
        has_table = pyproject.is_file() and _table(pyproject) is not None
        if own.is_file() and has_table:
            raise UsageError(
                f"{here}: both {FILE} and {PYPROJECT} [{TABLE}] configure reboot-harness;"
                " keep one of them"
            )
        if own.is_file():
            return own
        if has_table:
            return pyproject
    return None


def load_config(path: Path) -> ProjectConfig:
    """The config file ``path`` read and validated.

    Raises:
        UsageError: one line naming the file, the key, what is wrong and the way out: an
            unknown key, a value of the wrong type, a file or folder that is not there, a
            duration out of its bounds.
    """
    path = path.resolve()
    table = _table(path) or {}
    where = f"{path}: {TABLE}." if path.name == PYPROJECT else f"{path}: "
    folder = path.parent
    values: dict[str, Any] = {}
    for key, value in table.items():
        if key in REFUSED:
            raise UsageError(f"{where}{key}: not settable from a file; {REFUSED[key]}")
        read = _READERS.get(key)
        if read is None:
            raise UsageError(f"{where}{key}: unknown key {_show(key)}; valid: {', '.join(KEYS)}")
        values[key.replace("-", "_")] = read(value, f"{where}{key}", folder)
    return ProjectConfig(path, frozenset(table), **values)


def project_config(start: Path | None = None) -> ProjectConfig:
    """The config file in force for ``start`` (default: the working folder), read; an empty
    ProjectConfig when there is none."""
    path = find_config(start)
    return load_config(path) if path is not None else ProjectConfig()


# -- the values ---------------------------------------------------------------------------------


def _text(value: object, where: str) -> str:
    if not isinstance(value, str) or not value.strip():
        got = "an empty string" if value == "" else _kind(value)
        raise UsageError(f"{where}: expected a string, got {got}")
    return value


def _existing(text: str, where: str, folder: Path, *, is_dir: bool) -> Path:
    path = (folder / text).resolve()
    if not (path.is_dir() if is_dir else path.is_file()):
        what = "folder" if is_dir else "file"
        raise UsageError(
            f"{where}: {_show(text)}: no such {what} (relative to {folder});"
            " fix the path or remove the key"
        )
    return path


def _file(value: object, where: str, folder: Path) -> Path:
    return _existing(_text(value, where), where, folder, is_dir=False)


def _stack(value: object, where: str, folder: Path) -> Path | None:
    text = _text(value, where)
    return None if text == "seed" else _existing(text, where, folder, is_dir=False)


def _many(is_dir: bool) -> Callable[[object, str, Path], tuple[Path, ...]]:
    """A string or a list of strings, each a file (or folder) that must be there."""

    def read(value: object, where: str, folder: Path) -> tuple[Path, ...]:
        items = [value] if isinstance(value, str) else value
        if not isinstance(items, list):
            what = "folder" if is_dir else "file"
            raise UsageError(
                f"{where}: expected a {what} name or a list of them, got {_kind(value)}"
            )
        return tuple(
            _existing(_text(v, f"{where}[{i}]"), f"{where}[{i}]", folder, is_dir=is_dir)
            for i, v in enumerate(items)
        )

    return read


def _duration(maximum: float, minimum: float = 0.0) -> Callable[[object, str, Path], float]:
    def read(value: object, where: str, _folder: Path) -> float:
        return parse_duration(
            value, where=where, minimum=minimum, maximum=maximum, allow_zero=False
        )

    return read


# The bounds of the command line's options of the same meaning (wait_option, run_limit_option).
_READERS: dict[str, Callable[[object, str, Path], object]] = {
    "stack": _stack,
    "topology": _file,
    "compose": _many(is_dir=False),
    "incidents": _many(is_dir=True),
    "scenarios": _many(is_dir=True),
    "project": lambda value, where, _folder: _text(value, where),
    "up-timeout": _duration(DAY),
    "max-planned": _duration(7 * DAY, minimum=1.0),
}
assert set(_READERS) == set(KEYS)


# -- resolution ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Setting:
    """One setting as resolved: its value and where it came from (``--topology``,
    ``$RH_PROJECT``, the file as :attr:`ProjectConfig.where` names it, or ``default``)."""

    key: str
    value: object
    source: str


def resolve(
    config: ProjectConfig,
    given: Mapping[str, tuple[str, object]],
    defaults: Mapping[str, object],
    environ: Mapping[str, str] | None = None,
) -> dict[str, Setting]:
    """Each key of ``defaults`` resolved: the command line (``given``: key -> (the option's
    name, its value; None or empty: not given)), else its environment variable (:data:`ENV`),
    else ``config``, else the default.

    Incidents add up instead (the shipped ones, the file's, ``$RH_INCIDENTS_DIR``'s, the
    command line's): an incident's name defined twice is refused, so nothing is shadowed.
    """
    env = os.environ if environ is None else environ
    settings: dict[str, Setting] = {}
    for key, default in defaults.items():
        option, value = given.get(key, ("", None))
        variable = ENV.get(key)
        if key == "incidents":
            mine, theirs = (
                config.incidents,
                tuple(value or ()) if isinstance(value, Sequence) else (),
            )
            sources = [s for s, v in ((config.where, mine), (option, theirs)) if v]
            settings[key] = Setting(key, mine + theirs, " + ".join(sources) or "default")
        elif value not in (None, (), []):
            settings[key] = Setting(key, value, option)
        elif variable and env.get(variable):
            raw = env[variable]
            settings[key] = Setting(key, _from_env(key, raw), f"${variable}")
        elif key in config.given:
            settings[key] = Setting(key, config.value(key), config.where)
        else:
            settings[key] = Setting(key, default, "default")
    return settings


def _from_env(key: str, raw: str) -> object:
    """An environment variable's value as the key holds it (a folder is a 1-tuple)."""
    return (Path(raw),) if key == "scenarios" else raw


def shown(value: object) -> str:
    """A resolved value as `reboot-harness config` prints it."""
    from reboot_harness.inputs.durations import format_seconds

    if value is None:
        return "-"
    if isinstance(value, float):
        return format_seconds(value)
    if isinstance(value, Sequence) and not isinstance(value, str):
        return ", ".join(str(v) for v in value) or "-"
    return str(value)
