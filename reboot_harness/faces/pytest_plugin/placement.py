"""Where and when the items run: the shard this session keeps (``--rh-shard``) and the order
(``--rh-order``), by the durations recorded for them (``--rh-durations``;
reboot_harness.faces.pytest_plugin.sharding holds the pure part)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from reboot_harness.errors import HarnessError
from reboot_harness.faces.pytest_plugin.collection import ScenarioItem
from reboot_harness.faces.pytest_plugin.options import (
    _DIRS,
    DEFAULT_DURATIONS,
    DURATIONS,
    ORDER,
    SHARD,
)


def shard_and_order(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Keep only this shard's items (--rh-shard) and put the longest first (--rh-order)."""
    shard = config.getoption(SHARD)
    order = config.getoption(ORDER)
    if order == "auto":
        order = "durations" if hasattr(config, "workerinput") else "collection"
    if (shard is None and order == "collection") or not items:
        return
    from reboot_harness.faces.pytest_plugin import sharding

    try:
        recorded = sharding.load_durations(_durations_file(config))
    except HarnessError as e:
        raise pytest.UsageError(str(e)) from e
    keys = [_duration_key(item) for item in items]
    planned = {
        key: item.scenario.planned_s  # a scenario not yet recorded: the longest its plan takes
        for key, item in zip(keys, items, strict=True)
        if isinstance(item, ScenarioItem)
    }
    if config.getoption(ORDER) == "auto" and not planned and not recorded.keys() & set(keys):
        order = "collection"  # nothing known: every item would weigh the same
    weights = sharding.estimates(keys, recorded, planned)
    units = [
        sharding.Unit(key, _xdist_group(item), seconds)
        for key, item, seconds in zip(keys, items, weights, strict=True)
    ]
    if shard is not None:
        chosen = set(sharding.select(units, *shard))
        deselected = [item for i, item in enumerate(items) if i not in chosen]
        if deselected:
            config.hook.pytest_deselected(items=deselected)
        items[:] = [item for i, item in enumerate(items) if i in chosen]
        units = [u for i, u in enumerate(units) if i in chosen]
    if order == "durations":
        items[:] = [items[i] for i in sharding.longest_first(units)]


def keep_xdist_groups(items: list[pytest.Item]) -> None:
    """Make pytest-xdist's ``--dist loadgroup`` group on every pytest (it is the way this plugin
    and its README run suites in parallel).

    In each worker, xdist appends ``@group`` to the node id of an item with ``xdist_group``
    marks by writing ``item._nodeid``; the controller then hands out a group's items to one
    worker. pytest 9.2 keeps the node id in a structured ``item._id`` instead, so the write is
    lost and the groups silently spread over the workers (pytest-dev/pytest-xdist#1386). Where
    that write was made and lost, it is carried over to the id pytest reads; where xdist or
    pytest already agree (pytest below 9.2, a fixed xdist) nothing changes.
    """
    for item in items:
        written = item.__dict__.get("_nodeid")  # below pytest 9.2, the node id itself
        parse = getattr(getattr(item, "_id", None), "parse", None)  # NodeId.parse, pytest 9.2
        if isinstance(written, str) and written != item.nodeid and parse is not None:
            # (setattr: pytest's typing has no ``_id`` below 9.2 and a private one from it)
            setattr(item, "_id", parse(written))  # noqa: B010


def _xdist_group(item: pytest.Item) -> str | None:
    """The item's ``xdist_group``, read from its marks as pytest-xdist reads them."""
    from reboot_harness.faces.pytest_plugin.sharding import group_name

    marks = item.iter_markers("xdist_group")
    return group_name(str(m.args[0] if m.args else m.kwargs.get("name", "default")) for m in marks)


def _duration_key(item: pytest.Item) -> str:
    from reboot_harness.faces.pytest_plugin.sharding import strip_group_suffix

    return strip_group_suffix(item.nodeid, _xdist_group(item))


# -- recorded durations ----------------------------------------------------------------------------
def _durations_file(config: pytest.Config) -> Path:
    given = config.getoption(DURATIONS)
    if given:
        return Path(config.invocation_params.dir, given)
    return config.rootpath / DEFAULT_DURATIONS


def _records_durations(config: pytest.Config) -> bool:
    """Whether this session records durations: asked for, or a project using the harness
    (scenario directories configured, or the file already there). A suite that has the plugin
    installed and never uses it gets no file. A shard never writes the file it was cut from:
    the other shards, maybe run after it from the same file, must see what it saw."""
    if config.getoption(SHARD) is not None:
        return False
    return bool(
        config.getoption(DURATIONS)
        or config.getoption(ORDER) == "durations"
        or config.stash[_DIRS]
        or _durations_file(config).exists()
    )


class DurationKeys:
    """In an xdist worker: marks a report with the item's duration key when it differs from
    the report's node id (loadgroup's ``@group`` suffix), for the controller to record."""

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(self, item: pytest.Item) -> Any:
        report = yield
        key = _duration_key(item)
        if key != report.nodeid:
            report.rh_nodeid = key  # an extra attribute: it travels to the controller
        return report


class DurationRecorder:
    """In the process that sees every report (the only one, or xdist's controller): each item's
    setup, call and teardown added up, written into the durations file at the end of the session
    for the items whose test ran (a skip or a failed setup says nothing about its duration)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.spent: dict[str, float] = {}
        self.ran: set[str] = set()

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        key = str(getattr(report, "rh_nodeid", report.nodeid))
        self.spent[key] = self.spent.get(key, 0.0) + report.duration
        if report.when == "call" and (not report.skipped or hasattr(report, "wasxfail")):
            self.ran.add(key)

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        if not self.ran:
            return
        from reboot_harness.faces.pytest_plugin.sharding import record_durations

        try:
            record_durations(self.path, {key: self.spent[key] for key in self.ran})
        except (HarnessError, OSError) as e:  # a cache: never fails the session
            reporter = session.config.pluginmanager.get_plugin("terminalreporter")
            if reporter is not None:
                reporter.write_line(f"reboot-harness: durations not recorded: {e}", yellow=True)
