"""`run --jobs`'s pool: real spawned processes running stand-ins for run_scenario (no Docker):
the width is kept, results come back in plan order, a job's error stops the others (each
healed: its `finally` ran), a job that dies is a failed result, a time limit stops the running
ones and says which, and engines are shared out by load."""

from __future__ import annotations

import json
import os
import signal
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from reboot_harness import interrupts
from reboot_harness.errors import HarnessError, UsageError
from reboot_harness.model.scenario import Scenario
from reboot_harness.run.jobs import Job, Pool
from reboot_harness.run.loop import ScenarioResult
from reboot_harness.run.request import RunRequest
from reboot_harness.stack.engines import Engine


@dataclass(frozen=True)
class StandIn:
    """What a job runs here, in place of run_scenario: pickled with the plan and the log folder."""

    plan: dict[str, tuple[str, float]]
    log: str

    def __call__(
        self, scenario: Scenario, variant: str, *, request: RunRequest, progress: Any
    ) -> ScenarioResult:
        return stand_in(scenario, variant, progress=progress, plan=self.plan, folder=self.log)


def stand_in(
    scenario: Scenario, variant: str, *, progress: Any, plan: dict[str, Any], folder: str
) -> ScenarioResult:
    """What ``plan`` says for its label; it writes when it began and ended (and whether it was
    healed) into ``folder``."""
    label = f"{scenario.name}[{variant}]"
    what, seconds = plan[label]
    log = Path(folder) / label
    began = time.time()
    progress(f"started in {os.getpid()}")
    (Path(folder) / f"started-{label}").touch()
    try:
        if what == "meet":  # wait (up to 60 s) until `seconds` jobs have started: at once
            deadline = time.time() + 60
            while len(list(Path(folder).glob("started-*"))) < seconds:
                assert time.time() < deadline, "the other jobs never started"
                time.sleep(0.05)
            return ScenarioResult(scenario.name, variant, True, what, seconds, "p")
        if what == "usage":
            time.sleep(seconds)
            raise UsageError("bad input found late")
        if what == "boom":
            time.sleep(seconds)
            raise ValueError("not the harness's")
        if what == "die":
            time.sleep(seconds)
            os.kill(os.getpid(), signal.SIGKILL)
        time.sleep(seconds)
        return ScenarioResult(scenario.name, variant, what == "pass", what, seconds, "p")
    finally:
        with interrupts.shielded():
            entry = {
                "began": began, "ended": time.time(), "pid": os.getpid(),
                "host": os.environ.get("DOCKER_HOST", ""),
            }  # fmt: skip
            log.write_text(json.dumps(entry))


@pytest.fixture()
def scenario() -> Scenario:
    from reboot_harness.scenarios import find

    return find.load_all(None)[0]


def pool(tmp_path: Path, plan: dict[str, tuple[str, float]], width: int, **kw: Any) -> Pool:
    heard: list[tuple[str, str]] = kw.pop("heard", [])
    finished: list[tuple[ScenarioResult, Any]] = kw.pop("finished", [])
    return Pool(
        width,
        kw.pop("engines", ()),
        RunRequest(),
        lambda label, line: heard.append((label, line)),
        lambda result, engine: finished.append((result, engine)),
        target=StandIn(plan, str(tmp_path)),
    )


def jobs_for(scenario: Scenario, count: int) -> list[Job]:
    return [Job(i, scenario, f"v{i}") for i in range(count)]


def spans(tmp_path: Path) -> dict[str, dict[str, Any]]:
    return {
        p.name: json.loads(p.read_text())
        for p in tmp_path.iterdir()
        if not p.name.startswith("started-")
    }


def most_at_once(entries: list[dict[str, Any]]) -> int:
    edges = sorted([(e["began"], 1) for e in entries] + [(e["ended"], -1) for e in entries])
    now = top = 0
    for _, step in edges:
        now += step
        top = max(top, now)
    return top


def test_width_at_a_time_in_processes_of_their_own_results_in_plan_order(
    tmp_path: Path, scenario: Scenario
) -> None:
    jobs = jobs_for(scenario, 5)
    # v0 and v1 return only once both have started (they must run at once); the rest, in turn
    plan = {j.label: ("meet", 2) if j.index < 2 else ("pass", 0.3 * j.index) for j in jobs}
    heard: list[tuple[str, str]] = []
    results = pool(tmp_path, plan, 2, heard=heard).run(jobs)
    assert [r.variant for r in results] == [f"v{i}" for i in range(5)]
    assert all(r.passed for r in results)
    log = spans(tmp_path)
    assert most_at_once(list(log.values())) == 2
    pids = {e["pid"] for e in log.values()}
    assert len(pids) == 5 and os.getpid() not in pids
    assert {label for label, _ in heard} == set(plan)


def test_a_usage_error_in_one_job_stops_the_others_healed_and_is_raised_named(
    tmp_path: Path, scenario: Scenario
) -> None:
    jobs = jobs_for(scenario, 3)
    plan = {
        jobs[0].label: ("pass", 60.0),
        jobs[1].label: ("usage", 3.0),
        jobs[2].label: ("pass", 1),
    }
    p = pool(tmp_path, plan, 2)
    began = time.monotonic()
    with pytest.raises(UsageError, match=r"\[v1\]: bad input found late"):
        p.run(jobs)
    assert time.monotonic() - began < 30, "the running job was not stopped"
    assert p.stopped == [jobs[0].label]
    log = spans(tmp_path)
    assert set(log) == {jobs[0].label, jobs[1].label}, "the third must never start"
    assert p.results == {}


def test_an_exception_not_the_harnesss_is_raised_with_the_jobs_traceback(
    tmp_path: Path, scenario: Scenario
) -> None:
    jobs = jobs_for(scenario, 1) + jobs_for(scenario, 2)[1:]
    plan = {jobs[0].label: ("boom", 0.2), jobs[1].label: ("pass", 0.2)}
    with pytest.raises(HarnessError) as caught:
        pool(tmp_path, plan, 1).run(jobs)
    assert "[v0]: ValueError: not the harness's" in str(caught.value)
    assert "Traceback" in str(caught.value) and "stand_in" in str(caught.value)


def test_a_job_that_dies_is_a_failed_result_and_the_rest_go_on(
    tmp_path: Path, scenario: Scenario
) -> None:
    jobs = jobs_for(scenario, 3)
    plan = {jobs[0].label: ("die", 0.2), jobs[1].label: ("pass", 0.5), jobs[2].label: ("fail", 0.2)}
    results = pool(tmp_path, plan, 2).run(jobs)
    assert [r.passed for r in results] == [False, True, False]
    assert "ended without a result (killed by SIGKILL)" in results[0].reason
    assert "gc" in results[0].reason
    assert results[2].reason == "fail"


def test_a_time_limit_stops_every_running_job_healed_and_names_them(
    tmp_path: Path, scenario: Scenario
) -> None:
    jobs = jobs_for(scenario, 4)
    plan = {j.label: ("pass", (0.2, 60.0, 60.0, 1.0)[j.index]) for j in jobs}
    p = pool(tmp_path, plan, 2)
    began = time.monotonic()
    with pytest.raises(interrupts.TimeUp), interrupts.time_limit(10.0):
        p.run(jobs)
    assert time.monotonic() - began < 40
    assert sorted(p.stopped) == [jobs[1].label, jobs[2].label]
    assert list(p.results) == [0]
    log = spans(tmp_path)
    assert set(log) == {jobs[0].label, jobs[1].label, jobs[2].label}  # healed: `finally` ran
    assert all(log[j.label]["ended"] - log[j.label]["began"] < 20 for j in jobs[1:3])


def test_engines_are_shared_out_by_load_and_bound_in_each_job(
    tmp_path: Path, scenario: Scenario
) -> None:
    a = Engine("unix:///nonexistent/a.sock", "unix:///nonexistent/a.sock")
    b = Engine("unix:///nonexistent/b.sock", "unix:///nonexistent/b.sock")
    jobs = jobs_for(scenario, 4)
    plan = {j.label: ("pass", (5.0, 0.2, 0.2, 0.2)[j.index]) for j in jobs}
    finished: list[tuple[ScenarioResult, Any]] = []
    pool(tmp_path, plan, 2, engines=(a, b), finished=finished).run(jobs)
    log = spans(tmp_path)
    on = {r.variant: e.host for r, e in finished}
    assert {label: e["host"] for label, e in log.items()} == {
        j.label: on[j.variant] for j in jobs
    }, "each job talks to the engine it was given"
    # v0 holds engine a for 5 s: v1 goes to b, and so do v2 and v3 (b is free first)
    assert [on[f"v{i}"] for i in range(4)] == [a.host, b.host, b.host, b.host]
