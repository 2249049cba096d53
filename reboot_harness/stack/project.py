"""What every part of a :class:`reboot_harness.stack.core.Stack` builds on: the compose project
as the harness recorded it."""

from __future__ import annotations

import threading

from reboot_harness.model.topology import Topology
from reboot_harness.stack.state import ProjectState


class Project:
    """A stack's recorded state, its topology and its secrets.

    Args:
        state: what was recorded when the stack was started; a part that changes it saves it
            at once (a heal in another process reads it).
        topology: which host plays which part, as the stack's creator parsed it.
    """

    def __init__(self, state: ProjectState, topology: Topology) -> None:
        self.state = state
        self.topology = topology
        self._secrets: dict[str, str] | None = None
        self._state_lock = threading.Lock()  # hosts are powered off in parallel (full restart)

    @property
    def name(self) -> str:
        return self.state.name

    @property
    def secrets(self) -> dict[str, str]:
        if self._secrets is None:
            self._secrets = self.state.secrets()
        return self._secrets
