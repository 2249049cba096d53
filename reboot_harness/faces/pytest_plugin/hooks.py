"""The hooks of the session and of each item, each handing over to the module that does the
work: markers, scenario directories, the user's own files and the engines at configure; the
``rh_incident`` markers checked, then the shard kept and ordered (placement) once collected; a
time limit per harness item; an engine that stops answering named in the report (engines)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from reboot_harness.faces.pytest_plugin.collection import ScenarioItem
from reboot_harness.faces.pytest_plugin.engines import _bind_engine, blame_engine
from reboot_harness.faces.pytest_plugin.fixtures import (
    marked_incident,
    note_failure,
    release_spare,
    reuses_stack,
)
from reboot_harness.faces.pytest_plugin.options import (
    _DIRS,
    _HARNESS,
    _OWN,
    MARKERS,
    MAX_DURATION,
    SCENARIOS,
    SCENARIOS_INI,
    OwnFiles,
    run_request,
)
from reboot_harness.faces.pytest_plugin.placement import (
    DurationKeys,
    DurationRecorder,
    _durations_file,
    _records_durations,
    keep_xdist_groups,
    shard_and_order,
)
from reboot_harness.inputs.paths import SEED


def harness_item(item: pytest.Item) -> bool:
    """A scenario item, or a test using ``rh_stack``: what --rh-max-duration and the engines'
    failover apply to."""
    return isinstance(item, ScenarioItem) or "rh_stack" in getattr(item, "fixturenames", ())


@pytest.hookimpl(trylast=True)  # after -k/-m deselection, the conftests' xdist_group marks and
# an xdist worker's group suffixes
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Refuse an unknown incident in ``rh_incident`` before any stack starts; in an xdist
    worker, keep ``--dist loadgroup``'s groups on every pytest; then keep only this shard
    (--rh-shard) and put the longest items first (--rh-order)."""
    for item in items:
        marked_incident(item)
    if hasattr(config, "workerinput"):
        keep_xdist_groups(items)
    shard_and_order(config, items)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Any:
    """--rh-max-duration: a harness item still running when the time is up fails (its faults
    healed and its stack removed as on Ctrl-C), and the session goes on."""
    if not harness_item(item) or run_request(item.config).max_duration is None:
        return (yield)
    limit = run_request(item.config).max_duration
    from reboot_harness import interrupts

    try:
        with interrupts.time_limit(limit):
            return (yield)
    except interrupts.TimeUp:
        pytest.fail(
            f"did not finish within {MAX_DURATION} {limit:g}s (healed, its stack removed)",
            pytrace=False,
        )


def pytest_configure(config: pytest.Config) -> None:
    """Markers and the scenario directories only: nothing here touches Docker or signals."""
    for line in MARKERS:
        config.addinivalue_line("markers", line)
    # The project config file (reboot_harness.inputs.config) is read as the CLI reads it, from
    # the working folder; pytest's own options and ini values win over it, key by key.
    from reboot_harness.errors import UsageError
    from reboot_harness.inputs.config import project_config

    try:
        harness = project_config(config.invocation_params.dir)
    except UsageError as e:
        raise pytest.UsageError(str(e)) from None
    config.stash[_HARNESS] = harness
    dirs = [Path(p) for p in config.getini(SCENARIOS_INI)]
    dirs += [Path(config.invocation_params.dir, d) for d in config.getoption(SCENARIOS)]
    config.stash[_DIRS] = frozenset(d.resolve() for d in dirs or harness.scenarios)
    incidents = [*harness.incidents, *(Path(p) for p in config.getini("rh_incidents"))]
    incidents += [Path(config.invocation_params.dir, d) for d in config.getoption("--rh-incidents")]
    if incidents:
        from reboot_harness.scenarios.find import use_incident_dirs

        use_incident_dirs(incidents)
    here = config.invocation_params.dir
    topology = [Path(p) for p in config.getini("rh_topology")]
    if config.getoption("--rh-topology"):
        topology = [Path(here, config.getoption("--rh-topology"))]
    topology = topology or ([harness.topology] if harness.topology else [])
    if len(topology) > 1:
        raise pytest.UsageError("rh_topology: name one topology file")
    compose = [Path(p) for p in config.getini("rh_compose")]
    compose += [Path(here, f) for f in config.getoption("--rh-compose")]
    compose = compose or list(harness.compose)
    # your compose file as the stack: the option, else the ini's (relative to the ini file);
    # `seed`, or nothing: the shipped stack
    named = config.getoption("--rh-stack") or ""
    where = here
    if not named:
        named = str(config.getini("rh_stack_file") or "")
        where = config.inipath.parent if config.inipath else config.rootpath
    stack = Path(where, named) if named and named != SEED else None
    if not named and "stack" in harness.given:
        stack = harness.stack
    for f in [*topology, *compose, *([stack] if stack else [])]:
        if not f.is_file():
            raise pytest.UsageError(
                f"{f}: no such file (from --rh-topology/--rh-compose/--rh-stack or ini)"
            )
    config.stash[_OWN] = OwnFiles(topology[0].resolve() if topology else None,
                                  tuple(f.resolve() for f in compose),
                                  stack.resolve() if stack else None)  # fmt: skip
    _bind_engine(config)
    if _records_durations(config):
        if hasattr(config, "workerinput"):  # an xdist worker: its controller records
            config.pluginmanager.register(DurationKeys(), "reboot_harness_duration_keys")
        else:
            recorder = DurationRecorder(_durations_file(config))
            config.pluginmanager.register(recorder, "reboot_harness_durations")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    """With several engines: a harness item that failed because its engine stopped answering
    says so, naming the engine, and this process moves on to an engine that answers (the items
    after it go on); without --rh-engines the report is left as it is."""
    report = yield
    if report.failed and harness_item(item):
        blame_engine(item.config, report)
        note_failure(item, report)
    return report


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item: pytest.Item, nextitem: pytest.Item | None) -> Any:
    """A stack kept for the next ``rh_reuse_stack`` test is removed once the next item is not
    one (or there is none): an idle stack is not left standing beside other items' stacks."""
    try:
        return (yield)
    finally:
        if not reuses_stack(nextitem):
            release_spare(item.config)


def pytest_sessionfinish(session: pytest.Session) -> None:
    """No stack kept for a next test outlives the session (an interrupted one included)."""
    release_spare(session.config)
