"""What reading a host through the engine gives when the engine's answer is not one: a
StackError naming the host and the command (the checks then say `host-unreadable`: nothing was
seen of the host), never an exception that reads as a crashed check."""

from __future__ import annotations

from typing import Any

import pytest
from docker.errors import DockerException

from reboot_harness.errors import StackError
from reboot_harness.model.topology import Topology
from reboot_harness.stack.hosts import Hosts
from reboot_harness.stack.state import ProjectState


class _Container:
    def __init__(self, error: BaseException) -> None:
        self.error = error

    def exec_run(self, *_args: Any, **_kwargs: Any) -> Any:
        raise self.error


@pytest.mark.parametrize(
    ("error", "said"),
    [
        (ValueError("104 is not a valid stream"), "the engine's answer could not be read"),
        (DockerException("Read timed out"), "failed: Read timed out"),
    ],
)
def test_an_answer_the_engine_could_not_give_is_a_stack_error(
    error: BaseException, said: str
) -> None:
    state = ProjectState("p", "/nonexistent", (), "172.30.9", "rh.test", "", "", "me", False)
    hosts = Hosts(state, Topology())
    hosts._containers["lb1"] = _Container(error)  # type: ignore[assignment]
    with pytest.raises(StackError) as e:
        hosts.exec("lb1", ["nginx", "-T"])
    assert str(e.value).startswith("host lb1: exec nginx -T") and said in str(e.value)
