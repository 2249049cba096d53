"""Several Docker engines, on real engines: a second dockerd started here with its own socket,
data root, exec root, bridge and address pool; a suite split across both engines; the CLI
finding a stack on the engine its state names; an engine that dies mid-way failing only its
item, naming it; gc per engine."""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import docker
import pytest

from tests.integration.conftest import lose_power_and_recover, unique_project
from tests.tlscerts import tls_certificates

pytestmark = pytest.mark.docker

FIRST = os.environ.get("DOCKER_HOST") or "unix:///var/run/docker.sock"
SOCKET = "/run/rh-e2.sock"
SECOND = f"unix://{SOCKET}"
DATA = Path("/var/lib/rh-test-engine2")
EXEC = Path("/run/rh-e2")
PIDFILE = Path("/run/rh-e2.pid")
LOG = Path("/var/log/rh-test-engine2.log")
BRIDGE = "rh-e2br"
BRIDGE_CIDR = "10.213.255.1/24"
POOL = "base=10.213.0.0/17,size=24"
RH = [sys.executable, "-m", "reboot_harness"]
# the same engine over TCP with TLS (certificates made by the fixture): server and client
# verify each other, as `dockerd --tlsverify` with DOCKER_TLS_VERIFY=1 / DOCKER_CERT_PATH do
TLS_DIR = Path("/run/rh-e2-tls")
CLIENT_CERTS = TLS_DIR / "client"
SECOND_TLS = "tcp://127.0.0.1:23761"


def make_certificates() -> None:
    shutil.rmtree(TLS_DIR, ignore_errors=True)
    assert tls_certificates(TLS_DIR) == CLIENT_CERTS


def _ip(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["ip", *args], capture_output=True, text=True, check=False)


def _answers(host: str) -> bool:
    try:
        c = docker.DockerClient(base_url=host, timeout=5)
        try:
            return bool(c.ping())
        finally:
            c.close()
    except Exception:
        return False


def start_second_engine() -> int:
    """dockerd with everything of its own; returns its pid once it answers.

    ``--live-restore``: without it, dockerd 20.10 started with ``--default-address-pool`` over a
    data root it used before deletes the *default* bridge interface, ``docker0`` — the first
    engine's — whatever ``--bridge`` says (daemon.initNetworkController clearing its stale
    default network, then removeDefaultBridgeInterface). A containerd left by a killed dockerd
    is stopped first, or the new one times out waiting for its socket."""
    subprocess.run(["pkill", "-KILL", "-f", f"containerd.*{EXEC}/containerd"], check=False)
    for stale in (EXEC / "containerd").glob("containerd*"):  # its pid file and sockets
        if stale.name != "containerd.toml":
            stale.unlink(missing_ok=True)
    if _ip("link", "show", BRIDGE).returncode != 0:
        assert _ip("link", "add", BRIDGE, "type", "bridge").returncode == 0
        assert _ip("addr", "add", BRIDGE_CIDR, "dev", BRIDGE).returncode == 0
    assert _ip("link", "set", BRIDGE, "up").returncode == 0
    DATA.mkdir(parents=True, exist_ok=True)
    log = LOG.open("ab")
    proc = subprocess.Popen(
        ["dockerd", f"--host={SECOND}", f"--host={SECOND_TLS}", "--tlsverify",
         f"--tlscacert={TLS_DIR}/ca.pem", f"--tlscert={TLS_DIR}/server-cert.pem",
         f"--tlskey={TLS_DIR}/server-key.pem", f"--data-root={DATA}", f"--exec-root={EXEC}",
         f"--pidfile={PIDFILE}", f"--bridge={BRIDGE}", f"--default-address-pool={POOL}",
         "--live-restore", "--log-level=warn"],
        stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True,
    )  # fmt: skip
    deadline = time.monotonic() + 60
    while not _answers(SECOND):
        assert proc.poll() is None, f"second dockerd exited; see {LOG}"
        assert time.monotonic() < deadline, f"second dockerd did not answer in 60 s; see {LOG}"
        time.sleep(0.5)
    return proc.pid


def stop_second_engine(pid: int, sig: int = signal.SIGTERM) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, sig)
    deadline = time.monotonic() + 60
    while Path(f"/proc/{pid}").exists() and time.monotonic() < deadline:
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)
        time.sleep(0.2)


@pytest.fixture(scope="module")
def second() -> Iterator[dict[str, int]]:
    """The second engine, running; removed with everything in it afterwards."""
    if shutil.which("dockerd") is None or os.geteuid() != 0:
        pytest.fail("this test starts a second dockerd: it needs root and dockerd (setup-host.sh)")
    make_certificates()
    engine = {"pid": start_second_engine()}
    try:
        yield engine
    finally:
        if not _answers(SECOND):
            engine["pid"] = start_second_engine()
        c = docker.DockerClient(base_url=SECOND, timeout=120)
        for ctr in c.containers.list(all=True, ignore_removed=True):
            with contextlib.suppress(docker.errors.APIError):
                ctr.remove(force=True, v=True)
        with contextlib.suppress(docker.errors.APIError):
            c.networks.prune()  # its bridges and their iptables rules
        c.close()
        stop_second_engine(engine["pid"])
        # containerd of that engine (its child) goes with it; then its files
        subprocess.run(["pkill", "-f", f"containerd.*{EXEC}"], check=False)
        for mounted in (EXEC, DATA):  # (a killed daemon can leave its mounts behind)
            subprocess.run(["umount", "-R", "-l", str(mounted)], capture_output=True, check=False)
        shutil.rmtree(DATA, ignore_errors=True)
        shutil.rmtree(TLS_DIR, ignore_errors=True)
        shutil.rmtree(EXEC, ignore_errors=True)
        _ip("link", "del", BRIDGE)


def _root(host: str) -> str:
    c = docker.DockerClient(base_url=host, timeout=60)
    try:
        return str(c.info()["DockerRootDir"])
    finally:
        c.close()


def _projects_on(host: str, prefix: str) -> set[str]:
    c = docker.DockerClient(base_url=host, timeout=60)
    try:
        # (ignore_removed: another run's container removed between the list and its inspect)
        labels = [x.labels for x in c.containers.list(all=True, ignore_removed=True)]
    finally:
        c.close()
    return {
        lab.get("com.docker.compose.project", "")
        for lab in labels
        if lab.get("com.docker.compose.project", "").startswith(prefix)
    }


INNER = """
import json, os, time
import docker

def _record(rh_stack, name):
    host = os.environ["DOCKER_HOST"]
    c = docker.DockerClient(base_url=host)
    mine = c.containers.list(filters={"label": [f"com.docker.compose.project={rh_stack.name}"]})
    with open(os.environ["RH_TEST_RECORD"], "a") as f:
        f.write(json.dumps({"test": name, "host": host, "root": c.info()["DockerRootDir"],
                            "project": rh_stack.name, "containers": len(mine)}) + "\\n")

def test_one(rh_stack, rh_reboot, rh_check):
    _record(rh_stack, "one")
    rh_reboot("app1", mode="hard")
    rh_check("limits", "processes", within=120)

def test_two(rh_stack, rh_reboot, rh_check):
    _record(rh_stack, "two")
    rh_reboot("redis1")
    rh_check("redis roles", within=120)
"""


def _inner(
    tmp_path: Path, body: str, *args: str
) -> tuple[subprocess.CompletedProcess[str], list[dict[str, object]]]:
    (tmp_path / "test_inner.py").write_text(body)
    record = tmp_path / "record.jsonl"
    env = {k: v for k, v in os.environ.items() if k not in ("RH_ENGINES", "PYTEST_XDIST_WORKER")}
    env.update(RH_TEST_RECORD=str(record), RH_TEST_KILL_PID=env.get("RH_TEST_KILL_PID", ""))
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "-rA", *args],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=1200, check=False,
    )  # fmt: skip
    rows = [json.loads(x) for x in record.read_text().splitlines()] if record.exists() else []
    return proc, rows


def test_a_suite_split_across_two_engines(second: dict[str, int], tmp_path: Path) -> None:
    """pytest -n 2 --rh-engines A,B: gw0's stack lives on A, gw1's on B (whose images are
    copied from A, not built); both pass; nothing is left on either engine."""
    proc, rows = _inner(tmp_path, INNER, "-n", "2", f"--rh-engines={FIRST},{SECOND}")
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-4000:]
    assert sorted(str(r["test"]) for r in rows) == ["one", "two"], rows
    assert {r["host"] for r in rows} == {FIRST, SECOND}, rows
    # (not the engines' ID: both read the same /etc/docker/key.json, so it is the same)
    assert {r["root"] for r in rows} == {_root(FIRST), str(DATA)}, "two different engines answered"
    assert all(int(str(r["containers"])) >= 10 for r in rows), rows
    for r in rows:
        assert not _projects_on(str(r["host"]), str(r["project"])), f"left behind: {r}"
    # the second engine got the service images by content hash, not by building
    c = docker.DockerClient(base_url=SECOND, timeout=60)
    tags = {t for i in c.images.list() for t in i.tags}
    c.close()
    assert any(t.startswith("reboot-harness/app:h-") for t in tags), tags


def test_the_cli_follows_the_engine_a_stack_lives_on(second: dict[str, int]) -> None:
    """`up` with RH_ENGINES=B, B named by tcp:// with TLS (DOCKER_TLS_VERIFY, DOCKER_CERT_PATH),
    puts the stack on B, its images copied there over TLS; `check`, a one-shot reboot and `down`
    find it there from its state (engine and certificates) with none of those variables set."""
    name = unique_project("eng")
    env = {
        k: v for k, v in os.environ.items()
        if k not in ("RH_ENGINES", "DOCKER_TLS_VERIFY", "DOCKER_CERT_PATH")
    }  # fmt: skip

    def rh(*args: str, **extra: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*RH, *args], env={**env, **extra}, capture_output=True, text=True, timeout=600,
            check=False,
        )  # fmt: skip

    up = rh(
        "up", "--project", name, RH_ENGINES=SECOND_TLS, DOCKER_TLS_VERIFY="1",
        DOCKER_CERT_PATH=str(CLIENT_CERTS),
    )  # fmt: skip
    try:
        assert up.returncode == 0, up.stdout + up.stderr
        assert _projects_on(SECOND, name) == {name}
        assert not _projects_on(FIRST, name)
        check = rh("check", "--project", name)
        assert check.returncode == 0, check.stdout + check.stderr
        lose_power_and_recover(rh, name, "app2")
    finally:
        down = rh("down", "--project", name)
    assert down.returncode == 0, down.stdout + down.stderr
    assert not _projects_on(SECOND, name)


KILLER = """
import os, signal, time

def test_a_loses_its_engine(rh_stack, rh_check):
    assert os.environ["DOCKER_HOST"] == os.environ["RH_TEST_SECOND"]
    os.kill(int(os.environ["RH_TEST_KILL_PID"]), signal.SIGKILL)
    time.sleep(1)
    rh_check("limits", within=15)

def test_b_goes_on_elsewhere(rh_stack, rh_check):
    assert os.environ["DOCKER_HOST"] == os.environ["RH_TEST_FIRST"]
    rh_check("limits", within=60)
"""


def test_an_engine_dying_mid_way_fails_its_item_naming_it(
    second: dict[str, int], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The engine of an item dies while it runs: that item fails naming the engine, the next
    item goes to the engine that answers and passes; once the engine is back, `gc` removes
    what the dead item left there (found through the engine its state recorded)."""
    monkeypatch.setenv("RH_TEST_KILL_PID", str(second["pid"]))
    monkeypatch.setenv("RH_TEST_FIRST", FIRST)
    monkeypatch.setenv("RH_TEST_SECOND", SECOND)
    proc, _ = _inner(tmp_path, KILLER, f"--rh-engines={SECOND},{FIRST}")
    out = proc.stdout + proc.stderr
    assert proc.returncode == 1, out[-4000:]
    assert "1 failed, 1 passed" in out, out[-4000:]
    assert f"engine {SECOND} stopped answering during this item" in out, out[-4000:]
    assert f"the next items go to engine {FIRST}" in out
    assert "PASSED test_inner.py::test_b_goes_on_elsewhere" in out
    # back up: what the dead item left on it is garbage now (its owner, pytest, is gone)
    second["pid"] = start_second_engine()
    left = _projects_on(SECOND, "rh-py-")
    assert left, "the killed item's stack is still on the engine once it is back"
    # `gc` with no RH_ENGINES: the killed item's state names the engine it lived on
    env = {k: v for k, v in os.environ.items() if k != "RH_ENGINES"}
    gc = subprocess.run(
        [*RH, "gc"], env=env,
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert gc.returncode == 0, gc.stdout + gc.stderr
    assert not _projects_on(SECOND, "rh-py-") & left
    for project in left:
        assert project in gc.stdout


def test_run_hands_scenarios_to_engines_in_turn(second: dict[str, int]) -> None:
    """`RH_ENGINES=A,B reboot-harness run no-minfds --json -j 2`: the fixed variant on A, the
    incident variant on B, both stacks alive at once, each PASS line and each JSON result naming
    its engine; nothing left on either. (One at a time, -j 1, hands them out in the same turn:
    tests/unit/test_engines.py; a real run of it here cost 100 s of the full tier.)"""
    proc = subprocess.run(
        [*RH, "run", "no-minfds", "--json", "-j", "2"],
        env={**os.environ, "RH_ENGINES": f"{FIRST},{SECOND}"},
        capture_output=True, text=True, timeout=900, check=False,
    )  # fmt: skip
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-4000:]
    lines = " ".join(out.split())  # rich may wrap a long line
    assert re.search(rf"PASS no-minfds\[fixed\] \(\d+s on engine {re.escape(FIRST)}\)", lines), out
    assert re.search(rf"PASS no-minfds\[incident\] \(\d+s on engine {re.escape(SECOND)}\)", lines)
    assert not _projects_on(FIRST, "rh-no-minfds") and not _projects_on(SECOND, "rh-no-minfds")
    # the JSON says where each ran
    doc = json.loads(proc.stdout)
    assert [(r["variant"], r["engine"]) for r in doc["scenarios"]] == [
        ("fixed", FIRST), ("incident", SECOND),
    ]  # fmt: skip
    ready = [_first(r["events"], "stack ready") for r in doc["scenarios"]]
    last = [max(e["t"] for e in r["events"]) for r in doc["scenarios"]]
    assert max(ready) < min(last), (ready, last)  # each ready before the other's run ended


def _first(events: list[dict[str, Any]], kind: str) -> float:
    return min(e["t"] for e in events if e["kind"] == kind)
