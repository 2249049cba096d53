"""Wall time of scenario items with one pytest-xdist worker against two, in the same run.
Goal: two workers at least 1.7x faster on 2 cores.

Run by hand: `.venv/bin/python bench/bench_parallel.py [scenarios/a.yaml ...]` (default: the
four incident scenarios, 8 items).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT = [
    "scenarios/no-minfds.yaml",
    "scenarios/graphite-piddir.yaml",
    "scenarios/mysql-long-repl-password.yaml",
    "scenarios/sentinel-all-replicas.yaml",
]


def wall(paths: list[str], workers: int) -> tuple[float, int]:
    cmd = [sys.executable, "-m", "pytest", "-q", "-rfE", "-p", "no:cacheprovider"]
    # as scripts/test.sh: longest first from recorded durations, xdist not reordering groups
    cmd += ["-n", str(workers), "--dist", "loadgroup", "--no-loadscope-reorder", *paths]
    began = time.perf_counter()
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, check=False)
    took = time.perf_counter() - began
    if proc.returncode:  # a timing of a failed run is no figure: say what failed
        summary = [ln for ln in proc.stdout.splitlines() if ln.startswith(("FAILED", "ERROR"))]
        print(f"-n {workers}: exit {proc.returncode}", *summary[:20], sep="\n  ", file=sys.stderr)
    return took, proc.returncode


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("paths", nargs="*", default=DEFAULT)
    args = p.parse_args()
    one, rc1 = wall(args.paths, 1)
    two, rc2 = wall(args.paths, 2)
    print(
        f"-n 1: {one:.0f}s (exit {rc1}); -n 2: {two:.0f}s (exit {rc2});"
        f" speed-up {one / two:.2f}x (goal >= 1.7x)"
    )


if __name__ == "__main__":
    main()
