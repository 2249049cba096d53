"""An incident counts as reproduced by its mechanism, not by a side effect.

Ablation: for each shipped incident, the same incident file with exactly its mechanism removed
(one setting or one boot line; the declaration is unchanged) does not reproduce — the scenario
runs, the judge looks for the same cause, and finds none. And a scenario that stops the very
host an incident's check looks at, without the incident's mechanism, is "incident failed, but
not by its cause", never "reproduced".

socketio-abrupt-termination has two halves: the incident (LB failover off) is ablated like the
others; why failover had been turned off, and that the fixed LB turns it back on safely, is a
round of abrupt socket.io terminations on the fixed LB and on it with its fix taken out.
"""

from __future__ import annotations

import base64
import json
import re
import time
import urllib.request
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path

import pytest

from reboot_harness.checks.nginx_log import parse_entries
from reboot_harness.checks.recovery import wait_recovered
from reboot_harness.checks.run import run_checks
from reboot_harness.checks.socketio import ROUTE_HEADER, echo_through
from reboot_harness.inputs.paths import default_compose_dir
from reboot_harness.model.scenario import Scenario
from reboot_harness.run.loop import ScenarioResult, run_scenario
from reboot_harness.run.request import RunRequest
from reboot_harness.scenarios import find
from reboot_harness.scenarios.incidents import load_incident
from reboot_harness.stack.core import Stack
from reboot_harness.stack.engine import client
from reboot_harness.stack.labels import CLIENT_ROLE, MANAGED_LABEL, PROJECT_LABEL, ROLE_LABEL
from tests.integration.conftest import causes, failing, healthy_stack

pytestmark = pytest.mark.docker
INDEPENDENT = True  # each test brings its own stacks: spread over the xdist workers

INCIDENTS = default_compose_dir() / "incidents"


def _replace(text: str, old: str, new: str) -> str:
    assert text.count(old) >= 1, f"{old!r} not in the incident file: the ablation is stale"
    return text.replace(old, new)


def _replace_all(text: str, *edits: tuple[str, str]) -> str:
    for old, new in edits:
        text = _replace(text, old, new)
    return text


def _minfds_back(tmp: Path, text: str) -> str:
    """no-minfds without its mechanism: its supervisord.conf with minfds=10000 back."""
    conf = (INCIDENTS / "no-minfds" / "supervisord.conf").read_text()
    assert not re.search(r"^minfds", conf, re.M)
    fixed = tmp / "supervisord.conf"
    fixed.write_text(_replace(conf, "[supervisord]\n", "[supervisord]\nminfds=10000\n"))
    return _replace(text, "./incidents/no-minfds/supervisord.conf", str(fixed))


def _sentinel_state_kept(tmp: Path, text: str) -> str:
    """sentinel-all-replicas without its mechanism: the naive boot keeps sentinel.conf (the
    state Sentinel wrote: current master, epochs, known replicas) instead of re-rendering it
    from the template at every boot."""
    src = INCIDENTS / "sentinel-all-replicas"
    dst = tmp / "sentinel-all-replicas"
    dst.mkdir()
    for f in src.iterdir():
        body = f.read_text()
        if f.name == "naive-boot.sh":
            body = _replace(body, 'cat >"$SCONF" <<SCONF', "cat >/dev/null <<SCONF")
        (dst / f.name).write_text(body)
        (dst / f.name).chmod(f.stat().st_mode)
    return _replace(text, "./incidents/sentinel-all-replicas:", f"{dst}:")


def _password_that_fits(_tmp: Path, text: str) -> str:
    """mysql-long-repl-password without its mechanism: the stored replication password is as
    long as CHANGE MASTER takes (96 characters), so nobody ever shortened it."""
    m = re.search(r'MYSQL_REPL_PASSWORD: "([^"]{97,})"', text)
    assert m, "no over-long MYSQL_REPL_PASSWORD in the incident file: the ablation is stale"
    return _replace(text, m.group(1), m.group(1)[:96])


# incident -> (scenario, how to remove exactly its mechanism from the incident file)
ABLATIONS: dict[str, tuple[str, Callable[[Path, str], str]]] = {
    "no-minfds": ("no-minfds", _minfds_back),
    "graphite-piddir": (
        "graphite-piddir",
        # the pid directory made at every boot instead of once
        lambda _t, text: _replace(text, 'if [ ! -e "$$marker" ]; then', "if true; then"),
    ),
    "graphite-stale-pid": (
        "graphite-stale-pid",
        # pid files from the boot before removed at boot (tmpfiles' `r`): the directory stays
        # on disk
        lambda _t, text: _replace(
            text,
            "        exec /usr/local/sbin/rh-host-init",
            "        rm -f /var/lib/graphite/run/carbon-cache-*.pid\n"
            "        exec /usr/local/sbin/rh-host-init",
        ),
    ),
    "sentinel-all-replicas": ("sentinel-all-replicas", _sentinel_state_kept),
    "mysql-long-repl-password": ("mysql-long-repl-password", _password_that_fits),
    "lb-no-dns-rotation": (
        "lb-no-dns-rotation",
        # the plan with its DNS rotation (the incident's plan drops it)
        lambda _t, text: _replace(text, "  plan:\n    drop: [dns_rotate]\n", ""),
    ),
    "dns-rotation-not-served": (
        "dns-rotation-not-served",
        # dnsmasq reads the LB zone from --hostsdir (reloaded by itself), as the fixed stack
        lambda _t, text: _replace(
            _replace(text, '|--addn-hosts="$$LB_FILE"|', '|--hostsdir="$$HOSTS_DIR"|'),
            "grep -q -- '--addn-hosts'",
            "grep -q -- '--hostsdir'",
        ),
    ),
    "socketio-abrupt-termination": (
        "socketio-abrupt-termination",
        # failover back on, nothing else changed: the LBs' sed leaves the shipped
        # `max_fails=3 fail_timeout=2s` and `proxy_next_upstream error timeout` as they are, and
        # the entrypoint's guard asserts that they are still there
        lambda _t, text: _replace_all(
            text,
            ("/ max_fails=0;/", "/&/"),
            ("/proxy_next_upstream off;/", "/&/"),
            ("if grep -q 'max_fails=3'", "if ! grep -q 'max_fails=3'"),
            ("grep -q 'proxy_next_upstream off;'", "grep -q 'proxy_next_upstream error timeout;'"),
        ),
    ),
}


def _ablated(name: str, tmp: Path) -> Path:
    text = (INCIDENTS / f"{name}.yaml").read_text()
    _, ablate = ABLATIONS[name]
    path = tmp / f"{name}.yaml"
    path.write_text(ablate(tmp, text))
    assert path.read_text() != text
    return path


def _run(scenario: Scenario, incident_path: Path) -> ScenarioResult:
    incident = load_incident(incident_path)
    return run_scenario(scenario, "incident", request=RunRequest(incident=incident))


def test_every_shipped_incident_has_an_ablation() -> None:
    assert set(ABLATIONS) == set(find.known_incidents())


@pytest.mark.parametrize("name", sorted(ABLATIONS))
def test_without_its_mechanism_the_incident_does_not_reproduce(name: str, tmp_path: Path) -> None:
    """The incident's file with exactly its mechanism removed: the same scenario and the same
    declaration, and the variant is not reproduced — nothing of what the incident declares is
    observed."""
    scenario_name, _ = ABLATIONS[name]
    (scenario,) = find.resolve([scenario_name])
    result = _run(scenario, _ablated(name, tmp_path))
    assert not result.passed, result.reason
    assert result.reproduced is not None
    assert result.reproduced.matched == (), result.reason
    assert result.reason.startswith("incident did not reproduce"), (
        result.reason,
        [e.line() for e in result.step_errors],
    )


def test_stopping_the_host_an_incident_looks_at_is_not_the_incident(tmp_path: Path) -> None:
    """graphite powered off, on the configuration without the incident's mechanism: while it is
    off the `directories` check fails (host-down) and the wait runs out — "incident failed, but
    not by its cause", never "reproduced"."""
    scenario_file = tmp_path / "stop-graphite.yaml"
    scenario_file.write_text(
        "name: stop-graphite\n"
        "description: graphite powered off while the operator waits for it\n"
        "reproduces: graphite-piddir\n"
        "steps:\n"
        "  - stop: {host: graphite, mode: hard}\n"
        "  - wait_recovered: {within: 3s, checks: [directories]}\n"
        "expect: {checks: [directories, processes], recover_within: 30s}\n"
    )
    (scenario,) = find.resolve([str(scenario_file)])
    result = _run(scenario, _ablated("graphite-piddir", tmp_path))
    assert not result.passed
    assert result.reason.startswith(
        "incident failed, but not by its cause: expected directories [graphite] pid-dir-missing;"
    ), result.reason
    assert "observed steps[1].wait_recovered not-recovered" in result.reason, result.reason
    assert "directories [graphite] host-down" in result.reason, result.reason


# -- socket.io: why failover had been turned off, and the fix that turns it back on ------------
#
# The incident above is failover off. Its reason, the post-mortem's "non-graceful socket
# termination", is shown here on a running stack: the same abrupt terminations of socket.io
# connections through lb1 to app1 (which serves throughout), on the fixed LB configuration and
# on it with the failover settings put back that operators had before they turned failover off.

LB_SITE = "/etc/nginx/conf.d/app.conf"
SHIPPED_LB_SITE = default_compose_dir() / "images" / "lb" / "app.conf"
SUPERVISOR_CONF = "/etc/supervisor/supervisord.conf"
# The fix's mechanism removed: a session's requests (held long-polls, WebSocket upgrades) go
# through `app`, where every failure counts, instead of to their own app's upstream, where
# nothing does. The thresholds stay the fixed ones (3 failures, 2 s).
SESSIONS_COUNTED = (("proxy_pass http://$rh_sio_upstream;", "proxy_pass http://app;"),)
# ... and the hair trigger back too: one failure takes an app out for 30 s, and 5xx answers
# count as failures. With SESSIONS_COUNTED: what operators ran before turning failover off.
HAIR_TRIGGER = (
    (" max_fails=3 fail_timeout=2s;", " max_fails=1 fail_timeout=30s;"),
    (
        "proxy_next_upstream error timeout;",
        "proxy_next_upstream error timeout invalid_header http_500 http_502 http_503 http_504;",
    ),
)
LB_SETTINGS: dict[str, tuple[tuple[str, str], ...]] = {
    "fixed": (),
    "sessions-counted": SESSIONS_COUNTED,
    "naive": SESSIONS_COUNTED + HAIR_TRIGGER,
}
HELD = 6  # socket.io sessions per round: half hold a long-poll, half a WebSocket

# Run inside a host of the stack (python3, standard library only). Through the LB at argv[1],
# with the hash key argv[2] on every request (so that every one lands on the same app whatever
# the LB's routing), open argv[4] socket.io sessions; each then holds a long-poll (even ones:
# a GET the app answers only when it has something to send, up to its 25 s ping interval) or an
# upgraded WebSocket (odd ones), and "held" is printed. argv[3] is what happens next:
# - abort: the client dies abruptly: half of the connections are reset (SO_LINGER 0), then the
#   process is SIGKILLed (the kernel closes the rest);
# - hold: it waits (up to 30 s) until each connection gets something back or is cut, having
#   touched /tmp/rh-sio-held, and prints how each ended.
_RAW_CLIENT = r"""
import base64, collections, json, os, select, signal, socket, struct, sys, time
lb, key, mode, n = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
head = "Host: lb\r\nX-RH-Route: %s\r\n" % key

def request(method, path, body=b""):
    s = socket.create_connection((lb, 80), timeout=10)
    s.sendall(("%s %s HTTP/1.1\r\n%sContent-Length: %d\r\nConnection: close\r\n\r\n"
               % (method, path, head, len(body))).encode() + body)
    data = b""
    while True:
        chunk = s.recv(65536)
        if not chunk:
            break
        data += chunk
    s.close()
    status, _, payload = data.partition(b"\r\n\r\n")
    if b" 200 " not in status.split(b"\r\n")[0] + b" ":
        sys.exit("%s %s: %r" % (method, path, status[:60]))
    return payload

held = []
for i in range(n):
    sid = json.loads(request("GET", "/socket.io/?EIO=4&transport=polling")[1:])["sid"]
    q = "/socket.io/?EIO=4&transport=polling&sid=" + sid
    request("POST", q, b"40")  # socket.io CONNECT to the namespace "/"
    request("GET", q)  # its answer; the next GET is held
    s = socket.create_connection((lb, 80), timeout=10)
    if i % 2:
        k = base64.b64encode(os.urandom(16)).decode()
        s.sendall(("GET /socket.io/?EIO=4&transport=websocket&sid=%s HTTP/1.1\r\n%s"
                   "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: %s\r\n"
                   "Sec-WebSocket-Version: 13\r\n\r\n" % (sid, head, k)).encode())
        answer = s.recv(4096)
        if not answer.startswith(b"HTTP/1.1 101"):
            sys.exit("websocket upgrade: %r" % answer[:60])
    else:
        s.sendall(("GET %s HTTP/1.1\r\n%s\r\n" % (q, head)).encode())
    held.append(s)
time.sleep(0.5)  # the last long-poll has reached the app
print("held %d (sid %s)" % (n, sid), flush=True)
if mode == "abort":
    for s in held[: n // 2]:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        s.close()
    os.kill(os.getpid(), signal.SIGKILL)
    os._exit(1)  # (as PID 1 of a container, SIGKILL from inside is ignored)
open("/tmp/rh-sio-held", "w").close()
ended = collections.Counter()
waiting = list(held)
deadline = time.time() + 30
while waiting and time.time() < deadline:
    ready, _, _ = select.select(waiting, [], [], 0.5)
    for s in ready:
        try:
            data = s.recv(4096)
            ended[data.split(b"\r\n")[0].decode(errors="replace") if data else "closed"] += 1
        except OSError as e:
            ended[type(e).__name__] += 1
        waiting.remove(s)
print("ended", dict(ended), "still held", len(waiting), flush=True)
"""


def _install_lb_site(stack: Stack, lb: str, text: str) -> None:
    """Make ``text`` ``lb``'s site configuration and reload nginx; return once every worker is
    one of the new configuration (the old ones' failure counts and disabled backends are gone
    with them)."""

    def workers() -> set[str]:
        return set(stack.exec(lb, ["cat", "/proc/1/task/1/children"]).stdout.split())

    old = workers()
    encoded = base64.b64encode(text.encode()).decode()
    done = stack.shell(
        lb, f"echo {encoded} | base64 -d >{LB_SITE} && nginx -t -q && nginx -s reload"
    )
    assert done.ok, done
    deadline = time.monotonic() + 30
    while workers() & old or not workers():
        assert time.monotonic() < deadline, f"{lb}: nginx did not reload within 30 s"
        time.sleep(0.05)


def _reset_from_the_apps_side(stack: Stack, app: str) -> int:
    """Reset every established connection to ``app``'s port 8000 from the app's side, the app
    process untouched: ``ss -K`` in the app host's network namespace (the kernel sends each peer
    a RST, as when the app kills its transports). The host itself has no right to do that, so a
    helper container joins its namespace for the moment, labelled as a client of the stack (gc
    removes it if this test dies). Returns how many connections were reset."""
    box = stack.container(app, refresh=True)
    image = stack.container("lb1").image  # nginx's image has ss (iproute2)
    assert image is not None
    out = client().containers.run(
        image,
        ["ss", "-tnHK", "state", "established", "( sport = :8000 )"],
        entrypoint=[],
        network_mode=f"container:{box.id}",
        cap_add=["NET_ADMIN"],
        labels={PROJECT_LABEL: stack.name, ROLE_LABEL: CLIENT_ROLE, MANAGED_LABEL: "true"},
        remove=True,
    )
    return len(bytes(out).decode().splitlines())


def _key_to(url: str, app: str) -> str:
    """A hash key (``X-RH-Route``) that the LB at ``url`` sends to ``app`` while both apps are
    in rotation."""
    for i in range(32):
        key = f"rh-{i}"
        request = urllib.request.Request(f"{url}/health", headers={ROUTE_HEADER: key})
        with urllib.request.urlopen(request, timeout=5) as reply:
            if json.loads(reply.read())["host"] == app:
                return key
    raise AssertionError(f"no hash key of 32 lands on {app}")


def _raw_clients(stack: Stack, key: str, mode: str) -> str:
    lb = stack.static_address("lb1")
    run = stack.exec(
        "graphite", ["python3", "-c", _RAW_CLIENT, lb, key, mode, str(HELD)], timeout=60
    )
    assert run.stdout.startswith(f"held {HELD}"), run
    return run.stdout


def _lb1_errors_since(stack: Stack, since: float) -> list[str]:
    """The messages of lb1's nginx error log since ``since`` that name app1's address."""
    address = stack.static_address("app1")
    text = stack.shell("lb1", "tail -c 1048576 /var/log/nginx/error.log").stdout
    return [m for at, _, m, _ in parse_entries(text) if at >= int(since) and address in m]


def _lb1_requests_since(stack: Stack, since: float) -> list[str]:
    """The lines of lb1's access log (compose/images/lb/nginx.conf: `rh`) since ``since`` of
    requests sent to app1."""
    address = stack.static_address("app1")
    text = stack.shell("lb1", "tail -c 1048576 /var/log/nginx/access.log").stdout
    out = []
    for line in text.splitlines():
        stamp = re.search(r"\[([^]]+)\]", line)
        at = datetime.strptime(stamp.group(1), "%d/%b/%Y:%H:%M:%S %z") if stamp else None
        if at and at.timestamp() >= int(since) and f"upstream={address}:" in line:
            out.append(line)
    return out


@pytest.fixture(scope="module")
def sio_stack() -> Iterator[Stack]:
    """One healthy stack for the socket.io rounds (each installs its LB settings on lb1)."""
    with healthy_stack("sio-abrupt") as s:
        yield s


@pytest.mark.parametrize("settings", list(LB_SETTINGS))
def test_abrupt_socketio_terminations_and_failover(sio_stack: Stack, settings: str) -> None:
    """Abrupt ends of socket.io connections through lb1 to app1, which serves throughout:

    - clients killed (their long-polls and WebSockets reset or closed mid-request): nginx never
      counts a client going away against the app, whatever its settings;
    - the app's side resetting every held long-poll and WebSocket (``ss -K``): an upgraded
      WebSocket cut never counts, but a long-poll cut before its answer counts against app1
      unless the session's requests bypass the counted upstream. ``fixed`` (the shipped LB):
      app1 is not marked down, `nginx` and `socket.io`
      hold on lb1, and once app1 is really dead its users' new sessions go to app2 and nginx
      takes app1 out (failover on). ``sessions-counted`` (the fix's routing of a session's
      requests removed, its thresholds kept): app1 is marked down while serving. ``naive``
      (that plus the hair trigger operators had: ``max_fails=1 fail_timeout=30s``, 5xx counted):
      marked down and held out for 30 s — a new client for app1 lands on app2 — which is why
      they turned failover off (incident socketio-abrupt-termination).
    """
    stack = sio_stack
    site = SHIPPED_LB_SITE.read_text()
    edited = site
    for old, new in LB_SETTINGS[settings]:
        edited = _replace(edited, old, new)
    _install_lb_site(stack, "lb1", edited)
    ip, port = stack.endpoint("lb1", stack.topology.lb_port)
    url = f"http://{ip}:{port}"
    key = _key_to(url, "app1")
    try:
        since = time.time()
        _raw_clients(stack, key, "abort")
        time.sleep(1.0)  # nginx has logged every end
        assert not [m for m in _lb1_errors_since(stack, since) if "disabled" in m]
        aborted = [line for line in _lb1_requests_since(stack, since) if '" 499 ' in line]
        assert len(aborted) >= HELD // 2, "the held long-polls ended by the client (499)"

        cut = time.time()
        stack.exec("graphite", ["rm", "-f", "/tmp/rh-sio-held"])
        with ThreadPoolExecutor(1) as pool:
            holding = pool.submit(_raw_clients, stack, key, "hold")
            deadline = time.monotonic() + 60
            while not stack.exec("graphite", ["test", "-e", "/tmp/rh-sio-held"]).ok:
                assert time.monotonic() < deadline and not holding.done(), holding.result()
                time.sleep(0.1)
            assert _reset_from_the_apps_side(stack, "app1") >= HELD
            print(holding.result(timeout=60))  # how each held connection ended, for the log
        errors = _lb1_errors_since(stack, cut)
        long_polls = [m for m in errors if "while reading response header from upstream" in m]
        websockets = [m for m in errors if "while proxying upgraded connection" in m]
        assert len(long_polls) >= HELD // 2 and len(websockets) >= HELD // 2, errors
        results = run_checks(stack, ["nginx", "socket.io"], since=since)
        nginx = causes(results, "nginx").get("lb1", ())
        if settings == "fixed":
            assert not [m for m in errors if "temporarily disabled" in m], errors
            assert nginx == () and "lb1" not in causes(results, "socket.io"), results
            _dead_app_fails_over(stack, url, key)
            return
        assert "healthy-backend-marked-down" in nginx, results
        if settings == "naive":
            assert "backend-not-back" in nginx, results
            assert "fail_timeout 30s" in failing(results, "nginx")["lb1"]
            assert echo_through(url, 5.0, {ROUTE_HEADER: key})[2] == "app2", "held out"
    finally:
        stack.exec("graphite", ["rm", "-f", "/tmp/rh-sio-held"])
        _install_lb_site(stack, "lb1", site)
        # nginx logs whole seconds: a line of the second the site was restored in counts as
        # "since" that moment, and the marks this round made on purpose can be in it (measured:
        # 0.6 s from the reset to here on an idle machine). Judge from the next second on.
        restored = float(int(time.time()) + 1)
        wait_recovered(stack, checks=["nginx", "socket.io"], since=restored, timeout=60)


def _dead_app_fails_over(stack: Stack, url: str, key: str) -> None:
    """With app1's program stopped, new socket.io sessions of its users through lb1 are held
    by app2, and nginx takes app1 out of rotation (logged)."""
    stopped = time.time()
    assert stack.exec("app1", ["supervisorctl", "-c", SUPERVISOR_CONF, "stop", "app"]).ok
    try:
        hosts = [echo_through(url, 5.0, {ROUTE_HEADER: key})[2] for _ in range(3)]
        assert hosts == ["app2"] * 3
        disabled = [m for m in _lb1_errors_since(stack, stopped) if "disabled" in m]
        assert disabled, "nginx took the dead app1 out of rotation"
    finally:
        assert stack.exec("app1", ["supervisorctl", "-c", SUPERVISOR_CONF, "start", "app"]).ok
