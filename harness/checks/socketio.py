"""socket.io: a client connects through each LB and gets its echo back."""

from __future__ import annotations

import time
import uuid

import socketio

from harness.checks.base import CheckContext, failure, register, short_error
from harness.model import CheckResult

NAME = "socket.io"


def echo_through(url: str, timeout: float) -> tuple[str, float]:
    """Connect, send an echo; return the transport and the round trip in ms; raise on failure."""
    client = socketio.Client(reconnection=False)
    nonce = uuid.uuid4().hex
    try:
        client.connect(url, wait_timeout=timeout)
        sent = time.monotonic()
        reply = client.call("echo", {"nonce": nonce}, timeout=timeout)
        rtt_ms = (time.monotonic() - sent) * 1000
        transport = client.transport()
    finally:
        client.disconnect()
    if not isinstance(reply, dict) or reply.get("nonce") != nonce:
        raise ValueError(f"echo returned {str(reply)[:80]!r}")
    return transport, rtt_ms


@register(NAME)
def check_socketio(ctx: CheckContext) -> list[CheckResult]:
    topo = ctx.topology
    results = []
    for lb in topo.lbs:
        expected = "connect through the LB and get the echo back"
        reason = ctx.down(lb)
        if reason:
            results.append(failure(NAME, lb, expected, reason))
            continue
        try:
            ip, port = ctx.stack.endpoint(lb, topo.lb_port)
            transport, rtt = echo_through(f"http://{ip}:{port}", timeout=min(ctx.deadline_s, 5.0))
        except Exception as e:
            results.append(failure(NAME, lb, expected, f"no echo: {short_error(e)}"))
            continue
        results.append(
            CheckResult(NAME, lb, True, expected, f"echo back over {transport} in {rtt:.1f} ms")
        )
    return results
