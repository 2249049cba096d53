"""`reboot-harness doctor --engine` on this machine, whose engine is up: every need is found
present, or only FUSE is lacking (as it truly is here), each line in its one-line form."""

from __future__ import annotations

import subprocess
import sys

import pytest

pytestmark = pytest.mark.docker


def test_doctor_engine_finds_this_machine_ready_or_lacking_only_fuse() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "reboot_harness", "doctor", "--engine"],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    lines = proc.stdout.splitlines()
    assert [line.split(":")[0] for line in lines] == [
        "engine", "compose", "base-image", "fuse", "machine",
    ], proc.stdout + proc.stderr  # fmt: skip
    assert all(line.split(": ")[1] in ("ok", "lacking") for line in lines[:-1]), proc.stdout
    lacking = [line.split(":")[0] for line in lines[:-1] if ": lacking: " in line]
    if proc.returncode == 0:
        assert not lacking and lines[-1] == "machine: ready for the harness", proc.stdout
    else:
        assert proc.returncode == 1 and lacking == ["fuse"], proc.stdout + proc.stderr
        assert lines[-1] == "machine: lacking fuse"
