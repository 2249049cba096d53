"""Whether a scenario variant passed, and the one-line reason. Pure: no I/O, no clock.

A **fixed** variant passes when no step failed, every budget was met and every expected check
held within ``recover_within``.

An **incident** variant passes ("reproduced") only when everything the incident declares
(harness.incidents) was observed:

- a check signature: a failing result of that check carrying that cause (on that host, when the
  declaration names one), in the final results or in the results kept by a wait that ran out;
- a budget signature: that service's budget exceeded on that measurement, attributed to that
  host;
- a step signature: a step of that kind failed with that cause.

``host-down`` and ``check-crashed`` count only when declared: a host that is simply off, or a
check that crashed, says nothing about the incident's configuration. A step error the incident
does not declare (in ``reproduced_by`` or ``allows``) means the run went wrong in a way the
incident does not explain: "incident failed, but not by its cause". So does a run that failed
only in other ways, or showed only part of the declaration.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from harness.incidents import Incident, Signature
from harness.model import BudgetViolation, CheckResult, StepError

SHOWN = 3  # failures quoted in a reason


@dataclass(frozen=True)
class Outcome:
    """The verdict on one variant.

    Attributes:
        passed: whether the variant turned out as required.
        reason: one line: ``recovered in 3.1s``, ``reproduced: limits [app1]
            nofile-below-minimum: …``, ``incident failed, but not by its cause: …``.
        matched: for an incident, what was observed for each declared signature.
        missing: for an incident, the declared signatures that were not observed.
    """

    passed: bool
    reason: str
    matched: tuple[str, ...] = ()
    missing: tuple[str, ...] = ()


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


def _observed(
    sig: Signature,
    checks: Sequence[CheckResult],
    step_errors: Sequence[StepError],
    violations: Sequence[BudgetViolation],
) -> str:
    """What was seen that shows ``sig`` ('' if nothing)."""
    if sig.kind == "check":
        kept = [r for e in step_errors for r in e.checks]
        for r in [*checks, *kept]:
            if (
                not r.ok
                and r.check == sig.name
                and sig.cause in r.causes
                and (not sig.host or r.host == sig.host)
            ):
                return f"{r.check} [{r.host}] {sig.cause}: {r.observed}"
        return ""
    if sig.kind == "budget":
        for v in violations:
            if v.service == sig.name and v.measurement == sig.cause and sig.host in v.hosts:
                return f"{v.message} [{sig.host}]"
        return ""
    for e in step_errors:
        if e.kind == sig.name and e.cause == sig.cause:
            return e.line()
    return ""


def _explained(error: StepError, incident: Incident) -> bool:
    """Whether the incident declares this step error: as a step signature or an allowed one,
    or, for a wait that ran out, because a declared check failure is among its checks."""
    steps = [s for s in (*incident.reproduced_by, *incident.allows) if s.kind == "step"]
    if any(s.name == error.kind and s.cause == error.cause for s in steps):
        return True
    if error.cause == "not-recovered" and error.checks:
        return any(
            _observed(s, error.checks, (), ()) for s in incident.reproduced_by if s.kind == "check"
        )
    return False


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


def judge_incident(
    incident: Incident,
    checks: Sequence[CheckResult],
    step_errors: Sequence[StepError],
    violations: Sequence[BudgetViolation],
) -> Outcome:
    unexplained = [e for e in step_errors if not _explained(e, incident)]
    declared = incident.describe()
    if unexplained:
        return Outcome(
            False,
            f"incident failed, but not by its cause: {unexplained[0].line()}"
            f" (the incident declares {declared})",
        )
    seen = [
        (sig, _observed(sig, checks, step_errors, violations)) for sig in incident.reproduced_by
    ]
    matched = tuple(text for _, text in seen if text)
    missing = tuple(sig.describe() for sig, text in seen if not text)
    if not missing:
        return Outcome(True, "reproduced: " + "; ".join(matched), matched, missing)
    failures = _failures(checks, step_errors, violations)
    if failures:
        return Outcome(
            False,
            f"incident failed, but not by its cause: expected {', '.join(missing)}; observed "
            + "; ".join(failures[:SHOWN]),
            matched,
            missing,
        )
    return Outcome(
        False,
        f"incident did not reproduce: every expected check held and every budget was met"
        f" (expected {', '.join(missing)})",
        matched,
        missing,
    )
