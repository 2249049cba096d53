"""redis roles: exactly one master, every replica linked to it, every sentinel agreeing."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import redis

from harness.checks.base import (
    CheckContext,
    Problem,
    failure,
    host_down,
    judged,
    register,
    short_error,
)
from harness.model import CheckResult, Topology
from harness.stack import StackLike

NAME = "redis roles"


@dataclass(frozen=True)
class NodeView:
    """What one redis-server says about itself (INFO replication), or why it said nothing."""

    role: str = ""
    master: str = ""  # host name of its master, for a replica
    link: str = ""
    error: str = ""
    down: bool = False  # the host is not running: ``error`` says how


@dataclass(frozen=True)
class SentinelView:
    """What one sentinel says about the monitored master."""

    master: str = ""
    ckquorum: str = ""
    replicas: int = -1
    sentinels: int = -1
    flags: str = ""
    error: str = ""
    problems: list[str] = field(default_factory=list)


def describe(nodes: dict[str, NodeView]) -> str:
    parts = []
    for host, n in sorted(nodes.items()):
        if n.error:
            parts.append(f"{host} unreachable")
        elif n.role == "slave":
            parts.append(f"{host} slave of {n.master or '?'}")
        else:
            parts.append(f"{host} {n.role}")
    return ", ".join(parts)


def evaluate(
    nodes: dict[str, NodeView],
    sentinels: dict[str, SentinelView],
    expected_replicas: int,
    expected_sentinels: int,
) -> list[CheckResult]:
    """Judge the replication set from what each node and sentinel reported."""
    masters = sorted(h for h, n in nodes.items() if n.role == "master" and not n.error)
    expected = (
        f"1 master; {expected_replicas} replicas linked to it; every sentinel names it, "
        f"ckquorum OK, no failover in progress, {expected_replicas} replicas and "
        f"{expected_sentinels} sentinels known"
    )
    hosts = sorted(set(nodes) | set(sentinels))
    if len(masters) != 1:
        cause = "zero-masters" if not masters else "several-masters"
        observed = f"{len(masters)} masters ({describe(nodes)})"
        out = []
        for host in hosts:
            node = nodes.get(host)
            if node is not None and node.down:
                out.append(host_down(NAME, host, "1 master", node.error, subjects=_subjects(host)))
            else:
                out.append(failure(NAME, host, "1 master", observed, cause=cause,
                                   subjects=_subjects(host)))  # fmt: skip
        return out
    master = masters[0]
    results = []
    for host in hosts:
        node = nodes.get(host)
        s = sentinels.get(host)
        if node is not None and node.down:
            results.append(host_down(NAME, host, expected, node.error, subjects=_subjects(host)))
            continue
        problems = []
        if node is None or node.error:
            problems.append(
                Problem(
                    "redis-unreachable",
                    f"redis unreachable ({node.error if node else 'no answer'})",
                )
            )  # fmt: skip
        elif host != master:
            if node.role != "slave":
                problems.append(Problem("wrong-role", f"role {node.role}"))
            elif node.master != master:
                problems.append(
                    Problem(
                        "replica-wrong-master", f"slave of {node.master or '?'}, not of {master}"
                    )
                )  # fmt: skip
            elif node.link != "up":
                problems.append(
                    Problem("replica-link-down", f"master_link_status {node.link or '?'}")
                )
        if s is None or s.error:
            problems.append(
                Problem(
                    "sentinel-unreachable",
                    f"sentinel unreachable ({s.error if s else 'no answer'})",
                )
            )  # fmt: skip
        else:
            if s.master != master:
                problems.append(
                    Problem("sentinel-wrong-master", f"sentinel names master {s.master or '?'}")
                )
            if "failover_in_progress" in s.flags:
                problems.append(
                    Problem("failover-in-progress", f"sentinel: failover in progress ({s.flags})")
                )
            if not s.ckquorum.startswith("OK"):
                problems.append(Problem("ckquorum-failed", f"ckquorum: {s.ckquorum or '?'}"))
            if s.replicas != expected_replicas:
                problems.append(
                    Problem("sentinel-view-incomplete", f"sentinel knows {s.replicas} replicas")
                )
            if s.sentinels != expected_sentinels:
                problems.append(
                    Problem("sentinel-view-incomplete", f"sentinel knows {s.sentinels} sentinels")
                )
        role = "master" if host == master else f"slave of {master}"
        results.append(
            judged(NAME, host, expected, problems, f"{role}, sentinel agrees",
                   subjects=_subjects(host), detail=describe(nodes))
        )  # fmt: skip
    return results


def _subjects(host: str) -> tuple[str, ...]:
    return (f"{host}/redis", f"{host}/sentinel")


def subjects(topo: Topology) -> tuple[str, ...]:
    return tuple(s for h in topo.redis_hosts for s in _subjects(h))


def _pairs(answer: object) -> dict[str, object]:
    """A sentinel's field/value answer as a dict (redis-py may or may not have parsed it)."""
    if isinstance(answer, dict):
        return {str(k): v for k, v in answer.items()}
    items = list(answer) if isinstance(answer, list | tuple) else []
    return {str(k): v for k, v in zip(items[::2], items[1::2], strict=False)}


def _host_of(address: str, by_address: dict[str, str], hosts: tuple[str, ...]) -> str:
    if address in hosts:
        return address
    return by_address.get(address, address)


def observe(
    stack: StackLike, down: Callable[[str], str | None] = lambda _h: None
) -> tuple[dict[str, NodeView], dict[str, SentinelView]]:
    """What every redis host's redis-server and sentinel say (or why they said nothing)."""
    topo = stack.topology
    password = stack.secrets.get("REDIS_PASSWORD")
    by_address = {addr: host for host, addr in stack.addresses().items()}
    nodes: dict[str, NodeView] = {}
    sentinels: dict[str, SentinelView] = {}
    for host in topo.redis_hosts:
        reason = down(host)
        if reason:
            nodes[host] = NodeView(error=reason, down=True)
            sentinels[host] = SentinelView(error=reason)
            continue
        try:
            ip, port = stack.endpoint(host, topo.redis_port)
            r = redis.Redis(ip, port, password=password, socket_timeout=2, decode_responses=True)
            info = r.info("replication")
            nodes[host] = NodeView(
                role=str(info.get("role", "")),
                master=_host_of(str(info.get("master_host", "")), by_address, topo.redis_hosts),
                link=str(info.get("master_link_status", "")),
            )
            r.close()
        except Exception as e:  # every failure is an observation, never a crash
            nodes[host] = NodeView(error=short_error(e))
        try:
            ip, port = stack.endpoint(host, topo.sentinel_port)
            s = redis.Redis(ip, port, socket_timeout=2, decode_responses=True)
            addr = s.execute_command("SENTINEL", "get-master-addr-by-name", topo.redis_master_name)
            try:
                quorum = str(s.execute_command("SENTINEL", "ckquorum", topo.redis_master_name))
            except redis.ResponseError as e:
                quorum = str(e)
            state = _pairs(s.execute_command("SENTINEL", "MASTER", topo.redis_master_name))
            sentinels[host] = SentinelView(
                master=_host_of(str(addr[0]), by_address, topo.redis_hosts) if addr else "",
                ckquorum=quorum,
                replicas=int(str(state.get("num-slaves", -1))),
                sentinels=int(str(state.get("num-other-sentinels", -2))) + 1,
                flags=str(state.get("flags", "")),
            )
            s.close()
        except Exception as e:
            sentinels[host] = SentinelView(error=short_error(e))
    return nodes, sentinels


@register(NAME, subjects)
def check_redis_roles(ctx: CheckContext) -> list[CheckResult]:
    nodes, sentinels = observe(ctx.stack, ctx.down)
    n = len(ctx.topology.redis_hosts)
    return evaluate(nodes, sentinels, expected_replicas=n - 1, expected_sentinels=n)
