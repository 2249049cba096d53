"""No vacuous pass: a check that names fewer subjects than the topology asks it to cover, that
has nothing to cover at all, or that passes on a subject whose host none of its reads reached,
fails with cause `not-exercised`; a crashed check is `check-crashed`, never a pass. Every cause
a check reports is one of its declared codes, and every failing result carries one."""

from __future__ import annotations

import dataclasses
from types import MappingProxyType
from typing import Any

import pytest

from reboot_harness.checks import shipped
from reboot_harness.checks.api import Context, Problem, check
from reboot_harness.checks.context import Results
from reboot_harness.checks.run import resolve, run_checks
from reboot_harness.errors import UsageError
from reboot_harness.model.checks import COMMON_CAUSES, PREFLIGHT, SHIPPED
from reboot_harness.model.hostview import ExecResult
from reboot_harness.model.results import CheckResult
from reboot_harness.model.steps import STEP_ERROR_CAUSES, STEP_UNOBSERVED_CAUSES
from reboot_harness.model.topology import Topology
from tests.fakestack import NOT_RUNNING, TIMEOUT, FakeStack

CHECKS = tuple(shipped.kinds().values())


def _register(monkeypatch: pytest.MonkeyPatch, fn: Any) -> None:
    """The shipped nginx check, running ``fn`` (subjects: every lb->app pair)."""
    subjects = lambda topo: tuple(f"{lb}->{app}" for lb in topo.lbs for app in topo.apps)  # noqa: E731
    table = dict(shipped.checks())
    table["nginx"] = dataclasses.replace(table["nginx"], run=fn, subjects=subjects)
    monkeypatch.setattr(shipped, "checks", lambda: MappingProxyType(table))


def test_a_check_that_reaches_only_some_subjects_fails_not_exercised(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Every answer came from app1: the LB's path to app2 was never exercised, so the check
    fails although each result it gave was fine."""

    def only_app1(ctx: Context) -> list[CheckResult]:
        for lb in ("lb1", "lb2"):
            ctx.exec(lb, ["true"])
        return [ctx.result(lb, "e", [], "fine", subjects=(f"{lb}->app1",)) for lb in ("lb1", "lb2")]

    _register(monkeypatch, only_app1)
    results = run_checks(FakeStack(Topology()), ["nginx"])  # type: ignore[arg-type]
    bad = [r for r in results if not r.ok]
    assert [(r.host, r.causes) for r in bad] == [("*", ("not-exercised",))]
    assert bad[0].observed == "not exercised: lb1->app2, lb2->app2"
    assert bad[0].subjects == ("lb1->app2", "lb2->app2")


def test_a_failing_result_names_what_it_tried(monkeypatch: pytest.MonkeyPatch) -> None:
    """A host that is down is reported as such (host-down), not again as not exercised."""

    def lb2_down(ctx: Context) -> list[CheckResult]:
        ctx.exec("lb1", ["true"])
        return [
            ctx.result("lb1", "e", [], "fine", subjects=("lb1->app1", "lb1->app2")),
            ctx.fail("lb2", "e", "host down", cause="host-down",
                     subjects=("lb2->app1", "lb2->app2")),
        ]  # fmt: skip

    _register(monkeypatch, lb2_down)
    results = run_checks(FakeStack(Topology()), ["nginx"])  # type: ignore[arg-type]
    assert [(r.host, r.causes) for r in results if not r.ok] == [("lb2", ("host-down",))]


def test_a_topology_without_a_checks_roles_cannot_select_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Empty roles: the shipped checks that need them are not run by default, and selecting
    one is refused naming the role (never a silent pass)."""
    _register(monkeypatch, lambda ctx: [])
    empty = dataclasses.replace(Topology(), lbs=(), apps=())
    with pytest.raises(UsageError, match="'nginx' cannot run on this topology: it needs a host"
                       " in lbs and apps"):  # fmt: skip
        run_checks(FakeStack(empty), ["nginx"])  # type: ignore[arg-type]
    assert "nginx" not in resolve(None, empty) and "socket.io" not in resolve(None, empty)
    assert "limits" not in resolve(None, empty) and "redis roles" in resolve(None, empty)


NOTHING = check("nothing here", causes={"never": "never happens"}, subjects=())(lambda ctx: [])


def test_a_check_whose_subjects_are_empty_fails_not_exercised() -> None:
    """A check of your own with nothing to look at on this topology (no subjects) looked at
    nothing — that is no pass."""
    topo = dataclasses.replace(Topology(), python_checks=("tests.unit.test_coverage:NOTHING",))
    results = run_checks(FakeStack(topo), ["nothing here"])  # type: ignore[arg-type]
    assert [(r.check, r.ok, r.causes, r.observed) for r in results] == [
        ("nothing here", False, ("not-exercised",), "the topology names none")
    ]


def test_a_crashing_check_is_check_crashed(monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(ctx: Context) -> list[CheckResult]:
        raise KeyError("pid")

    _register(monkeypatch, boom)
    results = run_checks(FakeStack(Topology()), ["nginx"])  # type: ignore[arg-type]
    assert results[0].causes == ("check-crashed",) and not results[0].ok
    assert results[0].observed == "check crashed: KeyError: 'pid'"


def test_an_engine_error_escaping_a_check_is_host_unreadable_not_a_crash(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The engine failing a read (StackError) is something the check could not see, not a bug
    in it: `host-unreadable`, which a verdict reads as could-not-see."""
    from reboot_harness.errors import StackError

    def blind(ctx: Context) -> list[CheckResult]:
        raise StackError("host lb1: exec nginx -T failed: Read timed out")

    _register(monkeypatch, blind)
    results = run_checks(FakeStack(Topology()), ["nginx"])  # type: ignore[arg-type]
    assert (results[0].host, results[0].causes, results[0].ok) == ("*", ("host-unreadable",), False)
    assert results[0].observed.startswith("the engine failed a read: StackError: host lb1"), results


def test_a_cause_a_check_did_not_declare_is_a_bug() -> None:
    report = Results(shipped.checks()["limits"])
    with pytest.raises(ValueError, match="check 'limits': unknown cause 'zero-masters'"):
        report.result("app1", "e", [Problem("zero-masters", "x")], "ok", subjects=("a",))


def test_every_shipped_check_is_declared_by_the_module_its_row_names() -> None:
    """The one table of shipped checks (reboot_harness.model.checks.SHIPPED) names, for each,
    the module that declares it with the public check API; each declares causes of its own,
    none of them a common one (the common ones are every check's)."""
    found = shipped.checks()
    assert list(found) == list(SHIPPED)
    for name, made in found.items():
        assert made.run.__module__ == SHIPPED[name].partition(":")[0], name
        assert made.causes and made.roles and made.description, name
        assert set(COMMON_CAUSES) <= set(shipped.causes_of(name))
        assert not set(made.causes) & set(COMMON_CAUSES)


def test_the_concepts_page_names_every_cause_code() -> None:
    """docs/concepts.md's "What PASS and reproduced mean" lists every cause a result or step can
    carry."""
    from pathlib import Path

    from reboot_harness.model.steps import STEP_ERROR_CAUSES

    page = (Path(__file__).resolve().parents[2] / "docs" / "concepts.md").read_text()
    section = page.split("\n## What PASS and", 1)[1].split("\n## ", 1)[0]
    every = {c for k in (*CHECKS, PREFLIGHT) for c in k.causes}
    every |= set(COMMON_CAUSES) | set(STEP_ERROR_CAUSES)
    missing = sorted(c for c in every if f"`{c}`" not in section)
    assert not missing, missing


def test_which_causes_say_the_check_could_not_see_is_in_the_table() -> None:
    """Each check's could-not-see codes are among its causes and every common cause is one; the
    steps' are among the step causes; and no shipped incident is reproduced by one of them (an
    incident's declared cause is a mechanism, seen in an answer)."""
    from reboot_harness.scenarios import find

    for kind in (*CHECKS, PREFLIGHT):
        assert kind.unobserved <= set(kind.causes), kind.name
        assert {kind.kind_of(c) for c in COMMON_CAUSES} == {"unobserved"}
        assert kind.mechanisms and all(kind.kind_of(c) == "mechanism" for c in kind.mechanisms)
    assert set(STEP_ERROR_CAUSES) > STEP_UNOBSERVED_CAUSES
    assert {"rotation-not-served", "zero-masters", "pid-dir-missing"}.isdisjoint(
        STEP_UNOBSERVED_CAUSES | {c for k in CHECKS for c in k.unobserved}
    )
    kinds = {k.name: k for k in CHECKS}
    for name in find.known_incidents():
        for sig in find.incident(name).reproduced_by:
            if sig.kind == "check":
                assert kinds[sig.name].kind_of(sig.cause) == "mechanism", (name, sig)
            elif sig.kind == "step":
                assert sig.cause not in STEP_UNOBSERVED_CAUSES, (name, sig)


# -- a pass counts where the check's reads reached -----------------------------------------------
def _untouching(ctx: Any) -> list[CheckResult]:
    """A check of your own that says every subject is fine without looking at anything."""
    return [ctx.ok(host, "fine", "fine") for host in ctx.subjects]


UNTOUCHING = check("says ok", causes={"broken": "it broke"}, subjects=("app1", "app2"))(_untouching)


def _asking(ctx: Any) -> list[CheckResult]:
    """The same, after asking each host (as a real check does)."""
    return [
        ctx.ok(h, "fine", "fine") if ctx.exec(h, ["true"]).ok else
        ctx.fail(h, "fine", "no answer", cause="host-unreadable")
        for h in ctx.subjects
    ]  # fmt: skip


ASKING = check("asks", causes={"broken": "it broke"}, subjects=("app1", "app2"))(_asking)


def _own(*refs: str) -> Topology:
    return dataclasses.replace(Topology(), python_checks=tuple(f"{__name__}:{r}" for r in refs))


@pytest.mark.parametrize("status", ["running", "exited"])
def test_a_check_that_says_ok_without_looking_is_not_exercised(status: str) -> None:
    """A Python check that returns ctx.ok for every subject, touching nothing, fails
    `not-exercised` on each — every host running or every host stopped alike."""
    topo = _own("UNTOUCHING")
    with FakeStack(topo, statuses=dict.fromkeys(topo.hosts, status)) as stack:
        results = run_checks(stack, ["says ok"])  # type: ignore[arg-type]
    assert [(r.host, r.ok, r.causes) for r in results] == [
        ("app1", False, ("not-exercised",)),
        ("app2", False, ("not-exercised",)),
    ]
    assert results[0].observed == "passed without reaching app1: fine"


def test_a_check_passes_where_its_reads_got_an_answer() -> None:
    """The same check after asking each host passes where the host answered and fails where
    it timed out (its own could-not-see cause), or stopped after the status read (125)."""
    with FakeStack(_own("ASKING")) as stack:
        assert [r.ok for r in run_checks(stack, ["asks"])] == [True, True]  # type: ignore[arg-type]
        stack.on("app2", "", NOT_RUNNING)
        results = run_checks(stack, ["asks"])  # type: ignore[arg-type]
    assert [(r.host, r.ok, r.causes) for r in results] == [
        ("app1", True, ()),
        ("app2", False, ("host-unreadable",)),
    ]


def test_a_pass_about_a_host_the_check_never_reached_is_not_exercised(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A shipped-style check that reached lb1 only (lb2 timed out) but reported both fine: lb2's
    pass becomes `not-exercised`, lb1's stands."""

    def both_fine(ctx: Context) -> list[CheckResult]:
        for lb in ("lb1", "lb2"):
            ctx.exec(lb, ["true"])
        return [
            ctx.result(lb, "e", [], "fine", subjects=(f"{lb}->app1", f"{lb}->app2"))
            for lb in ("lb1", "lb2")
        ]

    _register(monkeypatch, both_fine)
    with FakeStack(answer=ExecResult(0, "", "")) as stack:
        stack.on("lb2", "", TIMEOUT)
        results = run_checks(stack, ["nginx"])  # type: ignore[arg-type]
    assert [(r.host, r.ok, r.causes) for r in results] == [
        ("lb1", True, ()),
        ("lb2", False, ("not-exercised",)),
    ]


# -- every failure carries a cause ---------------------------------------------------------------
def _causeless(ctx: Any) -> list[CheckResult]:
    for host in ctx.subjects:
        ctx.exec(host, ["true"])
    return [CheckResult("no cause", h, False, "fine", "broken") for h in ctx.subjects]


CAUSELESS = check("no cause", causes={"broken": "it broke"}, subjects=("app1",))(_causeless)


def test_a_python_check_failing_without_a_cause_is_refused_naming_it() -> None:
    """A failure without a cause code is no observation anyone can act on: the check's results
    are refused, in one line naming the check (`check-crashed`)."""
    with FakeStack(_own("CAUSELESS")) as stack:
        results = run_checks(stack, ["no cause"])  # type: ignore[arg-type]
    assert (results[0].host, results[0].causes) == ("*", ("check-crashed",))
    assert results[0].observed == (
        "check crashed: ValueError: check 'no cause' returned a failure on app1 without a cause;"
        " fail with ctx.fail(..., cause=...)"
    )


def test_preflight_failures_carry_a_cause() -> None:
    """A password too long for CHANGE MASTER is `repl-password-too-long`; a host whose
    environment holds no password is `not-exercised` (nothing was linted), never a pass."""
    from reboot_harness.checks.preflight import preflight

    env = {"mysql1": {"MYSQL_REPL_PASSWORD": "x" * 97}, "mysql2": {}}
    with FakeStack(env=env) as stack:
        results = preflight(stack)  # type: ignore[arg-type]
    assert [(r.host, r.ok, r.causes) for r in results] == [
        ("mysql1", False, ("repl-password-too-long",)),
        ("mysql2", False, ("not-exercised",)),
    ]
    assert all(set(r.causes) <= {*PREFLIGHT.causes, *COMMON_CAUSES} for r in results)
    fine = {h: {"MYSQL_REPL_PASSWORD": "x" * 96} for h in ("mysql1", "mysql2")}
    with FakeStack(env=fine) as stack:
        assert [(r.ok, r.causes) for r in preflight(stack)] == [(True, ())] * 2  # type: ignore[arg-type]
