"""The command line of `reboot-harness`: every command and option (parsed only; the commands
themselves are reboot_harness.faces.cli.commands and .run)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from reboot_harness import __version__
from reboot_harness.inputs.durations import run_limit_option, wait_option
from reboot_harness.steps import COMMANDS

TOPOLOGY_HELP = "your hosts' names and parts (YAML, see reboot_harness/inputs/topology.py)"


def _incidents_option(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--incidents",
        action="append",
        default=[],
        type=Path,
        metavar="DIR",
        help="your own incidents (*.yaml, the shipped ones' format) beside the shipped ones"
        " (repeatable)",
    )


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="reboot-harness",
        description="Rehearse host reboots of a containerised replica of your stack.",
    )
    p.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    up = sub.add_parser("up", help="build if needed, start a stack, wait until every check holds")
    up.add_argument("--project", required=True, help="compose project name of the stack")
    up.add_argument(
        "--compose",
        action="append",
        default=[],
        type=Path,
        metavar="FILE",
        help="extra compose file layered over compose/stack.yaml (repeatable)",
    )
    up.add_argument(
        "--timeout",
        type=wait_option,
        default=240.0,
        metavar="DURATION",
        help="how long to wait, e.g. 90, 4m, 1m30s (default 4m)",
    )
    up.add_argument("--topology", type=Path, metavar="FILE", help=TOPOLOGY_HELP)
    up.add_argument(
        "--allow-unsafe-compose",
        action="store_true",
        help="start even compose files that void the rehearsal (privileged, host namespaces,"
        " the Docker socket, no tmpfs /run or boot ulimits, ports beyond 127.0.0.1)",
    )

    check = sub.add_parser("check", help="run every recovery check once against a running stack")
    check.add_argument("--project", required=True)
    check.add_argument(
        "--json", action="store_true", help="print the results as JSON (schema_version, results)"
    )
    check.add_argument(
        "--deadline",
        type=wait_option,
        default=5.0,
        metavar="DURATION",
        help="how long each check may wait, e.g. 5, 30s, 1m (default 5s)",
    )

    dn = sub.add_parser("down", help="remove a stack, its volumes and networks")
    dn.add_argument("--project", required=True)

    gc = sub.add_parser("gc", help="remove what crashed or killed runs left behind")
    gc.add_argument(
        "--all", action="store_true", help="also remove stacks started with `up` or by hand"
    )
    sub.add_parser("build", help="make the base and service images (only what changed)")

    ls = sub.add_parser("list", help="the scenarios, with the hosts they touch and their incident")
    ls.add_argument(
        "--json", action="store_true", help="print them as JSON (schema_version, scenarios)"
    )
    ls.add_argument("--topology", type=Path, metavar="FILE", help=TOPOLOGY_HELP)
    _incidents_option(ls)

    run = sub.add_parser("run", help="run scenarios, each on a fresh stack")
    run.add_argument(
        "scenarios", nargs="+", metavar="SCENARIO", help="name in scenarios/ or a file"
    )
    run.add_argument(
        "--incident",
        metavar="NAME",
        help="run only on this incident's configuration (reproduce it before fixing it)",
    )
    run.add_argument(
        "--json",
        action="store_true",
        help="print the results as JSON on stdout (what is said meanwhile goes to stderr)",
    )
    run.add_argument(
        "--report",
        type=Path,
        metavar="DIR",
        help="write results.json, downtime.csv/.md, report.html and plan.md here",
    )
    run.add_argument("--keep", action="store_true", help="leave each stack running afterwards")
    run.add_argument(
        "--repeat",
        type=int,
        default=1,
        metavar="N",
        help="run each scenario variant N times, each on a fresh stack (all of them once, then"
        " again…); results.json keeps every run with its repeat index, and `compare` tests each"
        " figure over the runs (5 or more a side)",
    )
    run.add_argument(
        "-j",
        "--jobs",
        type=int,
        default=1,
        metavar="N",
        help="run up to N scenario variants at once, each on its own stack (with RH_ENGINES,"
        " spread over the engines: -j <engines> runs one per engine); default 1",
    )
    run.add_argument(
        "--max-duration",
        type=run_limit_option,
        metavar="DURATION",
        help="stop after this long (e.g. 2h): the scenario running is healed and its stack"
        " removed; exit 1 naming what did not finish (the finished ones are reported)",
    )
    run.add_argument(
        "--max-planned",
        type=run_limit_option,
        default="4h",
        metavar="DURATION",
        help="refuse a scenario whose own plan (time off, sleeps, waits, timeouts) is longer"
        " (default 4h)",
    )
    run.add_argument("--topology", type=Path, metavar="FILE", help=TOPOLOGY_HELP)
    _incidents_option(run)
    run.add_argument(
        "--allow-unsafe-compose",
        action="store_true",
        help="start even compose files that void the rehearsal (privileged, host namespaces,"
        " the Docker socket, no tmpfs /run or boot ulimits, ports beyond 127.0.0.1)",
    )
    run.add_argument(
        "--compose",
        action="append",
        default=[],
        type=Path,
        metavar="FILE",
        help="your compose override layered over compose/stack.yaml (repeatable)",
    )
    _oneshot_parsers(sub)

    cmp = sub.add_parser(
        "compare",
        help="what got worse between two sets of runs (exit 1 on a regression beyond the noise)",
    )
    cmp.add_argument(
        "baseline",
        type=Path,
        metavar="BASELINE",
        help="results.json or its folder (a variant's repeats are its runs)",
    )
    cmp.add_argument("new", type=Path, metavar="NEW", help="results.json or its folder")
    cmp.add_argument("--md", type=Path, metavar="FILE", help="also write the table as Markdown")
    cmp.add_argument("--json", action="store_true", help="print the comparison as JSON")
    cmp.add_argument("--all", action="store_true", help="show values within the noise too")
    cmp.add_argument(
        "--floor",
        action="append",
        default=[],
        metavar="METRIC=REL,ABS",
        help="a metric's effect floor: a change of less than REL x the baseline or ABS is never a"
        " regression, e.g. downtime_s=0.5,1 (repeatable; metrics: recovery_s, downtime_s,"
        " longest_s, errors, reconnect_s, lost_writes)",
    )
    cmp.add_argument(
        "--alpha",
        default="0.01",
        metavar="P",
        help="the p-value a figure's test must beat, with several runs a side (default 0.01)",
    )
    _adopt_parsers(sub)
    hist = sub.add_parser(
        "history", help="an offline HTML page of the nights: recovery and downtime, regressions"
    )
    hist.add_argument("nights", nargs="+", type=Path, metavar="NIGHT",
                      help="results.json or report folder, oldest first")  # fmt: skip
    hist.add_argument("--out", type=Path, default=Path("history.html"), metavar="FILE",
                      help="where to write the page (default history.html)")  # fmt: skip
    return p


def _adopt_parsers(sub: Any) -> None:
    """`doctor` and `init --from`: a user's own compose file, read (nothing is started)."""
    from reboot_harness.model.findings import codes_help

    doctor = sub.add_parser(
        "doctor",
        help="what in your compose file makes a container not behave like a server across a"
        " reboot, with the fix (exit 1 on findings)",
        description="Read a compose file (nothing is started) for what makes a container not"
        " behave like a server across a reboot; one line a finding: FILE:SERVICE:KEY: CODE:"
        " what; fix: how. Exit 0: no findings; 1: findings; 2: the file cannot be read or is"
        " not a compose file. With --engine instead: what this machine lacks for the harness (a"
        " Docker engine that answers, the Compose v2 plugin, a base image, FUSE in a container),"
        " one line each with the command that fixes it; exit 0: nothing; 1: something.",
        epilog=codes_help(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    doctor.add_argument("compose_file", type=Path, metavar="COMPOSE_FILE", nargs="?")
    doctor.add_argument(
        "--engine", action="store_true", help="check this machine instead of a compose file:"
        " engine, Compose plugin, base image, FUSE (one throwaway container)"
    )  # fmt: skip
    # COMPOSE_FILE is required unless --engine: refused as argparse refuses (usage, exit 2)
    doctor.set_defaults(usage_error=doctor.error)
    doctor.add_argument(
        "--json", action="store_true", help="print the findings as JSON (schema_version, file,"
        " findings)"
    )  # fmt: skip
    init = sub.add_parser(
        "init",
        help="write a topology for your compose file, and the boot model as a compose override"
        " beside it (your file is only read)",
    )
    init.add_argument("--from", dest="source", type=Path, required=True, metavar="COMPOSE_FILE",
                      help="your docker-compose.yml")  # fmt: skip
    init.add_argument("--out", type=Path, default=Path("topology.yaml"), metavar="FILE",
                      help="the topology to write (default topology.yaml); the override goes"
                      " beside it as FILE's name + .compose-override.yaml")  # fmt: skip
    init.add_argument("--force", action="store_true", help="overwrite files already there")


def _oneshot_parsers(sub: Any) -> None:
    """One fault or operation on a running stack (reboot_harness.run.oneshot): exactly a scenario
    step; a command per step kind's one-shot spelling (reboot_harness.steps.COMMANDS)."""

    def cmd(name: str, help_: str) -> argparse.ArgumentParser:
        p: argparse.ArgumentParser = sub.add_parser(name, help=help_)
        p.add_argument("--project", required=True, help="the running stack (from `up`)")
        p.add_argument(
            "--json", action="store_true", help="print what was done as JSON (schema_version,"
            " command, events)"
        )  # fmt: skip
        return p

    for command in COMMANDS:
        p = cmd(command.name, command.help)
        for arg in command.args:
            param = command.param(arg.name)
            if not arg.option:
                p.add_argument(
                    arg.name,
                    metavar=arg.metavar,
                    choices=arg.choices or None,
                    help=arg.help or None,
                )
            elif param is not None and param.type == "flag":
                p.add_argument(arg.flag, action="store_true", help=arg.help)
            else:
                p.add_argument(
                    arg.flag,
                    metavar=arg.metavar,
                    default=arg.default,
                    nargs="+" if arg.many else None,
                    required=command.required(arg),
                    help=arg.help,
                )
