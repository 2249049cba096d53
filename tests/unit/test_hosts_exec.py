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


class _Listed:
    """A container as the engine lists it: ``reload`` is one inspect (NotFound once removed)."""

    def __init__(self, host: str, engine: dict[str, int]) -> None:
        self.labels = {"com.docker.compose.service": host}
        self.name = f"p-{host}-1"
        self.engine = engine
        self.removed = False

    def reload(self) -> None:
        from docker.errors import NotFound

        self.engine["inspects"] += 1
        if self.removed:
            raise NotFound("no such container")


def test_a_known_host_is_read_again_by_one_inspect_and_a_gone_one_by_a_new_list(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Checks ask for a host's endpoint many times a second: a known container is refreshed by
    one inspect of it, the project listed again only when it is gone (replaced by a new one of
    the same service); threads that all start with an empty cache share one list."""
    import threading

    from reboot_harness.stack import hosts as hosts_module

    engine = {"lists": 0, "inspects": 0}
    current = {h: _Listed(h, engine) for h in ("lb1", "app1")}
    gate = threading.Barrier(8)

    def project_containers(name: str, sparse: bool = False) -> list[_Listed]:
        engine["lists"] += 1
        return list(current.values())

    monkeypatch.setattr(hosts_module, "project_containers", project_containers)
    state = ProjectState("p", "/nonexistent", (), "172.30.9", "rh.test", "", "", "me", False)
    hosts = Hosts(state, Topology())

    def first() -> None:
        gate.wait()
        hosts.container("lb1", refresh=True)

    threads = [threading.Thread(target=first) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert engine["lists"] == 1  # (a thread that came after it inspects lb1 instead)
    engine["inspects"] = 0
    for _ in range(5):
        assert hosts.container("app1", refresh=True) is current["app1"]
    assert engine == {"lists": 1, "inspects": 5}
    old = current["app1"]
    old.removed = True
    current["app1"] = _Listed("app1", engine)  # recreated: the old id is gone
    assert hosts.container("app1", refresh=True) is current["app1"]
    assert engine["lists"] == 2
    with pytest.raises(StackError, match=r"no host 'db1' \(known: app1, lb1\)"):
        hosts.container("db1")
