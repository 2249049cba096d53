"""Preflight lints: configuration that works today and breaks at the first failover or reboot,
flagged before anything is rebooted."""

from __future__ import annotations

from harness.model import CheckResult
from harness.stack import StackLike

NAME = "preflight"
# CHANGE MASTER TO ... MASTER_PASSWORD accepts at most this many characters (ERROR 1470 above).
MAX_REPL_PASSWORD = {"mariadb": 96, "mysql": 32}


def lint_replication_password(stack: StackLike, server: str = "mariadb") -> list[CheckResult]:
    """The replication password each mysql host would use in a failover fits CHANGE MASTER."""
    limit = MAX_REPL_PASSWORD[server]
    results = []
    for host in stack.topology.mysql_hosts:
        length = len(stack.env(host).get("MYSQL_REPL_PASSWORD", ""))
        expected = f"replication password <= {limit} characters ({server})"
        observed = f"{length} characters"
        detail = (
            ""
            if length <= limit
            else (f"CHANGE MASTER will fail with ERROR 1470 at the first failover onto {host}")
        )
        results.append(CheckResult(NAME, host, length <= limit, expected, observed, detail))
    return results


def preflight(stack: StackLike) -> list[CheckResult]:
    return lint_replication_password(stack)
