"""Host names that outlive their hosts: a host's name resolves, to its address, while the host
is off, as a real server's does (its name stays in DNS and in its peers' /etc/hosts).

The engine's DNS (127.0.0.11) answers a container's name only while the container runs on the
network: without more, a host that is off (power loss, crash, stop) would vanish from it, and
its peers would fail at once with "unknown host" (MariaDB errno 2005, Sentinel's "Failed to
resolve hostname") instead of waiting on their own timeouts. So every host, and every traffic
client, finds in its /etc/hosts (read before DNS: Debian's nsswitch says ``files dns``) the
name of every other host that has a fixed address (``ipv4_address``) on the stack network:

- at `up` a compose override (``names.yaml``, :func:`override`) adds them as ``extra_hosts``,
  written by the engine before any process of the host runs. A name a compose file already
  gives a host in its ``extra_hosts`` is left alone: it is that host's own /etc/hosts (the
  shipped LBs and apps pin dns, lb1, lb2, app1, app2 and graphite this way), which does not
  follow a new address, as a real /etc/hosts would not;
- the names added are listed in the container's label :data:`LABEL` (``NAME=HOST ...``) and
  follow ``new_ip`` as a DNS record does once updated: when a host is renumbered, every running
  peer's entry is rewritten at once (:func:`rewrite_argv`), before the host boots again; a peer
  that was off meanwhile boots with the engine's copy of the old entry and gets the new one
  right after its start, one ``docker exec`` later (about 50 ms on an idle machine: a program
  that resolves the moved name in that instant gets the old address, as from a stale cache).

A host without a fixed address on the stack network (possible only in your own compose files)
cannot be named that way: the engine picks its address at every boot. :func:`plan` lists such
hosts and `up` warns about each. No docker here.
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

STACK_NETWORK = "net"  # the stack network's key in compose/stack.yaml
LABEL = "org.reboot-harness.names"
# What can be written into /etc/hosts and a sed address unquoted: compose's service names
# (aliases are free text: one that is not such a name is left to the engine's DNS).
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,252}")


@dataclass(frozen=True)
class Plan:
    """What the names override gives each host.

    Attributes:
        added: host -> (name, host it names, address) entries added to its /etc/hosts.
        unnamed: hosts on the stack network without a fixed address (their names are the
            engine's DNS's only, gone while they are off).
    """

    added: Mapping[str, tuple[tuple[str, str, str], ...]]
    unnamed: tuple[str, ...]


def _address(value: object) -> str:
    """``value`` if it is an IPv4 address, else ""."""
    try:
        return str(ipaddress.IPv4Address(str(value)))
    except ValueError:
        return ""


def pinned(extra_hosts: object) -> dict[str, str]:
    """The names a service's ``extra_hosts`` sets (resolved compose: ``NAME=ADDR`` or
    ``NAME:ADDR`` entries, or a mapping; the engine's ``HostConfig.ExtraHosts``: ``NAME:ADDR``)
    -> address."""
    if isinstance(extra_hosts, Mapping):
        return {str(k): str(v) for k, v in extra_hosts.items()}
    out: dict[str, str] = {}
    for entry in extra_hosts if isinstance(extra_hosts, list) else []:
        text = str(entry)
        sep = "=" if "=" in text else ":"
        name, _, address = text.partition(sep)
        out.setdefault(name.strip(), address.strip())
    return out


def _on_stack_network(spec: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The service's settings on the stack network, or None when it is not on it (or shares
    another container's network stack: ``network_mode``, where ``extra_hosts`` are refused)."""
    nets = spec.get("networks")
    if spec.get("network_mode") or not isinstance(nets, Mapping) or STACK_NETWORK not in nets:
        return None
    return nets[STACK_NETWORK] or {}


def plan(resolved: Mapping[str, Any]) -> Plan:
    """Which names each host of the resolved compose configuration gets added, and which hosts
    have no fixed address."""
    services: Mapping[str, Any] = resolved.get("services") or {}
    on_net = {svc: net for svc, spec in services.items() if (net := _on_stack_network(spec))
              is not None}  # fmt: skip
    fixed = {svc: a for svc, net in on_net.items() if (a := _address(net.get("ipv4_address")))}
    named: dict[str, tuple[str, str]] = {svc: (svc, a) for svc, a in fixed.items()}
    for svc, address in fixed.items():  # a host's own name wins over another's alias
        for alias in on_net[svc].get("aliases") or []:
            if isinstance(alias, str) and _NAME.fullmatch(alias):
                named.setdefault(alias, (svc, address))
    added = {}
    for svc in sorted(on_net):
        own = pinned(services[svc].get("extra_hosts"))
        entries = tuple(
            (name, owner, address)
            for name, (owner, address) in sorted(named.items())
            if owner != svc and name != svc and name not in own and _NAME.fullmatch(name)
        )
        if entries:
            added[svc] = entries
    unnamed = tuple(sorted(svc for svc in on_net if svc not in fixed))
    return Plan(added=added, unnamed=unnamed)


def label_value(entries: Iterable[tuple[str, str]]) -> str:
    """The :data:`LABEL` value for (name, host it names) entries."""
    return " ".join(f"{name}={owner}" for name, owner in entries)


def entries(labels: Mapping[str, str] | None) -> dict[str, str]:
    """Name -> the host it names, for the names the harness added to a container (its label)."""
    out = {}
    for item in ((labels or {}).get(LABEL) or "").split():
        name, _, owner = item.partition("=")
        if _NAME.fullmatch(name) and owner:
            out[name] = owner
    return out


def override(p: Plan) -> str | None:
    """The compose override that adds the names (None: nothing to add)."""
    if not p.added:
        return None
    lines = [
        "# Written by reboot-harness: each host's /etc/hosts names every other host at its fixed",
        "# address, so a name resolves while its host is off (reboot_harness/stack/names.py).",
        "services:",
    ]
    for svc, added in p.added.items():
        hosts = [f"{name}:{address}" for name, _owner, address in added]
        lines.append(f"  {json.dumps(svc)}:")
        lines.append(f"    extra_hosts: {json.dumps(hosts)}")
        value = label_value((name, owner) for name, owner, _address in added)
        lines.append(f"    labels: {{{json.dumps(LABEL)}: {json.dumps(value)}}}")
    return "\n".join(lines) + "\n"


# Run inside a host as root: in the hosts file $1, delete the single-name lines of the names
# given ($2: a sed script made by rewrite_argv), append "ADDRESS<tab>NAME" for each pair after
# it. /etc/hosts is the engine's bind mount (a rename over it fails): written in place, in one
# write (a lookup at that very instant may find the file empty).
_REWRITE = r"""
f=$1
new=$(sed "$2" "$f") || exit 1
shift 2
while [ $# -ge 2 ]; do new="$new
$1	$2"; shift 2; done
printf '%s\n' "$new" > "$f"
"""


def rewrite_argv(moved: Mapping[str, str], path: str = "/etc/hosts") -> list[str]:
    """The command that points each name of ``moved`` (name -> new address) at its address in
    a host's hosts file ``path``.

    Raises:
        ValueError: a name that is not a host name or an address that is not IPv4.
    """
    deletes, pairs = [], []
    for name, address in sorted(moved.items()):
        if not _NAME.fullmatch(name) or not _address(address):
            raise ValueError(f"cannot write {name!r} -> {address!r} into /etc/hosts")
        pattern = name.replace(".", r"\.")
        deletes.append(f"/^[0-9.][0-9.]*[[:space:]][[:space:]]*{pattern}[[:space:]]*$/d")
        pairs += [address, name]
    return ["sh", "-c", _REWRITE, "rh-names", path, ";".join(deletes), *pairs]


def fixed_addresses(
    hosts: Mapping[str, Mapping[str, Any]], cut: Mapping[str, Mapping[str, list[str]]]
) -> dict[str, str]:
    """Host -> its fixed address now (configured on its network, or recorded while its power is
    cut), from the engine's inspect of each host container (``attrs``); hosts whose address
    the engine picks (no fixed one) are left out."""
    out = {}
    for host, attrs in hosts.items():
        address = next((a for a, *_ in (cut.get(host) or {}).values() if a), "")
        if not address:
            nets = (attrs.get("NetworkSettings") or {}).get("Networks") or {}
            address = next(
                (
                    str(configured)
                    for net in nets.values()
                    if (configured := (net.get("IPAMConfig") or {}).get("IPv4Address"))
                ),
                "",
            )
        if address:
            out[host] = address
    return out


def stale(
    labels: Mapping[str, str] | None, extra_hosts: object, now: Mapping[str, str]
) -> dict[str, str]:
    """Name -> address for each name the harness added to a container (``labels``) whose entry
    as the engine wrote it at boot (``extra_hosts``) no longer is its host's address (``now``:
    :func:`fixed_addresses`): the names to rewrite once that container has booted."""
    baked = pinned(extra_hosts)
    return {
        name: now[owner]
        for name, owner in entries(labels).items()
        if now.get(owner) and now[owner] != baked.get(name)
    }
