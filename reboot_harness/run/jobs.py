"""`run --jobs N`: up to N scenario variants at once, each in a process of its own.

A job's process is spawned (nothing of this process's Docker clients, threads or locks is
shared), bound to one engine (RH_ENGINES: the one running the fewest jobs, else the engine of
the environment), runs :func:`reboot_harness.run.loop.run_scenario` and sends its progress and
its result back over a pipe. Its stdout is its stderr: `run --json`'s stdout stays the JSON alone.

Stopping is this process's decision: a job ignores SIGINT (a Ctrl-C reaches the whole process
group) and is sent SIGTERM exactly once when this process is interrupted, runs out of time or
must give up; it then heals its faults and removes its stack as a sequential run would, and this
process waits for that (shielded: a second Ctrl-C does not leave a stack behind). A job whose
parent died finds its pipe broken at its next progress line and unwinds the same way.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import signal
import threading
import time
import traceback
from collections import Counter, deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, wait
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import Any, Protocol

from reboot_harness import interrupts
from reboot_harness.errors import EnvironmentProblem, HarnessError, UsageError
from reboot_harness.judging.result import ScenarioResult
from reboot_harness.model.scenario import Scenario
from reboot_harness.run.loop import Progress, run_scenario
from reboot_harness.run.request import RunRequest
from reboot_harness.scenarios import find
from reboot_harness.stack.engines import Engine, answers, bind


class Target(Protocol):
    """What a job runs, called as :func:`reboot_harness.run.loop.run_scenario` is; picklable (a
    module-level function, or an instance of a module-level class)."""

    def __call__(
        self, scenario: Scenario, variant: str, *, request: RunRequest, progress: Progress
    ) -> ScenarioResult: ...


# How long a job stopped with SIGTERM may take to heal and remove its stack before it is killed
# (its stack is then a dead run's, which `gc` and the next `run` remove).
STOP_GRACE_S = 300.0


@dataclass(frozen=True)
class Job:
    index: int  # its place in the plan: results are reported in plan order
    scenario: Scenario
    variant: str
    repeat: int = 0  # which run of the variant (`run --repeat N`: 1..N; else 0)

    @property
    def label(self) -> str:
        return f"{self.scenario.name}[{self.variant}]" + (f" #{self.repeat}" if self.repeat else "")


@dataclass
class _Running:
    job: Job
    engine: Engine | None
    process: BaseProcess
    conn: Connection
    began: float
    stopped: bool = False  # sent its one SIGTERM


@dataclass
class Pool:
    """Runs ``jobs`` up to ``width`` at a time; ``on_progress(label, line)`` and
    ``on_result(result, engine)`` are called in this process as the jobs report.

    After :meth:`run` (returned or raised), ``results`` holds what finished, by plan index, and
    ``stopped`` the labels of the jobs that were running when it was stopped (healed, their
    stacks removed)."""

    width: int
    engines: Sequence[Engine]
    request: RunRequest
    on_progress: Callable[[str, str], None]
    on_result: Callable[[ScenarioResult, Engine | None], None]
    results: dict[int, ScenarioResult] = field(default_factory=dict)
    stopped: list[str] = field(default_factory=list)
    dead: set[str] = field(default_factory=set)  # engines that stopped answering during the run
    # What a job runs: run_scenario, or anything picklable called as it is.
    target: Target = run_scenario
    _running: dict[Any, _Running] = field(default_factory=dict)

    def run(self, jobs: Sequence[Job]) -> list[ScenarioResult]:
        context = multiprocessing.get_context("spawn")
        pending = deque(jobs)
        try:
            while pending or self._running:
                while pending and len(self._running) < self.width:
                    self._start(context, pending.popleft())
                for conn in wait(list(self._running)):
                    self._hear(self._running[conn])
        except BaseException:
            self._stop_all()
            raise
        return [self.results[i] for i in sorted(self.results)]

    def _engine(self, index: int) -> Engine | None:
        load = Counter(r.engine.host for r in self._running.values() if r.engine is not None)
        return pick_engine(self.engines, index, self.dead, load)

    def _start(self, context: Any, job: Job) -> None:
        engine = self._engine(job.index)
        ours, theirs = context.Pipe(duplex=False)
        process = context.Process(
            target=_job_main,
            args=(theirs, self.target, _portable(job.scenario), job.variant, engine, self.request),
            name=f"rh-job-{job.label}",
            daemon=False,
        )
        process.start()
        theirs.close()  # (only the job holds the sending end: its exit is our EOF)
        self._running[ours] = _Running(job, engine, process, ours, time.time())

    def _hear(self, r: _Running) -> None:
        """Take one message from a job; when it was the last, record its result."""
        try:
            kind, payload = r.conn.recv()
        except (EOFError, OSError):
            kind, payload = "gone", None
        if kind == "progress":
            self.on_progress(r.job.label, str(payload))
            return
        del self._running[r.conn]
        r.conn.close()
        r.process.join(STOP_GRACE_S)
        if r.stopped and kind in ("interrupted", "gone"):  # (gone: stopped before it began)
            self.stopped.append(r.job.label)
            return
        result = self._result(r, kind, payload)
        result.repeat = r.job.repeat
        blame_engine(result, r.engine, self.dead)
        self.results[r.job.index] = result
        self.on_result(result, r.engine)

    def _result(self, r: _Running, kind: str, payload: Any) -> ScenarioResult:
        if kind == "result":
            assert isinstance(payload, ScenarioResult)
            return payload
        if kind == "interrupted":
            why = f"its process was interrupted from outside ({payload})"
        elif kind == "gone":
            code = r.process.exitcode
            signame = _signal_name(-code) if code is not None and code < 0 else None
            how = f"killed by {signame}" if signame else f"exit code {code}"
            why = (
                f"its process ended without a result ({how}); a stack it left is removed by"
                " `reboot-harness gc` and the next run"
            )
        else:  # "error": what run_scenario raised
            family, message, text = payload
            if r.engine is None or answers(r.engine):
                raise _rebuilt(family, message, text, r.job.label)
            why = (message.strip().splitlines() or [family])[0]
        return ScenarioResult(
            r.job.scenario.name, r.job.variant, False, why, time.time() - r.began, "",
            engine=r.engine.host if r.engine is not None else "",
        )  # fmt: skip

    def _stop_all(self) -> None:
        """SIGTERM every running job once and wait until each has healed and removed its stack
        (their progress still shown; a result that arrives meanwhile is kept)."""
        with interrupts.shielded():
            for r in self._running.values():
                if r.process.pid is not None and r.process.exitcode is None:
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(r.process.pid, signal.SIGTERM)
                r.stopped = True
            deadline = time.monotonic() + STOP_GRACE_S
            while self._running:
                left = deadline - time.monotonic()
                ready = wait(list(self._running), timeout=max(left, 0.0))
                if not ready:
                    for r in list(self._running.values()):
                        r.process.kill()
                        self.stopped.append(r.job.label)
                        del self._running[r.conn]
                    break
                for conn in ready:
                    with contextlib.suppress(HarnessError):
                        self._hear(self._running[conn])


def pick_engine(
    engines: Sequence[Engine], index: int, dead: set[str], load: Counter[str] | None = None
) -> Engine | None:
    """The engine for the ``index``-th scenario variant: of those that have not stopped
    answering during the run (``dead``), the one running the fewest (``load``, by host), ties
    going to engine ``index mod count`` or the next after it (None without engines)."""
    if not engines:
        return None
    alive = [e for e in engines if e.host not in dead]
    if not alive:
        raise EnvironmentProblem(
            "every engine of RH_ENGINES stopped answering during the run: "
            + ", ".join(e.label() for e in engines)
        )
    order = {e.host: k for k, e in enumerate(engines)}
    count, busy = len(engines), load or Counter()
    return min(alive, key=lambda e: (busy[e.host], (order[e.host] - index) % count))


def blame_engine(result: ScenarioResult, engine: Engine | None, dead: set[str]) -> None:
    """A failed scenario whose engine no longer answers: say so first, and count the engine
    out (``dead``) for the rest of the run."""
    if engine is not None and not result.passed and not answers(engine):
        dead.add(engine.host)
        result.reason = (
            f"engine {engine.label()} stopped answering during this scenario: {result.reason}"
        )


def _signal_name(number: int) -> str | None:
    try:
        return signal.Signals(number).name
    except ValueError:
        return None


def _rebuilt(family: str, message: str, text: str, label: str) -> HarnessError:
    """The job's exception, as this process can raise it: the same kind of error (a usage or
    environment problem exits 2, any other 1), named after the job; an unexpected one (not the
    harness's) carries the job's traceback."""
    kinds: dict[str, type[HarnessError]] = {
        "usage": UsageError, "environment": EnvironmentProblem, "harness": HarnessError,
    }  # fmt: skip
    if family in kinds:
        return kinds[family](f"{label}: {message}")
    return HarnessError(f"{label}: {message}\n{text}")


def _family(e: BaseException) -> str:
    for family, kind in (
        ("usage", UsageError), ("environment", EnvironmentProblem), ("harness", HarnessError),
    ):  # fmt: skip
        if isinstance(e, kind):
            return family
    return "other"


def _portable(scenario: Scenario) -> Scenario | str:
    """How a scenario reaches a job: the path of its file (read again there, against the
    topology read again there: a topology holds what pickle cannot carry), else itself."""
    return str(Path(scenario.source).resolve()) if scenario.source else scenario


def _job_main(
    conn: Connection,
    target: Target,
    scenario: Scenario | str,
    variant: str,
    engine: Engine | None,
    request: RunRequest,
) -> None:
    """A job's process: one scenario variant on a fresh stack, bound to ``engine``."""
    os.dup2(2, 1)  # nothing a job prints may reach the parent's stdout (`run --json`)
    interrupts.install()  # SIGTERM: heal, remove the stack, report "interrupted"
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # a Ctrl-C is the parent's to act on
    lock = threading.Lock()  # (progress may be said from several threads)

    def send(kind: str, payload: Any) -> None:
        with lock:
            conn.send((kind, payload))

    try:
        if engine is not None:
            bind(engine)
        request = request.loaded()  # (the topology file read again here: it does not pickle)
        if isinstance(scenario, str):
            scenario = find.load(Path(scenario), request.topology)
        result = target(
            scenario, variant, request=request, progress=lambda line: send("progress", line)
        )
    except KeyboardInterrupt as e:
        with contextlib.suppress(OSError):
            send("interrupted", str(e) or type(e).__name__)
        return
    except BaseException as e:  # sent as text: not every exception survives pickling
        with contextlib.suppress(OSError):
            message = str(e) if _family(e) != "other" else f"{type(e).__name__}: {e}"
            send("error", (_family(e), message, traceback.format_exc()))
        return
    with contextlib.suppress(OSError):
        send("result", result)
