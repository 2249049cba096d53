"""`reboot-harness doctor` and `reboot-harness init --from`: a user's own compose file, read
without starting anything (reboot_harness.inputs.compose.doctor and .adopt)."""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence

from reboot_harness.faces.cli.console import EXIT_FAIL, EXIT_OK


def _count(n: int, what: str) -> str:
    return f"{n} {what}{'' if n == 1 else 's'}"


def _cmd_doctor(args: argparse.Namespace) -> int:
    if args.engine:
        if args.compose_file is not None or args.json:
            args.usage_error("argument --engine: not allowed with COMPOSE_FILE or --json")
        return _machine()
    if args.compose_file is None:  # argparse's own wording, as when it was required
        args.usage_error("the following arguments are required: COMPOSE_FILE")
    from reboot_harness.inputs.compose.boot import boot_model
    from reboot_harness.inputs.compose.doctor import diagnose
    from reboot_harness.inputs.compose.services import read_services
    from reboot_harness.inputs.paths import default_compose_dir

    services = read_services(args.compose_file)
    findings = diagnose(services, boot_model(default_compose_dir()))
    if args.json:
        from reboot_harness.report.serialize import document

        print(json.dumps(document(file=str(args.compose_file), findings=findings), indent=2))
    else:
        # plain lines: one finding stays one line for grep and CI logs
        for finding in findings:
            print(finding.line())
        shown = _count(len(findings), "finding") if findings else "no findings"
        print(f"{args.compose_file}: {_count(len(services), 'service')}, {shown}"
              + ("; codes: reboot-harness doctor --help" if findings else ""))  # fmt: skip
    return EXIT_FAIL if findings else EXIT_OK


def _machine() -> int:
    """`doctor --engine`: what the machine lacks, one line each, then one line of summary."""
    from reboot_harness.inputs.compose.offline import compose_version
    from reboot_harness.stack.engine import client
    from reboot_harness.stack.machine import examine

    compose_version.cache_clear()  # (asked fresh: the point is what the machine has now)
    needs = examine(client, compose_version)
    for need in needs:
        print(need.line())
    lacking = [n.name for n in needs if not n.ok]
    print(f"machine: lacking {', '.join(lacking)}" if lacking else "machine: ready for the harness")
    return EXIT_FAIL if lacking else EXIT_OK


def _images(names: Sequence[str]) -> dict[str, tuple[tuple[str, ...], tuple[str, ...]]]:
    """The images' entrypoints and commands, from the engine when it answers."""
    from reboot_harness.stack.images import image_commands

    return image_commands(names)


def _cmd_init(args: argparse.Namespace) -> int:
    from reboot_harness.inputs.compose.adopt import adopt, write
    from reboot_harness.inputs.compose.boot import boot_model
    from reboot_harness.inputs.compose.services import read_services
    from reboot_harness.inputs.paths import default_compose_dir

    boot = boot_model(default_compose_dir())
    adoption = adopt(read_services(args.source), boot, _images)
    override = write(adoption, boot, args.out, force=args.force)
    shown = [_count(len(adoption.hosts), "host")]
    shown += [f"{k}: {', '.join(v)}" for k, v in adoption.roles.items() if v]
    shown += [_count(len(adoption.host_checks), "host check")] if adoption.host_checks else []
    print(f"wrote {args.out} ({'; '.join(shown)}) and {override} (the boot model, over"
          f" {args.source})")  # fmt: skip
    for note in adoption.notes:
        print(note)
    return EXIT_OK
