"""What a run's traffic measured, as typed, frozen values: the fault span, downtime windows,
latency, reconnects, writes, each service's verdict, the rows of the downtime table and the
summary of them all (reboot_harness.judging.traffic measures them; the definitions are its).

Nothing here makes JSON: ``reboot_harness.report.serialize.to_json(summary)`` does, at the edge
(it goes under ``"verdicts"`` of a scenario result). Every dataclass becomes an object of its
fields plus the properties it names in ``JSON_EXTRA``; tuples become lists, floats are rounded to
4 digits, None is null::

    {
      "fault_span": {"start", "end", "recovered"} | null,
      "services": [ServiceVerdict, ...],  # services with ops or a budget, in SERVICES order
      "hosts": [HostRow, ...],            # the downtime table rows
      "budgets": [{"service", "max_downtime", "max_errors", "max_reconnect",
                   "no_lost_writes"}, ...],
    }
    ServiceVerdict: {"service", "ops", "ok", "failed", "clients", "first_op", "last_op",
                     "windows": [Window, ...], "errors": {kind: count},
                     "latency_outside": Latency, "latency_during": Latency,
                     "reconnects": Reconnects, "writes": Writes, "downtime_s", "longest_s"}
    Window:     {"service", "start", "end", "clients", "errors", "open", "host",
                 "reconnect_max_s", "reconnects_failed", "duration_s"}
    Latency:    {"count", "p50_s", "p99_s"}
    Reconnects: {"count", "failed", "max_s", "p50_s", "longest_failed_s"}
    Writes:     {"acked", "checked", "lost": [LostWrite, ...]}
    LostWrite:  {"service", "key", "client", "start", "end", "host"}
    HostRow:    {"host", "service", "faults", "windows", "downtime_s", "errors",
                 "reconnect_max_s", "reconnects_failed", "lost_writes", "budget", "verdict",
                 "over"}
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import ClassVar

from reboot_harness.model.events import Category, EventKind
from reboot_harness.model.traffic import Budget

FAULT_KINDS = tuple(k for k in EventKind if k.category is Category.FAULT)
OPERATION_KINDS = tuple(k for k in EventKind if k.category is Category.OPERATION)
DISRUPTIVE_KINDS = FAULT_KINDS + OPERATION_KINDS
RECOVERED = EventKind.RECOVERED
RECONNECT_OP = "reconnect"
UNATTRIBUTED = "-"


@dataclass(frozen=True)
class Span:
    """The fault span of a run; ``recovered`` false when no ``recovered`` event closed it."""

    start: float
    end: float
    recovered: bool = True

    def overlaps(self, start: float, end: float) -> bool:
        return start <= self.end and end >= self.start


@dataclass(frozen=True)
class Window:
    """One downtime window of a service (merged across its clients).

    Attributes:
        service: the service that was down.
        start: when the first client saw it fail (epoch seconds).
        end: when the last of those clients saw it work again (or its last op ended).
        clients: the clients whose windows make up this one.
        errors: failed ops inside it.
        open: some client never saw a success after it (the run ended first).
        host: the host it is attributed to, or ``-``.
        reconnect_max_s: the longest completed reconnect that began in it, if any.
    """

    service: str
    start: float
    end: float
    clients: tuple[str, ...]
    errors: int
    open: bool = False
    host: str = UNATTRIBUTED
    reconnect_max_s: float | None = None
    reconnects_failed: int = 0  # reconnects that began in it and never completed

    JSON_EXTRA: ClassVar[tuple[str, ...]] = ("duration_s",)  # report.serialize

    @property
    def duration_s(self) -> float:
        return self.end - self.start


@dataclass(frozen=True)
class LostWrite:
    """An acknowledged write whose key was not found after recovery."""

    service: str
    key: str
    client: str
    start: float
    end: float
    host: str = UNATTRIBUTED


@dataclass(frozen=True)
class Latency:
    """Nearest-rank percentiles of op durations, in seconds; None when there were no ops."""

    count: int = 0
    p50_s: float | None = None
    p99_s: float | None = None


@dataclass(frozen=True)
class Reconnects:
    count: int = 0  # completed reconnects
    failed: int = 0  # reconnects that never completed
    max_s: float | None = None
    p50_s: float | None = None
    longest_failed_s: float | None = None


@dataclass(frozen=True)
class Writes:
    acked: int = 0  # distinct keys of acknowledged writes
    checked: bool = False  # the store was read back after the run
    lost: tuple[LostWrite, ...] = ()


@dataclass(frozen=True)
class ServiceVerdict:
    """Everything measured about one service during a run."""

    service: str
    ops: int = 0
    ok: int = 0
    failed: int = 0
    clients: tuple[str, ...] = ()
    first_op: float | None = None
    last_op: float | None = None
    windows: tuple[Window, ...] = ()
    errors: Mapping[str, int] = field(default_factory=dict)
    latency_outside: Latency = Latency()
    latency_during: Latency = Latency()
    reconnects: Reconnects = Reconnects()
    writes: Writes = Writes()

    JSON_EXTRA: ClassVar[tuple[str, ...]] = ("downtime_s", "longest_s")  # report.serialize

    @property
    def downtime_s(self) -> float:
        return sum((w.duration_s for w in self.windows), 0.0)

    @property
    def longest_s(self) -> float:
        return max((w.duration_s for w in self.windows), default=0.0)


@dataclass(frozen=True)
class HostRow:
    """One row of the downtime table: what one service suffered while one host was disrupted.

    Attributes:
        host: the host, or ``-`` for what no host's disruption explains.
        service: the service, or ``-`` when the run had no traffic.
        faults: the kinds of disruptive events on the host, in order of first occurrence.
        windows: downtime windows attributed to the host.
        downtime_s: their total duration; None without traffic.
        errors: failed ops in them; None without traffic.
        reconnect_max_s: the longest reconnect that began in them, if any.
        reconnects_failed: reconnects that began in them and never completed.
        lost_writes: lost writes attributed to the host; None when not checked.
        budget: the service's budget in words (``-`` when none).
        verdict: ``ok``, ``no budget``, ``over: max_errors, ...`` or ``-`` without traffic.
    """

    host: str
    service: str
    faults: tuple[str, ...]
    windows: int = 0
    downtime_s: float | None = None
    errors: int | None = None
    reconnect_max_s: float | None = None
    reconnects_failed: int = 0
    lost_writes: int | None = None
    budget: str = "-"
    verdict: str = "-"
    over: tuple[str, ...] = ()  # the exceeded budget measurements this row contributes to


@dataclass(frozen=True)
class Summary:
    """Every verdict of a run (:func:`analyze`): the fault span, each measured or budgeted
    service, the rows of the downtime table, and the budgets they were judged against."""

    fault_span: Span | None
    services: tuple[ServiceVerdict, ...]
    hosts: tuple[HostRow, ...]
    budgets: tuple[Budget, ...] = ()

    def service(self, name: str) -> ServiceVerdict:
        return next(v for v in self.services if v.service == name)
