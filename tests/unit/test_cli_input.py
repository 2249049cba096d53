"""Hostile and broken input at the command line: exit 2, one line naming the file and key path,
and nothing started (the engine is not even contacted: DOCKER_HOST points nowhere)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

RH = [sys.executable, "-m", "reboot_harness"]
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
    "every-lb-out-of-dns": (
        VALID.replace(
            "  - reboot: {host: app1}\n",
            "  - dns_rotate: {out: lb1}\n  - dns_rotate: {out: lb2}\n",
        ),
        "steps[1].dns_rotate.out: rotating lb2 out leaves no load balancer in DNS",
    ),
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
    neither the check runner nor the Docker, redis, MySQL, socket.io or DNS clients (the shipped
    checks' declarations are read: their clients are imported when a check runs)."""
    code = (
        "import sys; from reboot_harness.faces import cli; "
        "from reboot_harness.scenarios import find; "
        "find.resolve(['cold-start'], None); "
        "heavy = sorted(m for m in ('docker', 'redis', 'pymysql', 'socketio', 'dns',"
        " 'reboot_harness.checks.run', 'reboot_harness.checks.context',"
        " 'reboot_harness.stack.hosts')"
        " if m in sys.modules); print(heavy)"
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
    """`run cold-start --incident ...`: cold-start has no dns_rotate step, so
    dns-rotation-not-served could never be observed and lb-no-dns-rotation has nothing to drop:
    refused before anything starts."""
    proc = run("run", "cold-start", "--incident", "dns-rotation-not-served")
    assert proc.returncode == 2, proc.stderr
    assert "cannot reproduce: incident dns-rotation-not-served is shown by" in proc.stderr
    proc = run("run", "cold-start", "--incident", "lb-no-dns-rotation")
    assert proc.returncode == 2, proc.stderr
    assert "cannot reproduce: incident lb-no-dns-rotation drops dns_rotate steps" in proc.stderr


ONESHOT = {
    "unknown-host": (["reboot", "app9"], "reboot-harness reboot: HOST: unknown host 'app9'"),
    "bad-mode": (["reboot", "app1", "--mode", "gentle"], "--mode: "),
    "down-for-too-long": (["reboot", "app1", "--down-for", "99h"], "--down-for: duration '99h'"),
    "negative-down-for": (["reboot", "app1", "--down-for", "-5"], "--down-for: "),
    "grace-when-hard": (["stop", "app1", "--mode", "hard", "--grace", "3s"], "--grace: "),
    "kill-bad-signal": (["kill", "app1", "app", "--signal", "BOOM"], "--signal: unknown signal"),
    "kill-bad-program": (["kill", "app1", "a;rm -rf /"], "PROGRAM: "),
    "redis-failover-to": (["failover", "redis", "--to", "redis2"], "--to: Sentinel elects"),
    "mysql-failover-to-lb": (["failover", "mysql", "--to", "lb1"], "--to: 'lb1' is not"),
    "rotate-an-app": (["dns-rotate", "out", "app1"], "LB: 'app1' is not a load balancer"),
    "wait-unknown-check": (["wait", "--checks", "ulimit"], "--checks: unknown check 'ulimit'"),
    "wait-zero": (["wait", "--within", "0s"], "--within: "),
}


@pytest.fixture
def state_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A recorded project `p1` (the shipped topology), as `up` leaves it, with no engine."""
    from reboot_harness.stack.state import ProjectState

    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path))
    ProjectState(
        name="p1", compose_dir="/x", compose_files=(), subnet_prefix="172.30.9",
        domain="rh.test", image_tag="t", base_image="b", owner="", keep=True,
    ).save()  # fmt: skip
    return tmp_path


@pytest.mark.parametrize("case", sorted(ONESHOT))
def test_a_one_shot_fault_with_bad_input_exits_2_naming_the_option(
    case: str, state_home: Path
) -> None:
    """A one-shot fault is validated exactly as a scenario step, before the engine is asked:
    exit 2, one line naming the command and the option."""
    args, fragment = ONESHOT[case]
    env = {**os.environ, "DOCKER_HOST": "unix:///nonexistent/docker.sock"}
    proc = subprocess.run([*RH, *args, "--project", "p1"], capture_output=True, text=True,
                          env=env, timeout=60)  # fmt: skip
    assert proc.returncode == 2, (proc.stdout, proc.stderr)
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and fragment in lines[0], proc.stderr
    assert lines[0].startswith(f"reboot-harness {args[0]}: "), lines[0]


def test_a_one_shot_fault_on_an_unknown_project_exits_2(state_home: Path) -> None:
    proc = run("reboot", "--project", "nope", "app1")
    assert proc.returncode == 2
    assert "no such project 'nope'" in proc.stderr and "reboot-harness up" in proc.stderr


ROOT = Path(__file__).resolve().parents[2]


def _own_incident(tmp: Path, name: str = "my-minfds") -> tuple[Path, Path]:
    """A user's incident directory holding ``name`` (the no-minfds mechanism under another
    name), and a scenario of theirs that reproduces it."""
    incidents = tmp / "incidents"
    incidents.mkdir()
    (incidents / f"{name}.yaml").write_text((ROOT / "compose/incidents/no-minfds.yaml").read_text())
    scenario = tmp / "mine.yaml"
    text = (ROOT / "scenarios/no-minfds.yaml").read_text()
    scenario.write_text(text.replace("incident: no-minfds", f"incident: {name}"))
    return incidents, scenario


def test_your_own_incidents_come_from_your_directory(tmp_path: Path) -> None:
    """`--incidents DIR` adds the user's incidents (same format and validation as the shipped
    ones): a scenario reproducing one validates, and only the engine is missing; without it the
    incident is unknown, naming every known one."""
    incidents, scenario = _own_incident(tmp_path)
    proc = run("run", str(scenario), "--incidents", str(incidents))
    assert proc.returncode == 2 and "no Docker engine reachable" in proc.stderr, proc.stderr
    proc = run("run", str(scenario))
    assert proc.returncode == 2
    assert "reproduces.incident: unknown incident 'my-minfds'; valid: " in proc.stderr


@pytest.mark.parametrize(
    "case, fragment",
    [
        ("twice", "incident 'no-minfds' is defined twice: "),
        ("missing", "no such incidents directory"),
        ("broken", "my-minfds.yaml: "),
    ],
)
def test_your_own_incidents_refused_when_wrong(case: str, fragment: str, tmp_path: Path) -> None:
    """A name that clashes with a shipped incident, a directory that is not there, or a file
    that is not a valid incident: exit 2, one line, before anything starts."""
    name = "no-minfds" if case == "twice" else "my-minfds"
    incidents, scenario = _own_incident(tmp_path, name)
    if case == "missing":
        incidents = tmp_path / "nowhere"
    if case == "broken":
        (incidents / "my-minfds.yaml").write_text("x-reboot-harness: {summary: 3}\nservices: {}\n")
    proc = run("run", str(scenario), "--incidents", str(incidents))
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and fragment in lines[0], proc.stderr


def test_a_report_folder_that_cannot_be_written_is_refused_first(tmp_path: Path) -> None:
    """`run --report DIR` checks DIR is writable before anything starts (the engine is not even
    asked): a file in the way, a read-only place."""
    blocker = tmp_path / "file"
    blocker.write_text("x")
    for folder in (blocker / "reports", Path("/proc/rh-reports")):
        proc = run("run", "cold-start", "--report", str(folder))
        assert proc.returncode == 2, proc.stderr
        lines = proc.stderr.strip().splitlines()
        assert len(lines) == 1 and f"--report {folder}: cannot write there" in lines[0], lines


def test_a_scenario_planned_longer_than_the_ceiling_is_refused() -> None:
    """`run` refuses, before anything starts, a scenario whose own plan (time off, sleeps,
    waits, timeouts) exceeds --max-planned (default 4h; the nightly 30-minute outages fit)."""
    nightly = str(ROOT / "scenarios" / "nightly" / "long-outage-30m.yaml")
    proc = run("run", nightly, "--max-planned", "1h")
    assert proc.returncode == 2
    assert "long-outage-30m.yaml: its plan takes up to 7640s" in proc.stderr
    assert "more than --max-planned 1h" in proc.stderr
    proc = run("run", nightly)  # within the default: only the missing engine stops it
    assert proc.returncode == 2 and "no Docker engine reachable" in proc.stderr
    proc = run("run", "cold-start", "--max-planned", "soon")
    assert proc.returncode == 2 and "--max-planned: " in proc.stderr


def test_planned_time_adds_up_every_step() -> None:
    from reboot_harness.scenarios import find

    (piddir,) = find.resolve(["graphite-piddir"])
    assert piddir.planned_s == 10 + 30  # a graceful reboot's grace, then recover_within
    (week,) = find.resolve(["xen-reboot-week"])
    # 3 s sleep, 4 rotations (2 s + 5 s read-back), 10 graceful reboots (5 s off + 10 s grace),
    # 11 waits of 60 s, a Sentinel failover (30 s), 2 MySQL failovers (30 s), recovery 60 s
    assert week.planned_s == 3 + 4 * 7 + 10 * 15 + 11 * 60 + 30 + 2 * 30 + 60


def test_a_bad_max_duration_is_refused() -> None:
    for value in ("0s", "soon", "-1"):
        proc = run("run", "cold-start", "--max-duration", value)
        assert proc.returncode == 2 and "--max-duration: " in proc.stderr, proc.stderr


def test_jobs_below_one_are_refused() -> None:
    for value in ("0", "-2"):
        proc = run("run", "cold-start", "-j", value)
        assert proc.returncode == 2, proc.stderr
        assert f"--jobs {value}: run at least 1 scenario at a time" in proc.stderr, proc.stderr
    proc = run("run", "cold-start", "--jobs", "two")
    assert proc.returncode == 2 and "--jobs" in proc.stderr, proc.stderr
