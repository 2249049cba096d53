"""stack: the engine, the only code that talks to Docker — starting, inspecting, powering and
removing stacks, the engines they live on, and what the harness records of each (state, owner).
Imports model, inputs and errors.

Checks, steps and the run loop see a :class:`Stack` — exec, endpoints, addresses, processes,
logs — and never the docker SDK; what they use of it is :class:`StackLike`, so a fake can stand
in for fast unit tests.
"""

from reboot_harness.stack.core import ExecResult, Stack
from reboot_harness.stack.lifecycle import build, down, gc, start
from reboot_harness.stack.protocol import StackLike

__all__ = ["ExecResult", "Stack", "StackLike", "build", "down", "gc", "start"]
