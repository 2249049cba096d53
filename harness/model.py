"""Typed, frozen data the layers pass to each other. No docker, no I/O."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType


@dataclass(frozen=True)
class CheckResult:
    """One observation of one recovery check on one host.

    Attributes:
        check: name of the check (``limits``, ``redis roles`` …).
        host: the host it is about (the compose service name), or ``*`` for the whole set.
        ok: whether the expectation held.
        expected: what a recovered stack shows, in words a user can compare.
        observed: what was seen, as precisely as it can be said.
        detail: anything else worth knowing (which command, last error).
    """

    check: str
    host: str
    ok: bool
    expected: str
    observed: str
    detail: str = ""

    def as_dict(self) -> dict[str, object]:
        return {
            "check": self.check,
            "host": self.host,
            "ok": self.ok,
            "expected": self.expected,
            "observed": self.observed,
            "detail": self.detail,
        }

    def line(self) -> str:
        state = "ok" if self.ok else "FAIL"
        return (
            f"{self.check} [{self.host}] {state}: expected {self.expected},"
            f" observed {self.observed}"
        )


@dataclass(frozen=True)
class LimitSpec:
    """A supervisord program whose process must have at least ``min_nofile`` open files."""

    host: str
    program: str
    min_nofile: int


def _frozen(mapping: Mapping[str, tuple[str, ...]]) -> Mapping[str, tuple[str, ...]]:
    return MappingProxyType(dict(mapping))


DEFAULT_DAEMONS: Mapping[str, tuple[str, ...]] = _frozen(
    {
        "dns": ("dnsmasq",),
        "lb1": ("nginx",),
        "lb2": ("nginx",),
        "app1": ("supervisord", "python3"),
        "app2": ("supervisord", "python3"),
        "redis1": ("supervisord", "redis-server", "redis-sentinel"),
        "redis2": ("supervisord", "redis-server", "redis-sentinel"),
        "redis3": ("supervisord", "redis-server", "redis-sentinel"),
        "mysql1": ("mariadbd",),
        "mysql2": ("mariadbd",),
        "graphite": ("carbon-cache",),
    }
)


@dataclass(frozen=True)
class Topology:
    """Which host plays which part, and what a recovered host looks like.

    The defaults describe the shipped replica (compose/stack.yaml); a user with their own compose
    files and host names builds another Topology.
    """

    domain: str = "rh.test"
    dns_host: str = "dns"
    lbs: tuple[str, ...] = ("lb1", "lb2")
    lb_port: int = 80
    apps: tuple[str, ...] = ("app1", "app2")
    app_port: int = 8000
    app_program: str = "app"
    app_min_nofile: int = 10000
    redis_hosts: tuple[str, ...] = ("redis1", "redis2", "redis3")
    redis_port: int = 6379
    sentinel_port: int = 26379
    redis_master_name: str = "mymaster"
    mysql_hosts: tuple[str, ...] = ("mysql1", "mysql2")
    mysql_port: int = 3306
    graphite_host: str = "graphite"
    carbon_port: int = 2003
    graphite_pid_dir: str = "/run/graphite"
    graphite_user: str = "_graphite"
    graphite_pid_dir_mode: str = "755"
    whisper_dir: str = "/var/lib/graphite/whisper"
    nginx_error_log: str = "/var/log/nginx/error.log"
    supervisor_conf: str = "/etc/supervisor/supervisord.conf"
    daemons: Mapping[str, tuple[str, ...]] = field(default_factory=lambda: DEFAULT_DAEMONS)

    @property
    def hosts(self) -> tuple[str, ...]:
        return tuple(self.daemons)

    @property
    def supervisor_hosts(self) -> tuple[str, ...]:
        return tuple(h for h, names in self.daemons.items() if "supervisord" in names)

    @property
    def limits(self) -> tuple[LimitSpec, ...]:
        return tuple(LimitSpec(h, self.app_program, self.app_min_nofile) for h in self.apps)

    @property
    def dns_name(self) -> str:
        return f"lb.{self.domain}"


# -- scenarios -----------------------------------------------------------------------------------
# A scenario is a plan of action: steps run in order against a fresh stack, then the expected
# checks must hold within a deadline. The YAML form is documented in scenarios/README.md and
# parsed by harness.scenario.

# Every recovery check, in the order results are shown: from the host itself outwards to what
# clients see. Here, not in harness.checks, so validating a scenario never imports the checks
# (and with them the Docker, redis and MySQL clients): bad input is refused in a blink.
CHECK_NAMES = (
    "processes",
    "limits",
    "directories",
    "redis roles",
    "mysql replication",
    "nginx",
    "dns",
    "socket.io",
)
REBOOT_MODES = ("graceful", "hard")
ORDERS = ("given", "reverse", "random")


@dataclass(frozen=True)
class Reboot:
    """Reboot ``host``: graceful (SIGTERM to init, ``grace`` seconds, then SIGKILL) or hard
    (SIGKILL at once, like power loss); off for ``down_for`` seconds; back with a new address if
    ``new_ip``."""

    host: str
    mode: str = "graceful"
    down_for: float = 0.0
    new_ip: bool = False
    grace: float = 10.0


@dataclass(frozen=True)
class Kill:
    """Send ``signal`` to ``program`` (a supervisord program or a process name) on ``host``."""

    host: str
    program: str
    signal: str = "TERM"


@dataclass(frozen=True)
class Stop:
    """Power ``host`` off (graceful or hard) and leave it off until a Start (or the final heal)."""

    host: str
    mode: str = "graceful"
    grace: float = 10.0


@dataclass(frozen=True)
class Start:
    host: str


@dataclass(frozen=True)
class DnsRotate:
    """Take an LB out of (``action='out'``) or back into (``'in'``) the DNS answer, then wait
    ``wait`` seconds (default: the TTL plus a margin) so clients have moved."""

    lb: str
    action: str
    wait: float = 2.0


@dataclass(frozen=True)
class SentinelFailover:
    """Ask Sentinel to fail the redis master over, and wait until a new master is in place."""

    timeout: float = 30.0


@dataclass(frozen=True)
class MysqlFailover:
    """Promote ``to`` (default: the current replica) and repoint the old primary at it with the
    configured replication credentials."""

    to: str = ""
    timeout: float = 30.0


@dataclass(frozen=True)
class WaitRecovered:
    """Run ``checks`` (all when empty) until they all hold or ``within`` seconds pass."""

    within: float
    checks: tuple[str, ...] = ()


@dataclass(frozen=True)
class Sleep:
    seconds: float


@dataclass(frozen=True)
class Rolling:
    """Reboot each host of ``hosts`` alone, in order, waiting for recovery in between."""

    hosts: tuple[str, ...]
    mode: str = "graceful"
    down_for: float = 0.0
    recover_within: float = 90.0


@dataclass(frozen=True)
class FullRestart:
    """Every host of ``hosts`` down, then all up at once in ``order`` (seeded when random)."""

    hosts: tuple[str, ...]
    mode: str = "graceful"
    order: str = "given"
    down_for: float = 0.0


Step = (
    Reboot
    | Kill
    | Stop
    | Start
    | DnsRotate
    | SentinelFailover
    | MysqlFailover
    | WaitRecovered
    | Sleep
    | Rolling
    | FullRestart
)


@dataclass(frozen=True)
class Reproduces:
    """The incident (a compose override in compose/incidents/) a scenario reproduces, and what
    must fail on it: a recovery ``check``, or the ``budget`` of a service (what users saw)."""

    incident: str
    check: str = ""
    budget: str = ""


@dataclass(frozen=True)
class Expect:
    checks: tuple[str, ...] = ()  # empty: every check
    recover_within: float = 60.0


@dataclass(frozen=True)
class Scenario:
    name: str
    description: str
    steps: tuple[Step, ...]
    expect: Expect
    reproduces: Reproduces | None = None
    seed: int = 0
    source: str = ""  # the file it came from
    traffic: bool = False  # real clients run from before the first step until recovery
    budgets: tuple[Budget, ...] = ()  # what users may suffer (implies traffic)

    @property
    def variants(self) -> tuple[str, ...]:
        return ("fixed", "incident") if self.reproduces else ("fixed",)


@dataclass(frozen=True)
class Event:
    """Something the harness did or saw during a run, at ``t`` (epoch seconds)."""

    t: float
    kind: str
    host: str = ""
    detail: str = ""
    duration_s: float = 0.0

    def as_dict(self) -> dict[str, object]:
        return {
            "t": round(self.t, 3),
            "kind": self.kind,
            "host": self.host,
            "detail": self.detail,
            "duration_s": round(self.duration_s, 3),
        }


# -- traffic -------------------------------------------------------------------------------------
SERVICES = ("http", "socketio", "redis", "mysql", "metrics")


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

    def as_dict(self) -> dict[str, object]:
        return {
            "service": self.service,
            "client": self.client,
            "op": self.op,
            "start": round(self.start, 4),
            "end": round(self.end, 4),
            "ok": self.ok,
            "target": self.target,
            "error": self.error,
            "key": self.key,
        }


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
