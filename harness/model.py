"""Typed, frozen data the layers pass to each other. No docker, no I/O."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType


@dataclass(frozen=True)
class CheckResult:
    """One observation of one recovery check on one host.

    Attributes:
        check: name of the check (``limits``, ``redis roles`` …).
        host: the host it is about (the compose service name), or ``*`` for the whole set.
        ok: whether the expectation held.
        expected: what a recovered stack shows, in words a user can compare.
        observed: what was seen, as precisely as it can be said.
        detail: anything else worth knowing (which command, last error).
    """

    check: str
    host: str
    ok: bool
    expected: str
    observed: str
    detail: str = ""

    def as_dict(self) -> dict[str, object]:
        return {
            "check": self.check,
            "host": self.host,
            "ok": self.ok,
            "expected": self.expected,
            "observed": self.observed,
            "detail": self.detail,
        }

    def line(self) -> str:
        state = "ok" if self.ok else "FAIL"
        return f"{self.check} [{self.host}] {state}: expected {self.expected}, observed {self.observed}"


@dataclass(frozen=True)
class LimitSpec:
    """A supervisord program whose process must have at least ``min_nofile`` open files."""

    host: str
    program: str
    min_nofile: int


def _frozen(mapping: Mapping[str, tuple[str, ...]]) -> Mapping[str, tuple[str, ...]]:
    return MappingProxyType(dict(mapping))


DEFAULT_DAEMONS: Mapping[str, tuple[str, ...]] = _frozen(
    {
        "dns": ("dnsmasq",),
        "lb1": ("nginx",),
        "lb2": ("nginx",),
        "app1": ("supervisord", "python3"),
        "app2": ("supervisord", "python3"),
        "redis1": ("supervisord", "redis-server", "redis-sentinel"),
        "redis2": ("supervisord", "redis-server", "redis-sentinel"),
        "redis3": ("supervisord", "redis-server", "redis-sentinel"),
        "mysql1": ("mariadbd",),
        "mysql2": ("mariadbd",),
        "graphite": ("carbon-cache",),
    }
)


@dataclass(frozen=True)
class Topology:
    """Which host plays which part, and what a recovered host looks like.

    The defaults describe the shipped replica (compose/stack.yaml); a user with their own compose
    files and host names builds another Topology.
    """

    domain: str = "rh.test"
    dns_host: str = "dns"
    lbs: tuple[str, ...] = ("lb1", "lb2")
    lb_port: int = 80
    apps: tuple[str, ...] = ("app1", "app2")
    app_port: int = 8000
    app_program: str = "app"
    app_min_nofile: int = 10000
    redis_hosts: tuple[str, ...] = ("redis1", "redis2", "redis3")
    redis_port: int = 6379
    sentinel_port: int = 26379
    redis_master_name: str = "mymaster"
    mysql_hosts: tuple[str, ...] = ("mysql1", "mysql2")
    mysql_port: int = 3306
    graphite_host: str = "graphite"
    carbon_port: int = 2003
    graphite_pid_dir: str = "/run/graphite"
    graphite_user: str = "_graphite"
    graphite_pid_dir_mode: str = "755"
    whisper_dir: str = "/var/lib/graphite/whisper"
    nginx_error_log: str = "/var/log/nginx/error.log"
    supervisor_conf: str = "/etc/supervisor/supervisord.conf"
    daemons: Mapping[str, tuple[str, ...]] = field(default_factory=lambda: DEFAULT_DAEMONS)

    @property
    def hosts(self) -> tuple[str, ...]:
        return tuple(self.daemons)

    @property
    def supervisor_hosts(self) -> tuple[str, ...]:
        return tuple(h for h, names in self.daemons.items() if "supervisord" in names)

    @property
    def limits(self) -> tuple[LimitSpec, ...]:
        return tuple(LimitSpec(h, self.app_program, self.app_min_nofile) for h in self.apps)

    @property
    def dns_name(self) -> str:
        return f"lb.{self.domain}"
