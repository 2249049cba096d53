"""The operator's moves from the plan of action: rotate DNS, fail Sentinel over, fail MySQL over."""

from __future__ import annotations

import contextlib
import time

import redis

from harness.checks.dns import ask_as_clients, ask_direct
from harness.checks.redis_roles import observe
from harness.errors import FaultError, UsageError
from harness.faults.base import RunContext
from harness.model import (
    DNS_READ_BACK_S,
    DnsRotate,
    EventKind,
    MysqlFailover,
    SentinelFailover,
)

READ_BACK_S = DNS_READ_BACK_S  # how long a rotation may take to be served (dnsmasq: ~10 ms)


def dns_rotate(ctx: RunContext, step: DnsRotate) -> None:
    """Rewrite the LB name's answer on the dns host, remember the rotation, read the answer back
    (from the dns host, and as the clients' resolver asks it) until it is the new rotation,
    then wait ``step.wait`` so clients that cached the old answer have moved."""
    stack = ctx.stack
    topo = stack.topology
    current = list(stack.state.rotation or topo.lbs)
    if step.action == "out":
        rotation = [lb for lb in current if lb != step.lb]
        if not rotation:  # an empty rotation would read as "every LB" next time: never
            raise UsageError(
                f"rotating {step.lb} out leaves no load balancer in DNS (clients would get no"
                " answer); rotate another one in first"
            )
    else:
        rotation = [lb for lb in topo.lbs if lb in current or lb == step.lb]
    addresses = [stack.static_address(lb) for lb in rotation]
    began = time.time()
    res = stack.exec(topo.dns_host, ["rh-dns-rotate", *addresses])
    if not res.ok:
        raise FaultError(f"host {topo.dns_host}: rh-dns-rotate failed ({res.brief()})")
    stack.state = stack.state.with_changes(rotation=tuple(rotation))
    stack.state.save()
    served = _read_back(ctx, set(addresses), rotation)
    ctx.event(
        EventKind.DNS_ROTATE,
        step.lb,
        f"{step.action}; in rotation: {', '.join(rotation) or 'none'}; {served}",
        time.time() - began,
    )
    time.sleep(step.wait)


def _read_back(ctx: RunContext, want: set[str], rotation: list[str]) -> str:
    """Poll until the dns host answers ``want``, directly and as clients ask; say how it was
    read, or raise FaultError (rotation-not-served) with the last answers."""
    stack = ctx.stack
    names = {stack.static_address(lb): lb for lb in stack.topology.lbs}

    def shown(addresses: set[str]) -> str:
        return ", ".join(sorted(names.get(a, a) for a in addresses)) or "nothing"

    deadline = time.monotonic() + READ_BACK_S
    last = ""
    while True:
        try:
            direct, _ = ask_direct(stack)
            asker, inside, _ = ask_as_clients(stack, lambda h: None if stack.running(h) else "off")
            if direct == want and inside == want:
                return f"served (read back directly and from {asker})"
            last = f"directly: {shown(direct)}; from {asker}: {shown(inside)}"
        except Exception as e:  # no answer yet is what is being waited out
            last = f"no answer ({type(e).__name__}: {str(e)[:120]})"
        if time.monotonic() >= deadline:
            raise FaultError(
                f"dns rotation written but not served after {READ_BACK_S:g}s: expected"
                f" {', '.join(rotation) or 'nothing'}, the dns host answers {last}",
                cause="rotation-not-served",
            )
        time.sleep(0.1)


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
    raise FaultError("no sentinel answered: " + "; ".join(errors), "host-unavailable")


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
        raise FaultError(f"host {old}: CLIENT PAUSE WRITE refused: {e}", "host-unavailable") from e
    try:
        asked = next(h for h in topo.redis_hosts if ctx.stack.running(h))
        ip, port = ctx.stack.endpoint(asked, topo.sentinel_port)
        s = redis.Redis(ip, port, socket_timeout=5, decode_responses=True)
        try:
            s.execute_command("SENTINEL", "failover", topo.redis_master_name)
        except redis.RedisError as e:
            raise FaultError(
                f"host {asked}: SENTINEL FAILOVER refused: {e}", "failover-refused"
            ) from e
        finally:
            s.close()
        deadline = time.monotonic() + step.timeout
        new = _wait_new_master(ctx, old, step.timeout)
        old_conn.replicaof(new, topo.redis_port)
    finally:
        with contextlib.suppress(redis.RedisError):
            old_conn.execute_command("CLIENT", "UNPAUSE")
        old_conn.close()
    settled = _settle(ctx, new, deadline)
    ctx.event(EventKind.SENTINEL_FAILOVER, new, f"{old} -> {new}; {settled}", time.time() - began)


def _settle(ctx: RunContext, new: str, deadline: float) -> str:
    """Wait until the failover is over in every running host's view: each sentinel names
    ``new`` and reports no failover in progress, each replica replicates from ``new`` with its
    link up. Sentinel refuses the next failover while one is in progress (INPROG), so an
    operation that returns earlier leaves the stack unready for the next."""
    stack = ctx.stack
    last: list[str] = []
    while True:
        nodes, sentinels = observe(stack, lambda h: None if stack.running(h) else "off")
        last = []
        for host in stack.topology.redis_hosts:
            node, s = nodes[host], sentinels[host]
            if node.down:
                continue
            if s.error or s.master != new or "failover_in_progress" in s.flags:
                said = s.error or f"names {s.master}; {s.flags}"
                last.append(f"{host} sentinel: {said}")
            follows = node.role == "slave" and node.master == new and node.link == "up"
            if host != new and (node.error or not follows):
                said = node.error or f"{node.role} of {node.master or '-'}, link {node.link}"
                last.append(f"{host}: {said}")
        if not last:
            return "settled: every sentinel names it, every replica follows it"
        if time.monotonic() >= deadline:
            raise FaultError(
                f"sentinel failover to {new} did not settle in time: " + "; ".join(last[:4]),
                "failover-incomplete",
            )
        time.sleep(0.1)


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
        f"sentinel failover from {old}: no new master after {timeout:g}s (sentinels name {last})",
        "failover-incomplete",
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


def _sql(
    ctx: RunContext, host: str, query: str, timeout: float = 10.0, *, names: bool = False
) -> str:
    """One query as root over the host's unix socket (no password leaves the host); values
    only, or with ``names`` the column names too (``\\G``: one "Field: value" line each)."""
    flags = ["-B"] if names else ["-N", "-B"]
    res = ctx.stack.exec(
        host,
        ["mariadb", "--socket=/run/mysqld/mysqld.sock", "-uroot", *flags, "-e", query],
        timeout=timeout,
    )
    if not res.ok:
        raise FaultError(f"host {host}: `{query}` failed ({res.brief()})", "host-unavailable")
    return res.stdout.strip()


def _role_cmd(ctx: RunContext, host: str, *args: str) -> None:
    res = ctx.stack.exec(host, ["rh-mysql-role", *args], timeout=60)
    if not res.ok:
        # MariaDB: ERROR 1470 (HY000): String '…' is too long for MASTER_PASSWORD (should be no
        # longer than 96)
        cause = (
            "repl-password-too-long" if "ERROR 1470" in res.stderr + res.stdout else "step-failed"
        )
        raise FaultError(
            f"host {host}: rh-mysql-role {' '.join(args)} failed ({res.brief()})", cause
        )


def mysql_failover(ctx: RunContext, step: MysqlFailover) -> None:
    """Planned switchover: freeze the primary, let the replica catch up, promote it, repoint the
    old primary at it with the replication credentials configured on the host (as an operator
    would take them from the secret store)."""
    topo = ctx.stack.topology
    began = time.time()
    roles = {h: _sql(ctx, h, "SELECT @@read_only") for h in topo.mysql_hosts}
    primaries = [h for h, ro in roles.items() if ro == "0"]
    if len(primaries) != 1:
        raise FaultError(
            f"mysql failover: expected 1 writable primary, found {roles}", "no-primary"
        )
    old = primaries[0]
    new = step.to or next(h for h in topo.mysql_hosts if h != old)
    if new == old:
        raise FaultError(f"mysql failover: {new} is already the primary", "no-primary")
    _role_cmd(ctx, old, "replica")
    pos = _sql(ctx, old, "SELECT @@gtid_binlog_pos")
    waited = _sql(ctx, new, f"SELECT MASTER_GTID_WAIT('{pos}', {step.timeout:g})", step.timeout + 5)
    if waited != "0":
        raise FaultError(
            f"mysql failover: {new} did not reach {old}'s position {pos} in time",
            "replica-not-caught-up",
        )
    _role_cmd(ctx, new, "primary")
    if _sql(ctx, new, "SELECT @@read_only") != "0":
        raise FaultError(f"mysql failover: {new} promoted but still read_only", "no-primary")
    ctx.event(EventKind.MYSQL_PROMOTE, new, f"was replica of {old}")
    try:
        _role_cmd(ctx, old, "replica", new)
        _replicating(ctx, old, new, time.monotonic() + step.timeout)
    finally:
        ctx.event(EventKind.MYSQL_REPOINT, old, f"replica of {new}", time.time() - began)


def _replicating(ctx: RunContext, host: str, primary: str, deadline: float) -> None:
    """Wait until ``host`` replicates from ``primary``: both threads running, no error."""
    last = ""
    while True:
        status = _sql(ctx, host, "SHOW SLAVE STATUS\\G", names=True)
        fields = dict(
            (k.strip(), v.strip())
            for k, _, v in (line.partition(":") for line in status.splitlines())
            if v
        )
        io, sql = fields.get("Slave_IO_Running"), fields.get("Slave_SQL_Running")
        if fields.get("Master_Host") == primary and io == "Yes" and sql == "Yes":
            return
        error = fields.get("Last_IO_Error") or fields.get("Last_SQL_Error") or ""
        last = f"Master_Host={fields.get('Master_Host', '-')}, IO {io or '-'}, SQL {sql or '-'}" + (
            f", {error[:160]}" if error else ""
        )
        if time.monotonic() >= deadline:
            raise FaultError(
                f"mysql failover: {host} does not replicate from {primary}: {last}",
                "replication-not-started",
            )
        time.sleep(0.1)
