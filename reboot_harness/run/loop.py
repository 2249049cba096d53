"""Running a scenario: fresh stack -> preflight -> steps (healed in finally) -> recovery ->
verdict. Every step's outcome is recorded, not raised; the verdict is judged at the end."""

from __future__ import annotations

import contextlib
import random
import time
import uuid
from collections.abc import Callable
from functools import partial

from reboot_harness.checks.preflight import preflight
from reboot_harness.checks.recovery import Settled, wait_recovered
from reboot_harness.errors import CheckTimeout, FaultError, HarnessError, StackError
from reboot_harness.interrupts import shielded
from reboot_harness.judging.budgets import budgets_for
from reboot_harness.judging.judge import judge_fixed, judge_incident, settled
from reboot_harness.judging.result import ScenarioResult
from reboot_harness.judging.traffic import summarize
from reboot_harness.model.events import EventKind
from reboot_harness.model.incidents import Incident
from reboot_harness.model.results import CheckResult, StepError
from reboot_harness.model.scenario import Scenario
from reboot_harness.run.bringup import bring_up
from reboot_harness.run.request import RunRequest
from reboot_harness.stack.removal import down
from reboot_harness.steps import RunContext, execute
from reboot_harness.traffic import Traffic, TrafficProfile

Progress = Callable[[str], None]


def project_name(scenario: str, variant: str) -> str:
    return f"rh-{scenario[:36]}-{variant[:3]}-{uuid.uuid4().hex[:6]}"


def run_scenario(
    scenario: Scenario,
    variant: str = "fixed",
    *,
    request: RunRequest | None = None,
    progress: Progress = lambda _: None,
) -> ScenarioResult:
    """Run one variant of ``scenario`` on a fresh stack and judge it (reboot_harness.judging.judge).

    ``variant`` is ``fixed`` (the default stack; every expected check must hold) or ``incident``
    (the incident's compose override applied; the run must show what the incident declares).
    ``request`` says how (default: the shipped stack, removed afterwards); its ``incident``
    overrides which incident is applied and judged by.
    """
    began = time.time()
    request = (request or RunRequest()).loaded()
    chosen = None
    if variant == "incident":
        chosen = request.incident_for(scenario)
        if chosen is None:
            raise HarnessError(f"scenario {scenario.name} reproduces no incident")
    name = project_name(scenario.name, variant)
    result = ScenarioResult(scenario.name, variant, False, "", 0.0, name)
    result.incident = chosen.name if chosen else ""
    try:
        try:
            up = bring_up(name, request, extra=[chosen.path] if chosen else [], progress=progress)
        except CheckTimeout as e:
            result.reason = f"stack did not come up: {str(e).splitlines()[0]}"
            result.checks = list(e.results)
            return result
        stack = up.stack
        result.engine = stack.state.engine
        ctx = RunContext(stack, random.Random(scenario.seed), progress)
        ctx.event(EventKind.STACK_READY, "", f"{len(up.readiness.results)} checks hold")
        result.preflight = preflight(stack)
        for r in result.preflight:
            if not r.ok:
                ctx.event(EventKind.PREFLIGHT, r.host, f"{r.observed}: {r.detail}")
        clients = scenario.clients
        profile = TrafficProfile.for_clients(clients)
        traffic = Traffic(profile, progress=progress) if scenario.traffic else None
        result.clients = clients if traffic is not None else None
        try:
            _run_with_traffic(ctx, scenario, result, traffic, chosen)
        except HarnessError as e:
            result.events = ctx.events
            result.reason = f"run failed: {str(e).splitlines()[0]}"
        finally:
            if traffic is not None:
                with shielded():
                    traffic.abort()
        return result
    finally:
        result.duration_s = time.time() - began
        if not request.keep:
            with shielded(), contextlib.suppress(HarnessError):
                down(name)


def _run_with_traffic(
    ctx: RunContext,
    scenario: Scenario,
    result: ScenarioResult,
    traffic: Traffic | None,
    incident: Incident | None,
) -> None:
    """Clients start before the first step and stop after the final recovery wait."""
    if traffic is not None:
        traffic.start(ctx.stack, seed=scenario.seed)
        ctx.event(EventKind.TRAFFIC_STARTED, "", "clients running")
    faults_began = time.time()
    try:
        for i, step in enumerate(scenario.steps):
            if incident is not None and step.KEY in incident.drops:
                ctx.event(EventKind.STEP_SKIPPED, "", f"steps[{i}].{step.KEY}: {incident.summary}")
                continue
            try:
                execute(ctx, step)
            except (FaultError, StackError) as e:
                error = StepError(
                    i,
                    step.KEY,
                    str(e).splitlines()[0],
                    e.cause if isinstance(e, FaultError) else "host-unavailable",
                    e.checks if isinstance(e, FaultError) else (),
                )
                result.step_errors.append(error)
                ctx.event(EventKind.STEP_FAILED, "", error.line())
    finally:
        with shielded():
            ctx.heal()
    result.checks, recovered_in = _final(ctx, scenario, faults_began, incident)
    if traffic is not None:
        result.history = traffic.stop()
        result.traffic_problems = list(traffic.problems)
        ctx.event(EventKind.TRAFFIC_STOPPED, "", f"{len(result.history.ops)} operations recorded")
        budgets = budgets_for(scenario)
        result.summary, result.budget_violations = summarize(
            result.history, ctx.events, budgets, ctx.stack.topology.hosts
        )
    result.events = ctx.events
    if incident is None:
        outcome = judge_fixed(
            result.checks,
            result.step_errors,
            result.budget_violations,
            recover_within=scenario.expect.recover_within,
            recovered_in=recovered_in,
        )
    else:
        outcome = judge_incident(
            incident,
            result.checks,
            result.step_errors,
            result.budget_violations,
            touched=incident.touched(scenario.steps, ctx.stack.topology),
        )
        result.reproduced = outcome
    result.passed, result.reason = outcome.passed, outcome.reason


def _final(
    ctx: RunContext, scenario: Scenario, since: float, incident: Incident | None
) -> tuple[list[CheckResult], float]:
    """Wait for the expected checks (and those the incident is shown by); return the last
    results and the time it took (-1: never). An incident whose cause lasts ends the wait once
    its checks show the cause alone (reboot_harness.judging.judge.settled)."""
    checks = scenario.expect.checks
    if checks and incident is not None:
        checks = tuple(dict.fromkeys((*checks, *incident.checks)))
    # (settled itself says no for an incident that does not declare its cause lasts)
    ending: Settled | None = None
    if incident is not None:
        ending = partial(
            settled, incident, touched=incident.touched(scenario.steps, ctx.stack.topology)
        )
    began = time.time()
    within = scenario.expect.recover_within
    try:
        readiness = wait_recovered(
            ctx.stack, checks=checks, since=since, timeout=within, settled=ending
        )
    except CheckTimeout as e:
        how = f"; the incident's cause lasts: settled after {time.time() - began:.0f}s"
        ctx.event(EventKind.NOT_RECOVERED, "", f"within {within:g}s" + (how if e.settled else ""))
        return list(e.results), -1.0
    took = (readiness.recovered_at or time.time()) - began  # (not the runs still under way)
    ctx.event(EventKind.RECOVERED, "", "expected checks hold", took)
    return readiness.results, took


__all__ = ["Progress", "ScenarioResult", "budgets_for", "project_name", "run_scenario"]
