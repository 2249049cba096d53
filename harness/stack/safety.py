"""What a compose configuration must not do to be a rehearsal of reboots (pure: reads the
resolved configuration, ``docker compose config --format json``).

A host that is privileged, holds extra capabilities or devices, binds the Docker socket, or
shares the machine's network, pid or ipc namespace can reach past its container: the machine
itself is then part of the test. A host without the tmpfs ``/run`` or without its boot ulimits
no longer boots like a server (``/run`` survives, limits are the engine's), which silently voids
what every scenario checks. A port published beyond 127.0.0.1 exposes the rehearsal stack (and
its generated passwords' services) to the network. Each is refused unless the user says
``--allow-unsafe-compose``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

DOCKER_SOCKETS = ("/var/run/docker.sock", "/run/docker.sock")


def _tmpfs_paths(value: Any) -> set[str]:
    entries = [value] if isinstance(value, str) else list(value or [])
    return {str(e).split(":", 1)[0].rstrip("/") or "/" for e in entries}


def unsafe(resolved: Mapping[str, Any]) -> list[str]:
    """Every unsafe setting, as ``service SERVICE: KEY: what`` (empty: safe)."""
    found: list[str] = []
    services = resolved.get("services") or {}
    for name in sorted(services):
        svc = services[name] or {}

        def say(key: str, what: str, name: str = name) -> None:
            found.append(f"service {name}: {key}: {what}")

        if svc.get("privileged"):
            say("privileged", "a privileged host can reach the machine")
        if svc.get("cap_add"):
            say("cap_add", f"extra capabilities {', '.join(map(str, svc['cap_add']))}")
        if svc.get("devices"):
            say("devices", "the machine's devices inside a host")
        for ns in ("network_mode", "pid", "ipc"):
            if str(svc.get(ns) or "") == "host":
                say(ns, "the machine's own namespace, not the host's")
        for vol in svc.get("volumes") or []:
            source = str((vol or {}).get("source") or "")
            if vol.get("type") == "bind" and source.rstrip("/") in DOCKER_SOCKETS:
                say(
                    "volumes",
                    f"binds the Docker socket ({source}): the host could drive the engine",
                )
        if "/run" not in _tmpfs_paths(svc.get("tmpfs")):
            say("tmpfs", "no tmpfs /run: /run would survive a reboot, as on no real server")
        if not ((svc.get("ulimits") or {}).get("nofile")):
            say("ulimits", "no boot nofile limit: a host would boot with the engine's limits")
        for port in svc.get("ports") or []:
            ip = str((port or {}).get("host_ip") or "")
            if ip != "127.0.0.1":
                target = (port or {}).get("target")
                say("ports", f"port {target} published on {ip or 'every address'}, not 127.0.0.1")
    return found
