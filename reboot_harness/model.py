"""Typed, frozen data the layers pass to each other. No docker, no I/O."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType
from typing import ClassVar


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
        causes: for a failure, the stable codes of what failed, most telling first (see
            :data:`CHECKS` and :data:`COMMON_CAUSES`); empty when ``ok``.
        subjects: what this result is about, each named as the check names its subjects
            (``app1``, ``lb1->app2``, ``redis2/sentinel``): for a passing result, exactly what
            it exercised; for a failing one, what it tried.
    """

    check: str
    host: str
    ok: bool
    expected: str
    observed: str
    detail: str = ""
    causes: tuple[str, ...] = ()
    subjects: tuple[str, ...] = ()

    JSON_EXTRA: ClassVar[tuple[str, ...]] = ("cause",)  # reboot_harness.serialize

    @property
    def cause(self) -> str:
        """The most telling cause of a failure ('' when ok)."""
        return self.causes[0] if self.causes else ""

    def line(self) -> str:
        if self.ok:
            return f"{self.check} [{self.host}] ok: {self.observed}"
        return (
            f"{self.check} [{self.host}] {self.cause or 'FAIL'}: {self.observed}"
            f" (expected {self.expected})"
        )

    def brief(self) -> str:
        """``limits [app1] nofile-below-minimum: soft 1024 < 10000`` (no expectation)."""
        said = self.cause or ("ok" if self.ok else "FAIL")
        return f"{self.check} [{self.host}] {said}: {self.observed}"


@dataclass(frozen=True)
class LimitSpec:
    """A supervisord program whose process must have at least ``min_nofile`` open files."""

    host: str
    program: str
    min_nofile: int


# -- your own checks, declared in a topology file ---------------------------------------------
# What a declared host check can ask of a host (see reboot_harness.topology for the YAML form and
# reboot_harness.checks.declared for how each is observed).
HOST_CHECK_KINDS = ("process", "nofile", "directory", "port", "http", "file")
DEFAULT_HOST_CHECK = "host"

# The cause codes of declared host checks (every declared check name shares them).
HOST_CHECK_CAUSES: Mapping[str, str] = MappingProxyType(
    {
        "process-not-running": "no live process of that name (a zombie is not alive)",
        "nofile-below-minimum": "a process of that name has a soft open-file limit below the"
        " minimum",
        "directory-missing": "the directory does not exist",
        "not-a-directory": "the path exists but is not a directory",
        "directory-wrong-owner": "the directory has another owner or group",
        "directory-wrong-mode": "the directory has another mode",
        "port-not-listening": "nothing in the host listens on that TCP port",
        "http-unreachable": "the URL could not be fetched (refused, timed out, not HTTP)"
        " — asked from inside the host",
        "http-wrong-status": "the URL answered with another status",
        "file-missing": "a file that must exist does not",
        "file-present": "a file that must not exist does (e.g. a stale pid file)",
    }
)
# Those of them that say the check could not see (see CheckKind.unobserved); a host whose
# script did not answer completely is the common `host-unreadable`.
HOST_CHECK_UNOBSERVED: frozenset[str] = frozenset({"http-unreachable"})


@dataclass(frozen=True)
class HostCheck:
    """One declared property of one host (a topology file's ``host_checks`` entry).

    Attributes:
        check: the check it belongs to, as scenarios name it (default ``host``).
        host: the host it is observed on.
        kind: one of :data:`HOST_CHECK_KINDS`.
        target: the process name (process, nofile), the path (directory, file), the port
            (port, as text) or the URL (http).
        minimum: nofile: the lowest acceptable soft limit.
        owner, group, mode: directory: expected owner, group and octal mode ("" = any).
        present: file: whether the file must exist (True) or must not (False).
        status: http: the expected status code.
    """

    check: str
    host: str
    kind: str
    target: str
    minimum: int = 0
    owner: str = ""
    group: str = ""
    mode: str = ""
    present: bool = True
    status: int = 200

    @property
    def subject(self) -> str:
        """What its result names as exercised: ``HOST/KIND:TARGET``."""
        return f"{self.host}/{self.kind}:{self.target}"

    def expected(self) -> str:
        if self.kind == "process":
            return f"a live process {self.target}"
        if self.kind == "nofile":
            return f"every {self.target} process soft nofile >= {self.minimum}"
        if self.kind == "directory":
            want = [f"owner {self.owner}"] if self.owner else []
            want += [f"group {self.group}"] if self.group else []
            want += [f"mode {self.mode}"] if self.mode else []
            return f"directory {self.target}" + (f" ({', '.join(want)})" if want else "")
        if self.kind == "port":
            return f"something listening on TCP port {self.target}"
        if self.kind == "http":
            return f"GET {self.target} answers {self.status}"
        return f"{self.target} {'present' if self.present else 'absent'}"


def _frozen(mapping: Mapping[str, tuple[str, ...]]) -> Mapping[str, tuple[str, ...]]:
    return MappingProxyType(dict(mapping))


TMP_POLICIES = ("clear", "keep")

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
    carbon_conf: str = "/etc/carbon/carbon.conf"
    graphite_pid_dir: str = "/run/graphite"  # when carbon_conf names no PID_DIR
    graphite_user: str = "_graphite"
    graphite_pid_dir_mode: str = "755"
    whisper_dir: str = "/var/lib/graphite/whisper"
    nginx_error_log: str = "/var/log/nginx/error.log"
    supervisor_conf: str = "/etc/supervisor/supervisord.conf"
    daemons: Mapping[str, tuple[str, ...]] = field(default_factory=lambda: DEFAULT_DAEMONS)
    # /tmp at boot, by host: "clear" (the default: emptied at every boot, as Debian and the
    # post-mortem's Ubuntu do) or "keep". /var/tmp and the rest of the disk are always kept.
    tmp: Mapping[str, str] = field(default_factory=dict)
    # Your own checks: declared host checks, and Python checks by reference (an entry point
    # name of group `reboot_harness.checks`, or `module:attribute`; see reboot_harness.checkapi).
    host_checks: tuple[HostCheck, ...] = ()
    python_checks: tuple[str, ...] = ()
    # Where `module:attribute` references are also looked up (the topology file's folder).
    python_path: str = ""

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

    def tmp_at_boot(self, host: str) -> str:
        """``clear`` or ``keep``: what a boot does to ``host``'s /tmp."""
        return self.tmp.get(host, "clear")


# -- scenarios -----------------------------------------------------------------------------------
# A scenario is a plan of action: steps run in order against a fresh stack, then the expected
# checks must hold within a deadline. The YAML form is documented in scenarios/README.md and
# parsed by reboot_harness.scenario.

# Every recovery check, in the order results are shown: from the host itself outwards to what
# clients see, each with the cause codes its failures carry. Here, not in reboot_harness.checks, so
# validating a scenario or an incident never imports the checks (and with them the Docker,
# redis and MySQL clients): bad input is refused in a blink.


# What a cause code says. A **mechanism** names why a service is broken (a server that says it
# is a replica, a limits file that says 1024, a pid directory that is not there), and a check
# emits it only from an answer that shows it. An **unobserved** code says the harness could not
# see: the host was off, a read failed, timed out or came back empty or incomplete, a connection
# was refused or never answered, the check crashed or reached nothing. Silence is never a
# mechanism: a host that answers nothing gets an unobserved code, whatever its silence suggests
# (tests/unit/test_silence.py feeds every check silence, timeouts and failed reads and allows
# unobserved codes only).
MECHANISM = "mechanism"
UNOBSERVED = "unobserved"


@dataclass(frozen=True)
class CheckKind:
    """A recovery check as scenarios and incidents name it.

    Attributes:
        name: what scenarios call it.
        causes: the stable codes of its failures -> what each means. Every failing result of
            the check carries one of these or one of :data:`COMMON_CAUSES`.
        subjects: what it covers on a stack, in words (the README's table).
        roles: topology roles (attribute names) that must each name at least one host for the
            check to have anything to look at; a topology without one cannot select the check.
        unobserved: those of ``causes`` that say the check could not see (no answer, a
            timeout, a failed read); every other cause is a mechanism, emitted only from an
            answer that shows it.
    """

    name: str
    causes: Mapping[str, str]
    subjects: str = ""
    roles: tuple[str, ...] = ()
    unobserved: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        stray = sorted(self.unobserved - set(self.causes))
        if stray:  # pragma: no cover - a programming error, caught at import
            raise RuntimeError(f"check {self.name!r}: unobserved causes {stray} are not causes")

    @property
    def mechanisms(self) -> tuple[str, ...]:
        """Its causes that name a mechanism (never emitted from silence)."""
        return tuple(c for c in self.causes if c not in self.unobserved)

    def kind_of(self, cause: str) -> str:
        """:data:`MECHANISM` or :data:`UNOBSERVED` (every common cause is unobserved)."""
        if cause in COMMON_CAUSES or cause in self.unobserved:
            return UNOBSERVED
        return MECHANISM


# Causes any check may report, none of them a mechanism: they say nothing about a service's
# configuration, so an incident is never "reproduced" by them unless it declares them.
COMMON_CAUSES: Mapping[str, str] = MappingProxyType(
    {
        "host-down": "the host is not running (powered off, or its init exited)",
        "host-unreadable": "the host did not answer a read: it failed, timed out, or came back"
        " empty or incomplete",
        "check-crashed": "the check itself failed with an exception (a harness bug or an"
        " answer it could not read)",
        "not-exercised": "the check reached fewer subjects than the topology names (or none),"
        " or passed on a subject whose host none of its reads reached",
    }
)


def _kind(
    name: str, subjects: str, roles: tuple[str, ...], unobserved: tuple[str, ...], **causes: str
) -> CheckKind:
    codes = MappingProxyType({k.replace("_", "-"): v for k, v in causes.items()})
    return CheckKind(name, codes, subjects, roles, frozenset(unobserved))


CHECKS: tuple[CheckKind, ...] = (
    _kind(
        "processes",
        "every host of the topology",
        ("daemons",),
        ("supervisor-unreadable",),
        daemon_not_running="an expected daemon is not alive on the host (its process list read)",
        supervisor_unreadable="supervisord did not say how its programs are",
        program_not_running="a supervisord program is not RUNNING/STARTING, or its process ended",
        program_not_serving="the app is RUNNING but its own process does not answer /health"
        " (asked inside the host)",
    ),
    _kind(
        "limits",
        "every app host's app program",
        ("apps",),
        ("limits-unreadable",),
        program_not_running="supervisord says the program whose limit is checked is not"
        " running, or has no such program",
        limits_unreadable="the program's limits could not be read (the host's probe or"
        " supervisord did not answer, or /proc/PID/limits had no open-files line)",
        nofile_below_minimum="the program's soft open-file limit is below what it needs",
    ),
    _kind(
        "directories",
        "the graphite host",
        ("graphite_host",),
        ("metric-not-sent",),
        pid_dir_missing="carbon's pid directory does not exist",
        pid_dir_wrong_owner="carbon's pid directory has the wrong owner or mode",
        stale_pid_file="a carbon pid file names a process that is not carbon-cache (left by"
        " a boot before: carbon refuses to start when that pid is in use again)",
        not_listening="carbon does not listen on its line receiver port",
        metric_not_sent="a metric could not be sent to carbon (no connection)",
        metric_not_stored="a metric sent now did not land in whisper",
    ),
    _kind(
        "redis roles",
        "every redis host's redis-server and sentinel",
        ("redis_hosts",),
        ("redis-unreachable", "sentinel-unreachable", "master-unknown"),
        zero_masters="every redis server answered and none is master: nobody can write",
        several_masters="more than one redis server is master (split brain)",
        redis_unreachable="a redis server does not answer",
        master_unknown="no answering redis server is master and another did not answer (nor do"
        " the replicas agree on it): whether there is a master cannot be told",
        wrong_role="a redis server has a role other than master or replica",
        replica_wrong_master="a replica replicates from another host than the master",
        replica_link_down="a replica's link to the master is not up",
        sentinel_unreachable="a sentinel does not answer",
        sentinel_wrong_master="a sentinel names another master",
        ckquorum_failed="a sentinel cannot reach its quorum (SENTINEL CKQUORUM)",
        sentinel_view_incomplete="a sentinel knows fewer or more replicas or sentinels than exist",
        failover_in_progress="a sentinel reports a failover still in progress",
    ),
    _kind(
        "mysql replication",
        "every mysql host",
        ("mysql_hosts",),
        ("mysql-unreachable", "primary-unknown"),
        mysql_unreachable="a server does not answer",
        primary_unknown="no answering server is writable and another did not answer: which is"
        " the primary cannot be told",
        no_primary="every server answered and none is writable (read_only=0)",
        several_primaries="more than one server is writable",
        replica_writable="a replica is not read_only",
        not_a_replica="a server that is not the primary replicates from nobody",
        replica_wrong_primary="a replica replicates from another host than the primary",
        replica_io_error="the replica's IO thread failed (connect, authentication, binlog)",
        replica_sql_error="the replica's SQL thread failed applying a transaction",
        replica_stopped="a replication thread is not running, without an error",
        errant_transactions="a replica holds transactions the primary never had",
        replica_behind="a replica has not applied everything the primary has",
    ),
    _kind(
        "nginx",
        "every load balancer, and each backend app as that LB reaches it",
        ("lbs", "apps"),
        ("lb-not-answering", "backend-not-serving"),
        lb_not_answering="the LB's /health does not answer through to an app (no answer, or an"
        " error status)",
        backend_unreachable="the LB cannot reach an app at the address it uses for it (the LB's"
        " own attempt, while the app serves)",
        backend_not_serving="an app does not serve /health (no answer, or an error status)",
        healthy_backend_marked_down="nginx disabled a backend while it was serving",
        healthy_backend_held_out="nginx refused requests ('no live upstreams') while a backend"
        " was serving",
        backend_not_back="nginx still holds a serving backend out of rotation (fail_timeout)",
    ),
    _kind(
        "dns",
        "the dns host, asked directly and from inside the stack network as clients ask it",
        ("dns_host", "lbs"),
        ("dns-no-answer",),
        dns_no_answer="the DNS server did not answer (nothing, a timeout, or an error rcode)",
        wrong_answer="the LB name resolves to other addresses than the LBs in rotation",
        ttl_too_long="the answer's TTL is longer than clients may cache it",
    ),
    _kind(
        "socket.io",
        "every load balancer, and each app behind it",
        ("lbs", "apps"),
        ("no-echo", "app-not-serving"),
        no_echo="a socket.io client could not connect and get its echo back (or the LB did not"
        " answer at all)",
        app_not_serving="an app does not serve /health at all (nothing to reach through an LB)",
        wrong_backend="the LB sent a client for one app to another (the app is held out)",
    ),
)
CHECK_NAMES: tuple[str, ...] = tuple(k.name for k in CHECKS)
CHECK_KINDS: Mapping[str, CheckKind] = MappingProxyType({k.name: k for k in CHECKS})

# The preflight lint (reboot_harness.checks.preflight): configuration that works today and breaks at
# the first failover, flagged before anything is rebooted. Not a recovery check (scenarios do
# not select it); its failures carry these causes or the common ones.
PREFLIGHT = CheckKind(
    "preflight",
    MappingProxyType(
        {
            "repl-password-too-long": "a mysql host's replication password is longer than"
            " CHANGE MASTER accepts: the first failover onto it fails (ERROR 1470)",
        }
    ),
    "every mysql host's replication password",
    ("mysql_hosts",),
)


def causes_of(check: str) -> tuple[str, ...]:
    """Every cause code a failure of ``check`` may carry (its own, then the common ones)."""
    return (*CHECK_KINDS[check].causes, *COMMON_CAUSES)


def unobserved_causes(check: str) -> frozenset[str]:
    """The causes of shipped check ``check`` that say it could not see (the common ones too)."""
    return CHECK_KINDS[check].unobserved | frozenset(COMMON_CAUSES)


# graceful: an ACPI shutdown (init's stop signal, then SIGKILL after the grace period);
# hard: power loss (the host leaves the network, then everything in it dies: peers hear nothing);
# crash: every process killed at once with the kernel alive (peers get resets at once).
REBOOT_MODES = ("graceful", "hard", "crash")
ORDERS = ("given", "reverse", "random")


@dataclass(frozen=True)
class Reboot:
    """Reboot ``host``: graceful (SIGTERM to init, ``grace`` seconds, then SIGKILL), hard (power
    loss: the host leaves the network, then everything in it dies) or crash (SIGKILL at once,
    the kernel alive); off for ``down_for`` seconds; back with a new address if ``new_ip``."""

    host: str
    mode: str = "graceful"
    down_for: float = 0.0
    new_ip: bool = False
    grace: float = 10.0

    KEY: ClassVar[str] = "reboot"

    def touches(self, topo: Topology) -> tuple[str, ...]:
        """The hosts this step touches."""
        return (self.host,)


@dataclass(frozen=True)
class Kill:
    """Send ``signal`` to ``program`` (a supervisord program or a process name) on ``host``."""

    host: str
    program: str
    signal: str = "TERM"

    KEY: ClassVar[str] = "kill"

    def touches(self, topo: Topology) -> tuple[str, ...]:
        """The hosts this step touches."""
        return (self.host,)


@dataclass(frozen=True)
class Stop:
    """Power ``host`` off (graceful or hard) and leave it off until a Start (or the final heal)."""

    host: str
    mode: str = "graceful"
    grace: float = 10.0

    KEY: ClassVar[str] = "stop"

    def touches(self, topo: Topology) -> tuple[str, ...]:
        """The hosts this step touches."""
        return (self.host,)


@dataclass(frozen=True)
class Start:
    host: str

    KEY: ClassVar[str] = "start"

    def touches(self, topo: Topology) -> tuple[str, ...]:
        """The hosts this step touches."""
        return (self.host,)


@dataclass(frozen=True)
class DnsRotate:
    """Take an LB out of (``action='out'``) or back into (``'in'``) the DNS answer, then wait
    ``wait`` seconds (default: the TTL plus a margin) so clients have moved."""

    lb: str
    action: str
    wait: float = 2.0

    KEY: ClassVar[str] = "dns_rotate"

    def touches(self, topo: Topology) -> tuple[str, ...]:
        """The hosts this step touches."""
        return (self.lb, topo.dns_host)


@dataclass(frozen=True)
class SentinelFailover:
    """Ask Sentinel to fail the redis master over, and wait until a new master is in place."""

    timeout: float = 30.0

    KEY: ClassVar[str] = "sentinel_failover"

    def touches(self, topo: Topology) -> tuple[str, ...]:
        """The hosts this step touches."""
        return tuple(topo.redis_hosts)


@dataclass(frozen=True)
class MysqlFailover:
    """Promote ``to`` (default: the current replica) and repoint the old primary at it with the
    configured replication credentials."""

    to: str = ""
    timeout: float = 30.0

    KEY: ClassVar[str] = "mysql_failover"

    def touches(self, topo: Topology) -> tuple[str, ...]:
        """The hosts this step touches."""
        return tuple(topo.mysql_hosts)


@dataclass(frozen=True)
class WaitRecovered:
    """Run ``checks`` (all when empty) until they all hold or ``within`` seconds pass."""

    within: float
    checks: tuple[str, ...] = ()

    KEY: ClassVar[str] = "wait_recovered"

    def touches(self, topo: Topology) -> tuple[str, ...]:
        """The hosts this step touches."""
        return ()


@dataclass(frozen=True)
class Sleep:
    seconds: float

    KEY: ClassVar[str] = "sleep"

    def touches(self, topo: Topology) -> tuple[str, ...]:
        """The hosts this step touches."""
        return ()


@dataclass(frozen=True)
class Rolling:
    """Reboot each host of ``hosts`` alone, in order, waiting for recovery in between."""

    hosts: tuple[str, ...]
    mode: str = "graceful"
    down_for: float = 0.0
    recover_within: float = 90.0

    KEY: ClassVar[str] = "rolling"

    def touches(self, topo: Topology) -> tuple[str, ...]:
        """The hosts this step touches."""
        return tuple(self.hosts)


@dataclass(frozen=True)
class FullRestart:
    """Every host of ``hosts`` down, then all up at once in ``order`` (seeded when random)."""

    hosts: tuple[str, ...]
    mode: str = "graceful"
    order: str = "given"
    down_for: float = 0.0

    KEY: ClassVar[str] = "full_restart"

    def touches(self, topo: Topology) -> tuple[str, ...]:
        """The hosts this step touches."""
        return tuple(self.hosts)


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


# Why a step failed: the cause a FaultError carries (reboot_harness.errors), recorded with the step.
STEP_ERROR_CAUSES: Mapping[str, str] = MappingProxyType(
    {
        "step-failed": "the step failed for a reason the harness does not name",
        "not-recovered": "a wait for recovery ran out; its failing checks are kept with it",
        "host-unavailable": "a host the step needed is not running, or its engine refused",
        "signal-failed": "no process to signal, or the signal could not be sent",
        "failover-refused": "Sentinel refused the failover (another in progress, no good replica)",
        "failover-incomplete": "the failover did not settle in time: sentinels disagree, a replica"
        " not reconfigured, or Sentinel still reports it in progress",
        "no-primary": "a MySQL failover found no single writable primary to move from",
        "replica-not-caught-up": "the new MySQL primary did not reach the old one's position",
        "repl-password-too-long": "CHANGE MASTER refused the replication password as too long"
        " (ERROR 1470)",
        "replication-not-started": "after a MySQL failover the old primary does not replicate"
        " from the new one",
        "rotation-not-served": "the DNS host answered, and its answer was not the new rotation",
        "dns-no-answer": "the DNS host gave no answer to read the rotation back from (nothing,"
        " a timeout, or an error rcode)",
    }
)
# Those of them that say the step could not see or do its work (no answer, a host not there,
# a reason not named); every other cause is a mechanism, raised only from an answer that shows
# it (see MECHANISM / UNOBSERVED above).
STEP_UNOBSERVED_CAUSES: frozenset[str] = frozenset({"step-failed", "host-unavailable",
                                                    "dns-no-answer"})  # fmt: skip


@dataclass(frozen=True)
class StepError:
    """A step that failed: where, why (a cause of :data:`STEP_ERROR_CAUSES`), and for a wait
    that ran out, the checks that were still failing."""

    index: int
    kind: str
    message: str
    cause: str = "step-failed"
    checks: tuple[CheckResult, ...] = ()

    def line(self) -> str:
        return f"steps[{self.index}].{self.kind} {self.cause}: {self.message}"


# What a budget limits (the keys of a scenario's `budgets:` entries), and `traffic`: a budget for
# a service that recorded no operation at all.
MEASUREMENTS = ("max_downtime", "max_errors", "max_reconnect", "no_lost_writes", "traffic")


@dataclass(frozen=True)
class BudgetViolation:
    """A budget exceeded: which service and measurement, the message, and the hosts whose
    disruption it is attributed to (``-``: no host explains it)."""

    service: str
    measurement: str
    message: str
    hosts: tuple[str, ...] = ()

    def line(self) -> str:
        where = f" [{', '.join(self.hosts)}]" if self.hosts else ""
        return f"{self.service} {self.measurement}{where}: {self.message}"


STEP_TYPES: tuple[type, ...] = (
    Reboot, Kill, Stop, Start, DnsRotate, SentinelFailover, MysqlFailover, WaitRecovered, Sleep,
    Rolling, FullRestart,
)  # fmt: skip
# The YAML key of each step kind (what scenarios write, what step errors and incidents name);
# each step type also says which hosts it touches (``touches``).
STEP_KEYS: tuple[str, ...] = tuple(sorted(t.KEY for t in STEP_TYPES))  # type: ignore[attr-defined]


@dataclass(frozen=True)
class Reproduces:
    """The incident (a compose override in compose/incidents/) a scenario reproduces. What its
    failure must show is the incident's own declaration (reboot_harness.incidents); ``check`` or
    ``budget``, when the scenario names one, must agree with it."""

    incident: str
    check: str = ""
    budget: str = ""


@dataclass(frozen=True)
class Expect:
    checks: tuple[str, ...] = ()  # empty: every check
    recover_within: float = 60.0


@dataclass(frozen=True)
class Clients:
    """How the traffic's clients behave where real ones differ: how long they keep a DNS answer,
    and whether they keep HTTP connections open. The defaults are the idealised client (the
    answer kept for its TTL, a new connection per request); a plan proven with them says
    nothing about clients that cache longer or keep connections."""

    dns_min_ttl: float = 0.0  # an answer is kept at least this long, whatever its TTL
    dns_stale: float = 0.0  # a cached answer is used this long past its TTL when DNS fails
    keepalive: bool = False  # HTTP connections kept open and reused (pooled by name)

    def describe(self) -> str:
        dns = (
            f"DNS answers kept at least {self.dns_min_ttl:g} s"
            if self.dns_min_ttl
            else "DNS answers kept for their TTL"
        )
        if self.dns_stale:
            dns += f" (served {self.dns_stale:g} s stale when DNS fails)"
        http = (
            "HTTP keep-alive (a connection reused for up to 10 requests)"
            if self.keepalive
            else "a new HTTP connection per request"
        )
        return f"{dns}; {http}"


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
    clients: Clients = Clients()  # how those clients behave (traffic: {…})

    @property
    def variants(self) -> tuple[str, ...]:
        return ("fixed", "incident") if self.reproduces else ("fixed",)

    @property
    def planned_s(self) -> float:
        """The longest this scenario can take by its own plan: every time off, sleep, wait and
        timeout its steps name, then ``recover_within`` (not counting how long hosts take to
        boot, nor bringing the stack up)."""
        return sum(planned_step_s(step) for step in self.steps) + self.expect.recover_within


DNS_READ_BACK_S = 5.0  # how long a DNS rotation may take to be served (faults.operations)


def planned_step_s(step: Step) -> float:
    """The longest one step can take by its own parameters."""
    if isinstance(step, Reboot):
        return step.down_for + (step.grace if step.mode == "graceful" else 0.0)
    if isinstance(step, Stop):
        return step.grace if step.mode == "graceful" else 0.0
    if isinstance(step, Sleep):
        return step.seconds
    if isinstance(step, WaitRecovered):
        return step.within
    if isinstance(step, DnsRotate):
        return step.wait + DNS_READ_BACK_S
    if isinstance(step, SentinelFailover | MysqlFailover):
        return step.timeout
    if isinstance(step, Rolling):
        grace = 10.0 if step.mode == "graceful" else 0.0
        return len(step.hosts) * (step.down_for + grace + step.recover_within)
    if isinstance(step, FullRestart):
        return step.down_for + (10.0 if step.mode == "graceful" else 0.0)
    return 0.0  # kill, start


class Category(StrEnum):
    """What an event is to the verdicts and reports: a fault done to a host, an operator's move,
    or the harness's own bookkeeping."""

    FAULT = "fault"
    OPERATION = "operation"
    BOOKKEEPING = "bookkeeping"


class EventKind(StrEnum):
    """Every kind of event a run records; its value is what reports and JSON show."""

    POWER_OFF = "power off"
    POWER_ON = "power on"
    KILL = "kill"
    NEW_ADDRESS = "new address"
    FULL_RESTART = "full restart"
    DNS_ROTATE = "dns rotate"
    SENTINEL_FAILOVER = "sentinel failover"
    MYSQL_PROMOTE = "mysql promote"
    MYSQL_REPOINT = "mysql repoint"
    RECOVERED = "recovered"
    CAME_BACK = "came back"  # what a redis/mysql host's return cost replication (comeback.py)
    NOT_RECOVERED = "not recovered"
    STACK_READY = "stack ready"
    PREFLIGHT = "preflight"
    STEP_FAILED = "step failed"
    STEP_SKIPPED = "step skipped"  # left out by an incident's plan
    HEAL = "heal"
    HEAL_FAILED = "heal failed"
    TRAFFIC_STARTED = "traffic started"
    TRAFFIC_STOPPED = "traffic stopped"

    @property
    def category(self) -> Category:
        return _CATEGORIES.get(self, Category.BOOKKEEPING)


_CATEGORIES: Mapping[EventKind, Category] = MappingProxyType(
    {
        **dict.fromkeys(
            (
                EventKind.POWER_OFF,
                EventKind.POWER_ON,
                EventKind.KILL,
                EventKind.NEW_ADDRESS,
                EventKind.FULL_RESTART,
            ),
            Category.FAULT,
        ),
        **dict.fromkeys(
            (
                EventKind.DNS_ROTATE,
                EventKind.SENTINEL_FAILOVER,
                EventKind.MYSQL_PROMOTE,
                EventKind.MYSQL_REPOINT,
            ),
            Category.OPERATION,
        ),
    }
)


@dataclass(frozen=True)
class Event:
    """Something the harness did or saw during a run, at ``t`` (epoch seconds)."""

    t: float
    kind: EventKind
    host: str = ""
    detail: str = ""
    duration_s: float = 0.0

    def __post_init__(self) -> None:
        # A kind given by its value ("power off", as read back from JSON) becomes the member.
        object.__setattr__(self, "kind", EventKind(self.kind))


# -- traffic -------------------------------------------------------------------------------------
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
