"""Incidents: a compose override that breaks the stack the way production was broken, and its own
declaration of what its failure must show.

The declaration lives in the incident's file, under the compose extension key
``x-reboot-harness`` (compose ignores top-level ``x-`` keys)::

    x-reboot-harness:
      summary: the app comes back with the boot default of 1024 open files
      reproduced_by:                 # every entry must be observed
        - {check: limits, cause: nofile-below-minimum}
        - {budget: socketio, measurement: max_reconnect, host: app2}
        - {step: mysql_failover, cause: repl-password-too-long}
      allows:                        # failures it may bring besides (need not be seen)
        - {step: dns_rotate, cause: rotation-not-served}
        - {budget: http, measurement: max_downtime, host: lb1}
      plan:                          # the incident's plan differs from the fixed one
        drop: [dns_rotate]           #   the scenario's steps of these kinds are not done
      lasts: true                    # its cause does not heal by itself (default false)

An incident is a configuration (its compose ``services``), a plan (``plan.drop``: the operator's
moves that were not made, e.g. the DNS rotation before taking a load balancer down), or both.

An entry names a recovery check and one of its cause codes (optionally the host it must fail on),
a budget (a service, the measurement exceeded, and the host it must be attributed to), or a step
kind and the cause of its error (the checks: reboot_harness.checks.available; measurements:
reboot_harness.model.traffic.MEASUREMENTS; step causes: reboot_harness.model.steps
.STEP_ERROR_CAUSES). ``reproduced_by`` entries must be observed; ``allows`` entries are
failures the incident may bring besides, which do not disqualify it. Any other failure does. How
a variant is judged against it: reboot_harness.judging.judge. No docker here: incidents are
validated before anything starts.

``lasts: true`` says the cause does not heal by itself (a limit applied at boot, a directory never
created) and that a healthy recovery never shows it, even for a moment: once the final checks
show every check entry in reach and nothing undeclared fails, for a few seconds and with every
check run again, the incident variant stops waiting out ``recover_within`` — the verdict is the
one the whole wait would give. A cause a recovering stack passes through (0 redis masters
while the sentinels elect one) must not say so: tests/integration/test_reproduction.py's
ablations catch it. It needs a check entry.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Self, cast

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PlainValidator,
    StringConstraints,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from reboot_harness.checks.available import kinds as check_kinds
from reboot_harness.errors import ScenarioError, UsageError
from reboot_harness.inputs.messages import (
    _choices,
    _describe,
    _first,
    _kind,
    _one_line,
    _show,
)
from reboot_harness.inputs.yamlfile import _load_yaml, read_text
from reboot_harness.model.checks import COMMON_CAUSES, CheckKind
from reboot_harness.model.incidents import Incident, Signature
from reboot_harness.model.steps import STEP_ERROR_CAUSES
from reboot_harness.model.topology import Topology
from reboot_harness.model.traffic import MEASUREMENTS, SERVICES, Budget
from reboot_harness.steps import KEYS as STEP_KEYS

KEY = "x-reboot-harness"
# A budget measurement an incident may name (``traffic`` is the harness's own complaint that a
# service recorded nothing, never a property of an incident).
INCIDENT_MEASUREMENTS = tuple(m for m in MEASUREMENTS if m != "traffic")


# -- the declaration's schema --------------------------------------------------------------------


@dataclass(frozen=True)
class _Context:
    hosts: tuple[str, ...]
    checks: Mapping[str, CheckKind]  # every check the topology can run, with its causes


def _pick(value: object, noun: str, choices: Sequence[str]) -> str:
    if not isinstance(value, str):
        raise ValueError(f"expected a {noun}, got {_kind(value)}; valid: {_choices(choices)}")
    if value not in choices:
        raise ValueError(f"unknown {noun} {_show(value)}; valid: {_choices(choices)}")
    return value


def _host(value: object, info: ValidationInfo) -> str:
    return _pick(value, "host", cast(_Context, info.context).hosts)


_Host = Annotated[str, PlainValidator(_host)]


def _check(value: object, info: ValidationInfo) -> str:
    return _pick(value, "check", tuple(cast(_Context, info.context).checks))


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class _Entry(_Strict):
    check: Annotated[str, PlainValidator(_check)] | None = None
    budget: Annotated[str, PlainValidator(lambda v: _pick(v, "service", SERVICES))] | None = None
    step: Annotated[str, PlainValidator(lambda v: _pick(v, "step kind", STEP_KEYS))] | None = None
    cause: str | None = None
    measurement: (
        Annotated[str, PlainValidator(lambda v: _pick(v, "measurement", INCIDENT_MEASUREMENTS))]
        | None
    ) = None
    host: _Host | None = None

    @field_validator("cause")
    @classmethod
    def _known_cause(cls, cause: str | None, info: ValidationInfo) -> str | None:
        if cause is None:
            return cause
        check, step = info.data.get("check"), info.data.get("step")
        if check:
            kind = cast(_Context, info.context).checks[check]
            choices: Sequence[str] = (*kind.causes, *COMMON_CAUSES)
            if cause not in choices:
                raise ValueError(
                    f"unknown cause {_show(cause)} for check {check!r}; valid: {_choices(choices)}"
                )
        elif step and cause not in STEP_ERROR_CAUSES:
            raise ValueError(
                f"unknown step error cause {_show(cause)}; valid: {_choices(STEP_ERROR_CAUSES)}"
            )
        return cause

    @model_validator(mode="after")
    def _one_kind(self) -> Self:
        named = [k for k in ("check", "budget", "step") if getattr(self, k) is not None]
        if len(named) != 1:
            raise ValueError(
                "name exactly one of check (with its cause), budget (with measurement and"
                f" host) or step (with its cause), got {', '.join(named) or 'none'}"
            )
        if self.check is not None:
            self._need("cause", "measurement")
        elif self.budget is not None:
            self._need("measurement", "cause")
            if self.host is None:
                raise ValueError(
                    "a budget entry names the host its violation must be attributed to (host)"
                )
        else:
            self._need("cause", "measurement")
            if self.host is not None:
                raise ValueError("a step entry names no host; remove host")
        return self

    def _need(self, key: str, forbidden: str) -> None:
        kind = "check" if self.check else "budget" if self.budget else "step"
        if getattr(self, key) is None:
            raise ValueError(f"a {kind} entry needs {key}")
        if getattr(self, forbidden) is not None:
            raise ValueError(f"a {kind} entry takes no {forbidden}; remove it")

    def build(self) -> Signature:
        if self.check is not None:
            return Signature("check", self.check, str(self.cause), self.host or "")
        if self.budget is not None:
            return Signature("budget", self.budget, str(self.measurement), self.host or "")
        return Signature("step", str(self.step), str(self.cause))


class _Plan(_Strict):
    drop: Annotated[
        list[Annotated[str, PlainValidator(lambda v: _pick(v, "step kind", STEP_KEYS))]],
        Field(min_length=1, max_length=len(STEP_KEYS)),
    ]


class _Declaration(_Strict):
    summary: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]
    reproduced_by: Annotated[list[_Entry], Field(min_length=1, max_length=20)]
    allows: Annotated[list[_Entry], Field(max_length=20)] = []
    plan: _Plan | None = None
    lasts: bool = False

    @model_validator(mode="after")
    def _lasts_needs_a_check(self) -> Self:
        if self.lasts and not any(e.check for e in self.reproduced_by):
            raise ValueError(
                "lasts: true needs a check entry in reproduced_by (only the final checks can"
                " show a cause that stays); remove lasts"
            )
        return self


_WORDINGS = {
    "string_too_short": "must not be empty; say in one line what breaks",
    "too_short": "empty; name at least {min_length} failure the incident must show",
    "too_long": "{actual_length} entries; at most {max_length}",
    "model_type": "expected a mapping",
}


def unobservable(
    incident: Incident,
    *,
    checks: Sequence[str],
    budgets: Sequence[Budget],
    step_kinds: set[str],
    touched: Collection[str] | None = None,
) -> str:
    """Why a scenario with these expected ``checks`` (empty: all), ``budgets``, steps of these
    kinds and touching these hosts (None: not known) could never observe what ``incident``
    declares, or has none of the steps its plan drops; '' when it can. A signature naming a host
    the plan never touches is out of its reach (reboot_harness.judging.judge); when every
    signature is, nothing could be observed."""
    missing = [kind for kind in incident.drops if kind not in step_kinds]
    if missing:
        return (
            f"incident {incident.name} drops {missing[0]} steps from the plan, and this scenario"
            f" has none; its steps: {', '.join(sorted(step_kinds))}"
        )
    kept = step_kinds - set(incident.drops)
    for sig in incident.reproduced_by:
        if sig.kind == "check" and checks and sig.name not in checks:
            return (
                f"incident {incident.name} is shown by check {sig.name!r}, which is not among"
                f" expect.checks; add it ({', '.join(checks)})"
            )
        if sig.kind == "budget":
            budget = next((b for b in budgets if b.service == sig.name), None)
            limit = getattr(budget, sig.cause, None) if budget is not None else None
            if limit is None or limit is False:
                return (
                    f"incident {incident.name} is shown by the {sig.name} budget's {sig.cause},"
                    f" which this scenario does not set; add budgets.{sig.name}.{sig.cause}"
                )
        if sig.kind == "step" and sig.name not in kept:
            return (
                f"incident {incident.name} is shown by a {sig.name} step error, and this"
                f" scenario has no {sig.name} step"
            )
    if touched is not None and all(
        sig.host and sig.host not in touched for sig in incident.reproduced_by
    ):
        hosts = sorted({sig.host for sig in incident.reproduced_by})
        return (
            f"incident {incident.name} is shown only on {', '.join(hosts)}, which this scenario's"
            f" plan never touches (it touches {', '.join(sorted(touched)) or 'no host'})"
        )
    return ""


# -- loading -------------------------------------------------------------------------------------


def parse_incident(text: str, *, name: str, path: Path, topology: Topology) -> Incident:
    """Validate an incident file's declaration (its ``x-reboot-harness`` key).

    Raises:
        ScenarioError: one line, ``FILE: x-reboot-harness.KEY.PATH: what is wrong; valid: ...``.
    """
    source = str(path)
    data = _load_yaml(text, source)
    if not isinstance(data, dict) or not isinstance(data.get("services"), dict):
        raise ScenarioError(
            f"{source}: not a compose override: expected a mapping with a 'services' key"
        )
    if KEY not in data:
        raise ScenarioError(
            _one_line(
                f"{source}: {KEY}: required key is missing; an incident declares what its"
                " failure must show (summary, reproduced_by: check+cause, budget+measurement+host"
                " or step+cause), see reboot_harness/scenarios/incidents.py"
            )
        )
    try:
        doc = _Declaration.model_validate(
            data[KEY], context=_Context(topology.hosts, check_kinds(topology))
        )
    except ValidationError as e:
        errors = e.errors(include_url=False)
        first = _first(errors)
        lines = []
        for err in [first, *(err for err in errors if err is not first)]:
            problem = _describe(err, _Declaration, _WORDINGS)
            sep = "." if not problem.startswith(("expected", "file")) else ": "
            lines.append(_one_line(f"{source}: {KEY}{sep}{problem}"))
        raise ScenarioError(lines[0], also=list(dict.fromkeys(lines[1:]))) from e
    return Incident(
        name=name,
        path=path,
        summary=doc.summary,
        reproduced_by=tuple(e.build() for e in doc.reproduced_by),
        allows=tuple(e.build() for e in doc.allows),
        drops=tuple(dict.fromkeys(doc.plan.drop)) if doc.plan else (),
        lasts=doc.lasts,
    )


def load_incident(path: Path, topology: Topology | None = None) -> Incident:
    """Read and validate one incident file (``NAME.yaml``; the incident is called NAME)."""
    text = read_text(path, "incident")
    return parse_incident(text, name=path.stem, path=path, topology=topology or Topology())


def load_incidents(directory: Path, topology: Topology | None = None) -> dict[str, Incident]:
    """Every ``*.yaml`` incident of ``directory`` by name, each validated."""
    return {p.stem: load_incident(p, topology) for p in sorted(directory.glob("*.yaml"))}


def lookup(incidents: Mapping[str, Incident], name: str) -> Incident:
    """The incident called ``name``; a UsageError naming the known ones if none."""
    try:
        return incidents[name]
    except KeyError:
        known = ", ".join(sorted(incidents)) or "none"
        raise UsageError(f"unknown incident {name!r}; known: {known}") from None
