"""The traffic client package (compose/images/client/rh_traffic), imported with the host's
Python: its configuration is one complete document that the harness builds and the client
validates (unknown, missing or mistyped keys refused with one line naming the key), its error
kinds are short and stable, its DNS cache honours the TTL, and run as ``python3 -m rh_traffic``
it prints what reboot_harness.traffic.parse reads."""

from __future__ import annotations

import dataclasses
import importlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from types import ModuleType, SimpleNamespace
from typing import Any

import pytest

from reboot_harness.model.topology import Topology
from reboot_harness.scenarios import find
from reboot_harness.traffic import ClientConfig, TrafficProfile, client_config, parse_output
from reboot_harness.traffic.config import (
    CONFIG_ENV,
    REFUSAL_EXIT,
    REFUSAL_PREFIX,
    SECRET_ENV,
    refusal,
)

REPO = Path(__file__).resolve().parents[2]
CLIENT_DIR = REPO / "compose" / "images" / "client"
MODULES = ("config", "common", "kinds", "dnscache", "http_client", "socketio_client")
MODULES += ("redis_client", "mysql_client", "__main__")
LBS = {"10.1.2.11": "lb1", "10.1.2.12": "lb2"}


def _import_client() -> SimpleNamespace:
    """Every module of the package, from the image's build context. No bytecode is written
    there: every file under compose/images is part of the images' content hash."""
    saved = sys.dont_write_bytecode
    sys.dont_write_bytecode = True
    sys.path.insert(0, str(CLIENT_DIR))
    try:
        mods: dict[str, ModuleType] = {
            m: importlib.import_module(f"rh_traffic.{m}") for m in MODULES
        }
    finally:
        sys.path.remove(str(CLIENT_DIR))
        sys.dont_write_bytecode = saved
    assert Path(mods["config"].__file__ or "").is_relative_to(CLIENT_DIR)
    return SimpleNamespace(**{m.strip("_"): mod for m, mod in mods.items()})


@pytest.fixture(scope="module")
def client() -> SimpleNamespace:
    return _import_client()


def document(**change: object) -> dict[str, Any]:
    """The harness's default configuration of client c1, decoded, with ``change`` applied."""
    cfg = client_config(
        TrafficProfile(), Topology(), name="c1", run="7-abc", seed=7, dns_server="10.1.2.10",
        lbs=LBS,
    )  # fmt: skip
    data: dict[str, Any] = json.loads(cfg.to_json())
    data.update(change)
    return data


# -- the configuration contract ------------------------------------------------------------------
def test_harness_and_client_name_the_same_keys(client: Any) -> None:
    """The two definitions of the contract (harness ClientConfig, client Config) have the same
    keys, and the harness's document carries every one of them."""
    harness_keys = [f.name for f in dataclasses.fields(ClientConfig)]
    assert sorted(harness_keys) == sorted(client.config.KEYS)
    assert sorted(document()) == sorted(client.config.KEYS)


def test_a_complete_configuration_is_accepted_as_sent(client: Any) -> None:
    """The harness's document is accepted and every value arrives as sent (lists as tuples,
    numbers as floats where the client computes with them)."""
    cfg = client.config.validate(document())
    assert cfg.name == "c1" and cfg.run == "7-abc" and cfg.seed == 7
    assert cfg.lbs == LBS
    assert cfg.sio_transports == (("polling", "websocket"), ("polling",))
    assert cfg.sentinels == ("redis1", "redis2", "redis3")
    assert cfg.mysql_user == "app" and cfg.mysql_database == "rh"
    assert cfg.stop_file == "/tmp/rh-traffic.stop"
    assert isinstance(cfg.redis_write_rate, float)
    assert client.config.validate(document(redis_write_rate=1)).redis_write_rate == 1.0


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"http_rte": 5}, "unknown key 'http_rte' (did you mean 'http_rate'?)"),
        ({"zzz": 1}, "unknown key 'zzz'; known keys: name, run, seed,"),
        ({"a1": 1, "b2": 2}, "unknown key 'a1' and 1 more (b2)"),
    ],
)
def test_an_unknown_key_is_refused(client: Any, change: dict[str, object], message: str) -> None:
    """A key the client does not read is refused, named, with the likely one or the list."""
    with pytest.raises(client.config.ConfigError) as e:
        client.config.validate(document(**change))
    assert str(e.value).startswith(message), str(e.value)
    assert "\n" not in str(e.value)


@pytest.mark.parametrize("key", ["seed", "http_keepalive", "stop_file", "lbs"])
def test_a_missing_key_is_refused(client: Any, key: str) -> None:
    """Nothing is defaulted on the client's side: a key left out is refused, named."""
    data = document()
    del data[key]
    with pytest.raises(client.config.ConfigError, match=f"^missing key '{key}' "):
        client.config.validate(data)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"http_rate": "10"}, "key 'http_rate': expected a number, got a string"),
        ({"http_rate": True}, "key 'http_rate': expected a number, got a boolean"),
        ({"http_clients": 1.5}, "key 'http_clients': expected an integer, got a number"),
        ({"http_keepalive": 0}, "key 'http_keepalive': expected true or false, got a number"),
        ({"sentinels": "redis1"}, "key 'sentinels': expected a list of strings, got a string"),
        ({"sio_transports": [[1]]}, "key 'sio_transports[0][0]': expected a string"),
        ({"sio_transports": [["ws"]]}, "key 'sio_transports': item [0]: unknown transport 'ws'"),
        ({"lbs": {"10.1.2.11": None}}, "key 'lbs.10.1.2.11': expected a string, got null"),
        ({"name": None}, "key 'name': expected a string, got null"),
        ({"http_rate": 0}, "key 'http_rate': must be > 0"),
        ({"mysql_rate": -1}, "key 'mysql_rate': must be >= 0"),
        ({"lb_port": 70000}, "key 'lb_port': must be a port"),
        ({"run": ""}, "key 'run': must not be empty"),
    ],
)
def test_a_wrong_type_or_range_is_refused(
    client: Any, change: dict[str, object], message: str
) -> None:
    """A value of the wrong JSON type (a boolean is not a number) or out of range is refused
    with one line naming the key."""
    with pytest.raises(client.config.ConfigError) as e:
        client.config.validate(document(**change))
    assert str(e.value).startswith(message), str(e.value)
    assert "\n" not in str(e.value)


def test_the_environment_must_hold_the_document_and_both_passwords(client: Any) -> None:
    """No document, a document that is not JSON, or a password variable not set (empty is a
    password-less store) are refused before anything starts."""
    load, error = client.config.load, client.config.ConfigError
    secrets = dict.fromkeys(SECRET_ENV, "")
    with pytest.raises(error, match=r"^\$RH_TRAFFIC_CONFIG is not set"):
        load(secrets)
    with pytest.raises(error, match=r"^\$RH_TRAFFIC_CONFIG is not JSON"):
        load({**secrets, CONFIG_ENV: "{"})
    with pytest.raises(error, match=r"^expected a JSON object"):
        load({**secrets, CONFIG_ENV: "[]"})
    with pytest.raises(error, match=r"^\$MYSQL_APP_PASSWORD is not set"):
        load({CONFIG_ENV: json.dumps(document()), "REDIS_PASSWORD": "x"})
    cfg, got = load({CONFIG_ENV: json.dumps(document()), **secrets, "REDIS_PASSWORD": "pw"})
    assert (cfg.name, got.redis_password, got.mysql_password) == ("c1", "pw", "")


def test_every_shipped_scenario_gives_configurations_the_client_accepts(client: Any) -> None:
    """For every scenario under scenarios/, the harness's configuration of each of its client
    containers (with the scenario's ``clients:`` behaviour) is accepted and arrives as sent."""
    paths = sorted((REPO / "scenarios").rglob("*.yaml"))
    assert len(paths) >= 10
    for path in paths:
        scenario = find.load(path)
        profile = TrafficProfile.for_clients(scenario.clients)
        for i in range(1, profile.clients + 1):
            sent = client_config(
                profile, Topology(), name=f"c{i}", run=f"{scenario.seed}-0", seed=scenario.seed,
                dns_server="10.1.2.10", lbs=LBS,
            )  # fmt: skip
            got = client.config.parse(sent.to_json())
            for f in dataclasses.fields(ClientConfig):
                assert getattr(got, f.name) == getattr(sent, f.name), (path.name, f.name)
            assert got.dns_min_ttl == scenario.clients.dns_min_ttl, path.name
            assert got.http_keepalive == scenario.clients.keepalive, path.name


# -- the client run as the image runs it --------------------------------------------------------
def _run_client(
    env_change: dict[str, str], *, stop_after: float | None, until: tuple[str, ...] = ()
) -> tuple[int, str, str]:
    """Run the client; SIGTERM it after ``stop_after`` seconds, or as soon as every string of
    ``until`` has appeared on its stdout (at most 30 s: a loaded machine starts it slowly)."""
    env = {
        **os.environ,
        "PYTHONPATH": str(CLIENT_DIR),
        "PYTHONDONTWRITEBYTECODE": "1",
        **dict.fromkeys(SECRET_ENV, ""),
        **env_change,
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "rh_traffic"],
        env=env,
        cwd=CLIENT_DIR.parent,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(iter(proc.stdout.readline, "")))  # type: ignore[union-attr]
    reader.start()
    try:
        if stop_after is not None:
            deadline = time.monotonic() + (30.0 if until else stop_after)
            time.sleep(stop_after)
            while until and time.monotonic() < deadline:
                seen = "".join(lines)
                if all(u in seen for u in until):
                    break
                time.sleep(0.2)
            proc.send_signal(signal.SIGTERM)
        err = proc.stderr.read() if proc.stderr else ""  # ends when the client exits
        proc.wait(timeout=30)
        reader.join(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return proc.returncode, "".join(lines), err


def test_a_refused_configuration_is_one_stderr_line_and_exit_2() -> None:
    """The client refuses before it starts anything: nothing on stdout, one line on stderr that
    the harness reads back (reboot_harness.traffic.config.refusal), exit 2."""
    bad = json.dumps(document(http_rte=5))
    code, out, err = _run_client({CONFIG_ENV: bad}, stop_after=None)
    assert (code, out) == (REFUSAL_EXIT, "")
    assert err.startswith(REFUSAL_PREFIX) and err.count("\n") == 1, err
    assert refusal(err) == "unknown key 'http_rte' (did you mean 'http_rate'?)"
    assert refusal("Traceback (most recent call last):\n") == ""


def test_the_client_against_no_stack_records_every_failure_and_stops_cleanly() -> None:
    """Run as the image runs it, against services that are not there: every kind of user
    records its failed operations in the format the harness parses, and on SIGTERM the client
    prints the read-back line and exits 0."""
    topo = dataclasses.replace(
        Topology(), redis_hosts=("127.0.0.1",), mysql_hosts=("127.0.0.1",),
        sentinel_port=9, mysql_port=9,
    )  # fmt: skip
    profile = TrafficProfile(http_rate=4.0, sio_clients=1, drain_timeout=2.0, verify_timeout=0.5)
    cfg = client_config(
        profile, topo, name="c1", run="t", seed=1, dns_server="127.0.0.1", lbs={}
    ).to_json()
    clients = ("http-c1-1", "sio-c1-1", "redis-c1", "mysql-c1")
    code, out, err = _run_client({CONFIG_ENV: cfg}, stop_after=2.5, until=clients)
    assert code == 0, err
    parsed = parse_output(out)
    assert parsed.bad_lines == 0, parsed.first_bad
    assert [i["info"] for i in parsed.infos][:1] == ["started"]
    assert {o.service for o in parsed.ops} == {"http", "socketio", "redis", "mysql"}
    assert all(not o.ok and o.error for o in parsed.ops)
    assert {o.client for o in parsed.ops} == {"http-c1-1", "sio-c1-1", "redis-c1", "mysql-c1"}
    assert parsed.present is not None  # the final line
    assert parsed.verify_errors == {"mysql": "no primary"}  # no primary to read back from
    assert "Traceback" not in err


# -- what the clients call an error --------------------------------------------------------------
def test_client_error_kinds_are_short_and_stable(client: Any) -> None:
    """Failures are named by kind (the verdicts count them by kind), not by message."""
    import pymysql
    import redis

    kind = client.kinds.kind
    assert kind(TimeoutError()) == "timeout"
    assert kind(ConnectionRefusedError(111, "Connection refused")) == "refused"
    assert kind(OSError(113, "No route to host")) == "unreachable"
    assert kind(socket.gaierror(-2, "Name or service not known")) == "unknown host"
    assert kind(redis.exceptions.ReadOnlyError("You can't write against a replica")) == "READONLY"
    assert kind(redis.exceptions.ConnectionError("The previous master is now a slave")) == (
        "READONLY"
    )
    assert kind(redis.exceptions.ResponseError("LOADING Redis is loading")) == "LOADING"
    assert kind(pymysql.err.OperationalError(1290, "--read-only")) == "READONLY"
    assert kind(pymysql.err.OperationalError(2013, "Lost connection")) == "lost connection"
    assert kind(pymysql.err.OperationalError(2003, "Can't connect ((timed out))")) == "timeout"
    text_kind = client.kinds.text_kind
    assert text_kind("Unexpected status code 502 in server response") == "http 502"
    assert text_kind('"Invalid session"') == "session ID unknown"


class FakeAnswer:
    def __init__(self, ttl: int, *addrs: str) -> None:
        self.rrset = SimpleNamespace(ttl=ttl)
        self._addrs = addrs

    def __iter__(self) -> Any:
        return iter(SimpleNamespace(address=a) for a in self._addrs)


def test_client_dns_cache_honours_ttl_and_serves_stale_only_if_asked(
    client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Answers are reused for their TTL, then asked again (a rotation moves users); when the
    server does not answer, a stub fails at once and a serve-stale cache keeps the old answer
    for its grace; an authoritative NXDOMAIN is never answered from cache."""
    import dns.exception
    import dns.resolver

    now = [100.0]
    monkeypatch.setattr(client.dnscache.time, "monotonic", lambda: now[0])
    replies: list[Any] = []

    def resolve(name: str, rdtype: str) -> Any:
        reply = replies.pop(0)
        if isinstance(reply, Exception):
            raise reply
        return reply

    for stale in (0.0, 5.0):
        cache = client.dnscache.DnsCache("10.0.0.10", "lb.rh.test", stale=stale)
        monkeypatch.setattr(cache._res, "resolve", resolve)
        replies[:] = [FakeAnswer(1, "10.0.0.12", "10.0.0.11"), FakeAnswer(1, "10.0.0.12")]
        assert cache.addresses() == ["10.0.0.11", "10.0.0.12"]
        now[0] += 0.5
        assert cache.addresses() == ["10.0.0.11", "10.0.0.12"]  # cached: no query
        now[0] += 0.6
        assert cache.addresses() == ["10.0.0.12"]  # expired: asked again, rotation seen
        now[0] += 1.5
        replies[:] = [dns.exception.Timeout()]
        if stale:
            assert cache.addresses() == ["10.0.0.12"]
            assert cache.served_stale == 1
        else:
            with pytest.raises(client.kinds.Failure, match="dns timeout"):
                cache.addresses()
        replies[:] = [dns.resolver.NXDOMAIN()]
        with pytest.raises(client.kinds.Failure, match="dns nxdomain"):
            cache.addresses()
