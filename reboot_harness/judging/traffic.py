"""What the users of the stack would have seen, measured from the history of a run.

Pure functions over a ``reboot_harness.model.traffic.History`` (every client operation, plus the
keys the stores held after recovery) and the run's ``reboot_harness.model.events.Event`` list.
No I/O, no docker, no clock.

One call does it all (what the run loop, reboot_harness.run.loop, uses)::

    summary, violations = summarize(history, events, scenario.budgets)

``summary`` is a typed, frozen :class:`~reboot_harness.judging.measures.Summary` (``analyze``
alone gives it); ``violations`` holds a :class:`~reboot_harness.model.results.BudgetViolation`
per budget exceeded (empty: all met; reboot_harness.judging.budgets), whose message reads e.g.
``http: max_downtime 0s exceeded: measured 3.20s (2 windows, longest 2.00s)``.
``judge_budgets`` judges service verdicts against budgets alone. Nothing here decides whether a
variant passes: the caller fails a variant on violations (and may add
``Budget(s, no_lost_writes=True)`` for redis/mysql to every fixed variant).

Definitions (times are epoch seconds; an event is recorded when its action *ended*, with
``duration_s`` how long it took, so an event covers ``[t - duration_s, t]``):

- **Disruptive events**: the faults (``power off``, ``power on``, ``kill``, ``new address``,
  ``full restart``, ``pause``, ``unpause``) and the operator's moves (``dns rotate``,
  ``sentinel failover``, ``mysql promote``, ``mysql repoint``). Bookkeeping (``stack ready``,
  ``preflight``, ``recovered``, ``heal`` …) is not.
- **Fault span**: from the start of the first disruptive event to the last ``recovered`` event
  after it. With no ``recovered`` after it the run never recovered and the span runs to the end
  of the run (the last event or op end); ``recovered`` is then false. No disruptive event: none.
- **Downtime window** (per client, then merged per service): a window opens at the start of the
  first failed op after a success (or at the first op, when that fails) and closes at the start
  of the first successful op after it. A window with no success after it stays open until the
  end of that client's last op (``open: true``). An ok ``reconnect`` op (socket.io) is the time
  the client was disconnected: a failure at its start and a success at its end. Windows of all
  clients of a service are then merged (union; touching or overlapping windows become one): the
  service is down while *any* of its clients is — what some users saw, the conservative reading.
- **Errors**: every failed op, counted by its ``error`` kind (``error`` when empty). Every failed
  op lies inside a window, so a window's ``errors`` add up to the service's.
- **Latency**: ``end - start`` of successful ops other than reconnects, split into those that
  overlap the fault span (``during``) and the rest (``outside``: before and after). Percentiles
  are nearest-rank (p50 of 1, 2, 3, 4 is 2): exact values seen, never interpolated.
- **Reconnect time**: the duration of ``reconnect`` ops: count, max and p50 of the ok ones;
  failed ones (never reconnected within the client's deadline) are counted apart.
- **Lost writes**: acknowledged writes (ok ops with a ``key``) of redis and mysql whose key is
  not among ``history.present[service]``, counted once per key. When ``present`` has no entry
  for a service its writes were never read back: ``checked`` is false and nothing is counted.
- **Attribution to a host**: each disruptive event with a host disrupts from its start until the
  next ``recovered`` event (or forever). A window (or a lost write, by its op) can only go to a
  host whose disruption overlaps it *and* that the failed ops in it could have met: the target
  each op records (``lb1/app2``: the LB it reached, then the app that served it) names its path.
  A host on the path is met; a path that names only its entry (``lb2``: the backend is not known)
  also meets every host that is not an entry of that service (an app behind lb2 — never lb1, the
  other entry); an op with no known target meets every host. Among the hosts the most failed ops
  met, the window goes to the one whose disruption began most recently before it opened; if each
  began inside the window, to the earliest of them. With none overlapping, or none met by any
  of its failed ops, to ``-``: failures on lb2 while lb1 reboots are not lb1's.
- **Host rows** (the downtime table): one per disrupted host (in order of its first event) x
  service with ops, holding that host's windows, their errors and reconnects, and its lost
  writes; a ``-`` row per service only for what no host explains (or alone, when no host was
  disrupted). Without ops: one row per host with service ``-``. The row's verdict is ``ok``,
  ``no budget``, or ``over: <budgets>`` naming the exceeded budgets this host contributed to.
- **Budgets** are exceeded strictly (measured > limit); ``max_reconnect`` also by any reconnect
  that never completed; ``no_lost_writes`` also when acknowledged writes were not read back; a
  budget for a service that recorded no op at all is exceeded (nothing was measured).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace

from reboot_harness.judging.budgets import breaches, describe_budget, violations
from reboot_harness.judging.measures import (
    DISRUPTIVE_KINDS,
    RECONNECT_OP,
    RECOVERED,
    UNATTRIBUTED,
    HostRow,
    Latency,
    LostWrite,
    Reconnects,
    ServiceVerdict,
    Span,
    Summary,
    Window,
    Writes,
)
from reboot_harness.model.events import Event
from reboot_harness.model.results import BudgetViolation
from reboot_harness.model.traffic import SERVICES, WRITE_SERVICES, Budget, History, Op

# -- fault span and attribution --------------------------------------------------------------


def _began(event: Event) -> float:
    return event.t - event.duration_s


def _disruptive(events: Iterable[Event]) -> list[Event]:
    return [e for e in events if e.kind in DISRUPTIVE_KINDS]


def fault_span(events: Sequence[Event], ops: Sequence[Op] = ()) -> Span | None:
    """From the first disruptive event's start to the last ``recovered`` event after it; to the
    end of the run (last event or op end, ``recovered=False``) when nothing recovered."""
    disruptive = _disruptive(events)
    if not disruptive:
        return None
    start = min(_began(e) for e in disruptive)
    recovered = [e.t for e in events if e.kind == RECOVERED and e.t >= start]
    if recovered:
        return Span(start, max(recovered), True)
    end = max([e.t for e in events] + [op.end for op in ops])
    return Span(start, max(end, start), False)


@dataclass(frozen=True)
class _Disruption:
    host: str
    start: float
    end: float  # the next "recovered" after the event, or inf


def _disruptions(events: Sequence[Event]) -> list[_Disruption]:
    recovered = sorted(e.t for e in events if e.kind == RECOVERED)
    out = []
    for e in _disruptive(events):
        if not e.host:
            continue
        end = next((t for t in recovered if t >= e.t), math.inf)
        out.append(_Disruption(e.host, _began(e), end))
    return out


@dataclass(frozen=True)
class _Paths:
    """What the failed ops of one service say about where they went: each op's path (the hosts
    its target names, in order; empty when unknown) and the service's entries (the first part of
    every target its ops recorded: where they went in)."""

    hosts: frozenset[str]
    entries: frozenset[str]

    @classmethod
    def of(cls, ops: Sequence[Op], hosts: Iterable[str]) -> _Paths:
        # The first part as recorded, host name or not: behind an LB the client could not name
        # (``172.18.0.9/app1``, a renumbered LB) app1 is served, it is no entry.
        firsts = (cls._split(op.target, frozenset()) for op in ops)
        return cls(frozenset(hosts), frozenset(p[0] for p in firsts if p))

    @staticmethod
    def _split(target: str, known: frozenset[str]) -> tuple[str, ...]:
        parts = tuple(p for p in target.split("/") if p)
        return tuple(p for p in parts if p in known) if known else parts[:1]

    def meets(self, op: Op, host: str) -> bool:
        """Whether ``op`` could have failed because ``host`` was disrupted."""
        path = self._split(op.target, self.hosts)
        if not path or host in path:
            return True
        return len(path) == 1 and host not in self.entries  # behind the entry, backend unknown


def _attribute(
    disruptions: Sequence[_Disruption],
    start: float,
    end: float,
    failed: Sequence[Op] = (),
    paths: _Paths | None = None,
) -> str:
    overlapping = [d for d in disruptions if d.start <= end and d.end >= start]
    if failed and paths is not None:
        met = {d.host: sum(paths.meets(op, d.host) for op in failed) for d in overlapping}
        most = max(met.values(), default=0)
        overlapping = [d for d in overlapping if most and met[d.host] == most]
    before = [d for d in overlapping if d.start <= start]
    if before:  # the most recent one before the window opened (the later event on a tie)
        return max(enumerate(before), key=lambda p: (p[1].start, p[0]))[1].host
    if overlapping:
        return min(overlapping, key=lambda d: d.start).host
    return UNATTRIBUTED


def host_faults(events: Sequence[Event]) -> dict[str, tuple[str, ...]]:
    """Host -> the kinds of disruptive events on it, both in order of first occurrence."""
    kinds: dict[str, list[str]] = {}
    for e in _disruptive(events):
        if e.host and e.kind not in kinds.setdefault(e.host, []):
            kinds[e.host].append(e.kind)
    return {host: tuple(k) for host, k in kinds.items()}


# -- per service -------------------------------------------------------------------------------


def percentile(values: Sequence[float], p: float) -> float | None:
    """Nearest-rank percentile (``p`` in 0..100) of ``values``; None when empty."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(p / 100 * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


def _latency(durations: Sequence[float]) -> Latency:
    return Latency(len(durations), percentile(durations, 50), percentile(durations, 99))


def client_windows(ops: Sequence[Op]) -> list[Window]:
    """The downtime windows one client saw (ops of one service and one client)."""
    if not ops:
        return []
    # (time, ok, failed op or None); sorted by time, ties kept in op order
    seen: list[tuple[float, bool, Op | None]] = []
    for op in sorted(ops, key=lambda o: (o.start, o.end)):
        if op.op == RECONNECT_OP and op.ok:
            seen += [(op.start, False, None), (max(op.end, op.start), True, None)]
        else:
            seen.append((op.start, op.ok, None if op.ok else op))
    seen.sort(key=lambda s: s[0])
    last_end = max(max(op.end, op.start) for op in ops)
    service, client = ops[0].service, ops[0].client
    windows = []
    opened: float | None = None
    errors = 0
    for t, ok, failed in seen:
        if ok and opened is not None:
            windows.append(Window(service, opened, t, (client,), errors))
            opened, errors = None, 0
        elif not ok:
            opened = t if opened is None else opened
            errors += failed is not None
    if opened is not None:
        windows.append(Window(service, opened, last_end, (client,), errors, open=True))
    return windows


def merge_windows(windows: Iterable[Window]) -> list[Window]:
    """The union of windows of one service: overlapping or touching windows become one."""
    merged: list[Window] = []
    for w in sorted(windows, key=lambda w: (w.start, w.end)):
        if merged and w.start <= merged[-1].end:
            m = merged[-1]
            merged[-1] = Window(
                m.service,
                m.start,
                max(m.end, w.end),
                tuple(sorted(set(m.clients) | set(w.clients))),
                m.errors + w.errors,
                m.open or w.open,
            )
        else:
            merged.append(w)
    return merged


def service_windows(ops: Iterable[Op], service: str) -> list[Window]:
    """Every downtime window of ``service`` in ``ops`` (all clients): each client's windows,
    merged. The one definition of a downtime window (module docstring)."""
    clients = _by_client(op for op in ops if op.service == service)
    return merge_windows(w for c in clients.values() for w in client_windows(c))


def _by_client(ops: Iterable[Op]) -> dict[str, list[Op]]:
    clients: dict[str, list[Op]] = {}
    for op in ops:
        clients.setdefault(op.client, []).append(op)
    return clients


def _lost_writes(service: str, ops: Sequence[Op], present: Mapping[str, frozenset[str]]) -> Writes:
    acked: dict[str, Op] = {}
    for op in sorted(ops, key=lambda o: o.end):
        if op.ok and op.key and op.op != RECONNECT_OP:
            acked.setdefault(op.key, op)
    if service not in WRITE_SERVICES or not acked:
        return Writes(len(acked), service in present, ())
    if service not in present:
        return Writes(len(acked), False, ())
    there = present[service]
    lost = tuple(
        LostWrite(service, key, op.client, op.start, op.end)
        for key, op in sorted(acked.items(), key=lambda kv: (kv[1].end, kv[0]))
        if key not in there
    )
    return Writes(len(acked), True, lost)


def service_verdict(
    service: str,
    ops: Sequence[Op],
    span: Span | None,
    present: Mapping[str, frozenset[str]],
    disruptions: Sequence[_Disruption] = (),
    hosts: Iterable[str] = (),
) -> ServiceVerdict:
    """Measure one service from its ops (all clients); ``hosts`` are the stack's host names
    (what an op's target may name; attribution reads targets by them)."""
    if not ops:
        return ServiceVerdict(service, writes=Writes(0, service in present))
    clients = _by_client(ops)
    windows = service_windows(ops, service)
    reconnects = [op for op in ops if op.op == RECONNECT_OP]
    failed = [op for op in ops if not op.ok]
    paths = _Paths.of(ops, hosts)

    def inside(w: Window, op: Op) -> bool:
        return w.start <= op.start <= w.end

    windows = [
        replace(
            w,
            host=_attribute(
                disruptions, w.start, w.end, [op for op in failed if inside(w, op)], paths
            ),
            reconnect_max_s=max(
                (op.end - op.start for op in reconnects if op.ok and inside(w, op)), default=None
            ),
            reconnects_failed=sum(1 for op in reconnects if not op.ok and inside(w, op)),
        )
        for w in windows
    ]
    errors = Counter(op.error or "error" for op in failed)
    during: list[float] = []
    outside: list[float] = []
    for op in ops:
        if op.ok and op.op != RECONNECT_OP:
            took = max(0.0, op.end - op.start)
            (during if span and span.overlaps(op.start, op.end) else outside).append(took)
    done = [max(0.0, op.end - op.start) for op in reconnects if op.ok]
    never = [max(0.0, op.end - op.start) for op in reconnects if not op.ok]
    writes = _lost_writes(service, ops, present)
    by_key = {op.key: op for op in ops if op.ok and op.key}
    lost = tuple(
        replace(w, host=_attribute(disruptions, w.start, w.end, [by_key[w.key]], paths))
        for w in writes.lost
    )
    writes = replace(writes, lost=lost)
    return ServiceVerdict(
        service=service,
        ops=len(ops),
        ok=len(ops) - len(failed),
        failed=len(failed),
        clients=tuple(sorted(clients)),
        first_op=min(op.start for op in ops),
        last_op=max(op.end for op in ops),
        windows=tuple(windows),
        errors=dict(sorted(errors.items(), key=lambda kv: (-kv[1], kv[0]))),
        latency_outside=_latency(outside),
        latency_during=_latency(during),
        reconnects=Reconnects(
            count=len(done),
            failed=len(never),
            max_s=max(done, default=None),
            p50_s=percentile(done, 50),
            longest_failed_s=max(never, default=None),
        ),
        writes=writes,
    )


# -- the downtime table ------------------------------------------------------------------------


def _rows(
    events: Sequence[Event], verdicts: Sequence[ServiceVerdict], budgets: Sequence[Budget]
) -> list[HostRow]:
    """One row per host x measured service: disrupted hosts in order of their first event, then
    hosts (and ``-``) that only attribution names."""
    faults = host_faults(events)
    measured = [v for v in verdicts if v.ops]
    attributed = {w.host for v in measured for w in v.windows}
    attributed |= {w.host for v in measured for w in v.writes.lost}
    hosts = list(faults) + sorted(h for h in attributed if h not in faults) or [UNATTRIBUTED]
    if not measured:
        return [HostRow(h, UNATTRIBUTED, faults.get(h, ())) for h in hosts]
    by_service = {b.service: b for b in budgets}
    rows = []
    for host in hosts:
        for v in measured:
            windows = [w for w in v.windows if w.host == host]
            if (
                host == UNATTRIBUTED
                and hosts != [UNATTRIBUTED]
                and not windows
                and not any(w.host == host for w in v.writes.lost)
            ):
                continue  # '-' only holds what no host explains: no empty rows for it
            lost = sum(1 for w in v.writes.lost if w.host == host) if v.writes.checked else None
            row = HostRow(
                host=host,
                service=v.service,
                faults=faults.get(host, ()),
                windows=len(windows),
                downtime_s=sum((w.duration_s for w in windows), 0.0),
                errors=sum(w.errors for w in windows),
                reconnect_max_s=max(
                    (w.reconnect_max_s for w in windows if w.reconnect_max_s is not None),
                    default=None,
                ),
                reconnects_failed=sum(w.reconnects_failed for w in windows),
                lost_writes=lost if v.writes.acked else None,
                budget=describe_budget(by_service.get(v.service)),
            )
            over = _row_over(row, v, by_service.get(v.service))
            verdict = (
                "no budget"
                if by_service.get(v.service) is None
                else ("over: " + ", ".join(over) if over else "ok")
            )
            rows.append(replace(row, verdict=verdict, over=over))
    return rows


def _row_over(row: HostRow, v: ServiceVerdict, budget: Budget | None) -> tuple[str, ...]:
    """The exceeded budgets (measurements) of the service that this row adds to."""
    if budget is None:
        return ()
    limit = budget.max_reconnect
    adds_to = {
        "traffic": True,
        "max_downtime": bool(row.downtime_s),
        "max_errors": bool(row.errors),
        "max_reconnect": (
            row.reconnect_max_s is not None and limit is not None and row.reconnect_max_s > limit
        )
        or row.reconnects_failed > 0,
        "no_lost_writes": bool(row.lost_writes) or (not v.writes.checked and row.host == "-"),
    }
    return tuple(name for name, _ in breaches(v, budget) if adds_to[name])


# -- one call ----------------------------------------------------------------------------------


def analyze(
    history: History,
    events: Sequence[Event],
    budgets: Iterable[Budget] = (),
    hosts: Iterable[str] = (),
) -> Summary:
    """Every verdict of a run, typed. See the module docstring for the definitions; ``hosts``
    are the stack's host names (the targets ops record name them; without them a target's
    first part is read as its host)."""
    hosts = tuple(hosts)
    budgets = tuple(budgets)
    span = fault_span(events, history.ops)
    disruptions = _disruptions(events)
    by_service: dict[str, list[Op]] = {}
    for op in history.ops:
        by_service.setdefault(op.service, []).append(op)
    budgeted = {b.service for b in budgets}
    order = [s for s in SERVICES if s in by_service or s in budgeted]
    order += sorted(s for s in by_service if s not in SERVICES)  # still measured, never dropped
    verdicts = tuple(
        service_verdict(s, by_service.get(s, []), span, history.present, disruptions, hosts)
        for s in order
    )
    return Summary(span, verdicts, tuple(_rows(events, verdicts, budgets)), budgets)


def summarize(
    history: History,
    events: Sequence[Event],
    budgets: Iterable[Budget] = (),
    hosts: Iterable[str] = (),
) -> tuple[Summary, list[BudgetViolation]]:
    """The verdicts of a run and the budgets it exceeded.

    Args:
        history: every client op, and the keys read back from the stores after recovery.
        events: the run's events (``ScenarioResult.events``), in order.
        budgets: the scenario's budgets (``Scenario.budgets``).
        hosts: the stack's host names (``Topology.hosts``), to read the ops' targets by.

    Returns:
        ``(summary, violations)``: :func:`analyze`, and the budgets exceeded
        (:func:`violations`; empty when every budget is met).
    """
    summary = analyze(history, events, budgets, hosts)
    return summary, violations(summary)
