"""socket.io: through each LB, a client reaches each app and gets its echo back.

An LB hashes each client to one app, so one client per LB proves one path only. The shipped LB
hashes on the ``X-RH-Route`` header when a request carries one (``compose/images/lb/app.conf``):
the check learns, per LB, a key that lands on each app (from ``/health``, whose body names the
app that answered, while every app is in rotation), then connects once per (LB, app) with that
key, gets its echo back and asks the app which host holds the session (``whoami``). A client
for one app that lands on another means the LB holds that app out.
"""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request
import uuid
from concurrent.futures import ThreadPoolExecutor

from reboot_harness.checks.api import Context, Problem, check
from reboot_harness.checks.base import short_error
from reboot_harness.model.results import CheckResult
from reboot_harness.model.topology import Topology

NAME = "socket.io"
ROUTE_HEADER = "X-RH-Route"
MAX_KEYS = 32  # hash keys tried per LB to find one for each app

# (stack, lb) -> {app: key}, learned once while every app answered; re-learned when a key no
# longer lands where it did (the LB's upstream list changed).
_KEYS: dict[tuple[str, str], dict[str, str]] = {}
_KEYS_LOCK = threading.Lock()


def echo_through(
    url: str, timeout: float, headers: dict[str, str] | None = None
) -> tuple[str, float, str]:
    """Connect, send an echo, ask who holds the session; return the transport, the echo's round
    trip in ms and the host that answered; raise on failure."""
    import socketio  # here, not at the top: declaring the check needs no socket.io client

    client = socketio.Client(reconnection=False)
    nonce = uuid.uuid4().hex
    try:
        client.connect(url, headers=headers or {}, wait_timeout=timeout)
        sent = time.monotonic()
        reply = client.call("echo", {"nonce": nonce}, timeout=timeout)
        rtt_ms = (time.monotonic() - sent) * 1000
        who = client.call("whoami", {}, timeout=timeout)
        transport = client.transport()
    finally:
        client.disconnect()
    if not isinstance(reply, dict) or reply.get("nonce") != nonce:
        raise ValueError(f"echo returned {str(reply)[:80]!r}")
    host = str(who.get("host", "")) if isinstance(who, dict) else ""
    return transport, rtt_ms, host


def _answered_by(url: str, key: str) -> str:
    request = urllib.request.Request(f"{url}/health", headers={ROUTE_HEADER: key})
    with urllib.request.urlopen(request, timeout=2) as resp:
        return str(json.loads(resp.read().decode() or "{}").get("host", ""))


def route_keys(
    stack_name: str, lb: str, url: str, apps: tuple[str, ...]
) -> tuple[dict[str, str], str]:
    """A hash key per app that this LB sends to it (cached per stack and LB once complete),
    and why the search stopped short: '' when the LB answered every key it was asked (an
    error status is an answer), else what did not answer. Keys missing from an LB that
    answered are its own doing; missing from one that did not answer, they say nothing."""
    with _KEYS_LOCK:
        known = dict(_KEYS.get((stack_name, lb), {}))
    if all(a in known for a in apps):
        return known, ""
    found: dict[str, str] = {}
    for i in range(MAX_KEYS):
        key = f"rh-{i}"
        try:
            host = _answered_by(url, key)
        except urllib.error.HTTPError:  # an answer (502: the key's app is held out or down)
            continue
        except Exception as e:  # no answer: the LB will not start answering within the scan
            return found, f"{lb}'s /health did not answer: {short_error(e)}"
        if host in apps and host not in found:
            found[host] = key
        if len(found) == len(apps):
            with _KEYS_LOCK:
                _KEYS[(stack_name, lb)] = found
            break
    return found, ""


def known_keys(stack_name: str, lb: str, apps: tuple[str, ...]) -> dict[str, str]:
    """The hash keys learned before (while every app served) for ``apps``; nothing is asked."""
    with _KEYS_LOCK:
        known = _KEYS.get((stack_name, lb), {})
        return {a: k for a, k in known.items() if a in apps}


def forget_keys(stack_name: str, lb: str) -> None:
    with _KEYS_LOCK:
        _KEYS.pop((stack_name, lb), None)


def subjects(topo: Topology) -> tuple[str, ...]:
    return tuple(f"{lb}->{app}" for lb in topo.lbs for app in topo.apps)


def _serving(ctx: Context, app: str) -> bool:
    """Whether the app answers its own /health (asked directly, not through an LB)."""
    if ctx.down(app):
        return False
    try:
        ip, port = ctx.endpoint(app, ctx.topology.app_port)
        with urllib.request.urlopen(f"http://{ip}:{port}/health", timeout=2) as resp:
            return bool(resp.status == 200)
    except Exception:
        return False


@check(
    NAME,
    description="every load balancer, and each app behind it",
    roles=("lbs", "apps"),
    subjects=subjects,
    unobserved=("no-echo", "app-not-serving"),
    causes={
        "no-echo": "a socket.io client could not connect and get its echo back (or the LB did not"
        " answer at all)",
        "app-not-serving": "an app does not serve /health at all (nothing to reach through an LB)",
        "wrong-backend": "the LB sent a client for one app to another (the app is held out)",
    },
)
def check_socketio(ctx: Context) -> list[CheckResult]:
    topo = ctx.topology
    results = []
    timeout = min(ctx.deadline_s, 5.0)
    # An app that does not serve at all is named as such, not looked for through every LB (its
    # hash keys would each cost the LB's connect timeout).
    with ThreadPoolExecutor(max_workers=max(1, len(topo.apps))) as pool:
        answers = list(pool.map(lambda app: _serving(ctx, app), topo.apps))
    serving = tuple(a for a, ok in zip(topo.apps, answers, strict=True) if ok)
    all_serve = len(serving) == len(topo.apps)
    for lb in topo.lbs:
        expected = "through the LB, a client for each app connects to it and gets its echo back"
        pairs = tuple(f"{lb}->{app}" for app in topo.apps)
        reason = ctx.down(lb)
        if reason:
            results.append(ctx.fail(lb, expected, reason, cause="host-down", subjects=pairs))
            continue
        try:
            ip, port = ctx.endpoint(lb, topo.lb_port)
        except Exception as e:  # the LB ran at the status read: its port is what is missing
            results.append(ctx.fail(lb, expected, f"no endpoint: {short_error(e)}",
                                    cause="host-unreadable", subjects=pairs))  # fmt: skip
            continue
        url = f"http://{ip}:{port}"
        # Hash keys are looked for only while every app serves: each key tried is a request
        # through the LB, and one that nginx hashes to an app that does not serve yet is a
        # failure it counts against that app (max_fails) — the check would take a booting app
        # out of rotation itself. Meanwhile the keys learned before are used, if any.
        if all_serve:
            keys, silent = route_keys(ctx.project, lb, url, serving)
        else:
            keys, silent = known_keys(ctx.project, lb, serving), ""
        unprobed = [f"{lb}->{a}" for a in serving if a not in keys]
        meanwhile = (
            f" ({', '.join(unprobed)} not probed meanwhile: a hash key for it is learned while"
            " every app serves)"
            if unprobed and not all_serve
            else ""
        )
        problems: list[Problem] = []
        reached: list[str] = []
        seen: list[str] = []
        for app in topo.apps:
            if app not in serving:
                problems.append(
                    Problem("app-not-serving", f"{app} does not serve /health{meanwhile}")
                )
                meanwhile = ""  # said once
                continue
            key = keys.get(app)
            if key is None and not all_serve:
                continue  # not probed: said with the app that does not serve
            if key is None and silent:
                problems.append(Problem("no-echo", f"{lb}->{app}: no hash key found: {silent}"))
                continue
            if key is None:
                held = sorted(set(serving) - set(keys))
                problems.append(
                    Problem(
                        "wrong-backend",
                        f"{lb} sends no client to {app} (of {MAX_KEYS} hash keys, none landed"
                        f" there; reached: {', '.join(sorted(keys)) or 'none'}; held out:"
                        f" {', '.join(held)})",
                    )
                )
                continue
            try:
                transport, rtt, host = echo_through(url, timeout, {ROUTE_HEADER: key})
            except Exception as e:
                problems.append(Problem("no-echo", f"{lb}->{app}: no echo: {short_error(e)}"))
                continue
            if not host:  # the echo came back, but not who holds the session
                problems.append(Problem("no-echo", f"{lb}->{app}: whoami said no host"))
                continue
            if host != app:
                forget_keys(ctx.project, lb)
                problems.append(
                    Problem(
                        "wrong-backend",
                        f"{lb} sent the client for {app} to {host or '?'} ({app} held out)",
                    )
                )
                continue
            reached.append(app)
            seen.append(f"{app} over {transport} in {rtt:.1f} ms")
        results.append(
            ctx.result(lb, expected, problems, "echo back from " + ", ".join(seen),
                       subjects=pairs)
        )  # fmt: skip
    return results
