"""Shared test plumbing: Docker-marked tests fail loudly in CI when the engine is missing."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

# The full tier: `scripts/test.sh --full` (what CI runs) adds these files (and the tests marked
# `full` one by one) to `scripts/test.sh`, whose tier proves on real containers every check's
# failure modes (test_checks), every step kind (test_faults and the scenarios), and every
# incident's reproduction by its cause and its fixed variant (the incident scenarios).
# Path -> why it is long or beyond that proof.
FULL_TIER: dict[str, str] = {
    "scenarios/long-outage.yaml": "four long outages by design",
    "scenarios/xen-reboot-week.yaml": "the week of reboots",
    "scenarios/reboot-each-host.yaml": "a rolling reboot of all eleven hosts",
    # No incident, and their step kinds are proven in the quick tier by test_faults.py
    # (sentinel_failover) and the incident scenarios (full_restart, mysql_failover).
    "scenarios/cold-start.yaml": "every host cold at once",
    "scenarios/failover-back-and-forth.yaml": "nine failovers and four reboots",
    # The one incident scenario left out: its cause shows in about 1 boot in 3, so it powers
    # graphite off 15 times (its incident variant alone took 5 minutes); graphite-piddir, the
    # same host's deterministic incident, stays quick.
    "scenarios/graphite-stale-pid.yaml": "fifteen power losses of graphite",
    "tests/integration/test_remote_engine.py": "an engine on another machine",
    "tests/integration/test_engines.py": "a second engine",
    "tests/integration/test_wheel.py": "the wheel in a fresh venv",
    "tests/integration/test_trust.py": "repeated kills and interrupts",
    "tests/integration/test_reproduction.py": "each incident without its mechanism",
    "tests/integration/test_example_project.py": "the example project as its README says",
    "tests/integration/test_ci_examples.py": "the CI examples, two nights",
    "tests/integration/test_repeat.py": "run --repeat",
    "tests/integration/test_jobs.py": "run -j",
    # run -j's job pool in real processes with real sleeps and a 10 s time limit (30 s of item
    # time the quick tier, 620 s on 5810ff4, does not have); -j end to end is test_jobs
    "tests/unit/test_parallel.py": "run -j's job pool in real processes",
    "tests/integration/test_names.py": "names kept through power loss",
    "tests/integration/test_traffic.py": "the traffic clients",
    "tests/integration/test_cli.py": "the CLI end to end",
    "tests/integration/test_safety.py": "compose safety on a real engine",
    "tests/integration/test_own_checks.py": "your own checks on a real stack",
    "tests/integration/test_chaostoolkit.py": "Chaos Toolkit",
    "tests/integration/test_report_browser.py": "the HTML report in a browser",
    "tests/integration/test_disk_full.py": "a full disk",
    "tests/integration/test_redis_boot.py": "redis's first boot with its master late (3 raw hosts)",
    "tests/integration/test_your_stack.py": "a user's compose file as the stack, end to end",
    "tests/integration/test_example_webapp.py": "a web app with PostgreSQL as the stack: four"
    " images built, reboot-each-host and the team's own incident",
    "tests/integration/test_example_queue.py": "a job queue with workers under supervisord as"
    " the stack: two images built, reboot-each-host and the team's own incident",
    "tests/integration/test_machine.py": "doctor --engine on this machine (a FUSE container)",
    # 26 rows on a real FUSE mount, no stack (40 s of item time): the quick tier measured 603 s
    # with it on 5e67149
    "tests/integration/test_lazydisk.py": "the lazy disk's specification table on a real mount",
}


@pytest.hookimpl(tryfirst=True)  # before `-m` deselects
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark the items of :data:`FULL_TIER` ``full``: `scripts/test.sh` runs ``-m "not full"``."""
    root = config.rootpath
    for item in items:
        try:
            path = Path(str(item.path)).resolve().relative_to(root).as_posix()
        except ValueError:
            continue
        if path in FULL_TIER:
            item.add_marker(pytest.mark.full)


def _engine_problem() -> str | None:
    from reboot_harness.errors import EnvironmentProblem
    from reboot_harness.inputs.compose.offline import compose_version
    from reboot_harness.stack.engine import client

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


@pytest.fixture(scope="module")
def compose_plugin() -> None:
    """The Compose plugin, which resolves compose files offline (no engine needed)."""
    from reboot_harness.errors import EnvironmentProblem
    from reboot_harness.inputs.compose.offline import compose_version

    try:
        compose_version()
    except EnvironmentProblem as e:
        missing(f"the Compose plugin is missing: {e}")


@pytest.fixture(autouse=True)
def _require_docker(request: pytest.FixtureRequest) -> None:
    if request.node.get_closest_marker("docker") is None:
        return
    problem = _engine_problem()
    if problem is None:
        return
    missing(f"Docker is not usable: {problem}")
