"""`reboot-harness run`: scenarios, each variant on a fresh stack, one by one or as jobs."""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from rich.markup import escape
from rich.table import Table

from reboot_harness import interrupts
from reboot_harness.errors import UsageError
from reboot_harness.faces.cli.commands import (
    _engines,
    _refuse_unsafe_compose,
    _topology,
    _writable_folder,
)
from reboot_harness.faces.cli.console import EXIT_FAIL, EXIT_OK, _say, err, out
from reboot_harness.model.topology import Topology

if TYPE_CHECKING:  # (run/ and the engines are imported once the options are read)
    from reboot_harness.judging.result import ScenarioResult
    from reboot_harness.model.scenario import Scenario
    from reboot_harness.run.request import RunRequest
    from reboot_harness.stack.engines import Engine


def run_request(args: argparse.Namespace) -> RunRequest:
    """`run`'s options resolved once, into the request every scenario variant runs by: the
    topology file read, ``--incident`` found (argparse has read the durations); a UsageError
    (exit 2) naming the option otherwise."""
    from reboot_harness.run.request import UP_TIMEOUT_S, RunRequest
    from reboot_harness.scenarios import find

    topology = _topology(args.topology, args.stack)
    return RunRequest(
        stack=args.stack,
        compose=tuple(args.compose),
        topology_file=args.topology,
        topology=topology,
        incident=find.incident(args.incident, topology) if args.incident else None,
        keep=args.keep,
        allow_unsafe=args.allow_unsafe_compose,
        up_timeout=args.up_timeout or UP_TIMEOUT_S,
        jobs=args.jobs,
        repeat=args.repeat,
        max_duration=args.max_duration,
        max_planned=args.max_planned or RunRequest.max_planned,
        report=args.report,
    )


def _cmd_run(args: argparse.Namespace) -> int:
    say = err if args.json else out  # with --json, stdout is the JSON alone
    from reboot_harness.scenarios import find
    from reboot_harness.scenarios.incidents import unobservable

    request = run_request(args)
    topology = request.topology
    if args.scenarios:
        scenarios = find.resolve(args.scenarios, topology, args.scenario_dirs)
    else:  # every one of the configured folders that applies (faces.cli.settings)
        scenarios = find.survey(topology, args.scenario_dirs)[0]
    if request.incident is not None:
        # refuse a scenario that could never show it, before anything starts
        for s in scenarios:
            problem = unobservable(
                request.incident,
                checks=s.expect.checks,
                budgets=s.budgets,
                step_kinds={step.KEY for step in s.steps},
                touched=request.incident.touched(s.steps, topology or Topology()),
            )
            if problem:
                raise UsageError(f"{s.source}: cannot reproduce: {problem}")
    from reboot_harness.inputs.durations import format_seconds

    for s in scenarios:
        if s.planned_s > request.max_planned:
            raise UsageError(
                f"{s.source or s.name}: its plan takes up to {format_seconds(s.planned_s)} (time"
                f" off, sleeps, waits, timeouts), more than --max-planned"
                f" {format_seconds(request.max_planned)}; split it, or raise --max-planned"
            )
    limit = request.max_duration
    if request.report is not None and not args.dry_run:  # (a dry run writes nothing)
        _writable_folder(request.report, "--report")
    if args.junitxml is not None and not args.dry_run:
        _writable_folder(args.junitxml.parent, "--junitxml")
    # Repeats go round by round (every variant once, then again), so that a machine whose load
    # drifts during the night weighs on every variant alike.
    plan = [
        (s, v, r if request.repeat > 1 else 0)
        for r in range(1, request.repeat + 1)
        for s in scenarios
        for v in (("incident",) if request.incident else s.variants)
    ]
    file_sets = []
    for s, v, _r in plan:
        chosen = request.incident_for(s) if v == "incident" else None
        file_sets.append([*request.compose, *([chosen.path] if chosen else [])])
    _refuse_unsafe_compose(file_sets, topology, request.allow_unsafe, "rh-check", request.stack)
    if args.dry_run:
        return _dry_run(args, request, plan)
    # Only valid input gets this far: the runner (and with it Docker) is imported now.
    from reboot_harness.stack.engines import using
    from reboot_harness.stack.removal import Removed, gc

    named = _engines()  # RH_ENGINES: scenario i runs on engine i mod len(engines)
    reaped = Removed()
    for engine in named or (None,):
        with using(engine):
            reaped.merge(gc())
    for line in reaped.lines():
        err.print(f"removed stack {escape(line)}, left by a dead run")
    results: list[ScenarioResult] = []

    def report(result: ScenarioResult, engine: Engine | None) -> None:
        results.append(result)
        mark = "[green]PASS[/]" if result.passed else "[red bold]FAIL[/]"
        on = f" on engine {escape(engine.label())}" if engine else ""
        label = run_label(result.name, result.variant, result.repeat)
        say.print(f"{mark} {escape(label)} ({result.duration_s:.0f}s{on}): {escape(result.reason)}")
        if request.keep and result.project:
            say.print(f"  stack kept: reboot-harness down --project {result.project}")

    labels = [run_label(s.name, v, r) for s, v, r in plan]
    stopped: list[str] = []  # running when the time ran out (healed, stacks removed)
    unfinished = ""
    try:
        with interrupts.time_limit(limit):
            if request.jobs > 1 and len(plan) > 1:
                _run_jobs(plan, request, named, report, stopped)
            else:
                _run_one_by_one(plan, request, named, report, stopped)
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
    if request.report:
        from reboot_harness.report import write_reports

        written = write_reports(results, request.report)
        say.print("reports: " + ", ".join(str(p) for p in written.values()))
    if args.junitxml is not None:
        _write_junit(args.junitxml, results, scenarios)
        say.print(f"JUnit XML: {escape(str(args.junitxml))}", soft_wrap=True)
    passed = sum(r.passed for r in results)
    say.print(f"scenarios: {passed} passed, {len(results) - passed} failed")
    if args.json:
        from reboot_harness.report.serialize import document

        print(json.dumps(document(scenarios=results), indent=2), flush=True)
    if unfinished:
        _say(f"reboot-harness run: {unfinished}")
        return EXIT_FAIL
    return EXIT_OK if passed == len(results) else EXIT_FAIL


def _dry_run(
    args: argparse.Namespace, request: RunRequest, plan: Sequence[tuple[Scenario, str, int]]
) -> int:
    """`run --dry-run`: each scenario variant's plan (reboot_harness.report.plan), printed or as
    JSON; input validated as `run` validates it, nothing started, no engine asked."""
    from reboot_harness.checks.available import names
    from reboot_harness.report.plan import variant_plan, variant_text

    topology = request.topology or Topology()
    plans = [
        variant_plan(
            s, v, topology=topology, checks=names(topology),
            incident=request.incident_for(s) if v == "incident" else None,
        )
        for s, v, r in plan
        if r <= 1  # (a repeat runs the same plan again)
    ]  # fmt: skip
    if args.json:
        from reboot_harness.report.serialize import document

        print(json.dumps(document(plans=plans), indent=2), flush=True)
        return EXIT_OK
    lines: list[str] = []
    for p in plans:
        lines += [*variant_text(p), ""]
    times = f", each {request.repeat} times" if request.repeat > 1 else ""
    lines.append(f"{len(plans)} scenario variants would run{times}; nothing was started")
    print("\n".join(lines), flush=True)
    return EXIT_OK


def _write_junit(
    path: Path, results: Sequence[ScenarioResult], scenarios: Sequence[Scenario]
) -> None:
    """`run --junitxml FILE`: the results as JUnit XML, written whole or not at all."""
    import socket

    from reboot_harness.report.junit import junit_xml

    text = junit_xml(
        results, seeds={s.name: s.seed for s in scenarios}, hostname=socket.gethostname()
    )
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)


def run_label(name: str, variant: str, repeat: int = 0) -> str:
    """``name[variant]``, and `` #k`` for the k-th run of ``run --repeat N``."""
    return f"{name}[{variant}]" + (f" #{repeat}" if repeat else "")


def _run_one_by_one(
    plan: Sequence[tuple[Scenario, str, int]],
    request: RunRequest,
    named: Sequence[Engine],
    report: Callable[[ScenarioResult, Engine | None], None],
    stopped: list[str],
) -> None:
    """`run`'s scenario variants one after another in this process; scenario i on engine
    i mod len(RH_ENGINES) (or the next that still answers)."""
    from reboot_harness.judging.result import ScenarioResult
    from reboot_harness.run.jobs import blame_engine, pick_engine
    from reboot_harness.run.loop import run_scenario
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

                result = run_scenario(scenario, variant, request=request, progress=progress)
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
    plan: Sequence[tuple[Scenario, str, int]],
    request: RunRequest,
    named: Sequence[Engine],
    report: Callable[[ScenarioResult, Engine | None], None],
    stopped: list[str],
) -> None:
    """`run --jobs N`: up to N scenario variants at once, each in its own process (and, with
    RH_ENGINES, on the engine running the fewest)."""
    from reboot_harness.run.jobs import Job, Pool

    jobs = [Job(i, s, v, r) for i, (s, v, r) in enumerate(plan)]
    running: set[str] = set()
    width = request.jobs
    with err.status(f"{len(jobs)} scenario variants, {width} at a time") as status:

        def progress(label: str, msg: str) -> None:
            running.add(label)
            status.update(f"running: {escape(', '.join(sorted(running)))}")
            err.print(f"[dim]{escape(label)}: {escape(msg)}[/]")

        def finished(result: ScenarioResult, engine: Engine | None) -> None:
            running.discard(f"{result.name}[{result.variant}]")
            report(result, engine)

        pool = Pool(width, named, request, progress, finished)
        try:
            pool.run(jobs)
        finally:
            stopped += pool.stopped
