"""Shared test plumbing: Docker-marked tests fail loudly in CI when the engine is missing."""

from __future__ import annotations

import os

import pytest


def _engine_problem() -> str | None:
    from reboot_harness.errors import EnvironmentProblem
    from reboot_harness.stack.engine import client, compose_version

    try:
        client()
        compose_version()
    except EnvironmentProblem as e:
        return str(e)
    return None


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def missing(what: str) -> None:
    """A tool a test needs is missing: skip here, fail in CI (where everything it needs must be
    installed by .ci/run), never pass silently."""
    __tracebackhide__ = True
    if in_ci():
        pytest.fail(f"CI=true but {what}", pytrace=False)
    pytest.skip(what)


@pytest.fixture(autouse=True)
def _require_docker(request: pytest.FixtureRequest) -> None:
    if request.node.get_closest_marker("docker") is None:
        return
    problem = _engine_problem()
    if problem is None:
        return
    missing(f"Docker is not usable: {problem}")
