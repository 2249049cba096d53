"""Recovery checks. Each looks at the stack only through :class:`harness.stack.StackLike` and
reports :class:`harness.model.CheckResult` s; a failure is an observation, never an exception."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial

from harness import checkset
from harness.checkapi import Check
from harness.checks import (  # noqa: F401  (registration by import)
    declared,
    directories,
    dns,
    limits,
    mysql_replication,
    nginx,
    processes,
    redis_roles,
    socketio,
)
from harness.checks.base import REGISTRY, CheckContext, Registered, failure, short_error
from harness.errors import UsageError
from harness.model import CHECK_NAMES, COMMON_CAUSES, CheckResult, HostCheck, Topology
from harness.stack import ExecResult, StackLike

# harness.model.CHECK_NAMES is the list scenarios are validated against (without importing
# this package); every check it names is registered here, and nothing else is.
NAMES: tuple[str, ...] = CHECK_NAMES
if set(REGISTRY) != set(NAMES):  # pragma: no cover - a programming error, caught at import
    raise RuntimeError(f"checks registered {sorted(REGISTRY)} != model.CHECK_NAMES {NAMES}")


def registry(topology: Topology) -> dict[str, Registered]:
    """Every check ``topology`` can run, by name, in the order results are shown: the shipped
    ones it has the roles for (:mod:`harness.checkset`), its declared host checks, its Python
    checks."""
    out = {name: REGISTRY[name] for name in checkset.names(topology) if name in REGISTRY}
    for name, entries in checkset.declared(topology).items():
        out[name] = Registered(partial(_declared, entries=entries), partial(_subjects, entries))
    for name, found in checkset.python_checks(topology).items():
        out[name] = Registered(partial(_python, found), found.subjects_for)
    return out


def _subjects(entries: tuple[HostCheck, ...], _topology: Topology) -> tuple[str, ...]:
    return tuple(e.subject for e in entries)


def _declared(ctx: CheckContext, *, entries: tuple[HostCheck, ...]) -> list[CheckResult]:
    return declared.run(ctx, entries)


def resolve(names: Sequence[str] | None, topology: Topology | None = None) -> list[str]:
    """The checks to run: ``names`` (validated), or every check the topology can run."""
    topo = topology or Topology()
    known = list(registry(topo))
    if not names:
        return known
    gone = checkset.unavailable(topo)
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
    statuses = stack.statuses()
    ctx = CheckContext(
        stack=stack,
        deadline_s=deadline_s,
        since=stack.state.last_check if since is None else since,
        rotation=stack.state.rotation if rotation is None else rotation,
        statuses=statuses,
    )
    with ThreadPoolExecutor(max_workers=len(chosen)) as pool:
        futures = {name: pool.submit(checks[name].fn, ctx) for name in chosen}
    results: list[CheckResult] = []
    for name in chosen:
        try:
            found = futures[name].result()
        except Exception as e:  # a bug in a check must not hide the other checks
            found = [
                failure(name, "*", "check runs", f"check crashed: {short_error(e)}",
                        cause="check-crashed")
            ]  # fmt: skip
        results.extend(found)
        results.extend(coverage(name, stack.topology, found, checks[name]))
    return results


@dataclass
class _PythonContext:
    """What a Python check sees (:class:`harness.checkapi.Context`)."""

    check: Check
    inner: CheckContext
    subjects: tuple[str, ...]

    @property
    def topology(self) -> Topology:
        return self.inner.topology

    @property
    def deadline_s(self) -> float:
        return self.inner.deadline_s

    def down(self, host: str) -> str | None:
        return self.inner.down(host)

    def exec(
        self, host: str, argv: Sequence[str], *, user: str = "", timeout: float = 10.0
    ) -> ExecResult:
        return self.inner.stack.exec(host, list(argv), user=user, timeout=timeout)

    def address(self, host: str) -> str:
        return self.inner.stack.address(host)

    def ok(self, host: str, expected: str, observed: str, *, subjects: Sequence[str] = (),
           detail: str = "") -> CheckResult:  # fmt: skip
        return CheckResult(self.check.name, host, True, expected, observed, detail, (),
                           tuple(subjects) or (host,))  # fmt: skip

    def fail(self, host: str, expected: str, observed: str, *, cause: str,
             subjects: Sequence[str] = (), detail: str = "") -> CheckResult:  # fmt: skip
        if cause not in self.check.causes and cause not in COMMON_CAUSES:
            valid = ", ".join([*self.check.causes, *COMMON_CAUSES])
            raise ValueError(f"check {self.check.name!r}: unknown cause {cause!r}; valid: {valid}")
        return CheckResult(self.check.name, host, False, expected, observed, detail, (cause,),
                           tuple(subjects) or (host,))  # fmt: skip


def _python(found: Check, ctx: CheckContext) -> list[CheckResult]:
    view = _PythonContext(found, ctx, found.subjects_for(ctx.topology))
    results = list(_checked(found, found.run(view)))
    return results


def _checked(found: Check, results: Iterable[object]) -> Iterable[CheckResult]:
    for r in results:
        if not isinstance(r, CheckResult) or r.check != found.name:
            raise TypeError(
                f"check {found.name!r} returned {r!r}; return ctx.ok(...) / ctx.fail(...) results"
            )
        if not r.ok and not set(r.causes) <= {*found.causes, *COMMON_CAUSES}:
            raise ValueError(f"check {found.name!r}: unknown cause in {r.causes}")
        yield r


def coverage(
    name: str, topology: Topology, results: list[CheckResult], check: Registered | None = None
) -> list[CheckResult]:
    """A `not-exercised` failure when the results of check ``name`` name fewer subjects than
    the topology asks it to cover, or when the topology gives it nothing to cover: a check
    that looked at nothing, or at some of its subjects only, must not pass."""
    required = (check or REGISTRY[name]).subjects(topology)
    named = {s for r in results for s in r.subjects}
    if not required:
        return [
            failure(name, "*", "at least one subject to check", "the topology names none",
                    cause="not-exercised")
        ]  # fmt: skip
    missing = [s for s in required if s not in named]
    if not missing:
        return []
    return [
        failure(
            name,
            "*",
            f"every subject checked: {', '.join(required)}",
            f"not exercised: {', '.join(missing)}",
            cause="not-exercised",
            subjects=tuple(missing),
        )
    ]


__all__ = ["NAMES", "CheckContext", "registry", "resolve", "run_checks"]
