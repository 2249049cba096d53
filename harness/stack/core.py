"""A running stack as the other layers see it."""

from __future__ import annotations

import contextlib
import shlex
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from docker.errors import APIError, DockerException, ImageNotFound, NotFound
from docker.models.containers import Container
from docker.types import LogConfig

from harness.errors import StackError
from harness.model import Topology
from harness.stack.engine import client
from harness.stack.session import Session, SessionEnded, SessionNotStarted
from harness.state import ProjectState

PROJECT_LABEL = "com.docker.compose.project"
SERVICE_LABEL = "com.docker.compose.service"
# Containers the harness adds to a project (traffic clients) carry this label: they are not
# hosts of the stack (no checks, no heal), but `down` and `gc` remove them with the project.
ROLE_LABEL = "org.reboot-harness.role"
CLIENT_ROLE = "client"
# What a host's power going off and on looks like in the engine's event stream.
POWER_ACTIONS = ("kill", "die", "stop", "start", "restart", "pause", "unpause", "oom")


@dataclass(frozen=True)
class ExecResult:
    """What a command run inside a host printed and returned."""

    exit_code: int
    stdout: str
    stderr: str

    @property
    def ok(self) -> bool:
        return self.exit_code == 0

    def brief(self) -> str:
        text = (self.stderr.strip() or self.stdout.strip()).splitlines()
        return f"exit {self.exit_code}: {text[-1][:200]}" if text else f"exit {self.exit_code}"


def _parse_docker_time(text: str) -> float:
    """Docker's RFC 3339 time with nanoseconds → epoch seconds."""
    if not text or text.startswith("0001-"):
        return 0.0
    main, _, frac = text.rstrip("Z").partition(".")
    stamp = datetime.fromisoformat(main + "+00:00").timestamp()
    return stamp + (float("0." + frac[:6]) if frac else 0.0)


class EventWatch:
    """Engine events of some hosts, recorded live from creation until :meth:`close`.

    The engine keeps only its last 256 events (every ``docker exec`` of a check makes three), so
    on a busy engine asking afterwards loses them; a watch started before a fault does not.
    """

    def __init__(self, stream: Any, hosts_by_id: Mapping[str, str]) -> None:
        self._stream = stream
        self._hosts = dict(hosts_by_id)
        self._seen: list[tuple[float, str, str]] = []
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._read, name="engine-events", daemon=True)
        self._thread.start()

    def _read(self) -> None:
        try:
            for e in self._stream:
                actor = e.get("Actor") or {}
                if e.get("Type") == "network":  # a host taken off its network: power cut
                    host = self._hosts.get(str((actor.get("Attributes") or {}).get("container")))
                else:
                    host = self._hosts.get(str(e.get("id") or actor.get("ID") or ""))
                if host is None or "timeNano" not in e:
                    continue
                with self._lock:
                    self._seen.append(
                        (int(e["timeNano"]) / 1e9, host, str(e.get("Action") or e.get("status")))
                    )
        except Exception:  # a closed stream ends the watch; what was seen is kept
            return

    def events(self, host: str | None = None) -> list[tuple[float, str, str]]:
        """(time, host, action) seen so far, in time order; only ``host``'s if given."""
        with self._lock:
            seen = sorted(self._seen)
        return [e for e in seen if host is None or e[1] == host]

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self._stream.close()
        self._thread.join(timeout=2.0)

    def __enter__(self) -> EventWatch:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class Stack:
    """One compose project of hosts; every method names the host it failed on.

    Args:
        state: what was recorded when the stack was started.
        topology: which host plays which part.
    """

    def __init__(self, state: ProjectState, topology: Topology | None = None) -> None:
        self.state = state
        if topology is None:
            from harness.topology import topology_of

            topology = topology_of(state)
        self.topology = topology
        self._containers: dict[str, Container] = {}
        self._secrets: dict[str, str] | None = None
        self._sessions: dict[tuple[str, tuple[str, ...]], Session] = {}
        self._sessions_lock = threading.Lock()
        self._state_lock = threading.Lock()  # hosts are powered off in parallel (full restart)

    @property
    def name(self) -> str:
        return self.state.name

    @property
    def secrets(self) -> dict[str, str]:
        if self._secrets is None:
            self._secrets = self.state.secrets()
        return self._secrets

    # -- containers -------------------------------------------------------------------------
    def containers(self) -> dict[str, Container]:
        """Every container of the project by host (service) name, freshly listed."""
        try:
            found = client().containers.list(
                all=True, filters={"label": [f"{PROJECT_LABEL}={self.name}"]}
            )
        except DockerException as e:
            raise StackError(f"stack {self.name}: cannot list containers: {e}") from e
        self._containers = {
            c.labels.get(SERVICE_LABEL, c.name): c
            for c in found
            if c.labels.get(ROLE_LABEL) != CLIENT_ROLE
        }
        return dict(self._containers)

    def statuses(self) -> dict[str, str]:
        """Docker's state of every host (``running``, ``exited`` …), from one list call (no
        inspect per container: cheap enough to ask before every round of checks)."""
        try:
            found = client().containers.list(
                all=True, filters={"label": [f"{PROJECT_LABEL}={self.name}"]}, sparse=True
            )
        except DockerException as e:
            raise StackError(f"stack {self.name}: cannot list containers: {e}") from e
        return {
            labels.get(SERVICE_LABEL, c.id): str(c.attrs.get("State", ""))
            for c in found
            if (labels := c.attrs.get("Labels") or {}).get(ROLE_LABEL) != CLIENT_ROLE
        }

    def container(self, host: str, *, refresh: bool = False) -> Container:
        if refresh or host not in self._containers:
            self.containers()
        try:
            c = self._containers[host]
        except KeyError:
            known = ", ".join(sorted(self._containers)) or "none"
            raise StackError(
                f"stack {self.name}: no host {host!r} (known: {known});"
                f" is the stack up? `reboot-harness up --project {self.name}`"
            ) from None
        if refresh:
            try:
                c.reload()
            except NotFound as e:
                raise StackError(f"stack {self.name}: host {host} was removed") from e
        return c

    def status(self, host: str) -> str:
        """Docker's state of the host: ``running``, ``exited``, ``created`` …"""
        return str(self.container(host, refresh=True).attrs["State"]["Status"])

    def running(self, host: str) -> bool:
        return self.status(host) == "running"

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

    def addresses(self) -> dict[str, str]:
        """Every running host's address, by host."""
        out: dict[str, str] = {}
        for host, c in self.containers().items():
            for net in c.attrs["NetworkSettings"]["Networks"].values():
                if net.get("IPAddress"):
                    out[host] = str(net["IPAddress"])
        return out

    def endpoint(self, host: str, port: int, proto: str = "tcp") -> tuple[str, int]:
        """The 127.0.0.1 address and port where ``host:port`` is published right now.

        Re-read at every call: a rebooted host may get another ephemeral host port.
        """
        c = self.container(host, refresh=True)
        if c.attrs["State"]["Status"] != "running":
            raise StackError(f"host {host} is {c.attrs['State']['Status']}, not running")
        bindings = (c.attrs["NetworkSettings"].get("Ports") or {}).get(f"{port}/{proto}") or []
        for b in bindings:
            if b.get("HostIp") in ("127.0.0.1", "0.0.0.0", "") and b.get("HostPort"):
                return "127.0.0.1", int(b["HostPort"])
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
        command's exit code (it ended without answering).
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
                        self._containers.pop(host, None)
                        return ExecResult(125, "", f"host {host} is not running")
                    what = shlex.join(argv)[:80]
                    raise StackError(f"host {host}: cannot start {what}: {e}") from e
                with self._sessions_lock:
                    self._sessions[key] = session
            try:
                out, err = session.ask(request, end=end, timeout=timeout)
                return ExecResult(0, out, err)
            except TimeoutError:
                self._forget_session(key, session)
                return ExecResult(124, "", f"host {host}: no answer within {timeout:g}s")
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

    # -- power ------------------------------------------------------------------------------
    def power_off(self, host: str, *, mode: str = "graceful", grace: float = 10.0) -> None:
        """Shut ``host`` down.

        graceful: init gets its stop signal and SIGKILL after ``grace`` seconds (ACPI shutdown).
        hard: power loss. The host leaves the network first (its interfaces are gone: no FIN,
        no RST, not a packet of its own reaches a peer after the cut; peers' packets go
        unanswered), then everything in it is SIGKILLed. It rejoins at :meth:`power_on`.
        crash: every process SIGKILLed at once while the kernel lives on: the kernel closes
        every socket, so peers get FIN/RST and notice at once.
        """
        c = self.container(host, refresh=True)
        try:
            if mode in ("hard", "crash"):
                if c.attrs["State"]["Status"] == "running":
                    if mode == "hard":
                        self._cut(host, c)
                    c.kill()
                c.wait(timeout=30)
            else:
                c.stop(timeout=max(0, round(grace)))
        except (APIError, DockerException) as e:
            raise StackError(f"host {host}: power off ({mode}) failed: {e}") from e

    def _cut(self, host: str, c: Container) -> None:
        """Take a running host off every network, remembering how to rejoin (in the state file,
        so a heal in another process can boot it too)."""
        nets = c.attrs["NetworkSettings"]["Networks"] or {}
        record = {
            name: [
                (attrs.get("IPAMConfig") or {}).get("IPv4Address") or attrs.get("IPAddress") or "",
                *[a for a in attrs.get("Aliases") or [] if a not in (c.id[:12], c.id)],
            ]
            for name, attrs in nets.items()
        }
        with self._state_lock:
            self.state = self.state.with_changes(cut={**self.state.cut, host: record})
            self.state.save()
        for name in nets:
            client().networks.get(name).disconnect(c, force=True)

    def _rejoin(self, host: str, c: Container) -> None:
        """Put a host whose power was cut back on its networks, at its address."""
        record = self.state.cut.get(host)
        if not record:
            return
        for name, (address, *aliases) in record.items():
            try:
                client().networks.get(name).connect(
                    c, ipv4_address=address or None, aliases=aliases or None
                )
            except APIError as e:
                if "already exists" not in str(e):  # rejoined by an earlier, interrupted boot
                    raise
        with self._state_lock:
            cut = dict(self.state.cut)
            cut.pop(host, None)
            self.state = self.state.with_changes(cut=cut)
            self.state.save()

    def power_on(self, host: str) -> None:
        """Boot ``host``: back on its network if its power was cut, a fresh tmpfs /run, boot
        ulimits, init starts the services."""
        c = self.container(host, refresh=True)
        try:
            self._rejoin(host, c)
            c.start()
        except (APIError, DockerException) as e:
            raise StackError(
                f"host {host}: boot failed: {e}; recent logs:\n{self.logs(host, 15)}"
            ) from e

    def renumber(self, host: str) -> str:
        """Give a stopped ``host`` a different address on the stack network; return it."""
        c = self.container(host, refresh=True)
        if c.attrs["State"]["Status"] == "running":
            raise StackError(f"host {host}: cannot change the address of a running host")
        taken = set(self._all_static_addresses())
        prefix = self.state.subnet_prefix
        new = next((f"{prefix}.{i}" for i in range(100, 250) if f"{prefix}.{i}" not in taken), None)
        if new is None:
            raise StackError(f"host {host}: no free address left in {prefix}.0/24")
        cut = self.state.cut.get(host)
        if cut:  # off the network since its power was cut: it rejoins at the new address
            if len(cut) != 1:
                raise StackError(f"host {host}: expected one network, found {sorted(cut)}")
            ((net_name, (_old, *aliases)),) = cut.items()
            with self._state_lock:
                self.state = self.state.with_changes(
                    cut={**self.state.cut, host: {net_name: [new, *aliases]}}
                )
                self.state.save()
            return new
        nets = c.attrs["NetworkSettings"]["Networks"]
        if len(nets) != 1:
            raise StackError(f"host {host}: expected one network, found {sorted(nets)}")
        net_name, net_attrs = next(iter(nets.items()))
        old = (net_attrs.get("IPAMConfig") or {}).get("IPv4Address") or net_attrs.get("IPAddress")
        try:
            network = client().networks.get(net_name)
            network.disconnect(c)
            network.connect(c, ipv4_address=new, aliases=[host])
        except (APIError, DockerException) as e:
            raise StackError(f"host {host}: changing address {old} -> {new} failed: {e}") from e
        return new

    def _all_static_addresses(self) -> list[str]:
        out = [a for rec in self.state.cut.values() for a, *_ in rec.values() if a]
        for c in self.containers().values():
            for net in c.attrs["NetworkSettings"]["Networks"].values():
                addr = (net.get("IPAMConfig") or {}).get("IPv4Address") or net.get("IPAddress")
                if addr:
                    out.append(str(addr))
        return out

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

    # -- engine events ----------------------------------------------------------------------
    def events(
        self, host: str, since: float, until: float, actions: Sequence[str] = POWER_ACTIONS
    ) -> list[tuple[float, str]]:
        """What the engine recorded for ``host`` between ``since`` and ``until`` (epoch
        seconds): ``(time, action)`` pairs in order, e.g. ``(…, "die")``, ``(…, "start")``.

        ``until`` is clamped to now (the engine would otherwise wait for the future). The engine
        keeps only its last 256 events of all kinds: for anything older than a few seconds on a
        busy engine, start a :meth:`watch_events` before the fault instead.
        """
        c = self.container(host)
        until = min(until, time.time())
        filters = {"type": ["container"], "container": [c.id], "event": list(actions)}
        try:
            stream = client().events(
                since=f"{since:.9f}", until=f"{until:.9f}", decode=True, filters=filters
            )
            found = [
                (int(e["timeNano"]) / 1e9, str(e.get("Action") or e.get("status")))
                for e in stream
                if "timeNano" in e
            ]
        except (APIError, DockerException) as e:
            raise StackError(f"host {host}: cannot read the engine's events: {e}") from e
        return sorted(t for t in found if since <= t[0] <= until)

    def watch_events(
        self, hosts: Sequence[str] | None = None, actions: Sequence[str] = POWER_ACTIONS
    ) -> EventWatch:
        """Start recording the engine's events of ``hosts`` (every host by default) as they
        happen; :meth:`EventWatch.events` gives ``(time, host, action)``. Close it when done.
        A host taken off its network (the power cut of a hard power-off, before its ``kill``)
        is recorded as ``disconnect``.

        It starts a second before now, so an event of the moment the call returns is never
        missed.
        """
        by_id = {c.id: host for host, c in self.containers().items()}
        if hosts is not None:
            by_id = {cid: h for cid, h in by_id.items() if h in set(hosts)}
        # No container filter: the engine would apply it to network events too (their actor is
        # the network), dropping the disconnects; the watch keeps only these hosts' events.
        filters = {"type": ["container", "network"], "event": [*actions, "disconnect"]}
        try:
            stream = client().events(since=f"{time.time() - 1:.9f}", decode=True, filters=filters)
        except (APIError, DockerException) as e:
            raise StackError(f"stack {self.name}: cannot watch the engine's events: {e}") from e
        return EventWatch(stream, by_id)

    # -- clients inside the stack network ---------------------------------------------------
    def network(self) -> str:
        """The name of the stack's network (where clients are attached)."""
        try:
            nets = client().networks.list(filters={"label": [f"{PROJECT_LABEL}={self.name}"]})
        except DockerException as e:
            raise StackError(f"stack {self.name}: cannot list networks: {e}") from e
        if len(nets) != 1:
            raise StackError(
                f"stack {self.name}: expected one network, found"
                f" {sorted(n.name for n in nets) or 'none'}; is the stack up?"
            )
        return str(nets[0].name)

    def used_addresses(self) -> set[str]:
        """Every address configured or held on the stack network (hosts and clients)."""
        used: set[str] = {a for rec in self.state.cut.values() for a, *_ in rec.values() if a}
        try:
            found = client().containers.list(
                all=True, filters={"label": [f"{PROJECT_LABEL}={self.name}"]}
            )
        except DockerException as e:
            raise StackError(f"stack {self.name}: cannot list containers: {e}") from e
        for c in found:
            for net in c.attrs["NetworkSettings"]["Networks"].values():
                for addr in (
                    (net.get("IPAMConfig") or {}).get("IPv4Address"),
                    net.get("IPAddress"),
                ):
                    if addr:
                        used.add(str(addr))
        return used

    def client_container_name(self, name: str) -> str:
        return f"{self.name}-{name}"

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
        """Start a client container ``<project>-<name>`` from ``reboot-harness/<role>`` (the
        stack's image tag) on the stack network, at ``address`` if given; return its name.

        It is labelled like the stack (managed, owner, keep, compose project) so `down` and
        `gc` remove it, and as a client so checks and heals ignore it.
        """
        image = f"reboot-harness/{role}:{self.state.image_tag}"
        cname = self.client_container_name(name)
        labels = {
            "org.reboot-harness.managed": "true",
            "org.reboot-harness.owner": self.state.owner,
            "org.reboot-harness.keep": "true" if self.state.keep else "false",
            PROJECT_LABEL: self.name,
            ROLE_LABEL: CLIENT_ROLE,
        }
        api = client().api
        try:
            client().images.get(image)
        except ImageNotFound:
            raise StackError(
                f"stack {self.name}: image {image} is missing (the stack was started from other"
                " image sources); restart the stack (`reboot-harness down` then `up`) to build it"
            ) from None
        network = self.network()
        endpoint = api.create_endpoint_config(ipv4_address=address) if address else None
        try:
            created = api.create_container(
                image,
                command=list(command) or None,
                name=cname,
                hostname=name,
                labels=labels,
                environment=dict(environment or {}),
                host_config=api.create_host_config(
                    mem_limit=mem_limit,
                    log_config=LogConfig(type="json-file", config={"max-size": "500m"}),
                    network_mode=network,
                ),
                networking_config=api.create_networking_config({network: endpoint})
                if endpoint
                else None,
            )
            api.start(created["Id"])
        except (APIError, DockerException) as e:
            with_logs = ""
            try:
                client().containers.get(cname).remove(force=True)
            except (APIError, DockerException):
                with_logs = f" (container {cname} may be left over; `reboot-harness gc` removes it)"
            raise StackError(
                f"stack {self.name}: cannot start client {cname} from {image}"
                f"{' at ' + address if address else ''}: {e}{with_logs}"
            ) from e
        return cname

    def _client(self, name: str) -> Container:
        cname = self.client_container_name(name)
        try:
            return client().containers.get(cname)
        except NotFound:
            raise StackError(f"stack {self.name}: client {cname} does not exist") from None
        except DockerException as e:
            raise StackError(f"stack {self.name}: client {cname}: {e}") from e

    def client_state(self, name: str) -> tuple[str, int, str]:
        """(status, exit code, engine error or OOM note) of client ``name``."""
        st = self._client(name).attrs["State"]
        note = st.get("Error") or ("killed: out of memory" if st.get("OOMKilled") else "")
        return str(st["Status"]), int(st.get("ExitCode") or 0), str(note)

    def signal_client(self, name: str, signal: str = "SIGTERM") -> bool:
        """Send ``signal`` to client ``name``; False when it was not running."""
        c = self._client(name)
        try:
            c.kill(signal=signal)
        except APIError as e:
            if e.status_code == 409 or "is not running" in str(e):
                return False
            raise StackError(f"client {c.name}: {signal} failed: {e}") from e
        return True

    def wait_client(self, name: str, timeout: float) -> int | None:
        """Wait up to ``timeout`` seconds for client ``name`` to exit; its exit code, or None
        when it is still running."""
        deadline = time.monotonic() + timeout
        while True:
            status, code, _ = self.client_state(name)
            if status in ("exited", "dead"):
                return code
            if time.monotonic() >= deadline:
                return None
            time.sleep(0.2)

    def client_output(self, name: str) -> tuple[str, str]:
        """Everything client ``name`` printed: (stdout, stderr)."""
        c = self._client(name)
        try:
            out = c.logs(stdout=True, stderr=False)
            err = c.logs(stdout=False, stderr=True, tail=200)
        except (APIError, DockerException) as e:
            raise StackError(f"client {c.name}: cannot read its output: {e}") from e
        return bytes(out).decode("utf-8", "replace"), bytes(err).decode("utf-8", "replace")

    def remove_client(self, name: str) -> None:
        """Remove client ``name`` (killed if still running); no error if it is gone."""
        try:
            client().containers.get(self.client_container_name(name)).remove(force=True)
        except NotFound:
            return
        except (APIError, DockerException) as e:
            raise StackError(
                f"client {self.client_container_name(name)}: removal failed: {e}"
            ) from e

    def clients(self) -> list[str]:
        """Names (without the project prefix) of this stack's client containers."""
        try:
            found = client().containers.list(
                all=True,
                filters={"label": [f"{PROJECT_LABEL}={self.name}", f"{ROLE_LABEL}={CLIENT_ROLE}"]},
            )
        except DockerException as e:
            raise StackError(f"stack {self.name}: cannot list clients: {e}") from e
        prefix = f"{self.name}-"
        return sorted(c.name[len(prefix) :] if c.name.startswith(prefix) else c.name for c in found)
