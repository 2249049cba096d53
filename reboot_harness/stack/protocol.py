"""What checks, steps, recovery, the traffic and the run loop use of a running stack, as a
Protocol: the real :class:`reboot_harness.stack.core.Stack` satisfies it, and so does the fake of
the unit tests (tests/fakestack.py)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from docker.models.containers import Container

    from reboot_harness.model.hostview import ExecResult
    from reboot_harness.model.topology import Topology
    from reboot_harness.stack.state import ProjectState

# What a host's power going off and on looks like in the engine's event stream.
POWER_ACTIONS = ("kill", "die", "stop", "start", "restart", "pause", "unpause", "oom")


class WatchLike(Protocol):
    """The engine's events of some hosts, recorded live until :meth:`close`; see
    :class:`reboot_harness.stack.events.EventWatch`."""

    def events(self, host: str | None = None) -> list[tuple[float, str, str]]: ...

    def close(self) -> None: ...


class StackLike(Protocol):
    """A running stack seen from above the stack layer; see
    :class:`reboot_harness.stack.core.Stack` for what each member does.

    Attributes:
        state: what the harness recorded of the stack; replaced (and saved) by whoever
            changes it, e.g. the DNS rotation or the time of the last check.
    """

    state: ProjectState

    @property
    def name(self) -> str: ...

    @property
    def topology(self) -> Topology: ...

    @property
    def secrets(self) -> Mapping[str, str]: ...

    # -- hosts ------------------------------------------------------------------------------
    def containers(self) -> Mapping[str, Container]: ...

    def statuses(self) -> dict[str, str]: ...

    def running(self, host: str) -> bool: ...

    def health(self, host: str) -> str: ...

    def address(self, host: str) -> str: ...

    def static_address(self, host: str) -> str: ...

    @property
    def ports_over_ssh(self) -> bool: ...

    def addresses(self) -> dict[str, str]: ...

    def endpoint(self, host: str, port: int, proto: str = "tcp") -> tuple[str, int]: ...

    def env(self, host: str) -> dict[str, str]: ...

    def logs(self, host: str, tail: int = 30) -> str: ...

    # -- inside a host ----------------------------------------------------------------------
    def exec(
        self, host: str, cmd: list[str], *, user: str = "", timeout: float = 10.0
    ) -> ExecResult: ...

    def shell(
        self, host: str, script: str, *, user: str = "", timeout: float = 10.0
    ) -> ExecResult: ...

    def ask(
        self, host: str, argv: list[str], request: str, *, end: str, timeout: float = 5.0
    ) -> ExecResult: ...

    def close_sessions(self) -> None: ...

    def signal_program(self, host: str, program: str, signal: str) -> int: ...

    # -- power ------------------------------------------------------------------------------
    def power_off(self, host: str, *, mode: str = "graceful", grace: float = 10.0) -> None: ...

    def power_on(self, host: str) -> None: ...

    def renumber(self, host: str) -> str: ...

    def pause(self, host: str) -> None: ...

    def unpause(self, host: str) -> None: ...

    # -- what the engine saw, and the traffic clients beside the hosts -------------------------
    def watch_events(
        self, hosts: Sequence[str] | None = None, actions: Sequence[str] = POWER_ACTIONS
    ) -> WatchLike: ...

    def used_addresses(self) -> set[str]: ...

    def start_client(
        self,
        name: str,
        *,
        role: str = "client",
        command: Sequence[str] = (),
        environment: Mapping[str, str] | None = None,
        address: str = "",
        mem_limit: str = "256m",
    ) -> str: ...

    def client_state(self, name: str) -> tuple[str, int, str]: ...

    def client_output(self, name: str) -> tuple[str, str]: ...

    def signal_client(self, name: str, signal: str = "SIGTERM") -> bool: ...

    def wait_client(self, name: str, timeout: float) -> int | None: ...

    def remove_client(self, name: str) -> None: ...
