"""A running stack as the other layers see it."""

from __future__ import annotations

import shlex
import time
from dataclasses import dataclass
from datetime import datetime

from docker.errors import APIError, DockerException, NotFound
from docker.models.containers import Container

from harness.errors import StackError
from harness.model import Topology
from harness.stack.engine import client
from harness.state import ProjectState

PROJECT_LABEL = "com.docker.compose.project"
SERVICE_LABEL = "com.docker.compose.service"


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


class Stack:
    """One compose project of hosts; every method names the host it failed on.

    Args:
        state: what was recorded when the stack was started.
        topology: which host plays which part.
    """

    def __init__(self, state: ProjectState, topology: Topology | None = None) -> None:
        self.state = state
        self.topology = topology or Topology(domain=state.domain)
        self._containers: dict[str, Container] = {}
        self._secrets: dict[str, str] | None = None

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
        self._containers = {c.labels.get(SERVICE_LABEL, c.name): c for c in found}
        return dict(self._containers)

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
        """The address the host is configured with, known even while it is down."""
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
        """Shut ``host`` down: graceful sends init its stop signal and SIGKILLs after ``grace``
        seconds (an ACPI shutdown); hard SIGKILLs everything at once (power loss)."""
        c = self.container(host, refresh=True)
        try:
            if mode == "hard":
                if c.attrs["State"]["Status"] == "running":
                    c.kill()
                c.wait(timeout=30)
            else:
                c.stop(timeout=max(0, round(grace)))
        except (APIError, DockerException) as e:
            raise StackError(f"host {host}: power off ({mode}) failed: {e}") from e

    def power_on(self, host: str) -> None:
        """Boot ``host``: a fresh tmpfs /run, boot ulimits, init starts the services."""
        c = self.container(host, refresh=True)
        try:
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
        nets = c.attrs["NetworkSettings"]["Networks"]
        if len(nets) != 1:
            raise StackError(f"host {host}: expected one network, found {sorted(nets)}")
        net_name, net_attrs = next(iter(nets.items()))
        old = (net_attrs.get("IPAMConfig") or {}).get("IPv4Address") or net_attrs.get("IPAddress")
        taken = set(self._all_static_addresses())
        prefix = self.state.subnet_prefix
        new = next((f"{prefix}.{i}" for i in range(100, 250) if f"{prefix}.{i}" not in taken), None)
        if new is None:
            raise StackError(f"host {host}: no free address left in {prefix}.0/24")
        try:
            network = client().networks.get(net_name)
            network.disconnect(c)
            network.connect(c, ipv4_address=new, aliases=[host])
        except (APIError, DockerException) as e:
            raise StackError(f"host {host}: changing address {old} -> {new} failed: {e}") from e
        return new

    def _all_static_addresses(self) -> list[str]:
        out = []
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
