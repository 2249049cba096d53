"""What every recovery check shares: its context, its registry, and how it reports."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from reboot_harness.checks.hostview import HostView, read_view
from reboot_harness.model.checks import CHECK_KINDS, COMMON_CAUSES
from reboot_harness.model.results import CheckResult
from reboot_harness.model.topology import Topology
from reboot_harness.stack.hosts import ExecResult
from reboot_harness.stack.protocol import POWER_ACTIONS, StackLike, WatchLike

if TYPE_CHECKING:
    from docker.models.containers import Container

    from reboot_harness.stack.state import ProjectState


@dataclass
class CheckContext:
    """Everything a check may look at.

    Attributes:
        stack: the running stack (the only way to reach a host).
        deadline_s: how long a check may wait for something to settle (a metric to land,
            a replica to catch up) before it reports what it saw.
        since: epoch seconds of the previous check run; log-based checks judge only lines newer
            than this.
        rotation: the load balancers that should be in the DNS answer.
        statuses: docker state of every host at the start of this run.
        reached: the hosts this check's own reads and connections reached (see
            :meth:`for_check`); a passing result about a host outside it is `not-exercised`.
    """

    stack: StackLike
    deadline_s: float = 5.0
    since: float = 0.0
    rotation: tuple[str, ...] = ()
    statuses: dict[str, str] = field(default_factory=dict)
    reached: set[str] = field(default_factory=set)
    _views: dict[str, Future[HostView]] = field(default_factory=dict, repr=False)
    _views_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def topology(self) -> Topology:
        return self.stack.topology

    def for_check(self) -> CheckContext:
        """This context for one check: the same stack, seen through a recorder of the hosts
        the check's reads reach (``reached``), and the same shared host views."""
        reached: set[str] = set()
        inner = self.stack.inner if isinstance(self.stack, Reaching) else self.stack
        return replace(self, stack=Reaching(inner, reached, self.statuses), reached=reached)

    def down(self, host: str) -> str | None:
        """A reason the host cannot be checked (not running), or None."""
        status = self.statuses.get(host)
        if status is None:
            return "host does not exist"
        if status != "running":
            return f"host down ({status})"
        return None

    def deadline(self) -> float:
        return time.monotonic() + self.deadline_s

    def views(self, hosts: Iterable[str]) -> dict[str, HostView]:
        """One reading of each host's processes (see :mod:`reboot_harness.checks.hostview`), taken
        once per run however many checks ask, the hosts read concurrently. A host whose probe
        answered counts as reached by the asking check, whichever check asked first."""
        hosts = list(hosts)
        todo: list[tuple[str, Future[HostView]]] = []
        with self._views_lock:
            for host in hosts:
                if host not in self._views:
                    self._views[host] = Future()
                    todo.append((host, self._views[host]))
        if todo:
            with ThreadPoolExecutor(max_workers=len(todo)) as pool:
                for host, fut in todo:
                    pool.submit(_fill, fut, self.stack, host)
        found = {host: self._views[host].result() for host in hosts}
        self.reached.update(host for host, view in found.items() if view.answered)
        return found


# An exec that ended with one of these did not reach the host: 125, the host is not running
# (Hosts.exec, Hosts.ask); 124 and 137, `timeout` gave up on the command (no answer in time).
NOT_REACHED_EXITS = frozenset({124, 125, 137})


class Reaching:
    """A stack that records in ``reached`` every host a call reached: an exec, shell or ask
    that got an answer (not 124/125/137, no exception), an endpoint or address of a host
    running at the start of the run. Everything else is passed through, and nothing is
    asked of a host that the check did not ask itself."""

    def __init__(self, inner: StackLike, reached: set[str], statuses: dict[str, str]) -> None:
        self.inner = inner
        self.reached = reached
        self._statuses = statuses

    def _answered(self, host: str, res: ExecResult) -> ExecResult:
        if res.exit_code not in NOT_REACHED_EXITS:
            self.reached.add(host)
        return res

    def _running(self, host: str) -> None:
        if self._statuses.get(host) == "running":
            self.reached.add(host)

    # -- what is recorded --------------------------------------------------------------------
    def exec(
        self, host: str, cmd: list[str], *, user: str = "", timeout: float = 10.0
    ) -> ExecResult:
        return self._answered(host, self.inner.exec(host, cmd, user=user, timeout=timeout))

    def shell(self, host: str, script: str, *, user: str = "", timeout: float = 10.0) -> ExecResult:
        return self._answered(host, self.inner.shell(host, script, user=user, timeout=timeout))

    def ask(
        self, host: str, argv: list[str], request: str, *, end: str, timeout: float = 5.0
    ) -> ExecResult:
        answer = self.inner.ask(host, argv, request, end=end, timeout=timeout)
        return self._answered(host, answer)

    def endpoint(self, host: str, port: int, proto: str = "tcp") -> tuple[str, int]:
        found = self.inner.endpoint(host, port, proto)
        self._running(host)
        return found

    def address(self, host: str) -> str:
        found = self.inner.address(host)
        self._running(host)
        return found

    # -- passed through ----------------------------------------------------------------------
    @property
    def state(self) -> ProjectState:
        return self.inner.state

    @state.setter
    def state(self, value: ProjectState) -> None:
        self.inner.state = value

    @property
    def name(self) -> str:
        return self.inner.name

    @property
    def topology(self) -> Topology:
        return self.inner.topology

    @property
    def secrets(self) -> Mapping[str, str]:
        return self.inner.secrets

    @property
    def ports_over_ssh(self) -> bool:
        return self.inner.ports_over_ssh

    def containers(self) -> Mapping[str, Container]:
        return self.inner.containers()

    def statuses(self) -> dict[str, str]:
        return self.inner.statuses()

    def running(self, host: str) -> bool:
        return self.inner.running(host)

    def static_address(self, host: str) -> str:
        return self.inner.static_address(host)

    def addresses(self) -> dict[str, str]:
        return self.inner.addresses()

    def env(self, host: str) -> dict[str, str]:
        return self.inner.env(host)

    def logs(self, host: str, tail: int = 30) -> str:
        return self.inner.logs(host, tail)

    def close_sessions(self) -> None:
        self.inner.close_sessions()

    def signal_program(self, host: str, program: str, signal: str) -> int:
        return self.inner.signal_program(host, program, signal)

    def power_off(self, host: str, *, mode: str = "graceful", grace: float = 10.0) -> None:
        self.inner.power_off(host, mode=mode, grace=grace)

    def power_on(self, host: str) -> None:
        self.inner.power_on(host)

    def renumber(self, host: str) -> str:
        return self.inner.renumber(host)

    def pause(self, host: str) -> None:
        self.inner.pause(host)

    def unpause(self, host: str) -> None:
        self.inner.unpause(host)

    def watch_events(
        self, hosts: Sequence[str] | None = None, actions: Sequence[str] = POWER_ACTIONS
    ) -> WatchLike:
        return self.inner.watch_events(hosts, actions)

    def used_addresses(self) -> set[str]:
        return self.inner.used_addresses()

    def start_client(
        self,
        name: str,
        *,
        role: str = "client",
        command: Sequence[str] = (),
        environment: Mapping[str, str] | None = None,
        address: str = "",
        mem_limit: str = "256m",
    ) -> str:
        return self.inner.start_client(
            name, role=role, command=command, environment=environment, address=address,
            mem_limit=mem_limit,
        )  # fmt: skip

    def client_state(self, name: str) -> tuple[str, int, str]:
        return self.inner.client_state(name)

    def client_output(self, name: str) -> tuple[str, str]:
        return self.inner.client_output(name)

    def signal_client(self, name: str, signal: str = "SIGTERM") -> bool:
        return self.inner.signal_client(name, signal)

    def wait_client(self, name: str, timeout: float) -> int | None:
        return self.inner.wait_client(name, timeout)

    def remove_client(self, name: str) -> None:
        self.inner.remove_client(name)


def _fill(fut: Future[HostView], stack: StackLike, host: str) -> None:
    try:
        fut.set_result(read_view(stack, host))
    except Exception as e:  # a view that cannot be read is an observation, not a crash
        fut.set_result(HostView(host, error=f"cannot read the host: {short_error(e)}"))


def subject_host(subject: str) -> str:
    """The host a subject is about: ``app1``, ``lb1->app2`` (lb1), ``redis2/sentinel``
    (redis2), ``HOST/KIND:TARGET`` (HOST)."""
    return subject.split("->", 1)[0].split("/", 1)[0]


CheckFn = Callable[[CheckContext], list[CheckResult]]
SubjectsFn = Callable[[Topology], tuple[str, ...]]


@dataclass(frozen=True)
class Registered:
    """A check's implementation, and the subjects a topology asks it to cover (each must be
    named by one of its results, or the run reports `not-exercised`)."""

    fn: CheckFn
    subjects: SubjectsFn


# name -> implementation, in the order results are shown.
REGISTRY: dict[str, Registered] = {}


def register(name: str, subjects: SubjectsFn) -> Callable[[CheckFn], CheckFn]:
    def deco(fn: CheckFn) -> CheckFn:
        if name not in CHECK_KINDS:  # pragma: no cover - a programming error
            raise RuntimeError(f"check {name!r} is not in reboot_harness.model.checks.CHECKS")
        REGISTRY[name] = Registered(fn, subjects)
        return fn

    return deco


@dataclass(frozen=True)
class Problem:
    """One thing wrong, with its stable cause code (reboot_harness.model.checks.CHECKS)."""

    cause: str
    text: str


def failure(
    check: str,
    host: str,
    expected: str,
    observed: str,
    detail: str = "",
    *,
    cause: str,
    subjects: tuple[str, ...] = (),
) -> CheckResult:
    _known_cause(check, cause)
    return CheckResult(check, host, False, expected, observed, detail, (cause,), subjects)


def judged(
    check: str,
    host: str,
    expected: str,
    problems: list[Problem],
    ok_text: str,
    *,
    subjects: tuple[str, ...],
    detail: str = "",
) -> CheckResult:
    """A result from the problems found (none: it held, and ``subjects`` were exercised)."""
    for p in problems:
        _known_cause(check, p.cause)
    observed = "; ".join(p.text for p in problems) if problems else ok_text
    causes = tuple(dict.fromkeys(p.cause for p in problems))
    return CheckResult(check, host, not problems, expected, observed, detail, causes, subjects)


def _known_cause(check: str, cause: str) -> None:
    if cause in COMMON_CAUSES:  # every check's, your own checks' included
        return
    if check not in CHECK_KINDS or cause not in CHECK_KINDS[check].causes:
        raise RuntimeError(f"check {check!r} reported unknown cause {cause!r}")  # a bug


def host_down(check: str, host: str, expected: str, reason: str, detail: str = "",
              subjects: tuple[str, ...] = ()) -> CheckResult:  # fmt: skip
    return failure(check, host, expected, reason, detail, cause="host-down", subjects=subjects)


def short_error(e: BaseException) -> str:
    text = str(e).strip().splitlines()
    return f"{type(e).__name__}: {text[0][:160]}" if text else type(e).__name__
