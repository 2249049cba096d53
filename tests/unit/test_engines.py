"""Naming and binding Docker engines (RH_ENGINES / --rh-engines), without any engine: a socket
path that does not exist stands for an engine that does not answer."""

from __future__ import annotations

import http.server
import os
import socket
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import pytest

from reboot_harness.errors import EnvironmentProblem, StackError, UsageError
from reboot_harness.stack import engine as engine_module
from reboot_harness.stack import engines, tunnel
from reboot_harness.stack.hosts import Hosts
from reboot_harness.stack.lifecycle import host_routes
from reboot_harness.stack.state import ProjectState
from tests.tlscerts import tls_certificates

pytest_plugins = ["pytester"]


@pytest.fixture(autouse=True)
def _own_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Each test starts unbound and leaves the process as it found it: a test that binds an
    engine (DOCKER_HOST …) must not send the worker's later tests to it (they would find no
    engine and skip, or fail under CI=true)."""
    for var in (*engines._VARS, engines.ENV):
        # set first: monkeypatch records (and so puts back, or removes) only what it changed,
        # and deleting an unset variable is no change
        monkeypatch.setenv(var, "")
        monkeypatch.delenv(var)
    engine_module.client.cache_clear()
    yield
    engine_module.client.cache_clear()  # (monkeypatch restores the variables after this)


def test_urls_are_parsed_in_order() -> None:
    named = engines.parse(
        "unix:///var/run/docker.sock, unix:///run/rh2/docker.sock,tcp://127.0.0.1:2375"
    )
    assert [e.host for e in named] == [
        "unix:///var/run/docker.sock",
        "unix:///run/rh2/docker.sock",
        "tcp://127.0.0.1:2375",
    ]
    assert all(e.cert_path == "" for e in named)


@pytest.mark.parametrize(
    ("spec", "says"),
    [
        ("", "an empty engine name"),
        ("unix:///a.sock,,unix:///b.sock", "an empty engine name"),
        ("unix:///a.sock,unix:///a.sock", "are the same engine"),
        ("unix://relative.sock", "unix:///absolute/path"),
        ("http://127.0.0.1:2375", "unknown scheme 'http'"),
        ("tcp://127.0.0.1", "tcp://host:port"),
        ("tcp://127.0.0.1:notaport", "tcp://host:port"),
        ("tcp://203.0.113.7:2375", "without TLS"),
        ("ssh://", "ssh://[user@]host"),
        ("no such/context", "neither an engine URL nor a context name"),
        ("rh-no-such-context", "no Docker context 'rh-no-such-context'"),
    ],
)
def test_bad_names_are_one_line_naming_the_source(spec: str, says: str) -> None:
    with pytest.raises(UsageError) as e:
        engines.parse(spec, source="--rh-engines")
    text = str(e.value)
    assert text.startswith("--rh-engines") and says in text and "\n" not in text


def test_tls_engine_on_this_machine_takes_docker_cert_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DOCKER_TLS_VERIFY", "1")
    monkeypatch.setenv("DOCKER_CERT_PATH", str(tmp_path))
    with pytest.raises(UsageError, match=r"lacks ca\.pem, cert\.pem or key\.pem"):
        engines.parse("tcp://localhost:2376")
    for f in ("ca.pem", "cert.pem", "key.pem"):
        (tmp_path / f).write_text("x")
    (e,) = engines.parse("tcp://localhost:2376")
    assert e.cert_path == str(tmp_path)
    assert e.env() == {
        "DOCKER_HOST": "tcp://localhost:2376",
        "DOCKER_TLS_VERIFY": "1",
        "DOCKER_CERT_PATH": str(tmp_path),
        "DOCKER_CONTEXT": None,
    }


def test_an_engine_on_another_machine_is_reached_over_ssh_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (remote, here) = engines.parse("ssh://ci@203.0.113.7:2222,ssh://root@localhost")
    assert remote.forwarded and not here.forwarded
    assert tunnel.destination(remote.host) == ["-p", "2222", "ci@203.0.113.7"]
    assert tunnel.destination("ssh://build-box") == ["build-box"]
    # tcp:// to another machine, even with TLS: its published ports are out of reach
    monkeypatch.setenv("DOCKER_TLS_VERIFY", "1")
    monkeypatch.setenv("DOCKER_CERT_PATH", str(tmp_path))
    for f in ("ca.pem", "cert.pem", "key.pem"):
        (tmp_path / f).write_text("x")
    with pytest.raises(UsageError) as e:
        engines.parse("tcp://203.0.113.7:2376", source="RH_ENGINES")
    text = str(e.value)
    assert text.startswith("RH_ENGINES: engine tcp://203.0.113.7:2376 runs on another machine")
    assert "name it ssh://USER@203.0.113.7" in text and "\n" not in text


def test_a_docker_context_is_read_by_the_cli_without_an_engine() -> None:
    (e,) = engines.parse("default")
    assert e.name == "default" and e.host.startswith("unix://")
    assert e.label() == f"default ({e.host})"


def test_workers_take_engines_in_turn() -> None:
    named = engines.parse("unix:///a.sock,unix:///b.sock,unix:///c.sock")
    picked = [engines.for_worker(named, f"gw{i}").host for i in range(5)]
    assert picked == [
        "unix:///a.sock", "unix:///b.sock", "unix:///c.sock", "unix:///a.sock", "unix:///b.sock",
    ]  # fmt: skip
    assert engines.for_worker(named, "master") == named[0]


def test_using_binds_then_restores(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOCKER_HOST", "unix:///first.sock")
    monkeypatch.setenv("DOCKER_CONTEXT", "ignored")
    (second,) = engines.parse("unix:///second.sock")
    with engines.using(second):
        assert os.environ["DOCKER_HOST"] == "unix:///second.sock"
        assert "DOCKER_CONTEXT" not in os.environ
        assert engines.current().host == "unix:///second.sock"
    assert os.environ["DOCKER_HOST"] == "unix:///first.sock"
    assert os.environ["DOCKER_CONTEXT"] == "ignored"


def test_an_engine_that_does_not_answer_is_one_line_within_seconds(tmp_path: Path) -> None:
    dead = f"unix://{tmp_path}/none.sock"
    began = time.monotonic()
    with pytest.raises(EnvironmentProblem) as e:
        engines.require_answers(engines.parse(dead), source="RH_ENGINES", timeout=3)
    assert time.monotonic() - began < 5
    text = str(e.value)
    assert text.startswith(f"RH_ENGINES: no answer from engine {dead}") and "\n" not in text


def test_no_peers_means_nothing_is_copied(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without RH_ENGINES (or with this engine alone) images are never looked for elsewhere."""
    assert engines.load_from_peers(["reboot-harness/app:h-0"], lambda _: None) == []
    monkeypatch.setenv(engines.ENV, engines.DEFAULT_HOST)
    assert engines.load_from_peers(["reboot-harness/app:h-0"], lambda _: None) == []


def test_the_state_remembers_the_engine(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path))
    state = ProjectState(
        name="rh-eng-1", compose_dir="/x", compose_files=("/x/stack.yaml",),
        subnet_prefix="172.30.9", domain="rh.test", image_tag="h-1", base_image="b",
        owner="manual", keep=False, engine="unix:///run/rh2/docker.sock",
    )  # fmt: skip
    state.save({})
    loaded = ProjectState.load("rh-eng-1")
    assert (loaded.engine, loaded.engine_cert_path) == ("unix:///run/rh2/docker.sock", "")
    from reboot_harness.stack.removal import engine_of

    assert engine_of("rh-eng-1").host == "unix:///run/rh2/docker.sock"
    assert engine_of("rh-not-there").host == engines.DEFAULT_HOST


def test_host_routes_are_read_from_the_kernel_table(tmp_path: Path) -> None:
    table = tmp_path / "route"
    table.write_text(
        "Iface\tDestination\tGateway\tFlags\tRefCnt\tUse\tMetric\tMask\tMTU\tWindow\tIRTT\n"
        "eth0\t00000000\t0102A8C0\t0003\t0\t0\t0\t00000000\t0\t0\t0\n"  # default: skipped
        "br-1\t00D51E0A\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n"  # 10.30.213.0/24
        "docker0\t000011AC\t00000000\t0001\t0\t0\t0\t0000FFFF\t0\t0\t0\n"  # 172.17.0.0/16
        "junk\n"
    )
    assert [str(n) for n in host_routes(table)] == ["10.30.213.0/24", "172.17.0.0/16"]
    assert host_routes(tmp_path / "absent") == []


def test_pytest_refuses_an_engine_that_does_not_answer(pytester: pytest.Pytester) -> None:
    """--rh-engines with an engine that does not answer: one line, exit 2, nothing runs."""
    pytester.makepyfile("def test_never():\n    raise AssertionError('body-reached')\n")
    dead = f"unix://{pytester.path}/none.sock"
    result = pytester.runpytest_subprocess(f"--rh-engines=unix:///var/run/docker.sock,{dead}")
    assert result.ret == 2
    result.stderr.fnmatch_lines([f"*reboot-harness: --rh-engines: no answer from engine {dead}*"])
    assert "body-reached" not in result.stdout.str()


def test_rh_engines_from_the_environment_waits_for_the_harness(pytester: pytest.Pytester) -> None:
    """RH_ENGINES exported (even a bad one) leaves a suite that never uses the harness alone;
    the first harness fixture refuses it: one line, exit 2, nothing else runs."""
    pytester.makepyfile(
        test_plain="def test_untouched():\n    assert True\n",
        test_harness="def test_uses(rh_stack):\n    raise AssertionError('body-reached')\n",
    )
    env = {**os.environ, engines.ENV: "ftp://nowhere"}

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *args],
            cwd=pytester.path, env=env, capture_output=True, text=True, check=False,
        )  # fmt: skip

    plain = run("test_plain.py")
    assert plain.returncode == 0, plain.stdout + plain.stderr
    harness = run("test_harness.py")
    assert harness.returncode == 2, harness.stdout + harness.stderr
    out = harness.stdout + harness.stderr
    assert "reboot-harness: RH_ENGINES: 'ftp://nowhere': unknown scheme 'ftp'" in out
    assert "body-reached" not in out


def test_run_goes_round_the_engines_and_leaves_one_that_died(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`RH_ENGINES=A,B run …`: scenarios go to A, B, A, …; when B stops answering during its
    scenario (here the SDK's connection error escapes), that one fails naming B and every later
    one goes to A; the run exits 1. Engines and scenarios are fakes: no Docker."""
    from reboot_harness.faces import cli
    from reboot_harness.run import loop
    from reboot_harness.stack import removal
    from reboot_harness.stack.removal import Removed

    a, b = "unix:///rh-a.sock", "unix:///rh-b.sock"
    monkeypatch.setenv(engines.ENV, f"{a},{b}")
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path))
    alive = {a: True, b: True}
    monkeypatch.setattr(engines, "require_answers", lambda named, **_: None)
    monkeypatch.setattr(
        engines, "answer", lambda e, timeout=10.0: None if alive[e.host] else "gone"
    )
    monkeypatch.setattr(removal, "gc", lambda **_: Removed())
    ran: list[tuple[str, str]] = []

    def fake_run(scenario: object, variant: str, **_: object) -> loop.ScenarioResult:
        host = os.environ["DOCKER_HOST"]
        name = str(getattr(scenario, "name"))  # noqa: B009 - a Scenario
        ran.append((f"{name}[{variant}]", host))
        if host == b and alive[b]:
            alive[b] = False
            raise ConnectionError("('Connection aborted.', FileNotFoundError(2, 'No such file'))")
        return loop.ScenarioResult(name, variant, True, "recovered in 1s", 1.0, "p")

    monkeypatch.setattr(loop, "run_scenario", fake_run)
    code = cli.main(["run", "no-minfds", "cold-start", "graphite-piddir"])
    out = " ".join(capsys.readouterr().out.split())
    assert [h for _, h in ran] == [a, b, a, a, a]
    assert code == 1
    assert f"FAIL no-minfds[incident] (0s on engine {b}): engine {b} stopped answering" in out
    assert f"PASS graphite-piddir[fixed] (1s on engine {a})" in out


class _Published:
    attrs: ClassVar[dict[str, Any]] = {
        "State": {"Status": "running"},
        "NetworkSettings": {"Ports": {
            "6379/tcp": [{"HostIp": "127.0.0.1", "HostPort": "49153"}],
            "53/udp": [{"HostIp": "127.0.0.1", "HostPort": "49154"}],
        }},
    }  # fmt: skip


class _OneHost(Hosts):
    def __init__(self) -> None:  # no project: only what endpoint() reads
        pass

    def container(self, host: str, *, refresh: bool = False) -> Any:
        return _Published()


class _FakeTunnel:
    def __init__(self) -> None:
        self.asked: list[int] = []

    def local_port(self, published: int) -> int:
        self.asked.append(published)
        return 40000 + published % 1000


def test_ports_of_an_engine_on_another_machine_are_reached_through_its_tunnel(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    hosts = _OneHost()
    assert hosts.endpoint("redis1", 6379) == ("127.0.0.1", 49153)  # this machine: as published
    assert not hosts.ports_over_ssh
    fake = _FakeTunnel()
    made: list[str] = []
    monkeypatch.setattr(tunnel, "to", lambda url: made.append(url) or fake)
    monkeypatch.setenv("DOCKER_HOST", "ssh://ci@203.0.113.7")
    assert hosts.ports_over_ssh
    assert hosts.endpoint("redis1", 6379) == ("127.0.0.1", 40153)
    assert fake.asked == [49153] and made == ["ssh://ci@203.0.113.7"]
    with pytest.raises(StackError, match=r"53/udp is on engine ssh://ci@203\.0\.113\.7.*TCP only"):
        hosts.endpoint("dns", 53, "udp")


def test_an_ssh_engine_that_does_not_answer_is_one_line_with_what_ssh_needs() -> None:
    """Nothing listens: refused at once; the line says what `ssh` must be able to do."""
    dead = "ssh://root@127.0.0.2:2"
    with pytest.raises(EnvironmentProblem) as e:
        engines.require_answers(engines.parse(dead), source="--rh-engines", timeout=3)
    text = str(e.value)
    assert text.startswith(f"--rh-engines: no answer from engine {dead} (") and "\n" not in text
    assert f"`ssh {dead} docker version` must work without a prompt" in text


def test_an_ssh_server_that_never_speaks_costs_the_timeout_not_minutes() -> None:
    """A machine that accepts the connection and says nothing (a firewall, a hung sshd):
    paramiko would wait for its banner far longer than the ping's time."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]
        began = time.monotonic()
        why = engines.answer(engines.parse(f"ssh://root@127.0.0.1:{port}")[0], timeout=2)
        took = time.monotonic() - began
    assert why == "no answer within 2 s" and took < 4, (why, took)


class _Engine(http.server.BaseHTTPRequestHandler):
    """Just enough of the Engine API over HTTPS for the SDK to make a client and ping."""

    def do_GET(self) -> None:
        body = b'{"ApiVersion": "1.41"}' if self.path.endswith("/version") else b"OK"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_args: object) -> None:
        pass


def test_a_tls_engine_is_trusted_by_its_own_ca_whatever_requests_ca_bundle_says(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE (common where a proxy re-signs traffic) would make
    requests verify the engine against that bundle instead of DOCKER_CERT_PATH's CA."""
    client_dir = tls_certificates(tmp_path)
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH, cafile=str(tmp_path / "ca.pem"))
    ctx.load_cert_chain(tmp_path / "server-cert.pem", tmp_path / "server-key.pem")
    ctx.verify_mode = ssl.CERT_REQUIRED  # as dockerd --tlsverify: the client proves itself too
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Engine)
    server.socket = ctx.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        bundle = ssl.get_default_verify_paths().cafile or "/etc/ssl/certs/ca-certificates.crt"
        monkeypatch.setenv("REQUESTS_CA_BUNDLE", bundle)
        monkeypatch.setenv("CURL_CA_BUNDLE", bundle)
        monkeypatch.setenv("DOCKER_TLS_VERIFY", "1")
        monkeypatch.setenv("DOCKER_CERT_PATH", str(client_dir))
        (e,) = engines.parse(f"tcp://127.0.0.1:{server.server_address[1]}")
        assert engines.answer(e, timeout=5) is None
        assert os.environ["REQUESTS_CA_BUNDLE"] == bundle  # put back
        with engines.using(e):  # the process's own client, from the environment
            assert engine_module.client().ping()
    finally:
        server.shutdown()


def test_an_ssh_engine_without_the_ssh_extra_says_what_to_install() -> None:
    """Without paramiko (the [ssh] extra) the harness still imports and reaches local engines;
    an ssh:// engine, from DOCKER_HOST or named in --rh-engines, is one line saying the pip
    command, before any connection is tried."""
    code = (
        "import os, sys; sys.modules['paramiko'] = None\n"
        "from reboot_harness.stack import engine, engines\n"
        "os.environ['DOCKER_HOST'] = 'ssh://ci@203.0.113.7'\n"
        "for ask in (engine.client, lambda: engines.parse('ssh://ci@h', source='--rh-engines')):\n"
        "    try:\n"
        "        ask()\n"
        "    except Exception as e:\n"
        "        print(type(e).__name__, e)\n"
    )
    env = {k: v for k, v in os.environ.items() if k not in ("DOCKER_HOST", engines.ENV)}
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, env=env
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == [
        "EnvironmentProblem DOCKER_HOST: ssh://ci@203.0.113.7 is an ssh:// engine, which needs"
        " paramiko; pip install 'reboot-harness[ssh]'",
        "EnvironmentProblem --rh-engines: ssh://ci@h is an ssh:// engine, which needs paramiko;"
        " pip install 'reboot-harness[ssh]'",
    ]


def test_scenario_variants_are_handed_to_the_engines_in_turn_skipping_dead_ones() -> None:
    """`run` with RH_ENGINES=A,B,C one variant at a time: variant i on engine i mod 3; an engine
    that stopped answering is skipped for the next alive one; with jobs, the least loaded wins
    (ties in turn); none alive is one line naming them all."""
    from collections import Counter

    from reboot_harness.run.jobs import pick_engine

    a, b, c = engines.parse("unix:///a.sock,unix:///b.sock,unix:///c.sock")
    named = (a, b, c)
    assert [pick_engine(named, i, set()) for i in range(5)] == [a, b, c, a, b]
    assert [pick_engine(named, i, {b.host}) for i in range(3)] == [a, c, c]
    assert pick_engine(named, 0, set(), Counter({a.host: 1})) == b
    assert pick_engine(named, 0, set(), Counter({a.host: 1, b.host: 1})) == c
    assert pick_engine((), 3, set()) is None
    with pytest.raises(EnvironmentProblem, match="every engine of RH_ENGINES stopped answering"):
        pick_engine(named, 0, {a.host, b.host, c.host})
