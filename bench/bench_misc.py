"""Benchmarks of issue 5 that need one stack: memory of a stack (docker stats), how many fit,
image rebuild when nothing changed, and recovery-detection latency of `wait_recovered` against
an independent tight probe. Printed as figures and ratios measured in this run.

Run by hand: `.venv/bin/python bench/bench_misc.py [--reboots 10]` (not part of CI).
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import threading
import time
import urllib.request
import uuid

from harness.runner import bring_up, wait_recovered
from harness.stack import Stack, down
from harness.stack.engine import client


def rebuild_seconds() -> tuple[float, float]:
    """`reboot-harness build` with nothing changed; a bare `docker build` of one cached image."""
    began = time.perf_counter()
    subprocess.run([sys.executable, "-m", "harness", "build"], check=True, capture_output=True)
    ours = time.perf_counter() - began
    from harness.stack.images import OFFLINE_BASE
    from harness.stack.lifecycle import default_compose_dir

    began = time.perf_counter()
    subprocess.run(
        [
            "docker",
            "build",
            "-q",
            "--build-arg",
            f"BASE_IMAGE={OFFLINE_BASE}",
            str(default_compose_dir() / "images" / "dns"),
        ],
        check=True,
        capture_output=True,
    )
    return ours, time.perf_counter() - began


def memory_mib(stack: Stack) -> dict[str, float]:
    out = {}
    for host, c in stack.containers().items():
        stats = c.stats(stream=False)
        mem = stats["memory_stats"]
        usage = mem.get("usage", 0) - (mem.get("stats") or {}).get("cache", 0)
        out[host] = usage / 2**20
    return out


def probe_latency(stack: Stack, host: str, reboots: int) -> list[float]:
    """Reboot ``host`` (an app) and compare when a 5 ms probe of its /health first succeeds with
    when wait_recovered(processes, limits) returns."""
    lat = []
    for _ in range(reboots):
        c = stack.container(host, refresh=True)
        c.stop(timeout=10)
        c.start()
        first_ok: list[float] = []

        def probe(first_ok: list[float] = first_ok) -> None:
            deadline = time.time() + 60
            while time.time() < deadline:
                try:
                    ip, port = stack.endpoint(host, 8000)
                    urllib.request.urlopen(f"http://{ip}:{port}/health", timeout=0.5).read()
                    first_ok.append(time.time())
                    return
                except Exception:
                    time.sleep(0.005)

        t = threading.Thread(target=probe)
        t.start()
        wait_recovered(stack, checks=("processes", "limits"), timeout=60, check_deadline=1)
        noticed = time.time()
        t.join()
        if first_ok:
            lat.append(noticed - first_ok[0])
    return lat


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--reboots", type=int, default=10)
    args = p.parse_args()
    info = client().info()
    print(
        f"machine: {platform.node()} {info['NCPU']} cpus {info['MemTotal'] / 2**30:.1f} GiB,"
        f" engine {info['ServerVersion']}, {os.cpu_count()} cores"
    )
    ours, bare = rebuild_seconds()
    print(
        f"rebuild with nothing changed: reboot-harness build {ours:.2f}s (goal <= 5s);"
        f" bare `docker build` of one cached image {bare:.2f}s"
    )
    name = f"rh-bench-misc-{uuid.uuid4().hex[:6]}"
    report = bring_up(name, keep=False)
    try:
        mem = memory_mib(report.stack)
        total = sum(mem.values())
        print(
            f"memory of one stack: {total:.0f} MiB (goal <= 1024 MiB); per host: "
            + ", ".join(f"{h} {m:.0f}" for h, m in sorted(mem.items()))
        )
        free = info["MemTotal"] / 2**20
        print(f"stacks that fit in {free / 1024:.0f} GiB by memory: {int(free // total)}")
        lat = probe_latency(report.stack, "app1", args.reboots)
        if lat:
            print(
                f"recovery detection latency over {len(lat)} reboots (wait_recovered - probe):"
                f" median {statistics.median(lat) * 1000:.0f} ms, max {max(lat) * 1000:.0f} ms"
                " (goal <= 100 ms)"
            )
    finally:
        down(name)


if __name__ == "__main__":
    main()
