"""pytest plugin (entry point ``pytest11``, name ``reboot_harness``): scenario files as test
items, and ``rh_``-prefixed fixtures to write scenarios in Python.

Scenario files are collected only from the directories a project names (ini ``rh_scenarios``,
option ``--rh-scenarios DIR``) or that are given on the command line: every ``*.yaml`` there is
one item per variant (``cold-start[fixed]``, ``no-minfds[incident]``); each runs on its own fresh
stack with a unique project name, so ``pytest -n 2`` runs stacks in parallel and JUnit XML works.

A good citizen of other people's suites: installed into a project that never uses it, the plugin
only registers its options and markers. The Docker client, the SIGTERM handler and the
clean-up of what killed runs left behind (``gc``) are engaged only when a scenario item or an
``rh_`` fixture first runs. ``-p no:reboot_harness`` disables it.

Any suite, not only scenarios: ``--rh-shard K/N`` runs one of N shards balanced by recorded
durations (``reboot_harness.sharding``), and under pytest-xdist the longest items start first. The
durations are recorded (``--rh-durations FILE``) only where they are asked for or the project
uses the harness: a suite that never mentions the plugin gets no file.
"""

from __future__ import annotations

import argparse
import contextlib
import random
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from reboot_harness.errors import CheckTimeout, HarnessError, ScenarioError
from reboot_harness.model import CheckResult, Reboot, Scenario

KEEP = "--rh-keep"
VARIANT = "--rh-variant"
REPORT = "--rh-report"
SCENARIOS = "--rh-scenarios"
MAX_DURATION = "--rh-max-duration"
SHARD = "--rh-shard"
DURATIONS = "--rh-durations"
ORDER = "--rh-order"
ENGINES = "--rh-engines"
REPEAT = "--rh-repeat"
DEFAULT_DURATIONS = Path(".reports", "durations.json")  # under the rootdir
SCENARIOS_INI = "rh_scenarios"
MARKERS = (
    "docker: needs a Docker engine with Compose v2",
    "rh_incident(name): the `rh_stack` fixture starts with this incident's compose override",
)
_DIRS = pytest.StashKey[frozenset[Path]]()
_ENGAGED = pytest.StashKey[bool]()
_OWN = pytest.StashKey["OwnStack"]()
_ENGINES = pytest.StashKey[tuple[Any, ...]]()


class OwnStack:
    """The user's own stack for every item of the session: a topology file (``--rh-topology``,
    ini ``rh_topology``) and compose overrides (``--rh-compose``, ini ``rh_compose``)."""

    def __init__(self, topology_file: Path | None, compose: list[Path]) -> None:
        self.topology_file = topology_file
        self.compose = compose
        self._topology: Any = None

    def topology(self) -> Any:
        """The topology (loaded once, on first use), or None for the shipped stack's."""
        if self.topology_file is not None and self._topology is None:
            from reboot_harness.errors import UsageError
            from reboot_harness.topology import load_topology

            try:
                self._topology = load_topology(self.topology_file)
            except UsageError as e:
                raise pytest.UsageError(f"rh_topology: {e}") from e
        return self._topology


def _own(config: pytest.Config) -> OwnStack:
    return config.stash.get(_OWN, None) or OwnStack(None, [])


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("reboot-harness", "reboot-harness scenarios")
    group.addoption(
        KEEP, action="store_true", default=False, help="leave each scenario's stack running"
    )
    group.addoption(
        REPORT,
        metavar="DIR",
        default=None,
        help="write each scenario's reports (results.json, downtime, report.html, plan.md)"
        " into DIR/<test id>/",
    )
    group.addoption(
        SCENARIOS,
        action="append",
        metavar="DIR",
        default=[],
        help="collect the *.yaml files in DIR as scenarios (repeatable; adds to the ini"
        f" option {SCENARIOS_INI})",
    )
    group.addoption(
        "--rh-incidents",
        action="append",
        metavar="DIR",
        default=[],
        help="your own incidents (*.yaml) beside the shipped ones (repeatable; adds to the ini"
        " option rh_incidents)",
    )
    parser.addini(
        "rh_incidents",
        "directories of your own incidents (relative to the ini file)",
        type="paths",
        default=[],
    )
    group.addoption(
        "--rh-topology",
        metavar="FILE",
        default=None,
        help="your hosts' names and parts, and your own checks (reboot_harness/topology.py);"
        " overrides the ini option rh_topology",
    )
    group.addoption(
        "--rh-compose",
        action="append",
        metavar="FILE",
        default=[],
        help="your compose override layered over the harness's stack, for every scenario item"
        " and rh_stack (repeatable; adds to the ini option rh_compose)",
    )
    parser.addini(
        "rh_topology", "your topology file (relative to the ini file)", type="paths", default=[]
    )
    parser.addini(
        "rh_compose",
        "your compose overrides (relative to the ini file)",
        type="paths",
        default=[],
    )
    parser.addini(
        SCENARIOS_INI,
        "directories whose *.yaml files are reboot-harness scenarios (relative to the ini file)",
        type="paths",
        default=[],
    )
    group.addoption(
        MAX_DURATION,
        metavar="SECONDS",
        type=_seconds,
        default=None,
        help="fail a scenario item (or a test using rh_stack) still running after this long:"
        " it is healed and its stack removed, the session goes on",
    )
    group.addoption(
        REPEAT,
        metavar="N",
        type=_repeat,
        default=1,
        help="collect each scenario variant N times, as N items (name[variant-k-N]), each on a"
        " fresh stack, with its own outcome and its own report folder (results.json keeps the"
        " repeat index): `reboot-harness compare` then tests each figure over the runs",
    )
    group.addoption(
        VARIANT,
        choices=("all", "fixed", "incident"),
        default="all",
        help="which variants of incident scenarios to collect (default: all)",
    )
    group.addoption(
        SHARD,
        metavar="K/N",
        type=_shard,
        default=None,
        help="run only shard K of N (1 <= K <= N): the selected items split into N parts of"
        " about equal recorded duration, an xdist_group never split; the same items and"
        f" durations file give the same shards on every machine (see {DURATIONS})",
    )
    group.addoption(
        DURATIONS,
        metavar="FILE",
        default=None,
        help=f"the recorded durations {SHARD} and {ORDER} use (default:"
        f" <rootdir>/{DEFAULT_DURATIONS.as_posix()}); at the end of the session the items that"
        f" ran are merged into it when this option or {ORDER}=durations is given, scenario"
        f" directories are configured or the file exists, and never by a {SHARD} run",
    )
    group.addoption(
        ORDER,
        choices=("auto", "durations", "collection"),
        default="auto",
        help="durations: run the longest items (an xdist_group counts as one) first;"
        " collection: keep pytest's order; auto (default): durations when distributed by"
        " pytest-xdist and some duration is known (with --dist loadgroup or loadscope add"
        " --no-loadscope-reorder, or xdist puts the largest groups first), collection otherwise",
    )

    group.addoption(
        ENGINES,
        metavar="ENGINES",
        default=None,
        help="Docker contexts or engine URLs (unix://, tcp:// with TLS, ssh://), comma-separated"
        " (default: $RH_ENGINES): xdist worker gwN puts its stacks on engine N mod the number"
        " named, images are copied between them by content hash; every engine must answer at"
        " the start (exit 2 otherwise), and an item whose engine stops answering fails naming"
        " it while the worker goes on with another engine",
    )


def _seconds(text: str) -> float:
    from reboot_harness.scenario.durations import seconds_option  # imported only when given

    return seconds_option(text, maximum=float("inf"))


def _repeat(text: str) -> int:
    try:
        n = int(text)
    except ValueError:
        n = 0
    if not 1 <= n <= 1000:
        raise argparse.ArgumentTypeError(f"{text!r}: run each scenario variant 1 to 1000 times")
    return n


def _shard(text: str) -> tuple[int, int]:
    from reboot_harness.errors import UsageError
    from reboot_harness.sharding import parse_shard

    try:
        return parse_shard(text)
    except UsageError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Any:
    """--rh-max-duration: a harness item still running when the time is up fails (its faults
    healed and its stack removed as on Ctrl-C), and the session goes on."""
    limit = item.config.getoption(MAX_DURATION)
    if limit is None or not _harness_item(item):
        return (yield)
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
    dirs = [Path(p) for p in config.getini(SCENARIOS_INI)]
    dirs += [Path(config.invocation_params.dir, d) for d in config.getoption(SCENARIOS)]
    config.stash[_DIRS] = frozenset(d.resolve() for d in dirs)
    incidents = [Path(p) for p in config.getini("rh_incidents")]
    incidents += [Path(config.invocation_params.dir, d) for d in config.getoption("--rh-incidents")]
    if incidents:
        from reboot_harness.catalog import use_incident_dirs

        use_incident_dirs(incidents)
    here = config.invocation_params.dir
    topology = [Path(p) for p in config.getini("rh_topology")]
    if config.getoption("--rh-topology"):
        topology = [Path(here, config.getoption("--rh-topology"))]
    if len(topology) > 1:
        raise pytest.UsageError("rh_topology: name one topology file")
    compose = [Path(p) for p in config.getini("rh_compose")]
    compose += [Path(here, f) for f in config.getoption("--rh-compose")]
    for f in [*topology, *compose]:
        if not f.is_file():
            raise pytest.UsageError(f"{f}: no such file (from --rh-topology/--rh-compose or ini)")
    config.stash[_OWN] = OwnStack(topology[0].resolve() if topology else None,
                                  [f.resolve() for f in compose])  # fmt: skip
    _bind_engine(config)
    if _records_durations(config):
        if hasattr(config, "workerinput"):  # an xdist worker: its controller records
            config.pluginmanager.register(DurationKeys(), "reboot_harness_duration_keys")
        else:
            recorder = DurationRecorder(_durations_file(config))
            config.pluginmanager.register(recorder, "reboot_harness_durations")


def _bind_engine(config: pytest.Config, *, engaging: bool = False) -> None:
    """--rh-engines (or RH_ENGINES): make sure every engine answers (one line, exit 2, nothing
    run) and bind this process to its engine (xdist gwN: engine N mod count). The option is
    acted on at once (the controller checks before any worker starts); the variable only when a
    harness item or fixture first runs (``engaging``), so a suite that never uses the harness
    is left alone even where RH_ENGINES is exported. Without either nothing happens here: no
    Docker import, no engine contact."""
    import os

    option = config.getoption(ENGINES)
    if option is None and not engaging:
        config.stash[_ENGINES] = ()
        return
    if engaging and (option is not None or config.stash.get(_ENGINES, ())):
        return  # bound at configure already
    spec = option if option is not None else os.environ.get("RH_ENGINES", "")
    if not spec.strip() and option is None:
        return
    from reboot_harness.errors import EnvironmentProblem, UsageError
    from reboot_harness.stack import engines

    source = ENGINES if option is not None else engines.ENV
    try:
        named = engines.parse(spec, source=source)
        if engaging or not hasattr(config, "workerinput"):
            engines.require_answers(named, source=source)
    except (UsageError, EnvironmentProblem) as e:
        pytest.exit(f"reboot-harness: {e}", returncode=2)
    os.environ[engines.ENV] = spec  # xdist workers inherit it; images are copied among these
    config.stash[_ENGINES] = named
    worker = getattr(config, "workerinput", {}).get("workerid", "gw0")
    engines.bind(engines.for_worker(named, worker))


def _harness_item(item: pytest.Item) -> bool:
    return isinstance(item, ScenarioItem) or "rh_stack" in getattr(item, "fixturenames", ())


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    """With several engines: a harness item that failed because its engine stopped answering
    says so, naming the engine, and this process moves on to an engine that answers (the items
    after it go on); without --rh-engines the report is left as it is."""
    report = yield
    named = item.config.stash.get(_ENGINES, ())
    if not named or not report.failed or not _harness_item(item):
        return report
    from reboot_harness.stack import engines

    here = engines.current()
    why = engines.answer(here, timeout=5.0)
    if why is None:
        return report
    others = [e for e in named if e.host != here.host and engines.answers(e)]
    after = f"; the next items go to engine {others[0].label()}" if others else ""
    if others:
        engines.bind(others[0])
    line = f"engine {here.label()} stopped answering during this item ({why}){after}"
    report.longrepr = f"{line}\n{report.longreprtext}"
    return report


def engage(config: pytest.Config) -> None:
    """What the harness needs before its first stack, once per process: testcontainers without
    its Ryuk reaper (its image cannot be pulled offline; the harness cleans up itself), SIGTERM
    unwinding like Ctrl-C (fixtures heal and remove their stacks), and what killed runs left
    behind removed (by one process: not by xdist workers other than the first)."""
    if config.stash.get(_ENGAGED, False):
        return
    config.stash[_ENGAGED] = True
    import os

    from reboot_harness import interrupts

    os.environ.setdefault("TESTCONTAINERS_RYUK_DISABLED", "true")
    _bind_engine(config, engaging=True)  # RH_ENGINES from the environment: only now
    interrupts.install()
    worker = getattr(config, "workerinput", {}).get("workerid", "gw0")
    if worker == "gw0":
        from reboot_harness.errors import EnvironmentProblem
        from reboot_harness.stack import gc
        from reboot_harness.stack.engines import using

        # Every engine of --rh-engines, or the one there is. No engine: the item or fixture
        # that needs it says so.
        reporter = config.pluginmanager.get_plugin("terminalreporter")
        capman = config.pluginmanager.get_plugin("capturemanager")
        for engine in config.stash.get(_ENGINES, ()) or (None,):
            with (
                using(engine),
                contextlib.suppress(EnvironmentProblem),
            ):
                for line in gc().lines():
                    # said in the session's output, past the test's capture (an xdist worker
                    # has no reporter; every removal is also in gc.log of the state folder)
                    said = f"reboot-harness: removed stack {line}, left by a dead run"
                    if reporter is not None and capman is not None:
                        with capman.global_and_fixture_disabled():
                            reporter.write_line(said)


def _marked_incident(item: pytest.Item) -> Path | None:
    """The compose override named by the item's ``rh_incident`` marker, if it has one."""
    marker = item.get_closest_marker("rh_incident")
    if marker is None:
        return None
    from reboot_harness import catalog
    from reboot_harness.errors import UsageError

    name = str(marker.args[0]) if marker.args else ""
    try:
        return catalog.incident(name, _own(item.config).topology()).path
    except UsageError as e:
        raise pytest.UsageError(f"{item.nodeid}: rh_incident({name!r}): {e}") from e


@pytest.hookimpl(trylast=True)  # after -k/-m deselection and the conftests' xdist_group marks
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Refuse an unknown incident in ``rh_incident`` before any stack starts; then keep only
    this shard (--rh-shard) and put the longest items first (--rh-order)."""
    for item in items:
        _marked_incident(item)
    _shard_and_order(config, items)


def _shard_and_order(config: pytest.Config, items: list[pytest.Item]) -> None:
    shard = config.getoption(SHARD)
    order = config.getoption(ORDER)
    if order == "auto":
        order = "durations" if hasattr(config, "workerinput") else "collection"
    if (shard is None and order == "collection") or not items:
        return
    from reboot_harness import sharding

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


def _xdist_group(item: pytest.Item) -> str | None:
    """The item's ``xdist_group``, read from its marks as pytest-xdist reads them."""
    from reboot_harness.sharding import group_name

    marks = item.iter_markers("xdist_group")
    return group_name(str(m.args[0] if m.args else m.kwargs.get("name", "default")) for m in marks)


def _duration_key(item: pytest.Item) -> str:
    from reboot_harness.sharding import strip_group_suffix

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
        from reboot_harness.sharding import record_durations

        try:
            record_durations(self.path, {key: self.spent[key] for key in self.ran})
        except (HarnessError, OSError) as e:  # a cache: never fails the session
            reporter = session.config.pluginmanager.get_plugin("terminalreporter")
            if reporter is not None:
                reporter.write_line(f"reboot-harness: durations not recorded: {e}", yellow=True)


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    """A scenario file: a ``*.yaml`` in a configured scenario directory, or given by name."""
    if file_path.suffix not in (".yaml", ".yml"):
        return None
    dirs = parent.config.stash.get(_DIRS, frozenset())
    if file_path.parent.resolve() in dirs or parent.session.isinitpath(file_path):
        return ScenarioFile.from_parent(parent, path=file_path)
    return None


class ScenarioFile(pytest.File):
    def collect(self) -> Iterator[pytest.Item]:
        from reboot_harness import catalog

        try:
            scenario = catalog.load(self.path, _own(self.config).topology())
        except ScenarioError as e:
            raise self.CollectError(str(e)) from e
        wanted = self.config.getoption(VARIANT)
        # Repeats are items of their own, as pytest-repeat makes them (and with its names):
        # each run has its own outcome, report and duration, and xdist spreads them.
        n = self.config.getoption(REPEAT)
        for variant in scenario.variants:
            if wanted not in ("all", variant):
                continue
            for k in range(1, n + 1):
                name = (
                    f"{scenario.name}[{variant}-{k}-{n}]"
                    if n > 1
                    else f"{scenario.name}[{variant}]"
                )
                yield ScenarioItem.from_parent(
                    self, name=name, scenario=scenario, variant=variant, repeat=k if n > 1 else 0
                )


class ScenarioFailed(Exception):
    """A scenario variant did not turn out as required; carries its result."""


class ScenarioItem(pytest.Item):
    def __init__(self, *, scenario: Scenario, variant: str, repeat: int = 0, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.scenario = scenario
        self.variant = variant
        self.repeat = repeat  # --rh-repeat N: which run of the variant (1..N); else 0
        self.add_marker(pytest.mark.docker)

    def runtest(self) -> None:
        from reboot_harness.scenario_run import run_scenario

        engage(self.config)
        own = _own(self.config)
        result = run_scenario(
            self.scenario,
            self.variant,
            keep=bool(self.config.getoption(KEEP)),
            extra_compose=own.compose,
            topology_file=own.topology_file,
            topology=own.topology(),
        )
        result.repeat = self.repeat
        report_dir = self.config.getoption(REPORT)
        if report_dir:
            from reboot_harness.report import write_reports

            safe = self.name.replace("[", "-").replace("]", "")
            write_reports([result], Path(report_dir) / safe)
        self.user_properties.append(("reason", result.reason))
        if result.incident:
            self.user_properties.append(("incident", result.incident))
        if result.engine:
            self.user_properties.append(("engine", result.engine))
        self.user_properties.append(("duration_s", f"{result.duration_s:.1f}"))
        if not result.passed:
            lines = [f"{result.test_id}: {result.reason}"]
            lines += [f"  step error: {e.line()}" for e in result.step_errors]
            lines += [f"  {r.line()}" for r in result.checks if not r.ok][:12]
            lines += [f"  budget: {v.line()}" for v in result.budget_violations][:6]
            lines += ["  events:"] + [
                f"    {time.strftime('%H:%M:%S', time.gmtime(e.t))} {e.kind} {e.host} {e.detail}"
                for e in result.events[-15:]
            ]
            raise ScenarioFailed("\n".join(lines))

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> str:
        if isinstance(excinfo.value, ScenarioFailed | HarnessError):
            return str(excinfo.value)
        return str(super().repr_failure(excinfo))

    def reportinfo(self) -> tuple[Path, int, str]:
        return self.path, 0, f"scenario {self.name}"


# -- fixtures: scenarios written in Python -------------------------------------------------------
@pytest.fixture
def rh_stack(request: pytest.FixtureRequest) -> Iterator[Any]:
    """A fresh, healthy stack for this test (removed afterwards unless --rh-keep). Mark the test
    ``@pytest.mark.rh_incident("no-minfds")`` to start it on an incident's configuration."""
    import uuid

    from reboot_harness.runner import bring_up
    from reboot_harness.stack import down

    engage(request.config)
    incident = _marked_incident(request.node)
    own = _own(request.config)
    extra = [*own.compose, *([incident] if incident else [])]
    project = f"rh-py-{uuid.uuid4().hex[:10]}"
    keep = bool(request.config.getoption(KEEP))
    report = bring_up(
        project,
        extra_compose=extra,
        keep=keep,
        timeout=300,
        topology_file=own.topology_file,
        topology=own.topology(),
    )
    try:
        yield report.stack
    finally:
        if not keep:
            _remove(request.config, project, down)


def _remove(config: pytest.Config, project: str, down: Callable[[str], object]) -> None:
    """Remove the stack; with several engines, one whose engine stopped answering is left for
    `reboot-harness gc` with a warning (the item itself already failed naming the engine)."""
    from reboot_harness.errors import EnvironmentProblem

    try:
        down(project)
    except EnvironmentProblem as e:
        if not config.stash.get(_ENGINES, ()):
            raise
        import warnings

        warnings.warn(
            f"stack {project} not removed ({e}); `reboot-harness gc` removes it once its"
            " engine answers again",
            stacklevel=1,
        )


@pytest.fixture
def rh_run(rh_stack: Any) -> Iterator[Any]:
    """The run context over ``rh_stack`` (``reboot_harness.faults.RunContext``: its events, and
    every fault or operation done through it, which is healed after the test)."""
    from reboot_harness.faults import RunContext

    ctx = RunContext(rh_stack, random.Random(0))
    try:
        yield ctx
    finally:
        ctx.heal()


@pytest.fixture
def rh_reboot(rh_run: Any) -> Callable[..., None]:
    """``rh_reboot("app1", mode="hard", down_for=2.0, new_ip=False)`` reboots a host of
    ``rh_stack``."""
    from reboot_harness.faults.reboot import reboot as do_reboot

    def _reboot(
        host: str, mode: str = "graceful", down_for: float = 0.0, new_ip: bool = False
    ) -> None:
        do_reboot(rh_run, Reboot(host=host, mode=mode, down_for=down_for, new_ip=new_ip))

    return _reboot


@pytest.fixture
def rh_check(rh_stack: Any) -> Callable[..., list[CheckResult]]:
    """``rh_check("limits", "redis roles", within=60)``: wait until those checks (all when none are
    named) hold; fail the test with what was observed if they don't."""
    from reboot_harness.runner import wait_recovered

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
