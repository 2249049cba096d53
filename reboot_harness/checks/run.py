"""Running the checks a topology has: the ones to run, all at once, and what each covered. Each
check looks at the stack only through :class:`reboot_harness.stack.protocol.StackLike` and
reports :class:`reboot_harness.model.results.CheckResult` s; a failure is an observation, never
an exception."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor

from reboot_harness.checks import available, shipped
from reboot_harness.checks.base import failure, short_error, subject_host
from reboot_harness.checks.context import CheckContext, Round
from reboot_harness.errors import StackError, UsageError
from reboot_harness.model.checks import CHECK_NAMES, COMMON_CAUSES
from reboot_harness.model.own_checks import Check
from reboot_harness.model.results import CheckResult
from reboot_harness.model.topology import Topology
from reboot_harness.stack.protocol import StackLike

NAMES: tuple[str, ...] = CHECK_NAMES


def registry(topology: Topology) -> Mapping[str, Check]:
    """Every check ``topology`` can run, by name, in the order results are shown (see
    :func:`reboot_harness.checks.available.checks`)."""
    return available.checks(topology)


def resolve(names: Sequence[str] | None, topology: Topology | None = None) -> list[str]:
    """The checks to run: ``names`` (validated), or every check the topology can run."""
    topo = topology or Topology()
    known = list(registry(topo))
    if not names:
        return known
    gone = available.unavailable(topo)
    for n in names:
        if n in gone:
            raise UsageError(f"check {n!r} cannot run on this topology: it {gone[n]}")
        if n not in known:
            raise UsageError(f"unknown check {n!r}; known: {', '.join(known)}")
    return list(names)


def run_checks(
    stack: StackLike,
    names: list[str] | None = None,
    *,
    deadline_s: float = 5.0,
    since: float | None = None,
    rotation: tuple[str, ...] | None = None,
) -> list[CheckResult]:
    """Run the named checks (all the topology has, by default) once, concurrently; results in
    check order."""
    chosen = resolve(names, stack.topology)
    checks = registry(stack.topology)
    round_ = Round(
        stack=stack,
        deadline_s=deadline_s,
        since=stack.state.last_check if since is None else since,
        rotation=stack.state.rotation if rotation is None else rotation,
        statuses=stack.statuses(),
    )
    # Each check sees the stack through its own context, which records the hosts its reads
    # reach.
    contexts = {name: round_.context(checks[name]) for name in chosen}
    with ThreadPoolExecutor(max_workers=len(chosen)) as pool:
        futures = {name: pool.submit(_run, checks[name], contexts[name]) for name in chosen}
    results: list[CheckResult] = []
    for name in chosen:
        try:
            found = futures[name].result()
        except StackError as e:  # the engine failed a read: the check could not see
            found = [
                failure(name, "*", "check runs", f"the engine failed a read: {short_error(e)}",
                        cause="host-unreadable")
            ]  # fmt: skip
        except Exception as e:  # a bug in a check must not hide the other checks
            found = [
                failure(name, "*", "check runs", f"check crashed: {short_error(e)}",
                        cause="check-crashed")
            ]  # fmt: skip
        results.extend(covered(name, stack.topology, found, checks[name], contexts[name].reached))
    return results


def _run(found: Check, ctx: CheckContext) -> list[CheckResult]:
    return list(_checked(found, found.run(ctx)))


def _checked(found: Check, results: Iterable[object]) -> Iterable[CheckResult]:
    """``results`` as a check must return them: its own, each failure with one of its causes."""
    for r in results:
        if not isinstance(r, CheckResult) or r.check != found.name:
            raise TypeError(
                f"check {found.name!r} returned {r!r}; return ctx.ok(...) / ctx.fail(...) results"
            )
        if not r.ok and not r.causes:
            raise ValueError(
                f"check {found.name!r} returned a failure on {r.host} without a cause; fail"
                " with ctx.fail(..., cause=...)"
            )
        if not r.ok and not set(r.causes) <= {*found.causes, *COMMON_CAUSES}:
            raise ValueError(f"check {found.name!r}: unknown cause in {r.causes}")
        yield r


def covered(
    name: str,
    topology: Topology,
    results: list[CheckResult],
    check: Check | None = None,
    reached: Collection[str] | None = None,
) -> list[CheckResult]:
    """``results`` as they count: a passing result about a subject whose host none of the
    check's reads reached (``reached``, recorded through its context) becomes `not-exercised`,
    and a `not-exercised` failure follows when the results name fewer subjects than the
    topology asks the check to cover, or the topology gives it nothing to cover: a check that
    looked at nothing, or at some of its subjects only, must not pass. ``reached`` None: not
    recorded (every host counts as reached)."""
    required = (check or shipped.checks()[name]).subjects_for(topology)
    if not required:
        return [
            *results,
            failure(name, "*", "at least one subject to check", "the topology names none",
                    cause="not-exercised"),
        ]  # fmt: skip
    out = [r if reached is None else _reaching(r, topology, reached) for r in results]
    named = {s for r in results for s in r.subjects}
    missing = [s for s in required if s not in named]
    if missing:
        out.append(
            failure(
                name,
                "*",
                f"every subject checked: {', '.join(required)}",
                f"not exercised: {', '.join(missing)}",
                cause="not-exercised",
                subjects=tuple(missing),
            )
        )
    return out


def _reaching(r: CheckResult, topology: Topology, reached: Collection[str]) -> CheckResult:
    """A passing result, unless no read of its check reached the host of one of its subjects
    (a subject naming no host of the topology needs some host reached)."""
    if not r.ok:
        return r
    hosts = dict.fromkeys(subject_host(s) for s in r.subjects or (r.host,))
    unreached = [h for h in hosts if (h not in reached if h in topology.hosts else not reached)]
    if not unreached:
        return r
    return CheckResult(
        r.check, r.host, False, r.expected,
        f"passed without reaching {', '.join(unreached)}: {r.observed}", r.detail,
        ("not-exercised",), r.subjects,
    )  # fmt: skip


__all__ = ["NAMES", "registry", "resolve", "run_checks"]
