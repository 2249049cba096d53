"""A real stack per test module (one per xdist worker with --dist loadfile)."""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Iterator

import pytest

from harness.checks import run_checks
from harness.model import CheckResult
from harness.runner import bring_up, wait_recovered
from harness.stack import Stack, down


def unique_project(prefix: str) -> str:
    worker = os.environ.get("PYTEST_XDIST_WORKER", "w")
    return f"rh-test-{prefix}-{worker}-{uuid.uuid4().hex[:6]}"


@pytest.fixture(scope="module")
def stack(request: pytest.FixtureRequest) -> Iterator[Stack]:
    """A healthy stack owned by this test process (not kept: gc may reap it if we crash)."""
    name = unique_project(request.module.__name__.rsplit(".", 1)[-1].removeprefix("test_")[:8])
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
