"""The redis hosts' first boot keeps the initial topology however the boots are spread: the
redis image alone (three containers of it, started by the test in the order it wants), so that
what is measured is the image's boot logic, not the stack's start order."""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Iterator

import docker
import pytest
from docker.models.containers import Container

from reboot_harness.stack.lifecycle import build

pytestmark = pytest.mark.docker

HOSTS = ("redis1", "redis2", "redis3")
PASSWORD = "first-boot secret"


@pytest.fixture
def redis_hosts() -> Iterator[dict[str, Container]]:
    """redis1..3 created (not started) on their own network, as the stack would create them."""
    c = docker.from_env()
    # RH_TEST_REDIS_TAG runs this test against another build (e.g. the one before a fix).
    tag = os.environ.get("RH_TEST_REDIS_TAG") or build()
    name = f"rh-firstboot-{uuid.uuid4().hex[:8]}"
    net = c.networks.create(name, labels={"org.reboot-harness.test": name})
    made: dict[str, Container] = {}
    try:
        for h in HOSTS:
            made[h] = c.containers.create(
                f"reboot-harness/redis:{tag}",
                name=f"{name}-{h}",
                hostname=h,
                network=name,
                tmpfs={"/run": "", "/tmp": "exec,mode=1777"},
                ulimits=[docker.types.Ulimit(name="nofile", soft=1024, hard=16384)],
                environment={"REDIS_PASSWORD": PASSWORD},
                labels={"org.reboot-harness.test": name},
            )
        yield made
    finally:
        for ct in made.values():
            ct.remove(force=True, v=True)
        net.remove()


def _cli(ct: Container, *args: str, port: int = 6379) -> str:
    """redis-cli on the host: the image's rh-redis-cli (authenticated) for redis, plain
    redis-cli for its sentinel (no password)."""
    cli = "rh-redis-cli" if port == 6379 else "redis-cli"
    res = ct.exec_run([cli, "-p", str(port), "--raw", *args])
    return res.output.decode(errors="replace").strip()


def _views(hosts: dict[str, Container]) -> dict[str, tuple[str, str]]:
    """Each host's (redis role, its sentinel's master and config-epoch)."""
    out = {}
    for h, ct in hosts.items():
        role = _cli(ct, "ROLE").split("\n")[0]
        raw = _cli(ct, "SENTINEL", "master", "mymaster", port=26379).split("\n")
        fields = dict(zip(raw[::2], raw[1::2], strict=False))
        out[h] = (role, f"{fields.get('ip', '?')} epoch {fields.get('config-epoch', '?')}")
    return out


def test_an_initial_master_booting_last_keeps_its_role(redis_hosts: dict[str, Container]) -> None:
    """redis2 and redis3 boot first; redis1, the initial master, boots twice down-after-
    milliseconds later (a loaded machine starting 11 containers at once). Their sentinels wait
    for it instead of counting its absence as a failure: redis1 is master at epoch 0 with both
    replicas, and no failover ever happened (before: the sentinels failed it over before it had
    served, so `up` handed out a stack whose master was not the one its topology names)."""
    redis_hosts["redis2"].start()
    redis_hosts["redis3"].start()
    time.sleep(6.0)
    redis_hosts["redis1"].start()
    want = {
        "redis1": ("master", "redis1 epoch 0"),
        "redis2": ("slave", "redis1 epoch 0"),
        "redis3": ("slave", "redis1 epoch 0"),
    }
    deadline = time.monotonic() + 60
    seen = _views(redis_hosts)
    while seen != want and time.monotonic() < deadline:
        time.sleep(1.0)
        seen = _views(redis_hosts)
    logs = {
        h: ct.exec_run(["cat", "/var/log/redis/rh-boot.log"]).output.decode(errors="replace")
        for h, ct in redis_hosts.items()
    }
    assert seen == want, f"{seen}\n" + "".join(logs.values())
    replicas = _cli(redis_hosts["redis1"], "INFO", "replication")
    assert "connected_slaves:2" in replicas, replicas
    for h in ("redis2", "redis3"):
        assert "first boot: initial master redis1 answered PONG" in logs[h], logs[h]
    # and a few seconds on, still nobody failed it over (epochs would have moved)
    time.sleep(4.0)
    assert _views(redis_hosts) == want, "".join(logs.values())
