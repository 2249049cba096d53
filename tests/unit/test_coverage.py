"""No vacuous pass: a check that names fewer subjects than the topology asks it to cover, or that
has nothing to cover at all, fails with cause `not-exercised`; a crashed check is
`check-crashed`, never a pass. Every cause a check reports is one of its declared codes."""

from __future__ import annotations

import dataclasses
from types import SimpleNamespace
from typing import Any

import pytest

from harness.checkapi import check
from harness.checks import base, resolve, run_checks
from harness.checks.base import CheckContext, Problem, failure, judged
from harness.errors import UsageError
from harness.model import CHECKS, COMMON_CAUSES, CheckResult, Topology, causes_of


class _FakeStack:
    def __init__(self, topology: Topology) -> None:
        self.name = "fake"
        self.topology = topology
        self.state = SimpleNamespace(last_check=0.0, rotation=topology.lbs)

    def statuses(self) -> dict[str, str]:
        return {h: "running" for h in self.topology.hosts}


def _register(monkeypatch: pytest.MonkeyPatch, fn: Any) -> None:
    subjects = lambda topo: tuple(f"{lb}->{app}" for lb in topo.lbs for app in topo.apps)  # noqa: E731
    monkeypatch.setitem(base.REGISTRY, "nginx", base.Registered(fn, subjects))


def test_a_check_that_reaches_only_some_subjects_fails_not_exercised(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Every answer came from app1: the LB's path to app2 was never exercised, so the check
    fails although each result it gave was fine."""

    def only_app1(ctx: CheckContext) -> list[CheckResult]:
        return [
            judged("nginx", lb, "e", [], "fine", subjects=(f"{lb}->app1",)) for lb in ("lb1", "lb2")
        ]

    _register(monkeypatch, only_app1)
    results = run_checks(_FakeStack(Topology()), ["nginx"])  # type: ignore[arg-type]
    bad = [r for r in results if not r.ok]
    assert [(r.host, r.causes) for r in bad] == [("*", ("not-exercised",))]
    assert bad[0].observed == "not exercised: lb1->app2, lb2->app2"
    assert bad[0].subjects == ("lb1->app2", "lb2->app2")


def test_a_failing_result_names_what_it_tried(monkeypatch: pytest.MonkeyPatch) -> None:
    """A host that is down is reported as such (host-down), not again as not exercised."""

    def lb2_down(ctx: CheckContext) -> list[CheckResult]:
        return [
            judged("nginx", "lb1", "e", [], "fine", subjects=("lb1->app1", "lb1->app2")),
            failure("nginx", "lb2", "e", "host down", cause="host-down",
                    subjects=("lb2->app1", "lb2->app2")),
        ]  # fmt: skip

    _register(monkeypatch, lb2_down)
    results = run_checks(_FakeStack(Topology()), ["nginx"])  # type: ignore[arg-type]
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
        run_checks(_FakeStack(empty), ["nginx"])  # type: ignore[arg-type]
    assert "nginx" not in resolve(None, empty) and "socket.io" not in resolve(None, empty)
    assert "limits" not in resolve(None, empty) and "redis roles" in resolve(None, empty)


NOTHING = check("nothing here", causes={"never": "never happens"}, subjects=())(lambda ctx: [])


def test_a_check_whose_subjects_are_empty_fails_not_exercised() -> None:
    """A check of your own with nothing to look at on this topology (no subjects) looked at
    nothing — that is no pass."""
    topo = dataclasses.replace(Topology(), python_checks=("tests.unit.test_coverage:NOTHING",))
    results = run_checks(_FakeStack(topo), ["nothing here"])  # type: ignore[arg-type]
    assert [(r.check, r.ok, r.causes, r.observed) for r in results] == [
        ("nothing here", False, ("not-exercised",), "the topology names none")
    ]


def test_a_crashing_check_is_check_crashed(monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(ctx: CheckContext) -> list[CheckResult]:
        raise KeyError("pid")

    _register(monkeypatch, boom)
    results = run_checks(_FakeStack(Topology()), ["nginx"])  # type: ignore[arg-type]
    assert results[0].causes == ("check-crashed",) and not results[0].ok
    assert results[0].observed == "check crashed: KeyError: 'pid'"


def test_a_cause_a_check_did_not_declare_is_a_bug() -> None:
    with pytest.raises(RuntimeError, match="unknown cause 'zero-masters'"):
        judged("limits", "app1", "e", [Problem("zero-masters", "x")], "ok", subjects=("a",))


def test_every_check_declares_causes_and_every_implementation_is_registered() -> None:
    """The one table of checks (harness.model.CHECKS) and the registry agree, and the common
    causes are available to every check."""
    assert set(base.REGISTRY) == {k.name for k in CHECKS}
    for kind in CHECKS:
        assert kind.causes, kind.name
        assert set(COMMON_CAUSES) <= set(causes_of(kind.name))
        assert not set(kind.causes) & set(COMMON_CAUSES)


def test_readme_names_every_cause_code() -> None:
    """README's "What PASS and reproduced mean" lists every cause a result or step can carry."""
    from pathlib import Path

    from harness.model import STEP_ERROR_CAUSES

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    section = readme.split("### What PASS and", 1)[1].split("\n### ", 1)[0]
    every = {c for k in CHECKS for c in k.causes} | set(COMMON_CAUSES) | set(STEP_ERROR_CAUSES)
    missing = sorted(c for c in every if f"`{c}`" not in section)
    assert not missing, missing
