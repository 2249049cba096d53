"""Shared test plumbing: Docker-marked tests fail loudly in CI when the engine is missing."""

from __future__ import annotations

import os

import pytest


def _engine_problem() -> str | None:
    from harness.errors import EnvironmentProblem
    from harness.stack.engine import client, compose_version

    try:
        client()
        compose_version()
    except EnvironmentProblem as e:
        return str(e)
    return None


@pytest.fixture(autouse=True)
def _require_docker(request: pytest.FixtureRequest) -> None:
    if request.node.get_closest_marker("docker") is None:
        return
    problem = _engine_problem()
    if problem is None:
        return
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(f"CI=true but Docker is not usable: {problem}", pytrace=False)
    pytest.skip(f"Docker not usable here: {problem}")
