"""What every step kind shares, as the model knows it: the ``Step`` base a scenario's steps are
(each kind is its own module of reboot_harness.steps), the reboot modes and boot orders, and
the causes a failed step carries."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import ClassVar

from reboot_harness.model.topology import Topology

# graceful: an ACPI shutdown (init's stop signal, then SIGKILL after the grace period);
# hard: power loss (the host leaves the network, then everything in it dies: peers hear nothing);
# crash: every process killed at once with the kernel alive (peers get resets at once).
REBOOT_MODES = ("graceful", "hard", "crash")
ORDERS = ("given", "reverse", "random")


class Step:
    """One step of a scenario: a frozen value of one step kind (the kinds and their parameters
    are reboot_harness.steps.KINDS, one module each). What every layer may ask of a step
    without knowing its kind: its YAML key, the hosts it touches and how long it can take."""

    # the YAML key of the kind (what scenarios write, what step errors and incidents name)
    KEY: ClassVar[str]

    def touches(self, topo: Topology) -> tuple[str, ...]:
        """The hosts this step touches (none by default)."""
        return ()

    def planned_s(self) -> float:
        """The longest this step can take by its own parameters (0 by default)."""
        return 0.0


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
