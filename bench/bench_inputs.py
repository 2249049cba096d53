"""How fast each malformed or hostile input is refused, timed end to end (process start to exit
2): every hostile-input case of the CLI tests — scenario files; compose overrides (each through
`up --compose`); unsafe compose with the engine unreachable (a socket that does not exist, and one
that never answers); corrupted project state (each command that reads it); topology files.
Goal: each input's median within a second, exit 2, one line saying the expected thing. Baseline
in the same run: the bare interpreter starting and exiting (`python -c pass`), the floor any
Python CLI pays. The machine's load average is printed: on a shared machine, read min and median.

Run by hand: `.venv/bin/python bench/bench_inputs.py [--rounds 3] [--only PREFIX]`.
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.unit.test_cli_input import CASES, VALID  # noqa: E402
from tests.unit.test_compose_input import HOSTILE, UNSAFE, UNSAFE_LINE  # noqa: E402
from tests.unit.test_state_input import COMMANDS, CORRUPT  # noqa: E402

RH = [sys.executable, "-m", "reboot_harness"]
NO_ENGINE = "unix:///nonexistent/docker.sock"
TOPOLOGY = {
    "unknown-key": ("colour: red\n", "colour: unknown key; valid: domain"),
    "not-a-host": ("lbs: [edge9]\n", "lbs: 'edge9' is not a host of daemons"),
    "not-a-mapping": ("- a\n", "expected a mapping of topology keys"),
    "yaml-syntax": ("lbs: [a\n", "YAML syntax error"),
    "duplicate-key": ("lbs: [lb1]\nlbs: [lb2]\n", "duplicate key 'lbs'"),
    "deep-nesting": ("domain: " + "[" * 200 + "]" * 200 + "\n", "nested deeper"),
    "huge": ("domain: x\n" + "#" * (1 << 20) + "\n", "the limit is 1048576 bytes"),
}


@dataclass
class Case:
    argv: list[str]
    said: str | None = None  # what the one line must hold (None: exit 2 is enough)
    env: dict[str, str] = field(default_factory=dict)
    # False: valid input that goes on to the (missing) engine — timed, not held to the goal
    refusal: bool = True


def timed(cmd: list[str], env: dict[str, str]) -> tuple[float, int, str]:
    began = time.perf_counter()
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, check=False,
                          timeout=120)  # fmt: skip
    return time.perf_counter() - began, proc.returncode, proc.stderr


def _cases(d: Path, silent_engine: str) -> dict[str, Case]:
    cases: dict[str, Case] = {}
    ok = d / "ok.yaml"
    ok.write_text(VALID)
    # scenario files and options of `run`
    for name, (text, said) in sorted(CASES.items()):
        (d / f"{name}.yaml").write_text(text)
        cases[f"scenario/{name}"] = Case(["run", str(d / f"{name}.yaml")], said)
    (d / "huge.yaml").write_text("# " + "x" * (2 * 1024 * 1024) + "\n")
    cases["scenario/huge-file"] = Case(["run", str(d / "huge.yaml")], "limit is 1048576 bytes")
    cases["run/missing-file"] = Case(["run", str(d / "nope.yaml")], "unknown scenario")
    cases["run/unknown-scenario"] = Case(["run", "no-such-scenario"], "unknown scenario")
    cases["run/unknown-incident"] = Case(["run", "cold-start", "--incident", "nope"], "nope")
    nightly = str(ROOT / "scenarios" / "nightly" / "long-outage-30m.yaml")
    cases["run/planned-too-long"] = Case(["run", nightly, "--max-planned", "1h"], "--max-planned")
    cases["run/report-unwritable"] = Case(
        ["run", str(ok), "--report", "/proc/rh-reports"], "cannot write there"
    )
    cases["run/own-incidents-missing"] = Case(
        ["run", str(ok), "--incidents", str(d / "no")], "no such incidents directory"
    )
    # unsafe compose, the engine unreachable: refused all the same, and at once
    unsafe = d / "unsafe.yaml"
    unsafe.write_text(UNSAFE)
    for engine, host in (("missing", NO_ENGINE), ("silent", silent_engine)):
        for cmd in (["up", "--project", "x"], ["run", str(ok)]):
            cases[f"unsafe/{cmd[0]}-engine-{engine}"] = Case(
                [*cmd, "--compose", str(unsafe)], UNSAFE_LINE, {"DOCKER_HOST": host}
            )
    # hostile compose overrides, each through `up`
    for name, (content, said) in sorted(HOSTILE.items()):
        path = d / f"compose-{name}.yaml"
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content)
        argv = ["up", "--project", "x", "--compose", str(path)]
        if said is None:  # safe: judged, then the runner is imported and asks the engine
            cases[f"compose-accepted/{name}"] = Case(argv, "no Docker engine reachable", {}, False)
        else:
            cases[f"compose/{name}"] = Case(argv, said)
    big = d / "compose-huge.yaml"
    big.write_text("# " + "x" * (2 * 1024 * 1024) + "\nservices: {}\n")
    cases["compose/huge-file"] = Case(["up", "--project", "x", "--compose", str(big)], "1 MiB")
    # corrupted project state: every kind of damage with `check`, every command with one of them
    pairs = [(k, "check") for k in sorted(CORRUPT)]
    pairs += [("compose-files-a-number", c) for c in sorted(COMMANDS) if c != "check"]
    # (`down` is the way out of a damaged state: it removes the stack by its labels, no state
    # needed — with no engine it says so, see the unsafe/ rows for that path)
    for kind, command in pairs:
        content, said = CORRUPT[kind]
        home = d / f"state-{kind}"
        state = home / "reboot-harness" / "projects" / "p1"
        state.mkdir(parents=True, exist_ok=True)
        (state / "project.json").write_bytes(content)
        cases[f"state/{command}/{kind}"] = Case(
            [*COMMANDS[command], "--project", "p1"], said, {"XDG_STATE_HOME": str(home)}
        )
    # topology files
    for name, (text, said) in TOPOLOGY.items():
        path = d / f"topology-{name}.yaml"
        path.write_text(text)
        cases[f"topology/{name}"] = Case(["run", str(ok), "--topology", str(path)], said)
    return cases


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--only", default="", metavar="PREFIX", help="only inputs named so")
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        env = {**os.environ, "DOCKER_HOST": NO_ENGINE, "XDG_STATE_HOME": str(d / "state")}
        # an engine that accepts connections and never answers: asking it anything hangs
        silent = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        silent.bind(str(d / "silent.sock"))
        silent.listen(64)
        cases = {
            k: v
            for k, v in _cases(d, f"unix://{d / 'silent.sock'}").items()
            if k.startswith(args.only)
        }
        # Rounds go over every input in turn (not each input N times in a row), so that a burst
        # of load from elsewhere on the machine spreads over the inputs instead of hitting a few.
        load_before = os.getloadavg()[0]
        floor: list[float] = []
        runs: dict[str, list[tuple[float, int, str]]] = {name: [] for name in cases}
        for _round in range(args.rounds):
            floor.append(timed([sys.executable, "-c", "pass"], env)[0])
            for name, case in cases.items():
                runs[name].append(timed([*RH, *case.argv], {**env, **case.env}))
        silent.close()
    base = statistics.median(floor)
    wrong, medians, worst = [], [], 0.0
    print(f"{'input':46} {'min s':>6} {'median':>6} {'max s':>6} {'x floor':>7}  exit  line")
    for name, case in cases.items():
        secs = [s for s, _, _ in runs[name]]
        codes = sorted({c for _, c, _ in runs[name]})
        lines = runs[name][-1][2].strip().splitlines()
        said_ok = len(lines) == 1 and (case.said is None or case.said in lines[0])
        median = statistics.median(secs)
        if case.refusal:
            medians.append(median)
            worst = max(worst, median)
        if codes != [2] or not said_ok:
            wrong.append(name)
        print(
            f"{name:46} {min(secs):6.3f} {median:6.3f} {max(secs):6.3f} {median / base:7.1f}"
            f"  {codes}  {'ok' if said_ok else 'WRONG: ' + ' | '.join(lines)[:100]}"
        )
    slowest = max((s for n, r in runs.items() if cases[n].refusal for s, _, _ in r), default=0)
    typical = statistics.median(medians) if medians else 0.0
    print(
        f"{len(medians)} refusals (and {len(cases) - len(medians)} accepted inputs) x"
        f" {args.rounds}: median {typical:.3f}s, slowest"
        f" median {worst:.3f}s (goal <= 1 s: {'met' if worst <= 1.0 else 'MISSED'}), slowest"
        f" single run {slowest:.3f}s; interpreter floor {base:.3f}s; load average"
        f" {load_before:.1f} -> {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores"
        + (f"; NOT exit 2 with the expected line: {', '.join(wrong)}" if wrong else "")
    )
    return 1 if wrong or worst > 1.0 else 0


if __name__ == "__main__":
    raise SystemExit(main())
