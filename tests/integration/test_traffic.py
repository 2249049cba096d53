"""Real clients inside the stack's network record what users saw, and what they measure agrees
with what the engine did: an outage seen by the http clients begins and ends within 250 ms of
the docker events of the fault."""

from __future__ import annotations

import re
import time
from collections import Counter
from collections.abc import Iterator

import pytest

from reboot_harness.errors import StackError
from reboot_harness.judging.traffic import service_windows
from reboot_harness.model.traffic import History
from reboot_harness.stack.core import Stack
from reboot_harness.traffic import (
    Traffic,
    TrafficProfile,
    engine_outages,
    rate_summary,
)
from tests.integration.conftest import healthy_stack

pytestmark = pytest.mark.docker
AGREEMENT_S = 0.25


@pytest.fixture(scope="module")
def stack() -> Iterator[Stack]:
    """One healthy stack for the whole module, owned by this test process."""
    with healthy_stack("traffic") as s:
        yield s


def rotate(stack: Stack, *lbs: str) -> None:
    addresses = [stack.static_address(lb) for lb in lbs]
    res = stack.exec("dns", ["rh-dns-rotate", *addresses])
    assert res.ok, res.brief()


def heal(stack: Stack) -> None:
    """Whatever a test did: every host on, both LBs in rotation."""
    for host, c in stack.containers().items():
        if c.attrs["State"]["Status"] != "running":
            stack.power_on(host)
    rotate(stack, "lb1", "lb2")


def failures(history: History, service: str) -> Counter[str]:
    return Counter(o.error for o in history.ops if o.service == service and not o.ok)


def http_rates(history: History) -> dict[str, float]:
    """http client -> its requests per second from its first request's start to its last's."""
    starts: dict[str, list[float]] = {}
    for o in history.ops:
        if o.service == "http":
            starts.setdefault(o.client, []).append(o.start)
    return {c: (len(s) - 1) / max(max(s) - min(s), 1e-9) for c, s in starts.items() if len(s) > 1}


def test_every_service_is_measured_and_clients_spread(
    stack: Stack, record_property: pytest.RecordProperty
) -> None:
    """On a healthy stack every service records successful operations at its rate with no
    failure; every acknowledged write is read back; the two client containers are served by
    the backends their addresses hash to (one each); the containers are gone after stop."""
    traffic = Traffic()
    traffic.start(stack, seed=1)
    assert stack.clients() == ["traffic-1", "traffic-2"]
    time.sleep(15)
    began = time.monotonic()
    history = traffic.stop()
    took = time.monotonic() - began
    assert stack.clients() == []
    assert traffic.problems == []
    rates = rate_summary(history)
    record_property("rates_per_s", rates)
    print(f"rates per second: {rates}; stop() took {took:.1f}s")
    for service in ("http", "socketio", "redis", "mysql", "metrics"):
        oks = sum(1 for o in history.ops if o.service == service and o.ok)
        assert oks > 0, f"no successful {service} operation"
        assert not failures(history, service), (service, failures(history, service))
    # each http user keeps its open-loop rate (10 requests/s, no catch-up after a stall) over
    # its own span: the two client containers start a few seconds apart on a busy machine, so
    # the history's span (rates above) undercounts them
    own = http_rates(history)
    assert len(own) == 2 and all(r >= 7.5 for r in own.values()), (own, rates)
    ops = {o.op for o in history.ops if o.service == "socketio"}
    assert {"connect", "echo"} <= ops
    for service, write in (("redis", "set"), ("mysql", "insert")):
        acked = {o.key for o in history.ops if o.service == service and o.op == write and o.ok}
        assert acked and acked <= history.present[service], service
    assert traffic.spread() == {c: {app} for c, app in traffic.expected_backend.items()}
    assert set(traffic.expected_backend.values()) == {"app1", "app2"}
    targets = {o.target.split("/")[0] for o in history.ops if o.service == "http"}
    assert targets == {"lb1", "lb2"}, "DNS answers with both LBs: clients use both"


def test_rotated_out_lb_hard_killed_costs_no_http_request(stack: Stack) -> None:
    """lb1 taken out of DNS, the TTL waited, then lb1 loses power: http clients via DNS
    have moved to lb2 and see no failure (sockets still held on lb1 do drop)."""
    traffic = Traffic()
    traffic.start(stack, seed=2)
    try:
        time.sleep(3)
        rotate(stack, "lb2")
        time.sleep(2.5)  # TTL 1 s, plus a margin
        killed = time.time()
        stack.power_off("lb1", mode="hard")
        time.sleep(4)
        stack.power_on("lb1")
        back = time.time()
        time.sleep(2)
        rotate(stack, "lb1", "lb2")
        time.sleep(3)
    finally:
        heal(stack)
        history = traffic.stop()
    assert stack.clients() == []
    http = [o for o in history.ops if o.service == "http"]
    assert not failures(history, "http"), failures(history, "http")
    during = [o for o in http if killed <= o.start <= back]
    assert len(during) >= 60 and {o.target.split("/")[0] for o in during} == {"lb2"}
    assert {o.target.split("/")[0] for o in http if o.start > back + 3} == {"lb1", "lb2"}


def test_client_downtime_agrees_with_engine_events(
    stack: Stack, record_property: pytest.RecordProperty
) -> None:
    """With lb1 alone in DNS, a hard power-off of 3 s: the http clients' outage (first failed
    request's start -> first successful request's start) matches the engine's events within
    250 ms at both ends: power lost when the host leaves the network (``disconnect``, before
    its ``kill``; ``die`` is reported too) and back at ``start``."""
    traffic = Traffic(TrafficProfile(sio_clients=1, redis_write_rate=1, mysql_rate=1))
    traffic.start(stack, seed=3)
    try:
        rotate(stack, "lb1")
        time.sleep(3)  # every client's cached answer (TTL 1 s) now names lb1 only
        fault = time.time()
        stack.power_off("lb1", mode="hard")
        time.sleep(3)
        stack.power_on("lb1")
        time.sleep(3)
        rotate(stack, "lb1", "lb2")
        time.sleep(1.5)
    finally:
        heal(stack)
        history = traffic.stop()
    assert stack.clients() == []
    events = [(t, a) for t, a in traffic.host_events("lb1") if t >= fault - 0.1]
    ((down_at, up_at),) = engine_outages(events)
    die = next(t for t, action in events if action == "die")
    assert up_at is not None, events
    every = service_windows(history.ops, "http")
    windows = [w for w in every if w.start <= up_at and w.end >= down_at]
    assert len(windows) == 1, (every, events)
    (w,) = windows
    assert not w.open
    begin_ms, end_ms, die_ms = (
        (w.start - down_at) * 1000,
        (w.end - up_at) * 1000,
        (w.start - die) * 1000,
    )
    record_property("agreement_ms", {"begin": begin_ms, "end": end_ms, "begin_vs_die": die_ms})
    print(
        f"engine down {up_at - down_at:.3f}s, clients saw {w.end - w.start:.3f}s"
        f" ({w.errors} failed requests); begin {begin_ms:+.1f} ms (vs die {die_ms:+.1f} ms),"
        f" end {end_ms:+.1f} ms"
    )
    assert abs(begin_ms) <= AGREEMENT_S * 1000, (w, events)
    assert abs(end_ms) <= AGREEMENT_S * 1000, (w, events)


def test_a_client_that_dies_is_reported_not_waited_for(stack: Stack) -> None:
    """A client container killed mid-run: stop() returns promptly, names it, keeps the other
    client's history, does not judge the writes it could not read back, removes both."""
    traffic = Traffic()
    traffic.start(stack, seed=4)
    time.sleep(4)
    stack.signal_client("traffic-1", "SIGKILL")
    time.sleep(2)
    began = time.monotonic()
    history = traffic.stop()
    assert time.monotonic() - began < 45
    assert stack.clients() == []
    assert any("traffic-1 had stopped before the end" in p for p in traffic.problems)
    clients = {o.client.split("-")[1] for o in history.ops if o.service == "http"}
    assert clients == {"c1", "c2"}
    assert "redis" not in history.present and "mysql" not in history.present


def test_a_configuration_the_client_refuses_fails_start_at_once(stack: Stack) -> None:
    """The client image validates the document the harness sends: a value it refuses (a rate
    of 0) fails start() within seconds with the client's one line naming the key, nothing is
    waited for until the ready timeout, and no client is left."""
    traffic = Traffic(TrafficProfile(http_rate=0))
    began = time.monotonic()
    with pytest.raises(StackError) as e:
        traffic.start(stack, seed=5, ready_timeout=60)
    took = time.monotonic() - began
    assert re.match(
        r"traffic client traffic-\d refused its configuration: key 'http_rate': must be > 0",
        str(e.value),
    ), str(e.value)
    assert "\n" not in str(e.value)
    assert took < 30, took
    assert stack.clients() == []
