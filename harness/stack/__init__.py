"""The stack layer: the only code that talks to Docker.

Checks, faults and the runner see a :class:`Stack` — exec, endpoints, addresses, processes,
logs — and never the docker SDK, so a fake Stack can stand in for fast unit tests.
"""

from harness.stack.core import ExecResult, Stack
from harness.stack.lifecycle import build, down, gc, start

__all__ = ["ExecResult", "Stack", "build", "down", "gc", "start"]
