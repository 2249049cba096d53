"""The real Stack is a StackLike (what checks, steps and the run loop use of a stack), and it holds
the topology its creator parsed instead of reading the file again (no Docker)."""

from __future__ import annotations

import inspect
from pathlib import Path

import pytest

from reboot_harness.model.topology import Topology
from reboot_harness.stack.core import Stack
from reboot_harness.stack.protocol import StackLike
from reboot_harness.stack.state import ProjectState
from tests.unit.test_state_and_cli import _state as recorded_state


def as_stack_like(stack: Stack) -> StackLike:
    """mypy (strict) checks this assignment: Stack satisfies the Protocol structurally."""
    return stack


def _state(topology_file: str = "") -> ProjectState:
    return recorded_state().with_changes(topology_file=topology_file)


def _members() -> list[str]:
    return sorted(
        {n for n in vars(StackLike) if not n.startswith("_")} | set(StackLike.__annotations__)
    )


def _shape(fn: object) -> list[tuple[str, object, object]]:
    """A callable's parameters as (name, kind, default), without annotations (the Protocol may
    widen a return type, e.g. Mapping for dict)."""
    assert callable(fn)
    return [(p.name, p.kind, p.default) for p in inspect.signature(fn).parameters.values()]


@pytest.mark.parametrize("member", _members())
def test_stack_has_every_member_of_stacklike_with_the_same_parameters(member: str) -> None:
    """Every method of the Protocol is a method of Stack taking the same parameters (names,
    kinds, defaults); every property or attribute of it is one of a Stack."""
    declared = vars(StackLike).get(member)
    stack = Stack(_state(), Topology())
    if inspect.isfunction(declared):
        assert _shape(getattr(Stack, member)) == _shape(declared)
    elif isinstance(declared, property):
        assert isinstance(getattr(Stack, member, None), property) or member in vars(stack)
    else:
        assert member in vars(stack)


def test_a_stack_holds_the_topology_it_was_given_and_reads_no_file() -> None:
    """Made with a parsed topology, the stack keeps that very object: the state's topology
    file is not read again (here it does not even exist)."""
    topology = Topology(domain="example.test")
    stack = Stack(_state(topology_file="/nonexistent/topology.yaml"), topology)
    assert as_stack_like(stack).topology is topology


def test_a_stack_attached_by_its_state_alone_reads_its_topology_file(tmp_path: Path) -> None:
    """Attached by its recorded state only (as `check` and the one-shot faults do), the stack
    reads the topology file the state names, or takes the shipped one with its domain."""
    path = tmp_path / "topology.yaml"
    path.write_text("domain: example.test\n")
    assert Stack(_state(topology_file=str(path))).topology.domain == "example.test"
    assert Stack(_state()).topology == Topology(domain="rh.test")


def test_start_uses_the_topology_it_is_handed_and_does_not_read_the_file_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`up`/`run` parse the topology file once (to validate) and hand the object down: the
    stack layer must not read the file again (here: reading it fails the test; the first
    engine call stops the start, with the topology's domain already in hand)."""
    from reboot_harness.inputs import topology as topology_module
    from reboot_harness.stack import lifecycle

    def no_second_read(path: Path) -> Topology:
        raise AssertionError(f"{path} read again")

    class Reached(Exception):
        pass

    def first_engine_call() -> None:
        raise Reached

    monkeypatch.setattr(topology_module, "load_topology", no_second_read)
    monkeypatch.setattr(lifecycle, "compose_version", first_engine_call)
    monkeypatch.setattr(lifecycle, "refuse_unsafe_over", lambda *a, **k: None)
    with pytest.raises(Reached):
        lifecycle.start(
            "p1", keep=False, topology_file=tmp_path / "never-read.yaml",
            topology=Topology(domain="mine.test"),
        )  # fmt: skip
