"""Chaos Toolkit extension: the harness's faults and operations as actions, its recovery checks
as probes, against a stack started with ``reboot-harness up --project P``.

In an experiment (``examples/chaostoolkit/experiment.json``)::

    {"type": "action", "name": "power-loss-app1",
     "provider": {"type": "python", "module": "reboot_harness.chaostoolkit", "func": "reboot",
                  "arguments": {"host": "app1", "mode": "hard", "down_for": "2s"}}}

Each action is exactly the scenario step of the same name (validated the same way: a bad host,
mode or duration is a ``UsageError`` naming it, before anything is touched) and returns the
events it caused, as JSON. Probes return what a tolerance can judge: :func:`checks_hold` a
boolean, :func:`check_results` the results of one check. :func:`heal` is the rollback: it boots
every host that is off and puts every load balancer back into DNS.

The stack every activity drives: its ``project`` argument, else the experiment's configuration
``reboot_harness_project``, else the environment's ``RH_PROJECT``, else ``project`` in the
project config file (reboot_harness.inputs.config: ``reboot-harness.toml`` or
``[tool.reboot-harness]`` in ``pyproject.toml``, found from the working folder upwards, as the
CLI and the pytest plugin find it). ``chaos validate`` checks
each action's arguments as the step would (a bad mode or duration; a host unknown to the
stack when the stack is known there: a literal ``project``, or ``RH_PROJECT``, of a stack that
is up). ``chaos discover reboot-harness`` lists every action and probe (:func:`discover`); the
control (reboot_harness.faces.chaostoolkit_control) heals an interrupted experiment.
"""

from __future__ import annotations

import importlib
import inspect
import keyword
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from reboot_harness.errors import UsageError
from reboot_harness.report.serialize import Json, to_json
from reboot_harness.steps import COMMANDS, Arg, Command

# Where an activity finds its stack when it is not given ``project`` (module docstring).
PROJECT_KEY = "reboot_harness_project"
PROJECT_ENV = "RH_PROJECT"
MODULE = "reboot_harness.chaostoolkit"  # the module path experiments name


def project_of(project: str | None, configuration: Mapping[str, Any] | None, source: str) -> str:
    """The project an activity drives: ``project``, else the configuration's
    ``reboot_harness_project``, else ``$RH_PROJECT``, else the project config file's
    ``project``.

    Raises:
        UsageError: none of the four names one (or the config file is not valid).
    """
    named = project or (configuration or {}).get(PROJECT_KEY) or configured_project()
    if not named:
        raise UsageError(
            f"{source}: no project: give the argument `project`, the experiment's configuration"
            f" `{PROJECT_KEY}` or the environment's {PROJECT_ENV} (the --project of"
            " `reboot-harness up`)"
        )
    return str(named)


def configured_project() -> str | None:
    """``$RH_PROJECT``, else ``project`` in the project config file (the resolution of
    reboot_harness.inputs.config, below an experiment's own argument and configuration)."""
    from reboot_harness.inputs.config import project_config, resolve

    config = project_config()
    setting = resolve(config, {}, {"project": None})["project"]
    return str(setting.value) if setting.value else None


def argument_name(arg: Arg) -> str:
    """The action's parameter for a command's argument (``for_`` for ``for``, a keyword)."""
    return f"{arg.name}_" if keyword.iskeyword(arg.name) else arg.name


def param_type(command: Command, arg: Arg) -> str | None:
    """The Param type of the value an argument sets (through the key it fills, if mapped)."""
    param = command.param(arg.name) or (command.param(arg.keys[0]) if arg.keys else None)
    return param.type if param else None


def _step(project: str, data: dict[str, Any]) -> list[Json]:
    from reboot_harness.run import oneshot

    kind = next(iter(data))
    topology = oneshot.topology_for(project)
    step = oneshot.step_of(data, f"{MODULE}.{kind}", project, topology)
    events = oneshot.apply(project, step, topology)
    return [to_json(e) for e in events]


# The annotation an action shows for a parameter of each Param type (others: str).
_ANNOTATIONS = {"duration": "str | float", "flag": "bool", "checks": "Sequence[str]"}
# What an argument without help names, by its Param type (for the docstring).
_WHAT = {"host": "a host of the stack", "lb": "a load balancer of the stack"}
# How discovery names the type of each annotation (chaoslib's portable names: what `chaos
# init` prompts for); a duration is prompted as text (``2s``).
_PORTABLE = {"str": "string", "str | float": "string", "bool": "boolean", "Sequence[str]": "list"}


def _project_parameters() -> list[inspect.Parameter]:
    """``project`` (optional: module docstring) and the ``configuration`` chaoslib passes in
    (keyword-only: discovery does not list it, `chaos init` does not ask for it)."""
    return [
        inspect.Parameter("project", inspect.Parameter.POSITIONAL_OR_KEYWORD, default=None,
                          annotation="str | None"),
        inspect.Parameter("configuration", inspect.Parameter.KEYWORD_ONLY, default=None,
                          annotation="Mapping[str, Any] | None"),
    ]  # fmt: skip


class _Validating(inspect.Signature):
    """An activity's signature, which also validates the arguments' values when bound.

    ``chaos validate`` looks at a Python activity's arguments only by binding them to the
    function's signature (chaoslib.provider.python.validate_python_activity: no other hook is
    called), so binding is where a bad mode, duration or host must be refused, as chaoslib's
    InvalidActivity (printed by ``chaos validate``, exit 1).
    """

    __slots__ = ("_refusal",)

    def __init__(
        self,
        parameters: Sequence[inspect.Parameter],
        *,
        return_annotation: Any = inspect.Signature.empty,
        refusal: Callable[[Mapping[str, Any]], str | None] = lambda _: None,
    ) -> None:
        super().__init__(parameters, return_annotation=return_annotation)
        self._refusal = refusal

    def bind(self, *args: Any, **kwargs: Any) -> inspect.BoundArguments:
        bound = super().bind(*args, **kwargs)
        why = self._refusal(bound.arguments)
        if why:
            raise _invalid(why)
        return bound


def _invalid(why: str) -> Exception:
    """Chaos Toolkit's exception for an invalid activity (a TypeError outside Chaos Toolkit)."""
    try:
        exceptions = importlib.import_module("chaoslib.exceptions")
    except ImportError:
        return TypeError(why)
    invalid: Exception = exceptions.InvalidActivity(why)
    return invalid


def _action(command: Command) -> Callable[..., list[Json]]:
    """The Chaos Toolkit action of a one-shot command: exactly the scenario step it names,
    with the command's arguments as keyword parameters (its positionals required), then the
    project (module docstring)."""
    parameters = []
    names = {}  # the action's parameter -> the argument (`for_` for `for`, a Python keyword)
    for arg in command.action_args:
        param = command.param(arg.name)
        default = arg.default if arg.chaos_default is ... else arg.chaos_default
        shown = _ANNOTATIONS.get(param.type, "str") if param else "str"
        required = command.required(arg)
        name = argument_name(arg)
        names[name] = arg.name
        parameters.append(
            inspect.Parameter(
                name,
                inspect.Parameter.POSITIONAL_OR_KEYWORD,
                default=inspect.Parameter.empty if required else default,
                annotation=f"{shown} | None" if not required and default is None else shown,
            )
        )
    parameters += _project_parameters()
    source = f"{MODULE}.{command.action}"

    def given_of(arguments: Mapping[str, Any]) -> dict[str, Any]:
        return {names[n]: v for n, v in arguments.items() if n in names}

    def refusal(arguments: Mapping[str, Any]) -> str | None:
        from reboot_harness.faces.chaostoolkit_validate import refusal as refused

        return refused(command, given_of(arguments), arguments.get("project"), source)

    signature = _Validating(parameters, return_annotation="list[Json]", refusal=refusal)
    plain = inspect.Signature(parameters, return_annotation="list[Json]")

    def action(*args: Any, **kwargs: Any) -> list[Json]:
        bound = plain.bind(*args, **kwargs)
        bound.apply_defaults()
        project = project_of(bound.arguments["project"], bound.arguments["configuration"], source)
        return _step(project, command.step(given_of(bound.arguments), source, lambda a: a.name))

    action.__name__ = action.__qualname__ = command.action
    action.__doc__ = _doc(command)
    action.__module__ = __name__
    action.__signature__ = signature  # type: ignore[attr-defined]
    return action


def _doc(command: Command) -> str:
    """The action's docstring, with its arguments (what `chaos discover` shows of them)."""
    lines = [command.doc, "", "Args:"]
    for arg in command.action_args:
        told = arg.help or (f"one of {', '.join(arg.choices)}" if arg.choices else "")
        told = told or _WHAT.get(param_type(command, arg) or "", arg.name)
        lines.append(f"    {argument_name(arg)}: {told}")
    lines.append(f"    project: the stack (default: configuration {PROJECT_KEY}, ${PROJECT_ENV})")
    return "\n".join(lines)


# One action per one-shot command of the step kinds (reboot_harness.steps.COMMANDS).
_ACTIONS = {command.action: _action(command) for command in COMMANDS if command.action}
globals().update(_ACTIONS)
PROBES = ("check_results", "checks_hold")
__all__ = sorted([*_ACTIONS, *PROBES, "heal"])


def discover(discover_system: bool = True) -> dict[str, Any]:
    """What ``chaos discover reboot-harness`` saves: every action (the step kinds' and
    ``heal``) and probe, with its arguments (name, type, default) and docstring.

    Args:
        discover_system: Chaos Toolkit's flag; the stack is not discovered (a stack is named
            by its project when an experiment runs), so it changes nothing.
    """
    from chaoslib.discovery.discover import (  # the [chaostoolkit] extra
        discover_actions,
        discover_probes,
        initialize_discovery_result,
    )

    from reboot_harness import __version__

    discovery: dict[str, Any] = initialize_discovery_result(
        "reboot-harness", __version__, "reboot-harness"
    )
    activities = [a for a in discover_actions(MODULE) if a["name"] not in PROBES]
    activities += [a for a in discover_probes(MODULE) if a["name"] in PROBES]
    for activity in activities:
        for argument in activity["arguments"]:
            # chaoslib names a type only from a real class; these annotations are text
            function = globals()[activity["name"]]
            shown = str(inspect.signature(function).parameters[argument["name"]].annotation)
            argument["type"] = _PORTABLE.get(shown.removesuffix(" | None"), "object")
    discovery["activities"] = activities
    return discovery


def checks_hold(
    project: str | None = None,
    checks: Sequence[str] | None = None,
    *,
    configuration: Mapping[str, Any] | None = None,
) -> bool:
    """Probe: do the recovery checks (all by default) hold right now? One round, no waiting.

    Args:
        project: the stack (default: configuration reboot_harness_project, $RH_PROJECT)
        checks: the checks to run (default: all)
    """
    results = check_results(project, checks, configuration=configuration)
    return all(isinstance(r, dict) and r["ok"] is True for r in results)


def check_results(
    project: str | None = None,
    checks: Sequence[str] | None = None,
    *,
    configuration: Mapping[str, Any] | None = None,
) -> list[Json]:
    """Probe: every result of the checks (all by default), as ``check --json`` gives them.

    Args:
        project: the stack (default: configuration reboot_harness_project, $RH_PROJECT)
        checks: the checks to run (default: all)
    """
    from reboot_harness.checks.run import run_checks
    from reboot_harness.stack.core import Stack
    from reboot_harness.stack.state import ProjectState

    named = project_of(project, configuration, f"{MODULE}.check_results")
    stack = Stack(ProjectState.load(named))
    try:
        results = run_checks(stack, list(checks) if checks else None)
    finally:
        stack.close_sessions()
    return [to_json(r) for r in results]


def _validated(probe: Callable[..., Any]) -> None:
    """Make ``chaos validate`` refuse a check that the probe's stack, when known, cannot run
    (the probe's signature validates when bound, as the actions' do)."""
    signature = inspect.signature(probe)
    source = f"{MODULE}.{probe.__name__}"

    def refusal(arguments: Mapping[str, Any]) -> str | None:
        from reboot_harness.faces.chaostoolkit_validate import check_refusal

        return check_refusal(arguments.get("checks"), arguments.get("project"), source)

    probe.__signature__ = _Validating(  # type: ignore[attr-defined]
        list(signature.parameters.values()),
        return_annotation=signature.return_annotation,
        refusal=refusal,
    )


_validated(checks_hold)
_validated(check_results)


def heal(
    project: str | None = None, *, configuration: Mapping[str, Any] | None = None
) -> list[str]:
    """Rollback: boot every host that is off and put every load balancer back into DNS; the
    hosts booted and LBs rotated back in.

    Args:
        project: the stack (default: configuration reboot_harness_project, $RH_PROJECT)
    """
    import random

    from reboot_harness.stack.core import Stack
    from reboot_harness.stack.state import ProjectState
    from reboot_harness.steps import RunContext, execute
    from reboot_harness.steps.dns_rotate import DnsRotate

    stack = Stack(ProjectState.load(project_of(project, configuration, f"{MODULE}.heal")))
    try:
        ctx = RunContext(stack, random.Random())
        done = ctx.heal()
        for lb in stack.topology.lbs:
            if lb not in (stack.state.rotation or stack.topology.lbs):
                execute(ctx, DnsRotate(lb=lb, action="in", wait=0.0))
                done.append(f"{lb} back in DNS")
        return done
    finally:
        stack.close_sessions()
