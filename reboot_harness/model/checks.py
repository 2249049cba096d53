"""The recovery checks as scenarios and incidents name them, and what their cause codes mean.

Here, not in reboot_harness.checks, so that validating a scenario or an incident never imports
the checks (and with them the Docker, redis and MySQL clients): bad input is refused in a blink.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

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
