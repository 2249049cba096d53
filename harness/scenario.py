"""Scenario files (YAML) -> ``harness.model.Scenario``.

The format is documented in scenarios/README.md. A file is validated completely before anything
runs, and every problem is one ScenarioError of one line that names the file, the key path and
the valid choices::

    scenarios/x.yaml: steps[2].reboot.host: unknown host 'app3'; known: app1, app2, dns, ...

YAML is read with a SafeLoader that knows only ``true``/``false`` as booleans (YAML 1.2: ``yes``,
``no``, ``on`` and ``off`` stay strings, so ``new_ip: yes`` is refused rather than guessed) and
that refuses duplicate keys (PyYAML would silently keep the last one).

The document is then validated by pydantic models (strict types, no unknown keys), one per step
kind; hosts, checks and incidents are checked against the validation context. The first
ValidationError entry becomes the one-line message: its ``loc`` is the key path, its type the
wording.
"""

from __future__ import annotations

import datetime
import math
import os
import re
import stat
from collections.abc import Callable, Hashable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, ClassVar, NoReturn, Self, cast, get_args

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainValidator,
    StringConstraints,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import ErrorDetails, InitErrorDetails

from harness.errors import ScenarioError
from harness.model import (
    ORDERS,
    REBOOT_MODES,
    SERVICES,
    Budget,
    DnsRotate,
    Expect,
    FullRestart,
    Kill,
    MysqlFailover,
    Reboot,
    Reproduces,
    Rolling,
    Scenario,
    SentinelFailover,
    Sleep,
    Start,
    Step,
    Stop,
    Topology,
    WaitRecovered,
)
from harness.verdicts import RECONNECT_SERVICES, WRITE_SERVICES

MAX_FILE_BYTES = 1024 * 1024
MAX_STEPS = 500
MAX_SEED = 2**63 - 1
MAX_DEPTH = 50  # YAML nesting; a scenario needs about 6
MAX_ERRORS = 10**9  # a max_errors budget above this is no budget
_TOO_DEEP = f"nested deeper than {MAX_DEPTH} levels; a scenario needs only a few"
NAME_RE = re.compile(r"[a-z0-9][a-z0-9-]{0,62}")
SIGNALS = ("TERM", "KILL", "INT", "HUP", "QUIT", "USR1", "USR2", "STOP", "CONT")
GROUPS = ("all", "apps", "lbs", "mysql", "redis")
# A supervisord program ("group:name" included) or a process name; it ends up in a command line.
PROGRAM_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:@+-]{0,63}")

UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}
_DURATION_RE = re.compile(r"\s*([+-]?(?:\d+(?:\.\d*)?|\.\d+))\s*([A-Za-z]*)\s*")
_DURATION_HINT = "a number of seconds or a string like 500ms, 30s, 2m, 1h"

# Bounds per duration key, in seconds: (maximum, zero allowed). The minimum is always 0.
DURATION_BOUNDS: dict[str, tuple[float, bool]] = {
    "down_for": (30 * 60.0, True),
    "grace": (5 * 60.0, True),
    "within": (3600.0, False),
    "recover_within": (3600.0, False),
    "timeout": (3600.0, False),
    "sleep": (3600.0, True),
    "seconds": (3600.0, True),
    "wait": (3600.0, True),
    "max_downtime": (3600.0, True),
    "max_reconnect": (3600.0, True),
}

_BOOL_TAG = "tag:yaml.org,2002:bool"
_MERGE_TAG = "tag:yaml.org,2002:merge"


# -- YAML --------------------------------------------------------------------------------------


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


# -- message helpers ---------------------------------------------------------------------------


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


def format_seconds(seconds: float) -> str:
    """``1800`` -> ``30m``, ``0.5`` -> ``500ms``: a bound the way a scenario would write it."""
    if not math.isfinite(seconds) or abs(seconds) >= 1e9:
        return f"{seconds:g}s"
    if seconds == 0:
        return "0s"
    for unit, size in (("h", 3600.0), ("m", 60.0)):
        if seconds % size == 0:
            return f"{seconds / size:g}{unit}"
    if abs(seconds) >= 1 or seconds == int(seconds):
        return f"{seconds:g}s"
    return f"{seconds * 1000:g}ms"


# -- durations ---------------------------------------------------------------------------------


def parse_duration(
    value: object, *, where: str, minimum: float, maximum: float, allow_zero: bool
) -> float:
    """Seconds from a number or a string with a unit (``500ms``, ``30s``, ``2m``, ``1h``).

    Args:
        value: what the YAML held.
        where: the start of any error message: the source and the key path
            (``scenarios/x.yaml: steps[0].reboot.down_for``).
        minimum: the smallest value allowed, in seconds.
        maximum: the largest value allowed, in seconds.
        allow_zero: whether exactly 0 is allowed (``False``: the value must be above 0).

    Raises:
        ScenarioError: one line naming ``where``, what is wrong and the allowed range.
    """
    try:
        return _seconds(value, minimum, maximum, allow_zero)
    except ValueError as e:
        raise ScenarioError(_one_line(f"{where}: {e}")) from None


def _seconds(value: object, minimum: float, maximum: float, allow_zero: bool) -> float:
    """parse_duration without ``where``: raises ValueError(what is wrong; the valid range)."""
    low = format_seconds(minimum)
    if allow_zero or minimum > 0:
        valid = f"valid: {low} to {format_seconds(maximum)}"
    else:
        valid = f"valid: more than {low} up to {format_seconds(maximum)}"

    def fail(problem: str) -> NoReturn:
        raise ValueError(problem)

    seconds: float
    if isinstance(value, str):
        match = _DURATION_RE.fullmatch(value)
        if match is None:
            fail(f"bad duration {_show(value)}; valid: {_DURATION_HINT}")
        number, unit = match.groups()
        if not unit:
            fail(f"duration {_show(value)} has no unit; valid units: {', '.join(UNITS)}")
        if unit not in UNITS:
            fail(f"unknown unit {_show(unit)} in {_show(value)}; valid units: {', '.join(UNITS)}")
        seconds = float(number) * UNITS[unit]
    elif isinstance(value, bool) or not isinstance(value, int | float):
        fail(f"expected a duration ({_DURATION_HINT}), got {_kind(value)}")
    elif isinstance(value, int):
        # float() of a huge int overflows; anything this large is out of bounds anyway
        seconds = (
            float(value) if value.bit_length() <= 64 else (math.inf if value > 0 else -math.inf)
        )
    else:
        seconds = value
    shown = _show(value)
    if math.isnan(seconds):
        fail(f"duration is not a number ({shown}); {valid}")
    if seconds < minimum:
        if minimum == 0:
            fail(f"negative duration {shown}; {valid}")
        fail(f"duration {shown} is below the minimum {low}; {valid}")
    if seconds == 0 and not allow_zero:
        fail(f"duration must be more than 0s, got {shown}; {valid}")
    if seconds > maximum:
        fail(f"duration {shown} is above the maximum {format_seconds(maximum)}; {valid}")
    return seconds + 0.0  # -0.0 -> 0.0


# -- field types -------------------------------------------------------------------------------
# Validators raise ValueError with the final wording; pydantic adds the key path.


@dataclass(frozen=True)
class _Known:
    """The validation context: the names a scenario may use."""

    topology: Topology
    checks: tuple[str, ...]
    incidents: tuple[str, ...]


def _known(info: ValidationInfo) -> _Known:
    return cast(_Known, info.context)


def _pick(
    value: object, noun: str, choices: Sequence[str], *, word: str = "valid", ordered: bool = False
) -> str:
    valid = f"{word}: {', '.join(choices) if ordered else _choices(choices)}"
    if not isinstance(value, str):
        raise ValueError(f"expected a {noun} name, got {_kind(value)}; {valid}")
    if value not in choices:
        raise ValueError(f"unknown {noun} {_show(value)}; {valid}")
    return value


def _one_of(
    noun: str, choices_of: Callable[[_Known], Sequence[str]], *, hosts: bool = False
) -> PlainValidator:
    """A name from a set; ``hosts``: a set of hosts, which a message calls known."""

    def check(value: object, info: ValidationInfo) -> str:
        known = _known(info)
        choices = choices_of(known)
        if hosts and value in known.topology.hosts and value not in choices:
            raise ValueError(f"{_show(value)} is not a {noun}; known: {_choices(choices)}")
        return _pick(value, noun, choices, word="known" if hosts else "valid")

    return PlainValidator(check)


def _error_at(loc: tuple[int | str, ...], value: object, problem: str) -> ValidationError:
    """A ValidationError below the current key; pydantic prefixes the current key path."""
    error = InitErrorDetails(
        type="value_error", loc=loc, input=value, ctx={"error": ValueError(problem)}
    )
    return ValidationError.from_exception_data("scenario", [error])


def _unique(noun: str) -> AfterValidator:
    def check(names: tuple[str, ...]) -> tuple[str, ...]:
        seen: set[str] = set()
        for i, name in enumerate(names):
            if name in seen:
                raise _error_at((i,), name, f"duplicate {noun} {_show(name)}; each {noun} once")
            seen.add(name)
        return names

    return AfterValidator(check)


def _duration(value: object, info: ValidationInfo) -> float:
    maximum, allow_zero = DURATION_BOUNDS[str(info.field_name)]
    return _seconds(value, 0.0, maximum, allow_zero)


def _signal(value: object) -> str:
    name = value.strip().upper().removeprefix("SIG") if isinstance(value, str) else value
    # the name as normalised when it is valid, else as written (for the message)
    return _pick(name if name in SIGNALS else value, "signal", SIGNALS, ordered=True)


def _listed_host(value: object, info: ValidationInfo) -> str:
    hosts = _known(info).topology.hosts
    if isinstance(value, str) and value not in hosts and value in GROUPS:
        raise ValueError(
            f"{_show(value)} is a group; a list takes host names only "
            f"(a group stands alone); known: {_choices(hosts)}"
        )
    return _pick(value, "host", hosts, word="known")


def _hosts(value: object, info: ValidationInfo) -> object:
    """A group or a single host -> its host names; a list is left to check item by item."""
    t = _known(info).topology
    valid = f"valid: a group ({', '.join(GROUPS)}), a host or a list of hosts"
    if isinstance(value, str):
        if value in GROUPS:
            groups = (t.hosts, t.apps, t.lbs, t.mysql_hosts, t.redis_hosts)
            hosts = tuple(dict(zip(GROUPS, groups, strict=True))[value])
            if not hosts:
                raise ValueError(f"group {_show(value)} has no hosts in this topology")
            return hosts
        if value in t.hosts:
            return (value,)
        raise ValueError(
            f"unknown host or group {_show(value)}; {valid}; known hosts: {_choices(t.hosts)}"
        )
    if not isinstance(value, list):
        raise ValueError(f"expected a group, a host or a list of hosts, got {_kind(value)}")
    if not value:
        raise ValueError(f"empty list of hosts; {valid}")
    return tuple(value)


def _checks(value: object, info: ValidationInfo) -> object:
    """``all`` -> () (every check); a list is left to check item by item."""
    known = _choices(_known(info).checks)
    if value == "all":
        return ()
    if isinstance(value, str):
        hint = f"; write [{value}] for one check" if value in _known(info).checks else ""
        raise ValueError(
            f"expected 'all' or a list of check names, got {_kind(value)}{hint}; known: {known}"
        )
    if not isinstance(value, list):
        raise ValueError(f"expected 'all' or a list of check names, got {_kind(value)}")
    if not value:
        raise ValueError(f"empty list of checks; write 'all' or name at least one; known: {known}")
    return tuple(value)


def _bare_sleep(value: object, info: ValidationInfo) -> object:
    """``sleep: 2s`` is short for ``sleep: {seconds: 2s}``."""
    return value if isinstance(value, dict) else {"seconds": _duration(value, info)}


_Duration = Annotated[float, PlainValidator(_duration)]
_NullIsEmpty = BeforeValidator(lambda value: {} if value is None else value)
_Host = Annotated[str, _one_of("host", lambda k: k.topology.hosts, hosts=True)]
_Hosts = Annotated[
    tuple[Annotated[str, PlainValidator(_listed_host)], ...],
    BeforeValidator(_hosts),
    _unique("host"),
]
_Check = Annotated[str, _one_of("check", lambda k: k.checks)]
_Checks = Annotated[tuple[_Check, ...], BeforeValidator(_checks), _unique("check")]
_LoadBalancer = Annotated[str, _one_of("load balancer", lambda k: k.topology.lbs, hosts=True)]
_MysqlHost = Annotated[str, _one_of("MySQL host", lambda k: k.topology.mysql_hosts, hosts=True)]
_Mode = Annotated[str, _one_of("mode", lambda k: REBOOT_MODES)]
_Program = Annotated[str, StringConstraints(pattern=rf"^{PROGRAM_RE.pattern}$")]

# The default of an optional key. Never read: only the keys a file sets are passed on, so an
# absent key takes the default of the dataclass in harness.model.
_ABSENT: Any = None


# -- models ------------------------------------------------------------------------------------


class _Strict(BaseModel):
    """No unknown keys; strict types (``'1'`` is no integer, ``1`` is no boolean)."""

    model_config = ConfigDict(extra="forbid", strict=True)


class _Step(_Strict):
    """The parameters of one step kind; ``build`` makes the harness.model dataclass."""

    target: ClassVar[Callable[..., Step]]

    def build(self) -> Step:
        return self.target(**{key: getattr(self, key) for key in self.model_fields_set})


class _PowerOff(_Step):
    host: _Host
    mode: _Mode = _ABSENT
    grace: _Duration = _ABSENT

    @field_validator("grace")
    @classmethod
    def _graceful_only(cls, grace: float, info: ValidationInfo) -> float:
        mode = info.data.get("mode")
        if mode not in (None, "graceful"):
            raise ValueError(
                f"grace only applies to mode graceful, not {mode}; valid: remove grace "
                "or set mode: graceful"
            )
        return grace


class _Reboot(_PowerOff):
    target = Reboot
    down_for: _Duration = _ABSENT
    new_ip: bool = _ABSENT


class _Stop(_PowerOff):
    target = Stop


class _Kill(_Step):
    target = Kill
    host: _Host
    program: _Program
    signal: Annotated[str, PlainValidator(_signal)] = _ABSENT


class _Start(_Step):
    target = Start
    host: _Host


class _DnsRotate(_Step):
    in_: _LoadBalancer = Field(_ABSENT, alias="in")
    out: _LoadBalancer = _ABSENT
    wait: _Duration = _ABSENT

    @model_validator(mode="after")
    def _one_action(self, info: ValidationInfo) -> Self:
        if (self.in_ is None) == (self.out is None):
            got = "neither" if self.in_ is None else "both"
            raise ValueError(
                f"takes exactly one of 'in' or 'out', got {got}; valid: {{out: LB}} or {{in: LB}} "
                f"with LB one of {_choices(_known(info).topology.lbs)}"
            )
        return self

    def build(self) -> Step:
        action, lb = ("out", self.out) if self.in_ is None else ("in", self.in_)
        wait = {"wait": self.wait} if "wait" in self.model_fields_set else {}
        return DnsRotate(lb=lb, action=action, **wait)


class _SentinelFailover(_Step):
    target = SentinelFailover
    timeout: _Duration = _ABSENT


class _MysqlFailover(_Step):
    target = MysqlFailover
    to: _MysqlHost = _ABSENT
    timeout: _Duration = _ABSENT


class _WaitRecovered(_Step):
    target = WaitRecovered
    within: _Duration
    checks: _Checks = _ABSENT


class _Sleep(_Step):
    target = Sleep
    seconds: _Duration


class _Rolling(_Step):
    target = Rolling
    hosts: _Hosts
    mode: _Mode = _ABSENT
    down_for: _Duration = _ABSENT
    recover_within: _Duration = _ABSENT


class _FullRestart(_Step):
    target = FullRestart
    hosts: _Hosts
    order: Annotated[str, _one_of("order", lambda k: ORDERS)] = _ABSENT
    mode: _Mode = _ABSENT
    down_for: _Duration = _ABSENT


class _StepDoc(_Strict):
    """One step: a one-key mapping from the step kind to its parameters."""

    dns_rotate: _DnsRotate = _ABSENT
    full_restart: _FullRestart = _ABSENT
    kill: _Kill = _ABSENT
    mysql_failover: Annotated[_MysqlFailover, _NullIsEmpty] = _ABSENT
    reboot: _Reboot = _ABSENT
    rolling: _Rolling = _ABSENT
    sentinel_failover: Annotated[_SentinelFailover, _NullIsEmpty] = _ABSENT
    sleep: Annotated[_Sleep, BeforeValidator(_bare_sleep)] = _ABSENT
    start: _Start = _ABSENT
    stop: _Stop = _ABSENT
    wait_recovered: _WaitRecovered = _ABSENT

    @model_validator(mode="before")
    @classmethod
    def _one_key(cls, value: object) -> object:
        kinds = ", ".join(cls.model_fields)
        if not isinstance(value, dict):
            hint = (
                f"; write '{value}: {{}}'"
                if isinstance(value, str) and value in cls.model_fields
                else ""
            )
            raise ValueError(
                f"a step is a one-key mapping like 'reboot: {{host: app1}}', "
                f"got {_kind(value)}{hint}; valid steps: {kinds}"
            )
        if len(value) != 1:
            named = [k for k in value if isinstance(k, str) and k in cls.model_fields]
            if len(named) == 1 and len(value) > 1:
                hint = f"; indent the parameters under '{named[0]}'"
            else:
                hint = f"; valid steps: {kinds}"
            keys = ", ".join(_label(k) for k in value)
            got = "an empty mapping" if not value else f"{len(value)} keys ({keys})"
            raise ValueError(f"a step is a one-key mapping, got {got}{hint}")
        return value  # an unknown step kind is an unknown key

    def build(self) -> Step:
        (kind,) = self.model_fields_set
        step: _Step = getattr(self, kind)
        return step.build()


class _Expect(_Strict):
    checks: _Checks = _ABSENT
    recover_within: _Duration = _ABSENT


class _Reproduces(_Strict):
    incident: Annotated[str, _one_of("incident", lambda k: k.incidents)]
    check: _Check = ""
    budget: Annotated[str, _one_of("service", lambda _k: SERVICES)] = ""

    @model_validator(mode="after")
    def _one_failure(self) -> Self:
        if bool(self.check) == bool(self.budget):
            raise _error_at(
                (),
                None,
                "name exactly one of check (a recovery check) or budget (a service whose"
                " budget the incident exceeds)",
            )
        return self


class _Budget(_Strict):
    """What one service may suffer; an absent key is no limit."""

    max_downtime: _Duration = _ABSENT
    max_errors: Annotated[int, Field(ge=0, le=MAX_ERRORS)] = _ABSENT
    max_reconnect: _Duration = _ABSENT
    no_lost_writes: bool = _ABSENT

    def build(self, service: str) -> Budget:
        return Budget(service, **{key: getattr(self, key) for key in self.model_fields_set})


class _Budgets(_Strict):
    """One optional budget per service of harness.model.SERVICES (checked below)."""

    http: _Budget = _ABSENT
    socketio: _Budget = _ABSENT
    redis: _Budget = _ABSENT
    mysql: _Budget = _ABSENT
    metrics: _Budget = _ABSENT

    @model_validator(mode="after")
    def _measurable(self) -> Self:
        for service in SERVICES:
            budget = getattr(self, service)
            if budget is None:
                continue
            if service not in WRITE_SERVICES and budget.no_lost_writes is not None:
                raise _error_at(
                    (service, "no_lost_writes"),
                    budget.no_lost_writes,
                    f"{service} has no acknowledged writes to lose; valid: no_lost_writes "
                    f"under {' or '.join(WRITE_SERVICES)}",
                )
            if service not in RECONNECT_SERVICES and budget.max_reconnect is not None:
                raise _error_at(
                    (service, "max_reconnect"),
                    budget.max_reconnect,
                    f"{service} clients do not reconnect; valid: max_reconnect under "
                    f"{' or '.join(RECONNECT_SERVICES)}",
                )
        return self

    def build(self) -> tuple[Budget, ...]:
        # in the order of SERVICES, whatever order the file used
        return tuple(getattr(self, s).build(s) for s in SERVICES if s in self.model_fields_set)


if tuple(_Budgets.model_fields) != SERVICES:  # a service added to the model needs a key here
    raise AssertionError(f"_Budgets keys {tuple(_Budgets.model_fields)} != SERVICES {SERVICES}")


class _Scenario(_Strict):
    name: Annotated[str, StringConstraints(pattern=rf"^{NAME_RE.pattern}$")]
    description: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]
    seed: Annotated[int, Field(ge=0, le=MAX_SEED)] = Scenario.seed
    reproduces: _Reproduces = _ABSENT  # None when absent; an explicit null is refused
    traffic: bool = _ABSENT
    budgets: _Budgets = _ABSENT  # implies traffic
    steps: Annotated[list[_StepDoc], Field(min_length=1, max_length=MAX_STEPS)]
    expect: _Expect

    @model_validator(mode="after")
    def _budgets_need_traffic(self) -> Self:
        if self.traffic is False and self.budgets is not None:
            raise _error_at(
                ("traffic",),
                False,
                "false, but budgets are set and only traffic can measure them; valid: true, "
                "or leave traffic out (budgets imply it), or remove budgets",
            )
        return self

    @model_validator(mode="after")
    def _reproduced_check_runs(self) -> Self:
        checks = self.expect.checks
        if self.reproduces and self.reproduces.budget and self.budgets is None:
            raise _error_at(
                ("reproduces", "budget"),
                self.reproduces.budget,
                "no budgets are set, so nothing could be exceeded; add budgets for this service",
            )
        if (
            self.reproduces
            and self.reproduces.check
            and checks
            and (self.reproduces.check not in checks)
        ):
            raise _error_at(
                ("reproduces", "check"),
                self.reproduces.check,
                f"check {_show(self.reproduces.check)} is not among expect.checks, so it would "
                f"never run; valid: {_choices(checks)}",
            )
        return self

    def build(self, source: str) -> Scenario:
        expect = {k: getattr(self.expect, k) for k in self.expect.model_fields_set}
        return Scenario(
            name=self.name,
            description=self.description,
            steps=tuple(step.build() for step in self.steps),
            expect=Expect(**expect),
            reproduces=Reproduces(**self.reproduces.model_dump()) if self.reproduces else None,
            seed=self.seed,
            source=source,
            traffic=bool(self.traffic) or self.budgets is not None,
            budgets=self.budgets.build() if self.budgets is not None else (),
        )


TOP_KEYS = tuple(sorted(_Scenario.model_fields))


# -- pydantic errors -> one line ---------------------------------------------------------------

# The wording per pydantic error type: {kind} is "the integer 3", {shown} the value, {key} the
# last key of the path; the error's ctx (min_length, ...) is available too.
_MESSAGES = {
    "missing": "required key is missing",
    "string_type": "expected a string, got {kind}",
    "string_unicode": "expected text, got a string that is not valid Unicode",
    "string_pattern_mismatch": "invalid {key} {shown}",
    "string_too_short": "must not be empty; say what the scenario rehearses",  # description
    "bool_type": "expected true or false, got {kind}",
    "int_type": "expected an integer, got {kind}",
    "greater_than_equal": "{shown} is out of range",
    "less_than_equal": "{shown} is out of range",
    "list_type": "expected a list of {key}, got {kind}",
    "too_short": f"empty; a scenario needs {{min_length}} to {MAX_STEPS} steps",
    "too_long": "{actual_length} steps; at most {max_length} allowed",
}
# What is valid, per key, for the messages above.
_VALID = {
    "name": "1 to 63 lowercase letters, digits and '-', starting with a letter or digit",
    "seed": f"an integer from 0 to {MAX_SEED}",
    "max_errors": f"an integer from 0 to {MAX_ERRORS}",
    "program": "a supervisord program or process name of letters, digits and . _ : @ + - "
    "(at most 64)",
}


_KEY_ERRORS = {"extra_forbidden": 0, "invalid_key": 0, "missing": 1}


def _first(errors: list[ErrorDetails]) -> ErrorDetails:
    """The error to report: the first one, unless a mapping around it has an unknown key (maybe
    a misspelt one) or a missing key; keys are checked before values, level by level."""
    loc = errors[0]["loc"]
    keys = [
        e for e in errors if e["type"] in _KEY_ERRORS and loc[: len(e["loc"]) - 1] == e["loc"][:-1]
    ]
    return min(keys, key=lambda e: (len(e["loc"]), _KEY_ERRORS[e["type"]]), default=errors[0])


def _keys_at(loc: tuple[int | str, ...]) -> str:
    """The keys the model at ``loc`` takes, for 'unknown key' and 'expected a mapping'."""
    node: Any = _Scenario
    for part in loc:
        node = get_args(node)[0] if isinstance(part, int) else node.model_fields[part].annotation
    return ", ".join(sorted(field.alias or name for name, field in node.model_fields.items()))


def _path(loc: Iterable[int | str]) -> str:
    path = ""
    for part in loc:
        path = f"{path}[{part}]" if isinstance(part, int) else _join(path, part)
    return path


def _describe(error: ErrorDetails) -> str:
    """``KEY.PATH: what is wrong; valid: ...`` for one pydantic error."""
    kind, loc, value = error["type"], error["loc"], error["input"]
    ctx = error.get("ctx", {})
    if kind in ("extra_forbidden", "invalid_key"):  # invalid_key: a key that is not a string
        key = value if kind == "invalid_key" else loc[-1]
        loc = loc[:-1]
        return f"{_join(_path(loc), key)}: unknown key {_show(key)}; valid: {_keys_at(loc)}"
    if kind == "value_error":
        problem = str(ctx["error"])
    elif kind == "model_type":
        if value is None and not loc:
            return f"file is empty; expected a mapping with keys {_keys_at(loc)}"
        where = "" if loc else " at the top level"
        problem = f"expected a mapping{where} with keys {_keys_at(loc)}, got {_kind(value)}"
    else:
        key = loc[-1] if loc else ""
        if kind in _MESSAGES:
            problem = _MESSAGES[kind].format(kind=_kind(value), shown=_show(value), key=key, **ctx)
        else:  # not expected from these models; pydantic's own words, still on one line
            problem = f"{error['msg']}, got {_kind(value)}"
        if kind != "missing" and key in _VALID:
            problem += f"; valid: {_VALID[str(key)]}"
    return f"{_path(loc)}: {problem}" if loc else problem


# -- public API --------------------------------------------------------------------------------


def _too_big(source: str, size: int | None) -> ScenarioError:
    said = f"{size} bytes" if size is not None else f"more than {MAX_FILE_BYTES} bytes"
    return ScenarioError(
        _one_line(f"{source}: file is {said}; the limit is {MAX_FILE_BYTES} bytes (1 MiB)")
    )


def parse_scenario(
    text: str,
    *,
    source: str,
    topology: Topology,
    checks: Sequence[str],
    incidents: Sequence[str],
) -> Scenario:
    """Validate the YAML ``text`` of a scenario completely and build the Scenario.

    Args:
        text: the file's contents.
        source: what messages call the file (usually its path as the user gave it).
        topology: hosts, load balancers and databases the steps may name.
        checks: the check names ``expect``, ``wait_recovered`` and ``reproduces`` may name.
        incidents: the incident names ``reproduces.incident`` may name.

    Raises:
        ScenarioError: one line, ``SOURCE: KEY.PATH: what is wrong; valid: choices``.
    """
    src = _one_line(source)
    try:
        if not isinstance(text, str):
            raise ScenarioError(f"{src}: expected the text of a scenario, got {_kind(text)}")
        size = len(text.encode("utf-8", "surrogatepass"))
        if size > MAX_FILE_BYTES:
            raise _too_big(src, size)
        data = _load_yaml(text, src)
        known = _Known(topology, tuple(checks), tuple(incidents))
        try:
            doc = _Scenario.model_validate(data, context=known)
        except ValidationError as e:
            problem = _describe(_first(e.errors(include_url=False)))
            raise ScenarioError(_one_line(f"{src}: {problem}")) from e
        return doc.build(src)
    except ScenarioError:
        raise
    except RecursionError as e:
        raise ScenarioError(f"{src}: nested too deeply; scenarios need only a few levels") from e
    except Exception as e:  # a bug here must still reach the user as a one-line usage error
        raise ScenarioError(
            _one_line(f"{src}: cannot read scenario: {type(e).__name__}: {_clip(str(e), 200)}")
        ) from e


def load_scenario(
    path: Path,
    *,
    topology: Topology,
    checks: Sequence[str],
    incidents: Sequence[str],
) -> Scenario:
    """Read and validate one scenario file (refused unread when larger than 1 MiB).

    Raises:
        ScenarioError: the file cannot be read, is too large, or is invalid.
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
            _one_line(f"{source}: cannot read scenario file: {e.strerror or e}")
        ) from e
    if len(raw) > MAX_FILE_BYTES:
        raise _too_big(source, size)
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise ScenarioError(
            _one_line(f"{source}: byte {e.start}: not UTF-8 text; scenario files are UTF-8")
        ) from e
    return parse_scenario(
        text, source=source, topology=topology, checks=checks, incidents=incidents
    )


def _regular_size(fd: int) -> int | None:
    st = os.fstat(fd)
    return st.st_size if stat.S_ISREG(st.st_mode) else None


def load_scenarios(
    paths: Iterable[Path],
    *,
    topology: Topology,
    checks: Sequence[str],
    incidents: Sequence[str],
) -> list[Scenario]:
    """Load every file of ``paths`` in order; scenario names must be unique across them.

    Raises:
        ScenarioError: the first invalid file, or the second file using a name.
    """
    scenarios: list[Scenario] = []
    first_source: dict[str, str] = {}
    for path in paths:
        scenario = load_scenario(path, topology=topology, checks=checks, incidents=incidents)
        if scenario.name in first_source:
            raise ScenarioError(
                _one_line(
                    f"{scenario.source}: name: duplicate scenario name {_show(scenario.name)}; "
                    f"also in {first_source[scenario.name]}"
                )
            )
        first_source[scenario.name] = scenario.source
        scenarios.append(scenario)
    return scenarios
