"""Benchmark: `reboot-harness up` against plain `docker compose up --wait` on the same compose
files and cached images, in the same run, several rounds. Prints each round, the medians, the
ratio (goal <= 1.05), where `up`'s time goes (its own work, `docker compose up -d`, the wait for
the checks) and each host's time to ready, counted from the start of `up`.

Both sides poll alike: the compose baseline gets an override that runs every service's
HEALTHCHECK every ``--interval`` seconds (the images say 2 s, which would make compose notice a
ready service up to 2 s late while the harness re-checks within tens of milliseconds); the
harness re-runs a failing check within 40 ms and a holding one every 0.25 s. ``--interval 2``
gives the images' own pace.

What the two sides wait for is not the same, and the figure must be read with that: compose
waits for each container's HEALTHCHECK (a daemon accepts connections), `up` for every recovery
check (a replica replicating and caught up, every sentinel agreeing, a metric landed in whisper,
a socket.io echo through each LB).

Not a test: run it by hand (`.venv/bin/python bench/bench_up.py --rounds 5`).
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import subprocess
import time
import uuid
from pathlib import Path

from reboot_harness.run.bringup import bring_up
from reboot_harness.stack.images import ensure_base_image
from reboot_harness.stack.lifecycle import (
    _used_subnets,
    build,
    default_compose_dir,
    free_subnet_prefix,
)
from reboot_harness.stack.owner import Owner
from reboot_harness.stack.removal import down
from reboot_harness.stack.state import ProjectState, new_secrets


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


def pace_override(state: ProjectState, interval: float) -> Path:
    """A compose override running every service's HEALTHCHECK every ``interval`` seconds."""
    cmd = ["docker", "compose", "--env-file", str(state.compose_env_file)]
    cmd += ["-f", state.compose_files[0], "config", "--services"]
    services = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout.split()
    every = f"{max(1, round(interval * 1000))}ms"
    doc = {"services": {s: {"healthcheck": {"interval": every}} for s in services}}
    path = state.directory / "pace.json"
    path.write_text(json.dumps(doc))
    return path


def compose_baseline(tag: str, base: str, interval: float) -> float:
    """Seconds for `docker compose up -d --wait` of the same stack, then remove it."""
    name = f"rh-bench-compose-{uuid.uuid4().hex[:6]}"
    state = bench_state(name, tag, base)
    cmd = ["docker", "compose", "--env-file", str(state.compose_env_file)]
    cmd += ["-f", state.compose_files[0], "-f", str(pace_override(state, interval))]
    began = time.perf_counter()
    try:
        subprocess.run([*cmd, "up", "-d", "--wait"], check=True, capture_output=True)
        return time.perf_counter() - began
    finally:
        down(name)


def harness_up() -> tuple[float, float, dict[str, float]]:
    """Seconds for `up`, when `docker compose up -d` returned in it, and each host's time to
    ready (all counted from the start of `up`)."""
    name = f"rh-bench-harness-{uuid.uuid4().hex[:6]}"
    began_wall, began = time.time(), time.perf_counter()
    try:
        report = bring_up(name, keep=False)
        took = time.perf_counter() - began
        hosts = {h: t - began_wall for h, t in report.readiness.ready_at.items()}
        # the wait starts when `docker compose up -d` has returned
        return took, report.readiness.started - began_wall, hosts
    finally:
        down(name)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument(
        "--interval",
        type=float,
        default=0.25,
        help="compose's HEALTHCHECK interval in seconds (default 0.25; the images say 2)",
    )
    args = p.parse_args()
    tag = build()
    base = ensure_base_image()
    print(
        f"machine: {platform.node()} {platform.machine()}, images reboot-harness/*:{tag};"
        f" compose healthchecks every {args.interval:g}s"
    )
    compose_times, harness_times, launches = [], [], []
    ready: dict[str, list[float]] = {}
    for i in range(args.rounds):
        # Alternate the order so neither side always runs on a warmer machine.
        order = ("compose", "harness") if i % 2 == 0 else ("harness", "compose")
        for which in order:
            if which == "compose":
                compose_times.append(compose_baseline(tag, base, args.interval))
            else:
                secs, launched, hosts = harness_up()
                harness_times.append(secs)
                launches.append(launched)
                for host, t in hosts.items():
                    ready.setdefault(host, []).append(t)
        print(
            f"round {i + 1}: docker compose up --wait {compose_times[-1]:.1f}s,"
            f" reboot-harness up {harness_times[-1]:.1f}s"
            f" (compose up -d returned in it at {launches[-1]:.1f}s)"
        )
    c, h = statistics.median(compose_times), statistics.median(harness_times)
    print(
        f"median: compose {c:.1f}s, harness {h:.1f}s,"
        f" ratio harness/compose {h / c:.2f} (goal <= 1.05)"
    )
    print(
        f"harness: `docker compose up -d` returned at {statistics.median(launches):.1f}s (median)"
    )
    print("harness time to ready per host, from the start of `up` (median):")
    for host, ts in sorted(ready.items(), key=lambda kv: statistics.median(kv[1])):
        print(f"  {host:9} {statistics.median(ts):5.1f}s")


if __name__ == "__main__":
    main()
