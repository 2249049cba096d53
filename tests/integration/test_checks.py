"""Every recovery check passes on a healthy stack and fails, naming the host, when that host is
broken by hand. Tests run in file order on one stack (xdist --dist loadfile)."""

from __future__ import annotations

import contextlib
import json
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator

import pymysql
import pytest
import redis

from reboot_harness.checks.nginx_log import parse_entries, parse_fail_timeouts
from reboot_harness.checks.recovery import wait_recovered
from reboot_harness.checks.run import NAMES, registry, run_checks
from reboot_harness.stack.core import Stack
from tests.integration.conftest import assert_all_pass, causes, failing, healthy_stack

pytestmark = pytest.mark.docker


@pytest.fixture(scope="module")
def stack() -> Iterator[Stack]:
    """One healthy stack for the whole module, owned by this test process."""
    with healthy_stack("checks") as s:
        yield s


def test_healthy_stack_passes_every_check(stack: Stack) -> None:
    """On a freshly started stack every check holds on every host it covers, and names every
    subject it exercised: each LB's path to each app, each redis server and sentinel, both DNS
    views."""
    results = run_checks(stack)
    offered = set(registry(stack.topology))
    assert {r.check for r in results} == offered
    # every shipped check but those whose role the shipped stack has no host for
    assert set(NAMES) - offered == {"postgres replication"}
    assert [r.line() for r in results if not r.ok] == []
    covered = {r.host for r in results}
    assert covered == set(stack.topology.hosts)
    exercised = {(r.check, s) for r in results for s in r.subjects}
    for lb in ("lb1", "lb2"):
        for app in ("app1", "app2"):
            assert ("nginx", f"{lb}->{app}") in exercised
            assert ("socket.io", f"{lb}->{app}") in exercised
    for host in ("redis1", "redis2", "redis3"):
        assert ("redis roles", f"{host}/redis") in exercised
        assert ("redis roles", f"{host}/sentinel") in exercised
    assert {("dns", "dns/direct"), ("dns", "dns/clients")} <= exercised
    assert {("mysql replication", "mysql1"), ("mysql replication", "mysql2")} <= exercised


def _app_pid(stack: Stack, host: str) -> str:
    out = stack.exec(
        host, ["supervisorctl", "-c", "/etc/supervisor/supervisord.conf", "pid", "app"]
    )
    assert out.stdout.strip().isdigit(), out
    return out.stdout.strip()


def test_limits_fails_on_the_host_whose_app_lost_its_fd_limit(stack: Stack) -> None:
    """Lowering app1's open-file limit with prlimit fails `limits` on app1 only."""
    pid = _app_pid(stack, "app1")
    lowered = stack.exec("app1", ["prlimit", f"--pid={pid}", "--nofile=1024:16384"], user="app")
    assert lowered.ok, lowered
    try:
        results = run_checks(stack, ["limits"])
        bad = failing(results, "limits")
        assert list(bad) == ["app1"]
        assert "soft 1024 < 10000" in bad["app1"]
        assert causes(results, "limits") == {"app1": ("nofile-below-minimum",)}
    finally:
        stack.exec("app1", ["prlimit", f"--pid={pid}", "--nofile=10000:16384"], user="app")
    assert failing(run_checks(stack, ["limits"]), "limits") == {}


def test_processes_fails_when_a_program_stops(stack: Stack) -> None:
    """A stopped supervisord program fails `processes` on its host, naming the program."""
    conf = "/etc/supervisor/supervisord.conf"
    assert stack.exec("redis3", ["supervisorctl", "-c", conf, "stop", "sentinel"]).ok
    try:
        results = run_checks(stack, ["processes"])
        bad = failing(results, "processes")
        assert list(bad) == ["redis3"]
        assert "sentinel STOPPED" in bad["redis3"] and "redis-sentinel" in bad["redis3"]
        assert causes(results, "processes") == {
            "redis3": ("daemon-not-running", "program-not-running")
        }
    finally:
        stack.exec("redis3", ["supervisorctl", "-c", conf, "start", "sentinel"])
    assert_all_pass(stack)


def test_directories_fails_without_the_pid_directory(stack: Stack) -> None:
    """Removing /run/graphite (as a reboot on the broken config does) fails `directories`."""
    assert stack.exec("graphite", ["rm", "-rf", "/run/graphite"]).ok
    try:
        results = run_checks(stack, ["directories"])
        bad = failing(results, "directories")
        assert list(bad) == ["graphite"]
        assert bad["graphite"].startswith("/run/graphite missing"), bad
        assert causes(results, "directories")["graphite"][0] == "pid-dir-missing"
    finally:
        stack.exec(
            "graphite",
            ["install", "-d", "-o", "_graphite", "-g", "_graphite", "-m", "0755", "/run/graphite"],
        )
    assert failing(run_checks(stack, ["directories"]), "directories") == {}


def test_directories_names_a_stale_pid_file(stack: Stack) -> None:
    """A carbon pid file left by a boot before (its pid is no carbon-cache now) fails
    `directories` with stale-pid-file, naming the file and the pid: after a power loss with the
    pid directory on disk, carbon refuses to start when that pid is taken again."""
    stale = "/run/graphite/carbon-cache-b.pid"
    assert stack.shell("graphite", f"echo 1 >{stale}").ok
    try:
        results = run_checks(stack, ["directories"])
        assert causes(results, "directories") == {"graphite": ("stale-pid-file",)}
        bad = failing(results, "directories")
        assert f"{stale} names pid 1, which is now 'rh-host-init'" in bad["graphite"], bad
    finally:
        stack.exec("graphite", ["rm", "-f", stale])
    assert failing(run_checks(stack, ["directories"]), "directories") == {}


def _mysql(stack: Stack, host: str) -> pymysql.connections.Connection:
    ip, port = stack.endpoint(host, 3306)
    return pymysql.connect(
        host=ip,
        port=port,
        user="root",
        password=stack.secrets["MYSQL_ROOT_PASSWORD"],
        autocommit=True,
    )


def test_mysql_fails_when_the_replica_io_thread_stops(stack: Stack) -> None:
    """Stopping mysql2's IO thread fails `mysql replication` on mysql2 with Slave_IO_Running=No."""
    with _mysql(stack, "mysql2") as conn, conn.cursor() as cur:
        cur.execute("STOP SLAVE IO_THREAD")
    try:
        results = run_checks(stack, ["mysql replication"])
        bad = failing(results, "mysql replication")
        assert list(bad) == ["mysql2"]
        assert "Slave_IO_Running=No" in bad["mysql2"]
        assert causes(results, "mysql replication") == {"mysql2": ("replica-stopped",)}
    finally:
        with _mysql(stack, "mysql2") as conn, conn.cursor() as cur:
            cur.execute("START SLAVE IO_THREAD")
    assert_all_pass(stack)


def test_mysql_names_a_replica_whose_password_was_cut_short(stack: Stack) -> None:
    """The 2015 server's way to fail (a replication password silently truncated, then refused by
    the primary): mysql2 replicating with the first half of the password fails `mysql
    replication` on mysql2 with replica-io-error, Access denied (error 1045). MariaDB itself
    refuses an over-long password at CHANGE MASTER (incident mysql-long-repl-password)."""
    password = stack.secrets["MYSQL_REPL_PASSWORD"]
    assert len(password) >= 16

    def repoint(secret: str) -> None:
        with _mysql(stack, "mysql2") as conn, conn.cursor() as cur:
            cur.execute("STOP SLAVE")
            cur.execute("CHANGE MASTER TO MASTER_PASSWORD=%s", (secret,))
            cur.execute("START SLAVE")

    repoint(password[: len(password) // 2])
    try:
        deadline = time.monotonic() + 30
        while True:
            results = run_checks(stack, ["mysql replication"])
            got = causes(results, "mysql replication")
            if got or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        assert got == {"mysql2": ("replica-io-error",)}
        bad = failing(results, "mysql replication")
        assert "1045" in bad["mysql2"] and "Access denied" in bad["mysql2"], bad
    finally:
        repoint(password)
    assert_all_pass(stack)


def test_mysql_detects_lag_and_errant_transactions(stack: Stack) -> None:
    """A write on the replica itself is an errant transaction, named on mysql2."""
    with _mysql(stack, "mysql2") as conn, conn.cursor() as cur:
        cur.execute("SET GLOBAL read_only=0")
        cur.execute("CREATE DATABASE IF NOT EXISTS errant_probe")
        cur.execute("SET GLOBAL read_only=1")
    try:
        results = run_checks(stack, ["mysql replication"])
        bad = failing(results, "mysql replication")
        assert list(bad) == ["mysql2"]
        assert "errant transactions 0-2-" in bad["mysql2"]
        assert causes(results, "mysql replication") == {"mysql2": ("errant-transactions",)}
    finally:
        # Forget the replica's own binlog (its replication position is kept in gtid_slave_pos).
        with _mysql(stack, "mysql2") as conn, conn.cursor() as cur:
            cur.execute("DROP DATABASE IF EXISTS errant_probe")
            cur.execute("RESET MASTER")
    assert failing(run_checks(stack, ["mysql replication"]), "mysql replication") == {}


def test_replication_and_app_users_have_least_privilege(stack: Stack) -> None:
    """`repl` may only replicate; `app` may only use its own database."""
    with _mysql(stack, "mysql1") as conn, conn.cursor() as cur:
        cur.execute("SHOW GRANTS FOR 'repl'@'%'")
        repl = [row[0] for row in cur.fetchall()]
        cur.execute("SHOW GRANTS FOR 'app'@'%'")
        app = [row[0] for row in cur.fetchall()]
    assert len(repl) == 1 and repl[0].startswith("GRANT REPLICATION SLAVE ON *.* TO `repl`@`%`")
    assert app[0].startswith("GRANT USAGE ON *.* TO `app`@`%`"), app
    assert all("ON `rh`.*" in g for g in app[1:]) and len(app) == 2, app


def test_dns_fails_when_the_answer_differs_from_the_rotation(stack: Stack) -> None:
    """Taking lb2 out of dnsmasq behind the harness's back fails `dns` naming what it answers."""
    lb1 = stack.static_address("lb1")
    both = [lb1, stack.static_address("lb2")]
    assert stack.exec("dns", ["rh-dns-rotate", lb1]).ok
    try:
        results = run_checks(stack, ["dns"])
        assert failing(results, "dns") == {
            "dns": "direct: answers lb1; clients (from app1): answers lb1"
        }
        assert causes(results, "dns") == {"dns": ("wrong-answer",)}
    finally:
        stack.exec("dns", ["rh-dns-rotate", *both])
    assert failing(run_checks(stack, ["dns"]), "dns") == {}


def test_socketio_and_nginx_fail_when_both_apps_stop(stack: Stack) -> None:
    """With the app stopped on both backends no LB can echo or answer /health; neither check
    sends anything through an LB meanwhile (nginx would count it against the apps)."""
    conf = "/etc/supervisor/supervisord.conf"
    for app in ("app1", "app2"):
        assert stack.exec(app, ["supervisorctl", "-c", conf, "stop", "app"]).ok
    try:
        results = run_checks(stack, ["socket.io", "nginx"])
        assert set(failing(results, "socket.io")) == {"lb1", "lb2"}, failing(results, "socket.io")
        assert set(failing(results, "nginx")) == {"lb1", "lb2"}, failing(results, "nginx")
        assert causes(results, "nginx")["lb1"][:1] == ("backend-not-serving",)
        said = failing(results, "nginx")["lb1"]
        assert "not serving: app1, app2 (/health not asked through the LB meanwhile)" in said
    finally:
        for app in ("app1", "app2"):
            stack.exec(app, ["supervisorctl", "-c", conf, "start", "app"])
    assert_all_pass(stack)


def _lb_workers(stack: Stack, lb: str) -> set[str]:
    """The pids of nginx's workers (children of the master, PID 1) in ``lb``."""
    script = (
        'for s in /proc/[0-9]*/stat; do read -r pid comm state ppid rest < "$s" 2>/dev/null'
        ' && [ "$ppid" = 1 ] && echo "$pid"; done; true'
    )
    return set(stack.shell(lb, script).stdout.split())


def _reload_lb(stack: Stack, lb: str, sed: str) -> None:
    """Edit ``lb``'s upstream block with ``sed`` and reload nginx; return once only workers of
    the new configuration are left."""
    old = _lb_workers(stack, lb)
    edit = stack.shell(lb, f"sed -i -e '{sed}' /etc/nginx/conf.d/app.conf && nginx -s reload")
    assert edit.ok, edit
    deadline = time.monotonic() + 30
    while _lb_workers(stack, lb) & old or not _lb_workers(stack, lb):
        assert time.monotonic() < deadline, "nginx did not reload within 30 s"
        time.sleep(0.05)


def _forgive(stack: Stack, lb: str, app: str, fail_timeout: float, get: Callable[[], str]) -> None:
    """Bring nginx's failure count for ``app`` on ``lb`` back to 0. nginx forgets failures only
    when a request succeeds after ``fail_timeout`` without one: wait that long after the last
    error logged against ``app``, then make a request (``get``) that ``app`` answers."""
    address = stack.static_address(app)
    log = stack.shell(lb, "tail -c 262144 /var/log/nginx/error.log").stdout
    against = [at for at, _, message, _ in parse_entries(log) if f"://{address}:" in message]
    if against:
        time.sleep(max(0.0, max(against) + 1 + fail_timeout + 0.1 - time.time()))
    assert get() == app


# Waits out nginx's fail_timeout (30 s): nginx's own timing, while the check's failure mode for
# backends disabled though healthy is test_nginx_fails_when_it_disabled_backends_that_stayed_healthy
@pytest.mark.full
def test_nginx_holds_a_disabled_backend_out_until_fail_timeout(stack: Stack) -> None:
    """nginx takes a backend out of rotation only at max_fails (3) failures, for fail_timeout:
    one failed request leaves the app it hashes to in rotation; three disable it, and once it
    serves again `nginx` says it is not yet back (naming what failed) until fail_timeout (here
    raised to 15 s, read from `nginx -T`) has passed — then passes. 15 s, not less: restarting
    the app and waiting for it takes several seconds on a loaded CI machine, and the check must
    run inside the window (CI failed once with 6 s)."""
    conf = "/etc/supervisor/supervisord.conf"
    ip, port = stack.endpoint("lb1", 80)

    def via_lb1() -> str:
        with urllib.request.urlopen(f"http://{ip}:{port}/health", timeout=10) as reply:
            return str(json.loads(reply.read())["host"])

    mine = via_lb1()  # the app this client's address hashes to
    other = "app2" if mine == "app1" else "app1"
    _forgive(stack, "lb1", mine, 2.0, via_lb1)  # earlier tests' failures
    _reload_lb(stack, "lb1", "s/fail_timeout=2s;/fail_timeout=15s;/")
    try:
        for failures in (1, 3):
            assert stack.exec(mine, ["supervisorctl", "-c", conf, "stop", "app"]).ok
            disabled = time.time()  # nginx can disable it only after this
            # nginx fails over: every request is answered by the other app.
            assert [via_lb1() for _ in range(failures)] == [other] * failures
            assert stack.exec(mine, ["supervisorctl", "-c", conf, "start", "app"]).ok
            wait_recovered(stack, checks=["processes"], timeout=30)
            bad = failing(run_checks(stack, ["nginx"]), "nginx")
            if failures == 1:
                assert "lb1" not in bad, bad  # below max_fails: still in rotation
                assert via_lb1() == mine
                continue
            assert f"not yet back in rotation: {mine} (disabled at " in bad.get("lb1", ""), bad
            assert (
                "after: connect() failed (111: Connection refused); fail_timeout 15s)" in bad["lb1"]
            )
            assert via_lb1() == other, "nginx still sends this client to the other app"
            wait_recovered(stack, checks=["nginx"], timeout=30)
            assert via_lb1() == mine, "back in rotation, as the check said"
            assert time.time() - disabled >= 15.0, "held out for fail_timeout"
    finally:
        stack.exec(mine, ["supervisorctl", "-c", conf, "start", "app"])
        _reload_lb(stack, "lb1", "s/fail_timeout=15s;/fail_timeout=2s;/")
    assert_all_pass(stack)


def test_nginx_fails_when_it_disabled_backends_that_stayed_healthy(stack: Stack) -> None:
    """Freezing both apps for a moment makes nginx disable them; once they answer again,
    `nginx` reports on lb1 that it marked healthy backends unavailable."""
    since = time.time()
    ip, port = stack.endpoint("lb1", 80)
    pids = {app: _app_pid(stack, app) for app in ("app1", "app2")}
    for app, pid in pids.items():
        assert stack.shell(app, f"kill -STOP {pid}").ok

    def hit() -> None:
        # Failures are the point: nginx must see them.
        with contextlib.suppress(Exception):
            urllib.request.urlopen(f"http://{ip}:{port}/health", timeout=15).read()

    try:
        threads = [threading.Thread(target=hit) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        for app, pid in pids.items():
            stack.shell(app, f"kill -CONT {pid}")
    met = time.time()  # the last failure nginx met with them, at the latest
    results = run_checks(stack, ["nginx"], since=since)
    bad = failing(results, "nginx")
    assert "lb1" in bad
    assert "healthy backend marked unavailable" in bad["lb1"]
    assert "healthy-backend-marked-down" in causes(results, "nginx")["lb1"]
    # Judged from when nginx lets them back (their fail_timeout after the last failure, logged
    # in whole seconds), the stack recovers. Before that, a check's own request through lb1 is
    # refused ("no live upstreams") while both serve: held out, rightly judged so.
    config = stack.exec("lb1", ["nginx", "-T"]).stdout
    back = met + max(parse_fail_timeouts(config).values(), default=10.0) + 1.5
    time.sleep(max(0.0, back - time.time()))
    assert_all_pass(stack)


def test_redis_roles_fails_with_zero_masters_when_every_node_is_a_replica(stack: Stack) -> None:
    """Making every redis a replica (the post-mortem's state) reads '0 masters' on each host."""
    pw = stack.secrets["REDIS_PASSWORD"]
    clients = {
        h: redis.Redis(*stack.endpoint(h, 6379), password=pw)
        for h in ("redis1", "redis2", "redis3")
    }
    ring = {"redis1": "redis2", "redis2": "redis3", "redis3": "redis1"}
    master = next(h for h, c in clients.items() if c.info("replication")["role"] == "master")
    try:
        for host, follows in ring.items():
            clients[host].replicaof(follows, 6379)
        results = run_checks(stack, ["redis roles"])
        bad = failing(results, "redis roles")
        assert set(bad) == {"redis1", "redis2", "redis3"}
        assert all(v.startswith("0 masters (") for v in bad.values()), bad
        assert "redis1 slave of redis2" in bad["redis1"]
        assert set(causes(results, "redis roles").values()) == {("zero-masters",)}
    finally:
        clients[master].replicaof("NO", "ONE")
        for host, c in clients.items():
            if host != master:
                c.replicaof(master, 6379)
    assert_all_pass(stack, timeout=120)


def test_processes_holds_a_starting_program_only_once_it_serves(stack: Stack) -> None:
    """After its app is killed, app1 passes `processes` only when supervisord says RUNNING or
    the app's new process already answers /health itself (and then /health answers from outside
    too); never while the killed process is still what supervisord names, nor before the new
    one serves."""
    old = _app_pid(stack, "app1")
    ip, port = stack.endpoint("app1", 8000)
    assert stack.shell("app1", f"kill -KILL {old}").ok
    seen: list[tuple[bool, str]] = []
    rounds: list[tuple[float, float, bool]] = []  # (began, ended, ok)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        began = time.time()
        (r,) = [r for r in run_checks(stack, ["processes"]) if r.host == "app1"]
        rounds.append((began, time.time(), r.ok))
        seen.append((r.ok, r.detail))
        if r.ok and "STARTING" in r.detail:
            with urllib.request.urlopen(f"http://{ip}:{port}/health", timeout=5) as health:
                assert health.status == 200, r.detail
        if r.ok and "RUNNING" in r.detail and _app_pid(stack, "app1") != old:
            break
    else:
        pytest.fail(f"app1 never recovered: {seen[-3:]}")
    for ok, detail in seen:
        assert ok == (detail in ("app RUNNING", "app STARTING (serving)")), seen
    # Every round that ended before the new process served must have failed. (supervisord
    # restarts the app at once: on a busy machine the first round may already see it serving.)
    with urllib.request.urlopen(f"http://{ip}:{port}/health", timeout=5) as health:
        serving_since = json.loads(health.read())["since"]
    before = [ok for began, ended, ok in rounds if ended < serving_since]
    assert not any(before), f"passed before the new app served: {rounds}, since {serving_since}"


@pytest.mark.full  # the probes' own recovery after a reboot, not a check's failure mode
def test_probes_come_back_after_a_reboot(stack: Stack) -> None:
    """The probes kept in the hosts die with a reboot; the next reading starts them again."""
    assert failing(run_checks(stack, ["processes", "limits"]), "processes") == {}
    stack.power_off("app2")
    try:
        results = run_checks(stack, ["processes", "limits"])
        assert failing(results, "processes") == {"app2": "host down (exited)"}
        assert causes(results, "limits") == {"app2": ("host-down",)}
    finally:
        stack.power_on("app2")
    deadline = time.monotonic() + 60
    while failing(results := run_checks(stack, ["processes", "limits"]), "processes"):
        assert time.monotonic() < deadline, [r.line() for r in results if not r.ok]
        time.sleep(0.05)
    assert [r.line() for r in results if not r.ok] == []
    stack.close_sessions()
    assert_all_pass(stack)


def test_a_probe_started_for_a_question_has_its_start_on_top_of_the_answer_time(
    stack: Stack,
) -> None:
    """A command :meth:`Stack.ask` starts is given its own start-up on top of the question's
    timeout (a probe's interpreter loading on a busy machine is not the host's silence); a
    running one is held to the timeout."""
    slow_start = ["sh", "-c", "sleep 3; while read -r q; do echo up; echo rh-q-end; done"]
    began = time.monotonic()
    first = stack.ask("graphite", slow_start, "read", end="rh-q-end", timeout=1.0)
    assert first.ok and first.stdout.strip() == "up", first
    assert time.monotonic() - began >= 3
    began = time.monotonic()
    assert stack.ask("graphite", slow_start, "read", end="rh-q-end", timeout=1.0).ok
    assert time.monotonic() - began < 1.0
    slow_second = ["sh", "-c", "read -r q; echo a; echo rh-q-end; read -r q; sleep 8; echo b"]
    assert stack.ask("graphite", slow_second, "read", end="rh-q-end", timeout=1.0).ok
    began = time.monotonic()
    late = stack.ask("graphite", slow_second, "read", end="rh-q-end", timeout=1.0)
    took = time.monotonic() - began
    assert late.exit_code == 124 and "no answer within 1s" in late.stderr, late
    assert took < 3, took
    stack.close_sessions()


def _point_lb_at(stack: Stack, lb: str, app: str, address: str) -> None:
    """Make ``lb`` resolve ``app`` to ``address`` (its /etc/hosts, which nginx reads at start)
    and reload nginx so it uses that address. /etc/hosts is a bind mount: rewritten in place."""
    script = (
        'sed -E "s/^[0-9.]+([[:space:]]+$1)$/$2\\1/" /etc/hosts > /tmp/hosts'
        ' && cat /tmp/hosts > /etc/hosts && getent ahostsv4 "$1" | head -n 1'
    )
    res = stack.exec(lb, ["sh", "-c", script, "sh", app, address])
    assert res.ok and res.stdout.startswith(address), res
    _reload_lb(stack, lb, "s/^$//")


def test_nginx_and_socketio_name_the_lb_that_cannot_reach_an_app(stack: Stack) -> None:
    """An app that serves but that one LB reaches at a wrong address fails `nginx` and
    `socket.io` on that LB only, naming the LB, the app, the address the LB uses and the app's
    own address — although every request through that LB still gets an answer (from the other
    app)."""
    app2 = stack.static_address("app2")
    wrong = app2.rsplit(".", 1)[0] + ".99"
    _point_lb_at(stack, "lb1", "app2", wrong)
    try:
        results = run_checks(stack, ["nginx", "socket.io"])
        bad = failing(results, "nginx")
        assert list(bad) == ["lb1"], bad
        assert f"lb1 cannot reach app2 at {wrong}" in bad["lb1"], bad
        assert f"app2's address is {app2}" in bad["lb1"], bad
        # (nginx may also have disabled app2 after requests to the wrong address: marked down)
        assert causes(results, "nginx")["lb1"][0] == "backend-unreachable"
        sio = failing(results, "socket.io")
        assert list(sio) == ["lb1"], sio
        assert "app2" in sio["lb1"] and causes(results, "socket.io") == {"lb1": ("wrong-backend",)}
        # lb2 reached both apps; lb1 reached app1 over socket.io, but not app2.
        ok = {s for r in results if r.ok for s in r.subjects}
        assert {"lb2->app1", "lb2->app2"} <= ok
        (sio_lb1,) = [r for r in results if r.check == "socket.io" and r.host == "lb1"]
        assert "lb1->app2" in sio_lb1.subjects
    finally:
        _point_lb_at(stack, "lb1", "app2", app2)
    assert_all_pass(stack)


def test_redis_roles_names_the_one_replica_and_the_one_sentinel_that_are_broken(
    stack: Stack,
) -> None:
    """A replica that cannot authenticate to its master fails on that host only (link down);
    a stopped sentinel fails on its own host only."""
    pw = stack.secrets["REDIS_PASSWORD"]
    clients = {
        h: redis.Redis(*stack.endpoint(h, 6379), password=pw) for h in stack.topology.redis_hosts
    }
    master = next(h for h, c in clients.items() if c.info("replication")["role"] == "master")
    replica = next(h for h in clients if h != master)
    other = next(h for h in clients if h not in (master, replica))
    conf = "/etc/supervisor/supervisord.conf"
    try:
        clients[replica].config_set("masterauth", "not-the-password")
        clients[replica].execute_command("CLIENT", "KILL", "TYPE", "master")
        deadline = time.monotonic() + 20
        while True:
            results = run_checks(stack, ["redis roles"])
            if causes(results, "redis roles").get(replica) == ("replica-link-down",):
                break
            assert time.monotonic() < deadline, [r.line() for r in results if not r.ok]
            time.sleep(0.2)
        assert set(failing(results, "redis roles")) == {replica}
        clients[replica].config_set("masterauth", pw)
        assert stack.exec(other, ["supervisorctl", "-c", conf, "stop", "sentinel"]).ok
        results = run_checks(stack, ["redis roles"])
        assert causes(results, "redis roles").get(other, ())[:1] == ("sentinel-unreachable",)
        assert master not in failing(results, "redis roles")
    finally:
        clients[replica].config_set("masterauth", pw)
        stack.exec(other, ["supervisorctl", "-c", conf, "start", "sentinel"])
    assert_all_pass(stack, timeout=120)


def test_a_master_that_does_not_answer_is_unreachable_not_zero_masters(stack: Stack) -> None:
    """The master's redis-server frozen (SIGSTOP: connections accepted, nothing answered) while
    both replicas still say they follow it: the master is `redis-unreachable`, and no host reads
    `zero-masters` — its silence is not a server without a master. Thawed before Sentinel's
    down-after (3 s) would start a failover."""
    pw = stack.secrets["REDIS_PASSWORD"]
    roles = {
        h: redis.Redis(*stack.endpoint(h, 6379), password=pw).info("replication")["role"]
        for h in stack.topology.redis_hosts
    }
    master = next(h for h, role in roles.items() if role == "master")
    assert stack.signal_program(master, "redis-server", "STOP") == 1
    try:
        results = run_checks(stack, ["redis roles"])
    finally:
        stack.signal_program(master, "redis-server", "CONT")
    got = causes(results, "redis roles")
    assert got[master][0] == "redis-unreachable", got
    assert "Timeout" in failing(results, "redis roles")[master], results
    every = {c for cs in got.values() for c in cs}
    assert not every & {"zero-masters", "master-unknown", "several-masters"}, got
    assert_all_pass(stack, timeout=120)


# Keep last: it renumbers the dns host, which this module's stack does not undo.
def test_dns_as_clients_see_it_fails_when_the_dns_host_moves(stack: Stack) -> None:
    """The dns host booted with a new address still answers on its published port, but the
    clients (who know it by its configured address) get no answer: `dns` fails on the clients'
    view only."""
    import random

    from reboot_harness.steps import RunContext
    from reboot_harness.steps.reboot import Reboot, reboot

    ctx = RunContext(stack, random.Random(0))
    reboot(ctx, Reboot(host="dns", mode="hard", new_ip=True))
    deadline = time.monotonic() + 30
    while True:
        results = run_checks(stack, ["dns"])
        bad = failing(results, "dns")
        if bad and bad["dns"].startswith("clients: no answer"):
            break
        assert time.monotonic() < deadline, bad
        time.sleep(0.2)
    assert causes(results, "dns") == {"dns": ("dns-no-answer",)}
    assert "direct" not in bad["dns"], bad
