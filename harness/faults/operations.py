"""The operator's moves from the plan of action: rotate DNS, fail Sentinel over, fail MySQL over."""

from __future__ import annotations

import contextlib
import time

import redis

from harness.errors import FaultError
from harness.faults.base import RunContext
from harness.model import DnsRotate, MysqlFailover, SentinelFailover


def dns_rotate(ctx: RunContext, step: DnsRotate) -> None:
    """Rewrite the LB name's answer on the dns host, remember the rotation, wait the TTL."""
    stack = ctx.stack
    current = list(stack.state.rotation or stack.topology.lbs)
    if step.action == "out":
        rotation = [lb for lb in current if lb != step.lb]
    else:
        rotation = [lb for lb in stack.topology.lbs if lb in current or lb == step.lb]
    addresses = [stack.static_address(lb) for lb in rotation]
    res = stack.exec(stack.topology.dns_host, ["rh-dns-rotate", *addresses])
    if not res.ok:
        raise FaultError(f"host {stack.topology.dns_host}: rh-dns-rotate failed ({res.brief()})")
    stack.state = stack.state.with_changes(rotation=tuple(rotation))
    stack.state.save()
    ctx.event("dns rotate", step.lb, f"{step.action}; in rotation: {', '.join(rotation) or 'none'}")
    time.sleep(step.wait)


def _sentinel_master(ctx: RunContext) -> str:
    """The current master according to the first sentinel that answers."""
    topo = ctx.stack.topology
    errors = []
    for host in topo.redis_hosts:
        try:
            ip, port = ctx.stack.endpoint(host, topo.sentinel_port)
            s = redis.Redis(ip, port, socket_timeout=2, decode_responses=True)
            addr = s.execute_command("SENTINEL", "get-master-addr-by-name", topo.redis_master_name)
            s.close()
            if addr:
                return _host_name(ctx, str(addr[0]))
        except Exception as e:
            errors.append(f"{host}: {e}")
    raise FaultError("no sentinel answered: " + "; ".join(errors))


def _host_name(ctx: RunContext, address: str) -> str:
    if address in ctx.stack.topology.hosts:
        return address
    return {a: h for h, a in ctx.stack.addresses().items()}.get(address, address)


def _redis(ctx: RunContext, host: str) -> redis.Redis:
    ip, port = ctx.stack.endpoint(host, ctx.stack.topology.redis_port)
    return redis.Redis(ip, port, password=ctx.stack.secrets.get("REDIS_PASSWORD"), socket_timeout=5)


def sentinel_failover(ctx: RunContext, step: SentinelFailover) -> None:
    """A planned failover that loses no acknowledged write.

    SENTINEL FAILOVER alone leaves the old master accepting writes until Sentinel demotes it
    (~10 s), and those writes are lost when it resyncs from the new master. So: pause writes on
    the old master, fail over, fence the old master as a replica of the new one, unpause (the
    writes that waited then fail with READONLY instead of being acknowledged and lost).
    """
    topo = ctx.stack.topology
    began = time.time()
    old = _sentinel_master(ctx)
    old_conn = _redis(ctx, old)
    pause_ms = int((step.timeout + 5) * 1000)
    try:
        old_conn.execute_command("CLIENT", "PAUSE", pause_ms, "WRITE")
    except redis.RedisError as e:
        raise FaultError(f"host {old}: CLIENT PAUSE WRITE refused: {e}") from e
    try:
        asked = next(h for h in topo.redis_hosts if ctx.stack.running(h))
        ip, port = ctx.stack.endpoint(asked, topo.sentinel_port)
        s = redis.Redis(ip, port, socket_timeout=5, decode_responses=True)
        try:
            s.execute_command("SENTINEL", "failover", topo.redis_master_name)
        except redis.RedisError as e:
            raise FaultError(f"host {asked}: SENTINEL FAILOVER refused: {e}") from e
        finally:
            s.close()
        new = _wait_new_master(ctx, old, step.timeout)
        old_conn.replicaof(new, topo.redis_port)
    finally:
        with contextlib.suppress(redis.RedisError):
            old_conn.execute_command("CLIENT", "UNPAUSE")
        old_conn.close()
    ctx.event("sentinel failover", new, f"{old} -> {new}", time.time() - began)


def _wait_new_master(ctx: RunContext, old: str, timeout: float) -> str:
    deadline = time.monotonic() + timeout
    last = old
    while time.monotonic() < deadline:
        with contextlib.suppress(FaultError):
            last = _sentinel_master(ctx)
        if last != old and _role(ctx, last) == "master":
            return last
        time.sleep(0.1)
    raise FaultError(
        f"sentinel failover from {old}: no new master after {timeout:g}s (sentinels name {last})"
    )


def _role(ctx: RunContext, host: str) -> str:
    try:
        ip, port = ctx.stack.endpoint(host, ctx.stack.topology.redis_port)
        r = redis.Redis(
            ip, port, password=ctx.stack.secrets.get("REDIS_PASSWORD"), socket_timeout=2
        )
        role = str(r.info("replication").get("role", ""))
        r.close()
        return role
    except Exception:
        return ""


def _sql(ctx: RunContext, host: str, query: str, timeout: float = 10.0) -> str:
    """One query as root over the host's unix socket (no password leaves the host)."""
    res = ctx.stack.exec(
        host,
        ["mariadb", "--socket=/run/mysqld/mysqld.sock", "-uroot", "-N", "-B", "-e", query],
        timeout=timeout,
    )
    if not res.ok:
        raise FaultError(f"host {host}: `{query}` failed ({res.brief()})")
    return res.stdout.strip()


def _role_cmd(ctx: RunContext, host: str, *args: str) -> None:
    res = ctx.stack.exec(host, ["rh-mysql-role", *args], timeout=60)
    if not res.ok:
        raise FaultError(f"host {host}: rh-mysql-role {' '.join(args)} failed ({res.brief()})")


def mysql_failover(ctx: RunContext, step: MysqlFailover) -> None:
    """Planned switchover: freeze the primary, let the replica catch up, promote it, repoint the
    old primary at it with the replication credentials configured on the host (as an operator
    would take them from the secret store)."""
    topo = ctx.stack.topology
    began = time.time()
    roles = {h: _sql(ctx, h, "SELECT @@read_only") for h in topo.mysql_hosts}
    primaries = [h for h, ro in roles.items() if ro == "0"]
    if len(primaries) != 1:
        raise FaultError(f"mysql failover: expected 1 writable primary, found {roles}")
    old = primaries[0]
    new = step.to or next(h for h in topo.mysql_hosts if h != old)
    if new == old:
        raise FaultError(f"mysql failover: {new} is already the primary")
    _role_cmd(ctx, old, "replica")
    pos = _sql(ctx, old, "SELECT @@gtid_binlog_pos")
    waited = _sql(ctx, new, f"SELECT MASTER_GTID_WAIT('{pos}', {step.timeout:g})", step.timeout + 5)
    if waited != "0":
        raise FaultError(f"mysql failover: {new} did not reach {old}'s position {pos} in time")
    _role_cmd(ctx, new, "primary")
    ctx.event("mysql promote", new, f"was replica of {old}")
    try:
        _role_cmd(ctx, old, "replica", new)
    finally:
        ctx.event("mysql repoint", old, f"replica of {new}", time.time() - began)
