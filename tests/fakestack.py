"""One fake stack for unit tests, behind :class:`reboot_harness.stack.protocol.StackLike`: what
checks, faults, operations and the run loop use of a stack, without Docker.

- Hosts have statuses (``running`` by default; set per host), which ``statuses()``,
  ``running()``, ``endpoint()`` and ``address()`` honour.
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

Every call is recorded in ``calls`` as (method, host, what).
"""

from __future__ import annotations

import contextlib
import dataclasses
import shlex
import socket
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from reboot_harness.errors import StackError
from reboot_harness.model.topology import Topology
from reboot_harness.stack.hosts import ExecResult

SILENCE = ExecResult(0, "", "")
TIMEOUT = ExecResult(124, "", "")
NOT_RUNNING = ExecResult(125, "", "host is not running")

# How an endpoint behaves.
REFUSE = "refuse"
SILENT = "silent"
CLOSE = "close"
RAISE = "raise"

Answer = ExecResult | BaseException | Callable[[str, list[str]], ExecResult]
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


@dataclass
class FakeState:
    """What the harness records of a stack, as far as checks and operations use it."""

    name: str = "fake"
    rotation: tuple[str, ...] = ()
    last_check: float = 0.0
    cut: dict[str, dict[str, list[str]]] = field(default_factory=dict)
    engine: str = ""

    def with_changes(self, **changes: Any) -> FakeState:
        return dataclasses.replace(self, **changes)

    def save(self) -> None:
        return None


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
            how(conn)  # type: ignore[operator]

    def _udp(self, how: Port) -> None:
        while not self._closed.is_set():
            try:
                data, peer = self.sock.recvfrom(65536)
            except OSError:
                return
            if self._closed.is_set():
                return
            try:
                reply = b"" if how == CLOSE else how(data)  # type: ignore[operator]
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
        self._secrets = dict(secrets or {"REDIS_PASSWORD": "r", "MYSQL_ROOT_PASSWORD": "m"})
        self.envs = {h: dict(e) for h, e in (env or {}).items()}
        self.state: Any = FakeState(rotation=self._topology.lbs)
        self.rules: list[_Rule] = []
        self.served: dict[tuple[str, int, str], Port] = {}
        self.calls: list[tuple[str, str, str]] = []
        self._listeners: dict[tuple[int, str] | tuple[str, int, str], _Listener] = {}
        self._lock = threading.Lock()
        self.numbers = {h: i + 10 for i, h in enumerate(self._topology.hosts)}

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

    def close(self) -> None:
        with self._lock:
            listeners, self._listeners = list(self._listeners.values()), {}
        for listener in listeners:
            listener.close()

    def __enter__(self) -> FakeStack:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

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
        return {}

    def statuses(self) -> dict[str, str]:
        return dict(self.status)

    def running(self, host: str) -> bool:
        return self.status.get(host) == "running"

    def _known(self, host: str) -> None:
        if host not in self.status:
            raise StackError(f"stack fake: no host {host!r}")

    def address(self, host: str) -> str:
        self.calls.append(("address", host, ""))
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
        self.calls.append(("endpoint", host, f"{port}/{proto}"))
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
        self.calls.append(("exec", host, shlex.join(cmd)))
        return self._answer(host, cmd, shlex.join(cmd))

    def shell(self, host: str, script: str, *, user: str = "", timeout: float = 10.0) -> ExecResult:
        return self.exec(host, ["sh", "-c", script], user=user, timeout=timeout)

    def ask(
        self, host: str, argv: list[str], request: str, *, end: str, timeout: float = 5.0
    ) -> ExecResult:
        line = f"{shlex.join(argv)} <<< {request}"
        self.calls.append(("ask", host, line))
        return self._answer(host, argv, line)

    def _answer(self, host: str, argv: list[str], line: str) -> ExecResult:
        rule = next((r for r in self.rules if r.host in ("*", host) and r.text in line), None)
        answer = rule.answer if rule else self.answer
        if isinstance(answer, BaseException):
            raise answer
        if callable(answer):
            return answer(host, argv)
        return answer

    def close_sessions(self) -> None:
        return None

    def signal_program(self, host: str, program: str, signal: str) -> int:
        self.calls.append(("signal", host, f"{signal} {program}"))
        return 0

    def power_off(self, host: str, *, mode: str = "graceful", grace: float = 10.0) -> None:
        self.calls.append(("power_off", host, mode))
        self.status[host] = "exited"

    def power_on(self, host: str) -> None:
        self.calls.append(("power_on", host, ""))
        self.status[host] = "running"

    def renumber(self, host: str) -> str:
        self.numbers[host] += 100
        return self.static_address(host)

    def pause(self, host: str) -> None:
        self.calls.append(("pause", host, ""))
        self.status[host] = "paused"

    def unpause(self, host: str) -> None:
        self.calls.append(("unpause", host, ""))
        self.status[host] = "running"
