"""postgres replication: exactly one primary (not in recovery), every other PostgreSQL host a
standby in recovery whose WAL receiver streams from that primary and has replayed what the
primary had written.

Each host is asked with ``psql`` inside it, as the ``postgres`` user over its local socket (what
a Debian or official PostgreSQL image has), so the harness needs no PostgreSQL client of its own.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

from reboot_harness.checks.api import Context, Problem, check
from reboot_harness.checks.base import ask_each, primary_cause, short_error
from reboot_harness.model.results import CheckResult
from reboot_harness.model.topology import Topology

NAME = "postgres replication"

# One line, five fields: in recovery (t/f); the primary's current WAL write position, or the
# standby's last replayed one; the WAL receiver's status and the host it streams from (empty
# when there is no receiver); the addresses of the standbys streaming from this server.
QUERY = (
    "SELECT pg_is_in_recovery(),"
    " coalesce(CASE WHEN pg_is_in_recovery() THEN pg_last_wal_replay_lsn()"
    " ELSE pg_current_wal_lsn() END::text, ''),"
    " coalesce((SELECT status FROM pg_stat_wal_receiver), ''),"
    " coalesce((SELECT sender_host FROM pg_stat_wal_receiver), ''),"
    " coalesce((SELECT string_agg(host(client_addr), ',') FROM pg_stat_replication"
    " WHERE state = 'streaming'), '')"
)
FIELDS = 5


def parse_lsn(text: str) -> int | None:
    """``16/B374D848`` → its byte position in the WAL (None for anything else)."""
    high, sep, low = text.strip().partition("/")
    try:
        return (int(high, 16) << 32) + int(low, 16) if sep else None
    except ValueError:
        return None


@dataclass(frozen=True)
class ServerView:
    """One PostgreSQL server as it answered (``error`` set: it did not).

    Attributes:
        in_recovery: ``pg_is_in_recovery()``.
        lsn: the primary's current WAL position, or the standby's last replayed one ("" when a
            standby has replayed nothing yet).
        receiver: the WAL receiver's status (``streaming``; "" when there is no receiver).
        sender: the host the WAL receiver streams from.
        standbys: the addresses of the standbys streaming from this server.
        error: why it did not answer ("" when it did).
        down: the host is not running.
    """

    in_recovery: bool = False
    lsn: str = ""
    receiver: str = ""
    sender: str = ""
    standbys: tuple[str, ...] = ()
    error: str = ""
    down: bool = False


def parse_view(stdout: str) -> ServerView | None:
    """psql's unaligned answer to :data:`QUERY` → a view (None: not that answer)."""
    lines = [line for line in stdout.splitlines() if line.strip()]
    fields = lines[0].split("|") if len(lines) == 1 else []
    if len(fields) != FIELDS or fields[0] not in ("t", "f"):
        return None
    recovery, lsn, receiver, sender, standbys = fields
    if lsn and parse_lsn(lsn) is None:
        return None
    return ServerView(recovery == "t", lsn, receiver, sender,
                      tuple(a for a in standbys.split(",") if a))  # fmt: skip


def _query(ctx: Context, host: str) -> ServerView:
    reason = ctx.down(host)
    if reason:
        return ServerView(error=reason, down=True)
    argv = ["psql", "-XAtq", "-p", str(ctx.topology.postgres_port), "-d", "postgres", "-c", QUERY]
    try:
        read = ctx.exec(host, argv, user="postgres", timeout=5.0)
    except Exception as e:  # the engine failed the read: nothing was observed
        return ServerView(error=short_error(e))
    view = parse_view(read.stdout) if read.ok else None
    if view is None:
        return ServerView(error=f"psql gave no answer ({read.brief()})")
    return view


def judge_standby(
    view: ServerView,
    primary: str,
    primary_view: ServerView,
    *,
    primary_address: str = "",
    own_address: str = "",
) -> list[Problem]:
    """Everything wrong with one standby, most telling first (empty when it is healthy).

    ``primary_view`` is the primary as read before the standby: the standby must have replayed
    that much. A standby streams from the primary when its receiver names the primary (by name
    or address), or the primary lists the standby's own address among those streaming from it
    (its ``primary_conninfo`` may name the primary by an alias).
    """
    if not view.in_recovery:  # (a second primary is judged with the set, never here)
        return [Problem("several-primaries", "not in recovery: a primary")]
    problems = []
    if view.receiver != "streaming":
        shown = view.receiver or "no WAL receiver"
        return [Problem("standby-not-streaming", f"in recovery, {shown}")]
    from_primary = view.sender in {primary, primary_address} - {""} or (
        bool(own_address) and own_address in primary_view.standbys
    )
    if not from_primary:
        problems.append(Problem("standby-wrong-primary",
                                f"streams from {view.sender}, not {primary}"))  # fmt: skip
    replayed, target = parse_lsn(view.lsn), parse_lsn(primary_view.lsn)
    if target is not None and (replayed is None or replayed < target):
        problems.append(
            Problem(
                "standby-lagging",
                f"replayed up to {view.lsn or '(nothing)'} < primary at {primary_view.lsn}"
                " (read before the standby)",
            )
        )
    return problems


def subjects(topo: Topology) -> tuple[str, ...]:
    return tuple(topo.postgres_hosts)


@check(
    NAME,
    description="every postgres host",
    roles=("postgres_hosts",),
    subjects=subjects,
    unobserved=("postgres-unreachable", "primary-unknown"),
    causes={
        "postgres-unreachable": "a server does not answer psql inside its host",
        "primary-unknown": "every answering server is in recovery and another did not answer:"
        " which is the primary cannot be told",
        "no-primary": "every server answered and all are in recovery",
        "several-primaries": "more than one server is out of recovery",
        "standby-not-streaming": "a standby in recovery has no WAL receiver streaming",
        "standby-wrong-primary": "a standby streams from another host than the primary",
        "standby-lagging": "a standby has not replayed everything the primary had written",
    },
)
def check_postgres(ctx: Context) -> list[CheckResult]:
    hosts = ctx.topology.postgres_hosts
    deadline = ctx.deadline()
    while True:
        views = _query_all(ctx, hosts)
        primaries = [h for h, v in views.items() if not v.error and not v.in_recovery]
        before = None
        if len(primaries) == 1:
            # Under writes a standby is caught up when it has replayed what the primary had
            # written *before* the standby was read: so the primary, then its standbys. No
            # byte bound: the exact position, waited for within the check's deadline.
            primary = primaries[0]
            before = _query(ctx, primary)
            views.update(_query_all(ctx, [h for h in hosts if h != primary]))
            if before.error or before.in_recovery:
                before = None
        results = _evaluate(ctx, views, before)
        # Only lag and a receiver (re)connecting heal by themselves within the deadline.
        waiting = {"standby-lagging", "standby-not-streaming"}
        settling = [r for r in results if not r.ok and set(r.causes) <= waiting]
        if not settling or time.monotonic() >= deadline:
            return results
        time.sleep(0.2)


def _query_all(ctx: Context, hosts: Sequence[str]) -> dict[str, ServerView]:
    return ask_each(hosts, lambda host: _query(ctx, host))


def _address(ctx: Context, host: str) -> str:
    try:
        return ctx.address(host)
    except Exception:  # (an address is a help in matching, not an observation)
        return ""


def _evaluate(
    ctx: Context, views: dict[str, ServerView], before: ServerView | None = None
) -> list[CheckResult]:
    """Judge the set; ``before`` is the primary as read before its standbys (default: as read
    with them)."""
    expected_primary = "the only server out of recovery"
    expected_standby = "in recovery, streaming from the primary, replayed what it had written"
    primaries = sorted(h for h, v in views.items() if not v.error and not v.in_recovery)
    summary = ", ".join(
        f"{h} " + (v.error or ("standby" if v.in_recovery else "primary"))
        for h, v in sorted(views.items())
    )
    if len(primaries) != 1:
        silent = [h for h, v in views.items() if v.error and not v.down]
        cause = primary_cause(primaries, silent)
        if cause == "primary-unknown":
            summary += f"; {', '.join(sorted(silent))} did not answer"
        return [
            _unreachable(ctx, h, views[h], "exactly 1 primary")
            if views[h].error
            else ctx.fail(h, "exactly 1 primary", f"{len(primaries)} ({summary})", cause=cause)
            for h in sorted(views)
        ]
    primary = primaries[0]
    target = before or views[primary]
    results = [ctx.ok(primary, expected_primary, f"primary at {target.lsn}", detail=summary)]
    primary_address = _address(ctx, primary)
    for host, view in sorted(views.items()):
        if host == primary:
            continue
        if view.error:
            results.append(_unreachable(ctx, host, view, expected_standby))
            continue
        own = _address(ctx, host)
        problems = judge_standby(view, primary, target, primary_address=primary_address,
                                 own_address=own)  # fmt: skip
        results.append(
            ctx.result(host, expected_standby, problems, f"standby of {primary}, caught up",
                       detail=summary)
        )  # fmt: skip
    return results


def _unreachable(ctx: Context, host: str, view: ServerView, expected: str) -> CheckResult:
    cause = "host-down" if view.down else "postgres-unreachable"
    return ctx.fail(host, expected, view.error, cause=cause)
