"""The commands of `reboot-harness` but `run` (reboot_harness.faces.cli.run): each takes the
parsed arguments and returns the exit code."""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.markup import escape
from rich.table import Table

from reboot_harness.errors import CheckTimeout, UsageError
from reboot_harness.faces.cli.console import EXIT_FAIL, EXIT_OK, err, out
from reboot_harness.model.results import CheckResult
from reboot_harness.model.topology import Topology

if TYPE_CHECKING:  # (imported once the options are read: nothing of run/ before)
    from reboot_harness.run.request import RunRequest


def _topology(path: Path | None, stack: Path | None = None) -> Topology | None:
    """The topology file read; without one, the topology read from ``--stack FILE`` (None: the
    shipped stack's)."""
    if path is not None:
        from reboot_harness.inputs.topology import load_topology

        return load_topology(path)
    if stack is not None:
        from reboot_harness.inputs.compose.yourstack import read_stack
        from reboot_harness.inputs.paths import default_compose_dir

        return read_stack(stack, default_compose_dir()).topology()
    return None


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
    from reboot_harness.steps import COMMANDS

    command = next(c for c in COMMANDS if c.name == args.command)
    given: dict[str, object] = {}
    for arg in command.args:
        param = command.param(arg.name)
        value = getattr(args, arg.name)
        given[arg.name] = _duration(value) if param and param.type == "duration" else value
    return command.step(given, f"reboot-harness {args.command}", lambda arg: arg.flag)


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
    from reboot_harness.report import compare
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
        from reboot_harness.report.serialize import document

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
    from reboot_harness.run import oneshot

    source = f"reboot-harness {args.command}"
    topology = oneshot.topology_for(args.project)
    step = oneshot.step_of(_oneshot_step(args), source, args.project, topology)
    events = oneshot.apply(args.project, step, topology)
    if args.json:
        from reboot_harness.report.serialize import document

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
    file_sets: Sequence[Sequence[Path]],
    topology: Topology | None,
    allow: bool,
    project: str,
    stack: Path | None = None,
) -> None:
    """The user's compose files (over ``stack``, your stack's file, if given), judged before
    the engine is asked anything and before the runner (with Docker's clients) is even
    imported: unreadable or unsafe is one line, exit 2."""
    from reboot_harness.inputs.compose.yourstack import read_stack, refuse_unsafe_over
    from reboot_harness.inputs.paths import default_compose_dir

    compose_dir = default_compose_dir()
    refuse_unsafe_over(
        read_stack(stack, compose_dir) if stack is not None else None, file_sets,
        compose_dir=compose_dir, project=project, allow=allow,
        domain=topology.domain if topology else "rh.test",
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


def up_request(args: argparse.Namespace, topology: Topology | None) -> RunRequest:
    """`up`'s options as the request its stack starts by (``topology``: its file, read): kept
    until `down` (gc leaves it), up to ``--timeout`` to come up."""
    from reboot_harness.faces.cli.parser import UP_TIMEOUT
    from reboot_harness.run.request import RunRequest

    return RunRequest(
        stack=args.stack, compose=tuple(args.compose), topology_file=args.topology,
        topology=topology, keep=True,
        allow_unsafe=args.allow_unsafe_compose, up_timeout=args.timeout or UP_TIMEOUT,
    )  # fmt: skip


def _cmd_up(args: argparse.Namespace) -> int:
    from reboot_harness.stack.state import validate_project_name

    validate_project_name(args.project)
    topology = _topology(args.topology, args.stack)
    _refuse_unsafe_compose(
        [args.compose], topology, args.allow_unsafe_compose, args.project, args.stack
    )
    _first_engine()
    from reboot_harness.run.bringup import bring_up

    try:
        report = bring_up(
            args.project,
            up_request(args, topology),
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
    from reboot_harness.report.serialize import document
    from reboot_harness.run.bringup import check_once

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
    from reboot_harness.stack.removal import down

    removed = down(args.project)
    out.print(f"removed stack {args.project}: {removed.counts()}")
    return EXIT_OK


def _cmd_gc(args: argparse.Namespace) -> int:
    from reboot_harness.stack.engines import answers, using
    from reboot_harness.stack.removal import Removed, gc, recorded_engines

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
            f" {removed.counts()}"
        )
        for line in removed.lines():
            err.print(f"  {escape(line)}")
    else:
        out.print("nothing to remove")
    return EXIT_OK


def _cmd_build(_args: argparse.Namespace) -> int:
    from reboot_harness.stack.engines import using
    from reboot_harness.stack.lifecycle import build

    named = _engines()
    for engine in named or (None,):  # each engine (RH_ENGINES) once; later ones load, not build
        with using(engine):
            tag = build(progress=lambda msg: err.print(f"[dim]{msg}[/]"))
    on = f" on {len(named)} engines" if named else ""
    out.print(f"images ready{on}: reboot-harness/<role>:{tag}")
    return EXIT_OK


def _cmd_list(args: argparse.Namespace) -> int:
    from reboot_harness.scenarios import find

    topology = _topology(args.topology, args.stack)
    scenarios, not_applicable = find.survey(topology, args.scenario_dirs)
    incidents = find.Incidents(topology)
    rows = [
        {
            "name": s.name,
            "description": s.description,
            "hosts": find.hosts_touched(s, topology),
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
    skipped = [{"name": n.scenario.name, "file": n.scenario.source, "why": n.why}
               for n in not_applicable]  # fmt: skip
    if args.json:
        from reboot_harness.report.serialize import document

        print(json.dumps(document(scenarios=rows, not_applicable=skipped), indent=2))
        return EXIT_OK
    from reboot_harness.faces.cli.manners import list_lines, not_applicable_lines

    hosts = {s.name: find.hosts_touched(s, topology) for s in scenarios}
    lines = list_lines(scenarios, hosts, incidents, long=args.long)
    lines += not_applicable_lines([(n.scenario.name, n.why) for n in not_applicable])
    print("\n".join(lines), flush=True)
    return EXIT_OK
