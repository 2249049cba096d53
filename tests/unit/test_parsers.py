"""Parsing of what the servers print, and the verdicts built on it (no Docker)."""

from __future__ import annotations

from typing import Any

import pytest

from reboot_harness.checks import shipped
from reboot_harness.checks.api import Problem
from reboot_harness.checks.context import Results
from reboot_harness.checks.directories import listening_ports, parse_pid_dir
from reboot_harness.checks.limits import parse_nofile
from reboot_harness.checks.mysql_replication import (
    ServerView,
    caught_up,
    errant,
    judge_replica,
    parse_gtids,
)
from reboot_harness.checks.nginx_log import (
    last_disabled,
    not_yet_back,
    parse_disabled,
    parse_fail_timeouts,
    parse_no_live,
    wrongly_unavailable,
)
from reboot_harness.checks.processes import parse_supervisor_status
from reboot_harness.checks.redis_roles import (
    NodeView,
    SentinelView,
    evaluate,
    why_not_promotable,
)
from reboot_harness.model.hostview import ExecResult
from reboot_harness.model.topology import Topology
from tests.fakestack import FakeStack

REDIS = Results(shipped.checks()["redis roles"])

LIMITS = """Limit                     Soft Limit           Hard Limit           Units
Max cpu time              unlimited            unlimited            seconds
Max open files            1024                 16384                files
Max locked memory         8388608              8388608              bytes
"""


def test_parse_nofile_reads_soft_and_hard() -> None:
    """The soft and hard open-file limits come from the 'Max open files' row."""
    assert parse_nofile(LIMITS) == (1024, 16384)
    assert parse_nofile(LIMITS.replace("1024 ", "unlimited")) == (-1, 16384)


def test_parse_nofile_without_row_raises() -> None:
    """A text without the row is an error, not a silent zero."""
    with pytest.raises(ValueError, match="Max open files"):
        parse_nofile("Limit Soft Hard\n")


def test_supervisor_status_parses_states_not_exit_codes() -> None:
    """BACKOFF and FATAL are read from the text (supervisorctl exits 0 for some of them)."""
    text = (
        "app                              BACKOFF   Exited too quickly (see the log)\n"
        "redis                            RUNNING   pid 12, uptime 0:01:02\n"
        "sentinel                         FATAL     Exited too quickly\n"
    )
    assert parse_supervisor_status(text) == {
        "app": "BACKOFF",
        "redis": "RUNNING",
        "sentinel": "FATAL",
    }
    assert parse_supervisor_status("unix:///run/supervisor.sock no such file\n") == {}


def test_pid_dir_names_pid_files_that_are_not_carbon() -> None:
    """A pid file naming a live carbon-cache is fine; one naming no process, or another
    process, is stale (left by the boot before); the directory is missing only when the host
    says so, and a reading without its END line shows nothing at all."""
    text = (
        "/var/lib/graphite/run\n"
        "dir _graphite 755\n"
        "pid /var/lib/graphite/run/carbon-cache-a.pid 9 carbon-cache\n"
        "pid /var/lib/graphite/run/carbon-cache-b.pid 8 -\n"
        "pid /var/lib/graphite/run/carbon-cache-c.pid 1 rh-host-init\n"
        "rh-end\n"
    )
    got = parse_pid_dir(text, "/run/graphite")
    assert got.path == "/var/lib/graphite/run" and got.exists
    assert got.owner_mode == "_graphite 755"
    assert got.stale() == [
        "/var/lib/graphite/run/carbon-cache-b.pid names pid 8, which no process has",
        "/var/lib/graphite/run/carbon-cache-c.pid names pid 1, which is now 'rh-host-init'",
    ]
    missing = parse_pid_dir("/run/graphite\nmissing\nrh-end\n", "/x")
    assert missing.complete and missing.missing and not missing.exists
    assert missing.stale() == []
    cut = parse_pid_dir("/run/graphite\npid /run/graphite/carbon-cache-a.pid 9 carb", "/x")
    assert not cut.complete and not cut.missing and cut.stale() == []
    empty = parse_pid_dir("", "/run/graphite")
    assert empty.path == "/run/graphite" and not empty.complete and not empty.missing


def test_listening_ports_only_listen_state() -> None:
    """Only sockets in state 0A (LISTEN) count; ports are hex."""
    text = (
        "  sl  local_address rem_address   st tx_queue rx_queue\n"
        "   0: 00000000:07D3 00000000:0000 0A 00000000:00000000\n"
        "   1: 0100007F:1F90 0100007F:C350 01 00000000:00000000\n"
    )
    assert listening_ports(text) == {2003}


def test_gtid_helpers() -> None:
    """Catch-up compares sequence numbers per domain; errant GTIDs are those the primary lacks."""
    assert parse_gtids("0-1-5,1-2-3") == [(0, 1, 5), (1, 2, 3)]
    assert parse_gtids("") == []
    assert caught_up("0-1-5", "0-1-5")
    assert not caught_up("0-1-4", "0-1-5")
    assert caught_up("0-1-4", "")
    assert not caught_up("", "0-1-1")
    assert errant("0-1-5", "0-1-7") == []
    assert errant("0-1-5,0-2-1", "0-1-7") == ["0-2-1"]
    assert errant("0-2-3", "0-2-2,0-1-9") == ["0-2-3"]


def _replica(**slave: object) -> ServerView:
    base: dict[str, object] = {
        "Master_Host": "mysql1",
        "Slave_IO_Running": "Yes",
        "Slave_SQL_Running": "Yes",
        "Last_IO_Errno": 0,
        "Last_SQL_Errno": 0,
    }
    base.update(slave)
    return ServerView(read_only=1, server_id=2, binlog_state="0-1-9", slave_pos="0-1-9", slave=base)


def _texts(problems: list[Problem]) -> list[str]:
    assert {p.cause for p in problems} <= {"backend-not-back"}
    return [p.text for p in problems]


def _said(problems: list[Problem]) -> list[tuple[str, str]]:
    return [(p.cause, p.text) for p in problems]


def test_judge_replica_healthy_and_each_fault() -> None:
    """Every property of the mysql replication check is judged, named and given its cause."""
    primary = ServerView(read_only=0, server_id=1, binlog_pos="0-1-9", binlog_state="0-1-9")
    assert judge_replica("mysql2", _replica(), "mysql1", primary, "10.0.0.41") == []
    io = judge_replica("mysql2", _replica(Slave_IO_Running="No"), "mysql1", primary, "x")
    assert _said(io) == [("replica-stopped", "Slave_IO_Running=No")]
    err = judge_replica(
        "mysql2",
        _replica(Last_IO_Errno=1045, Last_IO_Error="Access denied", Slave_IO_Running="Connecting"),
        "mysql1",
        primary,
        "x",
    )
    assert err[0].cause == "replica-io-error" and err[0].text.startswith("Last_IO_Errno=1045")
    sql = judge_replica("mysql2", _replica(Last_SQL_Errno=1062), "mysql1", primary, "x")
    assert sql[0].cause == "replica-sql-error"
    behind = ServerView(**{**_replica().__dict__, "slave_pos": "0-1-3"})
    lag = judge_replica("mysql2", behind, "mysql1", primary, "x")
    assert lag[0].cause == "replica-behind" and lag[0].text.startswith("behind")
    local = ServerView(**{**_replica().__dict__, "binlog_state": "0-1-9,0-2-1"})
    assert _said(judge_replica("mysql2", local, "mysql1", primary, "x")) == [
        ("errant-transactions", "errant transactions 0-2-1")
    ]
    writable = ServerView(**{**_replica().__dict__, "read_only": 0})
    assert _said(judge_replica("mysql2", writable, "mysql1", primary, "x")) == [
        ("replica-writable", "read_only=0")
    ]
    other = judge_replica("mysql2", _replica(Master_Host="mysql3"), "mysql1", primary, "x")
    assert other[0].cause == "replica-wrong-primary"
    none = ServerView(**{**_replica().__dict__, "slave": {}})
    assert judge_replica("mysql2", none, "mysql1", primary, "x")[0].cause == "not-a-replica"


def test_parse_disabled_lines_since() -> None:
    """Only 'temporarily disabled' lines at or after `since` are returned, with the backend."""
    log = (
        "2026/11/26 10:00:00 [warn] 7#7: *1 upstream server temporarily disabled while connecting"
        ' to upstream, client: 172.30.0.1, server: _, request: "GET /health HTTP/1.1",'
        ' upstream: "http://172.30.0.21:8000/health", host: "x"\n'
        "2026/11/26 10:00:05 [error] 7#7: *2 no live upstreams while connecting to upstream\n"
        "2026/11/26 10:00:09 [warn] 7#7: *3 upstream server temporarily disabled while reading"
        ' response header from upstream, upstream: "http://172.30.0.22:8000/health"\n'
    )
    found = parse_disabled(log, since=0)
    assert [(d.address, d.port) for d in found] == [("172.30.0.21", 8000), ("172.30.0.22", 8000)]
    later = parse_disabled(log, since=found[1].at)
    assert [d.address for d in later] == ["172.30.0.22"]


def test_nginx_judges_marked_and_held_unavailable_against_serving_since() -> None:
    """A backend disabled after it started serving was healthy ("marked"); "no live upstreams"
    while a backend was serving means nginx held a healthy one out ("held"); a backend disabled
    while it was down (its `since` is later) is not held against nginx."""
    log = (
        "2026/11/26 10:00:00 [warn] 7#7: *1 upstream server temporarily disabled while reading"
        ' response header from upstream, upstream: "http://172.30.0.21:8000/socket.io/"\n'
        "2026/11/26 10:00:12 [warn] 7#7: *9 upstream server temporarily disabled while reading"
        ' response header from upstream, upstream: "http://172.30.0.22:8000/socket.io/"\n'
        "2026/11/26 10:00:13 [error] 7#7: *10 no live upstreams while connecting to upstream\n"
        "2026/11/26 10:00:13 [error] 7#7: *11 no live upstreams while connecting to upstream\n"
        "2026/11/26 10:00:14 [error] 7#7: *12 no live upstreams while connecting to upstream\n"
    )
    t0 = 1795687200.0  # 2026/11/26 10:00:00 UTC
    assert parse_no_live(log, since=0) == [t0 + 13, t0 + 13, t0 + 14]
    assert parse_no_live(log, since=t0 + 14) == [t0 + 14]
    by_address = {"172.30.0.21": "app1", "172.30.0.22": "app2"}
    # app1 rebooted at 10:00:00 and serves again from 10:00:04; app2 is rebooting (down).
    problems = wrongly_unavailable(
        parse_disabled(log, 0), parse_no_live(log, 0), {"app1": t0 + 4}, by_address
    )
    assert _said(problems) == [
        (
            "healthy-backend-held-out",
            "healthy backend held unavailable: 'no live upstreams' at 10:00:13 (app1 serving), "
            "10:00:14 (app1 serving)",
        )
    ]
    # Both back before any of it: app1 disabled at 10:00:00 while serving since 09:59:00.
    both = {"app1": t0 - 60, "app2": t0 - 60}
    marked = wrongly_unavailable(parse_disabled(log, 0), [], both, by_address)
    assert _said(marked) == [
        (
            "healthy-backend-marked-down",
            "healthy backend marked unavailable: app1 at 10:00:00, app2 at 10:00:12",
        )
    ]
    # Nobody serving when nginx had no live upstream: nothing to hold against nginx.
    assert wrongly_unavailable([], parse_no_live(log, 0), {}, by_address) == []


def test_nginx_waits_for_fail_timeout_after_a_backends_last_failure() -> None:
    """A serving backend is back in an LB's rotation only fail_timeout (+1 s of log rounding)
    after the last failure nginx logged against it; "no live upstreams" names no backend."""
    config = (
        "# configuration file /etc/nginx/conf.d/app.conf:\n"
        "upstream app {\n    zone app 64k;\n    hash $remote_addr consistent;\n"
        "    server app1:8000 max_fails=3 fail_timeout=2s;\n"
        "    server app2:8000 max_fails=1;\n}\n"
        "server {\n    listen 80 default_server;\n    server_name _;\n}\n"
    )
    assert parse_fail_timeouts(config) == {"app1": 2.0, "app2": 10.0}
    assert parse_fail_timeouts("    server app1:8000 fail_timeout=500ms;\n") == {"app1": 0.5}
    log = (
        "2026/11/26 10:00:00 [error] 7#7: *1 connect() failed (111: Connection refused) while"
        ' connecting to upstream, client: 172.30.0.1, upstream: "http://172.30.0.22:8000/"\n'
        "2026/11/26 10:00:01 [warn] 7#7: *2 upstream server temporarily disabled while"
        ' connecting to upstream, upstream: "http://172.30.0.22:8000/health"\n'
        "2026/11/26 10:00:03 [error] 7#7: *5 connect() failed (111: Connection refused) while"
        ' connecting to upstream, upstream: "http://172.30.0.21:8000/health"\n'
        "2026/11/26 10:00:05 [error] 7#7: *6 upstream timed out (110: Connection timed out)"
        ' while connecting to upstream, upstream: "http://172.30.0.21:8000/socket.io/"\n'
        "2026/11/26 10:00:05 [warn] 7#7: *6 upstream server temporarily disabled while"
        ' connecting to upstream, upstream: "http://172.30.0.21:8000/socket.io/"\n'
        "2026/11/26 10:00:06 [error] 7#7: *7 no live upstreams while connecting to upstream,"
        ' upstream: "http://app/health"\n'
        "2026/11/26 10:00:09 [info] 7#7: *9 client closed connection, upstream:"
        ' "http://172.30.0.22:8000/socket.io/"\n'
    )
    t0 = 1795687200.0  # 2026/11/26 10:00:00 UTC
    disabled = last_disabled(log)
    assert disabled == {
        "172.30.0.21": (t0 + 5, "upstream timed out (110: Connection timed out)"),
        "172.30.0.22": (t0 + 1, "connect() failed (111: Connection refused)"),
    }
    by_address = {"172.30.0.21": "app1", "172.30.0.22": "app2"}
    timeouts = parse_fail_timeouts(config)
    both = ["app1", "app2"]
    assert _texts(not_yet_back(disabled, timeouts, both, by_address, now=t0 + 7.5)) == [
        "not yet back in rotation: app1 (disabled at 10:00:05 after: upstream timed out (110:"
        " Connection timed out); fail_timeout 2s), app2 (disabled at 10:00:01 after: connect()"
        " failed (111: Connection refused); fail_timeout 10s)"
    ]
    assert _texts(not_yet_back(disabled, timeouts, both, by_address, now=t0 + 8.0)) == [
        "not yet back in rotation: app2 (disabled at 10:00:01 after: connect() failed (111:"
        " Connection refused); fail_timeout 10s)"
    ]
    assert not_yet_back(disabled, timeouts, both, by_address, now=t0 + 12.0) == []
    # A backend that is not serving is the processes check's business, not this one's.
    assert [
        p.text.split(" (")[0]
        for p in not_yet_back(disabled, timeouts, ["app2"], by_address, now=t0 + 7.5)
    ] == ["not yet back in rotation: app2"]
    # Errors that stay below max_fails (a stray timeout or reset) take nothing out of rotation.
    stray = "\n".join(line for line in log.splitlines() if "temporarily disabled" not in line)
    assert last_disabled(stray) == {}


def _sentinel(master: str = "redis1", replicas: int = 2, sentinels: int = 3) -> SentinelView:
    return SentinelView(
        master=master, ckquorum="OK 3 usable Sentinels", replicas=replicas, sentinels=sentinels
    )


def test_redis_all_replicas_names_zero_masters_and_the_cycle() -> None:
    """The post-mortem's failure: every node a replica reads '0 masters' with who follows whom."""
    nodes = {
        "redis1": NodeView(role="slave", master="redis2", link="up"),
        "redis2": NodeView(role="slave", master="redis3", link="up"),
        "redis3": NodeView(role="slave", master="redis1", link="up"),
    }
    results = evaluate(REDIS, nodes, {h: _sentinel() for h in nodes}, 2, 3)
    assert [r.ok for r in results] == [False, False, False]
    assert results[0].observed == (
        "0 masters (redis1 slave of redis2, redis2 slave of redis3, redis3 slave of redis1)"
    )


def test_redis_healthy_and_stale_sentinel_state() -> None:
    """One master with linked replicas passes; a sentinel with a stale replica entry fails."""
    nodes = {
        "redis1": NodeView(role="master"),
        "redis2": NodeView(role="slave", master="redis1", link="up"),
        "redis3": NodeView(role="slave", master="redis1", link="up"),
    }
    sents = {h: _sentinel() for h in nodes}
    assert all(r.ok for r in evaluate(REDIS, nodes, sents, 2, 3))
    sents["redis3"] = _sentinel(replicas=3)
    bad = [r for r in evaluate(REDIS, nodes, sents, 2, 3) if not r.ok]
    assert [(r.host, r.observed) for r in bad] == [("redis3", "sentinel knows 3 replicas")]


def test_redis_replica_link_down_and_wrong_master() -> None:
    """A replica whose link is down, or that follows another replica, is named."""
    nodes = {
        "redis1": NodeView(role="master"),
        "redis2": NodeView(role="slave", master="redis1", link="down"),
        "redis3": NodeView(role="slave", master="redis2", link="up"),
    }
    sents = {h: _sentinel() for h in nodes}
    sents["redis2"] = _sentinel(master="redis2")
    bad = {r.host: r.observed for r in evaluate(REDIS, nodes, sents, 2, 3) if not r.ok}
    assert bad == {
        "redis2": "master_link_status down; sentinel names master redis2",
        "redis3": "slave of redis2, not of redis1",
    }


def test_a_replica_under_writes_is_caught_up_with_the_primary_read_before_it() -> None:
    """With writes going on the primary read after the replica is always ahead: the replica is
    judged against the primary as read before it (and errant GTIDs against the one after)."""
    replica = _replica()  # applied 0-1-9
    after = ServerView(read_only=0, server_id=1, binlog_pos="0-1-12", binlog_state="0-1-12")
    before = ServerView(read_only=0, server_id=1, binlog_pos="0-1-9", binlog_state="0-1-9")
    assert judge_replica("mysql2", replica, "mysql1", after, "x", before) == []
    ahead = ServerView(read_only=0, server_id=1, binlog_pos="0-1-10", binlog_state="0-1-10")
    lag = judge_replica("mysql2", replica, "mysql1", after, "x", ahead)
    assert [p.cause for p in lag] == ["replica-behind"]


def test_comeback_tells_a_partial_from_a_full_resync() -> None:
    """Counters of the servers up both times decide: a full resync served while the host was
    away is 'full resync'; only partial ones, 'partial'; none, 'no resync seen'. The rebooted
    host's own counters (restarted with it) do not count."""
    from reboot_harness.steps.comeback import RedisCounters as C
    from reboot_harness.steps.comeback import describe_redis

    was = {
        "redis1": C(full=2, partial_ok=1, offset=1000, backlog=1 << 20, role="master"),
        "redis2": C(role="slave"),
        "redis3": C(role="slave"),
    }
    partial = {**was, "redis1": C(full=2, partial_ok=2, offset=5096, backlog=1 << 20,
                                  role="master"), "redis2": C(full=9, role="slave")}  # fmt: skip
    assert describe_redis(was, partial, "redis2") == (
        "redis: partial resync (0 full, 1 partial; 4.0 KB written while away, backlog 1.0 MB)"
    )
    full = {**was, "redis1": C(full=3, partial_ok=1, partial_err=1, offset=3 << 20,
                               backlog=1 << 20, role="master")}  # fmt: skip
    assert describe_redis(was, full, "redis2").startswith(
        "redis: full resync (1 full, 0 partial, 1 partial refused; 3.0 MB written while away"
    )
    assert describe_redis(was, was, "redis2").startswith("redis: no resync seen (0 full")


def test_comeback_counts_transactions_per_domain() -> None:
    from reboot_harness.steps.comeback import transactions_between

    assert transactions_between("0-1-100", "0-2-130") == 30  # a failover keeps the sequence
    assert transactions_between("0-1-100", "0-1-100,1-1-5") == 5
    assert transactions_between("", "0-1-7") == 7


def _lb_stack(incomplete_reads: int) -> FakeStack:
    """An LB whose nginx read comes back as scripted (then complete); /health is not served
    (refused). Each read is an exec recorded in the fake's calls."""
    from reboot_harness.checks import nginx

    stack = FakeStack()

    def read(host: str, _argv: list[str]) -> ExecResult:
        reach = "".join(
            f'{app}:8000\t{ip}\tHTTP/1.1 200 OK\t{{"ok": true, "host": "{app}"}}\n'
            for app, ip in (("app1", "172.30.0.21"), ("app2", "172.30.0.22"))
        )
        whole = f"log\n{nginx._SPLIT}\nconfig\n{nginx._REACH_SPLIT} rc=0\n{reach}{nginx._END}\n"
        out = reach if _reads(stack) <= incomplete_reads else whole
        return ExecResult(0, out, "")

    return stack.on("lb1", "", read)


def _reads(stack: FakeStack) -> int:
    return sum(1 for method, host, _ in stack.calls if (method, host) == ("exec", "lb1"))


def _judge_one_lb(stack: FakeStack) -> Any:
    from reboot_harness.checks import nginx, shipped
    from reboot_harness.checks.context import Round

    ctx = Round(stack, statuses=stack.statuses()).context(shipped.checks()["nginx"])  # type: ignore[arg-type]
    apps = nginx._Apps(
        {"app1": "172.30.0.21", "app2": "172.30.0.22"},
        {"172.30.0.21": "app1", "172.30.0.22": "app2"},
        {"app1": "172.30.0.21", "app2": "172.30.0.22"},
        {"app1": 0.0, "app2": 0.0},
    )
    try:
        return nginx._judge_lb(ctx, "lb1", apps)
    finally:
        stack.close()


def test_nginx_reads_again_when_the_read_came_back_without_its_sections() -> None:
    """An exit-0 read lacking its section markers is incomplete, not a view of nginx: read
    again; twice incomplete is host-unreadable saying so (never "no upstream server")."""
    once = _lb_stack(incomplete_reads=1)
    result = _judge_one_lb(once)
    assert _reads(once) == 2
    assert "host-unreadable" not in result.causes and "backend-unreachable" not in result.causes
    assert result.causes == ("lb-not-answering",), result  # (/health is not served here)
    twice = _lb_stack(incomplete_reads=2)
    result = _judge_one_lb(twice)
    assert _reads(twice) == 2 and "host-unreadable" in result.causes
    assert "cannot read lb1's nginx (twice " in result.observed
    assert "bytes without all its sections" in result.observed


def test_nginx_holding_out_an_app_it_met_down_is_its_health_check_not_a_healthy_one_held_out() -> (
    None
):
    """While app1 booted, requests through the LB failed on it and nginx disabled it (10:00:02,
    before app1 served from 10:00:03); for its fail_timeout nginx then answers "no live
    upstreams" although app1 serves — what its passive health check is configured to do after a
    backend that was really down. Only once that fail_timeout (+1 s of log rounding) has run out
    is a "no live upstreams" a healthy backend held out. (Seen as an `up` that never passed:
    the line stayed in the wait's window for good.)"""
    log = (
        "2026/11/26 10:00:02 [warn] 7#7: *1 upstream server temporarily disabled while connecting"
        ' to upstream, upstream: "http://172.30.0.21:8000/health"\n'
        "2026/11/26 10:00:05 [error] 7#7: *2 no live upstreams while connecting to upstream\n"
        "2026/11/26 10:00:09 [error] 7#7: *3 no live upstreams while connecting to upstream\n"
    )
    t0 = 1795687200.0  # 2026/11/26 10:00:00 UTC
    by_address = {"172.30.0.21": "app1", "172.30.0.22": "app2"}
    args = (parse_disabled(log, 0), parse_no_live(log, 0), {"app1": t0 + 3}, by_address)
    legit = wrongly_unavailable(*args, {"app1": 3.0}, parse_disabled(log, 0))
    assert _said(legit) == [
        (
            "healthy-backend-held-out",
            "healthy backend held unavailable: 'no live upstreams' at 10:00:09 (app1 serving)",
        )
    ]
    # without the history (as before): 10:00:05 was counted against nginx too
    assert "10:00:05" in _said(wrongly_unavailable(*args))[0][1]


_GOOD_REPLICA = {"flags": "slave", "last-ok-ping-reply": "300", "info-refresh": "9000",
                 "slave-priority": "100"}  # fmt: skip


@pytest.mark.parametrize(
    ("changed", "master_flags", "why"),
    [
        pytest.param({}, "master", "", id="candidate"),
        pytest.param({"flags": "slave,disconnected"}, "master", "flags slave,disconnected",
                     id="disconnected"),
        pytest.param({"flags": "s_down,slave"}, "master", "flags s_down,slave", id="s-down"),
        pytest.param({"last-ok-ping-reply": "5200"}, "master", "last ping answered 5200 ms ago",
                     id="ping-old"),
        pytest.param({"info-refresh": "31000"}, "master", "INFO 31000 ms old", id="info-old"),
        pytest.param({}, "s_down,master", "INFO 9000 ms old", id="info-old-master-down"),
        pytest.param({"slave-priority": "0"}, "master", "replica-priority 0", id="priority-0"),
        pytest.param({"info-refresh": "?"}, "master", "its ping, INFO age or priority unreadable",
                     id="unreadable"),
    ],
)  # fmt: skip
def test_a_replica_is_promotable_by_sentinels_own_rule(
    changed: dict[str, str], master_flags: str, why: str
) -> None:
    """Sentinel's choice of a replica to promote (sentinelSelectSlave): not down or
    disconnected in its view, a ping answered within 5 s, INFO no older than 30 s (5 s while
    the master is subjectively down), priority not 0."""
    assert why_not_promotable({**_GOOD_REPLICA, **changed}, master_flags) == why


def test_redis_servers_without_sentinel_are_judged_alone() -> None:
    """A topology whose redis hosts run no sentinel (a queue's lone redis, replicas set by
    hand): one master and its replicas linked is healthy, with no sentinel asked or named."""
    lone = evaluate(REDIS, {"queue": NodeView(role="master")}, {}, 0, 0)
    assert [(r.host, r.ok, r.expected, r.observed) for r in lone] == [
        ("queue", True, "1 master; 0 replicas linked to it", "master")
    ]
    assert lone[0].subjects == ("queue/redis",)
    # a lone redis that came back a replica (a stale `replicaof`): nobody can write
    stale = evaluate(REDIS, {"queue": NodeView(role="slave", master="old", link="down")}, {}, 0, 0)
    assert [(r.ok, r.causes) for r in stale] == [(False, ("zero-masters",))]
    pair = {"q1": NodeView(role="master"), "q2": NodeView(role="slave", master="q1", link="up")}
    assert all(r.ok for r in evaluate(REDIS, pair, {}, 1, 0))
    pair["q2"] = NodeView(role="slave", master="q1", link="down")
    assert [r.causes for r in evaluate(REDIS, pair, {}, 1, 0) if not r.ok] == [
        ("replica-link-down",)
    ]


def test_sentinels_on_hosts_of_their_own_are_judged_by_their_view() -> None:
    """Sentinels alone on their hosts: each must name the master and know every replica and
    sentinel; a sentinel's host that is off is host-down, not a sentinel that disagrees."""
    nodes = {"r1": NodeView(role="master"), "r2": NodeView(role="slave", master="r1", link="up")}
    sents = {h: _sentinel(master="r1", replicas=1, sentinels=3) for h in ("s1", "s2", "s3")}
    results = evaluate(REDIS, nodes, sents, 1, 3)
    assert [(r.host, r.ok) for r in results] == [
        ("r1", True), ("r2", True), ("s1", True), ("s2", True), ("s3", True),
    ]  # fmt: skip
    assert {r.host: r.subjects for r in results}["s1"] == ("s1/sentinel",)
    assert {r.host: r.observed for r in results}["s1"] == "sentinel agrees"
    sents["s2"] = _sentinel(master="r2", replicas=1, sentinels=3)
    sents["s3"] = SentinelView(error="off", down=True)
    bad = {r.host: r.causes for r in evaluate(REDIS, nodes, sents, 1, 3) if not r.ok}
    assert bad == {"s2": ("sentinel-wrong-master",), "s3": ("host-down",)}


def test_the_sentinel_hosts_are_those_whose_daemons_name_it() -> None:
    from reboot_harness.checks.redis_roles import subjects

    seed = Topology()
    assert seed.sentinel_hosts == seed.redis_hosts
    assert subjects(seed)[:2] == ("redis1/redis", "redis1/sentinel")
    queue = Topology(redis_hosts=("queue",), daemons={"queue": ("redis-server",),
                                                      "w1": ("supervisord",)})  # fmt: skip
    assert (queue.sentinel_hosts, subjects(queue)) == ((), ("queue/redis",))
    apart = Topology(redis_hosts=("r1",), daemons={"r1": ("redis-server",),
                                                   "s1": ("redis-sentinel",)})  # fmt: skip
    assert (apart.sentinel_hosts, subjects(apart)) == (("s1",), ("r1/redis", "s1/sentinel"))
