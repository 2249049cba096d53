"""redis roles: exactly one master, every replica linked to it, every sentinel agreeing. The
redis servers are the topology's ``redis_hosts``; the sentinels, the hosts whose daemons name
``redis-sentinel`` (a server's own, hosts of sentinels alone, or none: then the servers are
judged alone)."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from reboot_harness.checks.api import Context, Problem, check
from reboot_harness.checks.base import Reader, short_error
from reboot_harness.model.own_checks import Reporter
from reboot_harness.model.results import CheckResult
from reboot_harness.model.topology import Topology

if TYPE_CHECKING:
    import redis

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
    down: bool = False  # its host is not running: ``error`` says how
    problems: list[str] = field(default_factory=list)
    # each replica it lists (host) -> "" when it would promote it now, else why not
    # (SENTINEL REPLICAS read by Sentinel's own rule for choosing one: not s_down, o_down or
    # disconnected, a ping answered within 5 s, INFO fresh, priority not 0)
    replicas_seen: dict[str, str] = field(default_factory=dict)


# Sentinel's own limits (sentinel.c, sentinelSelectSlave): a replica is a candidate only with a
# ping answered within 5 periods of 1 s, and its INFO no older than 3 periods of 10 s (5 s while
# the master is subjectively down).
_PING_VALID_MS = 5000
_INFO_VALID_MS = 30000
_INFO_VALID_MASTER_DOWN_MS = 5000


# Two answers of why_not_promotable that are not a reason to wait: a replica its configuration
# makes never a candidate, and an entry whose figures could not be read (no observation).
NEVER_A_CANDIDATE = "replica-priority 0"
UNREADABLE = "its ping, INFO age or priority unreadable"


def why_not_promotable(replica: dict[str, object], master_flags: str) -> str:
    """Why a sentinel would not promote this replica now (the fields of one SENTINEL REPLICAS
    entry), or "" when it would."""
    flags = str(replica.get("flags", ""))
    bad = [f for f in ("s_down", "o_down", "disconnected") if f in flags.split(",")]
    if bad:
        return f"flags {flags}"
    try:
        ping = int(str(replica.get("last-ok-ping-reply", "")))
        info = int(str(replica.get("info-refresh", "")))
        priority = int(str(replica.get("slave-priority", replica.get("replica-priority", 100))))
    except ValueError:
        return UNREADABLE
    if priority == 0:
        return NEVER_A_CANDIDATE
    if ping > _PING_VALID_MS:
        return f"last ping answered {ping} ms ago"
    valid = _INFO_VALID_MASTER_DOWN_MS if "s_down" in master_flags.split(",") else _INFO_VALID_MS
    if info > valid:
        return f"INFO {info} ms old"
    return ""


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


def client(ip: str, port: int, password: str | None = None) -> redis.Redis:
    """A connection that asks once: redis-py 6+ retries a refused or timed-out connection 3
    times with backoff by default, so a server that never answers would cost about 25 s
    instead of its 2 s timeout; a check (or a poll) says what it saw and asks again later."""
    import redis  # here, not at the top: declaring the check needs no redis client
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    return redis.Redis(
        ip, port, password=password, socket_timeout=2, decode_responses=True,
        retry=Retry(NoBackoff(), 0),
    )  # fmt: skip


def presumed_master(nodes: dict[str, NodeView]) -> str:
    """With no answering master: the unanswering node every answering replica names as its
    master ('' when they do not all name the same one, or it answered)."""
    named = {n.master for n in nodes.values() if not n.error and n.role == "slave"}
    silent = {h for h, n in nodes.items() if n.error and not n.down}
    if len(named) == 1 and named <= silent:
        return named.pop()
    return ""


def evaluate(
    report: Reporter,
    nodes: dict[str, NodeView],
    sentinels: dict[str, SentinelView],
    expected_replicas: int,
    expected_sentinels: int,
) -> list[CheckResult]:
    """Judge the replication set from what each node and sentinel reported: ``nodes`` has an
    entry for each redis server, ``sentinels`` one for each sentinel's host (a host may be both,
    or either).

    The number of masters is counted among the nodes that answered. `zero-masters` needs every
    running node to have answered: a node that did not might be the master. When one did not
    and the replicas that answered all name it, it is judged as the master (unreachable);
    otherwise the answering nodes are `master-unknown`.
    """
    masters = sorted(h for h, n in nodes.items() if n.role == "master" and not n.error)
    silent = sorted(h for h, n in nodes.items() if n.error and not n.down)
    expected = f"1 master; {expected_replicas} replicas linked to it"
    if sentinels:
        expected += (
            f"; every sentinel names it, ckquorum OK, no failover in progress,"
            f" {expected_replicas} replicas and {expected_sentinels} sentinels known"
        )
    hosts = sorted(set(nodes) | set(sentinels))
    master = masters[0] if len(masters) == 1 else ""
    if not masters and silent:
        master = presumed_master(nodes)
    if not master:
        if len(masters) > 1:
            cause = "several-masters"
        elif silent:
            cause = "master-unknown"
        else:
            cause = "zero-masters"
        observed = f"{len(masters)} masters ({describe(nodes)})"
        out = []
        for host in hosts:
            node, s = nodes.get(host), sentinels.get(host)
            them = _subjects(host, node is not None, s is not None)
            seen = node if node is not None else s
            if seen is not None and seen.down:
                out.append(report.fail(host, "1 master", seen.error, cause="host-down",
                                       subjects=them))  # fmt: skip
            elif node is not None and node.error:
                out.append(report.fail(host, "1 master", _unreachable(node), cause=
                                       "redis-unreachable", subjects=them))  # fmt: skip
            else:  # (a host of sentinels alone: the servers' state is what it is judged by)
                out.append(report.fail(host, "1 master", observed, cause=cause,
                                       subjects=them))  # fmt: skip
        return out
    results = []
    for host in hosts:
        node = nodes.get(host)
        s = sentinels.get(host)
        them = _subjects(host, node is not None, s is not None)
        seen = node if node is not None else s
        if seen is not None and seen.down:
            results.append(
                report.fail(host, expected, seen.error, cause="host-down", subjects=them)
            )
            continue
        problems = []
        if node is None:
            pass  # a host of sentinels alone
        elif node.error:
            problems.append(Problem("redis-unreachable", _unreachable(node)))
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
        if s is None:
            pass  # a redis server without a sentinel of its own
        elif s.error:
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
        role = ("master" if host == master else f"slave of {master}") if node is not None else ""
        agrees = "sentinel agrees" if s is not None else ""
        results.append(
            report.result(host, expected, problems, ", ".join(w for w in (role, agrees) if w),
                          subjects=them, detail=describe(nodes))
        )  # fmt: skip
    return results


def _unreachable(node: NodeView | None) -> str:
    return f"redis unreachable ({node.error if node else 'no answer'})"


def _subjects(host: str, server: bool = True, sentinel: bool = True) -> tuple[str, ...]:
    return (*((f"{host}/redis",) if server else ()), *((f"{host}/sentinel",) if sentinel else ()))


def subjects(topo: Topology) -> tuple[str, ...]:
    sentinels = set(topo.sentinel_hosts)
    ordered = dict.fromkeys((*topo.redis_hosts, *topo.sentinel_hosts))
    return tuple(s for h in ordered for s in _subjects(h, h in topo.redis_hosts, h in sentinels))


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
    stack: Reader, down: Callable[[str], str | None] = lambda _h: None, *, replicas: bool = False
) -> tuple[dict[str, NodeView], dict[str, SentinelView]]:
    """What every redis host's redis-server and sentinel say (or why they said nothing), the
    hosts asked concurrently (a host that does not answer costs one timeout, not one each);
    ``replicas``: each sentinel's view of the replicas too (``SentinelView.replicas_seen``)."""
    topo = stack.topology
    by_address = {addr: host for host, addr in stack.addresses().items()}
    off = {h: down(h) for h in dict.fromkeys((*topo.redis_hosts, *topo.sentinel_hosts))}
    servers = [h for h in topo.redis_hosts if not off[h]]
    watchers = [h for h in topo.sentinel_hosts if not off[h]]
    with ThreadPoolExecutor(max_workers=max(1, len(servers) + len(watchers))) as pool:
        node_of = {h: pool.submit(_node, stack, h, by_address) for h in servers}
        sentinel_of = {h: pool.submit(_sentinel, stack, h, by_address, replicas) for h in watchers}
    nodes: dict[str, NodeView] = {}
    sentinels: dict[str, SentinelView] = {}
    for host in topo.redis_hosts:
        reason = off[host]
        nodes[host] = NodeView(error=reason, down=True) if reason else node_of[host].result()
    for host in topo.sentinel_hosts:
        reason = off[host]
        sentinels[host] = (
            SentinelView(error=reason, down=True) if reason else sentinel_of[host].result()
        )
    return nodes, sentinels


def _node(stack: Reader, host: str, by_address: dict[str, str]) -> NodeView:
    topo = stack.topology
    try:
        ip, port = stack.endpoint(host, topo.redis_port)
        r = client(ip, port, stack.secrets.get("REDIS_PASSWORD"))
        try:
            info = r.info("replication")
        finally:
            r.close()
    except Exception as e:  # every failure is an observation, never a crash
        return NodeView(error=short_error(e))
    role = str(info.get("role", ""))
    if not role:  # an answer without a role says nothing about it
        return NodeView(error=f"INFO replication without a role: {str(info)[:120]}")
    return NodeView(
        role=role,
        master=_host_of(str(info.get("master_host", "")), by_address, topo.redis_hosts),
        link=str(info.get("master_link_status", "")),
    )


def _sentinel(
    stack: Reader, host: str, by_address: dict[str, str], with_replicas: bool = False
) -> SentinelView:
    topo = stack.topology
    name = topo.redis_master_name
    import redis  # here, not at the top: declaring the check needs no redis client

    try:
        ip, port = stack.endpoint(host, topo.sentinel_port)
        s = client(ip, port)
        try:
            addr = s.execute_command("SENTINEL", "get-master-addr-by-name", name)
            try:
                quorum = str(s.execute_command("SENTINEL", "ckquorum", name))
            except redis.ResponseError as e:  # an answer: the sentinel says why not
                quorum = str(e)
            state = _pairs(s.execute_command("SENTINEL", "MASTER", name))
            listed = s.execute_command("SENTINEL", "REPLICAS", name) if with_replicas else []
        finally:
            s.close()
    except Exception as e:
        return SentinelView(error=short_error(e))
    missing = [k for k in ("num-slaves", "num-other-sentinels", "flags") if k not in state]
    if missing:  # an answer without the counts says nothing about them
        return SentinelView(error=f"SENTINEL MASTER without {', '.join(missing)}")
    try:
        replicas, others = int(str(state["num-slaves"])), int(str(state["num-other-sentinels"]))
    except ValueError as e:
        return SentinelView(error=f"SENTINEL MASTER counts unreadable: {short_error(e)}")
    seen = {}
    for entry in listed if isinstance(listed, list | tuple) else []:
        fields = _pairs(entry)
        host = _host_of(str(fields.get("ip", "")), by_address, topo.redis_hosts)
        seen[host] = why_not_promotable(fields, str(state["flags"]))
    return SentinelView(
        master=_host_of(str(addr[0]), by_address, topo.redis_hosts) if addr else "",
        ckquorum=quorum,
        replicas=replicas,
        sentinels=others + 1,
        flags=str(state["flags"]),
        replicas_seen=seen,
    )


@check(
    NAME,
    description="every redis server, and every sentinel (hosts running redis-sentinel)",
    roles=("redis_hosts",),
    subjects=subjects,
    unobserved=("redis-unreachable", "sentinel-unreachable", "master-unknown"),
    causes={
        "zero-masters": "every redis server answered and none is master: nobody can write",
        "several-masters": "more than one redis server is master (split brain)",
        "redis-unreachable": "a redis server does not answer",
        "master-unknown": "no answering redis server is master and another did not answer (nor do"
        " the replicas agree on it): whether there is a master cannot be told",
        "wrong-role": "a redis server has a role other than master or replica",
        "replica-wrong-master": "a replica replicates from another host than the master",
        "replica-link-down": "a replica's link to the master is not up",
        "sentinel-unreachable": "a sentinel does not answer",
        "sentinel-wrong-master": "a sentinel names another master",
        "ckquorum-failed": "a sentinel cannot reach its quorum (SENTINEL CKQUORUM)",
        "sentinel-view-incomplete": "a sentinel knows fewer or more replicas or sentinels than"
        " exist",
        "failover-in-progress": "a sentinel reports a failover still in progress",
    },
)
def check_redis_roles(ctx: Context) -> list[CheckResult]:
    nodes, sentinels = observe(ctx, ctx.down)
    topo = ctx.topology
    return evaluate(ctx, nodes, sentinels, expected_replicas=len(topo.redis_hosts) - 1,
                    expected_sentinels=len(topo.sentinel_hosts))  # fmt: skip
