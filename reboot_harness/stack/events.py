"""What the engine records of a stack's hosts (die, kill, start …): asked afterwards, or
watched live while a fault runs."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Mapping, Sequence
from typing import Any

from docker.errors import APIError, DockerException

from reboot_harness.errors import StackError
from reboot_harness.stack.engine import client
from reboot_harness.stack.hosts import Hosts
from reboot_harness.stack.protocol import POWER_ACTIONS


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


class EngineEvents(Hosts):
    """The engine's events of the hosts of one project."""

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
