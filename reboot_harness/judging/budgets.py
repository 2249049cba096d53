"""Budgets: what each service may suffer, against what it was measured to suffer (the
definitions are reboot_harness.judging.traffic's). Pure: no I/O, no docker, no clock."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from reboot_harness.judging.measures import ServiceVerdict, Summary
from reboot_harness.model.results import BudgetViolation
from reboot_harness.model.scenario import Scenario
from reboot_harness.model.traffic import WRITE_SERVICES, Budget

_LISTED_KEYS = 5  # lost keys named in a violation message


def _secs(x: float) -> str:
    """A budget the way a scenario writes it: ``0s``, ``2.5s``."""
    return f"{x:g}s"


def budgets_for(scenario: Scenario) -> list[Budget]:
    """The budgets both variants' traffic is judged by: the scenario's, and no lost
    acknowledged write on every write service — on a fixed configuration, and on an incident's
    too (a lost write the incident does not declare disqualifies it:
    reboot_harness.judging.judge)."""
    budgets = list(scenario.budgets)
    budgets += [
        Budget(s, no_lost_writes=True)
        for s in WRITE_SERVICES
        if not any(b.service == s and b.no_lost_writes for b in budgets)
    ]
    return budgets


def describe_budget(budget: Budget | None) -> str:
    """``downtime <= 0s, errors <= 0, no lost writes``; ``-`` for no budget."""
    if budget is None:
        return "-"
    parts = []
    if budget.max_downtime is not None:
        parts.append(f"downtime <= {_secs(budget.max_downtime)}")
    if budget.max_errors is not None:
        parts.append(f"errors <= {budget.max_errors}")
    if budget.max_reconnect is not None:
        parts.append(f"reconnect <= {_secs(budget.max_reconnect)}")
    if budget.no_lost_writes:
        parts.append("no lost writes")
    return ", ".join(parts) or "none (traffic only)"


def breaches(v: ServiceVerdict, b: Budget) -> list[tuple[str, str]]:
    """(budget name, one-line message) for each limit of ``b`` that ``v`` exceeds."""
    s = v.service
    if v.ops == 0:
        return [("traffic", f"{s}: no operations recorded; its budget cannot be judged")]
    out = []
    if b.max_downtime is not None and v.downtime_s > b.max_downtime:
        n = len(v.windows)
        still = ", still down at the end" if any(w.open for w in v.windows) else ""
        out.append((
            "max_downtime",
            f"{s}: max_downtime {_secs(b.max_downtime)} exceeded: measured {v.downtime_s:.2f}s "
            f"({n} window{'s' if n != 1 else ''}, longest {v.longest_s:.2f}s{still})",
        ))  # fmt: skip
    if b.max_errors is not None and v.failed > b.max_errors:
        kinds = ", ".join(f"{k}: {n}" for k, n in v.errors.items())
        out.append((
            "max_errors",
            f"{s}: max_errors {b.max_errors} exceeded: measured {v.failed} errors ({kinds})",
        ))  # fmt: skip
    if b.max_reconnect is not None:
        r = v.reconnects
        if r.failed:
            out.append((
                "max_reconnect",
                f"{s}: max_reconnect {_secs(b.max_reconnect)} exceeded: {r.failed} reconnect"
                f"{'s' if r.failed != 1 else ''} never completed (gave up after "
                f"{r.longest_failed_s or 0:.2f}s)",
            ))  # fmt: skip
        elif r.max_s is not None and r.max_s > b.max_reconnect:
            out.append((
                "max_reconnect",
                f"{s}: max_reconnect {_secs(b.max_reconnect)} exceeded: measured {r.max_s:.2f}s "
                f"(longest of {r.count} reconnect{'s' if r.count != 1 else ''})",
            ))  # fmt: skip
    if b.no_lost_writes:
        w = v.writes
        if not w.checked and w.acked:
            out.append((
                "no_lost_writes",
                f"{s}: no_lost_writes not verified: {w.acked} acknowledged writes, but the "
                f"{s} keys were not read back after the run",
            ))  # fmt: skip
        elif w.lost:
            keys = ", ".join(x.key for x in w.lost[:_LISTED_KEYS])
            more = f" and {len(w.lost) - _LISTED_KEYS} more" if len(w.lost) > _LISTED_KEYS else ""
            out.append((
                "no_lost_writes",
                f"{s}: no_lost_writes violated: measured {len(w.lost)} of {w.acked} acknowledged "
                f"writes lost (keys {keys}{more})",
            ))  # fmt: skip
    return out


def judge_budgets(
    service_verdicts: Mapping[str, ServiceVerdict] | Iterable[ServiceVerdict],
    budgets: Iterable[Budget],
) -> list[str]:
    """One line per budget exceeded, naming service, budget and measured value; [] when all are
    met. A budget for a service that recorded no ops is a violation: nothing was measured."""
    by_name = (
        dict(service_verdicts)
        if isinstance(service_verdicts, Mapping)
        else {v.service: v for v in service_verdicts}
    )
    lines = []
    for b in budgets:
        verdict = by_name.get(b.service, ServiceVerdict(b.service))
        lines += [message for _, message in breaches(verdict, b)]
    return lines


def violations(summary: Summary) -> list[BudgetViolation]:
    """Every budget exceeded, typed: service, measurement, message, and the hosts whose rows of
    the downtime table add to it (``-`` when no host's disruption explains it)."""
    out = []
    by_name = {v.service: v for v in summary.services}
    for b in summary.budgets:
        verdict = by_name.get(b.service, ServiceVerdict(b.service))
        for measurement, message in breaches(verdict, b):
            hosts = tuple(
                dict.fromkeys(
                    r.host
                    for r in summary.hosts
                    if r.service == b.service and measurement in r.over
                )
            )
            out.append(BudgetViolation(b.service, measurement, message, hosts))
    return out
