"""stack: the engine, the only code that talks to Docker — starting, inspecting, powering and
removing stacks (lifecycle starts them, removal removes them), the engines they live on, what
the harness records of each (state, owner), and what the machine lacks for them (machine).
Imports model, inputs and errors.

Checks, steps and the run loop see a :class:`~reboot_harness.stack.core.Stack` — exec,
endpoints, addresses, processes, logs — and never the docker SDK; what they use of it is
:class:`~reboot_harness.stack.protocol.StackLike`, so a fake can stand in for fast unit tests.
Nothing is imported here: the engine's state (state, owner) and the protocol are read without
loading Docker's clients.
"""
