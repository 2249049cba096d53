"""The command line of `reboot-harness`: every command and option (parsed only; the commands
themselves are reboot_harness.faces.cli.commands and .run)."""

from __future__ import annotations

import argparse
import textwrap
from pathlib import Path
from typing import Any

from reboot_harness import __version__
from reboot_harness.inputs.durations import run_limit_option, wait_option
from reboot_harness.steps import COMMANDS

TOPOLOGY_HELP = "your hosts' names and parts (YAML, see reboot_harness/inputs/topology.py)"
STACK_HELP = (
    "your compose file as the whole stack (its services are the hosts; the boot model is written"
    " over it; without --topology, the topology is read from it); `seed` (the default): the"
    " post-mortem's stack the harness ships"
)


def _stack_option(p: argparse.ArgumentParser) -> None:
    # (read as given: `seed` must override a config file's stack; stack_path reads it after)
    p.add_argument("--stack", default=None, metavar="FILE", help=STACK_HELP)


UP_TIMEOUT = 240.0  # `up --timeout`'s default (4m), unless the config file's up-timeout

# Not required by argparse: $RH_PROJECT or the config file may name it (faces.cli.settings).
PROJECT_HELP = "(default: $RH_PROJECT, else `project` in the config file)"


def _project_option(p: argparse.ArgumentParser, help_: str = "") -> None:
    p.add_argument("--project", default=None, help=f"{help_} {PROJECT_HELP}".strip())


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


# The exit codes a command's --help lists (reboot_harness.faces.cli.console), by what ends it.
EXIT_BAD_INPUT = "  2  bad input (a file, an option, a name) or no engine: one line on stderr"
EXIT_HEALED = "  130/143  interrupted (Ctrl-C, SIGTERM): faults healed first"


def _command(
    sub: Any, name: str, help_: str, about: str, example: str, exits: tuple[str, ...]
) -> argparse.ArgumentParser:
    """A subcommand whose --help has a paragraph saying what it does, an example and its exit
    codes (every one has all three: tests/unit/test_cli_manners.py)."""
    parser: argparse.ArgumentParser = sub.add_parser(
        name,
        help=help_,
        description=textwrap.fill(about, width=78),
        epilog=f"example:\n  {example}\n\nexit codes:\n" + "\n".join(exits),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    # what is required unless a config file gives it is refused as argparse refuses (exit 2)
    parser.set_defaults(usage_error=parser.error)
    return parser


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="reboot-harness",
        description="Rehearse host reboots of a containerised replica of your stack.",
        epilog="`reboot-harness COMMAND --help` says what a command does, with an example.\n"
        "exit codes: 0 everything held, 1 a check or scenario failed, 2 bad input or no engine.\n"
        "shell completion: `reboot-harness completion --help` says how to install it.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    up = _command(
        sub, "up", "build if needed, start a stack, wait until every check holds",
        "Start the replica stack (compose/stack.yaml, with your --compose files layered over it)"
        " under a project name, building the images first if they changed, and wait until every"
        " recovery check holds. The stack stays until `down`; `check` re-checks it and the"
        " one-shot commands (reboot, stop, kill, ...) act on it.",
        "reboot-harness up --project demo --timeout 4m",
        ("  0  the stack is up and every check holds",
         "  1  a check did not hold in time (what failed is shown; the stack is removed)",
         EXIT_BAD_INPUT, EXIT_HEALED),
    )  # fmt: skip
    _project_option(up, "compose project name of the stack")
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
        default=None,  # (UP_TIMEOUT, unless the config file's up-timeout: faces.cli.settings)
        metavar="DURATION",
        help="how long to wait, e.g. 90, 4m, 1m30s (default 4m)",
    )
    up.add_argument("--topology", type=Path, metavar="FILE", help=TOPOLOGY_HELP)
    _stack_option(up)
    up.add_argument(
        "--allow-unsafe-compose",
        action="store_true",
        help="start even compose files that void the rehearsal (privileged, host namespaces,"
        " the Docker socket, no tmpfs /run or boot ulimits, ports beyond 127.0.0.1)",
    )

    check = _command(
        sub, "check", "run every recovery check once against a running stack",
        "Run every recovery check once against a stack started with `up` (limits, processes,"
        " replication roles, directories, nginx, DNS, socket.io ...) and show what each observed;"
        " a failing check also says what it expected.",
        "reboot-harness check --project demo --json",
        ("  0  every check holds", "  1  a check failed", EXIT_BAD_INPUT),
    )  # fmt: skip
    _project_option(check)
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

    dn = _command(
        sub, "down", "remove a stack, its volumes and networks",
        "Remove a stack started with `up` (or kept by `run --keep`): its containers, volumes"
        " and networks.",
        "reboot-harness down --project demo",
        ("  0  removed (or nothing was there)", EXIT_BAD_INPUT),
    )  # fmt: skip
    _project_option(dn)

    gc = _command(
        sub, "gc", "remove what crashed or killed runs left behind",
        "Remove the stacks, volumes and networks that runs which crashed or were killed left"
        " behind (found by their labels, on every engine of RH_ENGINES and those this machine"
        " recorded). Stacks started with `up` or by hand stay unless --all.",
        "reboot-harness gc",
        ("  0  removed what was left (or found nothing)", EXIT_BAD_INPUT),
    )  # fmt: skip
    gc.add_argument(
        "--all", action="store_true", help="also remove stacks started with `up` or by hand"
    )
    _command(
        sub, "build", "make the base and service images (only what changed)",
        "Make the base image and one image per role of the stack, rebuilding only what changed"
        " (with RH_ENGINES, on every engine named). `up` and `run` build when needed; this"
        " builds ahead, e.g. in CI before the runs.",
        "reboot-harness build",
        ("  0  the images are ready", "  1  an image failed to build", EXIT_BAD_INPUT),
    )  # fmt: skip

    ls = _command(
        sub, "list", "the scenarios, with the hosts they touch and their incident",
        "List the scenarios `run` knows, one line each: its name, the incident it reproduces and"
        " the hosts it touches; --long adds each one's description and what its incident's"
        " failure must show. Nothing is started.",
        "reboot-harness list --long",
        ("  0  listed", EXIT_BAD_INPUT),
    )  # fmt: skip
    ls.add_argument(
        "--json", action="store_true", help="print them as JSON (schema_version, scenarios)"
    )
    ls.add_argument(
        "--long", action="store_true", help="each scenario's description and what its incident"
        " must show, too"
    )  # fmt: skip
    ls.add_argument("--topology", type=Path, metavar="FILE", help=TOPOLOGY_HELP)
    # the config file's scenario folders (faces.cli.settings; None: $RH_SCENARIOS_DIR or ours)
    ls.set_defaults(scenario_dirs=None)
    _stack_option(ls)
    _incidents_option(ls)

    run = _command(
        sub, "run", "run scenarios, each on a fresh stack",
        "Run each scenario (a name of `list`, or a file) on a fresh stack: its fixed variant must"
        " recover and keep its budgets, and a scenario that reproduces an incident also runs on"
        " the incident's configuration, which must fail by the incident's declared cause. Faults"
        " are always healed and the stacks removed (unless --keep). --dry-run shows the plan and"
        " starts nothing.",
        "reboot-harness run reboot-each-host --report out/ --junitxml out/junit.xml",
        ("  0  every scenario variant passed (--dry-run: the plan is shown)",
         "  1  a scenario variant failed, or --max-duration ran out",
         EXIT_BAD_INPUT, EXIT_HEALED),
    )  # fmt: skip
    run.add_argument(
        "scenarios", nargs="*", metavar="SCENARIO", help="name in scenarios/ or a file (none:"
        " every scenario of the config file's `scenarios` folders, or of $RH_SCENARIOS_DIR)"
    )  # fmt: skip
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
    run.add_argument(
        "--junitxml",
        type=Path,
        metavar="FILE",
        help="also write a JUnit XML report (one testcase per scenario variant) for CI",
    )
    run.add_argument(
        "--dry-run",
        action="store_true",
        help="show what would run (steps with planned times, hosts, checks, traffic, budgets,"
        " the incident's cause) and start nothing; with --json as JSON",
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
        default=None,  # (4h, unless the config file's max-planned: faces.cli.settings)
        metavar="DURATION",
        help="refuse a scenario whose own plan (time off, sleeps, waits, timeouts) is longer"
        " (default 4h)",
    )
    run.add_argument("--topology", type=Path, metavar="FILE", help=TOPOLOGY_HELP)
    # the config file's scenario folders and up-timeout (faces.cli.settings; None: as before)
    run.set_defaults(scenario_dirs=None, up_timeout=None)
    _stack_option(run)
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

    cmp = _command(
        sub, "compare",
        "what got worse between two sets of runs (exit 1 on a regression beyond the noise)",
        "Compare two sets of runs (results.json files or report folders, e.g. last night and"
        " tonight): each scenario variant's recovery, downtime, errors, reconnect time and lost"
        " writes, with a statistical test when each side has several runs (run --repeat).",
        "reboot-harness compare nights/monday nights/tuesday --md diff.md",
        ("  0  nothing got worse beyond the noise", "  1  a regression", EXIT_BAD_INPUT),
    )  # fmt: skip
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
    _validate_parser(sub)
    _config_parser(sub)
    hist = _command(
        sub, "history", "an offline HTML page of the nights: recovery and downtime, regressions",
        "Write one self-contained HTML page of several nights' results (oldest first): each"
        " scenario variant's recovery and downtime over the nights, and the regressions between"
        " one night and the next.",
        "reboot-harness history nights/* --out history.html",
        ("  0  the page is written", EXIT_BAD_INPUT),
    )  # fmt: skip
    hist.add_argument("nights", nargs="+", type=Path, metavar="NIGHT",
                      help="results.json or report folder, oldest first")  # fmt: skip
    hist.add_argument("--out", type=Path, default=Path("history.html"), metavar="FILE",
                      help="where to write the page (default history.html)")  # fmt: skip
    comp = _command(
        sub, "completion", "print the shell completion script for bash, zsh or fish",
        "Print a completion script for your shell, generated from this command line (every"
        " command and option). Install it once: bash: `reboot-harness completion bash >"
        " ~/.local/share/bash-completion/completions/reboot-harness`; zsh: `reboot-harness"
        " completion zsh > ~/.zfunc/_reboot-harness` with ~/.zfunc in $fpath before compinit;"
        " fish: `reboot-harness completion fish >"
        " ~/.config/fish/completions/reboot-harness.fish`.",
        "reboot-harness completion bash > ~/.local/share/bash-completion/completions/"
        "reboot-harness",
        ("  0  the script is printed", EXIT_BAD_INPUT),
    )  # fmt: skip
    comp.add_argument("shell", choices=SHELLS, metavar="SHELL", help=" | ".join(SHELLS))
    return p


SHELLS = ("bash", "zsh", "fish")


def _config_parser(sub: Any) -> None:
    """`config`: the project config file in force and each setting resolved."""
    cfg = _command(
        sub, "config", "the config file in force, and each setting with where it came from",
        "Show the project config file in force (reboot-harness.toml, or [tool.reboot-harness]"
        " in pyproject.toml, the nearest in this folder or above) and each setting as the"
        " commands resolve it: the command line, else the environment ($RH_PROJECT,"
        " $RH_SCENARIOS_DIR), else the file, else the default; incidents add up. Give"
        " options to see them win. Nothing is started.",
        "reboot-harness config --project demo",
        ("  0  shown", "  2  the config file (or an option) is not valid: one line on stderr"),
    )  # fmt: skip
    cfg.add_argument("--topology", type=Path, metavar="FILE", help=TOPOLOGY_HELP)
    _stack_option(cfg)
    cfg.add_argument(
        "--compose", action="append", default=[], type=Path, metavar="FILE",
        help="your compose override (repeatable; replaces the file's compose)",
    )  # fmt: skip
    _incidents_option(cfg)
    _project_option(cfg, "compose project name of the stack")
    cfg.add_argument("--max-planned", type=run_limit_option, metavar="DURATION",
                     help="as `run --max-planned`")  # fmt: skip


def _validate_parser(sub: Any) -> None:
    """`validate`: scenario, topology, incident and compose files, read as the commands read
    them (nothing is started)."""
    from reboot_harness.scenarios.validate import KINDS

    val = _command(
        sub, "validate", "check scenarios, topologies, incidents and compose overrides",
        "Check each file as the commands would read it, and start nothing: a scenario (it has"
        " steps), an incident (a compose override with an x-reboot-harness block), a compose"
        " override (it has services; judged by the same safety rules as `run`, through"
        " `docker compose config`), or else a topology. Every problem is one line, FILE: what;"
        " every file is checked.",
        "reboot-harness validate scenarios/*.yaml topology.yaml --topology topology.yaml",
        ("  0  every file is valid",
         "  2  a file is not (one line a problem), or the compose plugin is missing"),
    )  # fmt: skip
    val.add_argument("files", nargs="+", type=Path, metavar="FILE")
    val.add_argument(
        "--kind", choices=KINDS, help="what every FILE is (default: told from its content)"
    )
    val.add_argument(
        "--topology", type=Path, metavar="FILE",
        help="validate scenarios and incidents against this topology (" + TOPOLOGY_HELP + ")",
    )  # fmt: skip
    val.add_argument(
        "--compose", action="append", default=[], type=Path, metavar="FILE",
        help="your compose override that incidents and compose files are layered over, as"
        " `run --compose` layers them (repeatable)",
    )  # fmt: skip
    _incidents_option(val)


def _adopt_parsers(sub: Any) -> None:
    """`doctor` and `init --from`: a user's own compose file, read (nothing is started)."""
    from reboot_harness.model.findings import codes_help

    doctor = _command(
        sub, "doctor",
        "what in your compose file makes a container not behave like a server across a"
        " reboot, with the fix (exit 1 on findings)",
        "Read a compose file (nothing is started) for what makes a container not"
        " behave like a server across a reboot; one line a finding: FILE:SERVICE:KEY: CODE:"
        " what; fix: how. Exit 0: no findings; 1: findings; 2: the file cannot be read or is"
        " not a compose file. With --engine instead: what this machine lacks for the harness (a"
        " Docker engine that answers, the Compose v2 plugin, a base image, FUSE in a container),"
        " one line each with the command that fixes it.",
        "reboot-harness doctor docker-compose.yml\n  reboot-harness doctor --engine",
        ("  0  no findings (--engine: nothing lacking)",
         "  1  findings (--engine: something lacks)",
         "  2  the file cannot be read or is not a compose file"),
    )  # fmt: skip
    doctor.epilog = f"{doctor.epilog}\n\n{codes_help()}"
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
    init = _command(
        sub, "init",
        "write a topology for your compose file, and the boot model as a compose override"
        " beside it (your file is only read)",
        "Read your docker-compose.yml and write a topology naming your hosts and their parts,"
        " and beside it a compose override that makes your containers boot like servers; pass"
        " both to `run` (--topology, --compose). Your file is only read.",
        "reboot-harness init --from docker-compose.yml --out topology.yaml",
        ("  0  the files are written", EXIT_BAD_INPUT),
    )  # fmt: skip
    init.add_argument("--from", dest="source", type=Path, required=True, metavar="COMPOSE_FILE",
                      help="your docker-compose.yml")  # fmt: skip
    init.add_argument("--out", type=Path, default=Path("topology.yaml"), metavar="FILE",
                      help="the topology to write (default topology.yaml); the override goes"
                      " beside it as FILE's name + .compose-override.yaml")  # fmt: skip
    init.add_argument("--force", action="store_true", help="overwrite files already there")


# One example a one-shot command's --help shows (reboot_harness.steps.COMMANDS: one per command).
ONESHOT_EXAMPLES = {
    "reboot": "reboot-harness reboot --project demo app1 --mode hard --down-for 30s",
    "stop": "reboot-harness stop --project demo redis1",
    "start": "reboot-harness start --project demo redis1",
    "kill": "reboot-harness kill --project demo app1 app --signal TERM",
    "failover": "reboot-harness failover --project demo redis",
    "dns-rotate": "reboot-harness dns-rotate --project demo out lb1",
    "wait": "reboot-harness wait --project demo --within 2m",
    "freeze": "reboot-harness freeze --project demo mysql2 --for 10s",
}


def _oneshot_parsers(sub: Any) -> None:
    """One fault or operation on a running stack (reboot_harness.run.oneshot): exactly a scenario
    step; a command per step kind's one-shot spelling (reboot_harness.steps.COMMANDS)."""

    def cmd(name: str, help_: str) -> argparse.ArgumentParser:
        about = (
            f"{help_[0].upper()}{help_[1:]}: one step of a scenario, on a stack started with"
            " `up`, exactly as a scenario runs it (the step's events are shown, or with --json"
            " printed as JSON)."
        )
        exits = ("  0  done", "  1  the step failed (what was seen is said)", EXIT_BAD_INPUT)
        p = _command(sub, name, help_, about, ONESHOT_EXAMPLES[name], exits)
        _project_option(p, "the running stack (from `up`)")
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
