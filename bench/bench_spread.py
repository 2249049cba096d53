"""Run-to-run spread of the figures `compare` judges: the noise floors' evidence.

Runs the same scenarios N times on this machine (``reboot-harness run … --report DIR/i``), or
reads report folders already made (``--from DIR…``), then, for every metric `compare` uses,
prints the largest difference between two repeats of the same value (absolute, and relative to
the smaller one) next to the default floors, and whether any pair of repeats would have been
called a regression with those defaults. Not part of CI.

    .venv/bin/python bench/bench_spread.py --repeats 3 xen-reboot-week reboot-each-host
    .venv/bin/python bench/bench_spread.py --from /tmp/spread/1 /tmp/spread/2 /tmp/spread/3
"""

from __future__ import annotations

import argparse
import itertools
import subprocess
import sys
import tempfile
from pathlib import Path

from harness.compare import FLOORS, Floor, compare, load_results


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("scenarios", nargs="*", default=["xen-reboot-week", "reboot-each-host"])
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--from", dest="given", nargs="+", type=Path, metavar="DIR")
    args = p.parse_args()
    folders: list[Path] = list(args.given or [])
    if not folders:
        base = Path(tempfile.mkdtemp(prefix="rh-spread-"))
        for i in range(args.repeats):
            out = base / str(i + 1)
            cmd = [sys.executable, "-m", "harness", "run", *args.scenarios, "--report", str(out)]
            print("running:", " ".join(cmd), flush=True)
            subprocess.run(cmd, check=False, stdout=subprocess.DEVNULL)
            folders.append(out)
    runs = [load_results(f) for f in folders]
    zero = {m: Floor(0.0, 0.0) for m in FLOORS}
    worst_abs: dict[str, float] = dict.fromkeys(FLOORS, 0.0)
    worst_rel: dict[str, float] = dict.fromkeys(FLOORS, 0.0)
    flagged: list[str] = []
    for a, b in itertools.permutations(range(len(runs)), 2):
        for c in compare(runs[a], runs[b], floors=zero).changes:
            if c.metric not in FLOORS or not isinstance(c.baseline, float):
                continue
            if not isinstance(c.new, float):
                continue
            delta = abs(c.new - c.baseline)
            worst_abs[c.metric] = max(worst_abs[c.metric], delta)
            low = min(c.baseline, c.new)
            if low > 0:
                worst_rel[c.metric] = max(worst_rel[c.metric], delta / low)
        flagged += [
            f"{folders[a].name}->{folders[b].name}: {c.scenario} {c.where} {c.metric}"
            f" {c.baseline} -> {c.new}"
            for c in compare(runs[a], runs[b]).regressions
        ]
    print(f"{len(folders)} repeats: {', '.join(str(f) for f in folders)}")
    print(f"{'metric':12} {'max |delta|':>12} {'max rel':>8}   default floor (rel, abs)")
    for m, floor in FLOORS.items():
        print(f"{m:12} {worst_abs[m]:12.3f} {worst_rel[m]:8.2f}   ({floor.rel:g}, {floor.abs_:g})")
    print(f"pairs of repeats a default floor would call a regression: {len(flagged)}")
    for line in flagged[:20]:
        print("  " + line)
    return 1 if flagged else 0


if __name__ == "__main__":
    sys.exit(main())
