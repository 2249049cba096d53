"""processes: every supervisord program up and every expected daemon alive."""

from __future__ import annotations

from reboot_harness.checks.api import Context, Problem, check
from reboot_harness.model.results import CheckResult
from reboot_harness.model.topology import Topology

NAME = "processes"


def parse_supervisor_status(text: str) -> dict[str, str]:
    """`supervisorctl status` text → {program: state} (for reading it by hand; the check asks
    supervisord through the host's probe, see :mod:`reboot_harness.checks.hostview`).

    Parsed from the text, not the exit code: supervisorctl exits 0 for BACKOFF and STARTING.
    """
    states: dict[str, str] = {}
    for line in text.splitlines():
        parts = line.split()
        if len(parts) >= 2 and parts[1].isupper():
            states[parts[0]] = parts[1]
    return states


def subjects(topo: Topology) -> tuple[str, ...]:
    return tuple(topo.daemons)


@check(
    NAME,
    description="every host of the topology",
    roles=("daemons",),
    subjects=subjects,
    unobserved=("supervisor-unreadable",),
    causes={
        "daemon-not-running": "an expected daemon is not alive on the host (its process list read)",
        "supervisor-unreadable": "supervisord did not say how its programs are",
        "program-not-running": "a supervisord program is not RUNNING/STARTING, or its process"
        " ended",
        "program-not-serving": "the app is RUNNING but its own process does not answer /health"
        " (asked inside the host)",
    },
)
def check_processes(ctx: Context) -> list[CheckResult]:
    topo = ctx.topology
    up = [h for h in topo.daemons if not ctx.down(h)]
    views = ctx.views(up)
    results = []
    for host, daemons in topo.daemons.items():
        expected = "alive: " + ", ".join(daemons)
        if host in topo.supervisor_hosts:
            expected += "; every supervisord program RUNNING"
            expected += " (the app: also serving)" if host in topo.apps else ""
        reason = ctx.down(host)
        if reason:
            results.append(ctx.fail(host, expected, reason, cause="host-down", subjects=(host,)))
            continue
        view = views[host]
        if view.down:  # stopped after the run's status read
            results.append(
                ctx.fail(host, expected, view.error, cause="host-down", subjects=(host,))
            )
            continue
        if not view.processes:  # the probe could not read the host at all
            results.append(
                ctx.fail(host, expected, view.error or "no processes",
                         cause="host-unreadable", subjects=(host,))
            )  # fmt: skip
            continue
        running = {comm for _pid, comm in view.processes}
        missing = [d for d in daemons if d not in running]
        problems = (
            [Problem("daemon-not-running", f"not running: {', '.join(missing)}")] if missing else []
        )
        detail = ""
        if host in topo.supervisor_hosts:
            if not view.programs:
                problems.append(
                    Problem(
                        "supervisor-unreadable",
                        f"supervisord status unreadable ({view.error or 'no programs'})",
                    )
                )
            down = [p for _, p in sorted(view.programs.items()) if not p.up()]
            deaf = [p for p in down if p.alive and p.state in ("RUNNING", "STARTING") and p.serving]
            dead = [p for p in down if p not in deaf]
            if dead:
                problems.append(
                    Problem("program-not-running", ", ".join(p.describe() for p in dead))
                )
            if deaf:
                problems.append(
                    Problem("program-not-serving", ", ".join(p.describe() for p in deaf))
                )
            detail = "; ".join(p.describe() for _, p in sorted(view.programs.items()))
        elif view.error:
            problems.append(Problem("host-unreadable", view.error))
        results.append(
            ctx.result(host, expected, problems, "all running", subjects=(host,), detail=detail)
        )
    return results
