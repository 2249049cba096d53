"""The contract every step kind fulfils: one module of reboot_harness.steps per kind, one row
of ``KINDS`` (reboot_harness.steps) per module.

A kind is a frozen dataclass subclassing :class:`StepKind`. Its fields are its parameters, each
``Annotated`` with a :class:`Param` saying how a scenario writes it (the scenario schema,
reboot_harness.scenarios.schema, is generated from them); its class variables and methods say
the rest: the YAML key, the executor (named, so that validating input never imports Docker or
the checks' runtime), the YAML form's shortcuts, cross-field rules, planned time, the hosts it
touches, its one-shot command and Chaos Toolkit action (``ONESHOT``), how reports show its
events (``MARKS``). A kind's module imports model, errors and inputs at its top only.
"""

from __future__ import annotations

import dataclasses
import importlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, NamedTuple, Self, get_args, get_type_hints

from reboot_harness.errors import UsageError
from reboot_harness.model.events import Event, EventKind
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


class Parameter(NamedTuple):
    """One parameter of a kind, as a scenario writes it.

    Attributes:
        field: the field of the kind's dataclass (or FORM).
        param: how it is written.
        required: the field has no default (a scenario must write it).
    """

    field: str
    param: Param
    required: bool

    @property
    def key(self) -> str:
        """Its YAML key."""
        return self.param.key or self.field


def parameters(kind: type[StepKind]) -> tuple[Parameter, ...]:
    """The parameters of ``kind``: the fields of its dataclass (or of its FORM), in order."""
    form = kind.FORM or kind
    hints = get_type_hints(form, include_extras=True)
    found = []
    for f in dataclasses.fields(form):
        param = next((m for m in get_args(hints[f.name])[1:] if isinstance(m, Param)), None)
        if param is None:
            raise TypeError(f"step kind {kind.KEY}: field {f.name} has no Param")
        required = f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
        found.append(Parameter(f.name, param, required))
    return tuple(found)


@dataclass(frozen=True)
class Arg:
    """One argument of a kind's one-shot command (``reboot-harness reboot HOST --mode hard``)
    and of its Chaos Toolkit action (``reboot(project, host, mode="hard")``).

    Attributes:
        name: the parameter it sets (a YAML key of the kind, or of what ``from_args`` reads).
        help: the command line's help for it ('' for none).
        option: an option (``--down-for``, from the name) rather than a positional argument.
        metavar: how help shows its value (a positional's name, ``HOST``).
        default: what is sent when it is not given (None: nothing, the kind's default holds).
        choices: the values a positional takes.
        many: a list of values (``--checks a b``).
        chaos: the Chaos Toolkit action takes it too.
        chaos_default: the action's default when it is not ``default`` (``...``: the same).
        refused: not taken by this kind of a shared command: why (the message says which
            kinds take it).
        keys: the YAML keys it fills when not its name (``from_args`` maps it).
    """

    name: str
    help: str = ""
    option: bool = True
    metavar: str | None = None
    default: object = None
    choices: tuple[str, ...] = ()
    many: bool = False
    chaos: bool = True
    chaos_default: object = ...
    refused: str = ""
    keys: tuple[str, ...] = ()

    @property
    def flag(self) -> str:
        """How the command line spells it: ``--down-for``, or a positional's metavar."""
        return "--" + self.name.replace("_", "-") if self.option else (self.metavar or self.name)


@dataclass(frozen=True)
class OneShot:
    """A kind's one-shot spelling: the ``reboot-harness`` command that runs one step of it on a
    running stack, and the Chaos Toolkit action that does the same.

    Attributes:
        command: the sub-command (``dns-rotate``); kinds sharing one are told apart by ``pick``.
        help: the sub-command's help.
        args: its arguments, in the order help shows them.
        action: the Chaos Toolkit action's name ('' for none).
        doc: the action's docstring.
        pick: (argument, value) choosing this kind among the kinds sharing the command
            (``failover redis``: ("service", "redis")).
        action_order: the action's parameters when not in the order of ``args``.
    """

    command: str
    help: str
    args: tuple[Arg, ...] = ()
    action: str = ""
    doc: str = ""
    pick: tuple[str, str] | None = None
    action_order: tuple[str, ...] = ()


@dataclass(frozen=True)
class Mark:
    """How reports show one kind of event a step records: its marker on the host's lane of the
    timeline (coloured by the event's category), its legend entry, its runbook wording.

    Attributes:
        kind: the event kind.
        marker: a marker shape, a key of reboot_harness.report.svg.MARKERS.
        legend: the legend's label (marks with the same label share an entry).
        words: the event as a runbook instruction (plan.md); None: the generic wording.
        marker_of: the marker for one event when it is not always ``marker``.
    """

    kind: EventKind
    marker: str
    legend: str
    words: Callable[[Event], str] | None = None
    marker_of: Callable[[Event], str] | None = None


def took(e: Event) -> str:
    """`` (1.2 s)``: how long an event took, when worth saying."""
    return f" ({e.duration_s:.1f} s)" if e.duration_s >= 0.05 else ""


class StepKind(Step):
    """A step kind: a frozen dataclass of its parameters, plus what the harness needs of it.

    Subclasses set ``KEY`` and ``EXECUTOR`` and may override the hooks below.
    """

    # "module:function" running one step of this kind: function(ctx: RunContext, step)
    EXECUTOR: ClassVar[str]
    # ``sleep: 2s``: the duration parameter a bare (non-mapping) value stands for ('' for none)
    BARE: ClassVar[str] = ""
    # ``sentinel_failover:`` (null) is the kind with every parameter left to its default
    NULL_IS_EMPTY: ClassVar[bool] = False
    # how a scenario writes the kind when it is not the dataclass's own fields (dns_rotate's
    # ``{out: lb1}``): another frozen dataclass of Params, turned into the step by ``from_form``
    FORM: ClassVar[type | None] = None
    # the one-shot command and Chaos Toolkit action running one step of the kind (None: none)
    ONESHOT: ClassVar[OneShot | None] = None
    # how reports show the events the kind records
    MARKS: ClassVar[tuple[Mark, ...]] = ()

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
    def from_args(cls, given: dict[str, object]) -> dict[str, object]:
        """The step's YAML parameters from its one-shot arguments (those given)."""
        return given

    @classmethod
    def executor(cls) -> Callable[[RunContext, Any], None]:
        """The function that runs a step of this kind, imported now (not when validating)."""
        module, _, name = cls.EXECUTOR.partition(":")
        run: Callable[[RunContext, Any], None] = getattr(importlib.import_module(module), name)
        return run


@dataclass(frozen=True)
class Command:
    """A one-shot command and its Chaos Toolkit action, made of the ``ONESHOT`` of the kinds
    that share it (reboot_harness.steps.COMMANDS).

    Attributes:
        kinds: the kinds it runs, with their one-shot spellings; more than one are told apart
            by the argument their ``pick`` names.
        args: its arguments: the picking one first, then each kind's, each name once.
    """

    kinds: tuple[tuple[type[StepKind], OneShot], ...]
    args: tuple[Arg, ...]

    @classmethod
    def of(cls, kinds: Sequence[type[StepKind]]) -> Command:
        spelled = tuple((kind, kind.ONESHOT) for kind in kinds if kind.ONESHOT is not None)
        first = spelled[0][1]
        args: dict[str, Arg] = {}
        if first.pick:
            picks = tuple(oneshot.pick[1] for _, oneshot in spelled if oneshot.pick)
            args[first.pick[0]] = Arg(first.pick[0], option=False, choices=picks)
        for _, oneshot in spelled:
            for arg in oneshot.args:
                if arg.name not in args or args[arg.name].refused:
                    args[arg.name] = arg
        return cls(spelled, tuple(args.values()))

    @property
    def first(self) -> OneShot:
        """The spelling of the first kind: the command's name, help and action."""
        return self.kinds[0][1]

    @property
    def name(self) -> str:
        return self.first.command

    @property
    def help(self) -> str:
        return self.first.help

    @property
    def action(self) -> str:
        """The Chaos Toolkit action's name ('' for none)."""
        return self.first.action

    @property
    def doc(self) -> str:
        return self.first.doc

    @property
    def action_args(self) -> tuple[Arg, ...]:
        """The action's parameters (after ``project``), in their order."""
        taken = [arg for arg in self.args if arg.chaos]
        order = self.first.action_order
        return tuple(sorted(taken, key=lambda a: order.index(a.name))) if order else tuple(taken)

    def required(self, arg: Arg) -> bool:
        """Whether ``arg`` must be given: a positional, or an option with no default of its
        own for a parameter that the kind requires (``freeze --for``)."""
        if not arg.option:
            return True
        return arg.default is None and any(
            p.required and p.key == arg.name for kind, _ in self.kinds for p in parameters(kind)
        )

    def param(self, name: str) -> Param | None:
        """The Param of the parameter an argument sets, by its YAML key (None: the argument
        picks, or maps, a value)."""
        found = (p.param for k, _ in self.kinds for p in parameters(k) if name in (p.field, p.key))
        return next(found, None)

    def step(
        self, given: Mapping[str, object], source: str, spell: Callable[[Arg], str]
    ) -> dict[str, object]:
        """The scenario step (``{"reboot": {...}}``) that the arguments ``given`` stand for;
        an argument not given (None, false, an empty list) is left out.

        Raises:
            UsageError: ``SOURCE: ARG: why``: a pick that names no kind, an argument that the
                picked kind does not take (``spell`` says how the face spells an argument).
        """
        kind, oneshot = self.kinds[0]
        picker = self.first.pick[0] if self.first.pick else ""
        if picker:
            picked = {o.pick[1]: (k, o) for k, o in self.kinds if o.pick}
            if given.get(picker) not in picked:
                raise UsageError(
                    f"{source}: {picker}: {given.get(picker)!r}; valid: {', '.join(picked)}"
                )
            kind, oneshot = picked[str(given[picker])]
        own = {arg.name: arg for arg in oneshot.args}
        params: dict[str, object] = {}
        for arg in self.args:
            value = given.get(arg.name)
            if arg.name == picker or value is None or value is False:
                continue
            if isinstance(value, list | tuple) and not value:
                continue
            why = own[arg.name].refused if arg.name in own else "not taken"
            if why:
                takers = [
                    o.pick[1]
                    for _, o in self.kinds
                    if o.pick and any(a.name == arg.name and not a.refused for a in o.args)
                ]
                raise UsageError(
                    f"{source}: {spell(arg)}: {why}; {spell(arg)} is for {' or '.join(takers)} only"
                )
            params[arg.name] = value
        return {kind.KEY: kind.from_args(params)}
