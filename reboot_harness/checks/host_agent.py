"""The probe the harness keeps running inside a supervisord host while it checks it.

Not imported by the harness: its source is run there as
``python3 -c <source> <supervisord.conf> [PROGRAM=PORT/PATH …]`` (Debian's python3, which
supervisord itself needs; standard library only) through
:meth:`reboot_harness.stack.core.Stack.ask`.
Each ``PROGRAM=PORT/PATH`` names a program that says it serves by answering HTTP GET PATH on PORT.
Each line on stdin asks for one reading of the host; the answer is tab-separated lines, then
``rh-end``:

- ``proc PID STATE COMM`` every process of the host but this probe (STATE as in
  /proc/PID/stat: ``Z`` for a zombie not reaped yet);
- ``program NAME STATE PID`` every supervisord program, as `supervisorctl status` reports it
  (the same ``supervisor.getAllProcessInfo`` call, without starting supervisorctl each time);
- ``limits NAME LINE`` the ``Max open files`` line of each program's /proc/PID/limits;
- ``ready NAME yes`` for a program RUNNING or STARTING that has a PATH: its own process answered
  GET PATH with 200 (a JSON ``pid`` in the answer must be its PID) — or ``ready NAME <why not>``;
- ``error TEXT`` what could not be read (supervisord not answering yet, …).

It exits when its stdin closes, or after ``IDLE_SECONDS`` without a question.
"""

from __future__ import annotations

import configparser
import contextlib
import functools
import http.client
import json
import os
import select
import socket
import sys
import time
import xmlrpc.client
from typing import Any

END = "rh-end"
IDLE_SECONDS = 300.0
RPC_TIMEOUT = 3.0
SERVE_TIMEOUT = 1.0  # a server that accepted the connection has this long to answer
SERVE_WAIT = 1.0  # how long a program that does not listen (yet) is waited for
RETRY_SECONDS = 0.005
COMM = b"rh-probe"  # not python3: the app's own process is python3, and checks count those


class _UnixConnection(http.client.HTTPConnection):
    def __init__(self, path: str) -> None:
        super().__init__("localhost", timeout=RPC_TIMEOUT)
        self._path = path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(RPC_TIMEOUT)
        sock.connect(self._path)
        self.sock = sock


class _UnixTransport(xmlrpc.client.Transport):
    def __init__(self, path: str) -> None:
        super().__init__()
        self._path = path

    def make_connection(self, host: Any) -> http.client.HTTPConnection:
        return _UnixConnection(self._path)


@functools.cache
def server(conf: str) -> tuple[str, str]:
    """supervisord's serverurl and ``user:password@`` (or '') as supervisorctl reads them from
    ``conf`` (read once: an unreadable conf raises, and is not remembered)."""
    parser = configparser.RawConfigParser(strict=False, inline_comment_prefixes=(";",))
    if not parser.read(conf):
        raise OSError(f"cannot read {conf}")
    url = parser.get("supervisorctl", "serverurl", fallback="http://localhost:9001")
    user = parser.get("supervisorctl", "username", fallback="")
    password = parser.get("supervisorctl", "password", fallback="")
    return url, f"{user}:{password}@" if user else ""


def supervisor(conf: str) -> Any:
    """An XML-RPC proxy to supervisord, reached the way supervisorctl would from ``conf``."""
    url, auth = server(conf)
    if url.startswith("unix://"):
        return xmlrpc.client.ServerProxy(
            f"http://{auth}localhost/RPC2", transport=_UnixTransport(url[len("unix://") :])
        )
    scheme, _, rest = url.partition("://")
    return xmlrpc.client.ServerProxy(f"{scheme}://{auth}{rest.rstrip('/')}/RPC2")


def processes() -> dict[int, tuple[str, str]]:
    """pid -> (state, comm) of every process but this one."""
    me = os.getpid()
    found = {}
    for name in os.listdir("/proc"):
        if not name.isdigit() or int(name) == me:
            continue
        try:
            with open(f"/proc/{name}/stat") as f:
                stat = f.read()
        except OSError:  # ended meanwhile
            continue
        comm = stat[stat.index("(") + 1 : stat.rindex(")")]
        found[int(name)] = (stat[stat.rindex(")") + 2 :].split()[0], comm)
    return found


def answers(port: int, path: str, pid: int) -> str:
    """'yes' when GET ``path`` on ``port`` answers 200 from process ``pid``, else why not.

    Nothing listening yet is retried every ``RETRY_SECONDS`` for ``SERVE_WAIT`` seconds, so a
    program that comes up meanwhile is seen within milliseconds rather than at the harness's
    next round. A server that listens but does not serve yet holds the request: it is answered
    the moment the server serves (or not, after ``SERVE_TIMEOUT``).
    """
    give_up = time.monotonic() + SERVE_WAIT
    while True:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=SERVE_TIMEOUT)
        try:
            conn.request("GET", path, headers={"Connection": "close"})
            reply = conn.getresponse()
            body = reply.read(65536)
            break
        except ConnectionRefusedError as e:
            if time.monotonic() >= give_up:
                return f"GET {path} on {port}: nothing listening ({e.strerror})"
            time.sleep(RETRY_SECONDS)
        except (OSError, http.client.HTTPException) as e:
            return f"GET {path} on {port}: {type(e).__name__}: {' '.join(str(e).split())[:100]}"
        finally:
            conn.close()
    if reply.status != 200:
        return f"GET {path} on {port}: HTTP {reply.status}"
    with contextlib.suppress(ValueError, AttributeError):
        said = json.loads(body).get("pid")
        if said is not None and said != pid:
            return f"GET {path} on {port}: answered by pid {said}"
    return "yes"


def nofile_line(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/limits") as f:
            return next((ln.strip() for ln in f if ln.startswith("Max open files")), "")
    except OSError:
        return ""


def reading(conf: str, serves: dict[str, tuple[int, str]]) -> list[str]:
    # Ask supervisord first, then wait for what is starting; read processes and limits last,
    # so they are as fresh as the end of that wait (a program's process can exec its command,
    # python3, in the meantime).
    try:
        infos = supervisor(conf).supervisor.getAllProcessInfo()
        failed = ""
    except Exception as e:  # not answering yet at boot, refused, …: say what was seen
        infos, text = [], " ".join(str(e).split())[:200]
        failed = f"error\tsupervisord at {conf}: {type(e).__name__}: {text}"
    programs = []
    for info in infos:
        name = info["name"] if info["group"] == info["name"] else f"{info['group']}:{info['name']}"
        pid = int(info["pid"] or 0)
        ready = ""
        if pid > 0 and info["statename"] in ("RUNNING", "STARTING") and name in serves:
            ready = answers(*serves[name], pid)
        programs.append((name, info["statename"], pid, ready))
    lines = [f"proc\t{pid}\t{state}\t{comm}" for pid, (state, comm) in sorted(processes().items())]
    for name, state, pid, ready in programs:
        lines.append(f"program\t{name}\t{state}\t{pid}")
        if pid > 0:
            lines.append(f"limits\t{name}\t{nofile_line(pid)}")
        if ready:
            lines.append(f"ready\t{name}\t{ready}")
    return [*lines, failed] if failed else lines


def main() -> None:
    with contextlib.suppress(Exception):  # a name for `ps`; only cosmetic where it fails
        import ctypes

        ctypes.CDLL(None).prctl(15, COMM, 0, 0, 0)  # PR_SET_NAME
    conf = sys.argv[1]
    serves = {}
    for spec in sys.argv[2:]:
        program, _, where = spec.partition("=")
        port, _, path = where.partition("/")
        serves[program] = (int(port), "/" + path)
    pending = b""
    while True:
        ready, _, _ = select.select([0], [], [], IDLE_SECONDS)
        if not ready:
            return
        chunk = os.read(0, 4096)
        if not chunk:
            return
        pending += chunk
        while b"\n" in pending:
            _question, pending = pending.split(b"\n", 1)
            sys.stdout.write("".join(line + "\n" for line in [*reading(conf, serves), END]))
            sys.stdout.flush()


if __name__ == "__main__":
    main()
