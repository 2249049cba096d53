"""What the traffic's clients did and may suffer: the services they use, their operations, the
history of a run, and a service's budget."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType


@dataclass(frozen=True)
class Service:
    """What the harness knows of one service its clients use (the one table of these facts).

    Attributes:
        name: as budgets, reports and ops name it.
        write_op: the op whose acknowledged writes are read back after recovery (lost-write
            accounting, and a fixed variant's implicit ``no_lost_writes``); "" for none.
        reconnects: its clients record ``reconnect`` ops (``max_reconnect`` budgets apply).
        failover: its primary can be moved by a ``failover`` operation.
    """

    name: str
    write_op: str = ""
    reconnects: bool = False
    failover: bool = False


SERVICE_TABLE: tuple[Service, ...] = (
    Service("http"),
    Service("socketio", reconnects=True),
    Service("redis", write_op="set", failover=True),
    Service("mysql", write_op="insert", failover=True),
    Service("metrics"),
)
SERVICES = tuple(s.name for s in SERVICE_TABLE)
WRITE_OPS: Mapping[str, str] = MappingProxyType(
    {s.name: s.write_op for s in SERVICE_TABLE if s.write_op}
)
WRITE_SERVICES = tuple(WRITE_OPS)  # services whose acknowledged writes are read back
RECONNECT_SERVICES = tuple(s.name for s in SERVICE_TABLE if s.reconnects)
FAILOVER_SERVICES = tuple(s.name for s in SERVICE_TABLE if s.failover)


@dataclass(frozen=True)
class Op:
    """One operation of one real client during a run, as the client saw it.

    Attributes:
        service: ``http`` (via DNS and an LB), ``socketio``, ``redis``, ``mysql``, ``metrics``.
        client: which client did it (``http-1``, ``sio-3`` …).
        op: what it did (``get /health``, ``echo``, ``connect``, ``set``, ``insert`` …).
        start: epoch seconds when it began.
        end: epoch seconds when it ended (success, error or timeout).
        ok: whether it succeeded.
        target: who served it, when known (``lb1``, ``app2``, ``redis2``, ``mysql1``).
        error: the kind of failure (``timeout``, ``refused``, ``http 502``, ``READONLY``,
            ``session ID unknown`` …); empty when ok.
        key: the identity of a write (redis key, mysql row id) for lost-write accounting.
    """

    service: str
    client: str
    op: str
    start: float
    end: float
    ok: bool
    target: str = ""
    error: str = ""
    key: str = ""


@dataclass(frozen=True)
class History:
    """Everything the clients did, plus what the stores held at the end (for lost writes)."""

    ops: tuple[Op, ...]
    # service -> keys of acknowledged writes found when the run ended (read back after recovery)
    present: Mapping[str, frozenset[str]] = field(default_factory=dict)


@dataclass(frozen=True)
class Budget:
    """What one service may suffer during a scenario; None means no limit."""

    service: str
    max_downtime: float | None = None
    max_errors: int | None = None
    max_reconnect: float | None = None
    no_lost_writes: bool = False


# What a budget limits (the keys of a scenario's `budgets:` entries), and `traffic`: a budget for
# a service that recorded no operation at all.
MEASUREMENTS = ("max_downtime", "max_errors", "max_reconnect", "no_lost_writes", "traffic")
