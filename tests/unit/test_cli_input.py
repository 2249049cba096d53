"""Hostile and broken input at the command line: exit 2, one line naming the file and key path,
and nothing started (the engine is not even contacted: DOCKER_HOST points nowhere)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

RH = [sys.executable, "-m", "harness"]
VALID = "name: x\ndescription: d\nsteps:\n  - reboot: {host: app1}\nexpect: {recover_within: 30s}\n"

CASES = {
    "yaml-syntax": ("name: [x\n", "YAML syntax error"),
    "tab-indent": ("name: x\n\tdescription: d\n", "YAML syntax error"),
    "top-list": ("- 1\n- 2\n", "mapping"),
    "empty": ("", "empty"),
    "unknown-key": (VALID + "colour: red\n", "colour: unknown key 'colour'"),
    "unknown-host": (VALID.replace("app1", "app3"), "steps[0].reboot.host: unknown host 'app3'"),
    "negative-down-for": (
        VALID.replace("{host: app1}", "{host: app1, down_for: -5s}"),
        "steps[0].reboot.down_for",
    ),
    "absurd-duration": (
        VALID.replace("recover_within: 30s", "recover_within: 9999h"),
        "expect.recover_within",
    ),
    "bad-mode": (
        VALID.replace("{host: app1}", "{host: app1, mode: gentle}"),
        "steps[0].reboot.mode",
    ),
    "empty-steps": (
        VALID.replace("  - reboot: {host: app1}\n", "").replace("steps:", "steps: []"),
        "steps",
    ),
    "wrong-type": (VALID.replace("name: x", "name: 7"), "name:"),
    "unknown-incident": (
        VALID + "reproduces: {incident: nope, check: limits}\n",
        "reproduces.incident: unknown incident 'nope'",
    ),
    "unknown-step": (VALID.replace("reboot:", "reboots:"), "steps[0]"),
    "deep-nesting": ("name: " + "[" * 5000 + "]" * 5000 + "\n", "nested deeper"),
}


def run(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DOCKER_HOST": "unix:///nonexistent/docker.sock"}
    return subprocess.run([*RH, *args], capture_output=True, text=True, env=env, timeout=60)


@pytest.mark.parametrize("case", sorted(CASES))
def test_malformed_scenario_exits_2_before_anything_starts(case: str, tmp_path: Path) -> None:
    """`run FILE` with a malformed scenario exits 2 with one line naming file and key path."""
    text, fragment = CASES[case]
    path = tmp_path / f"{case}.yaml"
    path.write_text(text)
    proc = run("run", str(path))
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith(f"reboot-harness run: {path}: "), lines[0]
    assert fragment in lines[0]
    assert "Docker" not in lines[0], "validation must come before the engine is contacted"


def test_missing_file_and_unknown_names_exit_2(tmp_path: Path) -> None:
    """Unknown scenario names, missing files and unknown incidents are usage errors."""
    proc = run("run", "no-such-scenario")
    assert proc.returncode == 2 and "unknown scenario 'no-such-scenario'; known:" in proc.stderr
    proc = run("run", "cold-start", "--incident", "nope")
    assert proc.returncode == 2 and "unknown incident 'nope'; known:" in proc.stderr


def test_huge_file_exits_2(tmp_path: Path) -> None:
    """A file over 1 MiB is refused without being parsed."""
    path = tmp_path / "huge.yaml"
    path.write_text("# " + "x" * (2 * 1024 * 1024) + "\n")
    proc = run("run", str(path))
    assert proc.returncode == 2 and "limit is 1048576 bytes" in proc.stderr


def test_validating_input_never_loads_the_engine_clients() -> None:
    """Refusing bad input stays fast (bench/bench_inputs.py: ~0.2 s) because validation imports
    neither the checks nor the Docker, redis or MySQL clients."""
    code = (
        "import sys; from harness import catalog, cli; "
        "catalog.resolve(['cold-start'], None); "
        "heavy = sorted(m for m in ('docker', 'redis', 'pymysql', 'testcontainers', 'matplotlib',"
        " 'harness.checks', 'harness.stack') if m in sys.modules); print(heavy)"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"


def _compose_copy(tmp_path: Path) -> Path:
    """A copy of compose/ (stack and incidents) that a test may break, for RH_COMPOSE_DIR."""
    import shutil

    src = Path(__file__).resolve().parents[2] / "compose"
    dst = tmp_path / "compose"
    shutil.copytree(src, dst, ignore=shutil.ignore_patterns("images"))
    return dst


def test_incident_with_an_unknown_cause_exits_2_naming_file_and_key(tmp_path: Path) -> None:
    """An incident whose declaration names an unknown cause is refused before anything starts,
    in one line naming the incident file and the key."""
    compose = _compose_copy(tmp_path)
    incident = compose / "incidents" / "no-minfds.yaml"
    incident.write_text(
        incident.read_text().replace("cause: nofile-below-minimum, host: app1", "cause: ulimit")
    )
    env = {**os.environ, "RH_COMPOSE_DIR": str(compose), "DOCKER_HOST": "unix:///nonexistent"}
    for args in (["run", "no-minfds"], ["run", "cold-start", "--incident", "no-minfds"]):
        proc = subprocess.run(
            [*RH, *args], capture_output=True, text=True, env=env, timeout=60, check=False
        )
        assert proc.returncode == 2, proc.stderr
        (line,) = proc.stderr.strip().splitlines()
        assert (
            f"{incident}: x-reboot-harness.reproduced_by[0].cause: unknown cause 'ulimit'" in line
        )


def test_scenario_contradicting_its_incident_exits_2(tmp_path: Path) -> None:
    """`reproduces:` naming another check than the incident declares is refused (exit 2)."""
    path = tmp_path / "x.yaml"
    path.write_text(
        VALID.replace("expect: {recover_within: 30s}", "expect: {checks: all}")
        + "reproduces: {incident: no-minfds, check: dns}\n"
    )
    proc = run("run", str(path))
    assert proc.returncode == 2, proc.stderr
    assert "reproduces.check: 'dns' contradicts incident no-minfds's declaration" in proc.stderr


def test_run_incident_on_a_scenario_that_cannot_show_it_exits_2() -> None:
    """`run cold-start --incident lb-no-dns-rotation`: cold-start has no http budget, so the
    incident could never be observed — refused before anything starts."""
    proc = run("run", "cold-start", "--incident", "lb-no-dns-rotation")
    assert proc.returncode == 2, proc.stderr
    assert (
        "cannot reproduce: incident lb-no-dns-rotation is shown by the http budget" in proc.stderr
    )
