"""nginx: every LB answers /health through to an app, and no healthy backend was marked or held
unavailable since the last check (nginx's passive health checks punishing a good backend).

"Marked": an "upstream server temporarily disabled" line for a backend that was already serving.
"Held": a "no live upstreams" line (nginx refused the request: every backend disabled) while a
backend was serving -- it had been disabled earlier and nginx kept it out although it was back.
Whether a backend was serving at a time comes from its own /health `since` (when it started
listening); nginx logs whole seconds, hence one second of slack.

A backend that serves again is not yet "recovered" for an LB while nginx still holds it out:
until ``fail_timeout`` (read from the LB's live configuration, `nginx -T`) has passed since the
failure that disabled it (the newest "temporarily disabled" line; failures below ``max_fails``
disable nothing). Rebooting the other backend before then is exactly how a rolling reboot ends
in "no live upstreams".
"""

from __future__ import annotations

import json
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from reboot_harness.checks.api import Context, Problem, check
from reboot_harness.checks.base import short_error
from reboot_harness.checks.nginx_log import (
    last_disabled,
    not_yet_back,
    parse_disabled,
    parse_fail_timeouts,
    parse_no_live,
    wrongly_unavailable,
)
from reboot_harness.errors import StackError
from reboot_harness.model.hostview import ExecResult
from reboot_harness.model.results import CheckResult
from reboot_harness.model.topology import Topology

NAME = "nginx"
_SPLIT = "---rh-nginx-config---"


def _get_json(url: str, timeout: float = 3.0) -> tuple[int, dict[str, object]]:
    with urllib.request.urlopen(url, timeout=timeout) as resp:
        return resp.status, json.loads(resp.read().decode("utf-8") or "{}")


# Run inside an LB, one exec per LB and round: the tail of nginx's error log, its live
# configuration (`nginx -T`), then, for each upstream server NAME:PORT of that configuration
# whose NAME is among the arguments (the serving apps, by name and by address), the address the
# LB resolves NAME to (nginx resolved its upstreams the same way, through /etc/hosts, when it
# started) and a GET /health sent from the LB's own network to that address. One line each:
# NAME:PORT <tab> ADDRESS <tab> HTTP status line or the connection error <tab> body.
# The sections are separated by markers and the reading ends with an END line; `nginx -T`'s own
# exit status follows the reach marker (``rc=N``): a configuration nginx could not show says
# nothing about its upstreams.
_READ_SCRIPT = r"""
log=$1; shift
tail -c 262144 "$log" 2>/dev/null; echo ---rh-nginx-config---
conf=$(nginx -T 2>&1); rc=$?; printf '%s\n' "$conf"; echo ---rh-nginx-reach--- rc=$rc
b='[[:blank:]]'
printf '%s\n' "$conf" \
 | sed -n "s/^$b*server$b$b*\([^;:[:blank:]]*:[0-9][0-9]*\)[^;]*;.*/\1/p" \
 | sort -u | while read -r t; do
  name=${t%:*}; port=${t##*:}; wanted=
  for w in "$@"; do [ "$w" = "$name" ] && wanted=1; done
  [ -n "$wanted" ] || continue
  addr=$(getent ahostsv4 "$name" 2>/dev/null | awk 'NR == 1 { print $1 }')
  [ -n "$addr" ] || { printf '%s\t-\tdoes not resolve\t\n' "$t"; continue; }
  out=$(timeout 2 bash -c 'exec 3<>"/dev/tcp/$0/$1" || exit 7
    printf "GET /health HTTP/1.0\r\nHost: rh-check\r\n\r\n" >&3; cat <&3' "$addr" "$port" 2>&1)
  rc=$?
  status=$(printf '%s\n' "$out" | head -n 1 | tr -d '\r')
  body=$(printf '%s\n' "$out" | tail -n 1 | tr -d '\r\t')
  if [ $rc -eq 124 ]; then status="timed out after 2s"; body=""
  elif [ $rc -ne 0 ]; then status="cannot connect (${status#*: })"; body=""; fi
  printf '%s\t%s\t%s\t%s\n' "$t" "$addr" "$status" "$body"
done
echo ---rh-nginx-end---
"""
_REACH_SPLIT = "---rh-nginx-reach---"
_END = "---rh-nginx-end---"


@dataclass(frozen=True)
class LbRead:
    """One reading of an LB (:data:`_READ_SCRIPT`): its error log's tail, its configuration as
    ``nginx -T`` shows it, and the reach lines. ``whole``: every section and the END line came
    back; ``config_ok``: ``nginx -T`` succeeded. What a reading lacks is not judged."""

    log: str = ""
    config: str = ""
    reach: str = ""
    whole: bool = False
    config_ok: bool = False


def parse_read(text: str) -> LbRead:
    """Split an LB reading into its sections; anything short of the whole is not a reading."""
    log, split, rest = text.partition(_SPLIT + "\n")
    config, marked, tail = rest.partition(_REACH_SPLIT + " rc=")
    status, _, reach = tail.partition("\n")
    body, ended, after = reach.rpartition(_END)
    if not (split and marked and ended and status.strip().isdigit()) or after.strip():
        return LbRead()
    return LbRead(log, config, body, True, status.strip() == "0")


@dataclass(frozen=True)
class Reach:
    """What an LB saw when it sent /health to one upstream server over its own path."""

    server: str  # NAME:PORT as nginx's configuration has it
    address: str  # what the LB resolves NAME to ("-": nothing)
    status: str  # HTTP status line, or why no answer came
    answered_by: str  # the host the app's /health body names

    @property
    def ok(self) -> bool:
        return " 200 " in f"{self.status} " and bool(self.answered_by)


def parse_reach(text: str) -> list[Reach]:
    out = []
    for line in text.splitlines():
        parts = line.split("\t")
        if len(parts) != 4:
            continue
        try:
            host = str(json.loads(parts[3]).get("host", "")) if parts[3].startswith("{") else ""
        except ValueError:
            host = ""
        out.append(Reach(parts[0], parts[1], parts[2], host))
    return out


def reachability(
    lb: str,
    reaches: list[Reach],
    apps: tuple[str, ...],
    static: dict[str, str],
    actual: dict[str, str],
) -> tuple[list[Problem], list[str]]:
    """Problems with the LB reaching each app over its own path, and the apps it did reach.

    A server line is the app it names (``app1:8000``), or the app whose configured address it
    is. An app that no server line of the LB's configuration names is unreachable too.
    """
    problems, reached = [], []
    by_app: dict[str, Reach] = {}
    for r in reaches:
        name = r.server.rsplit(":", 1)[0]
        app = name if name in apps else next((a for a, ip in static.items() if ip == name), "")
        if app:
            by_app[app] = r
    for app in apps:
        found = by_app.get(app)
        if found is None:
            problems.append(
                Problem("backend-unreachable", f"{lb} has no upstream server for {app}")
            )
            continue
        r = found
        if not r.ok or r.answered_by != app:
            who = f", answered by {r.answered_by}" if r.ok else ""
            now = actual.get(app, "down")
            problems.append(
                Problem(
                    "backend-unreachable",
                    f"{lb} cannot reach {app} at {r.address} ({r.server}: {r.status}{who});"
                    f" {app}'s address is {now}",
                )
            )
        else:
            reached.append(app)
    return problems, reached


def subjects(topo: Topology) -> tuple[str, ...]:
    return tuple(topo.lbs) + tuple(f"{lb}->{app}" for lb in topo.lbs for app in topo.apps)


@check(
    NAME,
    description="every load balancer, and each backend app as that LB reaches it",
    roles=("lbs", "apps"),
    subjects=subjects,
    unobserved=("lb-not-answering", "backend-not-serving"),
    causes={
        "lb-not-answering": "the LB's /health does not answer through to an app (no answer, or an"
        " error status)",
        "backend-unreachable": "the LB cannot reach an app at the address it uses for it (the LB's"
        " own attempt, while the app serves)",
        "backend-not-serving": "an app does not serve /health (no answer, or an error status)",
        "healthy-backend-marked-down": "nginx disabled a backend while it was serving",
        "healthy-backend-held-out": "nginx refused requests ('no live upstreams') while a backend"
        " was serving",
        "backend-not-back": "nginx still holds a serving backend out of rotation (fail_timeout)",
    },
)
def check_nginx(ctx: Context) -> list[CheckResult]:
    topo = ctx.topology
    static = {a: ctx.static_address(a) for a in topo.apps}
    by_address = {ip: a for a, ip in static.items()}
    actual = ctx.addresses()
    # When did each backend start serving? A backend disabled after that was healthy.
    up = [app for app in topo.apps if not ctx.down(app)]
    with ThreadPoolExecutor(max_workers=max(1, len(up))) as pool:
        since = dict(zip(up, pool.map(lambda app: _serving_since(ctx, app), up), strict=True))
    serving_since = {app: at for app, at in since.items() if at is not None}
    view = _Apps(static, by_address, actual, serving_since)
    with ThreadPoolExecutor(max_workers=max(1, len(topo.lbs))) as pool:
        return list(pool.map(lambda lb: _judge_lb(ctx, lb, view), topo.lbs))


def _serving_since(ctx: Context, app: str) -> float | None:
    """When the app says it started serving (its own /health), or None: no such answer."""
    try:
        ip, port = ctx.endpoint(app, ctx.topology.app_port)
        status, body = _get_json(f"http://{ip}:{port}/health")
    except Exception:
        return None
    at = body.get("since")
    return float(at) if status == 200 and isinstance(at, (int, float)) else None


@dataclass(frozen=True)
class _Apps:
    """What one round knows of the apps: configured and current addresses, who serves since
    when (their own /health)."""

    static: dict[str, str]
    by_address: dict[str, str]
    actual: dict[str, str]
    serving_since: dict[str, float]


def _judge_lb(ctx: Context, lb: str, apps: _Apps) -> CheckResult:
    topo = ctx.topology
    expected = (
        "/health answered by an app; the LB reaches every app over its own path; no healthy"
        " backend marked or held unavailable; every serving backend back in rotation"
    )
    tried = (lb, *(f"{lb}->{app}" for app in topo.apps))
    reason = ctx.down(lb)
    if reason:
        return ctx.fail(lb, expected, reason, cause="host-down", subjects=tried)
    problems = []
    answered = ""
    # Asked through the LB only while every app serves: a request nginx hashes to an app that
    # does not serve yet is a failure nginx counts against that app (max_fails), and the check's
    # own probing would take a booting app out of rotation and then wait out its fail_timeout.
    absent = [app for app in topo.apps if app not in apps.serving_since]
    if not absent:
        try:
            ip, port = ctx.endpoint(lb, topo.lb_port)
            status, body = _get_json(f"http://{ip}:{port}/health")
            answered = str(body.get("host", ""))
            if status != 200 or answered not in topo.apps:
                problems.append(
                    Problem("lb-not-answering", f"/health {status} from {answered or '?'}")
                )
        except Exception as e:
            problems.append(Problem("lb-not-answering", f"/health failed: {short_error(e)}"))
    # Only apps that serve are probed through the LB: an app that does not serve at all is
    # `backend-not-serving` (and probing a powered-off address costs a connect timeout); one
    # that serves but that this LB cannot reach is the LB's own problem.
    serving = tuple(a for a in topo.apps if a in apps.serving_since)
    wanted = [w for a in serving for w in (a, apps.static[a])]
    # A read that ends well (exit 0) without every section came back incomplete (once, in CI,
    # under load, the engine's exec stream returned only its last lines): read again.
    for _attempt in range(2):
        try:
            read = ctx.exec(
                lb,
                ["bash", "-c", _READ_SCRIPT, "rh-nginx", topo.nginx_error_log, *wanted],
                timeout=15,
            )
        except StackError as e:  # the engine did not run the read: nothing seen of nginx
            read = ExecResult(-1, "", short_error(e))
        got = parse_read(read.stdout)
        if got.whole or read.exit_code != 0:
            break
    if read.exit_code == 125:  # stopped after the run's status read
        return ctx.fail(lb, expected, read.brief(), cause="host-down", subjects=tried)
    # A backend that does not answer is not in rotation either (whatever the reason: the
    # processes check says which). Judged here too, so that one round of checks cannot pass on
    # a view of the apps taken before one of them served.
    if absent:
        problems.append(
            Problem(
                "backend-not-serving",
                f"not serving: {', '.join(absent)} (/health not asked through the LB meanwhile)",
            )
        )
    unreachable: list[Problem] = []
    reached: list[str] = []
    if not got.whole:  # the read itself failed: say so, and judge nothing from a part of it
        how = read.brief()
        if read.exit_code == 0:
            how = f"twice {len(read.stdout)} bytes without all its sections; {how}"
        problems.append(Problem("host-unreadable", f"cannot read {lb}'s nginx ({how})"))
    elif not got.config_ok:
        said = got.config.strip().splitlines()
        problems.append(
            Problem(
                "host-unreadable",
                f"`nginx -T` failed on {lb}: {said[-1][:160] if said else 'no output'}",
            )
        )
    else:
        unreachable, reached = reachability(
            lb, parse_reach(got.reach), serving, apps.static, apps.actual
        )
    problems += unreachable
    if got.whole:
        problems += wrongly_unavailable(
            parse_disabled(got.log, ctx.since),
            parse_no_live(got.log, ctx.since),
            apps.serving_since,
            apps.by_address,
            parse_fail_timeouts(got.config) if got.config_ok else {},
            parse_disabled(got.log, 0),
        )
    if got.config_ok:
        problems += not_yet_back(
            last_disabled(got.log),
            parse_fail_timeouts(got.config),
            list(apps.serving_since),
            apps.by_address,
            time.time(),
        )
    return ctx.result(
        lb,
        expected,
        problems,
        f"/health answered by {answered}; reaches {', '.join(reached)}",
        subjects=tried,
    )
