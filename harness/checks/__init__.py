"""Recovery checks. Each looks at the stack only through :class:`harness.stack.Stack` and
reports :class:`harness.model.CheckResult` s; a failure is an observation, never an exception."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from harness.checks import (  # noqa: F401  (registration by import)
    directories,
    dns,
    limits,
    mysql_replication,
    nginx,
    processes,
    redis_roles,
    socketio,
)
from harness.checks.base import REGISTRY, CheckContext, failure, short_error
from harness.errors import UsageError
from harness.model import CHECK_NAMES, CheckResult, Topology
from harness.stack import Stack

# harness.model.CHECK_NAMES is the list scenarios are validated against (without importing
# this package); every check it names is registered here, and nothing else is.
NAMES: tuple[str, ...] = CHECK_NAMES
if set(REGISTRY) != set(NAMES):  # pragma: no cover - a programming error, caught at import
    raise RuntimeError(f"checks registered {sorted(REGISTRY)} != model.CHECK_NAMES {NAMES}")


def resolve(names: list[str] | None) -> list[str]:
    if not names:
        return list(NAMES)
    unknown = [n for n in names if n not in REGISTRY]
    if unknown:
        raise UsageError(f"unknown check {unknown[0]!r}; known: {', '.join(NAMES)}")
    return names


def run_checks(
    stack: Stack,
    names: list[str] | None = None,
    *,
    deadline_s: float = 5.0,
    since: float | None = None,
    rotation: tuple[str, ...] | None = None,
) -> list[CheckResult]:
    """Run the named checks (all by default) once, concurrently; results in check order."""
    chosen = resolve(names)
    statuses = stack.statuses()
    ctx = CheckContext(
        stack=stack,
        deadline_s=deadline_s,
        since=stack.state.last_check if since is None else since,
        rotation=stack.state.rotation if rotation is None else rotation,
        statuses=statuses,
    )
    with ThreadPoolExecutor(max_workers=len(chosen)) as pool:
        futures = {name: pool.submit(REGISTRY[name].fn, ctx) for name in chosen}
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
        results.extend(coverage(name, stack.topology, found))
    return results


def coverage(name: str, topology: Topology, results: list[CheckResult]) -> list[CheckResult]:
    """A `not-exercised` failure when the results of check ``name`` name fewer subjects than
    the topology asks it to cover, or when the topology gives it nothing to cover: a check
    that looked at nothing, or at some of its subjects only, must not pass."""
    required = REGISTRY[name].subjects(topology)
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


__all__ = ["NAMES", "CheckContext", "resolve", "run_checks"]
