"""Running a scenario: fresh stack -> preflight -> steps (healed in finally) -> recovery ->
verdict. Every step's outcome is recorded, not raised; the verdict is judged at the end."""

from __future__ import annotations

import contextlib
import random
import time
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from harness.catalog import incident_file
from harness.checks.preflight import preflight
from harness.errors import CheckTimeout, FaultError, HarnessError, StackError
from harness.faults import EXECUTORS, RunContext, power_off, power_on
from harness.faults.reboot import reboot
from harness.interrupts import shielded
from harness.model import (
    Budget,
    CheckResult,
    Event,
    FullRestart,
    History,
    Reboot,
    Rolling,
    Scenario,
    Sleep,
    Step,
    WaitRecovered,
)
from harness.runner import bring_up, wait_recovered
from harness.stack import down
from harness.traffic import Traffic
from harness.verdicts import summarize

Progress = Callable[[str], None]


@dataclass
class ScenarioResult:
    """The outcome of one scenario variant."""

    name: str
    variant: str
    passed: bool
    reason: str
    duration_s: float
    project: str
    checks: list[CheckResult] = field(default_factory=list)
    preflight: list[CheckResult] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)
    step_errors: list[str] = field(default_factory=list)
    history: History | None = None
    verdicts: dict[str, object] = field(default_factory=dict)
    budget_violations: list[str] = field(default_factory=list)
    traffic_problems: list[str] = field(default_factory=list)

    @property
    def test_id(self) -> str:
        return f"{self.name}[{self.variant}]"

    def as_dict(self) -> dict[str, object]:
        return {
            "name": self.name,
            "variant": self.variant,
            "passed": self.passed,
            "reason": self.reason,
            "duration_s": round(self.duration_s, 2),
            "project": self.project,
            "checks": [r.as_dict() for r in self.checks],
            "preflight": [r.as_dict() for r in self.preflight],
            "events": [e.as_dict() for e in self.events],
            "step_errors": self.step_errors,
            "history": [op.as_dict() for op in self.history.ops] if self.history else [],
            "present": (
                {s: sorted(keys) for s, keys in self.history.present.items()}
                if self.history
                else {}
            ),
            "verdicts": self.verdicts,
            "budget_violations": self.budget_violations,
            "traffic_problems": self.traffic_problems,
        }


def project_name(scenario: str, variant: str) -> str:
    return f"rh-{scenario[:36]}-{variant[:3]}-{uuid.uuid4().hex[:6]}"


def step_kind(step: Step) -> str:
    return {
        "DnsRotate": "dns_rotate",
        "SentinelFailover": "sentinel_failover",
        "MysqlFailover": "mysql_failover",
        "WaitRecovered": "wait_recovered",
        "FullRestart": "full_restart",
    }.get(type(step).__name__, type(step).__name__.lower())


def _wait(ctx: RunContext, within: float, checks: tuple[str, ...], label: str) -> None:
    began = time.time()
    try:
        wait_recovered(ctx.stack, checks=checks, since=began, timeout=within)
    except CheckTimeout as e:
        failing = [r for r in e.results if not r.ok] if isinstance(e.results, list) else []
        raise FaultError(
            f"{label}: not recovered within {within:g}s: "
            + "; ".join(r.line() for r in failing[:4])
        ) from e
    ctx.event("recovered", "", label, time.time() - began)


def _rolling(ctx: RunContext, step: Rolling) -> None:
    for host in step.hosts:
        reboot(ctx, Reboot(host=host, mode=step.mode, down_for=step.down_for))
        _wait(ctx, step.recover_within, (), f"after rebooting {host}")


def _full_restart(ctx: RunContext, step: FullRestart) -> None:
    hosts = list(step.hosts)
    if step.order == "reverse":
        hosts.reverse()
    elif step.order == "random":
        ctx.rng.shuffle(hosts)
    # Everything goes down at once (in parallel), as when the whole fleet is rebooted.
    with ThreadPoolExecutor(max_workers=min(8, len(hosts))) as pool:
        for f in [pool.submit(power_off, ctx, h, step.mode, 10.0) for h in step.hosts]:
            f.result()
    if step.down_for:
        time.sleep(step.down_for)
    ctx.event("full restart", "", "boot order: " + ", ".join(hosts))
    for host in hosts:
        power_on(ctx, host)


def execute(ctx: RunContext, step: Step) -> None:
    if isinstance(step, WaitRecovered):
        _wait(ctx, step.within, step.checks, "wait_recovered")
    elif isinstance(step, Sleep):
        time.sleep(step.seconds)
    elif isinstance(step, Rolling):
        _rolling(ctx, step)
    elif isinstance(step, FullRestart):
        _full_restart(ctx, step)
    else:
        EXECUTORS[type(step)](ctx, step)


def run_scenario(
    scenario: Scenario,
    variant: str = "fixed",
    *,
    incident: str | None = None,
    keep: bool = False,
    extra_compose: Sequence[Path] = (),
    topology_file: Path | None = None,
    progress: Progress = lambda _: None,
) -> ScenarioResult:
    """Run one variant of ``scenario`` on a fresh stack and judge it.

    ``variant`` is ``fixed`` (the default stack; every expected check must hold) or ``incident``
    (the incident's compose override applied; the run must fail on the incident's check).
    ``incident`` overrides which incident configuration is applied.
    """
    began = time.time()
    incident = incident or (scenario.reproduces.incident if scenario.reproduces else None)
    if variant == "incident" and not incident:
        raise HarnessError(f"scenario {scenario.name} reproduces no incident")
    extra = [*extra_compose]
    if variant == "incident" and incident:
        extra.append(incident_file(incident))
    name = project_name(scenario.name, variant)
    result = ScenarioResult(scenario.name, variant, False, "", 0.0, name)
    try:
        try:
            up = bring_up(
                name,
                extra_compose=extra,
                keep=keep,
                timeout=300,
                topology_file=topology_file,
                progress=progress,
            )
        except CheckTimeout as e:
            result.reason = f"stack did not come up: {str(e).splitlines()[0]}"
            result.checks = list(e.results) if isinstance(e.results, list) else []
            return result
        stack = up.stack
        ctx = RunContext(stack, random.Random(scenario.seed), progress)
        ctx.event("stack ready", "", f"{len(up.readiness.results)} checks hold")
        result.preflight = preflight(stack)
        for r in result.preflight:
            if not r.ok:
                ctx.event("preflight", r.host, f"{r.observed}: {r.detail}")
        traffic = Traffic(progress=progress) if scenario.traffic else None
        try:
            _run_with_traffic(ctx, scenario, variant, result, traffic)
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
        if not keep:
            with shielded(), contextlib.suppress(HarnessError):
                down(name)


def _run_with_traffic(
    ctx: RunContext,
    scenario: Scenario,
    variant: str,
    result: ScenarioResult,
    traffic: Traffic | None,
) -> None:
    """Clients start before the first step and stop after the final recovery wait."""
    if traffic is not None:
        traffic.start(ctx.stack, seed=scenario.seed)
        ctx.event("traffic started", "", "clients running")
    faults_began = time.time()
    try:
        for i, step in enumerate(scenario.steps):
            kind = step_kind(step)
            try:
                execute(ctx, step)
            except (FaultError, StackError) as e:
                msg = f"steps[{i}].{kind}: {str(e).splitlines()[0]}"
                result.step_errors.append(msg)
                ctx.event("step failed", "", msg)
    finally:
        with shielded():
            ctx.heal()
    result.checks, recovered_in = _final(ctx, scenario, faults_began)
    if traffic is not None:
        result.history = traffic.stop()
        result.traffic_problems = list(traffic.problems)
        ctx.event("traffic stopped", "", f"{len(result.history.ops)} operations recorded")
        budgets = list(scenario.budgets)
        if variant == "fixed":
            # Acknowledged writes are never lost on a fixed configuration.
            budgets += [
                Budget(s, no_lost_writes=True)
                for s in ("redis", "mysql")
                if not any(b.service == s and b.no_lost_writes for b in budgets)
            ]
        result.verdicts, result.budget_violations = summarize(result.history, ctx.events, budgets)
    result.events = ctx.events
    _judge(result, scenario, variant, recovered_in)


def _final(ctx: RunContext, scenario: Scenario, since: float) -> tuple[list[CheckResult], float]:
    """Wait for the expected checks; return the last results and the time it took (-1: never)."""
    checks = scenario.expect.checks
    if (
        scenario.reproduces
        and scenario.reproduces.check
        and checks
        and scenario.reproduces.check not in checks
    ):
        checks = (*checks, scenario.reproduces.check)
    began = time.time()
    try:
        readiness = wait_recovered(
            ctx.stack, checks=checks, since=since, timeout=scenario.expect.recover_within
        )
    except CheckTimeout as e:
        ctx.event("not recovered", "", f"within {scenario.expect.recover_within:g}s")
        return (list(e.results) if isinstance(e.results, list) else []), -1.0
    took = time.time() - began
    ctx.event("recovered", "", "expected checks hold", took)
    return readiness.results, took


def _judge(result: ScenarioResult, scenario: Scenario, variant: str, recovered_in: float) -> None:
    failing = [r for r in result.checks if not r.ok]
    if variant == "fixed":
        if result.step_errors:
            result.reason = "step failed: " + result.step_errors[0]
        elif result.budget_violations:
            result.reason = "budget exceeded: " + "; ".join(result.budget_violations[:3])
        elif failing:
            result.reason = (
                f"not recovered within {scenario.expect.recover_within:g}s: "
                + "; ".join(r.line() for r in failing[:4])
            )
        else:
            result.passed = True
            result.reason = f"recovered in {recovered_in:.1f}s"
        return
    budget = scenario.reproduces.budget if scenario.reproduces else ""
    if budget:
        over = [v for v in result.budget_violations if v.startswith(f"{budget}:")]
        if over:
            result.passed = True
            result.reason = f"reproduced: {over[0]}"
        else:
            result.reason = f"incident did not reproduce: the {budget} budget held"
        return
    named = scenario.reproduces.check if scenario.reproduces else ""
    hits = [r for r in failing if r.check == named] if named else failing
    if hits:
        result.passed = True
        result.reason = f"reproduced: {hits[0].line()}"
    elif failing:
        result.reason = f"incident failed, but not on {named!r}: " + "; ".join(
            r.line() for r in failing[:3]
        )
    else:
        result.reason = "incident did not reproduce: every expected check held"
