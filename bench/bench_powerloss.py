"""Power loss vs a crash, side by side on the same stack: how long each peer takes to notice.

`crash` kills every process of a host while its kernel lives on: the kernel closes every socket,
peers get FIN/RST at once. `hard` (power loss) takes the host off the network first, then kills
it: peers' packets go unanswered and they notice only by their own timeouts. For each mode and
each peer, the host is powered off, the peer is watched until it notices, the host is booted
and the stack left to recover:

- socket.io client: a python-socketio client connected through lb1 to app2 (hash key), until
  its `disconnect` fires (crash: nginx gets the reset and closes; power loss: the engine.io ping
  timeout);
- Sentinel: the redis master off, until another sentinel flags it `s_down`, then `o_down`;
- replica IO thread: the MySQL primary off, until the replica's IO thread is no longer `Yes`
  (or reports an error);
- nginx: app2 off, requests routed to app2 through lb1 every 50 ms, until one is answered by
  app1 (nginx gave up on app2 and failed over), and the slowest request meanwhile.

Run by hand: `.venv/bin/python bench/bench_powerloss.py [--rounds 1]` (not part of CI).
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import threading
import time
import urllib.request
import uuid
from collections.abc import Callable
from dataclasses import dataclass

import pymysql
import redis
import socketio

from reboot_harness.checks.recovery import wait_recovered
from reboot_harness.checks.socketio import ROUTE_HEADER, route_keys
from reboot_harness.run.bringup import bring_up
from reboot_harness.stack.core import Stack
from reboot_harness.stack.removal import down
from reboot_harness.steps import RunContext
from reboot_harness.steps.reboot import power_off, power_on

LIMIT_S = 90.0  # a peer that has not noticed by then "never" did


@dataclass
class Seen:
    peer: str  # what kind of peer (the table's row)
    mode: str
    noticed_s: float | None
    detail: str = ""  # which hosts, and what the peer said


def _until(probe: Callable[[], str], began: float) -> tuple[float | None, str]:
    """Poll ``probe`` (returns '' until it sees the peer notice) every 50 ms up to LIMIT_S."""
    while time.time() - began < LIMIT_S:
        said = probe()
        if said:
            return time.time() - began, said
        time.sleep(0.05)
    return None, "never"


def socketio_peer(stack: Stack, ctx: RunContext, mode: str) -> Seen:
    ip, port = stack.endpoint("lb1", 80)
    url = f"http://{ip}:{port}"
    keys = route_keys(stack.name, "lb1", url, ("app1", "app2"))
    gone = threading.Event()
    client = socketio.Client(reconnection=False)
    client.on("disconnect", lambda *a: gone.set())
    client.connect(url, headers={ROUTE_HEADER: keys["app2"]}, transports=["websocket"])
    assert client.call("whoami", {}, timeout=5)["host"] == "app2"
    began = time.time()
    power_off(ctx, "app2", mode, 10.0)
    noticed, said = _until(lambda: "disconnected" if gone.is_set() else "", began)
    client.disconnect()
    power_on(ctx, "app2")
    return Seen("socket.io client (through lb1 to app2, websocket)", mode, noticed, said)


def sentinel_peer(stack: Stack, ctx: RunContext, mode: str) -> Seen:
    topo = stack.topology
    s = redis.Redis(*stack.endpoint("redis2", topo.sentinel_port), decode_responses=True)
    master = s.execute_command("SENTINEL", "get-master-addr-by-name", topo.redis_master_name)[0]
    master = master if master in topo.redis_hosts else "redis1"
    asker = next(h for h in topo.redis_hosts if h != master)
    s = redis.Redis(*stack.endpoint(asker, topo.sentinel_port), decode_responses=True)
    began = time.time()
    power_off(ctx, master, mode, 10.0)
    sdown: list[float] = []

    def flags() -> str:
        state = s.execute_command("SENTINEL", "MASTER", topo.redis_master_name)
        if not isinstance(state, dict):
            state = dict(zip(state[::2], state[1::2], strict=False))
        f, named = str(state.get("flags", "")), str(state.get("name", ""))
        now = s.execute_command("SENTINEL", "get-master-addr-by-name", topo.redis_master_name)
        if "s_down" in f and not sdown:
            sdown.append(time.time() - began)
        if "o_down" in f:
            return "o_down"
        # A quick failover can replace the master between two polls: that is o_down too.
        return f"failed over to {now[0]}" if now and now[0] != master and named else ""

    noticed, said = _until(flags, began)
    power_on(ctx, master)
    first = f"s_down after {sdown[0]:.2f}s; " if sdown else ""
    return Seen(
        "Sentinel (quorum: o_down)", mode, noticed, f"{asker} about {master}: {first}{said}"
    )


def replica_peer(stack: Stack, ctx: RunContext, mode: str) -> Seen:
    views = {}
    for h in stack.topology.mysql_hosts:
        ip, port = stack.endpoint(h, 3306)
        conn = pymysql.connect(host=ip, port=port, user="root", autocommit=True,
                               password=stack.secrets["MYSQL_ROOT_PASSWORD"],
                               cursorclass=pymysql.cursors.DictCursor)  # fmt: skip
        with conn.cursor() as cur:
            cur.execute("SELECT @@read_only AS ro")
            views[h] = (conn, (cur.fetchone() or {})["ro"])
    primary = next(h for h, (_c, ro) in views.items() if ro == 0)
    replica = next(h for h in views if h != primary)
    conn = views[replica][0]
    began = time.time()
    power_off(ctx, primary, mode, 10.0)

    def io() -> str:
        with conn.cursor() as cur:
            cur.execute("SHOW SLAVE STATUS")
            row = cur.fetchone() or {}
        if row.get("Slave_IO_Running") != "Yes" or int(row.get("Last_IO_Errno") or 0):
            return f"IO {row.get('Slave_IO_Running')}, errno {row.get('Last_IO_Errno')}"
        return ""

    noticed, said = _until(io, began)
    power_on(ctx, primary)
    for c, _ in views.values():
        c.close()
    return Seen("MySQL replica IO thread", mode, noticed, f"{replica} of {primary}: {said}")


def nginx_peer(stack: Stack, ctx: RunContext, mode: str) -> Seen:
    ip, port = stack.endpoint("lb1", 80)
    url = f"http://{ip}:{port}"
    key = route_keys(stack.name, "lb1", url, ("app1", "app2"))["app2"]
    slowest = [0.0]

    def ask() -> str:
        t = time.time()
        request = urllib.request.Request(f"{url}/health", headers={ROUTE_HEADER: key})
        try:
            with urllib.request.urlopen(request, timeout=30) as resp:
                host = str(json.loads(resp.read()).get("host", ""))
        except Exception as e:
            host = f"error {type(e).__name__}"
        slowest[0] = max(slowest[0], time.time() - t)
        return host if host != "app2" else ""

    began = time.time()
    power_off(ctx, "app2", mode, 10.0)
    noticed, said = _until(ask, began)
    power_on(ctx, "app2")
    return Seen("nginx (lb1 fails requests for app2 over)", mode, noticed,
                f"then answered by {said}; slowest request {slowest[0]:.2f}s")  # fmt: skip


PEERS = {
    "socketio": socketio_peer,
    "sentinel": sentinel_peer,
    "replica": replica_peer,
    "nginx": nginx_peer,
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--peers", nargs="*", choices=sorted(PEERS), default=list(PEERS))
    args = parser.parse_args()
    name = f"rh-bench-pl-{uuid.uuid4().hex[:6]}"
    up = bring_up(name, keep=False, timeout=300)
    stack = up.stack
    ctx = RunContext(stack, random.Random(0))
    seen: list[Seen] = []
    try:
        for _ in range(args.rounds):
            for peer in (PEERS[p] for p in args.peers):
                for mode in ("crash", "hard"):
                    wait_recovered(stack, timeout=180)
                    time.sleep(2)
                    s = peer(stack, ctx, mode)
                    took = "never" if s.noticed_s is None else f"{s.noticed_s:6.2f}s"
                    print(f"{s.peer:45} {mode:6} {took}  {s.detail}", flush=True)
                    seen.append(s)
    finally:
        ctx.heal()
        down(name)
    print("\n| peer | crash | power loss (hard) | ratio |\n|---|---:|---:|---:|")
    for peer in dict.fromkeys(s.peer for s in seen):
        med = {}
        for mode in ("crash", "hard"):
            times = [s.noticed_s for s in seen if s.peer == peer and s.mode == mode]
            med[mode] = statistics.median(t if t is not None else LIMIT_S for t in times or [0])
        ratio = med["hard"] / med["crash"] if med["crash"] else float("inf")
        print(f"| {peer} | {med['crash']:.2f} s | {med['hard']:.2f} s | {ratio:.0f}x |")


if __name__ == "__main__":
    main()
