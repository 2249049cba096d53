"""limits: a supervisord program's process has at least the open files it needs."""

from __future__ import annotations

import re

from reboot_harness.checks.api import Context, Problem, check
from reboot_harness.model.results import CheckResult
from reboot_harness.model.topology import Topology

NAME = "limits"
_LIMIT = re.compile(r"^Max open files\s+(\S+)\s+(\S+)\s+files", re.MULTILINE)


def parse_nofile(limits_text: str) -> tuple[int, int]:
    """Soft and hard `Max open files` from a /proc/PID/limits text (unlimited = -1)."""
    m = _LIMIT.search(limits_text)
    if not m:
        raise ValueError("no 'Max open files' line in /proc/PID/limits")
    return tuple(-1 if v == "unlimited" else int(v) for v in m.groups())  # type: ignore[return-value]


def subjects(topo: Topology) -> tuple[str, ...]:
    return tuple(f"{s.host}/{s.program}" for s in topo.limits)


@check(
    NAME,
    description="every app host's app program",
    roles=("apps",),
    subjects=subjects,
    unobserved=("limits-unreadable",),
    causes={
        "program-not-running": "supervisord says the program whose limit is checked is not"
        " running, or has no such program",
        "limits-unreadable": "the program's limits could not be read (the host's probe or"
        " supervisord did not answer, or /proc/PID/limits had no open-files line)",
        "nofile-below-minimum": "the program's soft open-file limit is below what it needs",
    },
)
def check_limits(ctx: Context) -> list[CheckResult]:
    topo = ctx.topology
    views = ctx.views(dict.fromkeys(s.host for s in topo.limits if not ctx.down(s.host)))
    results = []
    for spec in topo.limits:
        expected = f"{spec.program} soft nofile >= {spec.min_nofile}"
        subject = (f"{spec.host}/{spec.program}",)
        reason = ctx.down(spec.host)
        if reason:
            results.append(
                ctx.fail(spec.host, expected, reason, cause="host-down", subjects=subject)
            )
            continue
        view = views[spec.host]
        if view.down:  # stopped after the run's status read
            results.append(
                ctx.fail(spec.host, expected, view.error, cause="host-down", subjects=subject)
            )
            continue
        # "Not running" is what supervisord's answer and the host's process list show, never
        # what a reading that did not come back suggests.
        if not view.programs or not view.processes:
            what = "supervisord's programs" if not view.programs else "the host's processes"
            results.append(
                ctx.fail(spec.host, expected, f"cannot read {what}",
                         detail=view.error or "the probe answered without them",
                         cause="limits-unreadable", subjects=subject)
            )  # fmt: skip
            continue
        program = view.programs.get(spec.program)
        if program is None or not program.alive:
            seen = program.describe() if program else "no such supervisord program"
            results.append(
                ctx.fail(spec.host, expected, f"{spec.program} not running", detail=seen,
                         cause="program-not-running", subjects=subject)
            )  # fmt: skip
            continue
        pid = program.pid
        try:
            soft, hard = parse_nofile(program.nofile)
        except ValueError as e:
            results.append(
                ctx.fail(spec.host, expected, str(e), detail=f"/proc/{pid}/limits",
                         cause="limits-unreadable", subjects=subject)
            )  # fmt: skip
            continue
        problems = []
        if soft != -1 and soft < spec.min_nofile:
            problems.append(
                Problem(
                    "nofile-below-minimum",
                    f"{spec.program} (pid {pid}) soft {soft} < {spec.min_nofile}, hard {hard}",
                )
            )
        results.append(
            ctx.result(
                spec.host,
                expected,
                problems,
                f"{spec.program} (pid {pid}) soft {soft}, hard {hard}",
                subjects=subject,
                detail=f"/proc/{pid}/limits",
            )
        )
    return results
