"""Run-to-run spread of one commit's recovery figures, and what `compare` makes of it.

Runs the same scenarios N times, each run its own ``reboot-harness run … --report DIR/i`` on a
fresh stack, from a checkout given with ``--tree`` (default: this one) — so an older commit is
measured by the same script, e.g. from ``git worktree add /tmp/base 6f754d7`` — or reads report
folders and results.json files already made (``--from``; a results.json of ``run --repeat N``
counts as N runs). Then prints, per scenario variant:

- ``recovery``: the final recovery wait (from the last step to every expected check holding);
- ``longest wait``: the longest of all its recovery waits (each ``wait_recovered``, each rolling
  reboot's wait, the final one) — the figure ``compare`` judges as ``recovery_s``;

each as n, p50, p90, min and max. With ``--halves K`` it also forms K same-commit comparisons from
the pool (each a random split into two disjoint halves, seeded) and judges each with
``reboot_harness.report.compare`` as the nightly would: any regression there is a false alarm.
``--pairs`` does the same for every ordered pair of single runs (what ``compare`` of two single runs
says). Not part of CI; the machine's load is printed with the figures (shared machines skew them).

    .venv/bin/python bench/bench_spread.py --runs 10 cold-start --out /tmp/spread-now
    .venv/bin/python bench/bench_spread.py --runs 10 cold-start --tree /tmp/base --out /tmp/b
    .venv/bin/python bench/bench_spread.py --from /tmp/spread-now --halves 20 --pairs
    .venv/bin/python bench/bench_spread.py --runs 5 cold-start --delay-start redis2=1.5 --out /tmp/s
    .venv/bin/reboot-harness compare /tmp/spread-now /tmp/s
"""

from __future__ import annotations

import argparse
import itertools
import os
import random
import resource
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
# the detail of the final recovery's event (reboot_harness.run.loop._final)
FINAL = "expected checks hold"


def quantile(values: Sequence[float], q: float) -> float:
    """The q-quantile of ``values``, linear between the order statistics (numpy's default)."""
    ys = sorted(values)
    z = (len(ys) - 1) * q
    j = int(z)
    if j >= len(ys) - 1:
        return ys[-1]
    return ys[j] + (z - j) * (ys[j + 1] - ys[j])


def waits(result: Mapping[str, Any]) -> tuple[float | None, float | None]:
    """(final recovery wait, longest recovery wait) of one scenario result (None: never)."""
    events = [e for e in result.get("events") or [] if e.get("kind") == "recovered"]
    final = [float(e["duration_s"]) for e in events if e.get("detail") == FINAL]
    every = [float(e["duration_s"]) for e in events]
    return (final[-1] if final else None), (max(every) if every else None)


def slow_start(tree: Path, delays: Sequence[str], out: Path) -> Path:
    """A compose override that makes each ``SERVICE=SECONDS`` of ``delays`` start that much
    later at every boot (its entrypoint sleeps first, then runs the image's own entrypoint and
    command): a real slowdown of the stack, not an edited figure."""
    import json

    import yaml

    stack = yaml.safe_load((tree / "compose" / "stack.yaml").read_text())
    services: dict[str, Any] = {}
    for text in delays:
        name, _, seconds = text.partition("=")
        image = str(stack["services"][name]["image"]).replace("${RH_IMAGE_TAG:-latest}", "latest")
        inspected = subprocess.run(["docker", "image", "inspect", image], check=True,
                                   capture_output=True, text=True)  # fmt: skip
        config = json.loads(inspected.stdout)[0]["Config"]
        script = f'sleep {float(seconds):g}; exec "$@"'
        services[name] = {
            "entrypoint": ["/bin/sh", "-c", script, "rh-slow-start", *(config["Entrypoint"] or [])],
            "command": config["Cmd"] or [],
        }
    out.mkdir(parents=True, exist_ok=True)
    path = out / "slow-start.yaml"
    path.write_text(yaml.safe_dump({"services": services}, sort_keys=False))
    print(f"slowed down: {', '.join(delays)} ({path})", flush=True)
    return path


def _children_cpu() -> float:
    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    return used.ru_utime + used.ru_stime


def _package(tree: Path) -> str:
    """The import package of the checkout ``tree``: commits before the rename (issue 20) have
    ``harness/``; asking them for ``reboot_harness`` would run this venv's editable install
    instead, the wrong commit's code."""
    return "reboot_harness" if (tree / "reboot_harness").is_dir() else "harness"


def run_pool(args: argparse.Namespace) -> dict[str, list[Path]]:
    """``args.runs`` separate `run` commands of ``args.scenarios`` per arm, the arms taking
    turns (run 1 of each, then run 2 of each, ...) so that a machine whose load drifts weighs on
    each alike. An arm is a tree (``--tree``, repeatable) as it is, or slowed down
    (``--delay-start``), or both in turn (``--interleave``). Report folders: OUT/NN with one
    arm, OUT/<arm>/NN with more."""
    out = args.out or Path(f"/tmp/rh-spread-{int(time.time())}")
    arms: list[tuple[str, Path, list[Path]]] = []
    for n, tree in enumerate(args.tree or [ROOT]):
        tree = tree.resolve()
        name = f"{n + 1}-{tree.name}" if len(args.tree or [ROOT]) > 1 else tree.name
        if args.delay_start:
            slow = slow_start(tree, args.delay_start, out / f"override-{n + 1}")
            if args.interleave:
                arms.append((f"{name}-plain", tree, list(args.compose)))
            arms.append((f"{name}-slow", tree, [*args.compose, slow]))
        else:
            arms.append((name, tree, list(args.compose)))
    folders: dict[str, list[Path]] = {label: [] for label, _, _ in arms}
    for i in range(args.runs):
        for label, tree, compose in arms:
            base = out / label if len(arms) > 1 else out
            folder = base / f"{i + 1:02d}"
            env = {**os.environ, "PYTHONPATH": str(tree)}  # its harness, this venv's libraries
            cmd = [sys.executable, "-m", _package(tree), "run", *args.scenarios]
            cmd += ["--report", str(folder)]
            for f in compose:
                cmd += ["--compose", str(f)]
            began = time.time()
            cpu = _children_cpu()
            proc = subprocess.run(cmd, cwd=tree, env=env, check=False, capture_output=True,
                                  text=True)  # fmt: skip
            cpu = _children_cpu() - cpu
            load = os.getloadavg()[0]
            if folder.is_dir():  # what the harness itself spent (not the stack, not the engine)
                (folder / "harness-cpu.txt").write_text(f"{cpu:.2f}\n")
            print(f"{label} run {i + 1}/{args.runs}: exit {proc.returncode},"
                  f" {time.time() - began:.0f} s, harness CPU {cpu:.1f} s, load {load:.1f}"
                  f" -> {folder}", flush=True)  # fmt: skip
            if proc.returncode not in (0, 1):
                print(proc.stderr.strip().splitlines()[-1:], file=sys.stderr)
            if (folder / "results.json").is_file():
                folders[label].append(folder)
    return folders


def pool_of(folders: Sequence[Path]) -> list[list[dict[str, Any]]]:
    """One list of scenario results per run: a results.json holding N repeats is N runs."""
    from reboot_harness.report.compare import load_results

    runs: dict[tuple[Path, int], list[dict[str, Any]]] = {}
    for folder in folders:
        for s in load_results(folder):
            runs.setdefault((folder, int(s.get("repeat") or 0)), []).append(s)
    return list(runs.values())


def spread(pool: Sequence[Sequence[Mapping[str, Any]]]) -> None:
    by_key: dict[str, list[tuple[float | None, float | None]]] = {}
    for run in pool:
        for s in run:
            by_key.setdefault(f"{s['name']}[{s['variant']}]", []).append(waits(s))
    print(f"{'scenario':32} {'figure':13} {'n':>3} {'p50':>7} {'p90':>7} {'min':>7} {'max':>7}"
          "  never")  # fmt: skip
    for key, pairs in by_key.items():
        for label, values in (("recovery", [p[0] for p in pairs]),
                              ("longest wait", [p[1] for p in pairs])):  # fmt: skip
            got = [v for v in values if v is not None]
            if not got:
                print(f"{key:32} {label:13} {0:3d}  (never recovered in {len(values)} runs)")
                continue
            print(f"{key:32} {label:13} {len(got):3d} {quantile(got, 0.5):7.2f}"
                  f" {quantile(got, 0.9):7.2f} {min(got):7.2f} {max(got):7.2f}"
                  f"  {len(values) - len(got)}")  # fmt: skip


def false_alarms(pool: Sequence[Sequence[dict[str, Any]]], halves: int, pairs: bool,
                 seed: int) -> None:  # fmt: skip
    """Same-commit comparisons judged by reboot_harness.report.compare: every regression is a false
    alarm."""
    from reboot_harness.report.compare import compare

    if halves:
        rng = random.Random(seed)
        half = len(pool) // 2
        flagged = 0
        print(f"\n{halves} comparisons of disjoint halves ({half} runs vs {half}, seed {seed}):")
        for i in range(halves):
            order = list(range(len(pool)))
            rng.shuffle(order)
            a = [s for j in order[:half] for s in pool[j]]
            b = [s for j in order[half : 2 * half] for s in pool[j]]
            got = compare(a, b)
            flagged += bool(got.regressions)
            for c in got.regressions:
                print(f"  #{i + 1}: {c.scenario} {c.where} {c.metric}: {c.kind} ({c.why})")
        print(f"comparisons raising a regression: {flagged} of {halves}")
    if pairs:
        flagged = total = 0
        for a, b in itertools.permutations(range(len(pool)), 2):
            total += 1
            flagged += bool(compare(pool[a], pool[b]).regressions)
        print(f"ordered pairs of single runs raising a regression: {flagged} of {total}")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("scenarios", nargs="*", default=["cold-start"])
    p.add_argument("--runs", type=int, default=10, help="runs to make (default 10)")
    p.add_argument(
        "--tree",
        type=Path,
        action="append",
        help="a checkout to run (default: this one); repeatable: the trees take turns",
    )
    p.add_argument(
        "--interleave",
        action="store_true",
        help="with --delay-start: take turns between the tree as it is and slowed",
    )
    p.add_argument("--out", type=Path, help="where the report folders go (default /tmp/…)")
    p.add_argument("--compose", type=Path, action="append", default=[],
                   help="a compose override passed to every run (repeatable)")  # fmt: skip
    p.add_argument(
        "--delay-start",
        action="append",
        default=[],
        metavar="SERVICE=SECONDS",
        help="make SERVICE start SECONDS later at every boot (a compose override;"
        " repeatable): a real slowdown to see whether compare notices it",
    )
    p.add_argument(
        "--from",
        dest="given",
        nargs="+",
        type=Path,
        metavar="PATH",
        help="report folders or results.json files already made (no runs): one pool",
    )
    p.add_argument(
        "--against",
        nargs="+",
        type=Path,
        metavar="PATH",
        help="with --from: a second pool, compared with the first",
    )
    p.add_argument(
        "--halves",
        type=int,
        default=0,
        metavar="K",
        help="judge K same-commit comparisons of disjoint halves of the pool",
    )
    p.add_argument("--pairs", action="store_true",
                   help="judge every ordered pair of single runs of the pool")  # fmt: skip
    p.add_argument("--seed", type=int, default=1)
    args = p.parse_args()
    if args.given:
        arms = {"given": _expand(args.given)}
        if args.against:
            arms["against"] = _expand(args.against)
    else:
        arms = run_pool(args)
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"load average now {load}")
    pools = {}
    for label, folders in arms.items():
        pool = pools[label] = pool_of(folders)
        print(f"\n== {label}: {len(pool)} runs from {len(folders)} folders")
        cpu = [float((f / "harness-cpu.txt").read_text()) for f in folders
               if (f / "harness-cpu.txt").is_file()]  # fmt: skip
        if cpu:
            p50, p90 = quantile(cpu, 0.5), quantile(cpu, 0.9)
            print(f"harness CPU per run (user+sys of `run`, up and down included): p50"
                  f" {p50:.1f} s, p90 {p90:.1f} s, n {len(cpu)}")  # fmt: skip
        spread(pool)
        false_alarms(pool, args.halves, args.pairs, args.seed)
    if len(pools) == 2:
        between(*pools.values(), names=tuple(pools), draws=args.halves, seed=args.seed)
    return 0


def _expand(paths: Sequence[Path]) -> list[Path]:
    """Each path, or the numbered run folders in it."""
    found = [f for g in paths for f in (sorted(g.glob("[0-9]*")) or [g])]
    return [f for f in found if f.is_file() or any(f.glob("results.json"))]


def between(a: Sequence[Sequence[dict[str, Any]]], b: Sequence[Sequence[dict[str, Any]]],
            names: tuple[str, ...], draws: int = 0, seed: int = 1) -> None:  # fmt: skip
    """What compare says of one arm against the other: all their runs, then 5 against 5 (in
    order, then ``draws`` random draws: how often a night of --repeat 5 would see it)."""
    from reboot_harness.report.compare import compare, summary

    print(f"\n== compare {names[0]} -> {names[1]}")
    chunks = [(0, len(a), 0, len(b))] + [
        (i, i + 5, i, i + 5) for i in range(0, min(len(a), len(b)) - 4, 5)
    ]
    chunks = list(dict.fromkeys(chunks))  # (5 runs a side: the whole is the one chunk)
    for i, j, k, m in chunks:
        got = compare([s for run in a[i:j] for s in run], [s for run in b[k:m] for s in run])
        print(f"runs {i + 1}-{j} vs {k + 1}-{m}: {summary(got)}")
        for c in got.regressions:
            print(f"  {c.scenario} {c.where} {c.metric}: {c.baseline} -> {c.new} ({c.why})")
    if draws and min(len(a), len(b)) >= 5:
        rng = random.Random(seed)
        seen = 0
        for _ in range(draws):
            got = compare([s for run in rng.sample(list(a), 5) for s in run],
                          [s for run in rng.sample(list(b), 5) for s in run])  # fmt: skip
            seen += any(c.metric == "recovery_s" for c in got.regressions)
        print(f"{draws} draws of 5 runs against 5 (seed {seed}): recovery_s a regression in {seen}")


if __name__ == "__main__":
    sys.exit(main())
