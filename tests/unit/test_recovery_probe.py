"""How a host is read while waiting for it to recover (the probes kept running in hosts, and
what their answers mean) and how rounds of checks are paced (no Docker: the probes run here)."""

from __future__ import annotations

import json
import os
import socket
import socketserver
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any
from xmlrpc.server import SimpleXMLRPCDispatcher, SimpleXMLRPCRequestHandler

import pytest

from reboot_harness.checks import run
from reboot_harness.checks.api import Context
from reboot_harness.checks.hostview import END, SH_AGENT, Program, _python_agent, parse_view
from reboot_harness.checks.recovery import Pacing, wait_recovered
from reboot_harness.model.results import CheckResult
from tests.fakestack import FakeStack, fake_check

ANSWER = (
    "proc\t1\tS\tsupervisord\n"
    "proc\t21\tS\tpython3\n"
    "proc\t30\tZ\tredis-server\n"
    "program\tapp\tSTARTING\t21\n"
    "limits\tapp\tMax open files            10000                16384                files\n"
    "ready\tapp\tyes\n"
    "program\tredis\tRUNNING\t30\n"
    "program\tsentinel\tSTOPPED\t0\n"
)


def test_parse_view_reads_processes_programs_limits_and_sockets() -> None:
    """Every line kind lands where the checks look; a zombie is not a live process, and a
    program whose pid is one is not alive."""
    view = parse_view("app1", ANSWER)
    assert view.processes == ((1, "supervisord"), (21, "python3"))
    assert view.programs["app"] == Program(
        "app",
        "STARTING",
        21,
        True,
        "Max open files            10000                16384                files",
        "yes",
    )
    assert not view.programs["redis"].alive
    assert view.programs["sentinel"].pid == 0
    assert view.error == ""


def test_parse_view_keeps_errors_and_flags_unexpected_lines() -> None:
    """What the probe could not read, and anything it said that is not the protocol, ends up in
    ``error`` rather than being dropped."""
    view = parse_view("app1", "proc\t1\tS\tsupervisord\nerror\tsupervisord: refused\nbogus\n")
    assert view.processes == ((1, "supervisord"),)
    assert view.programs == {}
    assert "supervisord: refused" in view.error
    assert "unexpected line from the probe: 'bogus'" in view.error


@pytest.mark.parametrize(
    ("program", "up", "said"),
    [
        (Program("app", "RUNNING", 21, True), True, "app RUNNING"),
        (Program("app", "RUNNING", 21, True, serving="yes"), True, "app RUNNING"),
        (
            Program("app", "RUNNING", 21, True, serving="GET /health on 8000: TimeoutError: x"),
            False,
            "app RUNNING (not serving: GET /health on 8000: TimeoutError: x)",
        ),
        (Program("app", "STARTING", 21, True, serving="yes"), True, "app STARTING (serving)"),
        (Program("app", "STARTING", 21, True), False, "app STARTING"),
        (
            Program("app", "STARTING", 21, True, serving="GET /health on 8000: refused"),
            False,
            "app STARTING (not serving yet: GET /health on 8000: refused)",
        ),
        (Program("app", "RUNNING", 21, False), False, "app RUNNING (pid 21 has ended)"),
        (Program("app", "STARTING", 21, False, serving="yes"), False, "has ended"),
        (Program("app", "BACKOFF", 0, False), False, "app BACKOFF"),
        (Program("app", "STOPPED", 0, False), False, "app STOPPED"),
        (Program("app", "FATAL", 0, False), False, "app FATAL"),
    ],
)
def test_program_up_only_when_alive_and_running_or_serving(
    program: Program, up: bool, said: str
) -> None:
    """Up means RUNNING, or STARTING with its own process answering its health request — and a
    program that has one must answer it even when RUNNING; never a process that has ended (a
    zombie supervisord has not reaped yet still says RUNNING)."""
    assert program.up() is up
    assert program.describe() == said or said in program.describe()


# -- the probes themselves, run on this machine -------------------------------------------------


def _ask(argv: list[str], questions: int = 1) -> list[str]:
    """Run a probe, ask it ``questions`` times, return each answer (without the end line)."""
    proc = subprocess.run(
        argv, input="read\n" * questions, capture_output=True, text=True, timeout=30, check=True
    )
    answers = proc.stdout.split(f"{END}\n")
    assert answers[-1] == "" and len(answers) == questions + 1, proc.stdout[-300:]
    return answers[:-1]


@pytest.fixture
def zombie() -> Iterator[int]:
    """A child of this process that has exited and is not reaped yet."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    deadline = time.monotonic() + 10
    while Path(f"/proc/{child.pid}/stat").read_text().split(") ")[1][0] != "Z":
        assert time.monotonic() < deadline
        time.sleep(0.01)
    yield child.pid
    child.wait()


def test_sh_probe_lists_live_processes_but_itself(zombie: int) -> None:
    """The POSIX sh probe answers every question with this machine's processes: zombies are
    read as such (and left out by the parser), and the probe's own shell is not listed."""
    first, second = _ask(["sh", "-c", SH_AGENT], questions=2)
    view = parse_view("here", first)
    pids = {pid for pid, _ in view.processes}
    assert os.getpid() in pids
    assert zombie not in pids and f"proc\t{zombie}\tZ\t" in first
    assert view.error == "" and parse_view("here", second).processes


class _UnixXMLRPCServer(socketserver.UnixStreamServer, SimpleXMLRPCDispatcher):
    """supervisord's XML-RPC interface on a unix socket, as far as the probe uses it."""

    def __init__(self, path: str) -> None:
        SimpleXMLRPCDispatcher.__init__(self, allow_none=True)
        self.logRequests = False
        socketserver.UnixStreamServer.__init__(self, path, _Handler)


class _Handler(SimpleXMLRPCRequestHandler):
    disable_nagle_algorithm = False  # TCP only

    def address_string(self) -> str:  # a unix socket peer has no address
        return "unix"


@pytest.fixture
def fake_supervisord(tmp_path: Path) -> Iterator[tuple[Path, list[dict[str, Any]]]]:
    """A conf pointing at a fake supervisord whose getAllProcessInfo answers the list given."""
    sock = tmp_path / "supervisor.sock"
    programs: list[dict[str, Any]] = []
    server = _UnixXMLRPCServer(str(sock))
    server.register_function(lambda: programs, "supervisor.getAllProcessInfo")
    threading.Thread(target=server.serve_forever, daemon=True).start()
    conf = tmp_path / "supervisord.conf"
    conf.write_text(f"; comment\n[supervisorctl]\nserverurl=unix://{sock} ; inline\n")
    try:
        yield conf, programs
    finally:
        server.shutdown()
        server.server_close()


def _health_server(pid: int, *, after: float = 0.0) -> Iterator[int]:
    """An HTTP server (listening at once) that answers /health as process ``pid`` once
    ``after`` seconds have passed; yields its port."""
    body = json.dumps({"ok": True, "pid": pid}).encode()

    class Health(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200 if self.path == "/health" else 404)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_args: object) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Health)
    timer = threading.Timer(after, server.serve_forever)
    timer.start()
    try:
        yield server.server_address[1]
    finally:
        timer.cancel()
        server.shutdown()
        server.server_close()


def test_python_probe_reports_programs_limits_and_whether_they_serve(
    fake_supervisord: tuple[Path, list[dict[str, Any]]],
) -> None:
    """The supervisord probe asks supervisord over its unix socket and reads each program's
    open-file limit; a STARTING or RUNNING program with a health request is up only when its
    own process answers it (a request held in the backlog is answered once it serves)."""
    conf, programs = fake_supervisord
    me = os.getpid()
    with (
        contextmanager(_health_server)(me) as mine,
        contextmanager(_health_server)(me, after=0.3) as late,
        contextmanager(_health_server)(1) as other,
        socket.socket() as closed,
    ):
        closed.bind(("127.0.0.1", 0))
        refused = closed.getsockname()[1]
        programs += (
            [
                {"name": name, "group": name, "statename": "STARTING", "pid": me}
                for name in ("app", "late", "impostor", "down", "worker")
            ]
            + [
                {"name": name, "group": name, "statename": "RUNNING", "pid": me}
                for name in ("steady", "deaf")
            ]
            + [{"name": "off", "group": "off", "statename": "STOPPED", "pid": 0}]
        )
        serves = [
            f"steady={mine}/health",
            f"deaf={refused}/health",
            f"app={mine}/health",
            f"late={late}/health",
            f"impostor={other}/health",
            f"down={refused}/health",
        ]
        (answer,) = _ask([sys.executable, "-c", _python_agent(), str(conf), *serves])
    view = parse_view("here", answer)
    assert view.error == ""
    assert {n: (p.up(), p.serving) for n, p in view.programs.items()} == {
        "app": (True, "yes"),
        "late": (True, "yes"),
        "impostor": (False, f"GET /health on {other}: answered by pid 1"),
        "down": (False, f"GET /health on {refused}: nothing listening (Connection refused)"),
        "worker": (False, ""),
        "steady": (True, "yes"),
        "deaf": (False, f"GET /health on {refused}: nothing listening (Connection refused)"),
        "off": (False, ""),
    }
    assert view.programs["app"].nofile.startswith("Max open files")
    assert view.programs["off"] == Program("off", "STOPPED", 0)
    assert me in {pid for pid, _ in view.processes}


def test_python_probe_names_its_group_and_program(
    fake_supervisord: tuple[Path, list[dict[str, Any]]],
) -> None:
    """A program in a group is named group:program, as supervisorctl shows it."""
    conf, programs = fake_supervisord
    programs.append({"name": "worker", "group": "pool", "statename": "RUNNING", "pid": os.getpid()})
    (answer,) = _ask([sys.executable, "-c", _python_agent(), str(conf)])
    assert parse_view("here", answer).programs["pool:worker"].up()


def test_python_probe_says_why_supervisord_cannot_be_read(tmp_path: Path) -> None:
    """An unreadable conf or a supervisord not answering yet (at boot) is an error line; the
    process list still comes."""
    (answer,) = _ask([sys.executable, "-c", _python_agent(), str(tmp_path / "missing.conf")])
    view = parse_view("here", answer)
    assert view.programs == {} and view.processes
    assert "cannot read" in view.error and "missing.conf" in view.error
    conf = tmp_path / "supervisord.conf"
    conf.write_text(f"[supervisorctl]\nserverurl=unix://{tmp_path / 'nobody.sock'}\n")
    (answer,) = _ask([sys.executable, "-c", _python_agent(), str(conf)])
    assert "FileNotFoundError" in parse_view("here", answer).error


def test_python_probe_exits_when_its_stdin_closes() -> None:
    """Nothing is left running in a host once the harness lets go of the probe."""
    proc = subprocess.Popen(
        [sys.executable, "-c", _python_agent(), "/nonexistent"],
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
    )
    assert proc.stdin is not None
    proc.stdin.close()
    assert proc.wait(timeout=10) == 0


# -- pacing ---------------------------------------------------------------------------------


def test_pacing_reruns_at_once_after_a_change_and_backs_off_while_nothing_moves() -> None:
    """A change means the next round starts at once; while nothing changes the pause doubles
    from `first` and stops at `longest`; a new change starts over."""
    pacing = Pacing(first=0.01, longest=0.05)
    assert pacing.after(changed=True) == 0.0
    assert [pacing.after(changed=False) for _ in range(5)] == [0.01, 0.02, 0.04, 0.05, 0.05]
    assert pacing.after(changed=True) == 0.0
    assert pacing.after(changed=False) == 0.01


def _closed(stack: FakeStack) -> int:
    """How many times the stack's sessions (probes, ssh tunnels) were closed."""
    return sum(1 for method, _, _ in stack.calls if method == "close_sessions")


def _flipping_check(monkeypatch: pytest.MonkeyPatch, at: float, rounds: list[float]) -> None:
    """Register a check `flips` that fails on app1 until monotonic time ``at``."""

    def check(ctx: Context) -> list[CheckResult]:
        ctx.exec("app1", ["true"])  # a pass counts only where the check's reads reached
        now = time.monotonic()
        rounds.append(now)
        held = now >= at
        return [
            CheckResult("flips", "app1", held, "ok", "ok" if held else "not yet",
                        causes=() if held else ("host-down",), subjects=("app1",))
        ]  # fmt: skip

    flips = fake_check("flips", check, lambda _topo: ("app1",))
    real = run.registry
    monkeypatch.setattr(run, "registry", lambda topo: {**real(topo), "flips": flips})


def test_wait_recovered_notices_within_the_longest_pause(monkeypatch: pytest.MonkeyPatch) -> None:
    """A check that starts holding after a long unchanged stretch is noticed within about one
    `longest` pause, without a round every few microseconds meanwhile; sessions are closed."""
    rounds: list[float] = []
    at = time.monotonic() + 0.6
    _flipping_check(monkeypatch, at, rounds)
    stack = FakeStack()
    pacing = Pacing(first=0.005, longest=0.04)
    readiness = wait_recovered(stack, checks=["flips"], timeout=10, pacing=pacing)
    late = time.monotonic() - at
    # generous slack: a loaded machine delays a thread, a broken back-off delays by seconds
    assert late < 0.04 + 0.25, f"noticed {late * 1000:.0f} ms after the check held"
    assert readiness.ready_at.keys() == {"app1"}
    # 0.6 s at a 40 ms pause at most: 15 rounds, plus the few of the back-off ramp.
    assert 10 <= len(rounds) <= 25, len(rounds)
    assert _closed(stack) == 1


def test_wait_recovered_times_out_with_the_last_results(monkeypatch: pytest.MonkeyPatch) -> None:
    """Running out of time raises CheckTimeout naming what still fails (and closes sessions)."""
    from reboot_harness.errors import CheckTimeout

    _flipping_check(monkeypatch, time.monotonic() + 60, [])
    stack = FakeStack()
    with pytest.raises(CheckTimeout, match=r"not recovered after 0.2s; still failing: .*not yet"):
        wait_recovered(stack, checks=["flips"], timeout=0.2)
    assert _closed(stack) == 1
