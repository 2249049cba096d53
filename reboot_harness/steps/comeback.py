"""What a host's return cost the servers that replicate with it.

Before a redis or mysql host is powered off, the harness notes how far replication had got;
once the stack has recovered from it, it says what coming back took: for redis whether the
replicas resynchronised partially (from the master's backlog) or fully (a whole RDB, when what
was written while the host was away no longer fits the backlog, or the replica lost its place),
for mysql how many transactions the host had to catch up on and how soon after its boot it had.
Each becomes one ``came back`` event of the run, shown in the reports beside the host's reboot.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import pymysql

from reboot_harness.checks.base import short_error
from reboot_harness.checks.mysql_replication import parse_gtids
from reboot_harness.checks.redis_roles import client as redis_client
from reboot_harness.stack.protocol import StackLike


@dataclass(frozen=True)
class RedisCounters:
    """One redis server's replication counters (INFO stats and replication)."""

    full: int = 0  # sync_full: full resyncs it served as a master
    partial_ok: int = 0  # sync_partial_ok
    partial_err: int = 0  # sync_partial_err: partial resyncs refused (then a full one)
    offset: int = 0  # master_repl_offset
    backlog: int = 0  # repl_backlog_size
    role: str = ""


@dataclass(frozen=True)
class Before:
    """Replication as it stood when ``host`` went down."""

    host: str
    service: str  # "redis" | "mysql"
    at: float
    redis: dict[str, RedisCounters] = field(default_factory=dict)
    mysql_pos: str = ""  # the primary's @@gtid_binlog_pos
    error: str = ""


def _redis_counters(stack: StackLike, host: str) -> RedisCounters:
    ip, port = stack.endpoint(host, stack.topology.redis_port)
    r = redis_client(ip, port, stack.secrets.get("REDIS_PASSWORD"))
    try:
        stats, repl = r.info("stats"), r.info("replication")
    finally:
        r.close()
    return RedisCounters(
        full=int(stats.get("sync_full", 0)),
        partial_ok=int(stats.get("sync_partial_ok", 0)),
        partial_err=int(stats.get("sync_partial_err", 0)),
        offset=int(repl.get("master_repl_offset", 0)),
        backlog=int(repl.get("repl_backlog_size", 0)),
        role=str(repl.get("role", "")),
    )


def _redis_all(stack: StackLike, skip: str = "") -> dict[str, RedisCounters]:
    out = {}
    for host in stack.topology.redis_hosts:
        if host == skip:
            continue
        try:
            out[host] = _redis_counters(stack, host)
        except Exception:  # a server that does not answer has no counters to compare
            continue
    return out


def _mysql_primary_pos(stack: StackLike) -> str:
    """The writable server's @@gtid_binlog_pos ('' if none answers as writable)."""
    for host in stack.topology.mysql_hosts:
        try:
            ip, port = stack.endpoint(host, stack.topology.mysql_port)
            conn = pymysql.connect(
                host=ip, port=port, user="root",
                password=stack.secrets.get("MYSQL_ROOT_PASSWORD", ""),
                connect_timeout=2, read_timeout=2,
            )  # fmt: skip
        except Exception:
            continue
        try:
            with conn.cursor() as cur:
                cur.execute("SELECT @@read_only, @@gtid_binlog_pos")
                row = cur.fetchone()
            if row and int(row[0]) == 0:
                return str(row[1] or "")
        except Exception:
            continue
        finally:
            conn.close()
    return ""


def before(stack: StackLike, host: str) -> Before | None:
    """Replication as it stands now, if ``host`` runs redis or mysql (else None)."""
    topo = stack.topology
    now = time.time()
    try:
        if host in topo.redis_hosts:
            return Before(host, "redis", now, redis=_redis_all(stack))
        if host in topo.mysql_hosts:
            return Before(host, "mysql", now, mysql_pos=_mysql_primary_pos(stack))
    except Exception as e:  # never in the way of the reboot itself
        return Before(host, "redis" if host in topo.redis_hosts else "mysql", now,
                      error=short_error(e))  # fmt: skip
    return None


def _size(n: int) -> str:
    for unit, scale in (("MB", 1 << 20), ("KB", 1 << 10)):
        if abs(n) >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{n} B"


def describe_redis(was: dict[str, RedisCounters], now: dict[str, RedisCounters], host: str) -> str:
    """``partial resync …`` / ``full resync …`` from the counters of the servers that were up
    both times (the rebooted one's own counters restart with it)."""
    both = [h for h in now if h in was and h != host]
    full = sum(now[h].full - was[h].full for h in both)
    partial = sum(now[h].partial_ok - was[h].partial_ok for h in both)
    refused = sum(now[h].partial_err - was[h].partial_err for h in both)
    masters_then = [c for c in was.values() if c.role == "master"]
    masters_now = [c for c in now.values() if c.role == "master"]
    written = ""
    if masters_then and masters_now:
        delta = max(c.offset for c in masters_now) - max(c.offset for c in masters_then)
        backlog = max(c.backlog for c in masters_now)
        written = f"; {_size(delta)} written while away, backlog {_size(backlog)}"
    if full:
        kind = "full resync"
    elif partial:
        kind = "partial resync"
    else:
        kind = "no resync seen"
    counts = f"{full} full, {partial} partial" + (f", {refused} partial refused" if refused else "")
    return f"redis: {kind} ({counts}{written})"


def transactions_between(pos_then: str, pos_now: str) -> int:
    """Transactions the primary wrote between two @@gtid_binlog_pos readings (per domain)."""
    then = {d: n for d, _s, n in parse_gtids(pos_then)}
    return sum(max(0, n - then.get(d, 0)) for d, _s, n in parse_gtids(pos_now))


def after(stack: StackLike, was: Before, booted_at: float, now: float | None = None) -> str:
    """One line: what coming back cost ``was.host``, now that the stack has recovered."""
    now = time.time() if now is None else now
    away = f"away {booted_at - was.at:.0f}s"
    if was.error:
        return f"{was.service}: not measured ({was.error}); {away}"
    try:
        if was.service == "redis":
            line = describe_redis(was.redis, _redis_all(stack), was.host)
            return f"{line}; {away}"
        pos = _mysql_primary_pos(stack)
        if not was.mysql_pos or not pos:
            return f"mysql: not measured (no writable server answered); {away}"
        missed = transactions_between(was.mysql_pos, pos)
        return (
            f"mysql: {missed} transactions written since it went down, caught up"
            f" {now - booted_at:.1f}s after boot at the latest (when the checks held); {away}"
        )
    except Exception as e:
        return f"{was.service}: not measured ({short_error(e)}); {away}"
