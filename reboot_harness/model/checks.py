"""What a check is as scenarios and incidents name it (:class:`CheckKind`), the causes every
check shares, and the one table of the shipped checks (:data:`SHIPPED`: their names, and where
each is declared).

Here, not in reboot_harness.checks, so that validating a scenario, a topology or an incident
needs no check module: bad input is refused in a blink.
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
        subjects: what it covers on a stack, in words (docs/concepts.md's table).
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


# The one table of the shipped checks: name -> the module:attribute that declares it with the
# public check API (reboot_harness.checks.check; each is a module of reboot_harness.checks: its
# causes, roles, subjects and function in one place), in the order results are shown. Names
# only here, so that validating a scenario, a topology or an incident needs no check module;
# reboot_harness.checks.shipped loads them.
SHIPPED: Mapping[str, str] = MappingProxyType(
    {
        "processes": "reboot_harness.checks.processes:check_processes",
        "limits": "reboot_harness.checks.limits:check_limits",
        "directories": "reboot_harness.checks.directories:check_directories",
        "redis roles": "reboot_harness.checks.redis_roles:check_redis_roles",
        "mysql replication": "reboot_harness.checks.mysql_replication:check_mysql",
        "postgres replication": "reboot_harness.checks.postgres_replication:check_postgres",
        "nginx": "reboot_harness.checks.nginx:check_nginx",
        "dns": "reboot_harness.checks.dns:check_dns",
        "socket.io": "reboot_harness.checks.socketio:check_socketio",
    }
)
CHECK_NAMES: tuple[str, ...] = tuple(SHIPPED)


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
        "port-refused-from-peer": "a connection from the peer host to that TCP port was refused"
        " (nothing listens there, or only on another address)",
        "port-unanswered-from-peer": "a connection from the peer host to that TCP port got no"
        " answer within 3 s, or the name did not resolve there",
        "healthcheck-unhealthy": "the engine's healthcheck of the host reports unhealthy (its"
        " command failed as many times in a row as it allows)",
        "healthcheck-starting": "the engine's healthcheck of the host has not passed since it"
        " booted (starting)",
        "healthcheck-missing": "the host has no healthcheck (none in its compose file or image)",
        "http-unreachable": "the URL could not be fetched (refused, timed out, not HTTP)"
        " — asked from inside the host",
        "http-wrong-status": "the URL answered with another status",
        "file-missing": "a file that must exist does not",
        "file-present": "a file that must not exist does (e.g. a stale pid file)",
    }
)
# Those of them that say the check could not see (see CheckKind.unobserved); a host whose
# script did not answer completely is the common `host-unreadable`.
HOST_CHECK_UNOBSERVED: frozenset[str] = frozenset({"http-unreachable", "port-unanswered-from-peer"})
