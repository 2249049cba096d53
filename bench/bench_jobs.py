"""Wall time of `reboot-harness run` with one job against N jobs (`-j N`), in the same run.

Run by hand: `.venv/bin/python bench/bench_jobs.py [-j 2] [SCENARIO ...]` (default: cold-start,
graphite-piddir and no-minfds, 5 variants). Prints each wall time, the sum of the variants' own
durations, the cores busy on average (everything on the machine: engine and servers included)
and the speed-up; a run that failed is said, not timed. With the same CPU work in both, the
speed-up cannot exceed cores / busy cores of the one-job run: the ceiling printed.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import subprocess
import sys
import time
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_parallel import busy_cores

ROOT = Path(__file__).resolve().parents[1]
DEFAULT = ["cold-start", "graphite-piddir", "no-minfds"]


def wall(scenarios: list[str], jobs: int) -> tuple[float, float, float, int]:
    """(wall seconds, sum of the variants' own durations, busy cores, exit code)."""
    cmd = [sys.executable, "-m", "reboot_harness", "run", *scenarios, "-j", str(jobs), "--json"]
    began, cpu = time.perf_counter(), psutil.cpu_times()
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, check=False)
    took, busy = time.perf_counter() - began, busy_cores(cpu, psutil.cpu_times())
    own = 0.0
    with contextlib.suppress(ValueError, KeyError):
        own = sum(s["duration_s"] for s in json.loads(proc.stdout)["scenarios"])
    if proc.returncode:
        print(f"-j {jobs}: exit {proc.returncode}: {proc.stderr[-1500:]}", file=sys.stderr)
    return took, own, busy, proc.returncode


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("-j", "--jobs", type=int, default=2)
    p.add_argument("scenarios", nargs="*", default=DEFAULT)
    args = p.parse_args()
    one, own1, busy1, rc1 = wall(args.scenarios, 1)
    many, own_n, busy_n, rc_n = wall(args.scenarios, args.jobs)
    cores = psutil.cpu_count() or 1
    print(f"-j 1: {one:.0f}s wall (exit {rc1}), variants {own1:.0f}s, {busy1:.2f} of {cores}"
          " cores busy")  # fmt: skip
    print(f"-j {args.jobs}: {many:.0f}s wall (exit {rc_n}), variants {own_n:.0f}s,"
          f" {busy_n:.2f} of {cores} cores busy")  # fmt: skip
    if rc1 == 0 and rc_n == 0:
        print(f"speed-up {one / many:.2f}x (ceiling cores / busy at -j 1: {cores / busy1:.2f}x)")


if __name__ == "__main__":
    main()
