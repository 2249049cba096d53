"""processes: every supervisord program up and every expected daemon alive."""

from __future__ import annotations

from harness.checks.base import CheckContext, failure, register
from harness.model import CheckResult

NAME = "processes"


def parse_supervisor_status(text: str) -> dict[str, str]:
    """`supervisorctl status` text → {program: state} (for reading it by hand; the check asks
    supervisord through the host's probe, see :mod:`harness.checks.hostview`).

    Parsed from the text, not the exit code: supervisorctl exits 0 for BACKOFF and STARTING.
    """
    states: dict[str, str] = {}
    for line in text.splitlines():
        parts = line.split()
        if len(parts) >= 2 and parts[1].isupper():
            states[parts[0]] = parts[1]
    return states


@register(NAME)
def check_processes(ctx: CheckContext) -> list[CheckResult]:
    topo = ctx.topology
    up = [h for h in topo.daemons if not ctx.down(h)]
    views = ctx.views(up)
    results = []
    for host, daemons in topo.daemons.items():
        expected = "alive: " + ", ".join(daemons)
        if host in topo.supervisor_hosts:
            expected += "; every supervisord program RUNNING (the app: also serving)"
        reason = ctx.down(host)
        if reason:
            results.append(failure(NAME, host, expected, reason))
            continue
        view = views[host]
        if not view.processes:  # the probe could not read the host at all
            results.append(failure(NAME, host, expected, view.error or "no processes"))
            continue
        running = {comm for _pid, comm in view.processes}
        missing = [d for d in daemons if d not in running]
        problems = [f"not running: {', '.join(missing)}"] if missing else []
        detail = ""
        if host in topo.supervisor_hosts:
            if not view.programs:
                problems.append(f"supervisord status unreadable ({view.error or 'no programs'})")
            bad = [p.describe() for _, p in sorted(view.programs.items()) if not p.up()]
            if bad:
                problems.append(", ".join(bad))
            detail = "; ".join(p.describe() for _, p in sorted(view.programs.items()))
        elif view.error:
            problems.append(view.error)
        observed = "; ".join(problems) if problems else "all running"
        results.append(CheckResult(NAME, host, not problems, expected, observed, detail))
    return results
