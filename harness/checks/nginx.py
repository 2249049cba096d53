"""nginx: every LB answers /health through to an app, and no healthy backend was marked
unavailable since the last check (nginx's passive health checks punishing a good backend)."""

from __future__ import annotations

import json
import re
import urllib.request
from dataclasses import dataclass
from datetime import UTC, datetime

from harness.checks.base import CheckContext, failure, register, short_error
from harness.model import CheckResult

NAME = "nginx"
_LINE = re.compile(r"^(\d{4}/\d\d/\d\d \d\d:\d\d:\d\d) \[(\w+)\] (.*)$")
_UPSTREAM = re.compile(r'upstream: "\w+://([^:/"]+):(\d+)')


@dataclass(frozen=True)
class Disabled:
    """nginx gave up on a backend at ``at`` (epoch seconds)."""

    at: float
    address: str
    port: int
    line: str


def parse_disabled(error_log: str, since: float) -> list[Disabled]:
    """Every "upstream server temporarily disabled" line newer than ``since``.

    nginx writes its local time; the hosts run in UTC.
    """
    out = []
    for raw in error_log.splitlines():
        m = _LINE.match(raw)
        if not m or "upstream server temporarily disabled" not in m.group(3):
            continue
        at = datetime.strptime(m.group(1), "%Y/%m/%d %H:%M:%S").replace(tzinfo=UTC)
        if at.timestamp() < int(since):
            continue
        up = _UPSTREAM.search(m.group(3))
        if up:
            out.append(Disabled(at.timestamp(), up.group(1), int(up.group(2)), raw[:300]))
    return out


def _get_json(url: str, timeout: float = 3.0) -> tuple[int, dict[str, object]]:
    with urllib.request.urlopen(url, timeout=timeout) as resp:
        return resp.status, json.loads(resp.read().decode("utf-8") or "{}")


@register(NAME)
def check_nginx(ctx: CheckContext) -> list[CheckResult]:
    topo = ctx.topology
    stack = ctx.stack
    by_address = {stack.static_address(a): a for a in topo.apps}
    # When did each backend start serving? A backend disabled after that was healthy.
    serving_since: dict[str, float] = {}
    for app in topo.apps:
        if ctx.down(app):
            continue
        try:
            ip, port = stack.endpoint(app, topo.app_port)
            status, body = _get_json(f"http://{ip}:{port}/health")
            if status == 200 and isinstance(body.get("since"), (int, float)):
                serving_since[app] = float(body["since"])  # type: ignore[arg-type]
        except Exception:
            continue
    results = []
    for lb in topo.lbs:
        expected = "/health answered by an app; no healthy backend marked unavailable"
        reason = ctx.down(lb)
        if reason:
            results.append(failure(NAME, lb, expected, reason))
            continue
        problems = []
        answered = ""
        try:
            ip, port = stack.endpoint(lb, topo.lb_port)
            status, body = _get_json(f"http://{ip}:{port}/health")
            answered = str(body.get("host", ""))
            if status != 200 or answered not in topo.apps:
                problems.append(f"/health {status} from {answered or '?'}")
        except Exception as e:
            problems.append(f"/health failed: {short_error(e)}")
        log = stack.exec(lb, ["tail", "-c", "262144", topo.nginx_error_log])
        wrongly = []
        for d in parse_disabled(log.stdout, ctx.since):
            app = by_address.get(d.address, d.address)
            since = serving_since.get(app)
            # one second of slack: nginx logs whole seconds
            if since is not None and since < d.at - 1:
                wrongly.append(f"{app} at {datetime.fromtimestamp(d.at, UTC):%H:%M:%S}")
        if wrongly:
            problems.append("healthy backend marked unavailable: " + ", ".join(wrongly))
        observed = "; ".join(problems) if problems else f"/health answered by {answered}"
        results.append(CheckResult(NAME, lb, not problems, expected, observed))
    return results
