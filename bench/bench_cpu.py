"""Where the machine's CPU goes while a command runs: each container (by compose service, from
the cgroup v1 cpuacct hierarchy Docker 20.10 uses), each process of this machine by name, and
the machine in all. Not a timed test: a diagnostic to run by hand.

    .venv/bin/python bench/bench_cpu.py -- .venv/bin/reboot-harness run no-minfds
    .venv/bin/python bench/bench_cpu.py --idle 30    # e.g. a stack `up`, idle, with nothing else

Processes that start and end between two samples (runc for each `docker exec`, for example)
are not seen one by one: they are in "not seen by process", the machine's total minus the
containers' and the processes' seen.
"""

from __future__ import annotations

import argparse
import collections
import os
import subprocess
import sys
import time
from pathlib import Path

import psutil

ROOT = Path("/sys/fs/cgroup/cpuacct")


def usage(cgroup: Path) -> float | None:
    """CPU seconds of a cgroup, or None when it is gone."""
    try:
        return int((cgroup / "cpuacct.usage").read_text()) / 1e9
    except OSError:
        return None


def services() -> dict[str, str]:
    """Container id -> its compose service (or its name)."""
    out = subprocess.run(
        ["docker", "ps", "-a", "--no-trunc", "--format",
         '{{.ID}} {{.Label "com.docker.compose.service"}} {{.Names}}'],
        capture_output=True, text=True, check=False,
    ).stdout  # fmt: skip
    found = {}
    for line in out.splitlines():
        parts = line.split()
        if len(parts) >= 2:  # (a container without the label: its name)
            found[parts[0]] = parts[1]
    return found


class Sampler:
    def __init__(self) -> None:
        self.names: dict[str, str] = {}
        self.container_last: dict[str, float] = {}
        self.containers: collections.Counter[str] = collections.Counter()
        self.process_last: dict[int, float] = {}
        self.processes: collections.Counter[str] = collections.Counter()
        self.began = time.monotonic()
        self.total0 = usage(ROOT) or 0.0
        self.docker0 = usage(ROOT / "docker") or 0.0
        self.rounds = 0

    def sample(self) -> None:
        if self.rounds % 5 == 0:
            self.names.update(services())
        self.rounds += 1
        ids = [p.name for p in (ROOT / "docker").glob("*") if len(p.name) == 64]
        inside: set[int] = set()
        for cid in ids:
            used = usage(ROOT / "docker" / cid)
            if used is None:
                continue
            if cid in self.container_last:
                self.containers[self.names.get(cid, cid[:12])] += used - self.container_last[cid]
            self.container_last[cid] = used
            try:
                procs = (ROOT / "docker" / cid / "cgroup.procs").read_text().split()
                inside.update(int(x) for x in procs)
            except OSError:
                pass
        for p in psutil.process_iter(["name", "cpu_times", "cmdline"]):
            times = p.info["cpu_times"]
            if times is None or p.pid in inside or p.pid == os.getpid():
                continue
            used = times.user + times.system
            name = p.info["name"] or "?"
            if name.startswith("python"):
                name = "python " + " ".join((p.info["cmdline"] or [])[1:3])[:60]
            if p.pid in self.process_last:
                self.processes[name] += used - self.process_last[p.pid]
            self.process_last[p.pid] = used

    def report(self) -> str:
        wall = time.monotonic() - self.began
        total = (usage(ROOT) or 0.0) - self.total0
        docker = (usage(ROOT / "docker") or 0.0) - self.docker0
        seen = sum(self.processes.values())
        lines = [
            f"wall {wall:.0f} s; CPU {total:.1f} s ({total / max(wall, 1e-9):.2f} cores):"
            f" containers {docker:.1f} s, processes seen {seen:.1f} s,"
            f" not seen by process {total - docker - seen:.1f} s",
            "containers (by service):",
            *(f"  {v:7.1f} s  {k}" for k, v in self.containers.most_common(20)),
            "processes of this machine:",
            *(f"  {v:7.1f} s  {k}" for k, v in self.processes.most_common(15) if v >= 0.05),
        ]
        return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--idle", type=float, help="sample for this many seconds, no command")
    parser.add_argument("--every", type=float, default=1.0, help="seconds between samples")
    parser.add_argument("command", nargs=argparse.REMAINDER, help="-- COMMAND ARGS…")
    args = parser.parse_args()
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command and not args.idle:
        parser.error("give a command after --, or --idle SECONDS")
    if not ROOT.is_dir():
        parser.error(f"{ROOT}: no cgroup v1 cpuacct hierarchy here")
    sampler = Sampler()
    sampler.sample()
    code = 0
    if command:
        proc = subprocess.Popen(command)
        while proc.poll() is None:
            time.sleep(args.every)
            sampler.sample()
        code = proc.returncode
    else:
        end = time.monotonic() + args.idle
        while time.monotonic() < end:
            time.sleep(args.every)
            sampler.sample()
    print(sampler.report(), file=sys.stderr)
    return code


if __name__ == "__main__":
    sys.exit(main())
