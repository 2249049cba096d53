"""The step part of a scenario document: one pydantic model per step kind, generated from the
kind's dataclass (reboot_harness.steps.KINDS: its Param metadata, its YAML shortcuts and hooks),
and the one-key mapping a step is written as. No second declaration of a kind."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, Self

from pydantic import (
    AfterValidator,
    BeforeValidator,
    Field,
    PlainValidator,
    ValidationInfo,
    create_model,
    model_validator,
)

from reboot_harness.inputs.durations import _seconds
from reboot_harness.inputs.messages import _kind, _label
from reboot_harness.model.steps import ORDERS, Step
from reboot_harness.scenarios.fields import (
    _ABSENT,
    _Checks,
    _Duration,
    _duration,
    _Host,
    _Hosts,
    _known,
    _LoadBalancer,
    _Mode,
    _MysqlHost,
    _NullIsEmpty,
    _one_of,
    _Program,
    _signal,
    _Strict,
)
from reboot_harness.steps import KINDS, Param, StepKind
from reboot_harness.steps.kind import parameters


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
