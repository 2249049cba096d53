"""The field types of a scenario document: names checked against the validation context
(``_Known``: the topology's hosts, the checks it has, the incidents), durations, signals,
programs and groups of hosts — each refusing a bad value with its final one-line wording
(pydantic adds the key path)."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, cast

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    PlainValidator,
    StringConstraints,
    ValidationError,
    ValidationInfo,
)
from pydantic_core import InitErrorDetails

from reboot_harness.inputs.durations import DURATION_BOUNDS, _seconds
from reboot_harness.inputs.messages import _choices, _kind, _show
from reboot_harness.model.incidents import Incident
from reboot_harness.model.steps import REBOOT_MODES
from reboot_harness.model.topology import Topology

MAX_STEPS = 500
MAX_SEED = 2**63 - 1
MAX_ERRORS = 10**9  # a max_errors budget above this is no budget
NAME_RE = re.compile(r"[a-z0-9][a-z0-9-]{0,62}")
SIGNALS = ("TERM", "KILL", "INT", "HUP", "QUIT", "USR1", "USR2", "STOP", "CONT")
GROUPS = ("all", "apps", "lbs", "mysql", "postgres", "redis")
# One host of a group by its place in the topology, counted from 1 (`lbs.1`, `redis.2`): a
# scenario that fits any topology with those roles. The topology lists the redis, MySQL and
# PostgreSQL hosts master/primary first, so `redis.2`, `mysql.2` and `postgres.2` are replicas
# when the stack starts.
MEMBER_RE = re.compile(rf"({'|'.join(GROUPS)})\.([1-9][0-9]{{0,3}})")
# A supervisord program ("group:name" included) or a process name; it ends up in a command line.
PROGRAM_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:@+-]{0,63}")


# -- field types -------------------------------------------------------------------------------
# Validators raise ValueError with the final wording; pydantic adds the key path.


@dataclass(frozen=True)
class _Known:
    """The validation context: the names a scenario may use."""

    topology: Topology
    checks: tuple[str, ...]
    # incident names, or incidents by name (then `reproduces` is checked against each
    # incident's own declaration)
    incidents: Sequence[str] | Mapping[str, Incident]


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


def group_hosts(topology: Topology, group: str) -> tuple[str, ...]:
    """The hosts of ``group`` (one of :data:`GROUPS`) in ``topology``, in its order."""
    groups = (topology.hosts, topology.apps, topology.lbs, topology.mysql_hosts,
              topology.postgres_hosts, topology.redis_hosts)  # fmt: skip
    return tuple(dict(zip(GROUPS, groups, strict=True))[group])


def member(value: object, topology: Topology) -> object:
    """``GROUP.N`` (see :data:`MEMBER_RE`) -> the Nth host of that group; anything else, and a
    host of that very name, as it is.

    Raises:
        ValueError: the group has fewer than N hosts in this topology.
    """
    if not isinstance(value, str) or value in topology.hosts:
        return value
    m = MEMBER_RE.fullmatch(value)
    if m is None:
        return value
    hosts = group_hosts(topology, m.group(1))
    n = int(m.group(2))
    if n > len(hosts):
        has = f"{len(hosts)} host{'' if len(hosts) == 1 else 's'}" if hosts else "no hosts"
        raise ValueError(
            f"{_show(value)}: group {m.group(1)} has {has} in this topology"
            + (f" ({', '.join(hosts)})" if hosts else "")
        )
    return hosts[n - 1]


_Member = BeforeValidator(lambda value, info: member(value, _known(info).topology))


def _listed_host(value: object, info: ValidationInfo) -> str:
    hosts = _known(info).topology.hosts
    value = member(value, _known(info).topology)
    if isinstance(value, str) and value not in hosts and value in GROUPS:
        raise ValueError(
            f"{_show(value)} is a group; a list takes host names only "
            f"(a group stands alone); known: {_choices(hosts)}"
        )
    return _pick(value, "host", hosts, word="known")


def _hosts(value: object, info: ValidationInfo) -> object:
    """A group or a single host -> its host names; a list is left to check item by item."""
    t = _known(info).topology
    valid = f"valid: a group ({', '.join(GROUPS)}), a host (or GROUP.N) or a list of hosts"
    if isinstance(value, str):
        if value in GROUPS:  # a host of that name: [name]
            hosts = group_hosts(t, value)
            if not hosts:
                raise ValueError(f"group {_show(value)} has no hosts in this topology")
            return hosts
        value = member(value, t)
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


_CLIENT_KEYS = ("dns_min_ttl", "dns_stale", "keepalive")


def _bare_traffic(value: object) -> object:
    """``traffic: true`` is the idealised clients; a mapping describes how they behave."""
    if value is True:
        return {}
    if value is False:
        return {"off": True}
    if isinstance(value, dict) and "off" not in value:
        return value
    raise ValueError(
        f"expected true, false or a mapping with keys {', '.join(_CLIENT_KEYS)}, got"
        f" {_kind(value) if not isinstance(value, dict) else 'the key off'}"
    )


_Duration = Annotated[float, PlainValidator(_duration)]
_NullIsEmpty = BeforeValidator(lambda value: {} if value is None else value)
_Host = Annotated[str, _one_of("host", lambda k: k.topology.hosts, hosts=True), _Member]
_Hosts = Annotated[
    tuple[Annotated[str, PlainValidator(_listed_host)], ...],
    BeforeValidator(_hosts),
    _unique("host"),
]


def _check(value: object, info: ValidationInfo) -> str:
    known = _known(info)
    if isinstance(value, str) and value not in known.checks:
        from reboot_harness.checks.available import unavailable

        why = unavailable(known.topology).get(value)
        if why:
            raise ValueError(f"check {_show(value)} cannot run on this topology: it {why}")
    return _pick(value, "check", known.checks)


_Check = Annotated[str, PlainValidator(_check)]
_Checks = Annotated[tuple[_Check, ...], BeforeValidator(_checks), _unique("check")]
_LoadBalancer = Annotated[
    str, _one_of("load balancer", lambda k: k.topology.lbs, hosts=True), _Member
]
_MysqlHost = Annotated[
    str, _one_of("MySQL host", lambda k: k.topology.mysql_hosts, hosts=True), _Member
]
_Mode = Annotated[str, _one_of("mode", lambda k: REBOOT_MODES)]
_Program = Annotated[str, StringConstraints(pattern=rf"^{PROGRAM_RE.pattern}$")]

# The default of an optional key. Never read: only the keys a file sets are passed on, so an
# absent key takes the default of the dataclass in reboot_harness.model.
_ABSENT: Any = None


class _Strict(BaseModel):
    """No unknown keys; strict types (``'1'`` is no integer, ``1`` is no boolean)."""

    model_config = ConfigDict(extra="forbid", strict=True)
