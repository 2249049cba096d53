"""One fault or operation on a running stack, from a shell script or another tool.

``reboot-harness reboot --project P app1 --mode hard --down-for 5s`` runs exactly the step a
scenario would (``{reboot: {host: app1, mode: hard, down_for: 5s}}``): validated the same way
before anything is touched, executed by the same code, its events returned for one line of
output. What a step leaves half-done (a host off, a program frozen, an LB out of DNS) stays so
until the next command — ``start``, ``kill --signal CONT``, ``dns-rotate in`` — or ``down``.
"""

from __future__ import annotations

import random
import re
from collections.abc import Mapping

from reboot_harness.checks.available import names as check_names
from reboot_harness.errors import ScenarioError
from reboot_harness.model.events import Event
from reboot_harness.model.steps import Step
from reboot_harness.model.topology import Topology
from reboot_harness.scenarios.files import parse_step
from reboot_harness.stack.state import ProjectState, topology_of
from reboot_harness.steps import COMMANDS

# How the command line spells a step's parameters (for messages: `--down-for`, not down_for).
OPTIONS: Mapping[str, str] = {
    key: arg.flag for command in COMMANDS for arg in command.args for key in arg.keys or (arg.name,)
}


def _as_option(message: str, source: str) -> str:
    """``SRC: reboot.down_for: …`` → ``--down-for: …`` (the caller names the command)."""
    rest = message.removeprefix(f"{source}: ")
    m = re.match(r"[a-z_]+\.([a-z_]+)(\[\d+\])?: ", rest)
    if not m:
        return rest
    key = m.group(1)
    return OPTIONS.get(key, "--" + key.replace("_", "-")) + ": " + rest[m.end() :]


def topology_for(project: str) -> Topology:
    """Project ``project``'s topology, read once for a command (no engine needed)."""
    return topology_of(ProjectState.load(project))


def step_of(
    data: Mapping[str, object], source: str, project: str, topology: Topology | None = None
) -> Step:
    """The step ``data`` validated against project ``project``'s hosts (no engine needed);
    ``topology``: the project's, when the caller has read it already."""
    topology = topology or topology_for(project)
    try:
        return parse_step(
            dict(data), source=source, topology=topology, checks=check_names(topology)
        )
    except ScenarioError as e:
        raise ScenarioError(_as_option(str(e), source)) from None


def apply(project: str, step: Step, topology: Topology | None = None) -> list[Event]:
    """Run ``step`` against running stack ``project``; its events. Interrupted (Ctrl-C,
    SIGTERM) half-way, what it did is healed first: no host is left off by an aborted command."""
    from reboot_harness.run.bringup import attach
    from reboot_harness.steps import RunContext, execute

    stack = attach(project, topology)
    ctx = RunContext(stack, random.Random())
    try:
        execute(ctx, step)
    except KeyboardInterrupt:
        ctx.heal()
        raise
    finally:
        stack.close_sessions()
    return ctx.events


def describe(events: list[Event]) -> str:
    """The events of one command as one line."""
    parts = []
    for e in events:
        where = f" {e.host}" if e.host else ""
        took = f" ({e.duration_s:.1f} s)" if e.duration_s >= 0.05 else ""
        parts.append(f"{e.kind}{where}{': ' + e.detail if e.detail else ''}{took}")
    return "; ".join(parts) or "done"
