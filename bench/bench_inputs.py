"""How fast each malformed input is refused: every hostile-input case of the CLI tests, run
through `reboot-harness run`, timed end to end (process start to exit 2). Goal: each within a
second. Baseline in the same run: the bare interpreter starting and exiting (`python -c pass`),
the floor any Python CLI pays.

Run by hand: `.venv/bin/python bench/bench_inputs.py [--rounds 3]`.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.unit.test_cli_input import CASES, VALID  # noqa: E402

RH = [sys.executable, "-m", "harness"]


def timed(cmd: list[str], env: dict[str, str]) -> tuple[float, int]:
    began = time.perf_counter()
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, check=False)
    return time.perf_counter() - began, proc.returncode


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--rounds", type=int, default=3)
    args = p.parse_args()
    env = {**os.environ, "DOCKER_HOST": "unix:///nonexistent/docker.sock"}
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        cases: dict[str, list[str]] = {}
        for name, (text, _) in sorted(CASES.items()):
            (d / f"{name}.yaml").write_text(text)
            cases[name] = ["run", str(d / f"{name}.yaml")]
        (d / "huge.yaml").write_text("# " + "x" * (2 * 1024 * 1024) + "\n")
        cases["huge-file"] = ["run", str(d / "huge.yaml")]
        cases["missing-file"] = ["run", str(d / "nope.yaml")]
        cases["unknown-scenario"] = ["run", "no-such-scenario"]
        cases["unknown-incident"] = ["run", "cold-start", "--incident", "nope"]
        (d / "ok.yaml").write_text(VALID)
        (d / "bad-compose.yaml").write_text("services:\n  app1: [\n")
        bad_compose = str(d / "bad-compose.yaml")
        cases["compose-unparsable"] = ["run", str(d / "ok.yaml"), "--compose", bad_compose]
        (d / "dup-topology.yaml").write_text("lbs: [lb1]\nlbs: [lb2]\n")
        cases["topology-duplicate-key"] = [
            "run", str(d / "ok.yaml"), "--topology", str(d / "dup-topology.yaml")
        ]  # fmt: skip
        nightly = str(ROOT / "scenarios" / "nightly" / "long-outage-30m.yaml")
        cases["planned-too-long"] = ["run", nightly, "--max-planned", "1h"]
        cases["report-unwritable"] = ["run", str(d / "ok.yaml"), "--report", "/proc/rh-reports"]
        cases["own-incidents-missing"] = ["run", str(d / "ok.yaml"), "--incidents", str(d / "no")]
        floor = [timed([sys.executable, "-c", "pass"], env)[0] for _ in range(args.rounds)]
        base = statistics.median(floor)
        worst = 0.0
        wrong = []
        print(f"{'input':24} {'median s':>9} {'max s':>7} {'x floor':>8}  exit")
        for name, argv in cases.items():
            runs = [timed([*RH, *argv], env) for _ in range(args.rounds)]
            secs = [s for s, _ in runs]
            codes = {c for _, c in runs}
            worst = max(worst, max(secs))
            if codes != {2}:
                wrong.append(name)
            print(
                f"{name:24} {statistics.median(secs):9.3f} {max(secs):7.3f} "
                f"{statistics.median(secs) / base:8.1f}  {sorted(codes)}"
            )
    print(
        f"{len(cases)} inputs x {args.rounds}: slowest {worst:.3f}s (goal <= 1 s: "
        f"{'met' if worst <= 1.0 else 'MISSED'}); interpreter floor {base:.3f}s"
        + (f"; NOT exit 2: {', '.join(wrong)}" if wrong else "")
    )
    return 1 if wrong or worst > 1.0 else 0


if __name__ == "__main__":
    raise SystemExit(main())
