"""Helpers shared by the integration tests (each module brings its own stack)."""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from harness.checks import run_checks
from harness.model import CheckResult
from harness.runner import bring_up, wait_recovered
from harness.stack import Stack, down


def unique_project(prefix: str) -> str:
    worker = os.environ.get("PYTEST_XDIST_WORKER", "w")
    return f"rh-test-{prefix}-{worker}-{uuid.uuid4().hex[:6]}"


@contextmanager
def healthy_stack(prefix: str) -> Iterator[Stack]:
    """A healthy stack owned by this test process (not kept: gc reaps it if we crash)."""
    name = unique_project(prefix)
    report = bring_up(name, keep=False, timeout=300)
    try:
        yield report.stack
    finally:
        down(name)


def failing(results: list[CheckResult], check: str) -> dict[str, str]:
    """host -> observed for the failing results of one check."""
    return {r.host: r.observed for r in results if r.check == check and not r.ok}


def assert_all_pass(stack: Stack, timeout: float = 90.0) -> None:
    """The stack recovers (every check holds) within ``timeout``."""
    __tracebackhide__ = True
    since = time.time()
    wait_recovered(stack, timeout=timeout)
    results = run_checks(stack, since=since)
    bad = [r.line() for r in results if not r.ok]
    assert not bad, bad
