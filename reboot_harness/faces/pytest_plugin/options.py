"""The plugin's options and ini values, and what the session keeps of them."""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:  # (imported when the request is first needed)
    from reboot_harness.inputs.config import ProjectConfig
    from reboot_harness.run.request import RunRequest

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
    "rh_reuse_stack: the `rh_stack` fixture may hand this test the healthy stack an earlier test"
    " of this process used (healed, every check holding again; replaced when it does not"
    " recover) instead of a fresh one",
)
_DIRS = pytest.StashKey[frozenset[Path]]()
_ENGAGED = pytest.StashKey[bool]()
_OWN = pytest.StashKey["OwnFiles"]()
_REQUEST = pytest.StashKey["RunRequest"]()
_ENGINES = pytest.StashKey[tuple[Any, ...]]()
_HARNESS = pytest.StashKey["ProjectConfig"]()  # the project config file (inputs.config)


@dataclass(frozen=True)
class OwnFiles:
    """The user's own stack for every item of the session, as configured (each file there):
    a topology file (``--rh-topology``, ini ``rh_topology``), compose overrides
    (``--rh-compose``, ini ``rh_compose``) and your compose file as the stack (``--rh-stack``,
    ini ``rh_stack_file``; None: the shipped stack). Where neither the option nor the ini value
    names one, the project config file's (reboot_harness.inputs.config) does."""

    topology_file: Path | None = None
    compose: tuple[Path, ...] = ()
    stack: Path | None = None


def run_request(config: pytest.Config) -> RunRequest:
    """The session's request (reboot_harness.run.request), resolved once from its options, on
    first use: a suite that never runs a scenario item or an ``rh_`` fixture never reads the
    topology nor imports the harness's layers."""
    request = config.stash.get(_REQUEST, None)
    if request is not None:
        return request
    from reboot_harness.errors import UsageError
    from reboot_harness.inputs.topology import load_topology
    from reboot_harness.run.request import UP_TIMEOUT_S, RunRequest

    own = config.stash.get(_OWN, OwnFiles())
    harness: ProjectConfig | None = config.stash.get(_HARNESS, None)
    try:
        topology = load_topology(own.topology_file) if own.topology_file else None
    except UsageError as e:
        raise pytest.UsageError(f"rh_topology: {e}") from e
    report = config.getoption(REPORT)
    try:
        request = RunRequest(
            stack=own.stack,
            compose=own.compose,
            topology_file=own.topology_file,
            topology=topology,
            keep=bool(config.getoption(KEEP)),
            repeat=config.getoption(REPEAT),
            max_duration=config.getoption(MAX_DURATION),
            report=Path(report) if report else None,
            up_timeout=(harness and harness.up_timeout) or UP_TIMEOUT_S,
            max_planned=(harness and harness.max_planned) or RunRequest.max_planned,
        )
    except UsageError as e:  # (your stack's file, read when there is no topology file)
        raise pytest.UsageError(f"rh_stack_file: {e}") from e
    config.stash[_REQUEST] = request
    return request


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
        help="your hosts' names and parts, and your own checks"
        " (reboot_harness/inputs/topology.py); overrides the ini option rh_topology",
    )
    group.addoption(
        "--rh-compose",
        action="append",
        metavar="FILE",
        default=[],
        help="your compose override layered over the harness's stack, for every scenario item"
        " and rh_stack (repeatable; adds to the ini option rh_compose)",
    )
    group.addoption(
        "--rh-stack",
        metavar="FILE",
        default=None,
        help="your compose file as the whole stack (the boot model written over it; without a"
        " topology, the topology read from it); `seed`: the harness's own stack (the default);"
        " overrides the ini option rh_stack_file",
    )
    parser.addini(
        "rh_stack_file",
        "your compose file as the stack (relative to the ini file), or `seed`",
        type="string",
        default="",
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
        metavar="DURATION",
        type=_run_limit,
        default=None,
        help="fail a scenario item (or a test using rh_stack) still running after this long"
        " (e.g. 90, 1m30s, 2h): it is healed and its stack removed, the session goes on",
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


def _run_limit(text: str) -> float:
    """The bounds and wording of `reboot-harness run --max-duration`."""
    from reboot_harness.inputs.durations import run_limit_option  # imported only when given

    return run_limit_option(text)


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
    from reboot_harness.faces.pytest_plugin.sharding import parse_shard

    try:
        return parse_shard(text)
    except UsageError as e:
        raise argparse.ArgumentTypeError(str(e)) from None
