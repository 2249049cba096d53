"""The step kinds a scenario is made of, as frozen values: their parameters, the hosts each
touches, the longest each can take, and the causes a failed step carries."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import ClassVar

from reboot_harness.model.topology import Topology

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


DNS_READ_BACK_S = 5.0  # how long a DNS rotation may take to be served (steps.operations)


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


STEP_TYPES: tuple[type, ...] = (
    Reboot, Kill, Stop, Start, DnsRotate, SentinelFailover, MysqlFailover, WaitRecovered, Sleep,
    Rolling, FullRestart,
)  # fmt: skip
# The YAML key of each step kind (what scenarios write, what step errors and incidents name);
# each step type also says which hosts it touches (``touches``).
STEP_KEYS: tuple[str, ...] = tuple(sorted(t.KEY for t in STEP_TYPES))  # type: ignore[attr-defined]


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
