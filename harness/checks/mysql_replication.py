"""mysql replication: one writable primary, every replica read-only, replicating, caught up,
and without transactions of its own (errant GTIDs)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import pymysql
import pymysql.cursors

from harness.checks.base import CheckContext, failure, register, short_error
from harness.model import CheckResult

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


def _query(ctx: CheckContext, host: str) -> ServerView:
    reason = ctx.down(host)
    if reason:
        return ServerView(error=reason)
    try:
        ip, port = ctx.stack.endpoint(host, ctx.topology.mysql_port)
        conn = pymysql.connect(
            host=ip,
            port=port,
            user="root",
            password=ctx.stack.secrets.get("MYSQL_ROOT_PASSWORD", ""),
            connect_timeout=3,
            read_timeout=3,
            cursorclass=pymysql.cursors.DictCursor,
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
    host: str, view: ServerView, primary: str, primary_view: ServerView, primary_address: str
) -> list[str]:
    """Everything wrong with one replica, in words (empty when it is healthy)."""
    problems = []
    if view.read_only != 1:
        problems.append(f"read_only={view.read_only}")
    s = view.slave
    if not s:
        return [*problems, "not a replica (SHOW SLAVE STATUS empty)"]
    if s.get("Master_Host") not in (primary, primary_address):
        problems.append(f"replicates from {s.get('Master_Host')}, not {primary}")
    for key in ("Slave_IO_Running", "Slave_SQL_Running"):
        if s.get(key) != "Yes":
            problems.append(f"{key}={s.get(key)}")
    for key, msg in (("Last_IO_Errno", "Last_IO_Error"), ("Last_SQL_Errno", "Last_SQL_Error")):
        if int(s.get(key) or 0) != 0:
            problems.append(f"{key}={s.get(key)} ({str(s.get(msg, ''))[:120]})")
    bad = errant(view.binlog_state, primary_view.binlog_state)
    if bad:
        problems.append(f"errant transactions {','.join(bad)}")
    if not caught_up(view.slave_pos, primary_view.binlog_pos):
        problems.append(
            f"behind: gtid_slave_pos {view.slave_pos or '(empty)'} <"
            f" primary gtid_binlog_pos {primary_view.binlog_pos}"
        )
    return problems


@register(NAME)
def check_mysql(ctx: CheckContext) -> list[CheckResult]:
    hosts = ctx.topology.mysql_hosts
    deadline = ctx.deadline()
    while True:
        views = {h: _query(ctx, h) for h in hosts}
        # Read the primary again, last: with writes going on, a primary read before its replica
        # would look older than the replica and make applied transactions look errant.
        writable = [h for h, v in views.items() if v.read_only == 0 and not v.error]
        if len(writable) == 1:
            views[writable[0]] = _query(ctx, writable[0])
        results = _evaluate(ctx, views)
        # Only lag may heal by itself within the deadline; anything else is reported at once.
        lagging = [r for r in results if not r.ok and r.observed.startswith("behind")]
        if not lagging or time.monotonic() >= deadline:
            return results
        time.sleep(0.2)


def _evaluate(ctx: CheckContext, views: dict[str, ServerView]) -> list[CheckResult]:
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
        return [
            failure(NAME, h, "exactly 1 writable primary", f"{len(writable)} ({summary})")
            for h in sorted(views)
        ]
    primary = writable[0]
    try:
        primary_address = ctx.stack.address(primary)
    except Exception:
        primary_address = primary
    results = [CheckResult(NAME, primary, True, expected_primary, "primary, writable", summary)]
    for host, view in sorted(views.items()):
        if host == primary:
            continue
        if view.error:
            results.append(failure(NAME, host, expected_replica, view.error))
            continue
        problems = judge_replica(host, view, primary, views[primary], primary_address)
        observed = "; ".join(problems) if problems else f"replica of {primary}, caught up"
        results.append(CheckResult(NAME, host, not problems, expected_replica, observed, summary))
    return results
