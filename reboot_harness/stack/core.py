"""A running stack as the other layers see it: one :class:`Stack`, assembled from its parts, a
module each:

- project: the recorded state, the topology and the secrets;
- hosts: containers, addresses, published ports, commands run inside a host;
- power: a host shut down (graceful, hard, crash), booted, given a new address;
- events: the engine's events of the hosts, asked afterwards or watched live;
- clients: the traffic client containers on the stack network;
- labels: the labels that tie containers to a stack, and the engine's lists by them.

What checks and faults use of a stack is :class:`reboot_harness.stack.protocol.StackLike`.
"""

from __future__ import annotations

from reboot_harness.model.hostview import ExecResult
from reboot_harness.model.topology import Topology
from reboot_harness.stack.clients import Clients
from reboot_harness.stack.events import EngineEvents, EventWatch
from reboot_harness.stack.labels import PROJECT_LABEL
from reboot_harness.stack.power import Power
from reboot_harness.stack.state import ProjectState


class Stack(Power, EngineEvents, Clients):
    """One compose project of hosts; every method names the host it failed on.

    Args:
        state: what was recorded when the stack was started.
        topology: which host plays which part, as the stack's creator parsed it. Left out
            only when attaching to a running stack by its state: then it is read from the
            state's topology file (the shipped stack's, when it names none).
    """

    def __init__(self, state: ProjectState, topology: Topology | None = None) -> None:
        if topology is None:
            from reboot_harness.stack.state import topology_of

            topology = topology_of(state)
        super().__init__(state, topology)


__all__ = ["PROJECT_LABEL", "EventWatch", "ExecResult", "Stack"]
