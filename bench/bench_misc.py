"""Benchmarks of issue 5 that need one stack: memory of a stack (docker stats), how many fit,
image rebuild when nothing changed, and recovery-detection latency of `wait_recovered` against
an independent tight probe. Printed as figures and ratios measured in this run.

Run by hand: `.venv/bin/python bench/bench_misc.py [--reboots 10] [--latency-only]` (not part of
CI).
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from reboot_harness.checks.recovery import wait_recovered
from reboot_harness.checks.run import run_checks
from reboot_harness.run.bringup import bring_up
from reboot_harness.stack.core import Stack
from reboot_harness.stack.engine import client
from reboot_harness.stack.removal import down


def rebuild_seconds() -> tuple[float, float]:
    """`reboot-harness build` with nothing changed; a bare `docker build` of one cached image."""
    began = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "reboot_harness", "build"], check=True, capture_output=True
    )
    ours = time.perf_counter() - began
    from reboot_harness.stack.images import OFFLINE_BASE
    from reboot_harness.stack.lifecycle import default_compose_dir

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


# The independent probe: its own process (no GIL shared with the harness), a tight loop on the
# app's /health through its published port; prints the epoch time of the first 200, and when
# the app says it started listening.
PROBE = """
import json, sys, time, urllib.request
url, deadline = sys.argv[1], time.time() + float(sys.argv[2])
print("ready", flush=True)
while time.time() < deadline:
    try:
        body = urllib.request.urlopen(url, timeout=0.5).read()
    except Exception:
        time.sleep(0.005)
        continue
    print(repr(time.time()), json.loads(body)["since"], flush=True)
    break
"""


@dataclass
class Latency:
    # when wait_recovered returned minus when the probe's first 200 came
    seconds: list[float] = field(default_factory=list)
    rounds_per_s: list[float] = field(default_factory=list)
    cpu_share: list[float] = field(default_factory=list)  # harness CPU / wall while waiting
    seen_as: list[str] = field(default_factory=list)  # the app's state the harness accepted
    # the probe's first 200 minus when the app started listening (its /health `since`)
    after_listen: list[float] = field(default_factory=list)


def probe_latency(stack: Stack, host: str, reboots: int) -> Latency:
    """Reboot ``host`` (an app) and compare when an independent 5 ms probe of its /health first
    succeeds with when wait_recovered(processes, limits) returns."""
    out = Latency()
    for _ in range(reboots):
        c = stack.container(host, refresh=True)
        c.stop(timeout=10)
        c.start()
        ip, port = stack.endpoint(host, 8000)  # published anew at every boot
        probe = subprocess.Popen(
            [sys.executable, "-c", PROBE, f"http://{ip}:{port}/health", "60"],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert probe.stdout is not None
        probe.stdout.readline()  # "ready": the probe is polling before the harness starts
        began, cpu = time.monotonic(), time.process_time()
        readiness = wait_recovered(
            stack, checks=("processes", "limits"), timeout=60, check_deadline=1
        )
        noticed = time.time()
        waited = time.monotonic() - began
        out.rounds_per_s.append(readiness.rounds / waited)
        out.cpu_share.append((time.process_time() - cpu) / waited)
        first_ok = probe.communicate(timeout=70)[0].split()
        if first_ok:
            out.seconds.append(noticed - float(first_ok[0]))
            out.after_listen.append(float(first_ok[0]) - float(first_ok[1]))
            out.seen_as += [
                r.detail for r in readiness.results if r.check == "processes" and r.host == host
            ]
    return out


def _cpu_seconds(pids: list[int]) -> float:
    """User + system CPU of ``pids`` and of their reaped children (a `docker exec`'d command
    is reaped by its shim), in seconds; a process gone meanwhile counts 0."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += sum(int(f) for f in fields[11:15])
    return total / tick


def round_cpu(stack: Stack, rounds: int = 50, repeats: int = 5) -> dict[str, float]:
    """CPU milliseconds one round of wait_recovered's (processes, limits) costs, by who spends
    it: this process, the engine (dockerd, containerd, this stack's shims) and the stack's own
    processes (its probes, supervisord answering them).

    Each figure is the median over ``repeats`` of ``rounds`` back-to-back rounds minus as long
    idle right after: steady background use cancels out; other people's stacks still make the
    engine's share noisy on a shared machine.
    """
    run_checks(stack, ["processes", "limits"])  # the probes are started: steady state
    engine = subprocess.run(["pgrep", "-x", "dockerd|containerd"], capture_output=True, text=True)
    inits = [int(c.attrs["State"]["Pid"]) for c in stack.containers().values()]
    shims = [
        int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1]) for pid in inits
    ]
    pids = {
        "engine": [int(p) for p in engine.stdout.split()] + shims,
        "stack": [pid for host in stack.topology.hosts for pid, _ in stack.processes(host)],
    }

    def sample() -> dict[str, float]:
        return {"harness": time.process_time()} | {k: _cpu_seconds(v) for k, v in pids.items()}

    costs: dict[str, list[float]] = {"harness": [], "engine": [], "stack": [], "wall": []}
    for _ in range(repeats):
        before, began = sample(), time.monotonic()
        for _ in range(rounds):
            run_checks(stack, ["processes", "limits"], deadline_s=1)
        busy, took = sample(), time.monotonic() - began
        time.sleep(took)
        idle = sample()
        for k in busy:
            costs[k].append(((busy[k] - before[k]) - (idle[k] - busy[k])) / rounds * 1000)
        costs["wall"].append(took / rounds * 1000)
    stack.close_sessions()
    return {k: statistics.median(v) for k, v in costs.items()}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--reboots", type=int, default=10)
    p.add_argument(
        "--latency-only", action="store_true", help="skip the rebuild and memory figures"
    )
    args = p.parse_args()
    info = client().info()
    print(
        f"machine: {platform.node()} {info['NCPU']} cpus {info['MemTotal'] / 2**30:.1f} GiB,"
        f" engine {info['ServerVersion']}, {os.cpu_count()} cores"
    )
    if not args.latency_only:
        ours, bare = rebuild_seconds()
        print(
            f"rebuild with nothing changed: reboot-harness build {ours:.2f}s (goal <= 5s);"
            f" bare `docker build` of one cached image {bare:.2f}s"
        )
    name = f"rh-bench-misc-{uuid.uuid4().hex[:6]}"
    report = bring_up(name, keep=False)
    try:
        if not args.latency_only:
            mem = memory_mib(report.stack)
            total = sum(mem.values())
            print(
                f"memory of one stack: {total:.0f} MiB (goal <= 1024 MiB); per host: "
                + ", ".join(f"{h} {m:.0f}" for h, m in sorted(mem.items()))
            )
            free = info["MemTotal"] / 2**20
            print(f"stacks that fit in {free / 1024:.0f} GiB by memory: {int(free // total)}")
        load = os.getloadavg()[0]
        measured = probe_latency(report.stack, "app1", args.reboots)
        lat = measured.seconds
        if lat:
            print(
                f"recovery detection latency over {len(lat)} reboots (wait_recovered - probe):"
                f" median {statistics.median(lat) * 1000:.0f} ms, max {max(lat) * 1000:.0f} ms,"
                f" min {min(lat) * 1000:.0f} ms (goal <= 100 ms)"
            )
            since = [x + y for x, y in zip(lat, measured.after_listen, strict=True)]
            print(
                "the same against the app's own clock (wait_recovered - when it started listening):"
                f" median {statistics.median(since) * 1000:.0f} ms, max {max(since) * 1000:.0f} ms,"
                f" min {min(since) * 1000:.0f} ms"
            )
            for x, seen, served in zip(lat, measured.seen_as, measured.after_listen, strict=True):
                print(
                    f"  {x * 1000:5.0f} ms; harness saw {seen!r}; probe's first 200 came"
                    f" {served * 1000:.0f} ms after the app listened"
                )
            print(
                f"while waiting: {statistics.median(measured.rounds_per_s):.0f} rounds/s, harness"
                f" CPU {statistics.median(measured.cpu_share) * 100:.0f}% of a core (median);"
                f" load average {load:.1f} before, {os.getloadavg()[0]:.1f} after"
            )
        cpu = round_cpu(report.stack)
        print(
            f"one round of (processes, limits): {cpu['wall']:.0f} ms wall, CPU ms: "
            + ", ".join(f"{k} {cpu[k]:.1f}" for k in ("harness", "engine", "stack"))
            + f", total {cpu['harness'] + cpu['engine'] + cpu['stack']:.1f}"
        )
    finally:
        down(name)


if __name__ == "__main__":
    main()
