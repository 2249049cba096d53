"""Helpers shared by the integration tests (each module brings its own stack)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from reboot_harness.checks.recovery import wait_recovered
from reboot_harness.checks.run import run_checks
from reboot_harness.model.results import CheckResult
from reboot_harness.run.bringup import bring_up
from reboot_harness.run.request import RunRequest
from reboot_harness.stack.core import Stack
from reboot_harness.stack.removal import down

HERE = Path(__file__).resolve().parent


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """With `pytest -n 2 --dist loadgroup`, a module's tests share one xdist worker (they share
    its stack and run in file order), unless the module sets ``INDEPENDENT = True`` (each test
    brings its own stacks: they spread over the workers like the scenario items)."""
    for item in items:
        path = Path(str(item.path)).resolve()
        if path.parent != HERE or getattr(item.module, "INDEPENDENT", False):  # type: ignore[attr-defined]
            continue
        item.add_marker(pytest.mark.xdist_group(path.stem))


@pytest.fixture(scope="module")
def debian_base() -> None:
    """For a module whose stacks' Dockerfiles say FROM debian:bookworm-slim, as their teams
    wrote them (:func:`registry_debian`)."""
    registry_debian()


def rh_in(project: Path, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """``reboot-harness ARGS`` run from ``project``'s folder, as its README says to."""
    return subprocess.run([sys.executable, "-m", "reboot_harness", *args], cwd=project,
                          capture_output=True, text=True, timeout=timeout, check=False)  # fmt: skip


def listed(project: Path, *args: str) -> tuple[dict[str, list[str]], dict[str, str]]:
    """`reboot-harness list ARGS --json` from ``project``: (each scenario offered -> the hosts it
    touches, each one not applicable -> why); its exit 0 and the two apart, asserted."""
    proc = rh_in(project, "list", *args, "--json")
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    offered = {s["name"]: s["hosts"] for s in doc["scenarios"]}
    refused = {s["name"]: s["why"] for s in doc["not_applicable"]}
    assert not set(offered) & set(refused)
    return offered, refused


def reported(folder: Path) -> list[dict[str, Any]]:
    """The scenario variants of the results.json in a `run --report` folder."""
    runs: list[dict[str, Any]] = json.loads((folder / "results.json").read_text())["scenarios"]
    return runs


def registry_debian() -> None:
    """Make sure ``debian:bookworm-slim`` (what users' Dockerfiles say FROM) is on the engine:
    a machine without a registry has the harness's offline Debian base under that name."""
    from docker.errors import ImageNotFound

    from reboot_harness.stack.engine import client
    from reboot_harness.stack.images import OFFLINE_BASE, REGISTRY_BASE

    try:
        client().images.get(REGISTRY_BASE)
    except ImageNotFound:
        client().images.get(OFFLINE_BASE).tag(REGISTRY_BASE)


def unique_project(prefix: str) -> str:
    worker = os.environ.get("PYTEST_XDIST_WORKER", "w")
    return f"rh-test-{prefix}-{worker}-{uuid.uuid4().hex[:6]}"


@contextmanager
def healthy_stack(prefix: str) -> Iterator[Stack]:
    """A healthy stack owned by this test process (not kept: gc reaps it if we crash)."""
    name = unique_project(prefix)
    report = bring_up(name, RunRequest())
    try:
        yield report.stack
    finally:
        down(name)


def failing(results: list[CheckResult], check: str) -> dict[str, str]:
    """host -> observed for the failing results of one check."""
    return {r.host: r.observed for r in results if r.check == check and not r.ok}


def causes(results: list[CheckResult], check: str) -> dict[str, tuple[str, ...]]:
    """host -> cause codes of the failing results of one check."""
    return {r.host: r.causes for r in results if r.check == check and not r.ok}


def assert_all_pass(stack: Stack, timeout: float = 90.0) -> None:
    """The stack recovers (every check holds) within ``timeout``."""
    __tracebackhide__ = True
    since = time.time()
    wait_recovered(stack, timeout=timeout)
    results = run_checks(stack, since=since)
    bad = [r.line() for r in results if not r.ok]
    assert not bad, bad


def lose_power_and_recover(
    rh: Callable[..., subprocess.CompletedProcess[str]], project: str, host: str
) -> None:
    """Through the CLI: a one-shot power loss of ``host``, then `wait` until every check holds."""
    reboot = rh("reboot", "--project", project, host, "--mode", "hard")
    assert reboot.returncode == 0, reboot.stdout + reboot.stderr
    wait = rh("wait", "--project", project, "--within", "120s")
    assert wait.returncode == 0, wait.stdout + wait.stderr
