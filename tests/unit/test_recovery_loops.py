"""How a recovery is noticed (no Docker: checks registered here on a fake stack): each check runs
at its own pace, so a check coming to hold is noticed when its own run ends, not when the
slowest check of a round does; the engine is asked which hosts run at most every
STATUSES_FRESH seconds; a failure to ask it ends the wait with that error."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

import pytest

from reboot_harness.checks import run
from reboot_harness.checks.api import Check, Context
from reboot_harness.checks.recovery import STATUSES_FRESH, Pacing, wait_recovered
from reboot_harness.errors import CheckTimeout, StackError
from reboot_harness.model.results import CheckResult
from tests.fakestack import FakeStack, fake_check


def _stack(fail: bool = False) -> FakeStack:
    """The fake stack; with ``fail`` its engine does not answer which hosts run."""
    stack = FakeStack()
    if fail:
        stack.when("statuses", "", StackError("stack fake: the engine does not answer"), None)
    return stack


def _lists(stack: FakeStack) -> int:
    """How many times the engine was asked which hosts run."""
    return sum(1 for method, _, _ in stack.calls if method == "statuses")


def _register(monkeypatch: pytest.MonkeyPatch, **found: Check) -> None:
    real = run.registry
    monkeypatch.setattr(run, "registry", lambda topo: {**real(topo), **found})


def _result(ctx: Context, name: str, host: str, held: bool) -> CheckResult:
    ctx.address(host)  # the check reaches its host (else its pass is `not-exercised`)
    return CheckResult(name, host, held, "ok", "ok" if held else "not yet",
                       causes=() if held else ("host-down",), subjects=(host,))  # fmt: skip


def test_a_check_coming_to_hold_is_noticed_at_once_not_after_the_slowest_check(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """`flips` (fast) holds from 1.0 s on; `slow` always holds but each run takes 0.8 s. In
    rounds of both, the flip would be seen only at the end of the round under way (about 2.4 s);
    run each at its own pace, the recovery is timed within a pause of the flip, and the wait
    returns once the run under way of `slow` has ended."""
    began = time.monotonic()
    at = began + 1.0

    def flips(ctx: Context) -> list[CheckResult]:
        return [_result(ctx, "flips", "app1", time.monotonic() >= at)]

    def slow(ctx: Context) -> list[CheckResult]:
        time.sleep(0.8)
        return [_result(ctx, "slow", "app2", True)]

    _register(monkeypatch, flips=fake_check("flips", flips, lambda _t: ("app1",)),
              slow=fake_check("slow", slow, lambda _t: ("app2",)))  # fmt: skip
    stack = _stack()
    wall = time.time() - (time.monotonic() - began)  # epoch seconds of `began`
    readiness = wait_recovered(stack, checks=["flips", "slow"], timeout=10,
                               pacing=Pacing(first=0.005, longest=0.04))  # fmt: skip
    assert readiness.recovered_at is not None
    late = readiness.recovered_at - (wall + 1.0)
    # generous slack for a loaded machine; rounds would be 1.4 s late
    assert 0 <= late < 0.3, f"recovery timed {late * 1000:.0f} ms after the check held"
    assert [r.check for r in readiness.results] == ["flips", "slow"]
    assert all(r.ok for r in readiness.results)
    assert readiness.ready_at.keys() == {"app1", "app2"}


def test_the_engine_is_asked_which_hosts_run_at_most_every_statuses_fresh(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Three quick checks failing for 0.6 s, each run at once after a change: they share the
    engine's list of hosts instead of each asking it before each run."""
    runs: list[float] = []
    until = time.monotonic() + 0.6

    def quick(ctx: Context) -> list[CheckResult]:
        ctx.address("app1")
        runs.append(time.monotonic())
        now = time.monotonic()
        held = now >= until
        # a new observation each time: every run is "a change", followed at once
        cause = () if held else ("host-down",)
        return [CheckResult(ctx.name, "app1", held, "ok", f"t={now}", causes=cause,
                            subjects=("app1",))]  # fmt: skip

    names = ("q1", "q2", "q3")
    _register(monkeypatch, **{n: fake_check(n, quick, lambda _t: ("app1",)) for n in names})
    stack = _stack()
    began = time.monotonic()
    wait_recovered(stack, checks=list(names), timeout=10)
    waited = time.monotonic() - began
    assert len(runs) > 3 * _lists(stack), (len(runs), _lists(stack))
    assert _lists(stack) <= waited / STATUSES_FRESH + 2, (_lists(stack), waited)


def test_an_engine_that_does_not_answer_ends_the_wait_with_its_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The error a check's thread met is raised by wait_recovered, not swallowed into a wait
    that lasts until its timeout."""

    def never(ctx: Context) -> list[CheckResult]:
        return [_result(ctx, "never", "app1", False)]

    _register(monkeypatch, never=fake_check("never", never, lambda _t: ("app1",)))
    began = time.monotonic()
    with pytest.raises(StackError, match="does not answer"):
        wait_recovered(_stack(fail=True), checks=["never"], timeout=30)
    assert time.monotonic() - began < 5


def test_a_wait_that_ran_out_takes_one_more_look_where_its_check_saw_nothing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """At the deadline a check whose latest run could not see (a probe that timed out on a
    loaded machine: `host-unreadable`) is run once more, with a longer deadline, and what that
    run saw is reported — not the silence. A check whose host is down gets no second look."""
    looks: list[float] = []

    def blind(ctx: Context) -> list[CheckResult]:
        ctx.address("app1")
        if ctx.deadline_s > 3.0:  # the last look
            looks.append(ctx.deadline_s)
            return [CheckResult("blind", "app1", False, "ok", "soft 1024 < 10000",
                                causes=("nofile-below-minimum",), subjects=("app1",))]  # fmt: skip
        return [CheckResult("blind", "app1", False, "ok", "probe did not answer",
                            causes=("host-unreadable",), subjects=("app1",))]  # fmt: skip

    def off(ctx: Context) -> list[CheckResult]:
        return [_result(ctx, "off", "app2", False)]  # host-down every time

    _register(monkeypatch, blind=fake_check("blind", blind, lambda _t: ("app1",)),
              off=fake_check("off", off, lambda _t: ("app2",)))  # fmt: skip
    stack = _stack()
    with pytest.raises(CheckTimeout) as e:
        wait_recovered(stack, checks=["blind", "off"], timeout=0.3)
    got = {(r.check, r.cause) for r in e.value.results if not r.ok}
    assert got == {("blind", "nofile-below-minimum"), ("off", "host-down")}
    assert looks == [6.0]


def _lasting(since: float) -> Callable[[Context], list[CheckResult]]:
    """A check whose host boots for 0.4 s (host-down), then runs with the boot default of open
    files for good."""

    def limits(ctx: Context) -> list[CheckResult]:
        ctx.address("app1")
        cause = "host-down" if time.monotonic() < since + 0.4 else "nofile-below-minimum"
        return [CheckResult("limits", "app1", False, "nofile >= 10000", cause,
                            causes=(cause,), subjects=("app1",))]  # fmt: skip

    return limits


def _only_the_lasting_cause(results: Sequence[CheckResult]) -> bool:
    return all(r.ok or r.causes == ("nofile-below-minimum",) for r in results)


def test_a_wait_that_may_end_on_a_settled_failure_ends_once_it_has_stayed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Given `settled`, the wait ends once the failure has satisfied it for `settle_s` with the
    check run again meanwhile — not while the host is still booting (a failure that changes),
    and long before the timeout; the CheckTimeout says it settled and carries the results."""
    began = time.monotonic()
    _register(monkeypatch, limits=fake_check("limits", _lasting(began), lambda _t: ("app1",)))
    stack = _stack()
    with pytest.raises(CheckTimeout) as e:
        wait_recovered(stack, checks=["limits"], timeout=30, settled=_only_the_lasting_cause,
                       settle_s=0.5, pacing=Pacing(first=0.02, longest=0.1))  # fmt: skip
    took = time.monotonic() - began
    assert e.value.settled
    assert "settled failing after" in str(e.value)
    assert 0.9 <= took < 5, f"ended after {took:.2f}s"
    assert [(r.check, r.causes) for r in e.value.results] == [("limits", ("nofile-below-minimum",))]


def test_without_settled_a_lasting_failure_is_waited_out(monkeypatch: pytest.MonkeyPatch) -> None:
    """The same failure, no `settled`: the wait runs to its timeout, and says so."""
    began = time.monotonic()
    _register(monkeypatch, limits=fake_check("limits", _lasting(began), lambda _t: ("app1",)))
    stack = _stack()
    with pytest.raises(CheckTimeout) as e:
        wait_recovered(stack, checks=["limits"], timeout=1.5, settle_s=0.1,
                       pacing=Pacing(first=0.02, longest=0.1))  # fmt: skip
    assert not e.value.settled
    assert "not recovered after 1.5s" in str(e.value)
    assert time.monotonic() - began >= 1.5


def test_a_failure_that_stops_satisfying_settled_starts_the_clock_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """`settled` must hold without a break for `settle_s`: a failure that satisfies it, then
    not (here every 0.3 s, alternately), never ends the wait before the timeout."""
    began = time.monotonic()

    def flapping(ctx: Context) -> list[CheckResult]:
        ctx.address("app1")
        cause = ("nofile-below-minimum", "host-down")[int((time.monotonic() - began) / 0.3) % 2]
        return [CheckResult("limits", "app1", False, "nofile >= 10000", cause,
                            causes=(cause,), subjects=("app1",))]  # fmt: skip

    _register(monkeypatch, limits=fake_check("limits", flapping, lambda _t: ("app1",)))
    stack = _stack()
    with pytest.raises(CheckTimeout) as e:
        wait_recovered(stack, checks=["limits"], timeout=2.0, settled=_only_the_lasting_cause,
                       settle_s=0.5, pacing=Pacing(first=0.02, longest=0.05))  # fmt: skip
    assert not e.value.settled
    assert time.monotonic() - began >= 2.0
