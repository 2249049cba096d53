"""What checks, steps, recovery and the run loop use of a running stack, as a Protocol: the real
:class:`reboot_harness.stack.core.Stack` satisfies it, and so can a fake in a fast unit test."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from docker.models.containers import Container

    from reboot_harness.model.topology import Topology
    from reboot_harness.stack.hosts import ExecResult
    from reboot_harness.stack.state import ProjectState


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
