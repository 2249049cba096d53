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
from harness.model import CHECK_NAMES, CheckResult
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
        futures = {name: pool.submit(REGISTRY[name], ctx) for name in chosen}
    results: list[CheckResult] = []
    for name in chosen:
        try:
            results.extend(futures[name].result())
        except Exception as e:  # a bug in a check must not hide the other checks
            results.append(failure(name, "*", "check runs", f"check crashed: {short_error(e)}"))
    return results


__all__ = ["NAMES", "CheckContext", "resolve", "run_checks"]
