"""`reboot-harness …`: exit 0 when everything held, 1 when a check failed, 2 on usage or
environment errors."""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from reboot_harness import __version__, interrupts
from reboot_harness.errors import CheckTimeout, EnvironmentProblem, HarnessError, UsageError
from reboot_harness.model import FAILOVER_SERVICES, CheckResult, Topology
from reboot_harness.scenario.durations import seconds_option

EXIT_OK, EXIT_FAIL, EXIT_USAGE = 0, 1, 2

out = Console(highlight=False)
err = Console(stderr=True, highlight=False)


TOPOLOGY_HELP = "your hosts' names and parts (YAML, see reboot_harness/topology.py)"


def _topology(path: Path | None) -> Topology | None:
    if path is None:
        return None
    from reboot_harness.topology import load_topology

    return load_topology(path)


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
    up.add_argument(
        "--timeout", type=seconds_option, default=240.0, help="seconds to wait (default 240)"
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
        type=seconds_option,
        default=5.0,
        help="seconds each check may wait (default 5)",
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
        metavar="DURATION",
        help="stop after this long (e.g. 2h): the scenario running is healed and its stack"
        " removed; exit 1 naming what did not finish (the finished ones are reported)",
    )
    run.add_argument(
        "--max-planned",
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
    hist = sub.add_parser(
        "history", help="an offline HTML page of the nights: recovery and downtime, regressions"
    )
    hist.add_argument("nights", nargs="+", type=Path, metavar="NIGHT",
                      help="results.json or report folder, oldest first")  # fmt: skip
    hist.add_argument("--out", type=Path, default=Path("history.html"), metavar="FILE",
                      help="where to write the page (default history.html)")  # fmt: skip
    return p


MODES = ("graceful", "hard", "crash")


def _oneshot_parsers(sub: Any) -> None:
    """One fault or operation on a running stack (reboot_harness.oneshot): exactly a scenario
    step."""

    def cmd(name: str, help_: str) -> argparse.ArgumentParser:
        p: argparse.ArgumentParser = sub.add_parser(name, help=help_)
        p.add_argument("--project", required=True, help="the running stack (from `up`)")
        p.add_argument(
            "--json", action="store_true", help="print what was done as JSON (schema_version,"
            " command, events)"
        )  # fmt: skip
        return p

    p = cmd("reboot", "reboot one host of a running stack (a scenario's `reboot` step)")
    p.add_argument("host", metavar="HOST")
    p.add_argument("--mode", default="graceful", help="graceful (default), hard or crash")
    p.add_argument("--down-for", metavar="DURATION", help="time off, e.g. 5s (default 0)")
    p.add_argument("--new-ip", action="store_true", help="come back on a new address")
    p.add_argument("--grace", metavar="DURATION", help="graceful only: SIGKILL after (10s)")
    p = cmd("stop", "power one host off and leave it off (`start` boots it)")
    p.add_argument("host", metavar="HOST")
    p.add_argument("--mode", default="graceful", help="graceful (default), hard or crash")
    p.add_argument("--grace", metavar="DURATION", help="graceful only: SIGKILL after (10s)")
    p = cmd("start", "boot a host that is off")
    p.add_argument("host", metavar="HOST")
    p = cmd("kill", "send a signal to a program on a host (STOP freezes, CONT thaws)")
    p.add_argument("host", metavar="HOST")
    p.add_argument("program", metavar="PROGRAM", help="a supervisord program or process name")
    p.add_argument("--signal", default="KILL", help="TERM, KILL (default), INT, HUP, STOP, CONT…")
    p = cmd("failover", "fail redis over with Sentinel, or MySQL to its other server")
    p.add_argument("service", choices=FAILOVER_SERVICES)
    p.add_argument("--to", metavar="HOST", help="mysql only: the server to promote")
    p.add_argument("--timeout", metavar="DURATION", help="how long it may take")
    p = cmd("dns-rotate", "take a load balancer out of the DNS answer, or put it back")
    p.add_argument("action", choices=("in", "out"))
    p.add_argument("lb", metavar="LB")
    p.add_argument("--wait", metavar="DURATION", help="then wait this long (default: the TTL)")
    p = cmd("wait", "wait until the checks hold (exit 1 with what failed if they do not)")
    p.add_argument("--checks", nargs="+", metavar="CHECK", help="only these (default: all)")
    p.add_argument("--within", metavar="DURATION", default="60s", help="default 60s")


def _duration(text: str | None) -> object:
    """A duration option as a scenario would hold it: a bare number is seconds."""
    if text is None:
        return None
    try:
        return float(text)
    except ValueError:
        return text


def _oneshot_step(args: argparse.Namespace) -> dict[str, object]:
    """The scenario step a one-shot command stands for (unset options left out)."""
    c = args.command
    params: dict[str, object]
    if c in ("reboot", "stop"):
        params = {"host": args.host, "mode": args.mode}
        if args.grace is not None:
            params["grace"] = _duration(args.grace)
        if c == "reboot":
            if args.down_for is not None:
                params["down_for"] = _duration(args.down_for)
            if args.new_ip:
                params["new_ip"] = True
        return {c: params}
    if c == "start":
        return {"start": {"host": args.host}}
    if c == "kill":
        return {"kill": {"host": args.host, "program": args.program, "signal": args.signal}}
    if c == "failover":
        if args.service == "redis" and args.to is not None:
            raise UsageError(
                "reboot-harness failover: --to: Sentinel elects the new redis master itself;"
                " --to is for mysql only"
            )
        params = {} if args.to is None else {"to": args.to}
        if args.timeout is not None:
            params["timeout"] = _duration(args.timeout)
        return {"sentinel_failover" if args.service == "redis" else "mysql_failover": params}
    if c == "dns-rotate":
        params = {args.action: args.lb}
        if args.wait is not None:
            params["wait"] = _duration(args.wait)
        return {"dns_rotate": params}
    params = {"within": _duration(args.within)}
    if args.checks:
        params["checks"] = list(args.checks)
    return {"wait_recovered": params}


def _writable_folder(folder: Path, option: str) -> None:
    """Refuse, before anything starts, a folder the results could not be written to."""
    import tempfile

    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".rh-write-test-"):
            pass
    except OSError as e:
        raise UsageError(
            f"{option} {folder}: cannot write there ({e.strerror or e}); choose another folder"
        ) from None


def _cmd_compare(args: argparse.Namespace) -> int:
    from reboot_harness import compare
    from reboot_harness.report.tables import md_table

    floors = dict(compare.FLOORS)
    floors.update(compare.parse_floor(text) for text in args.floor)
    if args.md is not None:
        _writable_folder(args.md.parent, "--md")
    result = compare.compare(
        compare.load_results(args.baseline),
        compare.load_results(args.new),
        floors=floors,
        names=(str(args.baseline), str(args.new)),
        alpha=compare.parse_alpha(args.alpha),
    )
    rows = compare.rows(result, args.all)
    if args.md is not None:
        args.md.write_text(
            f"# {args.baseline} → {args.new}\n\n{compare.summary(result)}\n\n"
            + (md_table(compare.HEADINGS, rows) if rows else "Nothing changed beyond the noise.")
            + "\n",
            encoding="utf-8",
        )
    if args.json:
        from reboot_harness.serialize import document

        doc = document(
            baseline=result.baseline, new=result.new, changes=result.shown(args.all),
            regressions=len(result.regressions),
        )  # fmt: skip
        print(json.dumps(doc, indent=2))
    else:
        if rows:
            table = Table(title=f"{args.baseline} → {args.new}")
            for col in compare.HEADINGS:
                # figures and names a reader greps for stay whole in an 80-column CI log
                short = col not in ("scenario", "where", "why")
                table.add_column(col, overflow="fold", no_wrap=short)
            for row in rows:
                kind = row[compare.HEADINGS.index("change")]
                style = {"regression": "red bold", "improved": "green"}.get(kind, "")
                table.add_row(*[escape(c) for c in row], style=style)
            out.print(table)
        out.print(compare.summary(result))
    return EXIT_FAIL if result.regressions else EXIT_OK


def _cmd_history(args: argparse.Namespace) -> int:
    from reboot_harness.report.history import load_nights, render

    _writable_folder(args.out.parent, "--out")
    nights = load_nights(args.nights)
    args.out.write_text(render(nights), encoding="utf-8")
    out.print(f"history of {len(nights)} nights: {args.out}")
    return EXIT_OK


def _cmd_oneshot(args: argparse.Namespace) -> int:
    from reboot_harness import oneshot

    source = f"reboot-harness {args.command}"
    topology = oneshot.topology_for(args.project)
    step = oneshot.step_of(_oneshot_step(args), source, args.project, topology)
    events = oneshot.apply(args.project, step, topology)
    if args.json:
        from reboot_harness.serialize import document

        print(json.dumps(document(command=args.command, events=events), indent=2), flush=True)
    else:
        print(f"{args.command}: {oneshot.describe(events)}", flush=True)
    return EXIT_OK


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


def _refuse_unsafe_compose(
    file_sets: Sequence[Sequence[Path]], topology: Topology | None, allow: bool, project: str
) -> None:
    """The user's compose files, judged before the engine is asked anything and before the
    runner (with Docker's clients) is even imported: unreadable or unsafe is one line, exit 2."""
    from reboot_harness.paths import default_compose_dir
    from reboot_harness.stack.safety import refuse_unsafe

    refuse_unsafe(
        file_sets, compose_dir=default_compose_dir(), project=project,
        domain=topology.domain if topology else "rh.test", allow=allow,
        code_dir=topology.python_path if topology else "",
    )  # fmt: skip


def _engines() -> tuple[Any, ...]:
    """The engines RH_ENGINES names, each of which answered (none when it is unset); exit 2 on a
    bad name or an engine that does not answer."""
    from reboot_harness.stack import engines

    named = engines.configured()
    if named:
        engines.require_answers(named)
    return named


def _first_engine() -> None:
    """`up` and `build` with RH_ENGINES: the first engine named (`build` then does the rest)."""
    named = _engines()
    if named:
        from reboot_harness.stack.engines import bind

        bind(named[0])


def _cmd_up(args: argparse.Namespace) -> int:
    from reboot_harness.state import validate_project_name

    validate_project_name(args.project)
    topology = _topology(args.topology)
    _refuse_unsafe_compose([args.compose], topology, args.allow_unsafe_compose, args.project)
    _first_engine()
    from reboot_harness.runner import bring_up

    try:
        report = bring_up(
            args.project,
            extra_compose=args.compose,
            timeout=args.timeout,
            topology_file=args.topology,
            topology=topology,
            progress=lambda msg: err.print(f"[dim]{msg}[/]"),
            allow_unsafe=args.allow_unsafe_compose,
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
    from reboot_harness.runner import check_once
    from reboot_harness.serialize import document

    _stack, results = check_once(args.project, deadline_s=args.deadline)
    failed = [r for r in results if not r.ok]
    if args.json:
        print(json.dumps(document(results=list(results)), indent=2))
    else:
        out.print(results_table(results))
        out.print(
            f"{len(results) - len(failed)} passed, {len(failed)} failed"
            if failed
            else f"all {len(results)} checks hold"
        )
    return EXIT_FAIL if failed else EXIT_OK


def _cmd_down(args: argparse.Namespace) -> int:
    from reboot_harness.stack import down

    removed = down(args.project)
    out.print(
        f"removed stack {args.project}: {removed.containers} containers,"
        f" {removed.networks} networks, {removed.volumes} volumes"
    )
    return EXIT_OK


def _cmd_gc(args: argparse.Namespace) -> int:
    from reboot_harness.stack import gc
    from reboot_harness.stack.engines import answers, using
    from reboot_harness.stack.lifecycle import Removed, recorded_engines

    removed = Removed()
    named = _engines()
    # Every engine of RH_ENGINES (else the bound one), and those the states of this machine
    # name: a run bound to another engine may have left stacks there.
    visit: list[Any] = list(named) or [None]
    hosts = {e.host for e in named}
    for engine in recorded_engines():
        if engine.host in hosts:
            continue
        if answers(engine):
            visit.append(engine)
        else:
            err.print(f"engine {escape(engine.label())} does not answer: its stacks stay")
    for engine in visit:
        with using(engine):
            removed.merge(gc(include_kept=args.all))
    if removed.projects:
        out.print(
            f"removed {len(removed.projects)} stacks ({', '.join(removed.projects)}):"
            f" {removed.containers} containers, {removed.networks} networks,"
            f" {removed.volumes} volumes"
        )
        for line in removed.lines():
            err.print(f"  {escape(line)}")
    else:
        out.print("nothing to remove")
    return EXIT_OK


def _cmd_build(_args: argparse.Namespace) -> int:
    from reboot_harness.stack import build
    from reboot_harness.stack.engines import using

    named = _engines()
    for engine in named or (None,):  # each engine (RH_ENGINES) once; later ones load, not build
        with using(engine):
            tag = build(progress=lambda msg: err.print(f"[dim]{msg}[/]"))
    on = f" on {len(named)} engines" if named else ""
    out.print(f"images ready{on}: reboot-harness/<role>:{tag}")
    return EXIT_OK


def _cmd_list(args: argparse.Namespace) -> int:
    from reboot_harness import catalog

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
            "planned_s": s.planned_s,
        }
        for s in scenarios
    ]
    if args.json:
        from reboot_harness.serialize import document

        print(json.dumps(document(scenarios=rows), indent=2))
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
    say = err if args.json else out  # with --json, stdout is the JSON alone
    from reboot_harness import catalog
    from reboot_harness.incidents import unobservable

    if args.jobs < 1:
        raise UsageError(f"--jobs {args.jobs}: run at least 1 scenario at a time")
    if not 1 <= args.repeat <= 1000:
        raise UsageError(f"--repeat {args.repeat}: run each scenario variant 1 to 1000 times")
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
                touched=chosen.touched(s.steps, topology or Topology()),
            )
            if problem:
                raise UsageError(f"{s.source}: cannot reproduce: {problem}")
    for f in args.compose:
        if not f.is_file():
            raise UsageError(f"{f}: compose file not found")
    from reboot_harness.scenario import format_seconds, parse_duration

    ceiling = parse_duration(
        args.max_planned, where="--max-planned", minimum=1.0, maximum=7 * 86400.0,
        allow_zero=False,
    )  # fmt: skip
    for s in scenarios:
        if s.planned_s > ceiling:
            raise UsageError(
                f"{s.source or s.name}: its plan takes up to {format_seconds(s.planned_s)} (time"
                f" off, sleeps, waits, timeouts), more than --max-planned"
                f" {format_seconds(ceiling)}; split it, or raise --max-planned"
            )
    limit = None
    if args.max_duration is not None:
        limit = parse_duration(
            args.max_duration, where="--max-duration", minimum=1.0, maximum=7 * 86400.0,
            allow_zero=False,
        )  # fmt: skip
    if args.report is not None:
        _writable_folder(args.report, "--report")
    # Repeats go round by round (every variant once, then again), so that a machine whose load
    # drifts during the night weighs on every variant alike.
    plan = [
        (s, v, r if args.repeat > 1 else 0)
        for r in range(1, args.repeat + 1)
        for s in scenarios
        for v in (("incident",) if args.incident else s.variants)
    ]
    file_sets = []
    for s, v, _r in plan:
        name = args.incident or (s.reproduces.incident if s.reproduces else None)
        incident_file = [catalog.incident(name, topology).path] if v == "incident" and name else []
        file_sets.append([*args.compose, *incident_file])
    _refuse_unsafe_compose(file_sets, topology, args.allow_unsafe_compose, "rh-check")
    # Only valid input gets this far: the runner (and with it Docker) is imported now.
    from reboot_harness.scenario_run import ScenarioResult
    from reboot_harness.stack import gc
    from reboot_harness.stack.engines import using
    from reboot_harness.stack.lifecycle import Removed

    named = _engines()  # RH_ENGINES: scenario i runs on engine i mod len(engines)
    reaped = Removed()
    for engine in named or (None,):
        with using(engine):
            reaped.merge(gc())
    for line in reaped.lines():
        err.print(f"removed stack {escape(line)}, left by a dead run")
    options: dict[str, Any] = {
        "incident": args.incident, "keep": args.keep, "extra_compose": args.compose,
        "topology_file": args.topology, "topology": topology,
        "allow_unsafe": args.allow_unsafe_compose,
    }  # fmt: skip
    results: list[ScenarioResult] = []

    def report(result: ScenarioResult, engine: Any) -> None:
        results.append(result)
        mark = "[green]PASS[/]" if result.passed else "[red bold]FAIL[/]"
        on = f" on engine {escape(engine.label())}" if engine else ""
        label = run_label(result.name, result.variant, result.repeat)
        say.print(f"{mark} {escape(label)} ({result.duration_s:.0f}s{on}): {escape(result.reason)}")
        if args.keep and result.project:
            say.print(f"  stack kept: reboot-harness down --project {result.project}")

    labels = [run_label(s.name, v, r) for s, v, r in plan]
    stopped: list[str] = []  # running when the time ran out (healed, stacks removed)
    unfinished = ""
    try:
        with interrupts.time_limit(limit):
            if args.jobs > 1 and len(plan) > 1:
                # (each job reads the topology file again: a Topology does not pickle)
                del options["topology"]
                _run_jobs(plan, args.jobs, named, options, report, stopped)
            else:
                _run_one_by_one(plan, named, options, report, stopped)
    except interrupts.TimeUp:
        done = {run_label(r.name, r.variant, r.repeat) for r in results}
        rest = [label for label in labels if label not in done and label not in stopped]
        if stopped or rest:  # (the time may run out just after the last one finished)
            stopped = sorted(stopped, key=labels.index) or rest[:1]
            rest = [label for label in rest if label not in stopped]
            their = "its stack" if len(stopped) == 1 else "their stacks"
            unfinished = (
                f"stopped after --max-duration {format_seconds(limit or 0)}:"
                f" {', '.join(stopped)} did not finish (healed, {their} removed)"
                + (f"; not started: {', '.join(rest)}" if rest else "")
            )
    results.sort(key=lambda r: labels.index(run_label(r.name, r.variant, r.repeat)))
    table = Table(title="scenarios")
    for col in ("scenario", "variant", "result", "time", "why"):
        table.add_column(col, overflow="fold")
    for r in results:
        table.add_row(
            r.name,
            r.variant + (f" #{r.repeat}" if r.repeat else ""),
            "[green]pass[/]" if r.passed else "[red bold]FAIL[/]",
            f"{r.duration_s:.0f}s",
            escape(r.reason),
        )
    say.print(table)
    if args.report:
        from reboot_harness.report import write_reports

        written = write_reports(results, args.report)
        say.print("reports: " + ", ".join(str(p) for p in written.values()))
    passed = sum(r.passed for r in results)
    say.print(f"scenarios: {passed} passed, {len(results) - passed} failed")
    if args.json:
        from reboot_harness.serialize import document

        print(json.dumps(document(scenarios=results), indent=2), flush=True)
    if unfinished:
        _say(f"reboot-harness run: {unfinished}")
        return EXIT_FAIL
    return EXIT_OK if passed == len(results) else EXIT_FAIL


def run_label(name: str, variant: str, repeat: int = 0) -> str:
    """``name[variant]``, and `` #k`` for the k-th run of ``run --repeat N``."""
    return f"{name}[{variant}]" + (f" #{repeat}" if repeat else "")


def _run_one_by_one(
    plan: Sequence[tuple[Any, str, int]],
    named: Sequence[Any],
    options: dict[str, Any],
    report: Callable[[Any, Any], None],
    stopped: list[str],
) -> None:
    """`run`'s scenario variants one after another in this process; scenario i on engine
    i mod len(RH_ENGINES) (or the next that still answers)."""
    from reboot_harness.parallel import blame_engine, pick_engine
    from reboot_harness.scenario_run import ScenarioResult, run_scenario
    from reboot_harness.stack.engines import answers, using

    dead: set[str] = set()  # engines that stopped answering during this run
    for i, (scenario, variant, repeat) in enumerate(plan):
        label = run_label(scenario.name, variant, repeat)
        engine = pick_engine(named, i, dead)
        began = time.time()
        try:
            with (
                using(engine),
                err.status(f"{escape(label)}: starting") as status,
            ):
                # (escaped: rich would read "[fixed]" as markup and drop it)
                def progress(msg: str, _label: str = escape(label)) -> None:
                    status.update(f"{_label}: {escape(msg)}")
                    err.print(f"[dim]{_label}: {escape(msg)}[/]")

                result = run_scenario(scenario, variant, progress=progress, **options)
        except interrupts.TimeUp:
            stopped.append(label)
            raise
        except Exception as e:  # an engine gone mid-way fails this one; the rest go on
            if engine is None or answers(engine):
                raise
            first = (str(e).strip().splitlines() or [type(e).__name__])[0]
            result = ScenarioResult(scenario.name, variant, False, first, time.time() - began, "")
        result.repeat = repeat
        blame_engine(result, engine, dead)
        report(result, engine)


def _run_jobs(
    plan: Sequence[tuple[Any, str, int]],
    width: int,
    named: Sequence[Any],
    options: dict[str, Any],
    report: Callable[[Any, Any], None],
    stopped: list[str],
) -> None:
    """`run --jobs N`: up to N scenario variants at once, each in its own process (and, with
    RH_ENGINES, on the engine running the fewest)."""
    from reboot_harness.parallel import Job, Pool

    jobs = [Job(i, s, v, r) for i, (s, v, r) in enumerate(plan)]
    running: set[str] = set()
    with err.status(f"{len(jobs)} scenario variants, {width} at a time") as status:

        def progress(label: str, msg: str) -> None:
            running.add(label)
            status.update(f"running: {escape(', '.join(sorted(running)))}")
            err.print(f"[dim]{escape(label)}: {escape(msg)}[/]")

        def finished(result: Any, engine: Any) -> None:
            running.discard(f"{result.name}[{result.variant}]")
            report(result, engine)

        pool = Pool(width, named, options, progress, finished)
        try:
            pool.run(jobs)
        finally:
            stopped += pool.stopped


COMMANDS = {
    "build": _cmd_build,
    "list": _cmd_list,
    "run": _cmd_run,
    "up": _cmd_up,
    "check": _cmd_check,
    "down": _cmd_down,
    "gc": _cmd_gc,
    "compare": _cmd_compare,
    "history": _cmd_history,
    **dict.fromkeys(
        ("reboot", "stop", "start", "kill", "failover", "dns-rotate", "wait"), _cmd_oneshot
    ),
}


def _say(message: str) -> None:
    """An error for the user: plain text on stderr, never wrapped or styled (one line stays one
    line for scripts and CI logs)."""
    print(message, file=sys.stderr, flush=True)


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    interrupts.install()
    try:
        if getattr(args, "incidents", None):
            from reboot_harness.catalog import use_incident_dirs

            use_incident_dirs(args.incidents)
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
            many = "s" if args.command == "run" and args.jobs > 1 else ""
            done = f"; faults healed, stack{many} " + ("kept" if kept else "removed")
        _say(f"reboot-harness {args.command}: interrupted ({why}){done}")
        return 143 if isinstance(e, interrupts.Terminated) else 130


if __name__ == "__main__":
    sys.exit(main())
