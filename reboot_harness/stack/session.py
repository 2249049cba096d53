"""A long-lived command inside a host, asked one question at a time.

A `docker exec` costs 50-100 ms (and the engine's CPU) before the command even runs; a probe
asked many times a second cannot pay that each time. A session starts its command once with
stdin attached, writes one request line per question and reads the answer up to an end line.
The command ends when its stdin closes (:meth:`Session.close`, or this process exiting) or when
the host stops.
"""

from __future__ import annotations

import contextlib
import socket
import struct
import threading
import time
from typing import Any

from docker.errors import APIError, DockerException, NotFound

from reboot_harness.stack.engine import client

_HEADER = struct.Struct(">BxxxL")  # the engine's multiplexed stream: stream id, payload size


class SessionEnded(Exception):
    """The command ended (or its host stopped) before it finished answering."""

    def __init__(self, message: str, stdout: str = "", stderr: str = "") -> None:
        super().__init__(message)
        self.stdout = stdout
        self.stderr = stderr


class SessionNotStarted(Exception):
    """The engine refused to start the command; ``not_running`` when the host is down,
    ``gone`` when its container no longer exists."""

    def __init__(self, message: str, *, not_running: bool, gone: bool = False) -> None:
        super().__init__(message)
        self.not_running = not_running
        self.gone = gone


class Session:
    """``argv`` running inside container ``container_id``, spoken to over the exec's stdin."""

    def __init__(self, container_id: str, argv: list[str], *, user: str = "") -> None:
        api = client().api
        try:
            created = api.exec_create(
                container_id, argv, stdin=True, stdout=True, stderr=True, tty=False, user=user
            )
            raw: Any = api.exec_start(created["Id"], socket=True)
        except NotFound as e:
            raise SessionNotStarted(f"does not exist ({e})", not_running=True, gone=True) from e
        except APIError as e:
            down = e.status_code == 409 or "is not running" in str(e)
            raise SessionNotStarted(str(e), not_running=down) from e
        except DockerException as e:
            raise SessionNotStarted(str(e), not_running=False) from e
        self.exec_id: str = created["Id"]
        # exec_start hands back a SocketIO around the socket; closing only the wrapper would
        # leave the connection (and the command's stdin) open.
        self._wrapper = raw
        self._sock: socket.socket = getattr(raw, "_sock", raw)
        self._buf = b""
        self._lock = threading.Lock()
        self.closed = False

    def ask(self, request: str, *, end: str, timeout: float) -> tuple[str, str]:
        """Send ``request`` (one line) and return (stdout, stderr) printed up to a line ``end``
        (which is left out).

        Raises:
            SessionEnded: the command's output ended first.
            TimeoutError: no complete answer within ``timeout`` seconds; the session is closed
                (a late answer would be taken for the next question's).
        """
        marker = (end + "\n").encode()
        deadline = time.monotonic() + timeout
        out, err = bytearray(), bytearray()
        with self._lock:
            if self.closed:
                raise SessionEnded("session closed")
            try:
                self._sock.settimeout(timeout)
                self._sock.sendall(request.rstrip("\n").encode() + b"\n")
                while not (out == marker or out.endswith(b"\n" + marker)):
                    stream, payload = self._frame(deadline)
                    (err if stream == 2 else out).extend(payload)
            except SessionEnded as e:
                self._close()
                e.stdout, e.stderr = out.decode("utf-8", "replace"), err.decode("utf-8", "replace")
                raise
            except TimeoutError:
                self._close()
                raise
            except OSError as e:
                self._close()
                raise SessionEnded(f"connection lost: {e}", out.decode("utf-8", "replace")) from e
        text = out[: -len(marker)].decode("utf-8", "replace")
        return text, err.decode("utf-8", "replace")

    def _frame(self, deadline: float) -> tuple[int, bytes]:
        header = self._read(_HEADER.size, deadline)
        stream, size = _HEADER.unpack(header)
        return stream, self._read(size, deadline)

    def _read(self, n: int, deadline: float) -> bytes:
        while len(self._buf) < n:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("no answer in time")
            self._sock.settimeout(left)
            chunk = self._sock.recv(65536)  # TimeoutError when the host says nothing in time
            if not chunk:
                raise SessionEnded("the command ended")
            self._buf += chunk
        data, self._buf = self._buf[:n], self._buf[n:]
        return data

    def exit_code(self) -> int | None:
        """The command's exit code once it has ended, else None."""
        try:
            info = client().api.exec_inspect(self.exec_id)
        except DockerException:
            return None
        code = info.get("ExitCode")
        return None if info.get("Running") or code is None else int(code)

    def close(self) -> None:
        with self._lock:
            self._close()

    def _close(self) -> None:
        if self.closed:
            return
        self.closed = True
        for part in (self._wrapper, self._sock):
            with contextlib.suppress(OSError):
                part.close()
