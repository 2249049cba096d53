"""directories: carbon's pid directory exists at boot with the owner and mode it needs,
carbon listens, and a metric sent now lands in whisper."""

from __future__ import annotations

import random
import socket
import time

from harness.checks.base import CheckContext, failure, register, short_error
from harness.model import CheckResult

NAME = "directories"
PROBE_METRIC = "rh.harness.probe"


def listening_ports(proc_net_tcp: str) -> set[int]:
    """Local ports in LISTEN state (0A) from /proc/net/tcp and tcp6 texts."""
    ports = set()
    for line in proc_net_tcp.splitlines()[1:]:
        parts = line.split()
        if len(parts) > 3 and parts[3] == "0A" and ":" in parts[1]:
            ports.add(int(parts[1].rsplit(":", 1)[1], 16))
    return ports


@register(NAME)
def check_directories(ctx: CheckContext) -> list[CheckResult]:
    topo = ctx.topology
    host = topo.graphite_host
    expected = (
        f"{topo.graphite_pid_dir} owned by {topo.graphite_user} mode {topo.graphite_pid_dir_mode};"
        f" carbon listening on {topo.carbon_port}; a metric sent now lands in whisper"
    )
    reason = ctx.down(host)
    if reason:
        last = ctx.stack.logs(host, tail=2).strip().splitlines()
        return [failure(NAME, host, expected, reason, last[-1][:200] if last else "")]
    stack = ctx.stack
    problems = []
    st = stack.exec(host, ["stat", "-c", "%U %a", topo.graphite_pid_dir])
    if not st.ok:
        problems.append(f"{topo.graphite_pid_dir} missing")
    elif st.stdout.split() != [topo.graphite_user, topo.graphite_pid_dir_mode]:
        problems.append(f"{topo.graphite_pid_dir} is {st.stdout.strip()}")
    listening = _listens(ctx)
    if listening:
        problems.append(listening)
    else:
        landed = _metric_lands(ctx)
        if landed:
            problems.append(landed)
    observed = "; ".join(problems) if problems else "pid dir ok, carbon up, metric landed"
    return [CheckResult(NAME, host, not problems, expected, observed, st.stdout.strip())]


def _listens(ctx: CheckContext) -> str:
    """'' once carbon listens (polled until the deadline), else what was seen."""
    topo = ctx.topology
    deadline = ctx.deadline()
    while True:
        tcp = ctx.stack.shell(topo.graphite_host, "cat /proc/net/tcp /proc/net/tcp6")
        if topo.carbon_port in listening_ports(tcp.stdout):
            return ""
        if time.monotonic() >= deadline:
            if not tcp.stdout:
                return f"cannot read the host's sockets ({tcp.brief()})"
            return f"nothing listens on {topo.carbon_port}"
        time.sleep(0.2)


def _metric_lands(ctx: CheckContext) -> str:
    """Send a probe value now; '' if whisper has it before the deadline, else what was seen."""
    topo = ctx.topology
    host = topo.graphite_host
    value = random.randint(1, 10**9)
    now = int(time.time())
    try:
        ip, port = ctx.stack.endpoint(host, topo.carbon_port)
        with socket.create_connection((ip, port), timeout=2) as sock:
            sock.sendall(f"{PROBE_METRIC} {value} {now}\n".encode())
    except (OSError, Exception) as e:
        return f"cannot send a metric to {topo.carbon_port}: {short_error(e)}"
    path = f"{topo.whisper_dir}/{PROBE_METRIC.replace('.', '/')}.wsp"
    deadline = ctx.deadline()
    last = ""
    while True:
        fetched = ctx.stack.exec(
            host, ["whisper-fetch", "--from", str(now - 2), "--until", str(now + 2), path]
        )
        if fetched.ok and any(
            line.split()[-1:] == [f"{float(value):.6f}"] for line in fetched.stdout.splitlines()
        ):
            return ""
        last = fetched.brief() if not fetched.ok else "value not there yet"
        if time.monotonic() >= deadline:
            return f"metric sent at {now} not in {path} after {ctx.deadline_s:g}s ({last})"
        time.sleep(0.2)
