"""The commands that read input and start nothing: `validate` (files checked as the commands
read them), `completion` (a shell's completion script, from the parser), and how `list` lays
its scenarios out at the terminal's width."""

from __future__ import annotations

import argparse
import shutil
import textwrap
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from reboot_harness.faces.cli.console import EXIT_OK, EXIT_USAGE, _say

if TYPE_CHECKING:
    from reboot_harness.model.incidents import Incident
    from reboot_harness.model.scenario import Scenario


def _cmd_validate(args: argparse.Namespace) -> int:
    from reboot_harness.faces.cli.commands import _topology
    from reboot_harness.scenarios.validate import problems

    topology = _topology(args.topology)
    found = problems(args.files, kind=args.kind, topology=topology, compose=args.compose)
    for line in found:
        _say(line)
    if found:
        return EXIT_USAGE
    print(f"{len(args.files)} file{'s' if len(args.files) != 1 else ''} valid", flush=True)
    return EXIT_OK


def _cmd_completion(args: argparse.Namespace) -> int:
    import shtab

    from reboot_harness.faces.cli.parser import build_parser

    parser = build_parser()
    _complete_paths(parser, shtab.FILE, shtab.DIRECTORY)
    print(shtab.complete(parser, shell=args.shell), end="", flush=True)
    return EXIT_OK


def _complete_paths(parser: argparse.ArgumentParser, file: object, folder: object) -> None:
    """Mark every argument that takes a path (``type=Path``) to complete files, or folders
    where its metavar says DIR (shtab reads an action's ``complete``)."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in dict.fromkeys(action.choices.values()):
                _complete_paths(sub, file, folder)
        elif action.type is Path:
            action.complete = folder if action.metavar == "DIR" else file  # type: ignore[attr-defined]


def list_lines(
    scenarios: Sequence[Scenario],
    hosts: Mapping[str, Sequence[str]],
    incidents: Mapping[str, Incident],
    *,
    long: bool,
    width: int | None = None,
) -> list[str]:
    """`list` at the terminal's width: a line per scenario (name, incident, hosts), names and
    words never folded; with ``long``, a block per scenario with its description and what its
    incident must show, wrapped at spaces.

    Args:
        scenarios: in the order listed.
        hosts: scenario name -> the hosts it touches.
        incidents: the incidents by name (those the scenarios reproduce are looked up).
        long: a block per scenario rather than a line.
        width: the columns to fit (default: the terminal's, $COLUMNS first).
    """
    width = max(40, width or shutil.get_terminal_size().columns)
    lines: list[str] = []
    if long:
        for s in scenarios:
            lines.append(s.name)
            items = [("hosts", ", ".join(hosts[s.name]) or "none")]
            if s.reproduces:
                shown = incidents[s.reproduces.incident].describe()
                items.append(("reproduces", f"{s.reproduces.incident}, shown by {shown}"))
            items.append(("file", s.source))
            for label, text in items:
                lines += _wrapped(f"{label}: {text}", width, "  ", "    ")
            lines += _wrapped(s.description, width, "  ", "  ")
            lines.append("")
        return lines
    name_w = max([len("scenario"), *(len(s.name) for s in scenarios)])
    incident_w = max([len("reproduces"), *(len(s.reproduces.incident) for s in scenarios
                                           if s.reproduces)])  # fmt: skip
    lines.append(f"{'scenario':<{name_w}}  {'reproduces':<{incident_w}}  hosts touched")
    for s in scenarios:
        incident = s.reproduces.incident if s.reproduces else "-"
        head = f"{s.name:<{name_w}}  {incident:<{incident_w}}"
        room = width - len(head) - 2
        lines.append(f"{head}  {_fit(list(hosts[s.name]), room)}".rstrip())
    lines.append(f"{len(scenarios)} scenarios; --long for what each does, --json for all of it")
    return lines


def not_applicable_lines(skipped: Sequence[tuple[str, str]], width: int | None = None) -> list[str]:
    """The shipped scenarios that do not fit the topology: (name, why) each, the reason wrapped
    at spaces under its name (none: no lines)."""
    if not skipped:
        return []
    width = max(40, width or shutil.get_terminal_size().columns)
    lines = ["", f"not applicable to this topology ({len(skipped)}):"]
    for name, why in skipped:
        lines += _wrapped(f"{name}: {why}", width, "  ", "      ")
    return lines


def _wrapped(text: str, width: int, first: str, rest: str) -> list[str]:
    """``text`` wrapped at spaces only: a name longer than the line stays whole."""
    return textwrap.wrap(
        " ".join(text.split()), width=width, initial_indent=first, subsequent_indent=rest,
        break_long_words=False, break_on_hyphens=False,
    )  # fmt: skip


def _fit(names: list[str], room: int) -> str:
    """``names`` joined by ``, ``; when they do not fit in ``room`` columns, as many as do
    and ``+N`` (how many more), whole names only."""
    text = ", ".join(names) or "none"
    if len(text) <= room:
        return text
    for shown in range(len(names) - 1, 0, -1):
        text = f"{', '.join(names[:shown])} +{len(names) - shown}"
        if len(text) <= room:
            return text
    return f"{len(names)} hosts"
