"""Benchmark: `reboot-harness up` against plain `docker compose up --wait` on the same compose
files and cached images, in the same run, several rounds. Prints each round, the medians, the
ratio (goal <= 1.05) and each host's time to ready as the harness measured it.

Not a test: run it by hand (`.venv/bin/python bench/bench_up.py --rounds 5`).
"""

from __future__ import annotations

import argparse
import platform
import statistics
import subprocess
import time
import uuid

from harness.owner import Owner
from harness.runner import bring_up
from harness.stack import build, down
from harness.stack.images import ensure_base_image
from harness.stack.lifecycle import (
    _used_subnets,
    default_compose_dir,
    free_subnet_prefix,
)
from harness.state import ProjectState, new_secrets


def bench_state(name: str, tag: str, base: str) -> ProjectState:
    """The state (secrets, env file) of a stack the bench starts with plain compose."""
    compose_dir = default_compose_dir()
    state = ProjectState(
        name=name,
        compose_dir=str(compose_dir),
        compose_files=(str(compose_dir / "stack.yaml"),),
        subnet_prefix=free_subnet_prefix(name, _used_subnets(), set()),
        domain="rh.test",
        image_tag=tag,
        base_image=base,
        owner=str(Owner.current()),
        keep=False,
    )
    state.save(new_secrets())
    return state


def compose_baseline(tag: str, base: str) -> float:
    """Seconds for `docker compose up -d --wait` of the same stack, then remove it."""
    name = f"rh-bench-compose-{uuid.uuid4().hex[:6]}"
    state = bench_state(name, tag, base)
    cmd = ["docker", "compose", "--env-file", str(state.compose_env_file)]
    cmd += ["-f", state.compose_files[0]]
    began = time.perf_counter()
    try:
        subprocess.run([*cmd, "up", "-d", "--wait"], check=True, capture_output=True)
        return time.perf_counter() - began
    finally:
        down(name)


def harness_up() -> tuple[float, dict[str, float]]:
    name = f"rh-bench-harness-{uuid.uuid4().hex[:6]}"
    began = time.perf_counter()
    try:
        report = bring_up(name, keep=False)
        return time.perf_counter() - began, report.readiness.seconds()
    finally:
        down(name)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--rounds", type=int, default=3)
    args = p.parse_args()
    tag = build()
    base = ensure_base_image()
    print(f"machine: {platform.node()} {platform.machine()}, images reboot-harness/*:{tag}")
    compose_times, harness_times = [], []
    ready: dict[str, list[float]] = {}
    for i in range(args.rounds):
        # Alternate the order so neither side always runs on a warmer machine.
        order = ("compose", "harness") if i % 2 == 0 else ("harness", "compose")
        for which in order:
            if which == "compose":
                compose_times.append(compose_baseline(tag, base))
            else:
                secs, hosts = harness_up()
                harness_times.append(secs)
                for host, t in hosts.items():
                    ready.setdefault(host, []).append(t)
        print(
            f"round {i + 1}: docker compose up --wait {compose_times[-1]:.1f}s,"
            f" reboot-harness up {harness_times[-1]:.1f}s"
        )
    c, h = statistics.median(compose_times), statistics.median(harness_times)
    print(
        f"median: compose {c:.1f}s, harness {h:.1f}s,"
        f" ratio harness/compose {h / c:.2f} (goal <= 1.05)"
    )
    print("harness time to ready per host (median):")
    for host, ts in sorted(ready.items(), key=lambda kv: statistics.median(kv[1])):
        print(f"  {host:9} {statistics.median(ts):5.1f}s")


if __name__ == "__main__":
    main()
