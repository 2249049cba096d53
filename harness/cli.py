"""`reboot-harness …`: exit 0 when everything held, 1 when a check failed, 2 on usage or
environment errors."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from harness import __version__, interrupts
from harness.errors import CheckTimeout, EnvironmentProblem, HarnessError, UsageError
from harness.model import CheckResult, Topology

EXIT_OK, EXIT_FAIL, EXIT_USAGE = 0, 1, 2

out = Console(highlight=False)
err = Console(stderr=True, highlight=False)


TOPOLOGY_HELP = "your hosts' names and parts (YAML, see harness/topology.py)"


def _topology(path: Path | None) -> Topology | None:
    if path is None:
        return None
    from harness.topology import load_topology

    return load_topology(path)


def _parser() -> argparse.ArgumentParser:
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
    up.add_argument("--timeout", type=float, default=240.0, help="seconds to wait (default 240)")
    up.add_argument("--topology", type=Path, metavar="FILE", help=TOPOLOGY_HELP)

    check = sub.add_parser("check", help="run every recovery check once against a running stack")
    check.add_argument("--project", required=True)
    check.add_argument("--json", action="store_true", help="print a JSON list of results")
    check.add_argument(
        "--deadline", type=float, default=5.0, help="seconds each check may wait (default 5)"
    )

    dn = sub.add_parser("down", help="remove a stack, its volumes and networks")
    dn.add_argument("--project", required=True)

    gc = sub.add_parser("gc", help="remove what crashed or killed runs left behind")
    gc.add_argument(
        "--all", action="store_true", help="also remove stacks started with `up` or by hand"
    )
    sub.add_parser("build", help="make the base and service images (only what changed)")

    ls = sub.add_parser("list", help="the scenarios, with the hosts they touch and their incident")
    ls.add_argument("--json", action="store_true", help="print a JSON list")
    ls.add_argument("--topology", type=Path, metavar="FILE", help=TOPOLOGY_HELP)

    run = sub.add_parser("run", help="run scenarios, each on a fresh stack")
    run.add_argument(
        "scenarios", nargs="+", metavar="SCENARIO", help="name in scenarios/ or a file"
    )
    run.add_argument(
        "--incident",
        metavar="NAME",
        help="run only on this incident's configuration (reproduce it before fixing it)",
    )
    run.add_argument("--json", type=Path, metavar="FILE", help="write the results as JSON here")
    run.add_argument(
        "--report",
        type=Path,
        metavar="DIR",
        help="write results.json, downtime.csv/.md, report.html and plan.md here",
    )
    run.add_argument("--keep", action="store_true", help="leave each stack running afterwards")
    run.add_argument("--topology", type=Path, metavar="FILE", help=TOPOLOGY_HELP)
    run.add_argument(
        "--compose",
        action="append",
        default=[],
        type=Path,
        metavar="FILE",
        help="your compose override layered over compose/stack.yaml (repeatable)",
    )
    return p


def results_table(results: Sequence[CheckResult]) -> Table:
    """One row per result; a failing row also says what was expected."""
    table = Table(show_lines=False)
    table.add_column("check", no_wrap=True)
    table.add_column("host", no_wrap=True)
    table.add_column("", no_wrap=True)
    table.add_column("observed (expected, when failing)", overflow="fold")
    for r in results:
        if r.ok:
            table.add_row(r.check, r.host, "[green]ok[/]", escape(r.observed))
        else:
            text = f"{escape(r.observed)}\n[dim]expected {escape(r.expected)}[/]"
            table.add_row(r.check, r.host, "[red bold]FAIL[/]", text)
    return table


def _cmd_up(args: argparse.Namespace) -> int:
    from harness.runner import bring_up

    try:
        report = bring_up(
            args.project,
            extra_compose=args.compose,
            timeout=args.timeout,
            topology_file=args.topology,
            progress=lambda msg: err.print(f"[dim]{msg}[/]"),
        )
    except CheckTimeout as e:
        err.print(f"[red]up failed:[/] {e}")
        err.print(results_table([r for r in e.results if not r.ok]))
        err.print(f"stack {args.project} removed")
        return EXIT_FAIL
    table = Table(title=f"stack {args.project} ready")
    table.add_column("host")
    table.add_column("ready after", justify="right")
    for host, secs in report.readiness.seconds().items():
        table.add_row(host, f"{secs:.1f}s")
    out.print(table)
    out.print(
        f"{len(report.readiness.results)} checks hold. "
        f"`reboot-harness check --project {args.project}` re-checks,"
        f" `reboot-harness down --project {args.project}` removes it."
    )
    return EXIT_OK


def _cmd_check(args: argparse.Namespace) -> int:
    from harness.runner import check_once
    from harness.serialize import to_json

    _stack, results = check_once(args.project, deadline_s=args.deadline)
    failed = [r for r in results if not r.ok]
    if args.json:
        print(json.dumps(to_json(list(results)), indent=2))
    else:
        out.print(results_table(results))
        out.print(
            f"{len(results) - len(failed)} passed, {len(failed)} failed"
            if failed
            else f"all {len(results)} checks hold"
        )
    return EXIT_FAIL if failed else EXIT_OK


def _cmd_down(args: argparse.Namespace) -> int:
    from harness.stack import down

    removed = down(args.project)
    out.print(
        f"removed stack {args.project}: {removed.containers} containers,"
        f" {removed.networks} networks, {removed.volumes} volumes"
    )
    return EXIT_OK


def _cmd_gc(args: argparse.Namespace) -> int:
    from harness.stack import gc

    removed = gc(include_kept=args.all)
    if removed.projects:
        out.print(
            f"removed {len(removed.projects)} stacks ({', '.join(removed.projects)}):"
            f" {removed.containers} containers, {removed.networks} networks,"
            f" {removed.volumes} volumes"
        )
    else:
        out.print("nothing to remove")
    return EXIT_OK


def _cmd_build(_args: argparse.Namespace) -> int:
    from harness.stack import build

    tag = build(progress=lambda msg: err.print(f"[dim]{msg}[/]"))
    out.print(f"images ready: reboot-harness/<role>:{tag}")
    return EXIT_OK


def _cmd_list(args: argparse.Namespace) -> int:
    from harness import catalog

    topology = _topology(args.topology)
    scenarios = catalog.load_all(topology)
    incidents = catalog.Incidents(topology)
    rows = [
        {
            "name": s.name,
            "description": s.description,
            "hosts": catalog.hosts_touched(s, topology),
            "incident": s.reproduces.incident if s.reproduces else None,
            "reproduced_by": (
                [
                    {"kind": sig.kind, "name": sig.name, "cause": sig.cause, "host": sig.host}
                    for sig in incidents[s.reproduces.incident].reproduced_by
                ]
                if s.reproduces
                else []
            ),
            "file": s.source,
        }
        for s in scenarios
    ]
    if args.json:
        print(json.dumps(rows, indent=2))
        return EXIT_OK
    table = Table()
    for col in ("scenario", "description", "hosts touched", "reproduces"):
        table.add_column(col, overflow="fold")
    for s in scenarios:
        incident = ""
        if s.reproduces:
            shown_by = incidents[s.reproduces.incident].describe()
            incident = f"{s.reproduces.incident} ({shown_by})"
        table.add_row(
            s.name, s.description, ", ".join(catalog.hosts_touched(s, topology)), incident
        )
    out.print(table)
    return EXIT_OK


def _cmd_run(args: argparse.Namespace) -> int:
    from harness import catalog
    from harness.incidents import unobservable

    topology = _topology(args.topology)
    scenarios = catalog.resolve(args.scenarios, topology)
    if args.incident:
        # refuse an unknown name, or a scenario that could never show it, before anything starts
        chosen = catalog.incident(args.incident, topology)
        for s in scenarios:
            problem = unobservable(
                chosen,
                checks=s.expect.checks,
                budgets=s.budgets,
                step_kinds={step.KEY for step in s.steps},
            )
            if problem:
                raise UsageError(f"{s.source}: cannot reproduce: {problem}")
    for f in args.compose:
        if not f.is_file():
            raise UsageError(f"{f}: compose file not found")
    plan = [(s, v) for s in scenarios for v in (("incident",) if args.incident else s.variants)]
    # Only valid input gets this far: the runner (and with it Docker) is imported now.
    from harness.scenario_run import ScenarioResult, run_scenario
    from harness.stack import gc

    reaped = gc()
    if reaped.projects:
        err.print(f"removed {len(reaped.projects)} stacks left by dead runs")
    results: list[ScenarioResult] = []
    for scenario, variant in plan:
        label = f"{scenario.name}[{variant}]"
        with err.status(f"{label}: starting") as status:

            def progress(msg: str, _label: str = label) -> None:
                status.update(f"{_label}: {escape(msg)}")
                err.print(f"[dim]{_label}: {escape(msg)}[/]")

            result = run_scenario(
                scenario,
                variant,
                incident=args.incident,
                keep=args.keep,
                extra_compose=args.compose,
                topology_file=args.topology,
                progress=progress,
            )
        results.append(result)
        mark = "[green]PASS[/]" if result.passed else "[red bold]FAIL[/]"
        out.print(f"{mark} {label} ({result.duration_s:.0f}s): {escape(result.reason)}")
        if args.keep:
            out.print(f"  stack kept: reboot-harness down --project {result.project}")
    table = Table(title="scenarios")
    for col in ("scenario", "variant", "result", "time", "why"):
        table.add_column(col, overflow="fold")
    for r in results:
        table.add_row(
            r.name,
            r.variant,
            "[green]pass[/]" if r.passed else "[red bold]FAIL[/]",
            f"{r.duration_s:.0f}s",
            escape(r.reason),
        )
    out.print(table)
    if args.json:
        from harness.serialize import to_json

        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(
            json.dumps({"scenarios": to_json(results)}, indent=2) + "\n", encoding="utf-8"
        )
    if args.report:
        from harness.report import write_reports

        written = write_reports(results, args.report)
        out.print("reports: " + ", ".join(str(p) for p in written.values()))
    passed = sum(r.passed for r in results)
    out.print(f"scenarios: {passed} passed, {len(results) - passed} failed")
    return EXIT_OK if passed == len(results) else EXIT_FAIL


COMMANDS = {
    "build": _cmd_build,
    "list": _cmd_list,
    "run": _cmd_run,
    "up": _cmd_up,
    "check": _cmd_check,
    "down": _cmd_down,
    "gc": _cmd_gc,
}


def _say(message: str) -> None:
    """An error for the user: plain text on stderr, never wrapped or styled (one line stays one
    line for scripts and CI logs)."""
    print(message, file=sys.stderr, flush=True)


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    interrupts.install()
    try:
        return COMMANDS[args.command](args)
    except (UsageError, EnvironmentProblem) as e:
        _say(f"reboot-harness {args.command}: {e}")
        return EXIT_USAGE
    except HarnessError as e:
        _say(f"reboot-harness {args.command}: {e}")
        return EXIT_FAIL
    except KeyboardInterrupt as e:
        why = str(e) or "Ctrl-C"
        done = ""
        if args.command in ("up", "run"):
            kept = args.command == "run" and args.keep
            done = "; faults healed, " + ("stack kept" if kept else "stack removed")
        _say(f"reboot-harness {args.command}: interrupted ({why}){done}")
        return 143 if isinstance(e, interrupts.Terminated) else 130


if __name__ == "__main__":
    sys.exit(main())
