"""The hosts of a stack: their containers, addresses and published ports, and the commands run
inside them."""

from __future__ import annotations

import shlex
import threading
import time
from datetime import datetime

from docker.errors import APIError, DockerException, NotFound
from docker.models.containers import Container
from requests.exceptions import RequestException

from reboot_harness.errors import StackError
from reboot_harness.model.hostview import ExecResult
from reboot_harness.model.topology import Topology
from reboot_harness.stack import engines, tunnel
from reboot_harness.stack.labels import SERVICE_LABEL, is_client, project_containers
from reboot_harness.stack.project import Project
from reboot_harness.stack.session import Session, SessionEnded, SessionNotStarted
from reboot_harness.stack.state import ProjectState

# How much longer the first question to a command :meth:`Hosts.ask` just started may take: the
# probe is ``python3 -c`` loading its modules, which took over 5 s under the test suite's load
# (CI, two stacks on 2 cores: the processes check "did not answer" on a freshly started stack).
FIRST_ANSWER_EXTRA_S = 10.0


def _parse_docker_time(text: str) -> float:
    """Docker's RFC 3339 time with nanoseconds → epoch seconds."""
    if not text or text.startswith("0001-"):
        return 0.0
    main, _, frac = text.rstrip("Z").partition(".")
    stamp = datetime.fromisoformat(main + "+00:00").timestamp()
    return stamp + (float("0." + frac[:6]) if frac else 0.0)


class Hosts(Project):
    """The hosts (compose services) of one project; every method names the host it failed on."""

    def __init__(self, state: ProjectState, topology: Topology) -> None:
        super().__init__(state, topology)
        self._containers: dict[str, Container] = {}
        self._listing = threading.Lock()
        self._listed = 0  # lists made so far
        self._sessions: dict[tuple[str, tuple[str, ...]], Session] = {}
        self._sessions_lock = threading.Lock()

    # -- containers -------------------------------------------------------------------------
    def containers(self) -> dict[str, Container]:
        """Every container of the project by host (service) name, freshly listed."""
        self._containers = {
            c.labels.get(SERVICE_LABEL, c.name): c
            for c in project_containers(self.name)
            if not is_client(c.labels)
        }
        self._listed += 1
        return dict(self._containers)

    def _list_sparse(self) -> dict[str, Container]:
        """Every host's container from one list call, no inspect (its ``attrs`` are the list's:
        flat ``State``, ``Labels``, ``NetworkSettings.Networks``)."""
        return {
            labels.get(SERVICE_LABEL, c.id): c
            for c in project_containers(self.name, sparse=True)
            if not is_client(labels := c.attrs.get("Labels") or {})
        }

    def statuses(self) -> dict[str, str]:
        """Docker's state of every host (``running``, ``exited`` …), from one list call (no
        inspect per container: cheap enough to ask before every round of checks)."""
        return {host: str(c.attrs.get("State", "")) for host, c in self._list_sparse().items()}

    def container(self, host: str, *, refresh: bool = False) -> Container:
        """The host's container; ``refresh``: its state read again from the engine.

        A known container is refreshed by one inspect of it; the project is listed again (an
        inspect per container) only for a host not known yet or whose container is gone
        (removed, or replaced by another of the same service). Checks ask for endpoints many
        times a second: a list each time cost the engine more CPU than the checks."""
        known = self._containers.get(host)
        if refresh and known is not None:
            try:
                known.reload()
                return known
            except NotFound:
                pass  # gone, or replaced: list the project again
        if refresh or known is None:
            asked = self._listed
            with self._listing:  # the first round's checks all start with an empty cache
                # a list made after this call began (by another thread) is fresh enough
                if self._listed == asked or host not in self._containers:
                    self.containers()
        try:
            c = self._containers[host]
        except KeyError:
            names = ", ".join(sorted(self._containers)) or "none"
            raise StackError(
                f"stack {self.name}: no host {host!r} (known: {names});"
                f" is the stack up? `reboot-harness up --project {self.name}`"
            ) from None
        return c

    def status(self, host: str) -> str:
        """Docker's state of the host: ``running``, ``exited``, ``created`` …"""
        return str(self.container(host, refresh=True).attrs["State"]["Status"])

    def running(self, host: str) -> bool:
        return self.status(host) == "running"

    def health(self, host: str) -> str:
        """The engine's health of the host's healthcheck: ``healthy``, ``unhealthy``,
        ``starting``, or "" when it has none."""
        state = self.container(host, refresh=True).attrs.get("State") or {}
        return str((state.get("Health") or {}).get("Status") or "")

    def wait_running(self, host: str, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        status = "unknown"
        while time.monotonic() < deadline:
            status = self.status(host)
            if status == "running":
                return
            time.sleep(0.2)
        raise StackError(
            f"host {host} did not reach running within {timeout:g}s (last: {status});"
            f" recent logs:\n{self.logs(host, 20)}"
        )

    def started_at(self, host: str) -> float:
        """When the host last booted (epoch seconds)."""
        return _parse_docker_time(self.container(host, refresh=True).attrs["State"]["StartedAt"])

    def address(self, host: str) -> str:
        """The host's address on the stack network."""
        nets = self.container(host, refresh=True).attrs["NetworkSettings"]["Networks"]
        for net in nets.values():
            if net.get("IPAddress"):
                return str(net["IPAddress"])
        raise StackError(f"stack {self.name}: host {host} has no address (is it running?)")

    def static_address(self, host: str) -> str:
        """The address the host is configured with, known even while it is down (and while its
        power is cut: then it is off its network)."""
        cut = self.state.cut.get(host)
        if cut:
            address = next((a for a, *_ in cut.values() if a), "")
            if address:
                return address
        nets = self.container(host, refresh=True).attrs["NetworkSettings"]["Networks"]
        for net in nets.values():
            configured = (net.get("IPAMConfig") or {}).get("IPv4Address")
            if configured or net.get("IPAddress"):
                return str(configured or net["IPAddress"])
        raise StackError(f"stack {self.name}: host {host} has no configured address")

    @property
    def ports_over_ssh(self) -> bool:
        """Whether published ports are reached through ssh forwards (TCP only)."""
        return engines.current().forwarded

    def addresses(self) -> dict[str, str]:
        """Every running host's address, by host."""
        out: dict[str, str] = {}
        for host, c in self._list_sparse().items():  # one call: the list has the addresses
            for net in ((c.attrs.get("NetworkSettings") or {}).get("Networks") or {}).values():
                if net.get("IPAddress"):
                    out[host] = str(net["IPAddress"])
        return out

    def endpoint(self, host: str, port: int, proto: str = "tcp") -> tuple[str, int]:
        """The 127.0.0.1 address and port where ``host:port`` is published right now.

        Re-read at every call: a rebooted host may get another ephemeral host port. On an engine
        of another machine (``ssh://``), the local end of an ssh forward to it (TCP only).
        """
        c = self.container(host, refresh=True)
        if c.attrs["State"]["Status"] != "running":
            raise StackError(f"host {host} is {c.attrs['State']['Status']}, not running")
        bindings = (c.attrs["NetworkSettings"].get("Ports") or {}).get(f"{port}/{proto}") or []
        for b in bindings:
            if b.get("HostIp") in ("127.0.0.1", "0.0.0.0", "") and b.get("HostPort"):
                published = int(b["HostPort"])
                here = engines.current()
                if not here.forwarded:
                    return "127.0.0.1", published
                if proto != "tcp":
                    raise StackError(
                        f"host {host}: port {port}/{proto} is on engine {here.label()}, another"
                        " machine reached over ssh, which forwards TCP only"
                    )
                return "127.0.0.1", tunnel.to(here.host).local_port(published)
        raise StackError(
            f"host {host}: port {port}/{proto} is not published; add `127.0.0.1::{port}` to its"
            " ports in the compose file"
        )

    # -- inside a host ----------------------------------------------------------------------
    def exec(
        self, host: str, cmd: list[str], *, user: str = "", timeout: float = 10.0
    ) -> ExecResult:
        """Run ``cmd`` inside ``host`` (bounded by ``timeout`` seconds, enforced in the host)."""
        c = self.container(host)
        argv = ["timeout", "-k", "1", f"{timeout:g}", *cmd]
        try:
            code, (out, err) = c.exec_run(argv, user=user, demux=True)
        except APIError as e:
            if e.status_code == 409 or "is not running" in str(e):
                return ExecResult(125, "", f"host {host} is not running")
            raise StackError(f"host {host}: exec {shlex.join(cmd)} failed: {e}") from e
        except NotFound:
            self._containers.pop(host, None)
            return ExecResult(125, "", f"host {host} does not exist")
        except (DockerException, RequestException) as e:  # the engine did not answer in time
            raise StackError(f"host {host}: exec {shlex.join(cmd)} failed: {e}") from e
        except ValueError as e:  # the SDK could not read the engine's framed answer
            # ("104 is not a valid stream": a frame header that was not one, seen once after a
            # frozen host resumed under load): nothing was read of the host
            raise StackError(
                f"host {host}: exec {shlex.join(cmd)}: the engine's answer could not be read: {e}"
            ) from e
        return ExecResult(
            int(code if code is not None else 125),
            (out or b"").decode("utf-8", "replace"),
            (err or b"").decode("utf-8", "replace"),
        )

    def ask(
        self, host: str, argv: list[str], request: str, *, end: str, timeout: float = 5.0
    ) -> ExecResult:
        """Ask a long-lived ``argv`` inside ``host`` one question: write ``request`` (a line) to
        its stdin, return what it prints up to a line ``end``.

        The command is started on first use and again after it ended (the host rebooted), so a
        probe asked many times a second costs a pipe round trip, not a ``docker exec`` each time.
        :meth:`close_sessions` ends them. The result's exit code is 0 for an answer, 124 when
        none came within ``timeout`` seconds, 125 when the host is not running, else the
        command's exit code (it ended without answering). A command started for this question
        has :data:`FIRST_ANSWER_EXTRA_S` more for its first answer: its own start (an
        interpreter loading on a busy machine) is not the host's answer time.
        """
        key = (host, tuple(argv))
        for _attempt in range(2):
            with self._sessions_lock:
                session = self._sessions.get(key)
            fresh = session is None
            if session is None:
                try:
                    session = Session(self.container(host).id, argv)
                except SessionNotStarted as e:
                    if e.not_running:
                        if e.gone:  # (a stopped container stays the host's: no list per ask)
                            self._containers.pop(host, None)
                        return ExecResult(125, "", f"host {host} is not running")
                    what = shlex.join(argv)[:80]
                    raise StackError(f"host {host}: cannot start {what}: {e}") from e
                with self._sessions_lock:
                    self._sessions[key] = session
            allowed = timeout + (FIRST_ANSWER_EXTRA_S if fresh else 0.0)
            try:
                out, err = session.ask(request, end=end, timeout=allowed)
                return ExecResult(0, out, err)
            except TimeoutError:
                self._forget_session(key, session)
                return ExecResult(124, "", f"host {host}: no answer within {allowed:g}s")
            except SessionEnded as e:
                self._forget_session(key, session)
                if not fresh:  # started before the host rebooted, or idle too long: start anew
                    continue
                code = session.exit_code()
                return ExecResult(
                    125 if code is None else code, e.stdout, e.stderr or f"host {host}: {e}"
                )
        return ExecResult(125, "", f"host {host}: the command keeps ending before it answers")

    def _forget_session(self, key: tuple[str, tuple[str, ...]], session: Session) -> None:
        session.close()
        with self._sessions_lock:
            if self._sessions.get(key) is session:
                del self._sessions[key]

    def close_sessions(self) -> None:
        """End every command :meth:`ask` started (their stdin closes, they exit)."""
        with self._sessions_lock:
            sessions, self._sessions = list(self._sessions.values()), {}
        for session in sessions:
            session.close()

    def shell(self, host: str, script: str, *, user: str = "", timeout: float = 10.0) -> ExecResult:
        return self.exec(host, ["sh", "-c", script], user=user, timeout=timeout)

    def processes(self, host: str) -> list[tuple[int, str]]:
        """(pid as the engine's host sees it, command name) of every process in ``host``."""
        c = self.container(host)
        try:
            top = c.top(ps_args="-eo pid,comm")
        except (APIError, NotFound):
            return []
        titles = [t.upper() for t in top.get("Titles") or []]
        ipid, icomm = titles.index("PID"), titles.index("COMMAND")
        return [(int(p[ipid]), p[icomm]) for p in top.get("Processes") or []]

    def env(self, host: str) -> dict[str, str]:
        """The environment the host's init was started with (its configuration)."""
        pairs = self.container(host, refresh=True).attrs["Config"].get("Env") or []
        return dict(p.split("=", 1) for p in pairs if "=" in p)

    def logs(self, host: str, tail: int = 30) -> str:
        try:
            raw = self.container(host, refresh=True).logs(tail=tail, timestamps=False)
        except (DockerException, StackError) as e:
            return f"(no logs: {e})"
        return bytes(raw).decode("utf-8", "replace")

    def signal_program(self, host: str, program: str, signal: str) -> int:
        """Send SIG``signal`` to every process of ``host`` named ``program`` (its comm);
        return how many got it.

        The host's init (PID 1) ignores signals sent from inside its own namespace, so it is
        signalled through the engine, from outside, as the hypervisor would.
        """
        script = (
            'for p in /proc/[0-9]*; do [ "$(cat "$p/comm" 2>/dev/null)" = "$1" ]'
            ' && echo "${p#/proc/}"; done'
        )
        found = self.exec(host, ["sh", "-c", script, "sh", program])
        pids = [int(p) for p in found.stdout.split() if p.isdigit()]
        if not found.ok and not pids:
            raise StackError(f"host {host}: cannot list processes ({found.brief()})")
        sent = 0
        for pid in pids:
            if pid == 1:
                try:
                    self.container(host).kill(signal=f"SIG{signal}")
                except (APIError, DockerException) as e:
                    raise StackError(f"host {host}: SIG{signal} to init failed: {e}") from e
                sent += 1
            elif self.exec(host, ["sh", "-c", f'kill -{signal} "$1"', "sh", str(pid)]).ok:
                sent += 1
        return sent
