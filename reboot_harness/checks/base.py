"""What the check runner and the shipped checks share: what their readings use of the stack
(:class:`Reader`), how a subject names its host, the
runner's own failures (a check that crashed, or covered less than it must), how an
exception is said in one line, and what the replication checks share (every server asked at
once; why a set of servers has not exactly one primary)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Protocol, TypeVar

from reboot_harness.model.checks import COMMON_CAUSES
from reboot_harness.model.own_checks import ExecOutput
from reboot_harness.model.results import CheckResult
from reboot_harness.model.topology import Topology

T = TypeVar("T")


class Reader(Protocol):
    """What the shipped checks' reading functions (redis roles, DNS answers) use of the stack:
    a check's :class:`~reboot_harness.model.own_checks.Context` is one, and so is a
    :class:`~reboot_harness.stack.protocol.StackLike` (the steps that wait for a service
    read it the way its check does)."""

    @property
    def topology(self) -> Topology: ...

    @property
    def secrets(self) -> Mapping[str, str]: ...

    @property
    def ports_over_ssh(self) -> bool: ...

    def endpoint(self, host: str, port: int, proto: str = "tcp") -> tuple[str, int]: ...

    def addresses(self) -> dict[str, str]: ...

    def exec(
        self, host: str, cmd: list[str], *, user: str = "", timeout: float = 10.0
    ) -> ExecOutput: ...


def subject_host(subject: str) -> str:
    """The host a subject is about: ``app1``, ``lb1->app2`` (lb1), ``redis2/sentinel``
    (redis2), ``HOST/KIND:TARGET`` (HOST)."""
    return subject.split("->", 1)[0].split("/", 1)[0]


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
    """A failure the runner reports about a check (one of the common causes: the check crashed,
    the engine failed its read, it covered less than it must)."""
    if cause not in COMMON_CAUSES:  # pragma: no cover - a programming error
        raise RuntimeError(f"the check runner reported {cause!r}, not a common cause")
    return CheckResult(check, host, False, expected, observed, detail, (cause,), subjects)


def short_error(e: BaseException) -> str:
    text = str(e).strip().splitlines()
    return f"{type(e).__name__}: {text[0][:160]}" if text else type(e).__name__


def ask_each(hosts: Sequence[str], ask: Callable[[str], T]) -> dict[str, T]:
    """``ask(host)`` for every host, concurrently (a server that does not answer costs one
    timeout, not one per server), by host in ``hosts``' order."""
    with ThreadPoolExecutor(max_workers=max(1, len(hosts))) as pool:
        futures = {h: pool.submit(ask, h) for h in hosts}
    return {h: futures[h].result() for h in hosts}


def primary_cause(primaries: Sequence[str], silent: Sequence[str]) -> str:
    """Why a set of servers has not exactly one primary: ``several-primaries``; none, and a
    running server did not answer (it might be the primary: ``primary-unknown``, unobserved);
    else ``no-primary`` ("no primary" needs every running server to have answered)."""
    if primaries:
        return "several-primaries"
    return "primary-unknown" if silent else "no-primary"
