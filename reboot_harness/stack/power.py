"""A host's power: shut down (graceful, hard, crash), booted, renumbered while it is off, paused
and unpaused (a hypervisor's pause).

A hard power-off takes the host off its networks first; how it rejoins is recorded in the
project state (saved at once), so a heal in another process can boot it too.
"""

from __future__ import annotations

import ipaddress
import math
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from docker.errors import APIError, DockerException, NotFound
from docker.models.containers import Container

from reboot_harness.errors import StackError
from reboot_harness.stack import names
from reboot_harness.stack.engine import client
from reboot_harness.stack.hosts import Hosts
from reboot_harness.stack.labels import SERVICE_LABEL, project_containers


def stop_timeout(grace: float) -> int:
    """The engine's stop timeout (whole seconds) for a grace period: rounded up, so init never
    gets less time than asked (0.4 s is 1 s, not an immediate SIGKILL)."""
    return max(0, math.ceil(grace))


class Power(Hosts):
    """Switching the hosts of one project off and on."""

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
                c.stop(timeout=stop_timeout(grace))
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
        self._record_cut(host, record)
        for name in nets:
            client().networks.get(name).disconnect(c, force=True)

    def _rejoin(self, host: str, c: Container) -> None:
        """Put a host whose power was cut back on its networks, at its address."""
        record = self.state.cut.get(host)
        if not record:
            return
        for name, (address, *aliases) in record.items():
            network = client().networks.get(name)
            try:
                try:
                    network.connect(c, ipv4_address=address or None, aliases=aliases or None)
                except APIError as e:
                    if address and _no_subnet(e):
                        # a network whose subnet the engine chose (your stack's default one):
                        # its hosts get an address from it as at their first boot
                        network.connect(c, aliases=aliases or None)
                    else:
                        raise
            except APIError as e:
                if "already exists" not in str(e):  # rejoined by an earlier, interrupted boot
                    raise
        self._record_cut(host, None)

    def power_on(self, host: str) -> None:
        """Boot ``host``: back on its network if its power was cut, a fresh tmpfs /run, boot
        ulimits, init starts the services; its /etc/hosts names every host that has moved
        (``new_ip``) at its new address (:mod:`reboot_harness.stack.names`)."""
        c = self.container(host, refresh=True)
        try:
            self._rejoin(host, c)
            c.start()
        except (APIError, DockerException) as e:
            raise StackError(
                f"host {host}: boot failed: {e}; recent logs:\n{self.logs(host, 15)}"
            ) from e
        # The engine wrote /etc/hosts anew at the start, from the entries of `up`: the names of
        # hosts renumbered since then are rewritten (nothing to do when none was).
        moved = names.stale(
            c.labels,
            c.attrs["HostConfig"].get("ExtraHosts"),
            names.fixed_addresses({h: x.attrs for h, x in self._containers.items()},
                                  self.state.cut),
        )  # fmt: skip
        if moved:
            self._rename(host, c, moved)

    def pause(self, host: str) -> None:
        """Freeze every process of ``host`` at once, as a hypervisor pausing its VM does (a live
        migration's last moment): nothing in it runs, its sockets stay open and unanswered, no
        signal reaches it; its clock is the machine's, so when it resumes (:meth:`unpause`)
        its processes see the time jump by the pause."""
        try:
            self.container(host, refresh=True).pause()
        except (APIError, DockerException) as e:
            raise StackError(f"host {host}: pause failed: {e}") from e

    def unpause(self, host: str) -> None:
        """Let every process of paused ``host`` run again where it stopped."""
        try:
            self.container(host, refresh=True).unpause()
        except (APIError, DockerException) as e:
            raise StackError(f"host {host}: unpause failed: {e}") from e

    def _rename(self, host: str, c: Container, moved: dict[str, str]) -> None:
        """Point the names ``moved`` (name -> address) at their addresses in the /etc/hosts of
        ``host``'s container ``c`` (a host or a client). A container that is not running keeps
        its entries: it gets them when it boots."""
        try:
            code, out = c.exec_run(names.rewrite_argv(moved), user="0")
        except NotFound:
            return
        except (APIError, DockerException) as e:
            if isinstance(e, APIError) and (e.status_code == 409 or "is not running" in str(e)):
                return
            raise StackError(f"host {host}: cannot update its /etc/hosts: {e}") from e
        if code != 0:
            said = bytes(out or b"").decode("utf-8", "replace").strip().splitlines()
            raise StackError(
                f"host {host}: cannot point {', '.join(sorted(moved))} at their new addresses in"
                f" its /etc/hosts (exit {code}: {said[-1][:200] if said else 'no output'});"
                " the image needs sh and sed for its peers' names to follow a new_ip"
            )

    def renumber(self, host: str) -> str:
        """Give a stopped ``host`` a different address on its network (in that network's
        subnet); return it.

        Raises:
            StackError: the host runs, its network's subnet was chosen by the engine (which
                takes no address of the harness's choosing: the compose file must configure
                it), or no address is free.
        """
        c = self.container(host, refresh=True)
        if c.attrs["State"]["Status"] == "running":
            raise StackError(f"host {host}: cannot change the address of a running host")
        cut = self.state.cut.get(host)
        nets = cut if cut else c.attrs["NetworkSettings"]["Networks"]
        if len(nets) != 1:
            raise StackError(f"host {host}: expected one network, found {sorted(nets)}")
        net_name = next(iter(nets))
        network = client().networks.get(net_name)
        new = _free_address(network.attrs, set(self._all_static_addresses()))
        if new is None:
            raise StackError(f"host {host}: no free address left on network {net_name}")
        try:
            if cut:  # off the network since its power was cut: it rejoins at the new address
                # asked now, so a network that takes no chosen address says so here, not by
                # the host coming back at its old one
                network.connect(c, ipv4_address=new, aliases=[host])
                network.disconnect(c, force=True)
                ((_old, *aliases),) = cut.values()
                self._record_cut(host, {net_name: [new, *aliases]})
            else:
                network.disconnect(c)
                try:
                    network.connect(c, ipv4_address=new, aliases=[host])
                except APIError:
                    network.connect(c, aliases=[host])  # back on it, at an address of its own
                    raise
        except APIError as e:
            if _no_subnet(e):
                raise StackError(
                    f"host {host}: new_ip needs a network whose subnet the compose file"
                    f" configures (ipam: config: [{{subnet: ...}}]); the engine chose"
                    f" {net_name}'s, and takes no address of the harness's choosing there"
                ) from e
            raise StackError(f"host {host}: changing its address to {new} failed: {e}") from e
        except DockerException as e:
            raise StackError(f"host {host}: changing its address to {new} failed: {e}") from e
        self._tell_peers(host, new)
        return new

    def _tell_peers(self, host: str, address: str) -> None:
        """Update the name of ``host``, renumbered to ``address``, in every running host's and
        client's /etc/hosts, as a DNS record is updated (the hosts that are off get it when they
        boot: :meth:`power_on`). Names a compose file pinned in a host's ``extra_hosts`` stay as
        they are, as a real /etc/hosts would."""
        peers = []
        for c in project_containers(self.name, sparse=True):
            moved = {n: address for n, o in names.entries(c.attrs.get("Labels")).items()
                     if o == host}  # fmt: skip
            if moved and c.attrs.get("State") == "running":
                labels = c.attrs.get("Labels") or {}
                who = labels.get(SERVICE_LABEL) or (c.attrs.get("Names") or [c.id])[0].lstrip("/")
                peers.append((str(who), c, moved))
        if not peers:
            return
        with ThreadPoolExecutor(max_workers=min(8, len(peers))) as pool:
            for f in [pool.submit(self._rename, *peer) for peer in peers]:
                f.result()

    def _all_static_addresses(self) -> list[str]:
        out = [a for rec in self.state.cut.values() for a, *_ in rec.values() if a]
        for c in self.containers().values():
            for net in c.attrs["NetworkSettings"]["Networks"].values():
                addr = (net.get("IPAMConfig") or {}).get("IPv4Address") or net.get("IPAddress")
                if addr:
                    out.append(str(addr))
        return out

    def _record_cut(self, host: str, networks: dict[str, list[str]] | None) -> None:
        """Record in the saved state how ``host``, its power cut, rejoins its networks
        (network -> [address, alias, ...]); None: it has rejoined them."""
        with self._state_lock:
            cut = dict(self.state.cut)
            if networks is None:
                cut.pop(host, None)
            else:
                cut[host] = networks
            self.state = self.state.with_changes(cut=cut)
            self.state.save()


def _free_address(network: dict[str, Any], taken: set[str]) -> str | None:
    """An address of ``network``'s (inspected) IPv4 subnet that no host has and that is not its
    gateway, from .100 of the subnet on (the shipped stack's hosts sit below), else None."""
    for config in (network.get("IPAM") or {}).get("Config") or []:
        try:
            subnet = ipaddress.IPv4Network(str(config.get("Subnet") or ""))
        except ValueError:
            continue
        reserved = taken | {str(config.get("Gateway") or ""), str(subnet.network_address + 1)}
        for i, address in enumerate(subnet.hosts()):
            if i >= 99 + 4096:
                break
            if i >= 99 and str(address) not in reserved:
                return str(address)
    return None


def _no_subnet(e: APIError) -> bool:
    """The engine refused a fixed address on a network it gave the subnet of itself."""
    return "only when connecting to networks with user configured subnets" in str(e)
