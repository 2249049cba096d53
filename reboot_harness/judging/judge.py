"""Whether a scenario variant passed, and the one-line reason. Pure: no I/O, no clock.

A **fixed** variant passes when no step failed, every budget was met and every expected check
held within ``recover_within``.

An **incident** variant passes ("reproduced") when the run failed by the incident's declared
cause and by nothing else (reboot_harness.scenarios.incidents):

- every declared signature *in the plan's reach* was observed: a check signature is a failing
  result of that check carrying that cause (on that host, when the declaration names one), in the
  final results or in the results kept by a wait that ran out; a budget signature is that
  service's budget exceeded on that measurement, attributed to that host; a step signature is a
  step of that kind that failed with that cause. A signature that names a host the variant's
  plan never touches (no fault, no operation on it) is out of the plan's reach: it is reported
  as such and needs not be seen — a scenario that reboots only app1 reproduces ``no-minfds`` by
  app1 alone. At least one signature must be seen.
- every failure is declared (in ``reproduced_by`` or ``allows``): a failing check result whose
  every cause is declared for that check (and host), a budget exceeded on a declared service and
  measurement attributed only to declared hosts, a step error of a declared kind and cause, or a
  wait that ran out whose failing checks are all declared. Anything else — another check, a
  crashed check, a host down, another budget, a lost write — is an extra: "incident failed, but
  not by its cause alone".

``host-down`` and ``check-crashed`` count only when declared: a host that is simply off, or a
check that crashed, says nothing about the incident's configuration.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass

from reboot_harness.model.incidents import Incident, Signature
from reboot_harness.model.results import BudgetViolation, CheckResult, StepError

SHOWN = 3  # failures quoted in a reason


@dataclass(frozen=True)
class Outcome:
    """The verdict on one variant.

    Attributes:
        passed: whether the variant turned out as required.
        reason: one line: ``recovered in 3.1s``, ``reproduced: limits [app1]
            nofile-below-minimum: …``, ``incident failed, but not by its cause: …``.
        matched: for an incident, what was observed for each declared signature.
        missing: for an incident, the declared signatures in the plan's reach that were not
            observed.
        extras: for an incident, the failures it does not declare (each one line).
        out_of_plan: for an incident, the declared signatures whose host the plan never touched.
    """

    passed: bool
    reason: str
    matched: tuple[str, ...] = ()
    missing: tuple[str, ...] = ()
    extras: tuple[str, ...] = ()
    out_of_plan: tuple[str, ...] = ()


def judge_fixed(
    checks: Sequence[CheckResult],
    step_errors: Sequence[StepError],
    violations: Sequence[BudgetViolation],
    *,
    recover_within: float,
    recovered_in: float,
) -> Outcome:
    failing = [r for r in checks if not r.ok]
    if step_errors:
        return Outcome(False, "step failed: " + step_errors[0].line())
    if violations:
        return Outcome(
            False, "budget exceeded: " + "; ".join(v.message for v in violations[:SHOWN])
        )
    if failing or recovered_in < 0:
        shown = "; ".join(r.brief() for r in failing[:4]) or "the checks never held"
        return Outcome(False, f"not recovered within {recover_within:g}s: {shown}")
    return Outcome(True, f"recovered in {recovered_in:.1f}s")


# -- what was seen of one signature ---------------------------------------------------------


def _shows(sig: Signature, r: CheckResult) -> bool:
    """Whether failing result ``r`` is an observation of check signature ``sig``."""
    return (
        not r.ok
        and r.check == sig.name
        and sig.cause in r.causes
        and (not sig.host or r.host == sig.host)
    )


def _observed(
    sig: Signature,
    checks: Sequence[CheckResult],
    step_errors: Sequence[StepError],
    violations: Sequence[BudgetViolation],
) -> str:
    """What was seen that shows ``sig`` ('' if nothing)."""
    if sig.kind == "check":
        kept = [r for e in step_errors for r in e.checks]
        r = next((r for r in [*checks, *kept] if _shows(sig, r)), None)
        return f"{r.check} [{r.host}] {sig.cause}: {r.observed}" if r else ""
    if sig.kind == "budget":
        for v in violations:
            if v.service == sig.name and v.measurement == sig.cause and sig.host in v.hosts:
                return f"{v.message} [{sig.host}]"
        return ""
    e = next((e for e in step_errors if e.kind == sig.name and e.cause == sig.cause), None)
    return e.line() if e else ""


# -- what the incident does not declare -----------------------------------------------------


def _declared_result(r: CheckResult, declared: Sequence[Signature]) -> bool:
    """Every cause of failing result ``r`` is declared for its check (and host)."""
    sigs = [s for s in declared if s.kind == "check" and s.name == r.check]
    return bool(r.causes) and all(
        any(s.cause == cause and (not s.host or s.host == r.host) for s in sigs)
        for cause in r.causes
    )


def _declared_violation(v: BudgetViolation, declared: Sequence[Signature]) -> bool:
    """The budget is declared for this service and measurement, on every host it is charged to
    (a violation no host explains is never declared)."""
    hosts = {
        s.host
        for s in declared
        if s.kind == "budget" and s.name == v.service and s.cause == v.measurement
    }
    return bool(v.hosts) and all(h in hosts for h in v.hosts)


def _extras(
    declared: Sequence[Signature],
    checks: Sequence[CheckResult],
    step_errors: Sequence[StepError],
    violations: Sequence[BudgetViolation],
) -> list[str]:
    """Every failure the incident does not declare, one line each."""
    out: list[str] = []
    steps = {(s.name, s.cause) for s in declared if s.kind == "step"}
    for e in step_errors:
        if (e.kind, e.cause) in steps:
            continue
        failing = [r for r in e.checks if not r.ok]
        if e.cause == "not-recovered" and failing:
            # a wait that ran out is what its failing checks are: declared ones explain it
            out += [
                f"{e.line()} — {r.brief()}" for r in failing if not _declared_result(r, declared)
            ]
            continue
        out.append(e.line())
    out += [r.brief() for r in checks if not r.ok and not _declared_result(r, declared)]
    out += [v.line() for v in violations if not _declared_violation(v, declared)]
    return list(dict.fromkeys(out))


def _failures(
    checks: Sequence[CheckResult],
    step_errors: Sequence[StepError],
    violations: Sequence[BudgetViolation],
) -> list[str]:
    return (
        [e.line() for e in step_errors]
        + [r.brief() for r in checks if not r.ok]
        + [v.line() for v in violations]
    )


def settled(
    incident: Incident, checks: Sequence[CheckResult], touched: Collection[str] | None = None
) -> bool:
    """Whether ``checks`` show an incident whose cause lasts (``Incident.lasts``) as it will stay:
    every check signature in the plan's reach seen and every failing result declared. A final
    wait may end on it (reboot_harness.run.loop): the verdict it leads to is the one waiting out
    ``recover_within`` would give, since the cause does not heal by itself."""
    if not incident.lasts:
        return False
    in_reach = [
        sig
        for sig in incident.reproduced_by
        if sig.kind == "check"
        and not (sig.host and touched is not None and sig.host not in touched)
    ]
    declared = (*incident.reproduced_by, *incident.allows)
    return (
        bool(in_reach)
        and all(any(_shows(sig, r) for r in checks) for sig in in_reach)
        and all(r.ok or _declared_result(r, declared) for r in checks)
    )


def judge_incident(
    incident: Incident,
    checks: Sequence[CheckResult],
    step_errors: Sequence[StepError],
    violations: Sequence[BudgetViolation],
    *,
    touched: Collection[str] | None = None,
) -> Outcome:
    """Judge an incident variant (module docstring).

    Args:
        incident: what the incident declares.
        checks: the final check results.
        step_errors: every step that failed (a wait that ran out keeps its failing checks).
        violations: every budget exceeded (lost writes included).
        touched: the hosts the variant's plan faulted or operated on; a signature naming
            another host is out of the plan's reach. None: every host is in reach.
    """
    declared = (*incident.reproduced_by, *incident.allows)
    extras = tuple(_extras(declared, checks, step_errors, violations))
    seen = [
        (sig, _observed(sig, checks, step_errors, violations)) for sig in incident.reproduced_by
    ]
    matched = tuple(text for _, text in seen if text)
    out_of_plan = tuple(
        f"{sig.describe()} ({sig.host} not touched by this plan)"
        for sig, text in seen
        if not text and sig.host and touched is not None and sig.host not in touched
    )
    missing = tuple(
        sig.describe()
        for sig, text in seen
        if not text and not (sig.host and touched is not None and sig.host not in touched)
    )
    facts = {"matched": matched, "missing": missing, "extras": extras, "out_of_plan": out_of_plan}
    unreached = f"; not in this plan's reach: {', '.join(out_of_plan)}" if out_of_plan else ""
    also = f"also {'; '.join(extras[:SHOWN])}" + (
        f" and {len(extras) - SHOWN} more" if len(extras) > SHOWN else ""
    )
    if matched and not missing:
        if not extras:
            return Outcome(True, "reproduced: " + "; ".join(matched) + unreached, **facts)
        return Outcome(
            False,
            f"incident failed, but not by its cause alone: {also} (the incident declares"
            f" {incident.describe()}; seen: {'; '.join(matched)})",
            **facts,
        )
    if matched:
        more = f"; {also}" if extras else ""
        return Outcome(
            False,
            f"incident reproduced only in part: seen {'; '.join(matched)}; not seen"
            f" {', '.join(missing)}{unreached}{more}",
            **facts,
        )
    failures = _failures(checks, step_errors, violations)
    expected = ", ".join(missing) or incident.describe()
    if failures:
        return Outcome(
            False,
            f"incident failed, but not by its cause: expected {expected}; observed "
            + "; ".join(failures[:SHOWN]),
            **facts,
        )
    return Outcome(
        False,
        "incident did not reproduce: every expected check held and every budget was met"
        f" (expected {expected})",
        **facts,
    )
