"""Benchmark: cold start against each service's own ready time, in the same run.

For every service of the shipped stack: a compose project with that service alone
(`docker compose up -d --wait --no-deps SERVICE`, its own HEALTHCHECK deciding "ready"), timed
from the command to healthy. Then `reboot-harness up` of the whole stack: the time from the last
host's container start (the engine's `start` event) to "every recovery check holds". The goal:
cold start <= 1.2x the slowest service alone. Several rounds, medians, one ratio.

Not a test: run it by hand on a quiet machine (`.venv/bin/python bench/bench_coldstart.py
--rounds 3`).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import time
import uuid

from bench_up import bench_state  # (run as a script: bench/ is on the path)

from reboot_harness.run.bringup import bring_up
from reboot_harness.run.request import RunRequest
from reboot_harness.stack.engine import client
from reboot_harness.stack.images import ensure_base_image
from reboot_harness.stack.lifecycle import build
from reboot_harness.stack.removal import down
from reboot_harness.stack.state import ProjectState


def _state(name: str, tag: str, base: str) -> ProjectState:
    return bench_state(name, tag, base)


def _compose(state: ProjectState) -> list[str]:
    return ["docker", "compose", "-p", state.name, "--env-file", str(state.compose_env_file),
            "-f", state.compose_files[0]]  # fmt: skip


def services(tag: str, base: str) -> list[str]:
    state = _state(f"rh-bench-cfg-{uuid.uuid4().hex[:6]}", tag, base)
    try:
        out = subprocess.run(
            [*_compose(state), "config", "--format", "json"], capture_output=True, check=True
        ).stdout
        found = json.loads(out)["services"]
    finally:
        ProjectState.forget(state.name)
    # One service per image (the first by name: mysql1, the primary, for mysql): a replica
    # alone waits for its primary by design, which is not its own ready time.
    by_image: dict[str, str] = {}
    for name in sorted(found):
        by_image.setdefault(str(found[name]["image"]).split(":")[0], name)
    return sorted(by_image.values())


def alone(service: str, tag: str, base: str, env: dict[str, str] | None = None) -> float:
    """Seconds from SERVICE's container start (engine event) to its own HEALTHCHECK command
    passing, the service started alone (`up -d --no-deps`); the command run every 0.1 s (the
    image's own 2 s interval would round every figure up to it)."""
    state = _state(f"rh-bench-alone-{uuid.uuid4().hex[:6]}", tag, base)
    since = int(time.time()) - 1
    try:
        extra = [f"--env={k}={v}" for k, v in (env or {}).items()]
        subprocess.run(
            [*_compose(state), "run", "-d", "--no-deps", *extra, service],
            check=True, capture_output=True, timeout=300,
        )  # fmt: skip
        c = client()
        (ctr,) = c.containers.list(filters={"label": [f"com.docker.compose.project={state.name}"]})
        test = c.images.get(ctr.attrs["Config"]["Image"]).attrs["Config"]["Healthcheck"]["Test"]
        argv = ["sh", "-c", test[1]] if test[0] == "CMD-SHELL" else list(test[1:])
        deadline = time.monotonic() + 120
        while ctr.exec_run(argv).exit_code != 0:
            if time.monotonic() > deadline:
                raise RuntimeError(f"{service} alone: not healthy within 120 s")
            time.sleep(0.1)
        ok = time.time()
        return ok - _started(state.name, since)[0][0]
    finally:
        down(state.name)


def _started(project: str, since: int) -> list[tuple[float, str]]:
    """(time, service) of each container start of ``project`` since ``since``."""
    events = client().events(
        since=since, until=int(time.time()) + 1, decode=True,
        filters={"type": "container", "event": "start",
                 "label": f"com.docker.compose.project={project}"},
    )  # fmt: skip
    return [
        (e["timeNano"] / 1e9, e["Actor"]["Attributes"].get("com.docker.compose.service", "?"))
        for e in events
    ]


def cold_start() -> tuple[float, str]:
    """Seconds from the last host's container start to every check holding, and that host."""
    name = f"rh-bench-cold-{uuid.uuid4().hex[:6]}"
    since = int(time.time()) - 1
    try:
        report = bring_up(name, RunRequest(up_timeout=240.0))
        done = report.readiness.started + max(report.readiness.seconds().values())
        last_t, last_host = max(_started(name, since))
        return done - last_t, last_host
    finally:
        down(name)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--rounds", type=int, default=3)
    args = p.parse_args()
    tag = build()
    base = ensure_base_image()
    names = services(tag, base)
    own: dict[str, list[float]] = {s: [] for s in names}
    cold: list[float] = []
    slowest: list[float] = []
    # A redis host waits at boot up to RH_REDIS_PEER_WAIT (5 s) for a peer to say who the
    # master is (the sentinel-all-replicas fix): alone, nobody answers and it waits it out.
    # Measured both ways; the ratio is given against each.
    redis = [s for s in names if s.startswith("redis")]
    waitless = {f"{s} (no peer wait)": s for s in redis}
    own.update({k: [] for k in waitless})
    for i in range(args.rounds):
        for s in names:
            own[s].append(alone(s, tag, base))
        for k, s in waitless.items():
            own[k].append(alone(s, tag, base, {"RH_REDIS_PEER_WAIT": "0"}))
        secs, last = cold_start()
        cold.append(secs)
        slowest.append(max(own[s][-1] for s in names))
        print(
            f"round {i + 1}: slowest service alone {slowest[-1]:.1f}s"
            f" ({max(names, key=lambda s: own[s][-1])}); cold start {secs:.1f}s after the last"
            f" host ({last}) started; ratio {secs / slowest[-1]:.2f}",
            flush=True,
        )
    print("each service alone (median):")
    for s in sorted(own, key=lambda s: statistics.median(own[s])):
        print(f"  {s:24} {statistics.median(own[s]):5.1f}s")
    c, s = statistics.median(cold), statistics.median(slowest)
    print(f"median: cold start {c:.1f}s, slowest alone {s:.1f}s, ratio {c / s:.2f} (goal <= 1.2)")
    without = max(
        statistics.median(own[k]) for k in own if k not in redis
    )  # redis without its peer wait in place of redis
    print(
        f"against the slowest alone without redis's peer wait ({without:.1f}s):"
        f" ratio {c / without:.2f}"
    )


if __name__ == "__main__":
    main()
