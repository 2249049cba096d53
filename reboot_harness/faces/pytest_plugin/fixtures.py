"""The ``rh_`` fixtures: scenarios written in Python."""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from reboot_harness.errors import CheckTimeout
from reboot_harness.faces.pytest_plugin.engines import _remove, engage
from reboot_harness.faces.pytest_plugin.options import run_request
from reboot_harness.model.results import CheckResult
from reboot_harness.steps.reboot import Reboot


def marked_incident(item: pytest.Item) -> Path | None:
    """The compose override named by the item's ``rh_incident`` marker, if it has one (for
    ``rh_stack``); an unknown incident is a UsageError naming the item."""
    marker = item.get_closest_marker("rh_incident")
    if marker is None:
        return None
    from reboot_harness.errors import UsageError
    from reboot_harness.scenarios import find

    name = str(marker.args[0]) if marker.args else ""
    try:
        return find.incident(name, run_request(item.config).topology).path
    except UsageError as e:
        raise pytest.UsageError(f"{item.nodeid}: rh_incident({name!r}): {e}") from e


@pytest.fixture
def rh_stack(request: pytest.FixtureRequest) -> Iterator[Any]:
    """A fresh, healthy stack for this test (removed afterwards unless --rh-keep). Mark the test
    ``@pytest.mark.rh_incident("no-minfds")`` to start it on an incident's configuration."""
    import uuid

    from reboot_harness.run.bringup import bring_up
    from reboot_harness.stack.removal import down

    engage(request.config)
    incident = marked_incident(request.node)
    asked = run_request(request.config)
    project = f"rh-py-{uuid.uuid4().hex[:10]}"
    report = bring_up(project, asked, extra=[incident] if incident else [])
    try:
        yield report.stack
    finally:
        if not asked.keep:
            _remove(request.config, project, down)


@pytest.fixture
def rh_run(rh_stack: Any) -> Iterator[Any]:
    """The run context over ``rh_stack`` (``reboot_harness.steps.RunContext``: its events, and
    every fault or operation done through it, which is healed after the test)."""
    from reboot_harness.steps import RunContext

    ctx = RunContext(rh_stack, random.Random(0))
    try:
        yield ctx
    finally:
        ctx.heal()


@pytest.fixture
def rh_reboot(rh_run: Any) -> Callable[..., None]:
    """``rh_reboot("app1", mode="hard", down_for=2.0, new_ip=False)`` reboots a host of
    ``rh_stack``."""
    from reboot_harness.steps.reboot import reboot as do_reboot

    def _reboot(
        host: str, mode: str = "graceful", down_for: float = 0.0, new_ip: bool = False
    ) -> None:
        do_reboot(rh_run, Reboot(host=host, mode=mode, down_for=down_for, new_ip=new_ip))

    return _reboot


@pytest.fixture
def rh_check(rh_stack: Any) -> Callable[..., list[CheckResult]]:
    """``rh_check("limits", "redis roles", within=60)``: wait until those checks (all when none are
    named) hold; fail the test with what was observed if they don't."""
    from reboot_harness.checks.recovery import wait_recovered

    def _check(*names: str, within: float = 60.0) -> list[CheckResult]:
        __tracebackhide__ = True
        try:
            return wait_recovered(rh_stack, checks=names, since=time.time(), timeout=within).results
        except CheckTimeout as e:
            failing = [r.line() for r in e.results if not r.ok]
            pytest.fail(
                f"not recovered within {within:g}s:\n  " + "\n  ".join(failing), pytrace=False
            )

    return _check
