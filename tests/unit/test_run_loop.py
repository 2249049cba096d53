"""The run loop (reboot_harness.run.loop) on the shared fake stack, no Docker: a scenario's steps
run in order, each outcome is recorded rather than raised, everything a fault left broken is
healed in a `finally` that a second signal cannot cut short, the final recovery wait runs real
checks against the fake's hosts, and the verdict is judged from what was recorded."""

from __future__ import annotations

import json
import os
import signal
import time
from collections.abc import Iterator

import pytest

from reboot_harness.checks.available import names
from reboot_harness.checks.recovery import Readiness
from reboot_harness.checks.run import run_checks
from reboot_harness.errors import CheckTimeout, HarnessError, StackError
from reboot_harness.interrupts import Terminated, install
from reboot_harness.model.incidents import Incident
from reboot_harness.model.results import StepError
from reboot_harness.model.scenario import Scenario
from reboot_harness.model.topology import Topology
from reboot_harness.run import loop
from reboot_harness.run.bringup import UpReport
from reboot_harness.run.request import RunRequest
from reboot_harness.scenarios import find
from reboot_harness.scenarios.files import parse_scenario
from tests.fakestack import FakeStack
from tests.unit.test_step_executors import WEB, Dns


def run_on(
    stack: FakeStack,
    scenario: Scenario,
    monkeypatch: pytest.MonkeyPatch,
    variant: str = "fixed",
    incident: Incident | None = None,
) -> loop.ScenarioResult:
    """Run ``scenario``'s ``variant`` (of ``incident`` if given) through ``run_scenario`` on
    ``stack``: the stack's
    bring-up hands over the fake as a ready stack, its removal is recorded in the fake's calls
    as ("down", project, ""). The one place this file calls the run loop."""

    def bring_up(name: str, *_args: object, **_options: object) -> UpReport:
        return UpReport(stack, Readiness(time.time()))  # type: ignore[arg-type]  # a fake Stack

    monkeypatch.setattr(loop, "bring_up", bring_up)
    monkeypatch.setattr(loop, "down", lambda name: stack.calls.append(("down", name, "")))
    request = RunRequest(topology=stack.topology, incident=incident)
    return loop.run_scenario(scenario, variant, request=request)


def scenario(steps: str, *, within: str = "10s", checks: str = "all") -> Scenario:
    """A scenario of WEB's hosts: ``steps`` (YAML flow lists), no traffic."""
    text = (
        f"name: fake-run\ndescription: on the fake stack\nsteps: {steps}\n"
        f"expect: {{checks: {checks}, recover_within: {within}}}\n"
    )
    return parse_scenario(text, source="fake-run.yaml", topology=WEB, checks=names(WEB),
                          incidents=())  # fmt: skip


STARTED = json.dumps({"info": "started"})


def op(ok: bool) -> str:
    """A client's line for one HTTP request through lb1, a moment ago."""
    now = time.time()
    return json.dumps({"service": "http", "client": "http-c1-1", "op": "get /health",
                       "start": now - 0.2, "end": now - 0.1, "ok": ok, "target": "lb1",
                       "error": "" if ok else "ConnectionRefusedError"})  # fmt: skip


def kinds(result: loop.ScenarioResult) -> list[str]:
    return [str(e.kind) for e in result.events]


@pytest.fixture
def web() -> Iterator[FakeStack]:
    with FakeStack(WEB) as stack:
        yield stack.probes()


@pytest.fixture
def signals() -> Iterator[None]:
    """SIGTERM and SIGINT as the CLI installs them (reboot_harness.interrupts.install), restored
    afterwards."""
    saved = {s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGINT)}
    install()
    yield
    for s, handler in saved.items():
        signal.signal(s, handler)


def test_a_run_steps_waits_judges_and_removes_its_stack(
    web: FakeStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    result = run_on(
        web, scenario("[{reboot: {host: web1, mode: hard}}, {wait_recovered: {within: 10s}}]"),
        monkeypatch,
    )  # fmt: skip
    assert result.passed, result.reason
    assert result.reason.startswith("recovered in ")
    assert kinds(result) == ["stack ready", "power off", "power on", "recovered", "recovered"]
    assert [e.detail for e in result.events][-2:] == ["wait_recovered", "expected checks hold"]
    assert result.step_errors == [] and result.preflight == []  # WEB has no mysql to lint
    assert [r.line() for r in result.checks if not r.ok] == []
    assert web.calls[-1] == ("down", result.project, "")
    assert result.project.startswith("rh-fake-run-fix-")


def test_a_failed_step_is_recorded_with_its_cause_and_the_run_goes_on(
    web: FakeStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    result = run_on(
        web, scenario("[{kill: {host: web2, program: apache2}}, {reboot: {host: web1}}]"),
        monkeypatch,
    )  # fmt: skip
    message = (
        "host web2: no process named 'apache2' to signal; for a supervisord program use its"
        " program name, otherwise the process name (as in /proc/PID/comm)"
    )
    assert result.step_errors == [StepError(0, "kill", message, "signal-failed")]
    assert kinds(result)[1:4] == ["step failed", "power off", "power on"]
    assert result.events[1].detail == f"steps[0].kill signal-failed: {message}"
    assert not result.passed
    assert result.reason == f"step failed: steps[0].kill signal-failed: {message}"


def test_the_engine_failing_mid_step_is_host_unavailable_and_the_heal_boots_every_host(
    web: FakeStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The engine refuses web2's boot in the middle of a full restart: the step error says so
    (`host-unavailable`), the heal boots web2 and web3 (left off by the step), and the final
    checks hold on every host."""
    web.when("power_on", "web2", StackError("host web2: boot failed: engine said 500"))
    result = run_on(web, scenario("[{full_restart: {hosts: all}}]"), monkeypatch)
    (error,) = result.step_errors
    assert (error.kind, error.cause, error.message) == (
        "full_restart", "host-unavailable", "host web2: boot failed: engine said 500",
    )  # fmt: skip
    heal = [e.detail for e in result.events if e.kind == "heal"]
    assert heal == ["started again: web2, web3"]
    assert set(web.status.values()) == {"running"}
    assert all(r.ok for r in result.checks), [r.line() for r in result.checks]
    assert result.reason.startswith("step failed: steps[0].full_restart host-unavailable")


def test_a_wait_that_runs_out_keeps_its_failing_checks_and_the_final_wait_says_not_recovered(
    web: FakeStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    steps = "[{kill: {host: web3, program: nginx}}, {wait_recovered: {within: 0.3s}}]"
    result = run_on(web, scenario(steps, within="0.3s"), monkeypatch)
    (error,) = result.step_errors
    assert (error.index, error.kind, error.cause) == (1, "wait_recovered", "not-recovered")
    assert [(r.host, r.causes) for r in error.checks] == [("web3", ("daemon-not-running",))]
    assert kinds(result)[-1] == "not recovered"
    assert result.events[-1].detail == "within 0.3s"
    assert [r.host for r in result.checks if not r.ok] == ["web3"]
    assert not result.passed


def test_an_error_that_is_no_step_failure_ends_the_run_with_its_reason_after_the_heal(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Rotating the last LB out of DNS is refused (a usage error, not a failed step): the run
    ends there as `run failed`, after the heal booted the host a step had stopped."""
    with FakeStack() as stack:
        Dns(stack)
        stack.state = stack.state.with_changes(rotation=("lb2",))
        text = (
            "name: fake-run\ndescription: d\nsteps: [{stop: {host: app1}},"
            " {dns_rotate: {out: lb2, wait: 0s}}]\nexpect: {checks: [dns]}\n"
        )
        topo = Topology()
        found = parse_scenario(text, source="x.yaml", topology=topo, checks=names(topo),
                               incidents=())  # fmt: skip
        result = run_on(stack, found, monkeypatch)
    assert result.reason.startswith("run failed: rotating lb2 out leaves no load balancer")
    assert not result.passed
    assert stack.status["app1"] == "running"
    assert [str(e.kind) for e in result.events][-1] == "heal"


def on_lbs(steps: str, extra: str = "") -> Scenario:
    """A scenario of the shipped topology's hosts, judged by the `dns` check."""
    text = (
        f"name: fake-run\ndescription: d\n{extra}steps: {steps}\n"
        "expect: {checks: [dns], recover_within: 5s}\n"
    )
    topo = Topology()
    return parse_scenario(text, source="x.yaml", topology=topo, checks=names(topo),
                          incidents=())  # fmt: skip


def test_an_incident_variant_leaves_out_what_its_plan_drops_and_is_judged_by_the_incident(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    incident = find.incident("lb-no-dns-rotation", Topology())
    steps = "[{dns_rotate: {out: lb1, wait: 0s}}, {reboot: {host: lb1}}, {dns_rotate: {in: lb1}}]"
    with FakeStack() as stack:
        Dns(stack)
        result = run_on(stack, on_lbs(steps), monkeypatch, "incident", incident)
    skipped = [e.detail for e in result.events if e.kind == "step skipped"]
    assert skipped == [f"steps[{i}].dns_rotate: {incident.summary}" for i in (0, 2)]
    assert not [w for _, _, w in stack.calls if "rh-dns-rotate" in w]
    assert asked_power(stack) == [("power_off", "lb1"), ("power_on", "lb1")]
    assert result.incident == "lb-no-dns-rotation" and result.reproduced is not None
    # no traffic here, so no failed request to show: the incident's declared failure is missing
    assert result.reproduced.missing == ("http budget max_errors [lb1]",)
    assert not result.passed
    assert result.reason.startswith("incident did not reproduce: every expected check held")


def test_traffic_runs_from_before_the_first_step_to_after_recovery_and_is_judged(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The clients start before the first step and stop after the final wait; what they
    recorded is judged by the scenario's budgets, and by no lost write on every write service
    (here: none recorded, so none can be judged); their containers are removed."""
    with FakeStack() as stack:
        Dns(stack)
        stack.prints("traffic-1", "\n".join([STARTED, op(ok=True)]))
        stack.prints("traffic-2", "\n".join([STARTED, op(ok=False)]))
        extra = "traffic: {keepalive: true}\nbudgets: {http: {max_errors: 0}}\n"
        result = run_on(stack, on_lbs("[{reboot: {host: lb1}}]", extra), monkeypatch)
    assert kinds(result) == [
        "stack ready", "preflight", "preflight", "traffic started", "power off", "power on",
        "recovered", "traffic stopped",
    ]  # fmt: skip
    assert result.events[-1].detail == "2 operations recorded"
    assert result.clients is not None and result.clients.keepalive
    assert [o.ok for o in result.ops] == [True, False] and result.summary is not None
    assert [(v.service, v.measurement) for v in result.budget_violations] == [
        ("http", "max_errors"), ("redis", "traffic"), ("mysql", "traffic"),
    ]  # fmt: skip
    assert result.reason.startswith("budget exceeded: http: max_errors 0 exceeded: measured 1")
    assert sorted(stack.removed) == ["traffic-1", "traffic-2"]


def test_the_incident_variant_of_a_scenario_that_reproduces_none_starts_nothing(
    web: FakeStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(HarnessError, match=r"^scenario fake-run reproduces no incident$"):
        run_on(web, scenario("[{reboot: {host: web1}}]"), monkeypatch, "incident")
    assert web.calls == []


def test_a_stack_that_does_not_come_up_is_the_reason_with_its_checks(
    web: FakeStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    web.status["web1"] = "exited"
    failing = run_checks(web, ["processes"])

    def bring_up(name: str, *_args: object, **_options: object) -> UpReport:
        raise CheckTimeout("not recovered after 300s; still failing: processes [web1]", failing)

    monkeypatch.setattr(loop, "bring_up", bring_up)
    monkeypatch.setattr(loop, "down", lambda name: web.calls.append(("down", name, "")))
    result = loop.run_scenario(
        scenario("[{reboot: {host: web2}}]"), "fixed", request=RunRequest(topology=web.topology)
    )
    assert result.reason == "stack did not come up: not recovered after 300s; still failing:" \
        " processes [web1]"  # fmt: skip
    assert result.checks == failing and not result.passed
    assert asked_power(web) == []


def asked_power(stack: FakeStack) -> list[tuple[str, str]]:
    return [(m, h) for m, h, _ in stack.calls if m in ("power_off", "power_on")]


# -- interrupts ----------------------------------------------------------------------------------
def test_ctrl_c_during_a_step_stops_the_run_heals_thaws_and_removes_the_stack(
    web: FakeStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    """KeyboardInterrupt in the middle of the third step: no step after it runs, the heal
    boots the stopped host and thaws the frozen program, the stack is removed, and the
    interrupt reaches the caller."""
    web.when("power_off", "web3", KeyboardInterrupt())
    steps = (
        "[{stop: {host: web1}}, {kill: {host: web2, program: nginx, signal: STOP}},"
        " {reboot: {host: web3}}, {reboot: {host: web2}}]"
    )
    with pytest.raises(KeyboardInterrupt):
        run_on(web, scenario(steps), monkeypatch)
    assert asked_power(web) == [("power_off", "web1"), ("power_off", "web3"), ("power_on", "web1")]
    assert ("signal", "web2", "CONT nginx") in web.calls
    assert set(web.status.values()) == {"running"}
    assert web.calls[-1][0] == "down"


def test_sigterm_during_a_step_is_an_interrupt_that_heals_too(
    web: FakeStack, monkeypatch: pytest.MonkeyPatch, signals: None
) -> None:
    web.when("power_on", "web1", lambda: os.kill(os.getpid(), signal.SIGTERM))
    with pytest.raises(Terminated):
        run_on(web, scenario("[{reboot: {host: web1}}, {reboot: {host: web2}}]"), monkeypatch)
    # the interrupted boot, then the heal's
    assert asked_power(web) == [("power_off", "web1"), ("power_on", "web1"), ("power_on", "web1")]
    assert web.status["web1"] == "running"
    assert web.calls[-1][0] == "down"


def test_a_signal_during_the_heal_waits_until_every_host_is_booted(
    web: FakeStack, monkeypatch: pytest.MonkeyPatch, signals: None
) -> None:
    """Ctrl-C while the heal boots web1: the heal still boots web2 and web3, the stack is
    still removed, then the interrupt is raised."""
    web.when("power_on", "web1", lambda: os.kill(os.getpid(), signal.SIGINT))
    steps = "[{stop: {host: web1}}, {stop: {host: web2}}, {stop: {host: web3}}]"
    with pytest.raises(KeyboardInterrupt):
        run_on(web, scenario(steps), monkeypatch)
    assert set(web.status.values()) == {"running"}
    assert web.calls[-1][0] == "down"
