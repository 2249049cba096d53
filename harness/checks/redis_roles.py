"""redis roles: exactly one master, every replica linked to it, every sentinel agreeing."""

from __future__ import annotations

from dataclasses import dataclass, field

import redis

from harness.checks.base import CheckContext, failure, register, short_error
from harness.model import CheckResult

NAME = "redis roles"


@dataclass(frozen=True)
class NodeView:
    """What one redis-server says about itself (INFO replication), or why it said nothing."""

    role: str = ""
    master: str = ""  # host name of its master, for a replica
    link: str = ""
    error: str = ""


@dataclass(frozen=True)
class SentinelView:
    """What one sentinel says about the monitored master."""

    master: str = ""
    ckquorum: str = ""
    replicas: int = -1
    sentinels: int = -1
    status: str = ""
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
        f"ckquorum OK, {expected_replicas} replicas and {expected_sentinels} sentinels known"
    )
    if len(masters) != 1:
        observed = f"{len(masters)} masters ({describe(nodes)})"
        return [failure(NAME, host, "1 master", observed) for host in sorted(nodes)]
    master = masters[0]
    results = []
    for host in sorted(set(nodes) | set(sentinels)):
        problems = []
        node = nodes.get(host)
        if node is None or node.error:
            problems.append(f"redis unreachable ({node.error if node else 'no answer'})")
        elif host != master:
            if node.role != "slave":
                problems.append(f"role {node.role}")
            elif node.master != master:
                problems.append(f"slave of {node.master or '?'}, not of {master}")
            elif node.link != "up":
                problems.append(f"master_link_status {node.link or '?'}")
        s = sentinels.get(host)
        if s is None or s.error:
            problems.append(f"sentinel unreachable ({s.error if s else 'no answer'})")
        else:
            if s.master != master:
                problems.append(f"sentinel names master {s.master or '?'}")
            if not s.ckquorum.startswith("OK"):
                problems.append(f"ckquorum: {s.ckquorum or '?'}")
            if s.replicas != expected_replicas:
                problems.append(f"sentinel knows {s.replicas} replicas")
            if s.sentinels != expected_sentinels:
                problems.append(f"sentinel knows {s.sentinels} sentinels")
        role = "master" if host == master else f"slave of {master}"
        observed = "; ".join(problems) if problems else f"{role}, sentinel agrees"
        results.append(CheckResult(NAME, host, not problems, expected, observed, describe(nodes)))
    return results


def _host_of(address: str, by_address: dict[str, str], hosts: tuple[str, ...]) -> str:
    if address in hosts:
        return address
    return by_address.get(address, address)


@register(NAME)
def check_redis_roles(ctx: CheckContext) -> list[CheckResult]:
    topo = ctx.topology
    stack = ctx.stack
    password = stack.secrets.get("REDIS_PASSWORD")
    by_address = {addr: host for host, addr in stack.addresses().items()}
    nodes: dict[str, NodeView] = {}
    sentinels: dict[str, SentinelView] = {}
    for host in topo.redis_hosts:
        reason = ctx.down(host)
        if reason:
            nodes[host] = NodeView(error=reason)
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
            info = s.info("sentinel")
            master0 = next(
                (v for k, v in info.items() if k.startswith("master") and isinstance(v, dict)), {}
            )
            sentinels[host] = SentinelView(
                master=_host_of(str(addr[0]), by_address, topo.redis_hosts) if addr else "",
                ckquorum=quorum,
                replicas=int(master0.get("slaves", -1)),
                sentinels=int(master0.get("sentinels", -1)),
                status=str(master0.get("status", "")),
            )
            s.close()
        except Exception as e:
            sentinels[host] = SentinelView(error=short_error(e))
    n = len(topo.redis_hosts)
    return evaluate(nodes, sentinels, expected_replicas=n - 1, expected_sentinels=n)
