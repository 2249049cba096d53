"""The Chaos Toolkit extension's module path, as experiments name it (``"module":
"reboot_harness.chaostoolkit"``); the actions and probes are reboot_harness.faces.chaostoolkit."""

from reboot_harness.faces.chaostoolkit import (
    check_results,
    checks_hold,
    dns_rotate,
    failover,
    heal,
    kill,
    reboot,
    start,
    stop,
    wait_recovered,
)

__all__ = [
    "check_results",
    "checks_hold",
    "dns_rotate",
    "failover",
    "heal",
    "kill",
    "reboot",
    "start",
    "stop",
    "wait_recovered",
]
