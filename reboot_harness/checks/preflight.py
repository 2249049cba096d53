"""Preflight lints: configuration that works today and breaks at the first failover or reboot,
flagged before anything is rebooted. Their failures carry the causes of
:data:`reboot_harness.model.checks.PREFLIGHT` (or a common one: a host whose configuration could
not be read is `host-unreadable`, a lint with nothing to read is `not-exercised`)."""

from __future__ import annotations

from reboot_harness.checks.base import short_error
from reboot_harness.model.checks import COMMON_CAUSES, PREFLIGHT
from reboot_harness.model.results import CheckResult
from reboot_harness.stack.protocol import StackLike

NAME = PREFLIGHT.name
# CHANGE MASTER TO ... MASTER_PASSWORD accepts at most this many characters (ERROR 1470 above).
MAX_REPL_PASSWORD = {"mariadb": 96, "mysql": 32}
PASSWORD_VARIABLE = "MYSQL_REPL_PASSWORD"


def _result(
    host: str, expected: str, observed: str, detail: str = "", cause: str = ""
) -> CheckResult:
    if cause and cause not in PREFLIGHT.causes and cause not in COMMON_CAUSES:
        raise RuntimeError(f"preflight reported unknown cause {cause!r}")  # a bug
    return CheckResult(
        NAME, host, not cause, expected, observed, detail, (cause,) if cause else (), (host,)
    )


def lint_replication_password(stack: StackLike, server: str = "mariadb") -> list[CheckResult]:
    """The replication password each mysql host would use in a failover fits CHANGE MASTER."""
    limit = MAX_REPL_PASSWORD[server]
    expected = f"replication password <= {limit} characters ({server})"
    results = []
    for host in stack.topology.mysql_hosts:
        try:
            env = stack.env(host)
        except Exception as e:  # its configuration unread: nothing is known of the password
            results.append(
                _result(host, expected, f"cannot read its environment: {short_error(e)}",
                        cause="host-unreadable")
            )  # fmt: skip
            continue
        if PASSWORD_VARIABLE not in env:
            results.append(
                _result(host, expected, f"no {PASSWORD_VARIABLE} in its environment: nothing"
                        " to lint", cause="not-exercised")
            )  # fmt: skip
            continue
        length = len(env[PASSWORD_VARIABLE])
        observed = f"{length} characters"
        if length <= limit:
            results.append(_result(host, expected, observed))
        else:
            results.append(
                _result(host, expected, observed, "CHANGE MASTER will fail with ERROR 1470 at the"
                        f" first failover onto {host}", cause="repl-password-too-long")
            )  # fmt: skip
    return results


def preflight(stack: StackLike) -> list[CheckResult]:
    return lint_replication_password(stack)
