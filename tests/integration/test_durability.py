"""`durability: lazy|off` on real containers: a redis master on the lazy disk loses, at a power
loss, the writes it acknowledged but never fsynced (`appendfsync no`, this test's own setting);
a replica with `durability: off` keeps them, as every host did before the lazy disk (the
machine's page cache outlives the container). The disks are read from outside the hosts, after
the power loss, as a look at the machine's disk would read them.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from reboot_harness.run.bringup import bring_up
from reboot_harness.run.request import RunRequest
from reboot_harness.stack.core import Stack
from reboot_harness.stack.engine import client
from reboot_harness.stack.removal import down
from tests.integration.conftest import unique_project

pytestmark = pytest.mark.docker

KEYS = 200


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """The shipped stack, redis2 with `durability: off` (the other data hosts lazy)."""
    topology = Path(tmp_path_factory.mktemp("durability")) / "topology.yaml"
    topology.write_text("durability: {redis2: off}\n", encoding="utf-8")
    name = unique_project("durability")
    up = bring_up(name, RunRequest(topology_file=topology))
    try:
        yield up.stack
    finally:
        down(name)


def redis(stack: Stack, host: str, *args: str) -> str:
    done = stack.exec(host, ["rh-redis-cli", *args])
    assert done.ok, done.brief()
    return done.stdout.strip()


def aof_unsynced(stack: Stack, host: str) -> None:
    """Append-only file on, never fsynced by redis; returns once the first rewrite (which
    fsyncs the base file) is done, so what follows is only ever written, not synced."""
    redis(stack, host, "CONFIG", "SET", "appendfsync", "no")
    redis(stack, host, "CONFIG", "SET", "appendonly", "yes")
    deadline = time.monotonic() + 20
    info = ""
    while time.monotonic() < deadline:
        info = redis(stack, host, "INFO", "persistence")
        done = ("aof_enabled:1", "aof_rewrite_in_progress:0", "aof_rewrite_scheduled:0")
        if all(line in info for line in done):
            return
        time.sleep(0.2)
    raise AssertionError(f"{host}: the AOF rewrite did not finish: {info}")


def keys_on_disk(stack: Stack, host: str, prefix: str) -> int:
    """How many of the keys written are in the host's append-only files on its volume, read
    from a container of the base image that mounts the (powered off) host's volumes."""
    out = client().containers.run(
        stack.state.base_image,
        [
            "sh",
            "-c",
            f"cat /var/lib/redis/appendonlydir/*.aof | grep -a -o '{prefix}[0-9]*'"
            " | sort -u | wc -l",
        ],
        volumes_from=[stack.container(host).id],
        network_mode="none",
        remove=True,
    )
    return int(bytes(out).decode().strip())


def test_a_power_loss_takes_the_unsynced_writes_of_a_lazy_disk_and_not_of_an_off_one(
    stack: Stack,
) -> None:
    """Writes the master acknowledged (and its replicas applied) but never fsynced: after a
    hard power loss, the lazy disk's host (redis1) has none of them on its volume, the
    `durability: off` host (redis2) all of them; a crash (every process killed, the kernel
    alive) of a lazy disk's host (redis3) keeps them all, its page cache written back. The
    stack says which host ran with which durability."""
    assert stack.durability() == {
        "graphite": "off", "mysql1": "lazy", "mysql2": "lazy",
        "redis1": "lazy", "redis2": "off", "redis3": "lazy",
    }  # fmt: skip
    assert "master" in redis(stack, "redis1", "ROLE")
    for host in ("redis1", "redis2", "redis3"):
        aof_unsynced(stack, host)
    prefix = "durability-"
    script = "".join(f"SET {prefix}{i} v\n" for i in range(KEYS))
    done = stack.exec("redis1", ["sh", "-c", f"printf '{script}' | rh-redis-cli > /dev/null"])
    assert done.ok, done.brief()
    assert redis(stack, "redis1", "WAIT", "2", "5000") != "0"
    for host in ("redis2", "redis3"):
        deadline = time.monotonic() + 10
        while redis(stack, host, "DBSIZE") != str(KEYS) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert redis(stack, host, "DBSIZE") == str(KEYS)
    for host, mode in (("redis1", "hard"), ("redis2", "hard"), ("redis3", "crash")):
        stack.power_off(host, mode=mode)
    assert keys_on_disk(stack, "redis1", prefix) == 0
    assert keys_on_disk(stack, "redis2", prefix) == KEYS
    assert keys_on_disk(stack, "redis3", prefix) == KEYS
