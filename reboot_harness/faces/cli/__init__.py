"""faces/cli: `reboot-harness …` (the console script and `python -m reboot_harness`): exit 0 when
everything held, 1 when a check failed, 2 on usage or environment errors. Parses the command
line (parser), fills what it lacks from the project config file (settings; also `config`), runs
the command (commands, run; adopt: `doctor` and `init`, a user's own compose file; manners:
`validate`, `completion` and `list`'s layout). Imports any layer, lazily: bad
input is refused before Docker's clients are imported."""

from __future__ import annotations

from collections.abc import Sequence

from reboot_harness import interrupts
from reboot_harness.errors import EnvironmentProblem, HarnessError, UsageError
from reboot_harness.faces.cli.adopt import _cmd_doctor, _cmd_init
from reboot_harness.faces.cli.commands import (
    _cmd_build,
    _cmd_check,
    _cmd_compare,
    _cmd_down,
    _cmd_gc,
    _cmd_history,
    _cmd_list,
    _cmd_oneshot,
    _cmd_up,
)
from reboot_harness.faces.cli.console import EXIT_FAIL, EXIT_USAGE, _say
from reboot_harness.faces.cli.manners import _cmd_completion, _cmd_validate
from reboot_harness.faces.cli.parser import build_parser
from reboot_harness.faces.cli.run import _cmd_run
from reboot_harness.faces.cli.settings import _cmd_config, apply_config, config_lines, reads_config
from reboot_harness.inputs.config import ProjectConfig, project_config
from reboot_harness.steps import COMMANDS as STEP_COMMANDS

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
    "doctor": _cmd_doctor,
    "init": _cmd_init,
    "validate": _cmd_validate,
    "completion": _cmd_completion,
    "config": _cmd_config,
    **dict.fromkeys((command.name for command in STEP_COMMANDS), _cmd_oneshot),
}


def _project_config() -> tuple[ProjectConfig, UsageError | None]:
    """The config file in force, or why it cannot be read (said by the command that reads it;
    `--help` names it either way)."""
    try:
        return project_config(), None
    except UsageError as e:
        return ProjectConfig(), e


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    config, problem = _project_config()
    parser.epilog = f"{parser.epilog}\n{f'config: {problem}' if problem else config.summary()}"
    args = parser.parse_args(argv)
    interrupts.install()
    try:
        if problem is not None and reads_config(args):
            raise problem
        settings = apply_config(args, config)
        if args.command == "config":
            args.config_lines = config_lines(config, settings)
        if getattr(args, "incidents", None):
            from reboot_harness.scenarios.find import use_incident_dirs

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
