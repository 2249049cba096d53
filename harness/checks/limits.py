"""limits: a supervisord program's process has at least the open files it needs."""

from __future__ import annotations

import re

from harness.checks.base import CheckContext, failure, register
from harness.model import CheckResult

NAME = "limits"
_LIMIT = re.compile(r"^Max open files\s+(\S+)\s+(\S+)\s+files", re.MULTILINE)


def parse_nofile(limits_text: str) -> tuple[int, int]:
    """Soft and hard `Max open files` from a /proc/PID/limits text (unlimited = -1)."""
    m = _LIMIT.search(limits_text)
    if not m:
        raise ValueError("no 'Max open files' line in /proc/PID/limits")
    return tuple(-1 if v == "unlimited" else int(v) for v in m.groups())  # type: ignore[return-value]


@register(NAME)
def check_limits(ctx: CheckContext) -> list[CheckResult]:
    results = []
    topo = ctx.topology
    for spec in topo.limits:
        expected = f"{spec.program} soft nofile >= {spec.min_nofile}"
        reason = ctx.down(spec.host)
        if reason:
            results.append(failure(NAME, spec.host, expected, reason))
            continue
        pid_run = ctx.stack.exec(
            spec.host, ["supervisorctl", "-c", topo.supervisor_conf, "pid", spec.program]
        )
        pid = pid_run.stdout.strip()
        if not pid.isdigit() or pid == "0":
            results.append(
                failure(NAME, spec.host, expected, f"{spec.program} not running", pid_run.brief())
            )
            continue
        limits = ctx.stack.exec(spec.host, ["cat", f"/proc/{pid}/limits"])
        try:
            soft, hard = parse_nofile(limits.stdout)
        except ValueError as e:
            results.append(failure(NAME, spec.host, expected, str(e), limits.brief()))
            continue
        ok = soft == -1 or soft >= spec.min_nofile
        results.append(
            CheckResult(
                NAME,
                spec.host,
                ok,
                expected,
                f"{spec.program} (pid {pid}) soft {soft}, hard {hard}",
                f"/proc/{pid}/limits",
            )
        )
    return results
