"""checks: which checks there are and what they observe — the public check API your own checks
are written with (api: its values live in reboot_harness.model.own_checks, its loader in
reboot_harness.inputs.own_checks), the shipped checks (one module each, written with that same
API: processes, limits, directories, redis_roles, mysql_replication, nginx, dns, socketio),
the table's loader (shipped), which checks a topology has (available), the context every check
sees the stack through (context, with hostview's shared reading of each host), running them (run)
and waiting until they hold (recovery). Imports model, inputs, errors and stack; the checks see
the stack through its protocol (reboot_harness.stack.protocol.StackLike).

A new shipped check is one module here, declared with ``@check(...)``, plus one row of
reboot_harness.model.checks.SHIPPED.

Your own checks import what they need from here::

    from reboot_harness.checks import CheckResult, Context, Topology, check
"""

from reboot_harness.checks.api import Check, Context, ExecOutput, Problem, check
from reboot_harness.model.hostview import HostView
from reboot_harness.model.results import CheckResult
from reboot_harness.model.topology import Topology

__all__ = [
    "Check",
    "CheckResult",
    "Context",
    "ExecOutput",
    "HostView",
    "Problem",
    "Topology",
    "check",
]
