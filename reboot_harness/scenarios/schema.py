"""The scenario document as pydantic models: strict types, no unknown keys, one model per step
kind (generated from the kind's dataclass, reboot_harness.steps.KINDS: no second declaration);
hosts, checks and incidents are checked against the validation context (``_Known``)."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, Self, cast

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
    create_model,
    model_validator,
)
from pydantic_core import InitErrorDetails

from reboot_harness.inputs.durations import DURATION_BOUNDS, _seconds
from reboot_harness.inputs.messages import _choices, _kind, _label, _show
from reboot_harness.model.incidents import Incident
from reboot_harness.model.scenario import Clients, Expect, Reproduces, Scenario
from reboot_harness.model.steps import ORDERS, REBOOT_MODES, Step
from reboot_harness.model.topology import Topology
from reboot_harness.model.traffic import RECONNECT_SERVICES, SERVICES, WRITE_SERVICES, Budget
from reboot_harness.steps import KINDS, Param, StepKind
from reboot_harness.steps.dns_rotate import DnsRotate
from reboot_harness.steps.kind import parameters

MAX_STEPS = 500
MAX_SEED = 2**63 - 1
MAX_ERRORS = 10**9  # a max_errors budget above this is no budget
NAME_RE = re.compile(r"[a-z0-9][a-z0-9-]{0,62}")
SIGNALS = ("TERM", "KILL", "INT", "HUP", "QUIT", "USR1", "USR2", "STOP", "CONT")
GROUPS = ("all", "apps", "lbs", "mysql", "redis")
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
_Host = Annotated[str, _one_of("host", lambda k: k.topology.hosts, hosts=True)]
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
_LoadBalancer = Annotated[str, _one_of("load balancer", lambda k: k.topology.lbs, hosts=True)]
_MysqlHost = Annotated[str, _one_of("MySQL host", lambda k: k.topology.mysql_hosts, hosts=True)]
_Mode = Annotated[str, _one_of("mode", lambda k: REBOOT_MODES)]
_Program = Annotated[str, StringConstraints(pattern=rf"^{PROGRAM_RE.pattern}$")]

# The default of an optional key. Never read: only the keys a file sets are passed on, so an
# absent key takes the default of the dataclass in reboot_harness.model.
_ABSENT: Any = None


# -- models ------------------------------------------------------------------------------------


class _Strict(BaseModel):
    """No unknown keys; strict types (``'1'`` is no integer, ``1`` is no boolean)."""

    model_config = ConfigDict(extra="forbid", strict=True)


class _Step(_Strict):
    """The parameters of one step kind, generated from its dataclass (``_params``); ``build``
    makes the step."""

    kind: ClassVar[type[StepKind]]

    @model_validator(mode="after")
    def _together(self, info: ValidationInfo) -> Self:
        given = {key: getattr(self, key) for key in type(self).model_fields}
        problem = self.kind.refuse_form(given, _known(info).topology)
        if problem:
            raise ValueError(problem)
        return self

    def build(self) -> Step:
        return self.kind.from_form({key: getattr(self, key) for key in self.model_fields_set})


def _refused(kind: type[StepKind], key: str) -> AfterValidator:
    """The kind's own rule for ``key``, given the parameters validated before it."""

    def check(value: object, info: ValidationInfo) -> object:
        problem = kind.refuse(key, value, info.data)
        if problem:
            raise ValueError(problem)
        return value

    return AfterValidator(check)


def _bounded(param: Param) -> Any:
    """A duration within the bounds its Param names."""
    maximum = param.max_s if param.max_s is not None else 0.0
    return Annotated[float, PlainValidator(lambda v: _seconds(v, 0.0, maximum, param.zero))]


# The pydantic type of each Param type (reboot_harness.steps.kind.Param).
_PARAM_TYPES: Mapping[str, Any] = {
    "host": _Host,
    "hosts": _Hosts,
    "lb": _LoadBalancer,
    "mysql_host": _MysqlHost,
    "duration": _Duration,
    "mode": _Mode,
    "order": Annotated[str, _one_of("order", lambda k: ORDERS)],
    "signal": Annotated[str, PlainValidator(_signal)],
    "program": _Program,
    "checks": _Checks,
    "flag": bool,
}


def _params(kind: type[StepKind]) -> type[_Step]:
    """The model of ``kind``'s parameters, from the fields of its dataclass (or of its FORM)
    and their Param: a field without a default is a required key, the others default to
    absent (the dataclass's default applies)."""
    fields: dict[str, Any] = {}
    for p in parameters(kind):
        bounded = p.param.type == "duration" and p.param.max_s is not None
        annotation = _bounded(p.param) if bounded else _PARAM_TYPES[p.param.type]
        fields[p.field] = (
            Annotated[annotation, _refused(kind, p.field)],
            Field(... if p.required else _ABSENT, alias=p.param.key or None),
        )
    model: type[_Step] = create_model(f"_{kind.__name__}", __base__=_Step, **fields)
    model.kind = kind
    return model


def _bare(key: str) -> BeforeValidator:
    """``sleep: 2s`` is short for ``sleep: {seconds: 2s}`` (a bare value is a duration, bounded
    as the kind's key)."""

    def expand(value: object, info: ValidationInfo) -> object:
        return value if isinstance(value, dict) else {key: _duration(value, info)}

    return BeforeValidator(expand)


def _written(kind: type[StepKind]) -> Any:
    """How a scenario writes a step of ``kind``: its parameters, with its kind's shortcuts."""
    model: Any = _params(kind)
    if kind.NULL_IS_EMPTY:
        model = Annotated[model, _NullIsEmpty]
    if kind.BARE:
        model = Annotated[model, _bare(kind.BARE)]
    return model


class _OneStep(_Strict):
    """One step: a one-key mapping from the step kind to its parameters (the keys: _StepDoc)."""

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


# One optional key per kind of the table (reboot_harness.steps.KINDS), in the order of the keys.
if TYPE_CHECKING:
    _StepDoc = _OneStep
else:
    _StepDoc = create_model(
        "_StepDoc",
        __base__=_OneStep,
        **{kind.KEY: (_written(kind), _ABSENT) for kind in sorted(KINDS, key=lambda k: k.KEY)},
    )


class _Expect(_Strict):
    checks: _Checks = _ABSENT
    recover_within: _Duration = _ABSENT


def _bare_incident(value: object) -> object:
    """``reproduces: no-minfds`` is short for ``reproduces: {incident: no-minfds}``."""
    return {"incident": value} if isinstance(value, str) else value


class _Reproduces(_Strict):
    incident: Annotated[str, _one_of("incident", lambda k: tuple(k.incidents))]
    check: _Check = ""
    budget: Annotated[str, _one_of("service", lambda _k: SERVICES)] = ""

    @model_validator(mode="after")
    def _one_failure(self) -> Self:
        if self.check and self.budget:
            raise _error_at(
                (),
                None,
                "name at most one of check (a recovery check) or budget (a service whose"
                " budget the incident exceeds); the incident's file declares the rest",
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


class _Traffic(_Strict):
    """``traffic:`` true, false, or how the clients behave (which implies true)."""

    off: bool = False  # `traffic: false`, as written
    dns_min_ttl: _Duration = _ABSENT
    dns_stale: _Duration = _ABSENT
    keepalive: bool = _ABSENT

    def build(self) -> Clients:
        keys = self.model_fields_set - {"off"}
        return Clients(**{k: getattr(self, k) for k in keys})


class _Budgets(_Strict):
    """One optional budget per service of reboot_harness.model.traffic.SERVICES (checked below)."""

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
    # None when absent; an explicit null is refused
    reproduces: Annotated[_Reproduces, BeforeValidator(_bare_incident)] = _ABSENT
    traffic: Annotated[_Traffic, BeforeValidator(_bare_traffic)] = _ABSENT
    budgets: _Budgets = _ABSENT  # implies traffic
    steps: Annotated[list[_StepDoc], Field(min_length=1, max_length=MAX_STEPS)]
    expect: _Expect

    @model_validator(mode="after")
    def _budgets_need_traffic(self) -> Self:
        if self.traffic is not None and self.traffic.off and self.budgets is not None:
            raise _error_at(
                ("traffic",),
                False,
                "false, but budgets are set and only traffic can measure them; valid: true, "
                "or leave traffic out (budgets imply it), or remove budgets",
            )
        return self

    @model_validator(mode="after")
    def _some_lb_stays_in_dns(self, info: ValidationInfo) -> Self:
        """Rotating every load balancer out of DNS leaves clients no answer at all: refused (an
        empty rotation must never be read as "all of them")."""
        lbs = _known(info).topology.lbs
        rotation = list(lbs)
        for i, doc in enumerate(self.steps):
            step = getattr(doc, DnsRotate.KEY)
            if step is None:
                continue
            if step.out is not None:
                rotation = [lb for lb in rotation if lb != step.out]
                if not rotation and lbs:
                    raise _error_at(
                        ("steps", i, "dns_rotate", "out"),
                        step.out,
                        f"rotating {step.out} out leaves no load balancer in DNS (clients"
                        " would get no answer); rotate another one in first",
                    )
            elif step.in_ is not None and step.in_ not in rotation:
                rotation.append(step.in_)
        return self

    @model_validator(mode="after")
    def _reproduced_check_runs(self, info: ValidationInfo) -> Self:
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
        incidents = _known(info).incidents
        if self.reproduces and isinstance(incidents, Mapping):
            self._agrees_with(incidents[self.reproduces.incident], _known(info).topology)
        return self

    def _agrees_with(self, incident: Incident, topology: Topology) -> None:
        """The scenario's ``reproduces`` must not contradict the incident's own declaration,
        and the scenario must be able to observe everything the declaration names."""
        from reboot_harness.scenarios.incidents import unobservable

        r = self.reproduces
        assert r is not None
        said = incident.describe()
        names: dict[str, set[str]] = {s.kind: set() for s in incident.reproduced_by}
        for sig in incident.reproduced_by:
            names[sig.kind].add(sig.name)
        for key, kind, value in (("check", "check", r.check), ("budget", "budget", r.budget)):
            if value and value not in names.get(kind, set()):
                raise _error_at(
                    ("reproduces", key),
                    value,
                    f"{_show(value)} contradicts incident {r.incident}'s declaration"
                    f" ({incident.path.name}): it is reproduced by {said}",
                )
        problem = unobservable(
            incident,
            checks=self.expect.checks,
            budgets=self.budgets.build() if self.budgets is not None else (),
            step_kinds={next(iter(step.model_fields_set)) for step in self.steps},
            touched=incident.touched(tuple(step.build() for step in self.steps), topology),
        )
        if problem:
            raise _error_at(("reproduces", "incident"), r.incident, problem)

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
            traffic=(self.traffic is not None and not self.traffic.off) or self.budgets is not None,
            clients=self.traffic.build() if self.traffic is not None else Clients(),
            budgets=self.budgets.build() if self.budgets is not None else (),
        )


TOP_KEYS = tuple(sorted(_Scenario.model_fields))


# The wordings of scenario documents (reboot_harness.inputs.messages has the shared ones).
WORDINGS = {
    "string_too_short": "must not be empty; say what the scenario rehearses",  # description
    "too_short": f"empty; a scenario needs {{min_length}} to {MAX_STEPS} steps",
    "too_long": "{actual_length} steps; at most {max_length} allowed",
}
VALID = {
    "name": "1 to 63 lowercase letters, digits and '-', starting with a letter or digit",
    "seed": f"an integer from 0 to {MAX_SEED}",
    "max_errors": f"an integer from 0 to {MAX_ERRORS}",
    "program": "a supervisord program or process name of letters, digits and . _ : @ + - "
    "(at most 64)",
}
