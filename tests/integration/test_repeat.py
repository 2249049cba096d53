"""Repeated runs end to end: `run --repeat 2` runs a scenario variant twice, each on a fresh stack
removed afterwards, and keeps both runs (with their repeat index) in --json and results.json,
which `compare` reads as two runs a side; `pytest --rh-repeat N` collects N items per variant."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import docker
import pytest

RH = [sys.executable, "-m", "reboot_harness"]
ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.docker
def test_run_repeat_2_keeps_both_runs_and_compare_pools_them(tmp_path: Path) -> None:
    """Two passing runs of cold-start, in order, on two stacks (both gone afterwards), each with
    its recovery; results.json and --json hold the same two runs with repeat 1 and 2; compare of
    the folder with itself: no regression, "2/2" runs, and the note that two runs a side see only
    large changes."""
    report = tmp_path / "night"
    proc = subprocess.run(
        [*RH, "run", "cold-start", "--repeat", "2", "--report", str(report), "--json"],
        capture_output=True, text=True, timeout=900, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    printed = json.loads(proc.stdout)["scenarios"]
    written = json.loads((report / "results.json").read_text())["scenarios"]
    for runs in (printed, written):
        assert [(s["name"], s["variant"], s["repeat"], s["passed"]) for s in runs] == [
            ("cold-start", "fixed", 1, True),
            ("cold-start", "fixed", 2, True),
        ]
        assert all(any(e["kind"] == "recovered" for e in s["events"]) for s in runs)
    assert printed[0]["project"] != printed[1]["project"], "each run on a fresh stack"
    assert [s["project"] for s in printed] == [s["project"] for s in written]
    assert "cold-start[fixed] #1" in proc.stderr and "cold-start[fixed] #2" in proc.stderr
    engine = docker.from_env()
    for s in printed:
        flt = {"label": [f"com.docker.compose.project={s['project']}"]}
        assert engine.containers.list(all=True, filters=flt) == [], s["project"]
    cmp = subprocess.run([*RH, "compare", str(report), str(report), "--all", "--json"],
                         capture_output=True, text=True, timeout=120, check=False)  # fmt: skip
    assert cmp.returncode == 0, cmp.stdout + cmp.stderr
    changes = json.loads(cmp.stdout)["changes"]
    (recovery,) = [c for c in changes if c["metric"] == "recovery_s"]
    assert recovery["runs"] == "2/2" and recovery["kind"] == "same"


def test_pytest_rh_repeat_collects_n_items_per_variant() -> None:
    """`--rh-repeat 3`: three items per variant named as pytest-repeat names them; a count that
    is not 1..1000 is a usage error naming the option."""
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--collect-only", "-q",
         "--rh-repeat", "3", "scenarios/cold-start.yaml", "scenarios/no-minfds.yaml"],
        capture_output=True, text=True, timeout=120, check=False, cwd=ROOT,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    ids = [line for line in proc.stdout.splitlines() if "::" in line]
    assert ids == [
        *(f"scenarios/cold-start.yaml::cold-start[fixed-{k}-3]" for k in (1, 2, 3)),
        *(f"scenarios/no-minfds.yaml::no-minfds[fixed-{k}-3]" for k in (1, 2, 3)),
        *(f"scenarios/no-minfds.yaml::no-minfds[incident-{k}-3]" for k in (1, 2, 3)),
    ]
    bad = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--collect-only", "-q",
         "--rh-repeat", "0", "scenarios/cold-start.yaml"],
        capture_output=True, text=True, timeout=120, check=False, cwd=ROOT,
    )  # fmt: skip
    assert bad.returncode == 4 and "--rh-repeat" in bad.stderr and "1 to 1000" in bad.stderr


def test_run_repeat_outside_1_to_1000_is_a_usage_error() -> None:
    """`run --repeat 0` exits 2 with one line naming the option, before any stack starts."""
    proc = subprocess.run([*RH, "run", "cold-start", "--repeat", "0"],
                          capture_output=True, text=True, timeout=120, check=False)  # fmt: skip
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        "reboot-harness run: --repeat 0: run each scenario variant 1 to 1000 times"
    ]
