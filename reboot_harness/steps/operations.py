"""The executors of the operator's moves from the plan of action: rotate DNS, fail Sentinel over,
fail MySQL over (their kinds: dns_rotate, sentinel_failover, mysql_failover)."""

from __future__ import annotations

import contextlib
import time

import redis

from reboot_harness.checks.context import NOT_REACHED_EXITS
from reboot_harness.checks.dns import ask_as_clients, ask_direct
from reboot_harness.checks.redis_roles import NEVER_A_CANDIDATE, UNREADABLE, client, observe
from reboot_harness.errors import FaultError, UsageError
from reboot_harness.model.events import EventKind
from reboot_harness.model.hostview import ExecResult
from reboot_harness.steps.base import RunContext
from reboot_harness.steps.dns_rotate import DNS_READ_BACK_S, DnsRotate
from reboot_harness.steps.mysql_failover import MysqlFailover
from reboot_harness.steps.sentinel_failover import SentinelFailover

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
        raise FaultError(
            f"host {topo.dns_host}: rh-dns-rotate failed ({res.brief()})", _exec_cause(res)
        )
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
    read, or raise FaultError with what the last reading showed: `rotation-not-served` when
    the dns host answered something else than ``want``, `dns-no-answer` when what it answered
    (if anything) was not enough to tell."""
    stack = ctx.stack
    names = {stack.static_address(lb): lb for lb in stack.topology.lbs}

    def shown(addresses: set[str]) -> str:
        return ", ".join(sorted(names.get(a, a) for a in addresses)) or "nothing"

    deadline = time.monotonic() + READ_BACK_S
    while True:
        seen: list[tuple[str, set[str]]] = []
        silent: list[str] = []
        try:
            direct, _ = ask_direct(stack)
            seen.append(("directly", direct))
        except Exception as e:  # no answer yet is what is being waited out
            silent.append(f"directly: no answer ({type(e).__name__}: {str(e)[:120]})")
        try:
            asker, inside, _ = ask_as_clients(stack, lambda h: None if stack.running(h) else "off")
            seen.append((f"from {asker}", inside))
        except Exception as e:
            silent.append(f"as clients ask: no answer ({type(e).__name__}: {str(e)[:120]})")
        if not silent and all(got == want for _, got in seen):
            return f"served (read back directly and {seen[1][0]})"
        wrong = [f"{how}: {shown(got)}" for how, got in seen if got != want]
        if time.monotonic() >= deadline:
            expected = ", ".join(rotation) or "nothing"
            if wrong:  # an answer, and not the new rotation: that is the rotation not served
                raise FaultError(
                    f"dns rotation written but not served after {READ_BACK_S:g}s: expected"
                    f" {expected}, the dns host answers {'; '.join(wrong + silent)}",
                    cause="rotation-not-served",
                )
            right = [f"{how}: {shown(got)}" for how, got in seen]
            raise FaultError(
                f"dns rotation written, but the dns host did not answer enough to read it back"
                f" within {READ_BACK_S:g}s (expected {expected}): {'; '.join(silent + right)}",
                cause="dns-no-answer",
            )
        time.sleep(0.1)


def _exec_cause(res: ExecResult) -> str:
    """A failed command's step cause: the host was not there to run it (125) or did not answer
    in time (124, 137) — `host-unavailable`; it ran and failed — `step-failed`."""
    return "host-unavailable" if res.exit_code in NOT_REACHED_EXITS else "step-failed"


def sentinel_master(ctx: RunContext) -> str:
    """The current master according to the first sentinel that answers."""
    topo = ctx.stack.topology
    errors = []
    for host in topo.sentinel_hosts:
        try:
            ip, port = ctx.stack.endpoint(host, topo.sentinel_port)
            s = client(ip, port)
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
    old = sentinel_master(ctx)
    old_conn = _redis(ctx, old)
    pause_ms = int((step.timeout + 5) * 1000)
    try:
        old_conn.execute_command("CLIENT", "PAUSE", pause_ms, "WRITE")
    except redis.RedisError as e:
        raise FaultError(f"host {old}: CLIENT PAUSE WRITE refused: {e}", "host-unavailable") from e
    try:
        asked = next((h for h in topo.sentinel_hosts if ctx.stack.running(h)), "")
        if not asked:
            raise FaultError("sentinel failover: no sentinel's host is running", "host-unavailable")
        ip, port = ctx.stack.endpoint(asked, topo.sentinel_port)
        s = redis.Redis(ip, port, socket_timeout=5, decode_responses=True)
        try:
            s.execute_command("SENTINEL", "failover", topo.redis_master_name)
        except redis.ResponseError as e:  # Sentinel's answer: why not (INPROG, NOGOODSLAVE)
            raise FaultError(
                f"host {asked}: SENTINEL FAILOVER refused: {e}", "failover-refused"
            ) from e
        except redis.RedisError as e:  # no answer at all
            raise FaultError(
                f"host {asked}: SENTINEL FAILOVER not answered: {e}", "host-unavailable"
            ) from e
        finally:
            s.close()
        deadline = time.monotonic() + step.timeout
        new = _wait_new_master(ctx, old, step.timeout)
        try:
            old_conn.replicaof(new, topo.redis_port)
        except redis.RedisError as e:
            raise FaultError(f"host {old}: REPLICAOF {new} failed: {e}", "host-unavailable") from e
    finally:
        with contextlib.suppress(redis.RedisError):
            old_conn.execute_command("CLIENT", "UNPAUSE")
        old_conn.close()
    settled = _settle(ctx, new, deadline)
    ctx.event(EventKind.SENTINEL_FAILOVER, new, f"{old} -> {new}; {settled}", time.time() - began)


def _settle(ctx: RunContext, new: str, deadline: float) -> str:
    """Wait until the failover is over in every running host's view: each sentinel names
    ``new`` and reports no failover in progress, each replica replicates from ``new`` with its
    link up, and each sentinel would promote each of those replicas (its own rule: not down or
    disconnected in its view, pinged and INFO-read recently). Sentinel refuses the next failover
    while one is in progress (INPROG) and while it has no replica it would promote (NOGOODSLAVE:
    just after a failover a sentinel's entries of the replicas are new and not read yet), so an
    operation that returns earlier leaves the stack unready for the next."""
    stack = ctx.stack
    while True:
        nodes, sentinels = observe(
            stack, lambda h: None if stack.running(h) else "off", replicas=True
        )
        unsettled: list[str] = []  # what an answer showed is not over yet
        silent: list[str] = []  # who did not answer
        for host, s in sentinels.items():
            if s.down:
                continue
            if s.error:
                silent.append(f"{host} sentinel: {s.error}")
            elif s.master != new or "failover_in_progress" in s.flags:
                unsettled.append(f"{host} sentinel: names {s.master}; {s.flags}")
        for host, node in nodes.items():
            if node.down or host == new:
                continue
            follows = node.role == "slave" and node.master == new and node.link == "up"
            if node.error:
                silent.append(f"{host}: {node.error}")
            elif not follows:
                unsettled.append(f"{host}: {node.role} of {node.master or '-'}, link {node.link}")
        replicas = [h for h, node in nodes.items() if h != new and not node.down]
        for host, s in sentinels.items():
            if s.down or s.error or s.master != new:
                continue  # said above
            for replica in replicas:
                why = s.replicas_seen.get(replica, "not listed")
                if why == UNREADABLE:  # an answer that tells nothing: silence, not a state
                    silent.append(f"{host} sentinel: {replica}: {why}")
                elif why and why != NEVER_A_CANDIDATE:
                    unsettled.append(f"{host} sentinel: would not promote {replica} ({why})")
        if not unsettled and not silent:
            return (
                "settled: every sentinel names it, every replica follows it and could be"
                " promoted next"
            )
        if time.monotonic() >= deadline:
            # Not settled is what an answer shows; silence alone only says nobody told.
            cause = "failover-incomplete" if unsettled else "host-unavailable"
            raise FaultError(
                f"sentinel failover to {new} did not settle in time: "
                + "; ".join([*unsettled, *silent][:4]),
                cause,
            )
        time.sleep(0.1)


def _wait_new_master(ctx: RunContext, old: str, timeout: float) -> str:
    """The new master once a sentinel names another than ``old`` and it says it is master.
    Ran out: `failover-incomplete` if the last answers showed it not done, `host-unavailable`
    if the last round got no answer to tell by."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            named = sentinel_master(ctx)
        except FaultError as e:
            seen, answered = str(e), False
        else:
            role = _role(ctx, named) if named != old else "master"
            if named != old and role == "master":
                return named
            answered = bool(role)
            seen = f"sentinels name {named}" + (
                "" if named == old else f", whose role is {role or 'unknown (no answer)'}"
            )
        if time.monotonic() >= deadline:
            raise FaultError(
                f"sentinel failover from {old}: no new master after {timeout:g}s ({seen})",
                "failover-incomplete" if answered else "host-unavailable",
            )
        time.sleep(0.1)


def _role(ctx: RunContext, host: str) -> str:
    try:
        ip, port = ctx.stack.endpoint(host, ctx.stack.topology.redis_port)
        r = client(ip, port, ctx.stack.secrets.get("REDIS_PASSWORD"))
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


def _flag(ctx: RunContext, host: str, query: str) -> str:
    """A query whose answer is 0 or 1 (``SELECT @@read_only``); anything else — an empty
    answer included — is a host that did not tell (`host-unavailable`)."""
    value = _sql(ctx, host, query)
    if value not in ("0", "1"):
        raise FaultError(f"host {host}: `{query}` answered {value!r}, not 0 or 1",
                         "host-unavailable")  # fmt: skip
    return value


def _role_cmd(ctx: RunContext, host: str, *args: str) -> None:
    res = ctx.stack.exec(host, ["rh-mysql-role", *args], timeout=60)
    if not res.ok:
        # MariaDB: ERROR 1470 (HY000): String '…' is too long for MASTER_PASSWORD (should be no
        # longer than 96)
        cause = (
            "repl-password-too-long"
            if "ERROR 1470" in res.stderr + res.stdout
            else _exec_cause(res)
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
    roles = {h: _flag(ctx, h, "SELECT @@read_only") for h in topo.mysql_hosts}
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
    if waited not in ("0", "-1"):  # 0: reached, -1: timed out; anything else tells nothing
        raise FaultError(
            f"host {new}: MASTER_GTID_WAIT answered {waited!r}, not 0 or -1", "host-unavailable"
        )
    if waited != "0":
        raise FaultError(
            f"mysql failover: {new} did not reach {old}'s position {pos} in time",
            "replica-not-caught-up",
        )
    _role_cmd(ctx, new, "primary")
    if _flag(ctx, new, "SELECT @@read_only") != "0":
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
            # An empty status is "not a replica" only from a server that answers queries.
            if not fields and _sql(ctx, host, "SELECT 1") != "1":
                raise FaultError(f"host {host}: SHOW SLAVE STATUS and SELECT 1 answered nothing",
                                 "host-unavailable")  # fmt: skip
            raise FaultError(
                f"mysql failover: {host} does not replicate from {primary}: {last}",
                "replication-not-started",
            )
        time.sleep(0.1)
