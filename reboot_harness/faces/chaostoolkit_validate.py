"""What ``chaos validate`` refuses in a Chaos Toolkit action's arguments: what the scenario step
would refuse, checked before any stack is touched (reboot_harness.faces.chaostoolkit binds
this to the actions' signatures, the one place chaoslib's validation looks).

At ``chaos validate`` time the configuration is not resolved yet and the stack may not be up:
a value still written ``${name}`` is not checked, and host, load balancer and check names are
checked only when the stack is known — a literal ``project`` argument, else ``$RH_PROJECT``,
naming a stack that is up (its topology); otherwise any name passes.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from reboot_harness.errors import ScenarioError, UsageError
from reboot_harness.faces.chaostoolkit import argument_name, configured_project, param_type
from reboot_harness.model.topology import Topology
from reboot_harness.steps import Command

# Param types whose valid values depend on the stack's topology.
_TOPOLOGY_TYPES = frozenset({"host", "hosts", "lb", "mysql_host", "checks"})


def _stand_in(kind: str, topology: Topology) -> object:
    """A value of Param type ``kind`` that every step of the shipped stack takes, standing in
    for one that cannot be checked yet (None: the type is not known here)."""
    return {
        "host": topology.apps[0],
        "hosts": [topology.apps[0]],
        "lb": topology.lbs[0],
        "mysql_host": topology.mysql_hosts[-1],
        "checks": [],
        "duration": 1,
        "mode": "graceful",
        "flag": False,
        "signal": "TERM",
        "order": "given",
        "program": topology.app_program,
    }.get(kind)


def _placeholder(value: object) -> bool:
    """A value chaoslib substitutes from the configuration or secrets when the activity runs."""
    if isinstance(value, list | tuple):
        return any(_placeholder(v) for v in value)
    return isinstance(value, str) and "${" in value


def _stack_topology(project: object) -> Topology | None:
    """The topology of the stack named by ``project`` (literal), $RH_PROJECT or the config
    file's ``project``, when it is up."""
    from reboot_harness.stack.state import ProjectState, topology_of

    name = project if isinstance(project, str) and not _placeholder(project) else None
    try:
        name = name or configured_project()
        if not name:
            return None
        return topology_of(ProjectState.load(name))
    except UsageError:  # not up, or a bad config file: the run says so; validating goes on
        return None


def refusal(command: Command, given: Mapping[str, Any], project: object, source: str) -> str | None:
    """Why the action of ``command`` refuses the arguments ``given`` (by argument name), as
    one line ``SOURCE: ARGUMENT: why; valid: …``; None when nothing checkable is wrong."""
    from reboot_harness.run.oneshot import step_of

    known = _stack_topology(project)
    topology = known or Topology()
    data = dict(given)
    for arg in command.action_args:
        kind = param_type(command, arg)
        value = data.get(arg.name)
        unknowable = _placeholder(value) or (known is None and kind in _TOPOLOGY_TYPES)
        if arg.choices and not unknowable and value is not None and value not in arg.choices:
            return f"{source}: {argument_name(arg)}: {value!r}; valid: {', '.join(arg.choices)}"
        if value is None or not unknowable:
            continue
        if arg.choices:
            data[arg.name] = arg.choices[0]
        elif kind is None or _stand_in(kind, topology) is None:
            return None  # nothing stands in for it: the run validates it
        else:
            data[arg.name] = _stand_in(kind, topology)
    try:
        step = command.step(data, source, lambda arg: arg.name)
        step_of(step, source, "", topology)
    except ScenarioError as e:
        return f"{source}: {_argument(command, str(e))}"
    except UsageError as e:
        return str(e)
    return None


def _argument(command: Command, message: str) -> str:
    """``--down-for: …`` / ``HOST: …`` (how step_of names a key) → ``down_for: …`` / ``host:
    …``, the action's argument."""
    spelled, _, why = message.partition(": ")
    for arg in command.action_args:
        if spelled == arg.flag:
            return f"{argument_name(arg)}: {why}"
    return message


def check_refusal(checks: object, project: object, source: str) -> str | None:
    """Why a probe refuses ``checks``: not a list of names, or a check the stack (when known)
    cannot run; None otherwise."""
    from reboot_harness.checks.run import resolve

    if not checks or _placeholder(checks):
        return None
    if not isinstance(checks, list | tuple):
        return f"{source}: checks: {checks!r} is not a list of check names"
    known = _stack_topology(project)
    if known is None:
        return None
    try:
        resolve([str(c) for c in checks], known)
    except UsageError as e:
        return f"{source}: checks: {e}"
    return None
