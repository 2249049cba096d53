"""The project config file (reboot_harness.inputs.config) under the command line: each option a
command did not get is filled from the environment or the file before the command runs, so
every command (and the RunRequest `run` and `up` resolve) reads one set of values; and
`reboot-harness config`, which prints that resolution and where each value came from."""

from __future__ import annotations

import argparse

from reboot_harness.faces.cli.console import EXIT_OK
from reboot_harness.faces.cli.parser import UP_TIMEOUT
from reboot_harness.inputs.config import ProjectConfig, Setting, resolve, shown
from reboot_harness.inputs.paths import SEED, stack_path

# The file's key -> the option of the same meaning and the attribute argparse gives it.
OPTIONS = {
    "stack": ("--stack", "stack"),
    "topology": ("--topology", "topology"),
    "compose": ("--compose", "compose"),
    "incidents": ("--incidents", "incidents"),
    "project": ("--project", "project"),
    "max-planned": ("--max-planned", "max_planned"),
}


def _defaults(args: argparse.Namespace) -> dict[str, object]:
    """The keys this command reads, with its built-in defaults."""
    from reboot_harness.run.request import UP_TIMEOUT_S, RunRequest

    defaults: dict[str, object] = {
        "stack": None,
        "topology": None,
        "compose": (),
        "incidents": (),
        "project": None,
        "max-planned": RunRequest.max_planned,
    }
    wanted = {key: d for key, d in defaults.items() if hasattr(args, OPTIONS[key][1])}
    if args.command in ("up", "run", "config"):
        wanted["up-timeout"] = UP_TIMEOUT if args.command == "up" else UP_TIMEOUT_S
    if args.command in ("list", "run", "config"):
        wanted["scenarios"] = None  # (None: $RH_SCENARIOS_DIR or the shipped scenarios/)
    return wanted


def reads_config(args: argparse.Namespace) -> bool:
    """Whether this command reads the config file (`compare`, `completion` ... do not: a broken
    file does not stop them)."""
    return bool(_defaults(args))


def apply_config(args: argparse.Namespace, config: ProjectConfig) -> dict[str, Setting]:
    """Fill ``args`` from the resolution (command line > environment > file > default) of the
    keys its command reads; the settings, by key, with where each came from.

    Sets ``args.up_timeout`` (`up`'s ``--timeout``) and ``args.scenario_dirs`` (the file's
    scenario folders; None: ``$RH_SCENARIOS_DIR`` or the shipped ones, as before) besides the
    options' own attributes.
    """
    defaults = _defaults(args)
    given = {
        key: (OPTIONS[key][0], getattr(args, OPTIONS[key][1])) for key in defaults if key in OPTIONS
    }
    if args.command == "up":
        given["up-timeout"] = ("--timeout", args.timeout)
    settings = resolve(config, given, defaults)
    for key, setting in settings.items():
        if key in OPTIONS:
            value = setting.value
            if key == "stack" and isinstance(value, str):
                value = stack_path(value)  # (`--stack seed`: the shipped stack, over a file's)
            if key in ("compose", "incidents"):
                value = list(value)  # type: ignore[call-overload]
            setattr(args, OPTIONS[key][1], value)
    if "up-timeout" in settings:
        args.up_timeout = settings["up-timeout"].value
        if args.command == "up":
            args.timeout = args.up_timeout
    if "scenarios" in settings:
        scenarios = settings["scenarios"]
        args.scenario_dirs = scenarios.value if scenarios.source == config.where else None
        if args.command == "run" and not args.scenarios and scenarios.source == "default":
            args.usage_error("the following arguments are required: SCENARIO")
    if args.command != "config" and "project" in settings and args.project is None:
        args.usage_error("the following arguments are required: --project")
    return settings


def config_lines(config: ProjectConfig, settings: dict[str, Setting]) -> list[str]:
    """`reboot-harness config`: the file in force, then each setting, its value and where it
    came from."""
    lines = [f"file: {config.where if config.path else 'none found'}"]
    rows = []
    for key, setting in settings.items():
        value = setting.value
        if key == "scenarios" and value is None:
            from reboot_harness.scenarios.find import scenarios_dir

            value = scenarios_dir()
        if key == "stack" and value is None:
            value = SEED
        rows.append((key, shown(value), setting.source))
    widths = [max(len(row[i]) for row in rows) for i in (0, 1)]
    lines += [f"{k:<{widths[0]}}  {v:<{widths[1]}}  ({source})" for k, v, source in rows]
    return lines


def _cmd_config(args: argparse.Namespace) -> int:
    """`reboot-harness config`: the lines :func:`config_lines` gave (main resolves them)."""
    print("\n".join(args.config_lines), flush=True)
    return EXIT_OK
