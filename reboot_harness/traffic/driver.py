"""Traffic: real clients inside the stack's network while faults run.

Typical use (the scenario runner); one Traffic per stack at a time::

    traffic = Traffic(progress=progress)
    traffic.start(stack, seed=scenario.seed)  # after bring_up, before the first step
    try:
        ...  # steps, heal, the final recovery wait
        history = traffic.stop()  # after the final recovery wait: read-back, metrics
    finally:
        traffic.abort()  # nothing after stop(); on an error path removes the clients
    traffic.problems  # what makes the history partial (a client died, writes unverified)
    traffic.engine_events  # (time, host, action) of every host's power events meanwhile
"""

from __future__ import annotations

import math
import re
import time
import uuid
from collections.abc import Callable

from reboot_harness.errors import HarnessError, StackError
from reboot_harness.model.traffic import History, Op
from reboot_harness.stack.protocol import StackLike, WatchLike
from reboot_harness.traffic.config import (
    CONFIG_ENV,
    REFUSAL_EXIT,
    SECRET_ENV,
    TrafficProfile,
    client_config,
    refusal,
)
from reboot_harness.traffic.metrics import metric_ops
from reboot_harness.traffic.parse import ClientOutput, merge_present, parse_output, sort_ops
from reboot_harness.traffic.placement import spread_addresses

Progress = Callable[[str], None]
_STARTED = re.compile(r'"info":\s*"started"')
_STALE_IMAGE = (
    "; the stack's client image and this harness disagree on the keys: restart the stack"
    " (`reboot-harness down`, then `up`) to build its images from this checkout"
)


class Traffic:
    """Client containers that record every operation, and the history they leave.

    Args:
        profile: rates and sizes (the defaults suit a scenario run).
        progress: called with one line per notable thing (started, stopped, problems).
    """

    def __init__(
        self, profile: TrafficProfile | None = None, progress: Progress = lambda _: None
    ) -> None:
        self.profile = profile or TrafficProfile()
        self.progress = progress
        self.problems: list[str] = []  # what makes the history partial or doubtful
        self.notes: list[str] = []  # worth knowing, harmless (e.g. DNS answers served stale)
        self.expected_backend: dict[str, str] = {}  # client name -> app it should hash to
        self.outputs: dict[str, ClientOutput] = {}
        self.started_at = 0.0
        self.stopped_at = 0.0
        # (time, host, action) of every host's power events while the traffic ran, recorded
        # live: what the clients measured can be compared with what the engine did.
        self.engine_events: list[tuple[float, str, str]] = []
        self._watch: WatchLike | None = None
        self._stack: StackLike | None = None
        self._names: list[str] = []
        self._history: History | None = None

    # -- lifecycle ------------------------------------------------------------------------------
    def start(self, stack: StackLike, *, seed: int = 0, ready_timeout: float = 20.0) -> None:
        """Start the client containers and wait until each one runs its users.

        Raises:
            StackError: a client could not be started or died at once (none is left running).
        """
        if self._stack is not None:
            raise HarnessError("traffic already started; stop() it first")
        topo = stack.topology
        prof = self.profile
        self._stack = stack
        run = f"{seed}-{uuid.uuid4().hex[:8]}"
        lbs = {stack.static_address(lb): lb for lb in topo.lbs}
        servers = [f"{app}:{topo.app_port}" for app in topo.apps]
        try:
            placed = spread_addresses(
                stack.state.subnet_prefix, stack.used_addresses(), prof.clients, servers
            )
        except ValueError as e:
            raise StackError(f"stack {stack.name}: cannot place traffic clients: {e}") from e
        env = {key: stack.secrets.get(key, "") for key in SECRET_ENV}
        dns_server = stack.static_address(topo.dns_host)
        self.started_at = time.time()
        try:
            self._watch = stack.watch_events()
            for i, (address, server) in enumerate(placed, 1):
                name = f"traffic-{i}"
                cfg = client_config(
                    prof, topo, name=f"c{i}", run=run, seed=seed, dns_server=dns_server, lbs=lbs
                )
                self._names.append(name)
                stack.start_client(
                    name,
                    environment={**env, CONFIG_ENV: cfg.to_json()},
                    address=address,
                    mem_limit=prof.mem_limit,
                )
                self.expected_backend[f"c{i}"] = server.rsplit(":", 1)[0]
            self._wait_started(ready_timeout)
        except BaseException:
            self._remove_all()
            self._stack = None
            raise
        self.progress(
            f"traffic: {len(placed)} clients at {', '.join(a for a, _ in placed)} (run {run})"
        )

    def _wait_started(self, timeout: float) -> None:
        stack = self._require()
        deadline = time.monotonic() + timeout
        waiting = list(self._names)
        while waiting:
            for name in list(waiting):
                status, code, note = stack.client_state(name)
                if status != "running":
                    _, err = stack.client_output(name)
                    refused = refusal(err)
                    if refused and code == REFUSAL_EXIT:
                        stale = refused.startswith(("unknown key", "missing key"))
                        raise StackError(
                            f"traffic client {name} refused its configuration: {refused}"
                            + (_STALE_IMAGE if stale else "")
                        )
                    raise StackError(
                        f"traffic client {name} stopped at start ({status}, exit {code}"
                        f"{', ' + note if note else ''}); its last words:\n"
                        + "\n".join(err.strip().splitlines()[-8:])
                    )
                out, _ = stack.client_output(name)
                if _STARTED.search(out):
                    waiting.remove(name)
            if waiting and time.monotonic() >= deadline:
                raise StackError(
                    f"traffic clients {', '.join(waiting)} did not start within {timeout:g}s"
                )
            if waiting:
                time.sleep(0.3)

    def stop(self, *, timeout: float | None = None) -> History:
        """Stop every client (in-flight operations finish, acknowledged writes are read back),
        collect the history and remove the containers. Bounded: a client that does not finish
        within ``timeout`` seconds is killed and named in ``problems``. Calling it again
        returns the same history."""
        if self._history is not None:
            return self._history
        stack = self._require()
        prof = self.profile
        timeout = timeout if timeout is not None else prof.drain_timeout + prof.verify_timeout + 15
        self.stopped_at = time.time()
        try:
            signalled = []
            for name in self._names:
                status, code, note = stack.client_state(name)
                if status != "running":
                    self.problems.append(
                        f"traffic client {name} had stopped before the end of the run"
                        f" ({status}, exit {code}{', ' + note if note else ''}); its operations"
                        " end early and its writes were not read back"
                    )
                    continue
                stack.signal_client(name, "SIGTERM")
                signalled.append(name)
            deadline = time.monotonic() + timeout
            for name in signalled:
                exit_code = stack.wait_client(name, max(0.0, deadline - time.monotonic()))
                if exit_code is None:
                    self.problems.append(
                        f"traffic client {name} did not finish within {timeout:g}s of the stop:"
                        " killed, its writes were not read back"
                    )
                    stack.signal_client(name, "SIGKILL")
                    stack.wait_client(name, 10.0)
                elif exit_code != 0:
                    self.problems.append(f"traffic client {name} exited {exit_code} at stop")
            for name in self._names:
                out, err = stack.client_output(name)
                parsed = parse_output(out)
                self.outputs[name] = parsed
                self._note_output(name, parsed, err)
        finally:
            self._remove_all()
        ops: list[Op] = [o for out in self.outputs.values() for o in out.ops]
        if self.profile.metrics:
            try:
                mops, problems = metric_ops(stack, self.started_at, self.stopped_at)
            except HarnessError as e:
                mops, problems = [], [f"metrics: {str(e).splitlines()[0]}"]
            ops.extend(mops)
            self.problems.extend(problems)
        history = History(sort_ops(ops), merge_present(list(self.outputs.values())))
        self._history = history
        self._note_spread()
        for p in self.problems:
            self.progress(f"traffic: {p}")
        return history

    def abort(self) -> None:
        """Remove every client container without collecting anything (for error paths)."""
        if self._stack is not None and self._history is None:
            self._remove_all()

    def __enter__(self) -> Traffic:
        return self

    def __exit__(self, *exc: object) -> None:
        self.abort()

    # -- what the history says about the clients themselves -------------------------------------
    def spread(self) -> dict[str, set[str]]:
        """client container (``c1`` …) -> the apps that answered its /health requests."""
        out: dict[str, set[str]] = {}
        for op in self._history.ops if self._history else ():
            if op.service == "http" and op.ok and op.op == "get /health" and "/" in op.target:
                container = op.client.split("-")[1] if op.client.count("-") >= 2 else op.client
                out.setdefault(container, set()).add(op.target.split("/", 1)[1])
        return out

    # -- internals ------------------------------------------------------------------------------
    def _require(self) -> StackLike:
        if self._stack is None:
            raise HarnessError("traffic was not started")
        return self._stack

    def host_events(self, host: str) -> list[tuple[float, str]]:
        """(time, action) of ``host``'s power events while the traffic ran."""
        return [(t, action) for t, h, action in self.engine_events if h == host]

    def _close_watch(self) -> None:
        if self._watch is not None:
            self.engine_events = self._watch.events()
            self._watch.close()
            self._watch = None

    def _remove_all(self) -> None:
        self._close_watch()
        stack = self._stack
        if stack is None:
            return
        for name in self._names:
            try:
                stack.remove_client(name)
            except StackError as e:
                self.problems.append(str(e))

    def _note_output(self, name: str, parsed: ClientOutput, stderr: str) -> None:
        if parsed.present is None and not any(name in p for p in self.problems):
            self.problems.append(f"traffic client {name} printed no read-back of its writes")
        for service, err in sorted(parsed.verify_errors.items()):
            self.problems.append(
                f"traffic client {name}: acknowledged {service} writes not read back: {err}"
            )
        if parsed.bad_lines:
            self.problems.append(
                f"traffic client {name}: {parsed.bad_lines} unreadable output line(s), first:"
                f" {parsed.first_bad}"
            )
        for info in parsed.infos:
            if info.get("info") in ("started", "stopping"):
                continue
            detail = ", ".join(
                f"{k}={v}" for k, v in info.items() if k not in ("info", "t", "problem")
            )
            text = f"traffic client {name}: {info.get('info')}" + (f" ({detail})" if detail else "")
            (self.problems if info.get("problem") else self.notes).append(text)
        tracebacks = [ln for ln in stderr.splitlines() if ln.startswith("Traceback")]
        if tracebacks:
            tail = "\n".join(stderr.strip().splitlines()[-4:])
            self.problems.append(
                f"traffic client {name}: {len(tracebacks)} traceback(s) on stderr; last:\n{tail}"
            )

    def _note_spread(self) -> None:
        if self.profile.clients < 2:
            return
        seen = self.spread()
        apps = set().union(*seen.values()) if seen else set()
        if len(apps) < min(2, len(self._require().topology.apps)):
            self.problems.append(
                "every client was served by the same app"
                f" ({', '.join(sorted(apps)) or 'none'}); the LBs do not spread clients"
            )


def rate_summary(history: History) -> dict[str, float]:
    """service -> operations per second over the history's span (for reports and tests)."""
    if not history.ops:
        return {}
    begin = min(o.start for o in history.ops)
    end = max(o.end for o in history.ops)
    span = max(end - begin, 1e-9)
    counts: dict[str, int] = {}
    for o in history.ops:
        counts[o.service] = counts.get(o.service, 0) + 1
    return {s: math.floor(n / span * 10) / 10 for s, n in sorted(counts.items())}
