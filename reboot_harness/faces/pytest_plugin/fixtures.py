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


REUSE_MARKER = "rh_reuse_stack"
# How long a stack kept from an earlier test may take to hold every check again before it is
# replaced by a fresh one (a fresh stack takes about 10 s to come up).
REUSE_RECOVERY_S = 60.0
_SPARE = pytest.StashKey[Any]()  # the stack kept for the next rh_reuse_stack test, or None
_FAILED = pytest.StashKey[bool]()  # the item's setup or call failed


def reuses_stack(item: pytest.Item | None) -> bool:
    """Whether ``item`` uses ``rh_stack`` marked ``rh_reuse_stack`` without an incident."""
    return (
        item is not None
        and "rh_stack" in getattr(item, "fixturenames", ())
        and item.get_closest_marker(REUSE_MARKER) is not None
        and item.get_closest_marker("rh_incident") is None
    )


def note_failure(item: pytest.Item, report: pytest.TestReport) -> None:
    """Remember that ``item`` failed: a test that failed may have left its stack in any state,
    so that stack is not handed on."""
    if report.failed and report.when in ("setup", "call"):
        item.stash[_FAILED] = True


def release_spare(config: pytest.Config) -> None:
    """Remove the stack kept for a next test (none comes, or it needs a fresh one)."""
    spare = config.stash.get(_SPARE, None)
    config.stash[_SPARE] = None
    if spare is not None:
        _discard(config, spare)


def _discard(config: pytest.Config, spare: Any) -> None:
    """Remove a stack kept for a next test (left running with --rh-keep, as every stack is)."""
    from reboot_harness.stack.removal import down

    if not run_request(config).keep:
        _remove(config, spare.state.name, down)


def _take_spare(config: pytest.Config) -> Any:
    """The stack an earlier test left, once every check holds on it again; None when there is
    none, or when it did not recover within :data:`REUSE_RECOVERY_S` (then it is removed)."""
    from reboot_harness.checks.recovery import wait_recovered
    from reboot_harness.errors import HarnessError

    spare = config.stash.get(_SPARE, None)
    config.stash[_SPARE] = None
    if spare is None:
        return None
    try:
        wait_recovered(spare, timeout=REUSE_RECOVERY_S)
    except HarnessError:  # CheckTimeout, or the stack is gone: a fresh one instead
        _discard(config, spare)
        return None
    return spare


@pytest.fixture
def rh_stack(request: pytest.FixtureRequest) -> Iterator[Any]:
    """A fresh, healthy stack for this test (removed afterwards unless --rh-keep). Mark the test
    ``@pytest.mark.rh_incident("no-minfds")`` to start it on an incident's configuration.

    Mark it ``@pytest.mark.rh_reuse_stack`` when it needs a healthy stack but not a fresh one:
    it may then get the stack the previous such test of this process used, once that test's
    faults are healed and every check holds again (a stack that does not recover within
    :data:`REUSE_RECOVERY_S` is replaced, and one whose test failed is never handed on). Roles
    may have moved there (a failover in an earlier test): ask the stack, do not assume.
    """
    import uuid

    from reboot_harness.run.bringup import bring_up
    from reboot_harness.stack.removal import down

    engage(request.config)
    incident = marked_incident(request.node)
    asked = run_request(request.config)
    reuse = reuses_stack(request.node)
    stack = _take_spare(request.config) if reuse else None
    if stack is None:
        project = f"rh-py-{uuid.uuid4().hex[:10]}"
        stack = bring_up(project, asked, extra=[incident] if incident else []).stack
    try:
        yield stack
    finally:
        # rh_run's teardown, which heals, has run: it depends on this fixture
        if reuse and not request.node.stash.get(_FAILED, False):
            request.config.stash[_SPARE] = stack
        elif not asked.keep:
            _remove(request.config, stack.state.name, down)


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
