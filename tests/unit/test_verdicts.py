"""Verdicts over synthetic histories: downtime windows, errors, latency, reconnects, lost writes,
attribution to hosts and budgets (pure functions, no Docker)."""

from __future__ import annotations

import itertools
import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reboot_harness.judging.budgets import describe_budget, judge_budgets
from reboot_harness.judging.budgets import violations as violations_of
from reboot_harness.judging.measures import (
    HostRow,
    Latency,
    Reconnects,
    ServiceVerdict,
    Span,
    Summary,
    Window,
    Writes,
)
from reboot_harness.judging.traffic import (
    analyze,
    client_windows,
    fault_span,
    host_faults,
    merge_windows,
    percentile,
    summarize,
)
from reboot_harness.model.events import Event
from reboot_harness.model.results import BudgetViolation
from reboot_harness.model.traffic import Budget, History, Op
from reboot_harness.report.serialize import to_json

T = 1_000.0  # an epoch origin; every time below is relative to it


def op(
    at: float,
    ok: bool = True,
    *,
    service: str = "http",
    client: str = "c1",
    took: float = 0.1,
    error: str = "",
    key: str = "",
    name: str = "get /health",
    target: str = "",
) -> Op:
    return Op(
        service, client, name, T + at, T + at + took, ok, target,
        error or ("" if ok else "timeout"), key,
    )  # fmt: skip


def ops_every(
    start: float, end: float, step: float, fail: tuple[float, float] | None = None, **kw: object
) -> list[Op]:
    """An op every ``step`` s from ``start`` to before ``end``; failing inside ``fail``."""
    out = []
    at = start
    while at < end - 1e-9:
        bad = fail is not None and fail[0] <= at < fail[1]
        out.append(op(round(at, 6), not bad, **kw))  # type: ignore[arg-type]
        at += step
    return out


def sio(at: float, ok: bool = True, *, name: str, took: float = 0.1, error: str = "") -> Op:
    """A socket.io op of client s1."""
    return op(at, ok, service="socketio", client="s1", name=name, took=took, error=error)


def ev(at: float, kind: str, host: str = "", detail: str = "", took: float = 0.0) -> Event:
    return Event(T + at, kind, host, detail, took)


def windows_of(ops: list[Op]) -> list[tuple[float, float]]:
    return [(round(w.start - T, 6), round(w.end - T, 6)) for w in client_windows(ops)]


# -- windows -----------------------------------------------------------------------------------


def test_window_opens_at_first_failure_and_closes_at_next_success() -> None:
    """Failures from 2.0 to 3.5 (every 0.5 s): the window is [2.0, 4.0), the next success."""
    ops = ops_every(0, 6, 0.5, fail=(2.0, 4.0))
    assert windows_of(ops) == [(2.0, 4.0)]
    (w,) = client_windows(ops)
    assert w.errors == 4 and not w.open and w.clients == ("c1",)
    assert w.duration_s == pytest.approx(2.0)


def test_first_op_failing_opens_the_window_at_the_first_op() -> None:
    """A client whose first ops fail is down from its first op."""
    assert windows_of([op(1, False), op(2, False), op(3), op(4)]) == [(1.0, 3.0)]


def test_window_with_no_success_after_it_runs_to_the_last_op_end() -> None:
    """No success after the failure: the window stays open until the client's last op ends."""
    ops = [op(0), op(1, False), op(2, False, took=0.7)]
    (w,) = client_windows(ops)
    assert w.start - T == 1.0
    assert w.end - T == pytest.approx(2.7)
    assert w.open and w.errors == 2 and w.service == "http"


def test_all_failures_is_one_open_window_over_the_whole_run() -> None:
    """Nothing ever succeeded: one open window from the first op to the end of the last."""
    history = History(tuple(ops_every(0, 10, 1, fail=(0, 10))))
    v = analyze(history, []).service("http")
    assert len(v.windows) == 1 and v.windows[0].open
    assert v.downtime_s == pytest.approx(9.1)
    assert v.failed == 10 and v.ok == 0 and v.errors == {"timeout": 10}
    assert v.latency_outside.count == 0 and v.latency_outside.p50_s is None


def test_several_windows_of_one_client() -> None:
    """Two outages give two windows; the total is their sum, the longest the larger."""
    ops = ops_every(0, 10, 1, fail=(2, 3)) + ops_every(10, 20, 1, fail=(14, 17))
    v = analyze(History(tuple(ops)), []).service("http")
    assert [(w.start - T, w.end - T) for w in v.windows] == [(2, 3), (14, 17)]
    assert v.downtime_s == pytest.approx(4.0)
    assert v.longest_s == pytest.approx(3.0)


def test_overlapping_clients_merge_into_one_window() -> None:
    """c1 down [2, 5), c2 down [4, 8): the service was down [2, 8) — the union."""
    ops = ops_every(0, 10, 1, fail=(2, 5), client="c1") + ops_every(
        0, 10, 1, fail=(4, 8), client="c2"
    )
    v = analyze(History(tuple(ops)), []).service("http")
    assert [(w.start - T, w.end - T) for w in v.windows] == [(2, 8)]
    assert v.windows[0].clients == ("c1", "c2")
    assert v.windows[0].errors == 3 + 4 == v.failed
    assert v.downtime_s == pytest.approx(6.0)
    assert (v.clients, v.ops, v.ok) == (("c1", "c2"), 20, 13)
    assert (v.first_op, v.last_op) == (T, pytest.approx(T + 9.1))


def test_disjoint_clients_keep_separate_windows_and_touching_ones_merge() -> None:
    """Windows that do not meet stay apart; one ending where another starts becomes one."""
    a = Window("http", T + 1, T + 2, ("a",), 1)
    b = Window("http", T + 2, T + 3, ("b",), 2, open=True)
    c = Window("http", T + 5, T + 6, ("c",), 1)
    merged = merge_windows([c, b, a])
    assert [(w.service, w.start - T, w.end - T, w.clients, w.errors, w.open) for w in merged] == [
        ("http", 1, 3, ("a", "b"), 3, True),
        ("http", 5, 6, ("c",), 1, False),
    ]


def test_no_ops_means_no_windows_and_no_service() -> None:
    """An empty history measures nothing: no services, no windows, no latency."""
    summary = analyze(History(()), [])
    assert summary.services == ()
    assert client_windows([]) == []
    summary, violations = summarize(History(()), [])
    assert summary.services == () and violations == []
    assert summary.hosts == (HostRow("-", "-", ()),)
    assert to_json(summary) == {
        "fault_span": None,
        "services": [],
        "hosts": [to_json(summary.hosts[0])],
        "budgets": [],
    }


def test_unordered_ops_are_sorted_before_judging() -> None:
    """The order ops arrive in does not matter, only their times."""
    ops = ops_every(0, 8, 1, fail=(3, 5))
    assert windows_of(list(reversed(ops))) == windows_of(ops) == [(3.0, 5.0)]


# -- reconnects --------------------------------------------------------------------------------


def test_reconnect_is_downtime_and_reconnect_time() -> None:
    """An ok reconnect op is the time its client was disconnected: a window from its start to
    its end, and a reconnect time; max and p50 over the completed ones."""
    ops = [
        sio(0, name="echo"),
        sio(1, name="reconnect", took=3.0),
        sio(4.5, name="echo"),
        sio(6, name="reconnect", took=1.0),
        sio(8, name="reconnect", took=2.0),
        sio(11, name="echo"),
    ]
    v = analyze(History(tuple(ops)), []).service("socketio")
    assert [(w.start - T, w.end - T) for w in v.windows] == [(1, 4), (6, 7), (8, 10)]
    assert v.failed == 0 and v.downtime_s == pytest.approx(6.0)
    assert (v.reconnects.count, v.reconnects.failed) == (3, 0)
    assert v.reconnects.max_s == pytest.approx(3.0)
    assert v.reconnects.p50_s == pytest.approx(2.0)
    assert [w.reconnect_max_s for w in v.windows] == pytest.approx([3.0, 1.0, 2.0])
    assert v.latency_outside.count == 3  # reconnects are no latency sample


def test_failed_reconnect_is_counted_apart_and_breaks_the_budget() -> None:
    """A reconnect that never completed is an error and violates max_reconnect whatever the
    completed ones measured."""
    ops = [
        sio(0, name="reconnect", took=0.5),
        sio(2, False, name="reconnect", took=30.0, error="gave up"),
    ]
    summary = analyze(History(tuple(ops)), [], [Budget("socketio", max_reconnect=5.0)])
    v = summary.service("socketio")
    assert (v.reconnects.count, v.reconnects.failed) == (1, 1)
    assert v.reconnects.longest_failed_s == pytest.approx(30.0)
    assert v.windows[-1].open
    assert judge_budgets(summary.services, summary.budgets) == [
        "socketio: max_reconnect 5s exceeded: 1 reconnect never completed (gave up after 30.00s)"
    ]


def test_slow_reconnect_breaks_max_reconnect() -> None:
    """The longest completed reconnect is compared with max_reconnect."""
    ops = [op(0, service="socketio", name="reconnect", took=7.25)]
    _, violations = summarize(History(tuple(ops)), [], [Budget("socketio", max_reconnect=5)])
    assert _messages(violations) == [
        "socketio: max_reconnect 5s exceeded: measured 7.25s (longest of 1 reconnect)"
    ]


# -- lost writes -------------------------------------------------------------------------------


def test_lost_writes_are_exactly_the_acknowledged_keys_missing() -> None:
    """Acknowledged writes whose key is not present afterwards are lost — each key once; failed
    writes and writes that were found are not."""
    writes = [
        op(1, service="redis", key="k1", name="set"),
        op(2, service="redis", key="k2", name="set"),
        op(3, service="redis", key="k2", name="set"),  # the same key twice: one write lost
        op(4, False, service="redis", key="k3", name="set", error="READONLY"),
        op(5, service="redis", key="k4", name="set"),
        op(6, service="redis", name="get"),  # a read: no key
    ]
    present = {"redis": frozenset({"k1", "k3"})}
    v = analyze(History(tuple(writes), present), []).service("redis")
    assert v.writes.checked and v.writes.acked == 3
    assert [(w.key, w.start - T) for w in v.writes.lost] == [("k2", 2.0), ("k4", 5.0)]
    summary, violations = summarize(
        History(tuple(writes), present), [], [Budget("redis", no_lost_writes=True)]
    )
    lost = summary.service("redis").writes.lost
    assert [(w.service, w.key, w.client) for w in lost] == [
        ("redis", "k2", "c1"),
        ("redis", "k4", "c1"),
    ]
    assert _messages(violations) == [
        "redis: no_lost_writes violated: measured 2 of 3 acknowledged writes lost (keys k2, k4)"
    ]


def test_no_lost_writes_when_every_key_is_present() -> None:
    """Every acknowledged key read back: zero lost, the budget holds."""
    writes = [op(i, service="mysql", key=str(i), name="insert") for i in range(50)]
    present = {"mysql": frozenset(str(i) for i in range(60))}
    summary = analyze(History(tuple(writes), present), [], [Budget("mysql", no_lost_writes=True)])
    assert summary.service("mysql").writes.lost == ()
    assert judge_budgets(summary.services, summary.budgets) == []


def test_writes_never_read_back_are_not_verified() -> None:
    """Without a read-back of the store nothing is counted lost, but the budget cannot pass."""
    writes = [op(1, service="mysql", key="1", name="insert")]
    summary, violations = summarize(
        History(tuple(writes)), [], [Budget("mysql", no_lost_writes=True)]
    )
    assert summary.service("mysql").writes == Writes(1, False, ())
    assert _messages(violations) == [
        "mysql: no_lost_writes not verified: 1 acknowledged writes, but the mysql keys were not "
        "read back after the run"
    ]
    # no host explains it: the '-' row carries it, with no count of lost writes
    assert [(r.host, r.lost_writes, r.over) for r in summary.hosts] == [
        ("-", None, ("no_lost_writes",))
    ]
    assert violations[0].hosts == ("-",)


def test_many_lost_keys_are_listed_briefly() -> None:
    """The violation names the first five keys and how many more."""
    writes = [op(i, service="redis", key=f"k{i}", name="set") for i in range(8)]
    _, violations = summarize(
        History(tuple(writes), {"redis": frozenset()}), [], [Budget("redis", no_lost_writes=True)]
    )
    assert _messages(violations) == [
        "redis: no_lost_writes violated: measured 8 of 8 acknowledged writes lost "
        "(keys k0, k1, k2, k3, k4 and 3 more)"
    ]


# -- latency and the fault span ----------------------------------------------------------------


def test_percentiles_are_nearest_rank() -> None:
    """p50 of 1..4 is 2, p99 is 4; one value is every percentile; none is None."""
    assert percentile([4.0, 1.0, 3.0, 2.0], 50) == 2.0
    assert percentile([4.0, 1.0, 3.0, 2.0], 99) == 4.0
    assert percentile([float(i) for i in range(1, 101)], 99) == 99.0
    assert percentile([7.0], 0) == percentile([7.0], 100) == 7.0
    assert percentile([2.0, 1.0], 50) == 1.0
    assert percentile([float(i) for i in range(1, 201)], 99) == 198.0
    assert percentile([], 50) is None


def test_fault_span_runs_from_first_disruption_to_last_recovery() -> None:
    """The span starts when the first fault or operation began (t - duration) and ends at the
    last 'recovered'; bookkeeping events do not count."""
    events = [
        ev(0, "stack ready"),
        ev(5, "dns rotate", "lb1", "out; in rotation: lb2"),
        ev(9, "power off", "lb1", "graceful", took=2.0),
        ev(12, "power on", "lb1", took=1.0),
        ev(15, "recovered", "", "after rebooting lb1", 3.0),
        ev(20, "recovered", "", "expected checks hold", 1.0),
        ev(25, "preflight", "app1"),
    ]
    assert fault_span(events) == Span(T + 5, T + 20, True)
    assert fault_span([ev(0, "stack ready"), ev(1, "recovered")]) is None


def test_fault_span_without_recovery_runs_to_the_end_of_the_run() -> None:
    """Never recovered: the span ends with the last event or op, and says so."""
    events = [ev(2, "power off", "app1", took=0.5), ev(4, "not recovered")]
    assert fault_span(events, [op(9, took=1.5)]) == Span(T + 1.5, T + 10.5, False)
    assert analyze(History((op(9, took=1.5),)), events).fault_span == Span(T + 1.5, T + 10.5, False)


def test_latency_is_split_by_the_fault_span() -> None:
    """Ok ops overlapping the span are 'during', the rest 'outside'; failures are no sample."""
    ops = [op(at, took=0.01) for at in (0, 1, 2)]  # before
    ops += [op(at, took=0.2) for at in (5, 6, 7, 8)]  # during
    ops += [op(6.5, False, took=1.0)]
    ops += [op(at, took=0.03) for at in (12, 13)]  # after
    events = [ev(5, "kill", "app1", "SIGKILL app"), ev(10, "recovered")]
    v = analyze(History(tuple(ops)), events).service("http")
    assert v.latency_during.count == 4
    assert v.latency_during.p50_s == pytest.approx(0.2)
    assert v.latency_outside.count == 5
    assert v.latency_outside.p50_s == pytest.approx(0.01)
    assert v.latency_outside.p99_s == pytest.approx(0.03)


def test_without_faults_every_op_is_outside() -> None:
    """No disruptive event: no span, every latency sample is 'outside'."""
    v = analyze(History(tuple(ops_every(0, 5, 1))), []).service("http")
    assert v.latency_during.count == 0 and v.latency_outside.count == 5


# -- attribution -------------------------------------------------------------------------------


def _reboot(host: str, at: float) -> list[Event]:
    return [
        ev(at + 1, "power off", host, "graceful", took=1.0),
        ev(at + 3, "power on", host, took=1.0),
        ev(at + 6, "recovered", "", f"after rebooting {host}", 3.0),
    ]


def test_windows_go_to_the_host_disrupted_most_recently_before_them() -> None:
    """Each window goes to the host whose disruption (its event until the next 'recovered')
    began most recently before the window; none overlapping: '-'."""
    events = _reboot("lb1", 0) + _reboot("app1", 10) + [ev(30, "recovered")]
    ops = ops_every(0, 40, 0.5, fail=(1, 2.5))  # lb1 down
    ops += ops_every(40, 45, 0.5)
    ops = [o for o in ops if not (10 <= o.start - T < 14)]
    ops += [op(at, False) for at in (10.5, 11, 11.5)] + [op(12)]  # app1's reboot
    ops += [op(45, False), op(46)]  # long after every recovery
    ops = sorted(ops, key=lambda o: o.start)
    summary = analyze(History(tuple(ops)), events)
    hosts = [(w.start - T, w.host) for w in summary.service("http").windows]
    assert hosts == [(1.0, "lb1"), (10.5, "app1"), (45.0, "-")]


def test_window_opening_before_any_disruption_goes_to_the_earliest_inside_it() -> None:
    """A window that opened before every overlapping disruption began goes to the earliest."""
    events = [ev(5, "kill", "app2", "SIGKILL app"), ev(6, "kill", "app1"), ev(9, "recovered")]
    ops = [op(0), op(4, False), op(7, False), op(8)]
    (w,) = analyze(History(tuple(ops)), events).service("http").windows
    assert w.host == "app2"


def test_host_faults_lists_kinds_in_order() -> None:
    """Each host's disruptive event kinds, once each, in order of first occurrence."""
    events = [
        ev(0, "dns rotate", "lb1", "out"),
        ev(1, "power off", "lb1"),
        ev(2, "power on", "lb1"),
        ev(3, "dns rotate", "lb1", "in"),
        ev(4, "recovered"),
        ev(5, "sentinel failover", "redis2"),
        ev(6, "heal", "", "started again: lb1"),
    ]
    assert host_faults(events) == {
        "lb1": ("dns rotate", "power off", "power on"),
        "redis2": ("sentinel failover",),
    }


def test_host_rows_are_hosts_times_services() -> None:
    """One row per disrupted host x measured service, with that host's share; '-' rows only
    for what no host explains; budgets in words and a verdict per row."""
    events = _reboot("lb1", 0) + _reboot("redis1", 10)
    ops = ops_every(0, 30, 0.5, fail=(1.5, 3), client="h1")
    ops += ops_every(0, 30, 0.5, service="redis", client="r1", fail=(11, 12))
    ops += [op(40, False), op(41)]
    budgets = [Budget("http", max_downtime=1.0), Budget("redis", max_errors=5)]
    summary = analyze(History(tuple(ops)), events, budgets)
    rows = [
        (r.host, r.service, r.windows, r.downtime_s, r.errors, r.verdict) for r in summary.hosts
    ]
    assert rows == [
        ("lb1", "http", 1, pytest.approx(1.5), 3, "over: max_downtime"),
        ("lb1", "redis", 0, 0.0, 0, "ok"),
        ("redis1", "http", 0, 0.0, 0, "ok"),
        ("redis1", "redis", 1, pytest.approx(1.0), 2, "ok"),
        ("-", "http", 1, pytest.approx(1.0), 1, "over: max_downtime"),
    ]
    assert summary.hosts[0].faults == ("power off", "power on")
    assert summary.hosts[0].budget == "downtime <= 1s"
    assert summary.hosts[0].lost_writes is None  # http writes nothing


HOSTS = ("lb1", "lb2", "app1", "app2", "redis1", "redis2", "dns")


def _http_through(targets: list[str], at: float) -> list[Op]:
    """A client whose requests succeed through lb1 and lb2 before and after, and fail at
    ``at`` + 0, 0.5, … through each of ``targets`` in turn."""
    ok = [op(t, target=["lb1/app1", "lb2/app2"][int(t) % 2]) for t in range(0, 30)]
    bad = [op(at + i * 0.5, False, target=t, error="refused") for i, t in enumerate(targets)]
    return sorted([o for o in ok if not at <= o.start - T < at + len(targets) * 0.5] + bad,
                  key=lambda o: o.start)  # fmt: skip


@pytest.mark.parametrize(
    ("targets", "rebooted", "charged"),
    [
        pytest.param(["lb2"] * 4, "lb1", "-", id="lb2-fails-while-lb1-reboots"),
        pytest.param(["lb1"] * 4, "lb1", "lb1", id="lb1-fails-while-lb1-reboots"),
        pytest.param(["lb1", "lb2"] * 2, "app1", "app1", id="behind-either-lb"),
        pytest.param(["lb1/app2"] * 4, "app1", "-", id="served-by-another-app"),
        pytest.param(["lb2/app1"] * 4, "app1", "app1", id="served-by-the-rebooted-app"),
        pytest.param([""] * 4, "lb1", "lb1", id="no-target-known"),
    ],
)
def test_a_window_goes_only_to_a_host_its_failed_requests_could_have_met(
    targets: list[str], rebooted: str, charged: str
) -> None:
    """Attribution reads where each failed request went (Op.target), not only when: failures
    on lb2 while lb1 reboots are nobody's (lb1 is another entry); a path that names only its
    LB may have met any app behind it; a path through another app did not meet the one
    rebooted."""
    events = _reboot(rebooted, 5)
    ops = _http_through(targets, 7)
    budgets = [Budget("http", max_errors=0)]
    summary, violations = summarize(History(tuple(ops)), events, budgets, HOSTS)
    (w,) = summary.service("http").windows
    assert w.host == charged
    (v,) = violations
    assert v.hosts == (charged,)


def test_the_host_its_failed_requests_met_wins_over_a_later_disruption() -> None:
    """app2 and then lb1 go down at once; every failure went through lb2, which meets app2
    (maybe behind it) but not lb1 (another entry): app2, although lb1's disruption began
    later (time alone would have said lb1)."""
    events = [ev(5, "power off", "app2", took=1), ev(6, "power off", "lb1", took=1),
              ev(20, "recovered")]  # fmt: skip
    before = [op(0, target="lb1/app1"), op(1, target="lb2/app2")]
    via_lb2 = [op(8 + i * 0.5, False, target="lb2") for i in range(4)] + [op(12, target="lb2")]
    ops = History(tuple(before + via_lb2))
    (w,) = analyze(ops, events, hosts=HOSTS).service("http").windows
    assert w.host == "app2"


def test_a_failed_reconnect_charges_only_the_row_it_happened_under() -> None:
    """One reconnect gave up during app1's reboot; during app2's the only reconnect took 0.4 s
    against a 3 s budget: only app1's row is over max_reconnect."""
    events = _reboot("app1", 0) + _reboot("app2", 20)
    ops = [
        sio(0, name="echo"),
        sio(2, False, name="reconnect", took=4.0, error="gave up"),
        sio(6.5, name="connect"),
        sio(22, False, name="echo", error="disconnected"),
        sio(22.5, name="reconnect", took=0.4),
        sio(30, name="echo"),
    ]
    summary, violations = summarize(
        History(tuple(ops)), events, [Budget("socketio", max_reconnect=3.0)], HOSTS
    )
    rows = {r.host: r for r in summary.hosts if r.service == "socketio"}
    assert rows["app1"].over == ("max_reconnect",) and rows["app1"].reconnects_failed == 1
    assert rows["app2"].errors == 1 and rows["app2"].over == ()
    (v,) = violations
    assert v.hosts == ("app1",)


def test_a_lost_write_goes_to_the_server_that_acknowledged_it() -> None:
    """A write acked by redis1 and lost is not redis2's, although redis2 was the host disrupted
    at that moment."""
    events = [ev(1, "power off", "redis2", took=1), ev(10, "recovered")]
    writes = [
        op(2, service="redis", client="r", key="k1", name="set", target="redis1"),
        op(3, service="redis", client="r", key="k2", name="set", target="redis2"),
    ]
    summary = analyze(History(tuple(writes), {"redis": frozenset()}), events, hosts=HOSTS)
    lost = {w.key: w.host for w in summary.service("redis").writes.lost}
    assert lost == {"k1": "-", "k2": "redis2"}


def test_host_rows_without_traffic_list_the_faults() -> None:
    """No ops: one row per disrupted host with service '-' and nothing measured."""
    summary = analyze(History(()), [*_reboot("app1", 0), ev(9, "kill", "app2", "SIGKILL app")])
    assert [(r.host, r.service, r.faults, r.downtime_s) for r in summary.hosts] == [
        ("app1", "-", ("power off", "power on"), None),
        ("app2", "-", ("kill",), None),
    ]


# -- budgets -----------------------------------------------------------------------------------


def _downtime_history() -> History:
    ops = ops_every(0, 10, 0.2, fail=(1.0, 3.0)) + ops_every(10, 20, 0.2, fail=(15.0, 16.2))
    return History(tuple(ops))


def test_budget_violation_names_service_budget_and_measurement() -> None:
    """max_downtime 0s with 3.20 s measured in 2 windows, as one line."""
    summary = analyze(_downtime_history(), [], [Budget("http", max_downtime=0.0)])
    assert judge_budgets(summary.services, summary.budgets) == [
        "http: max_downtime 0s exceeded: measured 3.20s (2 windows, longest 2.00s)"
    ]


def test_max_errors_lists_the_kinds() -> None:
    """max_errors names how many errors of each kind were measured."""
    ops = [op(0, False, error="http 502"), op(1, False, error="http 502"), op(2, False), op(3)]
    _, violations = summarize(History(tuple(ops)), [], [Budget("http", max_errors=2)])
    assert _messages(violations) == [
        "http: max_errors 2 exceeded: measured 3 errors (http 502: 2, timeout: 1)"
    ]


def test_budgets_met_give_no_violation() -> None:
    """Limits at or above the measurement hold (the comparison is strict)."""
    history = _downtime_history()
    v = analyze(history, []).service("http")
    budgets = [Budget("http", max_downtime=v.downtime_s, max_errors=v.failed)]
    assert summarize(history, [], budgets)[1] == []


def test_budget_for_a_service_without_traffic_is_a_violation() -> None:
    """A budget nothing measured cannot pass silently."""
    _, violations = summarize(_downtime_history(), [], [Budget("mysql", max_errors=0)])
    assert violations == [
        BudgetViolation(
            "mysql", "traffic", "mysql: no operations recorded; its budget cannot be judged", ()
        )
    ]


def test_open_window_is_said_in_the_violation() -> None:
    """A service still down at the end says so."""
    _, violations = summarize(History((op(0), op(1, False))), [], [Budget("http", max_downtime=0)])
    assert _messages(violations) == [
        "http: max_downtime 0s exceeded: measured 0.10s (1 window, longest 0.10s, still down "
        "at the end)"
    ]


def test_describe_budget_in_words() -> None:
    """Budgets read as a user writes them."""
    assert describe_budget(None) == "-"
    assert describe_budget(Budget("http")) == "none (traffic only)"
    assert (
        describe_budget(Budget("redis", 0.5, 0, 2.0, True))
        == "downtime <= 0.5s, errors <= 0, reconnect <= 2s, no lost writes"
    )


# -- the one call ------------------------------------------------------------------------------


def _messages(violations: list[BudgetViolation]) -> list[str]:
    return [v.message for v in violations]


def test_summary_json_is_json_ready_and_documented_shape() -> None:
    """summarize gives the typed summary and the violations; the serializer makes of the
    summary JSON-ready values of the shape the module docstring documents."""
    events = _reboot("lb1", 0)
    history = History(
        tuple([*ops_every(0, 10, 0.5, fail=(1.5, 2.5)), op(3, service="redis", key="a")]),
        {"redis": frozenset({"a"})},
    )
    summary, violations = summarize(history, events, [Budget("http", max_errors=0)])
    assert summary == analyze(history, events, [Budget("http", max_errors=0)])
    verdicts: Any = to_json(summary)
    assert json.loads(json.dumps(verdicts)) == verdicts
    assert set(verdicts) == {"fault_span", "services", "hosts", "budgets"}
    assert verdicts["fault_span"] == {"start": T, "end": T + 6, "recovered": True}
    assert [v["service"] for v in verdicts["services"]] == ["http", "redis"]
    http, redis = verdicts["services"]
    assert set(http) == {
        "service", "ops", "ok", "failed", "clients", "first_op", "last_op", "downtime_s",
        "longest_s", "windows", "errors", "latency_outside", "latency_during", "reconnects",
        "writes",
    }  # fmt: skip
    assert (http["ops"], http["failed"], http["downtime_s"], http["longest_s"]) == (20, 2, 1, 1)
    assert http["errors"] == {"timeout": 2}
    assert http["latency_during"] == {"count": 11, "p50_s": 0.1, "p99_s": 0.1}
    assert http["reconnects"] == {
        "count": 0, "failed": 0, "max_s": None, "p50_s": None, "longest_failed_s": None,
    }  # fmt: skip
    assert http["windows"][0] == {
        "service": "http",
        "start": T + 1.5,
        "end": T + 2.5,
        "duration_s": 1.0,
        "clients": ["c1"],
        "errors": 2,
        "open": False,
        "host": "lb1",
        "reconnect_max_s": None,
        "reconnects_failed": 0,
    }
    assert redis["writes"] == {"acked": 1, "checked": True, "lost": []}
    assert verdicts["hosts"][0] == {
        "host": "lb1", "service": "http", "faults": ["power off", "power on"], "windows": 1,
        "downtime_s": 1.0, "errors": 2, "reconnect_max_s": None, "reconnects_failed": 0,
        "lost_writes": None,
        "budget": "errors <= 0", "verdict": "over: max_errors", "over": ["max_errors"],
    }  # fmt: skip
    assert verdicts["budgets"] == [
        {"service": "http", "max_downtime": None, "max_errors": 0, "max_reconnect": None,
         "no_lost_writes": False}
    ]  # fmt: skip
    assert violations == [
        BudgetViolation(
            "http",
            "max_errors",
            "http: max_errors 0 exceeded: measured 2 errors (timeout: 2)",
            ("lb1",),
        )
    ]


# -- properties --------------------------------------------------------------------------------

_CLIENT_OPS = st.lists(
    st.tuples(
        st.floats(0, 100, allow_nan=False),
        st.floats(0, 5, allow_nan=False),
        st.booleans(),
        st.sampled_from(["c1", "c2", "c3"]),
    ),
    max_size=40,
)


@settings(max_examples=200, deadline=None)
@given(_CLIENT_OPS)
def test_windows_cover_every_failure_and_no_own_success(raw: list[tuple]) -> None:  # type: ignore[type-arg]
    """Per client: windows are ordered and disjoint, every failed op starts inside one, and no
    success of that client starts strictly inside one. Merged: disjoint, and the service's
    errors add up; downtime never exceeds the run."""
    ops = [Op("http", c, "get", T + at, T + at + took, ok) for at, took, ok, c in raw]
    for client in {o.client for o in ops}:
        mine = [o for o in ops if o.client == client]
        windows = client_windows(mine)
        for a, b in itertools.pairwise(windows):
            assert a.end <= b.start
        for o in mine:
            inside = [w for w in windows if w.start <= o.start <= w.end]
            if not o.ok:
                assert inside
            else:
                assert not [w for w in windows if w.start < o.start < w.end]
    if ops:
        v = analyze(History(tuple(ops)), []).service("http")
        for a, b in zip(v.windows, v.windows[1:], strict=False):
            assert a.end < b.start
        assert sum(w.errors for w in v.windows) == v.failed
        first, last = min(o.start for o in ops), max(o.end for o in ops)
        assert v.downtime_s <= last - first + 1e-9


# -- counted exactly ---------------------------------------------------------------------------


def test_error_kinds_are_counted_most_frequent_first_then_by_name() -> None:
    """A failure without a kind counts as 'error'; kinds are listed by count, ties by name."""
    no_kind = Op("http", "c1", "get /health", T + 2, T + 2.1, False)
    ops = [op(0, False, error="timeout"), op(1, False, error="refused"), no_kind,
           op(3, False, error="timeout"), op(4)]  # fmt: skip
    v = analyze(History(tuple(ops)), []).service("http")
    assert list(v.errors.items()) == [("timeout", 2), ("error", 1), ("refused", 1)]


def test_latency_percentiles_are_nearest_rank_over_the_ok_ops() -> None:
    """p50 of two samples is the lower one; p99 of a hundred is the 99th, not the largest."""
    two = [op(0, took=0.25), op(1, took=0.75)]
    assert analyze(History(tuple(two)), []).service("http").latency_outside == Latency(
        2, 0.25, 0.75
    )
    hundred = [op(i, took=(i + 1) / 128) for i in range(100)]
    latency = analyze(History(tuple(hundred)), []).service("http").latency_outside
    assert latency == Latency(100, 50 / 128, 99 / 128)


def test_an_op_touching_the_fault_span_is_during_it() -> None:
    """An op that ends as the span begins, or begins as it ends, overlaps it."""
    events = [ev(5, "kill", "app1", "SIGKILL app"), ev(10, "recovered")]
    ops = [op(0), op(4.75, took=0.25), op(10, took=0.5), op(12)]
    v = analyze(History(tuple(ops)), events).service("http")
    assert (v.latency_during.count, v.latency_outside.count) == (2, 2)


def test_reconnects_below_a_second_and_their_messages() -> None:
    """Reconnect times below a second are measured as they are; a reconnect within the budget
    (or exactly at it) passes; messages say 'reconnects' for more than one."""
    done = [sio(0, name="reconnect", took=0.25), sio(1, name="reconnect", took=0.75)]
    summary, violations = summarize(
        History(tuple(done)), [], [Budget("socketio", max_reconnect=0.5)]
    )
    assert summary.service("socketio").reconnects == Reconnects(2, 0, 0.75, 0.25, None)
    assert _messages(violations) == [
        "socketio: max_reconnect 0.5s exceeded: measured 0.75s (longest of 2 reconnects)"
    ]
    assert summarize(History(tuple(done)), [], [Budget("socketio", max_reconnect=0.75)])[1] == []
    failed = [sio(0, False, name="reconnect", took=0.5, error="gave up"),
              sio(1, False, name="reconnect", took=0.25, error="gave up")]  # fmt: skip
    _, violations = summarize(History(tuple(failed)), [], [Budget("socketio", max_reconnect=5)])
    assert _messages(violations) == [
        "socketio: max_reconnect 5s exceeded: 2 reconnects never completed (gave up after 0.50s)"
    ]


# -- writes ------------------------------------------------------------------------------------


def test_lost_keys_are_named_in_the_order_acknowledged() -> None:
    """Lost keys are listed by when their write was acknowledged, ties by key; exactly five
    are all named."""
    writes = [
        op(1, service="redis", key="b", name="set"),
        op(2, service="redis", key="a", name="set"),
        op(3, service="redis", client="c2", key="d", name="set"),
        op(3, service="redis", key="c", name="set"),
        op(4, service="redis", key="e", name="set"),
    ]
    history = History(tuple(writes), {"redis": frozenset()})
    _, violations = summarize(history, [], [Budget("redis", no_lost_writes=True)])
    assert _messages(violations) == [
        "redis: no_lost_writes violated: measured 5 of 5 acknowledged writes lost (keys b, a, c,"
        " d, e)"
    ]


def test_only_redis_and_mysql_writes_are_accounted() -> None:
    """A service other than redis and mysql loses no write, even with keys and a read-back; a
    service that wrote nothing has no count of lost writes."""
    ops = (op(0, key="k"), op(1, service="redis", name="get"), op(2, service="metrics"))
    summary = analyze(History(ops, {"http": frozenset(), "redis": frozenset()}), [])
    writes = [(v.service, v.writes) for v in summary.services]
    assert writes == [
        ("http", Writes(1, True, ())),
        ("redis", Writes(0, True, ())),
        ("metrics", Writes(0, False, ())),
    ]
    assert [(r.service, r.lost_writes) for r in summary.hosts] == [
        ("http", 0),
        ("redis", None),
        ("metrics", None),
    ]


def test_a_budgeted_service_without_ops_is_measured_as_nothing() -> None:
    """A service with a budget and no op is in the summary with nothing measured (its store
    read back, when it was); its budget cannot be judged."""
    history = History((op(0),), {"mysql": frozenset()})
    summary, violations = summarize(history, [], [Budget("mysql", max_errors=0)])
    assert summary.service("mysql") == ServiceVerdict("mysql", writes=Writes(0, True))
    assert [(v.service, v.measurement) for v in violations] == [("mysql", "traffic")]


def test_budgets_are_judged_against_verdicts_by_name_or_in_a_list() -> None:
    """judge_budgets takes a mapping or a list and judges every budget; a budget whose service
    has no verdict cannot be judged (violations() alike)."""
    v = analyze(_downtime_history(), []).service("http")
    budgets = [Budget("http", max_downtime=0.0), Budget("http", max_errors=0),
               Budget("mysql", max_errors=0)]  # fmt: skip
    expected = [
        "http: max_downtime 0s exceeded: measured 3.20s (2 windows, longest 2.00s)",
        "http: max_errors 0 exceeded: measured 16 errors (timeout: 16)",
        "mysql: no operations recorded; its budget cannot be judged",
    ]
    assert judge_budgets({"http": v}, budgets) == judge_budgets([v], budgets) == expected
    lone = Summary(None, (), (), (Budget("mysql", max_errors=0),))
    assert violations_of(lone) == [
        BudgetViolation(
            "mysql", "traffic", "mysql: no operations recorded; its budget cannot be judged"
        )
    ]


# -- attribution at its edges ------------------------------------------------------------------


def _charged(events: list[Event], fail_at: float) -> str:
    """The host an http window of failures from ``fail_at`` to ``fail_at`` + 1 goes to (no
    target known: every disrupted host could have been met)."""
    ops = [op(0), *(op(fail_at + i * 0.25, False) for i in range(4)), op(fail_at + 1)]
    (w,) = analyze(History(tuple(ops)), events).service("http").windows
    return w.host


def test_a_window_goes_to_the_disruption_that_began_last_before_it() -> None:
    """'Most recent' is by when a disruption began (its event's time less its duration), not by
    when the event was recorded; on a tie, the later event; one that began at the very instant
    the window opened counts as before it."""
    # app2's power off began at 2 but was recorded at 10, after app1's kill at 6
    late = [ev(6, "kill", "app1"), ev(10, "power off", "app2", took=8), ev(30, "recovered")]
    assert _charged(late, 11) == "app1"
    tie = [ev(6, "kill", "app1"), ev(6, "kill", "app2"), ev(30, "recovered")]
    assert _charged(tie, 11) == "app2"
    at_once = [ev(6, "kill", "app1"), ev(11, "kill", "app2"), ev(30, "recovered")]
    assert _charged(at_once, 11) == "app2"


def test_a_disruption_touching_a_window_overlaps_it() -> None:
    """Instants at the edge count: a disruption beginning as the window closes, or recovered as
    it opens, overlaps it; a 'recovered' at the very instant of the event ends it."""
    assert _charged([ev(12, "kill", "app1"), ev(30, "recovered")], 11) == "app1"
    assert _charged([ev(5, "kill", "app1"), ev(11, "recovered")], 11) == "app1"
    assert _charged([ev(5, "kill", "app1"), ev(5, "recovered")], 11) == "-"


def test_a_hostless_fault_hides_no_later_one_and_an_unrecovered_one_lasts() -> None:
    """A disruptive event without a host (a full restart) disrupts no host and does not stop
    the hosts' disruptions after it; one never recovered lasts to the end of the run."""
    events = [ev(1, "full restart", "", "boot order: app1", took=1), ev(3, "recovered"),
              ev(10, "power off", "lb1", took=1)]  # fmt: skip
    assert _charged(events, 11) == "lb1"


def test_without_the_stacks_host_names_only_a_targets_first_part_is_read() -> None:
    """No host names: 'lb2' is an entry that lb1's reboot did not meet, and 'lb1/app2' reads as
    lb1 alone, behind which the rebooted app1 may have been met."""
    lb1 = analyze(History(tuple(_http_through(["lb2"] * 4, 7))), _reboot("lb1", 5))
    assert [w.host for w in lb1.service("http").windows] == ["-"]
    app1 = analyze(History(tuple(_http_through(["lb1/app2"] * 4, 7))), _reboot("app1", 5))
    assert [w.host for w in app1.service("http").windows] == ["app1"]


def test_an_lb_the_client_could_not_name_makes_no_entry_of_the_app_behind_it() -> None:
    """A request through a renumbered LB records its address ('172.18.0.9/app1'): app1 served
    it and is no entry, so app1's reboot still explains failures through lb2."""
    renumbered = op(0.5, target="172.18.0.9/app1")
    ops = sorted([renumbered, *_http_through(["lb2"] * 4, 7)], key=lambda o: o.start)
    (w,) = analyze(History(tuple(ops)), _reboot("app1", 5), hosts=HOSTS).service("http").windows
    assert w.host == "app1"


# -- host rows ---------------------------------------------------------------------------------


def test_a_slow_reconnect_charges_only_the_row_it_happened_under() -> None:
    """A reconnect is a window without a failed op, charged to the host disrupted then: against
    a 3 s max_reconnect app1's 4 s reconnect is over, app2's of exactly 3 s is not."""
    events = _reboot("app1", 0) + _reboot("app2", 20)
    ops = [
        sio(0, name="echo"),
        sio(2, name="reconnect", took=4.0),
        sio(7, name="echo"),
        sio(22, name="reconnect", took=3.0),
        sio(26, name="echo"),
    ]
    budget = [Budget("socketio", max_reconnect=3.0)]
    summary, violations = summarize(History(tuple(ops)), events, budget, HOSTS)
    rows = [(r.host, r.reconnect_max_s, r.over) for r in summary.hosts]
    assert rows == [("app1", 4.0, ("max_reconnect",)), ("app2", 3.0, ())]
    assert [(v.measurement, v.hosts) for v in violations] == [("max_reconnect", ("app1",))]


def test_a_lost_write_no_host_explains_has_a_row_of_its_own() -> None:
    """While redis2 reboots, a write redis1 acknowledged is lost (a failed retry of that key
    through redis2 does not make it redis2's): the '-' row holds it and the violation is '-'."""
    writes = [
        op(0, service="redis", key="k0", name="set", target="redis1"),
        op(2, service="redis", key="k1", name="set", target="redis1"),
        op(2.5, False, service="redis", key="k1", name="set", target="redis2", error="refused"),
        op(4, service="redis", key="k2", name="set", target="redis1"),
    ]
    history = History(tuple(writes), {"redis": frozenset({"k0", "k2"})})
    budget = [Budget("redis", no_lost_writes=True)]
    summary, violations = summarize(history, _reboot("redis2", 0), budget, HOSTS)
    rows = [(r.host, r.windows, r.lost_writes, r.over) for r in summary.hosts]
    assert rows == [("redis2", 1, 0, ()), ("-", 0, 1, ("no_lost_writes",))]
    assert [(v.measurement, v.hosts) for v in violations] == [("no_lost_writes", ("-",))]


def test_host_rows_carry_each_services_share_and_verdict() -> None:
    """Each service has a '-' row only for what no host explains (with no faults); a row over
    two budgets names both; one with lost writes elsewhere adds none; a service without a
    budget says so."""
    http = [op(t, target="lb1/app1") for t in range(0, 30, 2)]
    redis = [
        op(2, service="redis", key="k1", name="set", target="redis2"),
        op(3, False, service="redis", key="k2", name="set", target="redis2", error="refused"),
        op(4, service="redis", key="k3", name="set", target="redis1"),
        op(20, False, service="redis", key="k4", name="set", target="redis1", error="refused"),
        op(21, service="redis", key="k5", name="set", target="redis1"),
    ]
    history = History(tuple(http + redis), {"redis": frozenset({"k3", "k5"})})
    budgets = [Budget("redis", max_errors=0, no_lost_writes=True)]
    summary, violations = summarize(history, _reboot("redis2", 0), budgets, HOSTS)
    rows = [
        (r.host, r.service, r.faults, r.errors, r.lost_writes, r.verdict) for r in summary.hosts
    ]
    off_on = ("power off", "power on")
    assert rows == [
        ("redis2", "http", off_on, 0, None, "no budget"),
        ("redis2", "redis", off_on, 1, 1, "over: max_errors, no_lost_writes"),
        ("-", "redis", (), 1, 0, "over: max_errors"),
    ]
    assert [(v.measurement, v.hosts) for v in violations] == [
        ("max_errors", ("redis2", "-")),
        ("no_lost_writes", ("redis2",)),
    ]
