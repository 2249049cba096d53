"""mysql replication: one writable primary, every replica read-only, replicating, caught up,
and without transactions of its own (errant GTIDs)."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from reboot_harness.checks.api import Context, Problem, check
from reboot_harness.checks.base import ask_each, primary_cause, short_error
from reboot_harness.model.results import CheckResult
from reboot_harness.model.topology import Topology

NAME = "mysql replication"

Gtid = tuple[int, int, int]  # domain, server, sequence


def parse_gtids(text: str) -> list[Gtid]:
    """MariaDB GTID list ``0-1-5,1-2-3`` → [(0, 1, 5), (1, 2, 3)]."""
    out = []
    for part in (text or "").replace("\n", "").split(","):
        part = part.strip()
        if part:
            d, s, n = part.split("-")
            out.append((int(d), int(s), int(n)))
    return out


def caught_up(replica_slave_pos: str, primary_binlog_pos: str) -> bool:
    """Has the replica applied, in every domain, at least the primary's last sequence number?"""
    applied = {d: n for d, _s, n in parse_gtids(replica_slave_pos)}
    return all(applied.get(d, -1) >= n for d, _s, n in parse_gtids(primary_binlog_pos))


def errant(replica_binlog_state: str, primary_binlog_state: str) -> list[str]:
    """GTIDs in the replica's binlog that the primary never had: local writes on the replica."""
    primary = {(d, s): n for d, s, n in parse_gtids(primary_binlog_state)}
    return [
        f"{d}-{s}-{n}"
        for d, s, n in parse_gtids(replica_binlog_state)
        if primary.get((d, s), -1) < n
    ]


@dataclass
class ServerView:
    read_only: int = -1
    server_id: int = -1
    binlog_pos: str = ""
    binlog_state: str = ""
    slave_pos: str = ""
    slave: dict[str, Any] = field(default_factory=dict)
    error: str = ""
    down: bool = False


def _query(ctx: Context, host: str) -> ServerView:
    reason = ctx.down(host)
    if reason:
        return ServerView(error=reason, down=True)
    import pymysql  # here, not at the top: declaring the check needs no MySQL client
    import pymysql.cursors

    try:
        ip, port = ctx.endpoint(host, ctx.topology.mysql_port)
        conn = pymysql.connect(
            host=ip,
            port=port,
            user="root",
            password=ctx.secrets.get("MYSQL_ROOT_PASSWORD", ""),
            connect_timeout=3,
            read_timeout=3,
            cursorclass=pymysql.cursors.DictCursor,
            # PyMySQL 1.1.2+ prefers TLS: a context with the system's CAs per connection, the
            # checks' largest CPU cost after the engine's API (the servers here have no TLS)
            ssl_disabled=True,
        )
    except Exception as e:
        return ServerView(error=short_error(e))
    try:
        with conn.cursor() as cur:
            cur.execute(
                "SELECT @@read_only AS ro, @@server_id AS sid, @@gtid_binlog_pos AS bpos,"
                " @@gtid_binlog_state AS bstate, @@gtid_slave_pos AS spos"
            )
            row = cur.fetchone() or {}
            cur.execute("SHOW SLAVE STATUS")
            slave = cur.fetchone() or {}
        return ServerView(
            read_only=int(row["ro"]),
            server_id=int(row["sid"]),
            binlog_pos=str(row["bpos"] or ""),
            binlog_state=str(row["bstate"] or ""),
            slave_pos=str(row["spos"] or ""),
            slave=dict(slave),
        )
    except Exception as e:
        return ServerView(error=short_error(e))
    finally:
        conn.close()


def judge_replica(
    host: str,
    view: ServerView,
    primary: str,
    primary_view: ServerView,
    primary_address: str,
    primary_before: ServerView | None = None,
) -> list[Problem]:
    """Everything wrong with one replica, most telling first (empty when it is healthy).

    ``primary_view`` is the primary read after the replica (errant transactions are judged
    against it), ``primary_before`` read before it (the replica must have applied that much;
    default: ``primary_view``)."""
    target = primary_before or primary_view
    problems = []
    writable = (
        [Problem("replica-writable", f"read_only={view.read_only}")] if view.read_only != 1 else []
    )
    s = view.slave
    if not s:
        return [Problem("not-a-replica", "not a replica (SHOW SLAVE STATUS empty)"), *writable]
    if s.get("Master_Host") not in (primary, primary_address):
        problems.append(
            Problem(
                "replica-wrong-primary", f"replicates from {s.get('Master_Host')}, not {primary}"
            )
        )  # fmt: skip
    # A thread that is not running because of its error is that error (replica-io-error,
    # replica-sql-error); replica-stopped is a thread not running without one.
    for running, key, msg, cause in (
        ("Slave_IO_Running", "Last_IO_Errno", "Last_IO_Error", "replica-io-error"),
        ("Slave_SQL_Running", "Last_SQL_Errno", "Last_SQL_Error", "replica-sql-error"),
    ):
        state = f"{running}={s.get(running)}"
        if int(s.get(key) or 0) != 0:
            text = f"{key}={s.get(key)} ({str(s.get(msg, ''))[:120]})"
            problems.append(
                Problem(cause, text + ("" if s.get(running) == "Yes" else f"; {state}"))
            )
        elif s.get(running) != "Yes":
            problems.append(Problem("replica-stopped", state))
    problems += writable
    bad = errant(view.binlog_state, primary_view.binlog_state)
    if bad:
        problems.append(Problem("errant-transactions", f"errant transactions {','.join(bad)}"))
    if not caught_up(view.slave_pos, target.binlog_pos):
        problems.append(
            Problem(
                "replica-behind",
                f"behind: gtid_slave_pos {view.slave_pos or '(empty)'} <"
                f" primary gtid_binlog_pos {target.binlog_pos} (read before the replica)",
            )
        )
    return problems


def subjects(topo: Topology) -> tuple[str, ...]:
    return tuple(topo.mysql_hosts)


@check(
    NAME,
    description="every mysql host",
    roles=("mysql_hosts",),
    subjects=subjects,
    unobserved=("mysql-unreachable", "primary-unknown"),
    causes={
        "mysql-unreachable": "a server does not answer",
        "primary-unknown": "no answering server is writable and another did not answer: which is"
        " the primary cannot be told",
        "no-primary": "every server answered and none is writable (read_only=0)",
        "several-primaries": "more than one server is writable",
        "replica-writable": "a replica is not read_only",
        "not-a-replica": "a server that is not the primary replicates from nobody",
        "replica-wrong-primary": "a replica replicates from another host than the primary",
        "replica-io-error": "the replica's IO thread failed (connect, authentication, binlog)",
        "replica-sql-error": "the replica's SQL thread failed applying a transaction",
        "replica-stopped": "a replication thread is not running, without an error",
        "errant-transactions": "a replica holds transactions the primary never had",
        "replica-behind": "a replica has not applied everything the primary has",
    },
)
def check_mysql(ctx: Context) -> list[CheckResult]:
    hosts = ctx.topology.mysql_hosts
    deadline = ctx.deadline()
    while True:
        views = _query_all(ctx, hosts)
        writable = [h for h, v in views.items() if v.read_only == 0 and not v.error]
        before = None
        if len(writable) == 1:
            # With writes going on, a replica is caught up when it has applied everything the
            # primary had *before* the replica was read; a transaction is errant when the
            # primary had not got it even *after*. So: primary, replicas, primary again.
            primary = writable[0]
            before = _query(ctx, primary)
            views.update(_query_all(ctx, [h for h in hosts if h != primary]))
            views[primary] = _query(ctx, primary)
            if before.error:  # no "before": judge against the primary as read after
                before = None
        results = _evaluate(ctx, views, before)
        # Only lag may heal by itself within the deadline; anything else is reported at once.
        lagging = [r for r in results if not r.ok and r.causes == ("replica-behind",)]
        if not lagging or time.monotonic() >= deadline:
            return results
        time.sleep(0.2)


def _query_all(ctx: Context, hosts: Sequence[str]) -> dict[str, ServerView]:
    return ask_each(hosts, lambda host: _query(ctx, host))


def _evaluate(
    ctx: Context, views: dict[str, ServerView], before: ServerView | None = None
) -> list[CheckResult]:
    """Judge the set; ``before`` is the primary as read before its replicas (what they must
    have applied), ``views[primary]`` as read after them (what they must not have beyond)."""
    expected_primary = "the only writable server (read_only=0)"
    expected_replica = (
        "read_only=1, IO and SQL threads Yes, no errors, caught up with the primary,"
        " no errant transactions"
    )
    writable = sorted(h for h, v in views.items() if v.read_only == 0 and not v.error)
    summary = ", ".join(
        f"{h} " + (v.error if v.error else f"read_only={v.read_only}")
        for h, v in sorted(views.items())
    )
    if len(writable) != 1:
        silent = [h for h, v in views.items() if v.error and not v.down]
        cause = primary_cause(writable, silent)
        if cause == "primary-unknown":
            summary += f"; {', '.join(sorted(silent))} did not answer"
        return [
            _unreachable(ctx, h, views[h], "exactly 1 writable primary")
            if views[h].error
            else ctx.fail(h, "exactly 1 writable primary", f"{len(writable)} ({summary})",
                          cause=cause)
            for h in sorted(views)
        ]  # fmt: skip
    primary = writable[0]
    try:
        primary_address = ctx.address(primary)
    except Exception:
        primary_address = primary
    results = [ctx.ok(primary, expected_primary, "primary, writable", detail=summary)]
    for host, view in sorted(views.items()):
        if host == primary:
            continue
        if view.error:
            results.append(_unreachable(ctx, host, view, expected_replica))
            continue
        problems = judge_replica(
            host, view, primary, views[primary], primary_address, before or views[primary]
        )
        results.append(
            ctx.result(host, expected_replica, problems, f"replica of {primary}, caught up",
                       detail=summary)
        )  # fmt: skip
    return results


def _unreachable(ctx: Context, host: str, view: ServerView, expected: str) -> CheckResult:
    cause = "host-down" if view.down else "mysql-unreachable"
    return ctx.fail(host, expected, view.error, cause=cause)
