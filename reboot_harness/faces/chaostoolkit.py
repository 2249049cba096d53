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

from collections.abc import Sequence
from typing import Any

from reboot_harness.report.serialize import Json, to_json

__all__ = [
    "check_results",
    "checks_hold",
    "dns_rotate",
    "failover",
    "heal",
    "kill",
    "reboot",
    "start",
    "stop",
    "wait_recovered",
]


def _step(project: str, data: dict[str, Any]) -> list[Json]:
    from reboot_harness.run import oneshot

    kind = next(iter(data))
    topology = oneshot.topology_for(project)
    step = oneshot.step_of(data, f"reboot_harness.chaostoolkit.{kind}", project, topology)
    events = oneshot.apply(project, step, topology)
    return [to_json(e) for e in events]


def _given(**params: Any) -> dict[str, Any]:
    return {k: v for k, v in params.items() if v is not None}


def reboot(
    project: str,
    host: str,
    mode: str = "graceful",
    down_for: str | float = 0,
    new_ip: bool = False,
    grace: str | float | None = None,
) -> list[Json]:
    """Reboot ``host``: graceful, hard (power loss) or crash; off for ``down_for``."""
    params = _given(host=host, mode=mode, down_for=down_for, grace=grace)
    if new_ip:
        params["new_ip"] = True
    return _step(project, {"reboot": params})


def stop(
    project: str, host: str, mode: str = "graceful", grace: str | float | None = None
) -> list[Json]:
    """Power ``host`` off and leave it off (``start`` or ``heal`` boots it)."""
    return _step(project, {"stop": _given(host=host, mode=mode, grace=grace)})


def start(project: str, host: str) -> list[Json]:
    """Boot ``host``."""
    return _step(project, {"start": {"host": host}})


def kill(project: str, host: str, program: str, signal: str = "KILL") -> list[Json]:
    """Send ``signal`` to ``program`` on ``host`` (STOP freezes it, CONT thaws it)."""
    return _step(project, {"kill": {"host": host, "program": program, "signal": signal}})


def failover(project: str, service: str, to: str | None = None) -> list[Json]:
    """Fail ``service`` over: ``redis`` (Sentinel elects) or ``mysql`` (to ``to``, default the
    other server)."""
    if service == "redis":
        if to is not None:
            from reboot_harness.errors import UsageError

            raise UsageError(
                "reboot_harness.chaostoolkit.failover: to: Sentinel elects the new master"
            )
        return _step(project, {"sentinel_failover": {}})
    if service != "mysql":
        from reboot_harness.errors import UsageError

        raise UsageError(
            f"reboot_harness.chaostoolkit.failover: service: {service!r}; valid: redis, mysql"
        )
    return _step(project, {"mysql_failover": _given(to=to)})


def dns_rotate(project: str, action: str, lb: str, wait: str | float | None = None) -> list[Json]:
    """Take load balancer ``lb`` out of the DNS answer (``action: out``) or put it back."""
    return _step(project, {"dns_rotate": {action: lb, **_given(wait=wait)}})


def wait_recovered(
    project: str, within: str | float = "60s", checks: Sequence[str] | None = None
) -> list[Json]:
    """Wait until the checks (all by default) hold; fails the activity with what was observed
    when they do not within ``within``."""
    params: dict[str, Any] = {"within": within}
    if checks:
        params["checks"] = list(checks)
    return _step(project, {"wait_recovered": params})


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
