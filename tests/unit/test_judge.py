"""The judge (reboot_harness.judging.judge): every branch of a fixed and of an incident variant, on
hand-made observations. An incident is "reproduced" only by the causes it declares."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from reboot_harness.judging.judge import judge_fixed, judge_incident, settled
from reboot_harness.model.incidents import Incident, Signature
from reboot_harness.model.results import BudgetViolation, CheckResult, StepError


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


# -- fixed -----------------------------------------------------------------------------------------


def test_fixed_passes_when_everything_held() -> None:
    """Every check held, no step failed, no budget exceeded: passed, with the time it took."""
    got = judge_fixed([ok("limits", "app1")], [], [], recover_within=30, recovered_in=2.34)
    assert got.passed and got.reason == "recovered in 2.3s"


def test_fixed_fails_on_a_step_error_first() -> None:
    """A failed step is the reason before any budget or check."""
    error = StepError(2, "reboot", "host app1: boot failed", "host-unavailable")
    got = judge_fixed([LIMITS_LOW], [error], [HTTP_ON_LB1], recover_within=30, recovered_in=-1)
    assert got.passed is False
    assert got.reason == "step failed: steps[2].reboot host-unavailable: host app1: boot failed"


def test_fixed_fails_on_an_exceeded_budget() -> None:
    """An exceeded budget fails a fixed variant whose checks held."""
    got = judge_fixed([ok("nginx", "lb1")], [], [HTTP_ON_LB1], recover_within=30, recovered_in=1)
    assert got.passed is False and got.reason == "budget exceeded: http: max_errors 0 exceeded: 7"


def test_fixed_fails_when_not_recovered_naming_the_cause() -> None:
    """Not recovered: the reason quotes the failing check and its cause."""
    got = judge_fixed([LIMITS_LOW], [], [], recover_within=30, recovered_in=-1)
    assert got.passed is False
    assert got.reason == (
        "not recovered within 30s: limits [app1] nofile-below-minimum: app (pid 7) soft 1024"
        " < 10000"
    )


# -- incident --------------------------------------------------------------------------------------


def test_incident_reproduced_by_its_declared_cause() -> None:
    """The declared check failing by the declared cause, and nothing else: reproduced."""
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
    assert got.passed is False
    assert got.reason.startswith(
        "incident failed, but not by its cause: expected limits [app1] nofile-below-minimum;"
        " observed limits [app1] program-not-running: app not running"
    )


def test_incident_on_the_wrong_host_is_not_reproduced() -> None:
    """The declared cause on another host than the one declared is not the incident."""
    got = judge_incident(NO_MINFDS, [bad("limits", "app2", "nofile-below-minimum")], [], [])
    assert got.passed is False and got.reason.startswith("incident failed, but not by its cause")


def test_a_crashed_check_never_reproduces() -> None:
    """A crashed check shows no cause: never the incident, and named as what was seen."""
    crashed = CheckResult("limits", "*", False, "check runs", "check crashed: KeyError: pid",
                          causes=("check-crashed",))  # fmt: skip
    got = judge_incident(NO_MINFDS, [crashed], [], [])
    assert got.passed is False
    assert "not by its cause" in got.reason and "check-crashed" in got.reason


def test_a_host_that_is_simply_down_never_reproduces() -> None:
    """host-down, undeclared, says nothing of the incident's configuration."""
    down = bad("limits", "app1", "host-down", "host down (exited)")
    got = judge_incident(NO_MINFDS, [down], [], [])
    assert got.passed is False
    assert got.reason.startswith("incident failed, but not by its cause: expected limits [app1]")
    assert "limits [app1] host-down: host down (exited)" in got.reason


def test_host_down_counts_when_the_incident_declares_it() -> None:
    """An incident that declares host-down is reproduced by it."""
    declared = Incident(
        "dies", Path("d.yaml"), "s", (Signature("check", "processes", "host-down"),)
    )
    got = judge_incident(declared, [bad("processes", "graphite", "host-down")], [], [])
    assert got.passed


def test_expected_step_error_with_its_check_reproduces() -> None:
    """A step signature and a check signature both seen: reproduced, both quoted."""
    error = StepError(0, "mysql_failover", "ERROR 1470", "repl-password-too-long")
    replica = bad("mysql replication", "mysql1", "not-a-replica", "not a replica")
    got = judge_incident(MYSQL, [replica], [error], [])
    assert got.passed
    assert got.reason == (
        "reproduced: steps[0].mysql_failover repl-password-too-long: ERROR 1470;"
        " mysql replication [mysql1] not-a-replica: not a replica"
    )


def test_allowed_step_error_does_not_disqualify() -> None:
    """A step error the incident allows is no extra."""
    error = StepError(1, "dns_rotate", "answer still lb1, lb2", "rotation-not-served")
    got = judge_incident(LB, [], [error], [HTTP_ON_LB1])
    assert got.passed and got.reason == "reproduced: http: max_errors 0 exceeded: 7 [lb1]"


def test_unexpected_step_error_fails_the_incident() -> None:
    """A step error the incident does not declare fails it, named as an extra."""
    error = StepError(3, "reboot", "host lb1: boot failed", "host-unavailable")
    got = judge_incident(LB, [], [error], [HTTP_ON_LB1])
    assert got.passed is False
    assert got.reason == (
        "incident failed, but not by its cause alone: also steps[3].reboot host-unavailable:"
        " host lb1: boot failed (the incident declares http budget max_errors [lb1]; seen:"
        " http: max_errors 0 exceeded: 7 [lb1])"
    )
    assert got.extras == ("steps[3].reboot host-unavailable: host lb1: boot failed",)


def test_a_step_error_of_the_right_kind_but_wrong_cause_fails() -> None:
    """A step of the declared kind failing by another cause is an extra."""
    error = StepError(0, "mysql_failover", "no writable primary", "no-primary")
    replica = bad("mysql replication", "mysql1", "not-a-replica")
    got = judge_incident(MYSQL, [replica], [error], [])
    assert got.passed is False and "steps[0].mysql_failover no-primary" in got.reason


def test_a_wait_that_ran_out_on_the_declared_cause_is_explained() -> None:
    """A wait_recovered that timed out because of the incident's own cause is the incident."""
    wait = StepError(1, "wait_recovered", "not recovered", "not-recovered", (LIMITS_LOW,))
    got = judge_incident(NO_MINFDS, [], [wait], [])
    assert got.passed and got.reason.startswith("reproduced: limits [app1] nofile-below-minimum")


def test_a_wait_that_ran_out_on_something_else_is_not() -> None:
    """A wait that ran out on an undeclared check is an extra."""
    other = bad("redis roles", "redis1", "zero-masters")
    wait = StepError(1, "wait_recovered", "not recovered", "not-recovered", (other,))
    got = judge_incident(NO_MINFDS, [LIMITS_LOW], [wait], [])
    assert got.passed is False and "steps[1].wait_recovered not-recovered" in got.reason


def test_budget_attributed_to_the_wrong_host_does_not_reproduce() -> None:
    """A budget signature needs the violation attributed to its host."""
    on_lb2 = BudgetViolation("http", "max_errors", "http: max_errors 0 exceeded: 3", ("lb2",))
    got = judge_incident(LB, [], [], [on_lb2])
    assert got.passed is False
    assert got.reason.startswith(
        "incident failed, but not by its cause: expected http budget max_errors [lb1]; observed"
        " http max_errors [lb2]"
    )


def test_budget_on_another_measurement_does_not_reproduce() -> None:
    """A budget signature needs its measurement, not another of the same service."""
    slow = BudgetViolation("http", "max_downtime", "http: max_downtime 0s exceeded", ("lb1",))
    assert not judge_incident(LB, [], [], [slow]).passed


def test_incident_that_did_not_reproduce() -> None:
    """Nothing failed: the incident did not reproduce, and the reason says what was expected."""
    got = judge_incident(NO_MINFDS, [ok("limits", "app1"), ok("limits", "app2")], [], [])
    assert got.passed is False
    assert got.reason == (
        "incident did not reproduce: every expected check held and every budget was met"
        " (expected limits [app1] nofile-below-minimum)"
    )


def test_only_part_of_the_declaration_is_not_enough() -> None:
    """Every signature must be seen: the step error alone is half the incident."""
    error = StepError(0, "mysql_failover", "ERROR 1470", "repl-password-too-long")
    got = judge_incident(MYSQL, [ok("mysql replication", "mysql1")], [error], [])
    assert got.passed is False
    assert got.missing == ("mysql replication [mysql1] not-a-replica",)
    assert got.matched == ("steps[0].mysql_failover repl-password-too-long: ERROR 1470",)


# -- reproduced means the incident's cause, and nothing else broke ---------------------------------

NO_MINFDS_BOTH = Incident(
    "no-minfds",
    Path("no-minfds.yaml"),
    "the app keeps the boot default",
    (
        Signature("check", "limits", "nofile-below-minimum", "app1"),
        Signature("check", "limits", "nofile-below-minimum", "app2"),
    ),
)
LIMITS_LOW_2 = bad("limits", "app2", "nofile-below-minimum", "app (pid 9) soft 1024 < 10000")


def test_undeclared_failures_beside_the_cause_fail_the_incident_and_are_named() -> None:
    """The review's experiment: the declared limits failures plus failures of every other kind
    the incident does not declare. Not "reproduced"; every extra is named."""
    crashed = CheckResult("nginx", "*", False, "check runs", "check crashed: KeyError",
                          causes=("check-crashed",))  # fmt: skip
    checks = [
        LIMITS_LOW,
        LIMITS_LOW_2,
        bad("redis roles", "redis1", "zero-masters", "0 masters"),
        bad("mysql replication", "mysql1", "no-primary", "no writable server"),
        bad("directories", "graphite", "host-down", "host down (exited)"),
        crashed,
        bad("socket.io", "lb1", "no-echo", "no echo"),
    ]
    violations = [
        BudgetViolation("http", "max_errors", "http: max_errors 0 exceeded: 12", ("app1",)),
        BudgetViolation("mysql", "no_lost_writes", "mysql: no_lost_writes violated: 40", ("-",)),
    ]
    got = judge_incident(NO_MINFDS_BOTH, checks, [], violations)
    assert got.passed is False
    assert got.reason.startswith("incident failed, but not by its cause alone: also ")
    assert got.extras == (
        "redis roles [redis1] zero-masters: 0 masters",
        "mysql replication [mysql1] no-primary: no writable server",
        "directories [graphite] host-down: host down (exited)",
        "nginx [*] check-crashed: check crashed: KeyError",
        "socket.io [lb1] no-echo: no echo",
        "http max_errors [app1]: http: max_errors 0 exceeded: 12",
        "mysql no_lost_writes [-]: mysql: no_lost_writes violated: 40",
    )
    assert "and 4 more" in got.reason
    assert got.matched and not got.missing


def test_a_lost_write_alone_disqualifies_an_incident_that_does_not_declare_it() -> None:
    """Lost writes the incident does not declare are an extra."""
    lost = BudgetViolation("redis", "no_lost_writes", "redis: 3 lost", ("app1",))
    got = judge_incident(NO_MINFDS, [LIMITS_LOW], [], [lost])
    assert got.passed is False
    assert got.extras == ("redis no_lost_writes [app1]: redis: 3 lost",)


def test_a_failure_the_incident_allows_does_not_disqualify() -> None:
    """allows takes check and budget entries too: failures the mechanism may bring besides."""
    incident = Incident(
        "no-minfds", Path("n.yaml"), "s", NO_MINFDS.reproduced_by,
        allows=(Signature("check", "socket.io", "no-echo", "lb1"),
                Signature("budget", "http", "max_errors", "app1")),
    )  # fmt: skip
    http = BudgetViolation("http", "max_errors", "http: 3 errors", ("app1",))
    got = judge_incident(incident, [LIMITS_LOW, bad("socket.io", "lb1", "no-echo")], [], [http])
    assert got.passed and got.extras == ()
    # ... but only on the host it names
    on_lb2 = bad("socket.io", "lb2", "no-echo")
    assert judge_incident(incident, [LIMITS_LOW, on_lb2], [], []).extras == (
        "socket.io [lb2] no-echo: broken",
    )


def test_a_result_with_one_declared_and_one_undeclared_cause_is_an_extra() -> None:
    """A result is declared only when every one of its causes is."""
    both = CheckResult("limits", "app1", False, "e", "low; gone",
                       causes=("nofile-below-minimum", "program-not-running"))  # fmt: skip
    got = judge_incident(NO_MINFDS, [both], [], [])
    assert got.passed is False and got.extras == ("limits [app1] nofile-below-minimum: low; gone",)


def test_a_budget_charged_to_an_undeclared_host_as_well_is_an_extra() -> None:
    """A budget is declared only when every host it is charged to is."""
    both = BudgetViolation("http", "max_errors", "http: 9 errors", ("lb1", "lb2"))
    got = judge_incident(LB, [], [], [both])
    assert got.passed is False
    assert got.matched and got.extras == ("http max_errors [lb1, lb2]: http: 9 errors",)


def test_a_wait_that_ran_out_on_the_cause_and_something_else_names_the_other() -> None:
    """A wait that ran out is an extra for each undeclared check it kept."""
    other = bad("redis roles", "redis1", "zero-masters", "0 masters")
    wait = StepError(1, "wait_recovered", "not recovered", "not-recovered", (LIMITS_LOW, other))
    got = judge_incident(NO_MINFDS, [], [wait], [])
    assert got.passed is False
    assert got.extras == (
        "steps[1].wait_recovered not-recovered: not recovered — redis roles [redis1]"
        " zero-masters: 0 masters",
    )


# -- partial reproduction: a declaration covers the hosts the plan touched -------------------------


def test_a_plan_that_touches_one_app_reproduces_by_that_app_alone() -> None:
    """Power-cycling only app1 on no-minfds shows exactly the cause on app1: reproduced, with
    app2's signature said to be out of the plan's reach — never "not by its cause"."""
    got = judge_incident(NO_MINFDS_BOTH, [LIMITS_LOW, ok("limits", "app2")], [], [],
                         touched={"app1"})  # fmt: skip
    assert got.passed
    assert got.reason == (
        "reproduced: limits [app1] nofile-below-minimum: app (pid 7) soft 1024 < 10000;"
        " not in this plan's reach: limits [app2] nofile-below-minimum (app2 not touched by"
        " this plan)"
    )
    assert got.missing == ()
    assert got.out_of_plan == (
        "limits [app2] nofile-below-minimum (app2 not touched by this plan)",
    )


def test_a_touched_host_that_did_not_show_the_cause_is_partial_not_wrong() -> None:
    """A touched host without the cause: reproduced only in part, never 'not by its cause'."""
    got = judge_incident(NO_MINFDS_BOTH, [LIMITS_LOW, ok("limits", "app2")], [], [],
                         touched={"app1", "app2"})  # fmt: skip
    assert got.passed is False
    assert "not by its cause" not in got.reason
    assert got.reason == (
        "incident reproduced only in part: seen limits [app1] nofile-below-minimum: app (pid 7)"
        " soft 1024 < 10000; not seen limits [app2] nofile-below-minimum"
    )


def test_without_a_touched_set_every_signature_is_in_reach() -> None:
    """With no touched hosts given, every signature must be seen."""
    got = judge_incident(NO_MINFDS_BOTH, [LIMITS_LOW], [], [])
    assert got.passed is False and got.missing == ("limits [app2] nofile-below-minimum",)


def test_nothing_seen_on_an_untouched_host_is_not_reproduced() -> None:
    """Out of reach is never 'seen': at least one signature must be observed."""
    got = judge_incident(NO_MINFDS, [ok("limits", "app1")], [], [], touched={"lb1"})
    assert got.passed is False
    assert got.reason == (
        "incident did not reproduce: every expected check held and every budget was met"
        " (expected limits [app1] nofile-below-minimum)"
    )


def test_a_signature_seen_on_an_untouched_host_still_counts() -> None:
    """A signature seen is matched even on a host the plan did not touch."""
    got = judge_incident(NO_MINFDS_BOTH, [LIMITS_LOW, LIMITS_LOW_2], [], [], touched={"app1"})
    assert got.passed and got.out_of_plan == ()


# -- each part of a signature matters (mutants of judge.py that survived before) -------------------


def test_a_step_error_of_the_declared_kind_but_another_cause_is_not_the_step_signature() -> None:
    """Even when the other cause is allowed (so it is no extra), it does not show the step
    signature: the cause of a step signature is compared."""
    incident = Incident("m", Path("m.yaml"), "s", MYSQL.reproduced_by,
                        allows=(Signature("step", "mysql_failover", "no-primary"),))  # fmt: skip
    error = StepError(0, "mysql_failover", "no writable primary", "no-primary")
    got = judge_incident(incident, [bad("mysql replication", "mysql1", "not-a-replica")], [error],
                         [])  # fmt: skip
    assert got.passed is False
    assert got.missing == ("step mysql_failover repl-password-too-long",)


def test_the_check_alone_never_shows_a_step_signature() -> None:
    """mysql-long-repl-password is not reproduced by its not-a-replica check without the
    failover's error."""
    got = judge_incident(MYSQL, [bad("mysql replication", "mysql1", "not-a-replica")], [], [])
    assert got.passed is False
    assert got.missing == ("step mysql_failover repl-password-too-long",)
    assert got.reason.startswith("incident reproduced only in part")


def test_a_budget_of_another_service_does_not_show_a_budget_signature() -> None:
    """A budget signature is shown only by a violation of its own service."""
    incident = Incident("lb", Path("lb.yaml"), "s", LB.reproduced_by,
                        allows=(Signature("budget", "socketio", "max_errors", "lb1"),))  # fmt: skip
    sio = BudgetViolation("socketio", "max_errors", "socketio: 4 errors", ("lb1",))
    got = judge_incident(incident, [], [], [sio])
    assert got.passed is False and got.missing == ("http budget max_errors [lb1]",)
    assert got.reason.startswith("incident failed, but not by its cause: expected http budget")


def test_a_check_of_another_name_does_not_show_a_check_signature() -> None:
    """A check signature is shown only by a result of its own check."""
    allowed = (Signature("check", "processes", "nofile-below-minimum"),)
    incident = Incident("n", Path("n.yaml"), "s", NO_MINFDS.reproduced_by, allows=allowed)
    got = judge_incident(incident, [bad("processes", "app1", "nofile-below-minimum")], [], [])
    assert got.passed is False and got.missing == ("limits [app1] nofile-below-minimum",)


def test_a_fixed_variant_whose_checks_never_held_says_so() -> None:
    """No failing check but no recovery either: 'the checks never held'."""
    got = judge_fixed([], [], [], recover_within=30, recovered_in=-1)
    assert got.passed is False and got.reason == "not recovered within 30s: the checks never held"


def test_a_passing_result_never_shows_a_signature() -> None:
    """A passing result shows no signature, whatever causes it carries."""
    passing = CheckResult("limits", "app1", True, "e", "fine", causes=("nofile-below-minimum",))
    got = judge_incident(NO_MINFDS, [passing], [], [])
    assert got.passed is False and got.missing


# -- a fixed variant at its edges ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("took", "reason"), [(0.0, "recovered in 0.0s"), (0.5, "recovered in 0.5s")]
)
def test_fixed_recovery_within_a_second_passes(took: float, reason: str) -> None:
    """A recovery measured at 0 s or 0.5 s is a recovery: only a negative time says never."""
    got = judge_fixed([ok("limits", "app1")], [], [], recover_within=30, recovered_in=took)
    assert got.passed is True and got.reason == reason


def test_fixed_reasons_quote_the_first_budgets_and_checks_joined() -> None:
    """A fixed reason quotes the first three budgets exceeded or the first four failing checks,
    each joined by '; '."""
    breaches = [
        BudgetViolation("http", m, f"http: {m} exceeded", ("lb1",))
        for m in ("max_errors", "max_downtime", "max_reconnect", "no_lost_writes")
    ]
    got = judge_fixed([], [], breaches, recover_within=30, recovered_in=1)
    assert got.reason == (
        "budget exceeded: http: max_errors exceeded; http: max_downtime exceeded;"
        " http: max_reconnect exceeded"
    )
    low = [bad("limits", f"app{i}", "nofile-below-minimum", "low") for i in range(1, 6)]
    got = judge_fixed(low, [], [], recover_within=30, recovered_in=-1)
    assert got.reason == "not recovered within 30s: " + "; ".join(
        f"limits [app{i}] nofile-below-minimum: low" for i in range(1, 5)
    )


# -- what a declaration covers, exactly ------------------------------------------------------------


def test_a_cause_declared_for_another_check_does_not_cover_this_one() -> None:
    """Allowing processes to fail with host-down does not allow directories to."""
    incident = Incident("n", Path("n.yaml"), "s", NO_MINFDS.reproduced_by,
                        allows=(Signature("check", "processes", "host-down"),))  # fmt: skip
    down = bad("directories", "graphite", "host-down", "host down (exited)")
    checks = [LIMITS_LOW, bad("processes", "graphite", "host-down"), down]
    got = judge_incident(incident, checks, [], [])
    assert got.passed is False
    assert got.extras == ("directories [graphite] host-down: host down (exited)",)


def test_a_budget_of_another_service_or_measurement_on_the_declared_host_is_an_extra() -> None:
    """lb-no-dns-rotation declares http max_errors on lb1: neither socketio max_errors nor http
    max_downtime on lb1 is it."""
    sio = BudgetViolation("socketio", "max_errors", "socketio: 4 errors", ("lb1",))
    slow = BudgetViolation("http", "max_downtime", "http: 3s down", ("lb1",))
    got = judge_incident(LB, [], [], [HTTP_ON_LB1, sio, slow])
    assert got.passed is False
    assert got.extras == (
        "socketio max_errors [lb1]: socketio: 4 errors",
        "http max_downtime [lb1]: http: 3s down",
    )


def test_every_step_error_is_judged_on_its_own_whatever_came_before() -> None:
    """Undeclared step errors before and after a declared one, after a wait that ran out and
    two in a row: each is named, in order."""
    allowed = (Signature("step", "dns_rotate", "rotation-not-served"),)
    incident = Incident("n", Path("n.yaml"), "s", NO_MINFDS.reproduced_by, allows=allowed)
    other = bad("redis roles", "redis1", "zero-masters", "0 masters")
    errors = [
        StepError(0, "reboot", "host app2: boot failed", "host-unavailable"),
        StepError(1, "dns_rotate", "answer still lb1", "rotation-not-served"),
        StepError(2, "kill", "no process", "signal-failed"),
        StepError(3, "wait_recovered", "not recovered", "not-recovered", (LIMITS_LOW, other)),
        StepError(4, "reboot", "host app1: boot failed", "host-unavailable"),
        StepError(5, "sentinel_failover", "refused", "failover-refused"),
    ]
    got = judge_incident(incident, [LIMITS_LOW], errors, [])
    assert got.passed is False
    assert got.extras == (
        "steps[0].reboot host-unavailable: host app2: boot failed",
        "steps[2].kill signal-failed: no process",
        "steps[3].wait_recovered not-recovered: not recovered — redis roles [redis1]"
        " zero-masters: 0 masters",
        "steps[4].reboot host-unavailable: host app1: boot failed",
        "steps[5].sentinel_failover failover-refused: refused",
    )


def test_a_failed_step_that_kept_checks_is_not_a_wait_that_ran_out() -> None:
    """Only a wait that ran out is explained by its declared checks; another failed step that
    kept the incident's own failing check is still an extra."""
    error = StepError(1, "sentinel_failover", "sentinels disagree", "failover-incomplete",
                      (LIMITS_LOW,))  # fmt: skip
    got = judge_incident(NO_MINFDS, [LIMITS_LOW], [error], [])
    assert got.passed is False
    assert got.extras == ("steps[1].sentinel_failover failover-incomplete: sentinels disagree",)


# -- reasons that list several things --------------------------------------------------------------

NO_MINFDS_THREE = Incident(
    "no-minfds",
    Path("no-minfds.yaml"),
    "the app keeps the boot default",
    tuple(Signature("check", "limits", "nofile-below-minimum", f"app{i}") for i in (1, 2, 3)),
)
SEEN_BOTH = (
    "limits [app1] nofile-below-minimum: app (pid 7) soft 1024 < 10000;"
    " limits [app2] nofile-below-minimum: app (pid 9) soft 1024 < 10000"
)


def test_an_extras_reason_quotes_three_and_counts_the_rest() -> None:
    """Extras and what was seen are joined by '; '; 'and N more' appears only past three."""
    redis = [bad("redis roles", f"redis{i}", "zero-masters", "0 masters") for i in (1, 2, 3, 4)]
    got = judge_incident(NO_MINFDS_BOTH, [LIMITS_LOW, LIMITS_LOW_2, *redis[:3]], [], [])
    assert got.passed is False
    assert got.reason == (
        "incident failed, but not by its cause alone: also redis roles [redis1] zero-masters:"
        " 0 masters; redis roles [redis2] zero-masters: 0 masters; redis roles [redis3]"
        " zero-masters: 0 masters (the incident declares limits [app1] nofile-below-minimum and"
        f" limits [app2] nofile-below-minimum; seen: {SEEN_BOTH})"
    )
    got = judge_incident(NO_MINFDS_BOTH, [LIMITS_LOW, LIMITS_LOW_2, *redis], [], [])
    assert "redis3] zero-masters: 0 masters and 1 more (the incident declares" in got.reason


def test_a_partial_reason_names_everything_seen_and_not_seen() -> None:
    """Seen signatures joined by '; ', those not seen by ', '."""
    incident = Incident("pid", Path("pid.yaml"), "s", (
        *NO_MINFDS_BOTH.reproduced_by,
        Signature("check", "directories", "pid-dir-missing", "app1"),
        Signature("check", "directories", "pid-dir-missing", "app2"),
    ))  # fmt: skip
    got = judge_incident(incident, [LIMITS_LOW, LIMITS_LOW_2], [], [])
    assert got.passed is False
    assert got.reason == (
        f"incident reproduced only in part: seen {SEEN_BOTH}; not seen directories [app1]"
        " pid-dir-missing, directories [app2] pid-dir-missing"
    )


def test_signatures_out_of_the_plans_reach_are_all_listed() -> None:
    """Every signature out of reach is named in a reproduced reason, joined by ', '."""
    got = judge_incident(NO_MINFDS_THREE, [LIMITS_LOW], [], [], touched={"app1"})
    assert got.passed is True
    assert got.reason == (
        "reproduced: limits [app1] nofile-below-minimum: app (pid 7) soft 1024 < 10000;"
        " not in this plan's reach: limits [app2] nofile-below-minimum (app2 not touched by"
        " this plan), limits [app3] nofile-below-minimum (app3 not touched by this plan)"
    )


def test_a_wrong_cause_reason_expects_what_is_in_reach_and_quotes_three_failures() -> None:
    """'expected' names the signatures in the plan's reach (not app3's), ', '-joined; the
    failures observed are the first three, '; '-joined."""
    gone = [bad("limits", f"app{i}", "program-not-running", "gone") for i in (1, 2, 3, 4)]
    got = judge_incident(NO_MINFDS_THREE, gone, [], [], touched={"app1", "app2"})
    assert got.passed is False
    assert got.reason == (
        "incident failed, but not by its cause: expected limits [app1] nofile-below-minimum,"
        " limits [app2] nofile-below-minimum; observed limits [app1] program-not-running: gone;"
        " limits [app2] program-not-running: gone; limits [app3] program-not-running: gone"
    )


# -- settled: an incident whose cause lasts may end its final wait -------------------------------

LASTING = dataclasses.replace(
    NO_MINFDS,
    reproduced_by=(
        Signature("check", "limits", "nofile-below-minimum", "app1"),
        Signature("check", "limits", "nofile-below-minimum", "app2"),
    ),
    allows=(Signature("check", "processes", "daemon-not-running", "app2"),),
    lasts=True,
)
LOW_APP2 = bad("limits", "app2", "nofile-below-minimum")


def test_a_lasting_cause_shown_alone_has_settled() -> None:
    """Every check entry in reach seen, every failure declared (allows included): settled."""
    seen = [LIMITS_LOW, LOW_APP2, ok("processes", "app1"), bad("processes", "app2",
            "daemon-not-running")]  # fmt: skip
    assert settled(LASTING, seen, touched={"app1", "app2"})


def test_an_incident_that_does_not_say_its_cause_lasts_never_settles() -> None:
    assert not settled(dataclasses.replace(LASTING, lasts=False), [LIMITS_LOW, LOW_APP2])


def test_a_cause_not_yet_seen_on_a_touched_host_has_not_settled() -> None:
    """app2 is still booting (host-down, undeclared) or holds for now: not settled — the
    whole wait would see more."""
    booting = bad("limits", "app2", "host-down")
    assert not settled(LASTING, [LIMITS_LOW, booting], touched={"app1", "app2"})
    assert not settled(LASTING, [LIMITS_LOW, ok("limits", "app2")], touched={"app1", "app2"})


def test_an_undeclared_failure_beside_the_cause_has_not_settled() -> None:
    """The cause alone settles; with another failure the wait goes on (it may heal, and the
    verdict must see what it became)."""
    other = bad("redis roles", "redis1", "zero-masters")
    assert not settled(LASTING, [LIMITS_LOW, LOW_APP2, other], touched={"app1", "app2"})


def test_a_host_the_plan_never_touches_need_not_show_the_cause_to_settle() -> None:
    """A plan that reboots app1 alone settles on app1's cause (app2 is out of its reach)."""
    assert settled(LASTING, [LIMITS_LOW, ok("limits", "app2")], touched={"app1"})
    assert not settled(LASTING, [ok("limits", "app1"), ok("limits", "app2")], touched={"app1"})


def test_an_incident_shown_by_a_step_alone_never_settles() -> None:
    """A lasting incident whose checks in reach show nothing: nothing to settle on."""
    assert not settled(dataclasses.replace(MYSQL, lasts=True), [ok("mysql replication",
                       "mysql1")], touched={"mysql2"})  # fmt: skip
