"""The contract every step kind fulfils: one module of reboot_harness.steps per kind, one row
of ``KINDS`` (reboot_harness.steps) per module.

A kind is a frozen dataclass subclassing :class:`StepKind`. Its fields are its parameters, each
``Annotated`` with a :class:`Param` saying how a scenario writes it (the scenario schema,
reboot_harness.scenarios.schema, is generated from them); its class variables and methods say
the rest: the YAML key, the executor (named, so that validating input never imports Docker or
the checks' runtime), the YAML form's shortcuts, cross-field rules, planned time, the hosts it
touches. A kind's module imports model, errors and inputs at its top only.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Self

from reboot_harness.model.steps import Step
from reboot_harness.model.topology import Topology

if TYPE_CHECKING:
    from reboot_harness.steps.base import RunContext


@dataclass(frozen=True)
class Param:
    """How a scenario writes one parameter of a step kind (``Annotated`` metadata of a field).

    Attributes:
        type: what the value names: ``host``, ``hosts`` (a group, a host or a list of hosts),
            ``lb``, ``mysql_host``, ``duration``, ``mode`` (a reboot mode), ``order``,
            ``signal``, ``program``, ``checks`` (``all`` or a list of check names) or ``flag``.
        key: the YAML key when it is not the field's name (``for``: a Python keyword).
        max_s: a duration's largest value, when the key is not one of
            reboot_harness.inputs.durations.DURATION_BOUNDS.
        zero: whether a duration of exactly 0 is allowed (with ``max_s``).
    """

    type: str
    key: str = ""
    max_s: float | None = None
    zero: bool = True


class StepKind(Step):
    """A step kind: a frozen dataclass of its parameters, plus what the harness needs of it.

    Subclasses set ``KEY`` and ``EXECUTOR`` and may override the hooks below.
    """

    # "module:function" running one step of this kind: function(ctx: RunContext, step)
    EXECUTOR: ClassVar[str]
    # ``sleep: 2s``: the parameter a bare (non-mapping) value stands for ('' for none)
    BARE: ClassVar[str] = ""
    # ``sentinel_failover:`` (null) is the kind with every parameter left to its default
    NULL_IS_EMPTY: ClassVar[bool] = False
    # how a scenario writes the kind when it is not the dataclass's own fields (dns_rotate's
    # ``{out: lb1}``): another frozen dataclass of Params, turned into the step by ``from_form``
    FORM: ClassVar[type | None] = None

    @classmethod
    def refuse(cls, key: str, value: object, given: Mapping[str, object]) -> str | None:
        """What is wrong with parameter ``key`` = ``value`` given the parameters validated
        before it (``given``, in field order), or None; the schema puts the problem at the key."""
        return None

    @classmethod
    def refuse_form(cls, given: Mapping[str, object], topology: Topology) -> str | None:
        """What is wrong with the parameters taken together, or None (at the kind's key)."""
        return None

    @classmethod
    def from_form(cls, given: Mapping[str, Any]) -> Self:
        """The step from the parameters a scenario set (the others take their defaults)."""
        return cls(**given)

    @classmethod
    def executor(cls) -> Callable[[RunContext, Any], None]:
        """The function that runs a step of this kind, imported now (not when validating)."""
        module, _, name = cls.EXECUTOR.partition(":")
        run: Callable[[RunContext, Any], None] = getattr(importlib.import_module(module), name)
        return run
