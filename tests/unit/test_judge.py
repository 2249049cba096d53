"""The judge (harness.judge): every branch of a fixed and of an incident variant, on hand-made
observations. An incident is "reproduced" only by the causes it declares."""

from __future__ import annotations

from pathlib import Path

from harness.incidents import Incident, Signature
from harness.judge import judge_fixed, judge_incident
from harness.model import BudgetViolation, CheckResult, StepError


def ok(check: str, host: str) -> CheckResult:
    return CheckResult(check, host, True, "e", "fine", subjects=(host,))


def bad(check: str, host: str, cause: str, observed: str = "broken") -> CheckResult:
    return CheckResult(check, host, False, "e", observed, causes=(cause,), subjects=(host,))


LIMITS_LOW = bad("limits", "app1", "nofile-below-minimum", "app (pid 7) soft 1024 < 10000")
NO_MINFDS = Incident(
    "no-minfds",
    Path("no-minfds.yaml"),
    "the app keeps the boot default",
    (Signature("check", "limits", "nofile-below-minimum", "app1"),),
)
MYSQL = Incident(
    "mysql-long-repl-password",
    Path("m.yaml"),
    "too long",
    (
        Signature("step", "mysql_failover", "repl-password-too-long"),
        Signature("check", "mysql replication", "not-a-replica", "mysql1"),
    ),
)
LB = Incident(
    "lb-no-dns-rotation",
    Path("lb.yaml"),
    "DNS not rotated",
    (Signature("budget", "http", "max_errors", "lb1"),),
    allows=(Signature("step", "dns_rotate", "rotation-not-served"),),
)
HTTP_ON_LB1 = BudgetViolation("http", "max_errors", "http: max_errors 0 exceeded: 7", ("lb1",))


# -- fixed ---------------------------------------------------------------------------------------


def test_fixed_passes_when_everything_held() -> None:
    got = judge_fixed([ok("limits", "app1")], [], [], recover_within=30, recovered_in=2.34)
    assert got.passed and got.reason == "recovered in 2.3s"


def test_fixed_fails_on_a_step_error_first() -> None:
    error = StepError(2, "reboot", "host app1: boot failed", "host-unavailable")
    got = judge_fixed([LIMITS_LOW], [error], [HTTP_ON_LB1], recover_within=30, recovered_in=-1)
    assert not got.passed
    assert got.reason == "step failed: steps[2].reboot host-unavailable: host app1: boot failed"


def test_fixed_fails_on_an_exceeded_budget() -> None:
    got = judge_fixed([ok("nginx", "lb1")], [], [HTTP_ON_LB1], recover_within=30, recovered_in=1)
    assert not got.passed and got.reason == "budget exceeded: http: max_errors 0 exceeded: 7"


def test_fixed_fails_when_not_recovered_naming_the_cause() -> None:
    got = judge_fixed([LIMITS_LOW], [], [], recover_within=30, recovered_in=-1)
    assert not got.passed
    assert got.reason == (
        "not recovered within 30s: limits [app1] nofile-below-minimum: app (pid 7) soft 1024"
        " < 10000"
    )


# -- incident ------------------------------------------------------------------------------------


def test_incident_reproduced_by_its_declared_cause() -> None:
    got = judge_incident(NO_MINFDS, [ok("processes", "app1"), LIMITS_LOW], [], [])
    assert got.passed
    assert got.reason == (
        "reproduced: limits [app1] nofile-below-minimum: app (pid 7) soft 1024 < 10000"
    )
    assert got.missing == ()


def test_incident_with_the_wrong_cause_is_not_reproduced() -> None:
    """The named check failed, but for another reason: not the incident."""
    other = bad("limits", "app1", "program-not-running", "app not running")
    got = judge_incident(NO_MINFDS, [other], [], [])
    assert not got.passed
    assert got.reason.startswith(
        "incident failed, but not by its cause: expected limits [app1] nofile-below-minimum;"
        " observed limits [app1] program-not-running: app not running"
    )


def test_incident_on_the_wrong_host_is_not_reproduced() -> None:
    got = judge_incident(NO_MINFDS, [bad("limits", "app2", "nofile-below-minimum")], [], [])
    assert not got.passed and got.reason.startswith("incident failed, but not by its cause")


def test_a_crashed_check_never_reproduces() -> None:
    crashed = CheckResult("limits", "*", False, "check runs", "check crashed: KeyError: pid",
                          causes=("check-crashed",))  # fmt: skip
    got = judge_incident(NO_MINFDS, [crashed], [], [])
    assert not got.passed
    assert "not by its cause" in got.reason and "check-crashed" in got.reason


def test_a_host_that_is_simply_down_never_reproduces() -> None:
    down = bad("limits", "app1", "host-down", "host down (exited)")
    got = judge_incident(NO_MINFDS, [down], [], [])
    assert not got.passed
    assert got.reason.startswith("incident failed, but not by its cause: expected limits [app1]")
    assert "limits [app1] host-down: host down (exited)" in got.reason


def test_host_down_counts_when_the_incident_declares_it() -> None:
    declared = Incident(
        "dies", Path("d.yaml"), "s", (Signature("check", "processes", "host-down"),)
    )
    got = judge_incident(declared, [bad("processes", "graphite", "host-down")], [], [])
    assert got.passed


def test_expected_step_error_with_its_check_reproduces() -> None:
    error = StepError(0, "mysql_failover", "ERROR 1470", "repl-password-too-long")
    replica = bad("mysql replication", "mysql1", "not-a-replica", "not a replica")
    got = judge_incident(MYSQL, [replica], [error], [])
    assert got.passed
    assert got.reason == (
        "reproduced: steps[0].mysql_failover repl-password-too-long: ERROR 1470;"
        " mysql replication [mysql1] not-a-replica: not a replica"
    )


def test_allowed_step_error_does_not_disqualify() -> None:
    error = StepError(1, "dns_rotate", "answer still lb1, lb2", "rotation-not-served")
    got = judge_incident(LB, [], [error], [HTTP_ON_LB1])
    assert got.passed and got.reason == "reproduced: http: max_errors 0 exceeded: 7 [lb1]"


def test_unexpected_step_error_fails_the_incident() -> None:
    error = StepError(3, "reboot", "host lb1: boot failed", "host-unavailable")
    got = judge_incident(LB, [], [error], [HTTP_ON_LB1])
    assert not got.passed
    assert got.reason == (
        "incident failed, but not by its cause: steps[3].reboot host-unavailable: host lb1:"
        " boot failed (the incident declares http budget max_errors [lb1])"
    )


def test_a_step_error_of_the_right_kind_but_wrong_cause_fails() -> None:
    error = StepError(0, "mysql_failover", "no writable primary", "no-primary")
    replica = bad("mysql replication", "mysql1", "not-a-replica")
    got = judge_incident(MYSQL, [replica], [error], [])
    assert not got.passed and "steps[0].mysql_failover no-primary" in got.reason


def test_a_wait_that_ran_out_on_the_declared_cause_is_explained() -> None:
    """A wait_recovered that timed out because of the incident's own cause is the incident."""
    wait = StepError(1, "wait_recovered", "not recovered", "not-recovered", (LIMITS_LOW,))
    got = judge_incident(NO_MINFDS, [], [wait], [])
    assert got.passed and got.reason.startswith("reproduced: limits [app1] nofile-below-minimum")


def test_a_wait_that_ran_out_on_something_else_is_not() -> None:
    other = bad("redis roles", "redis1", "zero-masters")
    wait = StepError(1, "wait_recovered", "not recovered", "not-recovered", (other,))
    got = judge_incident(NO_MINFDS, [LIMITS_LOW], [wait], [])
    assert not got.passed and "steps[1].wait_recovered not-recovered" in got.reason


def test_budget_attributed_to_the_wrong_host_does_not_reproduce() -> None:
    on_lb2 = BudgetViolation("http", "max_errors", "http: max_errors 0 exceeded: 3", ("lb2",))
    got = judge_incident(LB, [], [], [on_lb2])
    assert not got.passed
    assert got.reason.startswith(
        "incident failed, but not by its cause: expected http budget max_errors [lb1]; observed"
        " http max_errors [lb2]"
    )


def test_budget_on_another_measurement_does_not_reproduce() -> None:
    slow = BudgetViolation("http", "max_downtime", "http: max_downtime 0s exceeded", ("lb1",))
    assert not judge_incident(LB, [], [], [slow]).passed


def test_incident_that_did_not_reproduce() -> None:
    got = judge_incident(NO_MINFDS, [ok("limits", "app1"), ok("limits", "app2")], [], [])
    assert not got.passed
    assert got.reason == (
        "incident did not reproduce: every expected check held and every budget was met"
        " (expected limits [app1] nofile-below-minimum)"
    )


def test_only_part_of_the_declaration_is_not_enough() -> None:
    """Every signature must be seen: the step error alone is half the incident."""
    error = StepError(0, "mysql_failover", "ERROR 1470", "repl-password-too-long")
    got = judge_incident(MYSQL, [ok("mysql replication", "mysql1")], [error], [])
    assert not got.passed
    assert got.missing == ("mysql replication [mysql1] not-a-replica",)
    assert got.matched == ("steps[0].mysql_failover repl-password-too-long: ERROR 1470",)
