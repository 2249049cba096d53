"""processes: every supervisord program RUNNING and every expected daemon alive."""

from __future__ import annotations

from harness.checks.base import CheckContext, failure, register
from harness.model import CheckResult

NAME = "processes"


def parse_supervisor_status(text: str) -> dict[str, str]:
    """`supervisorctl status` text → {program: state}.

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
    results = []
    topo = ctx.topology
    for host, daemons in topo.daemons.items():
        expected = "alive: " + ", ".join(daemons)
        if host in topo.supervisor_hosts:
            expected += "; every supervisord program RUNNING"
        reason = ctx.down(host)
        if reason:
            results.append(failure(NAME, host, expected, reason))
            continue
        running = {comm for _pid, comm in ctx.stack.processes(host)}
        missing = [d for d in daemons if d not in running]
        problems = [f"not running: {', '.join(missing)}"] if missing else []
        detail = ""
        if host in topo.supervisor_hosts:
            status = ctx.stack.exec(host, ["supervisorctl", "-c", topo.supervisor_conf, "status"])
            states = parse_supervisor_status(status.stdout)
            if not states:
                problems.append(f"supervisorctl status unreadable ({status.brief()})")
            bad = {p: s for p, s in states.items() if s != "RUNNING"}
            if bad:
                problems.append(", ".join(f"{p} {s}" for p, s in sorted(bad.items())))
            detail = "; ".join(f"{p} {s}" for p, s in sorted(states.items()))
        observed = "; ".join(problems) if problems else "all running"
        results.append(CheckResult(NAME, host, not problems, expected, observed, detail))
    return results
