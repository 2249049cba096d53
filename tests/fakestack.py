"""One fake stack for unit tests, behind :class:`reboot_harness.stack.protocol.StackLike`: what
checks, faults, operations and the run loop use of a stack, without Docker.

- Hosts have statuses (``running`` by default; set per host), which ``statuses()``,
  ``running()``, ``endpoint()``, ``address()`` and ``exec`` (:data:`NOT_RUNNING`) honour.
- ``exec``, ``shell`` and ``ask`` answer by rules (:meth:`FakeStack.on`): the first rule whose
  host and text match the command gives the answer — an :class:`ExecResult`, an exception to
  raise, or a function of (host, argv) — else the stack's default answer. :data:`SILENCE`
  (exit 0, nothing printed), :data:`TIMEOUT` (124: ``timeout`` gave up), :data:`NOT_RUNNING`
  (125: the host stopped since the status read) are what a real host can give.
- ``endpoint()`` hands out real sockets on 127.0.0.1, so redis-py, PyMySQL, urllib and
  dnspython really connect: :data:`REFUSE` (nothing listens: refused at once), :data:`SILENT`
  (a listener that never answers: clients time out), :data:`CLOSE` (accepts and closes at once:
  an answer of nothing), :data:`RAISE` (``endpoint()`` itself raises, as for a host that
  stopped), or a handler of your own (:meth:`FakeStack.serve`): a function of each connected
  TCP socket, or of each UDP datagram returning the reply.
- Power: ``power_off``/``power_on``/``renumber`` change the host's status and address as the
  engine would (renumbering a running host is refused), each seen by a :meth:`watch_events`
  watch as the engine's ``die``/``start``; ``containers()`` gives each host's ``attrs`` as the
  engine does; ``signal_program`` signals the host's processes by name (its topology daemons,
  unless ``processes`` says otherwise) and says how many it found; :meth:`FakeStack.probes`
  makes the hosts' process probes (what the checks read) answer with those processes.
- Traffic clients: ``start_client`` and the rest keep each client's environment, state and
  signals; what a client prints is :meth:`FakeStack.prints`, the state it is in once started
  ``started_as``, one that ignores SIGTERM is in ``hang``.
- Interference (:meth:`FakeStack.when`): the next call(s) of a method on a host raise an error
  of choice, or run a function first (a signal arriving mid-step, a host changing under it).

Every call is recorded in ``calls`` as (method, host, what).
"""

from __future__ import annotations

import contextlib
import shlex
import socket
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from reboot_harness.errors import StackError
from reboot_harness.model.hostview import ExecResult
from reboot_harness.model.own_checks import Check
from reboot_harness.model.topology import Topology
from reboot_harness.stack.protocol import POWER_ACTIONS
from reboot_harness.stack.state import ProjectState

SILENCE = ExecResult(0, "", "")
TIMEOUT = ExecResult(124, "", "")
NOT_RUNNING = ExecResult(125, "", "host is not running")

# How an endpoint behaves.
REFUSE = "refuse"
SILENT = "silent"
CLOSE = "close"
RAISE = "raise"

Answer = ExecResult | BaseException | Callable[[str, list[str]], ExecResult]
Meddling = BaseException | Callable[[], object]
TcpHandler = Callable[[socket.socket], None]
UdpHandler = Callable[[bytes], "bytes | None"]
Port = str | TcpHandler | UdpHandler


def health(host: str, since: float | None = None) -> TcpHandler:
    """A port that answers any HTTP request as an app's (or, through an LB, its backend's)
    ``/health`` does: 200 with ``host`` and, when given, ``since``."""
    fields = f'"ok": true, "host": "{host}"' + (f', "since": {since}' if since is not None else "")

    def serve(conn: socket.socket) -> None:
        conn.recv(65536)
        body = f"{{{fields}}}".encode()
        conn.sendall(f"HTTP/1.0 200 OK\r\nContent-Length: {len(body)}\r\n\r\n".encode() + body)

    return serve


@dataclass(frozen=True)
class FakeState(ProjectState):
    """What the harness records of a stack, never written to disk."""

    def save(self, secrets_values: dict[str, str] | None = None) -> None:
        return None


def fake_state(**changes: Any) -> FakeState:
    """The state of stack ``fake`` (subnet 10.9.0), with ``changes``."""
    return FakeState(
        name="fake", compose_dir="/nonexistent", compose_files=(), subnet_prefix="10.9.0",
        domain="rh.test", image_tag="fake", base_image="fake", owner="tests", keep=False,
    ).with_changes(**changes)  # type: ignore[return-value]  # fmt: skip


@dataclass
class FakeContainer:
    """What a host's container shows of itself: its name and the engine's ``attrs``."""

    name: str
    status: str

    @property
    def attrs(self) -> dict[str, Any]:
        return {"State": {"Status": self.status}}


@dataclass
class FakeClient:
    """One traffic client container: how it was started, its state, the signals it got."""

    environment: dict[str, str]
    address: str
    state: tuple[str, int, str] = ("running", 0, "")
    signals: list[str] = field(default_factory=list)


class FakeWatch:
    """A live watch of the engine's events: what the fake stack's hosts did (its
    ``engine_events``) from the watch's start until it is closed."""

    def __init__(self, stack: FakeStack, hosts: Sequence[str] | None, actions: Sequence[str]):
        self._stack = stack
        self._start = len(stack.engine_events)
        self._hosts = None if hosts is None else set(hosts)
        self._actions = set(actions)
        self._end: int | None = None

    def events(self, host: str | None = None) -> list[tuple[float, str, str]]:
        seen = self._stack.engine_events[self._start : self._end]
        return sorted(
            e for e in seen
            if (self._hosts is None or e[1] in self._hosts) and e[2] in self._actions
            and (host is None or e[1] == host)
        )  # fmt: skip

    def close(self) -> None:
        if self._end is None:
            self._end = len(self._stack.engine_events)


@dataclass(frozen=True)
class _Rule:
    host: str  # "*": any host
    text: str  # a substring of the command line ("": any command)
    answer: Answer


class _Listener:
    """One real socket on 127.0.0.1 behaving as one of the endpoint kinds, or by a handler."""

    def __init__(self, how: Port, proto: str) -> None:
        self.proto = proto
        kind = socket.SOCK_STREAM if proto == "tcp" else socket.SOCK_DGRAM
        self.sock = socket.socket(socket.AF_INET, kind)
        self.sock.bind(("127.0.0.1", 0))
        self.port = int(self.sock.getsockname()[1])
        self._open: list[socket.socket] = []
        self._closed = threading.Event()
        if how == REFUSE:
            return  # bound, not listening: a TCP connect is refused; UDP gets no answer
        if proto == "tcp":
            self.sock.listen(64)
        if how == SILENT:
            return  # the kernel takes connections into the backlog; nothing ever answers
        target = self._tcp if proto == "tcp" else self._udp
        threading.Thread(target=target, args=(how,), daemon=True).start()

    def _tcp(self, how: Port) -> None:
        while not self._closed.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            if how == CLOSE:
                conn.close()
                continue
            self._open.append(conn)
            threading.Thread(target=self._serve, args=(how, conn), daemon=True).start()

    @staticmethod
    def _serve(how: Port, conn: socket.socket) -> None:
        with conn, contextlib.suppress(OSError):
            how(conn)  # type: ignore[operator, arg-type]

    def _udp(self, how: Port) -> None:
        while not self._closed.is_set():
            try:
                data, peer = self.sock.recvfrom(65536)
            except OSError:
                return
            if self._closed.is_set():
                return
            try:
                reply = b"" if how == CLOSE else how(data)  # type: ignore[operator, arg-type]
                if reply is not None:
                    self.sock.sendto(reply, peer)
            except Exception:  # a datagram the handler cannot answer: no answer
                continue

    def close(self) -> None:
        self._closed.set()
        for s in [self.sock, *self._open]:
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)
            s.close()


class FakeStack:
    """A stack whose hosts answer as told (see the module's documentation).

    Args:
        topology: the hosts and roles (default: the shipped stack's).
        statuses: docker state by host; hosts not named are ``running``.
        answer: what ``exec``/``shell``/``ask`` give when no rule matches.
        port: how an ``endpoint()`` that :meth:`serve` did not name behaves.
        secrets: the stack's secrets; env: each host's environment.
    """

    def __init__(
        self,
        topology: Topology | None = None,
        *,
        statuses: Mapping[str, str] | None = None,
        answer: Answer = SILENCE,
        port: Port = REFUSE,
        secrets: Mapping[str, str] | None = None,
        env: Mapping[str, dict[str, str]] | None = None,
    ) -> None:
        self._topology = topology or Topology()
        self.status = {h: "running" for h in self._topology.hosts} | dict(statuses or {})
        self.answer = answer
        self.port = port
        # what health() gives per host (the engine's view of its healthcheck)
        self.healths: dict[str, str | BaseException] = {}
        self._secrets = dict(secrets or {"REDIS_PASSWORD": "r", "MYSQL_ROOT_PASSWORD": "m"})
        self.envs = {h: dict(e) for h, e in (env or {}).items()}
        self.state: ProjectState = fake_state(rotation=self._topology.lbs)
        self.rules: list[_Rule] = []
        self.served: dict[tuple[str, int, str], Port] = {}
        self.calls: list[tuple[str, str, str]] = []
        self._listeners: dict[tuple[int, str] | tuple[str, int, str], _Listener] = {}
        self._lock = threading.Lock()
        self.numbers = {h: i + 10 for i, h in enumerate(self._topology.hosts)}
        # process names running on each host, as signal_program and the probes find them
        self.processes = {h: set(d) for h, d in self._topology.daemons.items()}
        self.no_boot: dict[str, set[str]] = {}  # daemons that do not start at a host's boot
        self._late: dict[str, int] = {}
        self._reads: dict[str, int] = {}
        # (time, host, action) as the engine records them, for watch_events
        self.engine_events: list[tuple[float, str, str]] = []
        self._meddling: list[tuple[str, str, Meddling, list[int | None]]] = []
        self.clients: dict[str, FakeClient] = {}
        self.started_as: dict[str, tuple[str, int, str]] = {}
        self.hang: set[str] = set()
        self.removed: list[str] = []
        self._prints: dict[str, tuple[str, str]] = {}

    # -- scripting ---------------------------------------------------------------------------
    def on(self, host: str, text: str, answer: Answer) -> FakeStack:
        """``exec``/``shell``/``ask`` on ``host`` ("*": any) whose command line contains
        ``text`` ("": any) give ``answer``; earlier rules win."""
        self.rules.append(_Rule(host, text, answer))
        return self

    def serve(self, host: str, port: int, how: Port, proto: str = "tcp") -> FakeStack:
        """``endpoint(host, port, proto)`` behaves as ``how``."""
        self.served[(host, port, proto)] = how
        return self

    def when(self, method: str, host: str, then: Meddling, times: int | None = 1) -> FakeStack:
        """The next ``times`` calls (None: every one) of ``method`` on ``host`` ("*": any)
        raise ``then`` if it is an exception, else run it first (it may raise, or signal)."""
        self._meddling.append((method, host, then, [times]))
        return self

    def probes(self, late: Mapping[str, int] | None = None) -> FakeStack:
        """The hosts' process probes (the checks' host view) answer with the processes that
        run there (``processes``), as a host without supervisord does; a host in ``late``
        shows none for its first ``late[host]`` readings after each boot (daemons starting)."""
        self._late = dict(late or {})

        def read(host: str, _argv: list[str]) -> ExecResult:
            self._reads[host] = self._reads.get(host, 0) + 1
            starting = self._reads[host] <= self._late.get(host, 0)
            alive = ["init", *([] if starting else sorted(self.processes.get(host, ())))]
            lines = [f"proc\t{pid}\tS\t{name}\n" for pid, name in enumerate(alive, 1)]
            return ExecResult(0, "".join(lines), "")

        return self.on("*", "<<< read", read)

    def prints(self, client: str, stdout: str, stderr: str = "") -> FakeStack:
        """What traffic client ``client`` has printed, whenever its output is read."""
        self._prints[client] = (stdout, stderr)
        return self

    def close(self) -> None:
        with self._lock:
            listeners, self._listeners = list(self._listeners.values()), {}
        for listener in listeners:
            listener.close()

    def __enter__(self) -> FakeStack:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def _call(self, method: str, host: str, what: str = "") -> None:
        """Record a call, then meddle with it as :meth:`when` says."""
        self.calls.append((method, host, what))
        for m, h, then, left in self._meddling:
            if m == method and h in ("*", host) and left[0] != 0:
                if left[0] is not None:
                    left[0] -= 1
                if isinstance(then, BaseException):
                    raise then
                then()
                return

    # -- what StackLike offers ---------------------------------------------------------------
    @property
    def name(self) -> str:
        return "fake"

    @property
    def topology(self) -> Topology:
        return self._topology

    @property
    def secrets(self) -> Mapping[str, str]:
        return self._secrets

    @property
    def ports_over_ssh(self) -> bool:
        return False

    def containers(self) -> Mapping[str, Any]:
        self._call("containers", "")
        return {h: FakeContainer(f"fake-{h}-1", s) for h, s in self.status.items()}

    def statuses(self) -> dict[str, str]:
        self._call("statuses", "")
        return dict(self.status)

    def running(self, host: str) -> bool:
        return self.status.get(host) == "running"

    def health(self, host: str) -> str:
        """``healths[host]`` (an exception is raised), "" for a host that is not running or has
        none set."""
        self._call("health", host)
        self._known(host)
        found = self.healths.get(host, "") if self.running(host) else ""
        if isinstance(found, BaseException):
            raise found
        return found

    def _known(self, host: str) -> None:
        if host not in self.status:
            raise StackError(f"stack fake: no host {host!r}")

    def address(self, host: str) -> str:
        self._call("address", host)
        self._known(host)
        if not self.running(host):
            raise StackError(f"stack fake: host {host} has no address (is it running?)")
        return self.static_address(host)

    def static_address(self, host: str) -> str:
        self._known(host)
        return f"10.9.0.{self.numbers[host]}"

    def addresses(self) -> dict[str, str]:
        return {h: self.static_address(h) for h in self.status if self.running(h)}

    def endpoint(self, host: str, port: int, proto: str = "tcp") -> tuple[str, int]:
        self._call("endpoint", host, f"{port}/{proto}")
        self._known(host)
        if not self.running(host):
            raise StackError(f"host {host} is {self.status[host]}, not running")
        how = self.served.get((host, port, proto), self.port)
        if how == RAISE:
            raise StackError(f"host {host} is exited, not running")
        key: tuple[int, str] | tuple[str, int, str]
        key = (host, port, proto) if (host, port, proto) in self.served else (id(how), proto)
        with self._lock:
            if key not in self._listeners:
                self._listeners[key] = _Listener(how, proto)
            return "127.0.0.1", self._listeners[key].port

    def env(self, host: str) -> dict[str, str]:
        self._known(host)
        return dict(self.envs.get(host, {}))

    def logs(self, host: str, tail: int = 30) -> str:
        return ""

    def exec(
        self, host: str, cmd: list[str], *, user: str = "", timeout: float = 10.0
    ) -> ExecResult:
        self._call("exec", host, shlex.join(cmd))
        return self._answer(host, cmd, shlex.join(cmd))

    def shell(self, host: str, script: str, *, user: str = "", timeout: float = 10.0) -> ExecResult:
        return self.exec(host, ["sh", "-c", script], user=user, timeout=timeout)

    def ask(
        self, host: str, argv: list[str], request: str, *, end: str, timeout: float = 5.0
    ) -> ExecResult:
        line = f"{shlex.join(argv)} <<< {request}"
        self._call("ask", host, line)
        return self._answer(host, argv, line)

    def _answer(self, host: str, argv: list[str], line: str) -> ExecResult:
        if self.status.get(host, "running") != "running":  # as the engine: nothing runs there
            return NOT_RUNNING
        rule = next((r for r in self.rules if r.host in ("*", host) and r.text in line), None)
        answer = rule.answer if rule else self.answer
        if isinstance(answer, BaseException):
            raise answer
        if callable(answer):
            return answer(host, argv)
        return answer

    def close_sessions(self) -> None:
        self._call("close_sessions", "")

    def signal_program(self, host: str, program: str, signal: str) -> int:
        self._call("signal", host, f"{signal} {program}")
        self._known(host)
        if not self.running(host):
            raise StackError(f"host {host}: cannot signal {program}: the host is not running")
        alive = self.processes.setdefault(host, set())
        found = 1 if program in alive else 0
        if signal in ("TERM", "KILL", "INT"):
            alive.discard(program)
        return found

    # -- power ---------------------------------------------------------------------------------
    def _engine_saw(self, host: str, action: str) -> None:
        self.engine_events.append((time.time(), host, action))

    def power_off(self, host: str, *, mode: str = "graceful", grace: float = 10.0) -> None:
        self._call("power_off", host, f"{mode} {grace:g}")
        self._known(host)
        if self.status[host] == "running":
            self._engine_saw(host, "die")
        self.status[host] = "exited"
        self.processes[host] = set()

    def power_on(self, host: str) -> None:
        self._call("power_on", host)
        self._known(host)
        if self.status[host] != "running":
            self._engine_saw(host, "start")
            daemons = self._topology.daemons.get(host, ())
            self.processes[host] = set(daemons) - self.no_boot.get(host, set())
            self._reads[host] = 0
        self.status[host] = "running"

    def renumber(self, host: str) -> str:
        self._call("renumber", host)
        if self.running(host):
            raise StackError(f"host {host}: cannot change the address of a running host")
        self.numbers[host] += 100
        return self.static_address(host)

    def pause(self, host: str) -> None:
        self._call("pause", host)
        self.status[host] = "paused"

    def unpause(self, host: str) -> None:
        self._call("unpause", host)
        self.status[host] = "running"

    # -- what the engine saw, and the traffic clients ------------------------------------------
    def watch_events(
        self, hosts: Sequence[str] | None = None, actions: Sequence[str] = POWER_ACTIONS
    ) -> FakeWatch:
        self._call("watch_events", "")
        return FakeWatch(self, hosts, actions)

    def used_addresses(self) -> set[str]:
        hosts = {self.static_address(h) for h in self.status}
        return hosts | {c.address for c in self.clients.values()}

    def start_client(
        self,
        name: str,
        *,
        role: str = "client",
        command: Sequence[str] = (),
        environment: Mapping[str, str] | None = None,
        address: str = "",
        mem_limit: str = "256m",
    ) -> str:
        self._call("start_client", name, address)
        state = self.started_as.get(name, ("running", 0, ""))
        self.clients[name] = FakeClient(dict(environment or {}), address, state)
        return name

    def _client(self, name: str) -> FakeClient:
        if name not in self.clients:
            raise StackError(f"stack fake: no client {name!r}")
        return self.clients[name]

    def client_state(self, name: str) -> tuple[str, int, str]:
        return self._client(name).state

    def client_output(self, name: str) -> tuple[str, str]:
        self._client(name)
        return self._prints.get(name, ("", ""))

    def signal_client(self, name: str, signal: str = "SIGTERM") -> bool:
        self._call("signal_client", name, signal)
        found = self._client(name)
        found.signals.append(signal)
        if signal == "SIGKILL" or name not in self.hang:
            found.state = ("exited", 137 if signal == "SIGKILL" else 0, "")
        return True

    def wait_client(self, name: str, timeout: float) -> int | None:
        status, code, _ = self._client(name).state
        return code if status == "exited" else None

    def remove_client(self, name: str) -> None:
        self._call("remove_client", name)
        self.removed.append(name)


def fake_check(
    name: str,
    run: Callable[..., Any],
    subjects: Callable[[Topology], Sequence[str]],
    causes: Sequence[str] = ("nofile-below-minimum",),
) -> Check:
    """A check for the tests of the runner and the recovery loops: ``run`` covering
    ``subjects``, reporting ``causes`` (each a mechanism) or the common ones."""
    meanings = MappingProxyType(dict.fromkeys(causes, "a cause of the test"))
    return Check(name, run, meanings, subjects)
