"""A host's name outlives the host: while a host is off (power loss, crash, shutdown, stop), its
peers still resolve its name to its address, as a real server's peers do (its name stays in DNS
and in /etc/hosts), so they wait on their own timeouts instead of failing at once with "unknown
host"; after a new_ip reboot, the name resolves to the new address, on the hosts that were up
and on those that boot later. One stack for the module: its tests run in file order."""

from __future__ import annotations

import random
import re
import time
from collections.abc import Iterator

import pytest

from reboot_harness.stack.core import Stack
from reboot_harness.stack.engine import client
from reboot_harness.steps import RunContext
from reboot_harness.steps.reboot import Reboot, power_off, power_on, reboot
from reboot_harness.steps.stop import Stop, stop
from reboot_harness.traffic import Traffic
from tests.integration.conftest import assert_all_pass, healthy_stack

pytestmark = pytest.mark.docker

REDIS_CLI = 'REDISCLI_AUTH="$REDIS_PASSWORD" redis-cli'
SLAVE_STATUS = 'mariadb -uroot -p"$MYSQL_ROOT_PASSWORD" -e "SHOW SLAVE STATUS\\G"'
# What Sentinel and the clients say when a name does not resolve.
UNKNOWN_HOST = ("Failed to resolve hostname", "unknown host")
REPLICA_LINE = re.compile(r"\d+:S [^*#]*[*#] (.*?)\s*$")  # a redis replica's log line: its message


@pytest.fixture(scope="module")
def stack() -> Iterator[Stack]:
    """One healthy stack for the whole module, owned by this test process."""
    with healthy_stack("names") as s:
        yield s


def resolves(stack: Stack, peer: str, *names: str) -> dict[str, str]:
    """name -> the address ``peer`` resolves it to ("" for none), as its programs do (getent:
    /etc/hosts, then DNS); one exec."""
    script = 'for n; do echo "$n $(getent ahostsv4 "$n" | head -n 1)"; done'
    out = stack.exec(peer, ["sh", "-c", script, "sh", *names]).stdout
    return {
        n: (rest.split() or [""])[0]
        for n, _, rest in (ln.partition(" ") for ln in out.splitlines())
    }


def client_resolves(stack: Stack, name: str, host: str) -> str:
    """The same from inside traffic client ``name``."""
    c = client().containers.get(stack.client_container_name(name))
    code, out = c.exec_run(["getent", "ahostsv4", host])
    words = bytes(out or b"").decode().split()
    return words[0] if code == 0 and words else ""


def logs_since(stack: Stack, host: str, since: float) -> str:
    return bytes(stack.container(host).logs(since=int(since))).decode("utf-8", "replace")


def slave_status(stack: Stack, replica: str) -> dict[str, str]:
    out = stack.shell(replica, SLAVE_STATUS).stdout
    return {k.strip(): v.strip() for k, _, v in (ln.partition(":") for ln in out.splitlines())}


def test_peers_of_a_powered_off_master_and_primary_get_silence_not_unknown_host(
    stack: Stack,
) -> None:
    """The redis master and the MySQL primary lose power while traffic runs. Their names still
    resolve, on every peer and in the clients, to their addresses; the MySQL replica's IO
    thread fails by its own timeout (2003 "Can't connect", not 2005 "Unknown server host");
    the sentinels never fail to resolve the master; a replica that reconnects to the master
    gets a connection attempt into silence, not an immediate failure; no client operation
    fails with "unknown host"."""
    ctx = RunContext(stack, random.Random(0))
    redis_hosts = stack.topology.redis_hosts
    roles = {h: stack.shell(h, f"{REDIS_CLI} ROLE | head -n 1").stdout.strip() for h in redis_hosts}
    master = next(h for h, r in roles.items() if r == "master")
    replica, other = (h for h in redis_hosts if h != master)
    primary, mysql_replica = stack.topology.mysql_hosts
    assert slave_status(stack, mysql_replica).get("Slave_IO_Running") == "Yes"
    addresses = {h: stack.static_address(h) for h in (master, primary)}
    traffic = Traffic()
    traffic.start(stack, seed=19)
    try:
        time.sleep(2)  # the clients are connected
        off = time.time()
        power_off(ctx, master, "hard", 10.0)
        # A replica whose link breaks now (before the sentinels' failover, 3 s at the earliest)
        # reconnects to the master, by its name.
        assert stack.shell(other, f"{REDIS_CLI} CLIENT KILL TYPE master").stdout.strip() == "1"
        power_off(ctx, primary, "hard", 10.0)
        for peer in (replica, other, "app1", mysql_replica):
            assert resolves(stack, peer, master, primary) == addresses, peer
        assert client_resolves(stack, "traffic-1", master) == addresses[master]
        assert client_resolves(stack, "traffic-2", primary) == addresses[primary]
        deadline = time.monotonic() + 60
        while (status := slave_status(stack, mysql_replica)).get("Last_IO_Errno", "0") == "0":
            assert time.monotonic() < deadline, status
            time.sleep(0.5)
        assert status["Last_IO_Errno"] in ("2003", "2013"), status
        assert "Unknown server host" not in status["Last_IO_Error"], status
        seen = {h: logs_since(stack, h, off) for h in (replica, other)}
        # The replica's first attempt: its connect went out (an unknown host fails it at once:
        # "Unable to connect to MASTER").
        own = [m[1] for ln in seen[other].splitlines() if (m := REPLICA_LINE.match(ln))]
        tried = f"Reconnecting to MASTER {master}:6379"
        assert tried in own, seen[other]
        assert own[own.index(tried) + 1] == "MASTER <-> REPLICA sync started", own
        for host, log in seen.items():
            said = [ln for ln in log.splitlines() if any(u in ln for u in UNKNOWN_HOST)]
            assert not said, (host, said)
    finally:
        ctx.heal()
        history = traffic.stop()
    failed = {f"{o.service}: {o.error}" for o in history.ops if not o.ok}
    assert not [f for f in failed if "unknown host" in f], failed
    assert_all_pass(stack, timeout=120)


def test_a_host_off_any_other_way_keeps_its_name(stack: Stack) -> None:
    """A graceful shutdown, a crash and a `stop` step: while each host is off, a peer still
    resolves its name to its address."""
    ctx = RunContext(stack, random.Random(0))
    gone = {"graphite": "graceful", "app2": "crash", "dns": "hard"}
    addresses = {h: stack.static_address(h) for h in gone}
    try:
        for host, mode in gone.items():
            if host == "dns":
                stop(ctx, Stop(host=host, mode=mode))
            else:
                power_off(ctx, host, mode, 10.0)
        assert all(not stack.running(h) for h in gone)
        for peer in ("mysql2", "redis1"):
            assert resolves(stack, peer, *gone) == addresses, peer
    finally:
        ctx.heal()


def test_a_renumbered_host_is_named_at_its_new_address_even_while_off(stack: Stack) -> None:
    """After a new_ip reboot of a redis replica, the hosts that were up and a host that was off
    meanwhile (booted after) resolve its name to the new address, also once it is off again;
    the sentinels find it there (`redis roles` and every other check pass)."""
    ctx = RunContext(stack, random.Random(0))
    roles = {
        h: stack.shell(h, f"{REDIS_CLI} ROLE | head -n 1").stdout.strip()
        for h in stack.topology.redis_hosts
    }
    moved = next(h for h, r in roles.items() if r == "slave")
    old = stack.static_address(moved)
    power_off(ctx, "graphite", "hard", 10.0)  # off while the replica moves
    reboot(ctx, Reboot(host=moved, mode="hard", new_ip=True))
    new = stack.static_address(moved)
    assert new != old
    power_on(ctx, "graphite")
    power_off(ctx, moved, "hard", 10.0)
    try:
        for peer in ("graphite", "mysql1", "lb1", *(h for h in roles if h != moved)):
            assert resolves(stack, peer, moved) == {moved: new}, (peer, old)
    finally:
        ctx.heal()
    assert_all_pass(stack, timeout=120)
