"""The scenario document as pydantic models: strict types, no unknown keys; its steps are
reboot_harness.scenarios.step_models (one model per step kind, generated from the kind), its
field types reboot_harness.scenarios.fields; hosts, checks and incidents are checked against the
validation context (``_Known``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Self

from pydantic import (
    BeforeValidator,
    Field,
    StringConstraints,
    ValidationInfo,
    model_validator,
)

from reboot_harness.inputs.messages import _choices, _show
from reboot_harness.model.incidents import Incident
from reboot_harness.model.scenario import Clients, Expect, Reproduces, Scenario
from reboot_harness.model.topology import Topology
from reboot_harness.model.traffic import RECONNECT_SERVICES, SERVICES, WRITE_SERVICES, Budget
from reboot_harness.scenarios.fields import (
    _ABSENT,
    MAX_ERRORS,
    MAX_SEED,
    MAX_STEPS,
    NAME_RE,
    _bare_traffic,
    _Check,
    _Checks,
    _Duration,
    _error_at,
    _known,
    _one_of,
    _Strict,
)
from reboot_harness.scenarios.step_models import _StepDoc
from reboot_harness.steps.dns_rotate import DnsRotate

# -- models ------------------------------------------------------------------------------------


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
