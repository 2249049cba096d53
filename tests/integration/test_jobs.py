"""`run --jobs N` on the real stack: scenario variants at once, each in a process of its own
with its own stack; results and reports in plan order; a time limit, a Ctrl-C of the terminal
(SIGINT to the whole process group) and a SIGTERM to `run` alone each stop every running job,
healed, with nothing of any job left on the engine."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import threading
import time
from pathlib import Path

import docker
import psutil
import pytest

from tests.integration.test_trust import MANAGED, owned_by, spawn

pytestmark = pytest.mark.docker
# Each test brings its own stacks (owned by the jobs of the run it starts): spread over workers.
INDEPENDENT = True
OWNER = "org.reboot-harness.owner"


class Watch:
    """Follows a `run` while it runs: every job process it started, and the most stacks its
    jobs owned at one moment (distinct owner pids among the engine's containers)."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.jobs: set[int] = set()
        self.most_stacks = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._follow, daemon=True)
        self._thread.start()

    def _follow(self) -> None:
        c = docker.from_env()
        while not self._stop.is_set():
            try:
                children = psutil.Process(self.pid).children()
            except psutil.NoSuchProcess:
                return  # `run` itself has ended
            for child in children:
                # (not multiprocessing's resource tracker, also a child of `run`); a job that
                # ends between the listing and this read is gone, not the end of the watch
                with contextlib.suppress(psutil.NoSuchProcess, psutil.ZombieProcess):
                    if "spawn_main" in " ".join(child.cmdline()):
                        self.jobs.add(child.pid)
            try:  # sparse: labels from the list itself (a container may be gone by now)
                listed = c.containers.list(filters=MANAGED, sparse=True)
            except docker.errors.APIError:
                listed = []
            owners = {
                int((x.attrs.get("Labels") or {}).get(OWNER, "0:").split(":", 1)[0] or 0)
                for x in listed
            }
            self.most_stacks = max(self.most_stacks, len(owners & self.jobs))
            time.sleep(0.5)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(10)


def test_jobs_run_variants_at_once_each_on_its_own_stack(tmp_path: Path) -> None:
    """`run -j 2 cold-start graphite-piddir --json --report DIR`: two stacks at once, each owned
    by a job process of its own (not `run`); every variant passes; the JSON, the table and the
    reports list them in plan order; nothing is left."""
    proc = spawn(
        "run", "cold-start", "graphite-piddir", "-j", "2", "--json", "--report", str(tmp_path)
    )
    watch = Watch(proc.pid)
    try:
        out, err = proc.communicate(timeout=600)
    finally:
        watch.stop()
    assert proc.returncode == 0, err[-4000:]
    doc = json.loads(out)
    plan = [("cold-start", "fixed"), ("graphite-piddir", "fixed"), ("graphite-piddir", "incident")]
    assert [(r["name"], r["variant"]) for r in doc["scenarios"]] == plan
    assert all(r["passed"] for r in doc["scenarios"]), doc["scenarios"]
    results = json.loads((tmp_path / "results.json").read_text())["scenarios"]
    assert [(r["name"], r["variant"]) for r in results] == plan
    assert watch.most_stacks == 2, f"never two stacks at once ({watch.most_stacks})"
    assert proc.pid not in watch.jobs and len(watch.jobs) >= 3, watch.jobs
    assert owned_by(watch.jobs | {proc.pid}) == []
    # what each job said reached stderr, named; stdout was the JSON alone (parsed above)
    assert "graphite-piddir[incident]: " in err and "cold-start[fixed]: " in err


# max-duration: the time limit; ctrl-c: SIGINT to the whole process group, as a terminal's
# Ctrl-C does; sigterm: SIGTERM to `run` alone
@pytest.mark.parametrize("how", ["max-duration", "ctrl-c", "sigterm"])
def test_stopping_a_run_with_jobs_heals_every_running_one(how: str) -> None:
    """However `run -j 2` is stopped, every job running then heals and removes its stack before
    `run` exits, and the last line says so (the time limit names those that did not finish and
    those not started)."""
    args = ["run", "cold-start", "graphite-piddir", "-j", "2"]
    proc = spawn(*args, "--max-duration", "15s") if how == "max-duration" else spawn(*args)
    watch = Watch(proc.pid)
    try:
        if how != "max-duration":
            deadline = time.monotonic() + 120
            while watch.most_stacks < 2 and time.monotonic() < deadline:
                time.sleep(0.5)
            assert watch.most_stacks == 2, "the two jobs never both had a stack"
            if how == "ctrl-c":
                os.killpg(proc.pid, signal.SIGINT)  # what a terminal's Ctrl-C does
            else:
                proc.send_signal(signal.SIGTERM)
        _out, err = proc.communicate(timeout=300)
    finally:
        watch.stop()
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    last = err.strip().splitlines()[-1]
    if how == "max-duration":
        assert proc.returncode == 1, err[-3000:]
        assert last == (
            "reboot-harness run: stopped after --max-duration 15s: cold-start[fixed],"
            " graphite-piddir[fixed] did not finish (healed, their stacks removed); not started:"
            " graphite-piddir[incident]"
        ), last
    else:
        code = 130 if how == "ctrl-c" else 143
        assert proc.returncode == code, err[-3000:]
        assert last.startswith("reboot-harness run: interrupted"), last
        assert last.endswith("faults healed, stacks removed"), last
    assert len(watch.jobs) == 2, watch.jobs
    assert owned_by(watch.jobs | {proc.pid}) == []
    assert not [pid for pid in watch.jobs if psutil.pid_exists(pid)], "a job outlived `run`"
