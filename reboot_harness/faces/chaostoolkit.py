"""Chaos Toolkit extension: the harness's faults and operations as actions, its recovery checks
as probes, against a stack started with ``reboot-harness up --project P``.

In an experiment (``examples/chaostoolkit/experiment.json``)::

    {"type": "action", "name": "power-loss-app1",
     "provider": {"type": "python", "module": "reboot_harness.chaostoolkit", "func": "reboot",
                  "arguments": {"project": "${rh_project}", "host": "app1", "mode": "hard",
                                "down_for": "2s"}}}

Each action is exactly the scenario step of the same name (validated the same way: a bad host,
mode or duration is a ``UsageError`` naming it, before anything is touched) and returns the
events it caused, as JSON. Probes return what a tolerance can judge: :func:`checks_hold` a
boolean, :func:`check_results` the results of one check. :func:`heal` is the rollback: it boots
every host that is off and puts every load balancer back into DNS.
"""

from __future__ import annotations

import inspect
import keyword
from collections.abc import Callable, Sequence
from typing import Any

from reboot_harness.report.serialize import Json, to_json
from reboot_harness.steps import COMMANDS, Command


def _step(project: str, data: dict[str, Any]) -> list[Json]:
    from reboot_harness.run import oneshot

    kind = next(iter(data))
    topology = oneshot.topology_for(project)
    step = oneshot.step_of(data, f"reboot_harness.chaostoolkit.{kind}", project, topology)
    events = oneshot.apply(project, step, topology)
    return [to_json(e) for e in events]


# The annotation an action shows for a parameter of each Param type (others: str).
_ANNOTATIONS = {"duration": "str | float", "flag": "bool", "checks": "Sequence[str]"}


def _action(command: Command) -> Callable[..., list[Json]]:
    """The Chaos Toolkit action of a one-shot command: exactly the scenario step it names,
    with the command's arguments as keyword parameters (its positionals required)."""
    parameters = [inspect.Parameter("project", inspect.Parameter.POSITIONAL_OR_KEYWORD,
                                    annotation="str")]  # fmt: skip
    names = {}  # the action's parameter -> the argument (`for_` for `for`, a Python keyword)
    for arg in command.action_args:
        param = command.param(arg.name)
        default = arg.default if arg.chaos_default is ... else arg.chaos_default
        shown = _ANNOTATIONS.get(param.type, "str") if param else "str"
        required = command.required(arg)
        name = f"{arg.name}_" if keyword.iskeyword(arg.name) else arg.name
        names[name] = arg.name
        parameters.append(
            inspect.Parameter(
                name,
                inspect.Parameter.POSITIONAL_OR_KEYWORD,
                default=inspect.Parameter.empty if required else default,
                annotation=f"{shown} | None" if not required and default is None else shown,
            )
        )
    signature = inspect.Signature(parameters, return_annotation="list[Json]")
    source = f"reboot_harness.chaostoolkit.{command.action}"

    def action(*args: Any, **kwargs: Any) -> list[Json]:
        bound = signature.bind(*args, **kwargs)
        bound.apply_defaults()
        given = {names.get(name, name): value for name, value in bound.arguments.items()}
        project = str(given.pop("project"))
        return _step(project, command.step(given, source, lambda arg: arg.name))

    action.__name__ = action.__qualname__ = command.action
    action.__doc__ = command.doc
    action.__module__ = __name__
    action.__signature__ = signature  # type: ignore[attr-defined]
    return action


# One action per one-shot command of the step kinds (reboot_harness.steps.COMMANDS).
_ACTIONS = {command.action: _action(command) for command in COMMANDS if command.action}
globals().update(_ACTIONS)
__all__ = sorted([*_ACTIONS, "check_results", "checks_hold", "heal"])


def checks_hold(project: str, checks: Sequence[str] | None = None) -> bool:
    """Probe: do the recovery checks (all by default) hold right now? One round, no waiting."""
    return all(isinstance(r, dict) and r["ok"] is True for r in check_results(project, checks))


def check_results(project: str, checks: Sequence[str] | None = None) -> list[Json]:
    """Probe: every result of the checks (all by default), as ``check --json`` gives them."""
    from reboot_harness.checks.run import run_checks
    from reboot_harness.stack.core import Stack
    from reboot_harness.stack.state import ProjectState

    stack = Stack(ProjectState.load(project))
    try:
        results = run_checks(stack, list(checks) if checks else None)
    finally:
        stack.close_sessions()
    return [to_json(r) for r in results]


def heal(project: str) -> list[str]:
    """Rollback: boot every host that is off and put every load balancer back into DNS; the
    hosts booted and LBs rotated back in."""
    import random

    from reboot_harness.stack.core import Stack
    from reboot_harness.stack.state import ProjectState
    from reboot_harness.steps import RunContext, execute
    from reboot_harness.steps.dns_rotate import DnsRotate

    stack = Stack(ProjectState.load(project))
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
