"""Traffic without Docker: what the clients print becomes Ops and a History; outages are
windows; clients are placed where nginx's consistent hash spreads them; a client that died or
hangs is reported, never waited for forever."""

from __future__ import annotations

import dataclasses
import json

import pytest

from reboot_harness.errors import StackError
from reboot_harness.judging.traffic import service_windows
from reboot_harness.model.traffic import Op
from reboot_harness.traffic import (
    ClientConfig,
    Traffic,
    TrafficProfile,
    chash_points,
    chash_server,
    engine_outages,
    merge_present,
    op_from_dict,
    parse_output,
    spread_addresses,
)
from reboot_harness.traffic.config import SECRET_ENV
from tests.fakestack import FakeStack


def line(**fields: object) -> str:
    base: dict[str, object] = {
        "service": "http",
        "client": "http-c1-1",
        "op": "get /health",
        "start": 10.0,
        "end": 10.01,
        "ok": True,
        "target": "lb1/app1",
        "error": "",
        "key": "",
    }
    base.update(fields)
    return json.dumps(base)


def op(t: float, ok: bool, service: str = "http", name: str = "get /health", end: float = 0) -> Op:
    return Op(service, "c", name, t, end or t + 0.01, ok, error="" if ok else "timeout")


# -- parsing ----------------------------------------------------------------------------------
def test_parse_output_reads_ops_infos_and_the_final_line() -> None:
    """Operation lines become Ops in printed order, info lines are kept apart, and the final
    line gives the acknowledged keys read back per service."""
    text = "\n".join(
        [
            json.dumps({"info": "started", "t": 1.0}),
            line(),
            line(service="redis", client="redis-c1", op="set", key="k1", target="redis1"),
            line(ok=False, error="timeout", start=11.0, end=11.5),
            json.dumps({"present": {"redis": ["k1"], "mysql": []}, "verify_errors": {}}),
        ]
    )
    out = parse_output(text)
    assert [o.service for o in out.ops] == ["http", "redis", "http"]
    assert out.ops[2] == Op(
        "http", "http-c1-1", "get /health", 11.0, 11.5, False, "lb1/app1", "timeout"
    )
    assert out.present == {"redis": frozenset({"k1"}), "mysql": frozenset()}
    assert out.infos[0]["info"] == "started"
    assert out.bad_lines == 0
    assert out.acknowledged("redis") == frozenset({"k1"})


def test_parse_output_counts_bad_lines_and_a_cut_off_last_line() -> None:
    """A client killed mid-write leaves half a line; it and any non-operation are counted (and
    the first one shown), never raised; without a final line nothing was read back."""
    text = "\n".join(["not json", line(), json.dumps([1, 2]), line()[:30]])
    out = parse_output(text)
    assert len(out.ops) == 1
    assert out.bad_lines == 3
    assert out.first_bad.startswith("not json")
    assert out.present is None


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"service": "ftp"}, "service 'ftp' unknown"),
        ({"start": "soon"}, "'start' missing or not a number"),
        ({"ok": 1}, "'ok' missing or not a boolean"),
        ({"end": 9.0}, "end before start"),
        ({"key": 5}, "'key' is not a string"),
        ({"client": ""}, "'client' missing"),
    ],
)
def test_op_from_dict_names_the_bad_field(change: dict[str, object], message: str) -> None:
    """An operation line that is not an Op is rejected naming the field."""
    d = json.loads(line())
    d.update(change)
    with pytest.raises(ValueError, match=message):
        op_from_dict(d)


def test_merge_present_leaves_out_services_a_client_could_not_verify() -> None:
    """Read-back keys are merged over clients, but a service is judged only if every client
    that had acknowledged writes of it also read them back."""
    c1 = parse_output(
        "\n".join(
            [
                line(service="redis", op="set", key="a"),
                line(service="mysql", op="insert", key="m1"),
                json.dumps({"present": {"redis": ["a"], "mysql": ["m1"]}}),
            ]
        )
    )
    c2_died = parse_output(line(service="redis", op="set", key="b"))
    c3_no_writes = parse_output(json.dumps({"present": {}}))
    merged = merge_present([c1, c2_died, c3_no_writes])
    assert merged == {"mysql": frozenset({"m1"})}
    assert merge_present([c1, c3_no_writes]) == {
        "redis": frozenset({"a"}),
        "mysql": frozenset({"m1"}),
    }


# -- windows ----------------------------------------------------------------------------------
def test_downtime_window_runs_from_first_failure_start_to_next_success_start() -> None:
    """Overlapping failures are one window; it ends at the start of the first success after
    it; a window still open at the end has no end."""
    ops = [op(1.0, True), op(2.0, False, end=5.0), op(2.1, False), op(2.9, True), op(4.0, False)]
    windows = service_windows(ops, "http")
    assert [(w.start, w.end, w.errors, w.open) for w in windows] == [
        (2.0, 2.9, 2, False),
        (4.0, 5.0, 1, True),  # still open: it runs to the end of the client's last op
    ]
    assert windows[0].duration_s == pytest.approx(0.9)
    assert service_windows(ops, "redis") == []


def test_socketio_reconnect_ends_the_window_at_its_end() -> None:
    """A reconnect's start is when the connection was lost (its duration is the latency): the
    service is back at its end, not at its start."""
    ops = [
        op(5.0, False, "socketio", "disconnect", end=5.0),
        op(5.0, True, "socketio", "reconnect", end=8.5),
        op(8.6, True, "socketio", "echo"),
    ]
    (w,) = service_windows(ops, "socketio")
    assert (w.start, w.end) == (5.0, 8.5)


def test_engine_outages_pair_power_off_with_the_next_start() -> None:
    """A power cycle is down at its kill (SIGKILL: power lost) or die, whichever comes first,
    and back at the next start; one still off has no end; exec noise is ignored."""
    events = [
        (1.0, "start"),
        (5.0, "kill"),
        (5.2, "die"),
        (8.0, "start"),
        (9.0, "exec_start"),
        (12.0, "die"),
    ]
    assert engine_outages(events) == [(5.0, 8.0), (12.0, None)]
    assert engine_outages(events, down_on=("die",)) == [(5.2, 8.0), (12.0, None)]


# -- placement ----------------------------------------------------------------------------------
def test_chash_matches_what_nginx_did() -> None:
    """Measured on nginx 1.22 (`hash $remote_addr consistent`, app1:8000 and app2:8000):
    these client addresses were served by these backends."""
    points = chash_points(["app1:8000", "app2:8000"])
    assert len(points) == 320
    assert chash_server("172.30.159.252", points) == "app1:8000"
    assert chash_server("172.30.159.254", points) == "app2:8000"


def test_spread_addresses_alternates_backends_and_skips_used() -> None:
    """Clients get free addresses from the top of the /24, the i-th hashing to the i-th
    backend in turn; an exhausted range is an error naming it."""
    servers = ["app1:8000", "app2:8000"]
    points = chash_points(servers)
    used = {"10.9.8.254", "10.9.8.253"}
    placed = spread_addresses("10.9.8", used, 4, servers)
    assert [s for _, s in placed] == servers * 2
    assert all(a not in used and chash_server(a, points) == s for a, s in placed)
    assert len({a for a, _ in placed}) == 4
    with pytest.raises(ValueError, match=r"10\.9\.8\.250-254"):
        spread_addresses("10.9.8", set(), 8, servers, low=250)


# -- the Traffic object against the fake stack -------------------------------------------------
STARTED = json.dumps({"info": "started"})
TRACEBACK = "Traceback (most recent call last):\n  boom\n"
SECRETS = {"REDIS_PASSWORD": "r-secret", "MYSQL_APP_PASSWORD": "m-secret"}


def clients(fake: FakeStack, n: int, stderr: str = TRACEBACK, **printed: str) -> FakeStack:
    """Clients traffic-1..n print ``printed[traffic_i]`` (else only that they started)."""
    for i in range(1, n + 1):
        name = f"traffic-{i}"
        fake.prints(name, printed.get(name.replace("-", "_"), STARTED), stderr)
    return fake


def test_traffic_reports_a_dead_and_a_hung_client_and_removes_both() -> None:
    """A client that died mid-run and one that ignores the stop are named in problems; the
    hung one is killed; the history keeps what they printed; every container is removed;
    the passwords go in the environment, never in the printed configuration; the engine's
    events of the hosts while the traffic ran are kept."""
    printed = {
        "traffic_1": "\n".join([STARTED, line(service="redis", op="set", key="k", client="r")]),
        "traffic_2": "\n".join(
            [
                STARTED,
                line(start=20.0, end=20.1),
                json.dumps({"info": "dns answers served stale", "problem": False, "count": 3}),
                json.dumps({"info": "http ticks skipped", "problem": True, "skipped": 2}),
            ]
        ),
    }
    fake = clients(FakeStack(secrets=SECRETS), 2, **printed)
    fake.hang.add("traffic-2")
    traffic = Traffic(TrafficProfile(clients=2, metrics=False))
    traffic.start(fake, seed=7)
    env = fake.clients["traffic-1"].environment
    cfg = json.loads(env["RH_TRAFFIC_CONFIG"])
    assert cfg["dns_server"] == fake.static_address("dns")
    assert cfg["lbs"] == {fake.static_address(lb): lb for lb in ("lb1", "lb2")}
    assert "secret" not in json.dumps(cfg)
    assert env["REDIS_PASSWORD"] == "r-secret"

    fake.power_off("lb1")
    fake.power_on("lb1")
    fake.clients["traffic-1"].state = ("exited", 137, "killed: out of memory")
    history = traffic.stop(timeout=0.1)
    problems = "\n".join(traffic.problems)
    assert "traffic-1 had stopped before the end of the run (exited, exit 137" in problems
    assert "out of memory" in problems
    assert "traffic-2 did not finish within 0.1s" in problems
    assert "traceback" in problems
    assert "traffic-2: http ticks skipped (skipped=2)" in problems
    assert traffic.notes == ["traffic client traffic-2: dns answers served stale (count=3)"]
    assert "SIGKILL" in fake.clients["traffic-2"].signals
    assert "SIGTERM" not in fake.clients["traffic-1"].signals
    assert sorted(fake.removed) == ["traffic-1", "traffic-2"]
    assert [o.start for o in history.ops] == [10.0, 20.0]
    assert "redis" not in history.present  # acknowledged, never read back: cannot be judged
    assert [action for _, action in traffic.host_events("lb1")] == ["die", "start"]
    assert traffic.stop() is history


def test_traffic_start_failure_leaves_no_client() -> None:
    """A client that dies at start fails start() with its last words, and nothing is left."""
    fake = clients(FakeStack(), 2)
    fake.started_as = {"traffic-1": ("exited", 1, ""), "traffic-2": ("exited", 1, "")}
    traffic = Traffic(TrafficProfile(clients=2, metrics=False))
    with pytest.raises(StackError, match="stopped at start"):
        traffic.start(fake)
    assert sorted(fake.removed) == ["traffic-1", "traffic-2"]


def test_a_client_that_refuses_its_configuration_is_reported_in_one_line() -> None:
    """A client that exits 2 with the refusal line (the harness and the client image disagree
    on the configuration) fails start() at once with that line, one line naming the key and
    the way out; nothing is left."""
    refused = "rh-traffic: bad configuration: unknown key 'http_rte' (did you mean 'http_rate'?)"
    fake = clients(FakeStack(), 2).prints("traffic-1", STARTED, refused + "\n")
    fake.started_as["traffic-1"] = ("exited", 2, "")
    traffic = Traffic(TrafficProfile(clients=2, metrics=False))
    with pytest.raises(StackError) as e:
        traffic.start(fake, ready_timeout=5)
    message = str(e.value)
    assert message.startswith(
        "traffic client traffic-1 refused its configuration: unknown key 'http_rte'"
    )
    assert "restart the stack" in message and "\n" not in message
    assert sorted(fake.removed) == ["traffic-1", "traffic-2"]


def test_the_configuration_sent_is_one_complete_document() -> None:
    """Each client gets one JSON document with every key (the client defaults none), its own
    name, the run shared by all, and the passwords only in their own variables."""
    fake = clients(FakeStack(secrets=SECRETS), 2)
    traffic = Traffic(TrafficProfile(clients=2, metrics=False, redis_write_rate=1))
    traffic.start(fake, seed=5)
    traffic.abort()
    envs = {n: c.environment for n, c in fake.clients.items()}
    docs = {n: json.loads(env["RH_TRAFFIC_CONFIG"]) for n, env in envs.items()}
    keys = sorted(f.name for f in dataclasses.fields(ClientConfig))
    assert all(sorted(d) == keys for d in docs.values())
    assert [d["name"] for d in docs.values()] == ["c1", "c2"]
    assert docs["traffic-1"]["run"] == docs["traffic-2"]["run"]
    assert docs["traffic-1"]["run"].startswith("5-")
    assert docs["traffic-1"]["redis_write_rate"] == 1.0
    assert docs["traffic-1"]["sio_transports"] == [["polling", "websocket"], ["polling"]]
    assert sorted(envs["traffic-1"]) == sorted(["RH_TRAFFIC_CONFIG", *SECRET_ENV])
