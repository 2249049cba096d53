"""Which host plays which part, and what a recovered host looks like (a Topology), with the
host checks a topology file declares."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType


@dataclass(frozen=True)
class LimitSpec:
    """A supervisord program whose process must have at least ``min_nofile`` open files."""

    host: str
    program: str
    min_nofile: int


# -- your own checks, declared in a topology file ---------------------------------------------
# What a declared host check can ask of a host (see reboot_harness.inputs.topology for the YAML form
# and reboot_harness.checks.declared for how each is observed).
HOST_CHECK_KINDS = ("process", "nofile", "directory", "port", "http", "file", "healthcheck")
DEFAULT_HOST_CHECK = "host"


@dataclass(frozen=True)
class HostCheck:
    """One declared property of one host (a topology file's ``host_checks`` entry).

    Attributes:
        check: the check it belongs to, as scenarios name it (default ``host``).
        host: the host it is observed on.
        kind: one of :data:`HOST_CHECK_KINDS`.
        target: the process name (process, nofile), the path (directory, file), the port
            (port, as text) or the URL (http); "" for healthcheck (the engine's healthcheck of
            the host, as its compose file or image declares it).
        minimum: nofile: the lowest acceptable soft limit.
        owner, group, mode: directory: expected owner, group and octal mode ("" = any).
        present: file: whether the file must exist (True) or must not (False).
        status: http: the expected status code.
        peer: port: the host the port is tried from (a TCP connection to ``host``, as a
            client on the stack's network would make); "" = listening inside the host.
    """

    check: str
    host: str
    kind: str
    target: str
    minimum: int = 0
    owner: str = ""
    group: str = ""
    mode: str = ""
    present: bool = True
    status: int = 200
    peer: str = ""

    @property
    def subject(self) -> str:
        """What its result names as exercised: ``HOST/KIND:TARGET`` (``HOST/healthcheck``;
        ``HOST/port:N from PEER``)."""
        if self.kind == "healthcheck":
            return f"{self.host}/healthcheck"
        return f"{self.host}/{self.kind}:{self.target}" + (
            f" from {self.peer}" if self.peer else ""
        )

    @property
    def observer(self) -> str:
        """The host whose script observes it: the peer a port is tried from, else the host."""
        return self.peer or self.host

    def expected(self) -> str:
        if self.kind == "process":
            return f"a live process {self.target}"
        if self.kind == "nofile":
            return f"every {self.target} process soft nofile >= {self.minimum}"
        if self.kind == "directory":
            want = [f"owner {self.owner}"] if self.owner else []
            want += [f"group {self.group}"] if self.group else []
            want += [f"mode {self.mode}"] if self.mode else []
            return f"directory {self.target}" + (f" ({', '.join(want)})" if want else "")
        if self.kind == "port" and self.peer:
            return f"{self.peer} connects to TCP port {self.target} of {self.host}"
        if self.kind == "port":
            return f"something listening on TCP port {self.target}"
        if self.kind == "healthcheck":
            return "its healthcheck reports healthy"
        if self.kind == "http":
            return f"GET {self.target} answers {self.status}"
        return f"{self.target} {'present' if self.present else 'absent'}"


def _frozen(mapping: Mapping[str, tuple[str, ...]]) -> Mapping[str, tuple[str, ...]]:
    return MappingProxyType(dict(mapping))


TMP_POLICIES = ("clear", "keep")

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
    files and host names builds another Topology. docs/reference/topology.md is generated from
    the attributes below (reboot_harness.faces.docs): each needs its line.

    Attributes:
        domain: the DNS domain the dns host serves; clients ask for ``lb.<domain>``.
        dns_host: the host running dnsmasq, serving the LB name ("" for none).
        lbs: the load balancers (nginx), in DNS rotation.
        lb_port: the port the load balancers listen on.
        apps: the app hosts (python-socketio under supervisord) behind the load balancers.
        app_port: the port the apps serve on (``/health``, socket.io).
        app_program: the app's supervisord program, whose open-file limit ``limits`` checks.
        app_min_nofile: the lowest soft ``nofile`` limit the app's process may have.
        redis_hosts: the redis servers (with Sentinel where a host's daemons name
            ``redis-sentinel``: its own, or on hosts of their own).
        redis_port: the redis servers' port.
        sentinel_port: the sentinels' port.
        redis_master_name: the master's name the sentinels monitor.
        mysql_hosts: the MySQL (MariaDB) hosts: one primary, the others replicas.
        mysql_port: the MySQL port.
        postgres_hosts: the PostgreSQL hosts: one primary (first), the others streaming
            standbys.
        postgres_port: the port PostgreSQL listens on (psql inside the host connects there).
        graphite_host: the host running carbon ("" for none).
        carbon_port: carbon's plaintext port.
        carbon_conf: carbon's configuration, where ``directories`` reads ``PID_DIR``.
        graphite_pid_dir: carbon's pid directory when ``carbon_conf`` names none.
        graphite_user: the owner carbon's pid directory must have.
        graphite_pid_dir_mode: the mode carbon's pid directory must have.
        whisper_dir: where carbon stores metrics (a metric sent must land there).
        nginx_error_log: the LBs' error log (read for backends marked down).
        supervisor_conf: supervisord's configuration on the hosts that run it.
        daemons: every host, with the daemons that must run on it (the hosts of the stack).
        tmp: ``/tmp`` at boot, by host: ``clear`` (the default) or ``keep``.
        host_checks: your own declared checks (the YAML form: reboot_harness.inputs.topology).
        python_checks: your own Python checks: entry point names of group
            ``reboot_harness.checks``, or ``module:attribute`` from the topology file's folder.
        python_path: where ``module:attribute`` references are looked up (set from the file's
            folder; not a key of the file).
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
    postgres_hosts: tuple[str, ...] = ()
    postgres_port: int = 5432
    graphite_host: str = "graphite"
    carbon_port: int = 2003
    carbon_conf: str = "/etc/carbon/carbon.conf"
    graphite_pid_dir: str = "/run/graphite"  # when carbon_conf names no PID_DIR
    graphite_user: str = "_graphite"
    graphite_pid_dir_mode: str = "755"
    whisper_dir: str = "/var/lib/graphite/whisper"
    nginx_error_log: str = "/var/log/nginx/error.log"
    supervisor_conf: str = "/etc/supervisor/supervisord.conf"
    daemons: Mapping[str, tuple[str, ...]] = field(default_factory=lambda: DEFAULT_DAEMONS)
    # /tmp at boot, by host: "clear" (the default: emptied at every boot, as Debian and the
    # post-mortem's Ubuntu do) or "keep". /var/tmp and the rest of the disk are always kept.
    tmp: Mapping[str, str] = field(default_factory=dict)
    # Your own checks: declared host checks, and Python checks by reference (an entry point
    # name of group `reboot_harness.checks`, or `module:attribute`; see reboot_harness.checks.api).
    host_checks: tuple[HostCheck, ...] = ()
    python_checks: tuple[str, ...] = ()
    # Where `module:attribute` references are also looked up (the topology file's folder).
    python_path: str = ""

    @property
    def hosts(self) -> tuple[str, ...]:
        return tuple(self.daemons)

    @property
    def sentinel_hosts(self) -> tuple[str, ...]:
        """The hosts running Redis Sentinel (``redis-sentinel`` among their daemons), in order:
        a redis server's own sentinel (the shipped stack's), or a host of sentinels alone. None:
        the redis servers are judged without Sentinel (a lone master, or replicas set by hand)."""
        return tuple(h for h, names in self.daemons.items() if "redis-sentinel" in names)

    def checked_ports(self, host: str) -> tuple[tuple[int, str], ...]:
        """(port, protocol) of ``host`` that the shipped checks connect to from the harness's
        side: the harness publishes each on 127.0.0.1 when the compose files do not."""
        out: list[tuple[int, str]] = []
        if host in self.lbs:
            out.append((self.lb_port, "tcp"))
        if host in self.apps:
            out.append((self.app_port, "tcp"))
        if host in self.redis_hosts:
            out.append((self.redis_port, "tcp"))
        if host in self.sentinel_hosts:
            out.append((self.sentinel_port, "tcp"))
        if host in self.mysql_hosts:
            out.append((self.mysql_port, "tcp"))
        if host == self.dns_host:
            out += [(53, "tcp"), (53, "udp")]
        if host == self.graphite_host:
            out.append((self.carbon_port, "tcp"))
        return tuple(dict.fromkeys(out))

    @property
    def supervisor_hosts(self) -> tuple[str, ...]:
        return tuple(h for h, names in self.daemons.items() if "supervisord" in names)

    @property
    def limits(self) -> tuple[LimitSpec, ...]:
        return tuple(LimitSpec(h, self.app_program, self.app_min_nofile) for h in self.apps)

    @property
    def dns_name(self) -> str:
        return f"lb.{self.domain}"

    def tmp_at_boot(self, host: str) -> str:
        """``clear`` or ``keep``: what a boot does to ``host``'s /tmp."""
        return self.tmp.get(host, "clear")
