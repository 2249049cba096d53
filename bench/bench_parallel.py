"""Wall time of scenario items with one pytest-xdist worker against two, in the same run.
Goal: two workers at least 1.7x faster on 2 cores.

Run by hand: `.venv/bin/python bench/bench_parallel.py [scenarios/a.yaml ...]` (default: the
four incident scenarios, 8 items).

Also measured: how many of the machine's cores were busy on average during each (from
/proc/stat through psutil: everything, engine and servers included). With the same CPU work W in
both modes, one worker takes W / busy1 and two take at least W / cores, so the speed-up cannot
exceed cores / busy1: the ceiling printed.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[1]
DEFAULT = [
    "scenarios/no-minfds.yaml",
    "scenarios/graphite-piddir.yaml",
    "scenarios/mysql-long-repl-password.yaml",
    "scenarios/sentinel-all-replicas.yaml",
]


def busy_cores(before: psutil._common.scputimes, after: psutil._common.scputimes) -> float:
    """Cores busy on average between two psutil.cpu_times() readings."""
    idle = (after.idle - before.idle) + (after.iowait - before.iowait)
    total = sum(after) - sum(before)
    return (total - idle) / total * (psutil.cpu_count() or 1) if total > 0 else 0.0


def wall(paths: list[str], workers: int) -> tuple[float, int, float]:
    cmd = [sys.executable, "-m", "pytest", "-q", "-rfE", "-p", "no:cacheprovider"]
    # as scripts/test.sh: longest first from recorded durations, xdist not reordering groups
    cmd += ["-n", str(workers), "--dist", "loadgroup", "--no-loadscope-reorder", *paths]
    began, cpu = time.perf_counter(), psutil.cpu_times()
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, check=False)
    took, busy = time.perf_counter() - began, busy_cores(cpu, psutil.cpu_times())
    if proc.returncode:  # a timing of a failed run is no figure: say what failed
        summary = [ln for ln in proc.stdout.splitlines() if ln.startswith(("FAILED", "ERROR"))]
        print(f"-n {workers}: exit {proc.returncode}", *summary[:20], sep="\n  ", file=sys.stderr)
    return took, proc.returncode, busy


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("paths", nargs="*", default=DEFAULT)
    args = p.parse_args()
    one, rc1, busy1 = wall(args.paths, 1)
    two, rc2, busy2 = wall(args.paths, 2)
    cores = psutil.cpu_count() or 1
    print(
        f"-n 1: {one:.0f}s (exit {rc1}), {busy1:.2f} of {cores} cores busy;"
        f" -n 2: {two:.0f}s (exit {rc2}), {busy2:.2f} busy;"
        f" speed-up {one / two:.2f}x (goal >= 1.7x; ceiling {cores}/{busy1:.2f} ="
        f" {cores / busy1 if busy1 else 0:.2f}x)"
    )


if __name__ == "__main__":
    main()
