"""Reaching the ports a stack publishes on another machine: ssh forwards, one connection each.

A stack publishes its ports on 127.0.0.1 of the engine's machine (never beyond: the safety layer
refuses it). When that machine is another one, reached as ``ssh://[user@]host[:port]``, the
harness opens one ssh connection to it per process (a control master, so each forward is a
message on it, not a new login) and forwards a local port on this machine's 127.0.0.1 to each
published port it connects to. What a check sees through the forward is what it would see on
that machine: a host that is off, or cut off its networks, refuses or stays silent just the same.

The connection lives as long as this process: its remote command reads the process's pipe, so
when the process ends — even killed — the remote side sees end-of-file, the session ends and the
master exits with its forwards. ssh reads the user's own configuration (``~/.ssh/config``, keys,
known hosts), as the docker CLI does for the same URL. UDP cannot be forwarded over ssh.
"""

from __future__ import annotations

import atexit
import contextlib
import shlex
import shutil
import socket
import subprocess
import tarfile
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

from reboot_harness.errors import EnvironmentProblem, StackError
from reboot_harness.stack.engine import SSH_HINT

READY_TIMEOUT = 30.0  # seconds for the connection to come up
FORWARD_TRIES = 5
_OPTIONS = (
    "-o", "BatchMode=yes",  # never a password prompt: the harness runs unattended
    "-o", "ExitOnForwardFailure=yes",
    "-o", "ServerAliveInterval=5",
    "-o", "ServerAliveCountMax=3",
    "-o", "ControlPersist=no",
)  # fmt: skip


def destination(url: str) -> list[str]:
    """The ssh arguments naming the machine of ``ssh://[user@]host[:port]``."""
    parts = urlsplit(url)
    if parts.scheme != "ssh" or not parts.hostname:
        raise StackError(f"{url!r} is not an ssh://[user@]host[:port] engine URL")
    target = f"{parts.username}@{parts.hostname}" if parts.username else parts.hostname
    return [*(["-p", str(parts.port)] if parts.port else []), target]


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Tunnel:
    """One ssh connection to an engine's machine, and the local ports forwarded through it."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._dest = destination(url)
        self._lock = threading.Lock()
        self._local: dict[int, int] = {}  # published port there -> port on our 127.0.0.1
        self._dir = ""
        self._master: subprocess.Popen[bytes] | None = None

    # -- the connection ---------------------------------------------------------------------
    def _ssh(self) -> str:
        ssh = shutil.which("ssh")
        if ssh is None:
            raise EnvironmentProblem(
                f"engine {self.url}: its stacks' ports are reached over ssh, but `ssh` is not on"
                " PATH; install the OpenSSH client (Debian: apt-get install openssh-client)"
            )
        return ssh

    @property
    def _socket(self) -> str:
        return str(Path(self._dir, "c"))

    def _control(self, *args: str, timeout: float = 15.0) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [self._ssh(), "-S", self._socket, *args, *self._dest],
            capture_output=True, text=True, check=False, timeout=timeout,
        )  # fmt: skip

    def _connect(self) -> None:
        """Start the control master and wait until it takes requests."""
        self._shutdown()
        self._local.clear()
        self._dir = tempfile.mkdtemp(prefix="rh-ssh-")  # short: a socket path has ~100 bytes
        log = Path(self._dir, "log")  # a file, not a pipe nobody reads while ssh runs
        with log.open("wb") as stderr:
            self._master = subprocess.Popen(
                [self._ssh(), "-M", "-S", self._socket, *_OPTIONS, *self._dest, "cat >/dev/null"],
                stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=stderr,
            )  # fmt: skip
        deadline = time.monotonic() + READY_TIMEOUT
        while True:
            if self._master.poll() is not None:
                err = log.read_text(errors="replace")
                why = (
                    err.strip().splitlines()[-1]
                    if err.strip()
                    else f"exit {self._master.returncode}"
                )
                self._shutdown()
                raise EnvironmentProblem(
                    f"engine {self.url}: ssh to its machine failed ({why});"
                    f" {SSH_HINT.format(where=self.url)}"
                )
            if Path(self._socket).exists() and self._control("-O", "check").returncode == 0:
                return
            if time.monotonic() > deadline:
                self._shutdown()
                raise EnvironmentProblem(
                    f"engine {self.url}: no ssh connection to its machine within"
                    f" {READY_TIMEOUT:g} s; {SSH_HINT.format(where=self.url)}"
                )
            time.sleep(0.05)

    def _alive(self) -> bool:
        return self._master is not None and self._master.poll() is None

    def _shutdown(self) -> None:
        master, self._master = self._master, None
        if master is not None:
            if master.poll() is None:
                master.terminate()
                try:
                    master.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    master.kill()
                    master.wait()
            if master.stdin is not None:
                master.stdin.close()
        if self._dir:
            shutil.rmtree(self._dir, ignore_errors=True)
            self._dir = ""

    # -- forwards ---------------------------------------------------------------------------
    def local_port(self, published: int) -> int:
        """The port on this machine's 127.0.0.1 that leads to ``published`` on the engine
        machine's 127.0.0.1 (forwarded at first use, again after the connection was lost)."""
        with self._lock:
            if not self._alive():
                self._connect()
            port = self._local.get(published)
            if port is not None:
                return port
            # OpenSSH takes no port 0 for a local forward on a control connection: a free port
            # is picked here, and another one if something took it in between
            for _ in range(FORWARD_TRIES):
                port = _free_port()
                proc = self._control(
                    "-O", "forward", "-L", f"127.0.0.1:{port}:127.0.0.1:{published}"
                )
                if proc.returncode == 0:
                    self._local[published] = port
                    return port
            why = (proc.stderr or proc.stdout).strip() or f"exit {proc.returncode}"
            raise StackError(
                f"engine {self.url}: forwarding its port {published} over ssh failed ({why})"
            )

    # -- files and commands there --------------------------------------------------------------
    def _session(self, command: str) -> list[str]:
        """An ssh command line that runs ``command`` there over the connection."""
        with self._lock:
            if not self._alive():
                self._connect()
            return [self._ssh(), "-S", self._socket, *_OPTIONS, *self._dest, command]

    def run(self, command: str, *, timeout: float = 60.0) -> subprocess.CompletedProcess[str]:
        """Run a shell ``command`` on the engine's machine (a session on the connection)."""
        return subprocess.run(
            self._session(command), capture_output=True, text=True, check=False, timeout=timeout
        )

    def upload(self, local: Path, folder: str, *, timeout: float = 300.0) -> str:
        """Copy the file or folder ``local`` (symbolic links as links, modes kept) into
        ``folder`` on the engine's machine (made if missing, private to its user); return its
        path there."""
        quoted = shlex.quote(folder)
        argv = self._session(f"umask 077 && mkdir -p {quoted} && tar -C {quoted} -xpf -")
        with tempfile.TemporaryFile() as err:
            proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                                    stderr=err)  # fmt: skip
            assert proc.stdin is not None
            try:
                with tarfile.open(fileobj=proc.stdin, mode="w|") as tar:
                    tar.add(local, arcname=local.name)
            except BrokenPipeError:
                pass  # what went wrong there is in its exit status and stderr
            except OSError as e:  # reading here failed: nothing half-copied is used
                proc.kill()
                proc.wait()
                raise StackError(f"{local}: cannot be read to copy it to {self.url}: {e}") from e
            finally:
                with contextlib.suppress(OSError):
                    proc.stdin.close()
            try:
                code = proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
                code = None
            if code != 0:
                err.seek(0)
                said = err.read().decode("utf-8", "replace").strip().splitlines()
                why = said[-1] if said else f"exit {code}" if code is not None else "timed out"
                raise StackError(
                    f"engine {self.url}: copying {local} to {folder} on its machine failed"
                    f" ({why}); its user needs `tar` and a writable {folder}"
                )
        return f"{folder.rstrip('/')}/{local.name}"

    def close(self) -> None:
        with self._lock:
            self._shutdown()
            self._local.clear()


_tunnels: dict[str, Tunnel] = {}
_tunnels_lock = threading.Lock()


def to(url: str) -> Tunnel:
    """This process's tunnel to the machine of engine ``url`` (one per engine)."""
    with _tunnels_lock:
        tunnel = _tunnels.get(url)
        if tunnel is None:
            tunnel = _tunnels[url] = Tunnel(url)
        return tunnel


@atexit.register
def close_all() -> None:
    """End every tunnel of this process (they would end with it anyway, a moment later)."""
    with _tunnels_lock:
        tunnels = list(_tunnels.values())
        _tunnels.clear()
    for tunnel in tunnels:
        tunnel.close()
