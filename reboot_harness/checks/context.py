"""The context every check sees the stack through — shipped, declared and your own alike: one
:class:`Round` per run of the checks (what they share: the stack, its statuses, the host views)
and one :class:`CheckContext` per check in it (the public
:class:`reboot_harness.model.own_checks.Context`: reads that record the hosts they reach, and
the results it reports, validated against the check's causes)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field

from reboot_harness.checks.base import short_error
from reboot_harness.checks.hostview import read_view
from reboot_harness.model.checks import COMMON_CAUSES
from reboot_harness.model.hostview import ExecResult, HostView
from reboot_harness.model.own_checks import Check, Problem
from reboot_harness.model.results import CheckResult
from reboot_harness.model.topology import Topology
from reboot_harness.stack.protocol import StackLike

# An exec that ended with one of these did not reach the host: 125, the host is not running
# (Hosts.exec, Hosts.ask); 124 and 137, `timeout` gave up on the command (no answer in time).
NOT_REACHED_EXITS = frozenset({124, 125, 137})


@dataclass
class Round:
    """What the checks of one run share.

    Attributes:
        stack: the running stack (the only way to reach a host).
        deadline_s: how long a check may wait for something to settle (a metric to land,
            a replica to catch up) before it reports what it saw.
        since: epoch seconds of the previous check run; log-based checks judge only lines newer
            than this.
        rotation: the load balancers that should be in the DNS answer.
        statuses: docker state of every host at the start of this run.
    """

    stack: StackLike
    deadline_s: float = 5.0
    since: float = 0.0
    rotation: tuple[str, ...] = ()
    statuses: dict[str, str] = field(default_factory=dict)
    _views: dict[str, Future[HostView]] = field(default_factory=dict, repr=False)
    _views_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def down(self, host: str) -> str | None:
        """A reason the host cannot be checked (not running), or None."""
        status = self.statuses.get(host)
        if status is None:
            return "host does not exist"
        if status != "running":
            return f"host down ({status})"
        return None

    def views(self, hosts: Iterable[str]) -> dict[str, HostView]:
        """One reading of each host's processes (see :mod:`reboot_harness.checks.hostview`),
        taken once per run however many checks ask, the hosts read concurrently."""
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
        return {host: self._views[host].result() for host in hosts}

    def context(self, check: Check) -> CheckContext:
        """The context of one check of this round."""
        return CheckContext(self, check, check.subjects_for(self.stack.topology))


class Results:
    """How ``check`` reports (:class:`reboot_harness.model.own_checks.Reporter`)."""

    def __init__(self, check: Check) -> None:
        self.check = check

    @property
    def name(self) -> str:
        return self.check.name

    def ok(self, host: str, expected: str, observed: str, *, subjects: Sequence[str] = (),
           detail: str = "") -> CheckResult:  # fmt: skip
        return CheckResult(self.name, host, True, expected, observed, detail, (),
                           tuple(subjects) or (host,))  # fmt: skip

    def fail(self, host: str, expected: str, observed: str, *, cause: str,
             subjects: Sequence[str] = (), detail: str = "") -> CheckResult:  # fmt: skip
        self._known(cause)
        return CheckResult(self.name, host, False, expected, observed, detail, (cause,),
                           tuple(subjects) or (host,))  # fmt: skip

    def result(self, host: str, expected: str, problems: Sequence[Problem], ok_text: str, *,
               subjects: Sequence[str] = (), detail: str = "") -> CheckResult:  # fmt: skip
        for p in problems:
            self._known(p.cause)
        observed = "; ".join(p.text for p in problems) if problems else ok_text
        causes = tuple(dict.fromkeys(p.cause for p in problems))
        return CheckResult(self.name, host, not problems, expected, observed, detail, causes,
                           tuple(subjects) or (host,))  # fmt: skip

    def _known(self, cause: str) -> None:
        if cause not in self.check.causes and cause not in COMMON_CAUSES:
            valid = ", ".join([*self.check.causes, *COMMON_CAUSES])
            raise ValueError(f"check {self.name!r}: unknown cause {cause!r}; valid: {valid}")


class CheckContext(Results):
    """One check's view of a :class:`Round` (the public
    :class:`reboot_harness.model.own_checks.Context`). ``reached`` records every host its reads
    reached: an exec or shell that got an answer (not 124/125/137), a view the host's probe
    answered, an endpoint or address of a host running at the start of the run."""

    def __init__(self, round_: Round, check: Check, subjects: tuple[str, ...]) -> None:
        super().__init__(check)
        self.round = round_
        self._subjects = subjects
        self.reached: set[str] = set()

    # -- what the check knows -----------------------------------------------------------------
    @property
    def topology(self) -> Topology:
        return self.round.stack.topology

    @property
    def subjects(self) -> tuple[str, ...]:
        return self._subjects

    @property
    def deadline_s(self) -> float:
        return self.round.deadline_s

    @property
    def since(self) -> float:
        return self.round.since

    @property
    def rotation(self) -> tuple[str, ...]:
        return self.round.rotation

    @property
    def project(self) -> str:
        return self.round.stack.name

    @property
    def secrets(self) -> Mapping[str, str]:
        return self.round.stack.secrets

    @property
    def ports_over_ssh(self) -> bool:
        return self.round.stack.ports_over_ssh

    def deadline(self) -> float:
        return time.monotonic() + self.round.deadline_s

    def down(self, host: str) -> str | None:
        return self.round.down(host)

    # -- reads (recorded) ---------------------------------------------------------------------
    def exec(
        self, host: str, argv: Sequence[str], *, user: str = "", timeout: float = 10.0
    ) -> ExecResult:
        res = self.round.stack.exec(host, list(argv), user=user, timeout=timeout)
        return self._answered(host, res)

    def health(self, host: str) -> str:
        found = self.round.stack.health(host)
        self._running(host)
        return found

    def shell(self, host: str, script: str, *, user: str = "", timeout: float = 10.0) -> ExecResult:
        return self._answered(
            host, self.round.stack.shell(host, script, user=user, timeout=timeout)
        )

    def views(self, hosts: Iterable[str]) -> dict[str, HostView]:
        found = self.round.views(hosts)
        self.reached.update(host for host, view in found.items() if view.answered)
        return found

    def endpoint(self, host: str, port: int, proto: str = "tcp") -> tuple[str, int]:
        found = self.round.stack.endpoint(host, port, proto)
        self._running(host)
        return found

    def address(self, host: str) -> str:
        found = self.round.stack.address(host)
        self._running(host)
        return found

    # -- reads (nothing of a host reached) ----------------------------------------------------
    def static_address(self, host: str) -> str:
        return self.round.stack.static_address(host)

    def addresses(self) -> dict[str, str]:
        return self.round.stack.addresses()

    def logs(self, host: str, tail: int = 30) -> str:
        return self.round.stack.logs(host, tail)

    def _answered(self, host: str, res: ExecResult) -> ExecResult:
        if res.exit_code not in NOT_REACHED_EXITS:
            self.reached.add(host)
        return res

    def _running(self, host: str) -> None:
        if self.round.statuses.get(host) == "running":
            self.reached.add(host)


def _fill(fut: Future[HostView], stack: StackLike, host: str) -> None:
    try:
        fut.set_result(read_view(stack, host))
    except Exception as e:  # a view that cannot be read is an observation, not a crash
        fut.set_result(HostView(host, error=f"cannot read the host: {short_error(e)}"))
