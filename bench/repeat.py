"""Run the scenario suite N times and print, per scenario and variant, the outcome of each repeat.
Any disagreement between repeats is a flake: a bug to fix, not to retry.

Run by hand: `.venv/bin/python bench/repeat.py [--repeats 5] [-n 2] [scenarios/x.yaml ...]`.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def one_run(paths: list[str], workers: int, junit: Path) -> dict[str, str]:
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--dist", "loadgroup"]
    cmd += ["-n", str(workers), f"--junitxml={junit}", *paths]
    subprocess.run(cmd, cwd=ROOT, check=False, capture_output=True)
    outcomes = {}
    for case in ET.parse(junit).iter("testcase"):
        if case.find("failure") is not None or case.find("error") is not None:
            outcome = "FAIL"
        elif case.find("skipped") is not None:
            outcome = "skip"
        else:
            outcome = "pass"
        outcomes[case.get("name", "?")] = outcome
    return outcomes


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("-n", type=int, default=2, help="pytest-xdist workers")
    p.add_argument("paths", nargs="*", default=["scenarios"])
    args = p.parse_args()
    runs: list[dict[str, str]] = []
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(args.repeats):
            began = time.time()
            runs.append(one_run(args.paths, args.n, Path(tmp) / f"junit-{i}.xml"))
            print(f"repeat {i + 1}/{args.repeats}: {time.time() - began:.0f}s", flush=True)
    names = sorted({n for r in runs for n in r})
    flaky = 0
    width = max(len(n) for n in names) if names else 10
    print(f"{'scenario[variant]':{width}}  " + " ".join(f"#{i + 1:<4}" for i in range(len(runs))))
    for name in names:
        row = [r.get(name, "-") for r in runs]
        mark = "" if len(set(row)) == 1 else "  <- FLAKY"
        flaky += bool(mark)
        print(f"{name:{width}}  " + " ".join(f"{o:<5}" for o in row) + mark)
    print(f"{len(names)} items, {flaky} flaky over {len(runs)} repeats")
    return 1 if flaky else 0


if __name__ == "__main__":
    sys.exit(main())
