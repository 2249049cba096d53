"""The traffic client's configuration, built in one place: every key it reads, explicitly.

The client (compose/images/client/rh_traffic/config.py) defaults nothing and refuses an unknown
key, a missing key or a value of the wrong type with one stderr line naming the key, then exits
2; ``refusal`` finds that line so the driver can report it. tests/unit/test_traffic_client.py
pins that what ``client_config`` builds is what the client accepts, for every shipped scenario.
Passwords are not part of it: they travel in the environment (``SECRET_ENV``), never printed.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass

from reboot_harness.model.scenario import Clients
from reboot_harness.model.topology import Topology

CONFIG_ENV = "RH_TRAFFIC_CONFIG"
SECRET_ENV = ("REDIS_PASSWORD", "MYSQL_APP_PASSWORD")
# What the client prints (one line on stderr) and exits with when it refuses its configuration.
REFUSAL_PREFIX = "rh-traffic: bad configuration: "
REFUSAL_EXIT = 2
# Facts of the shipped images: compose/images/mysql/entrypoint.sh creates this user and database
# for the apps; the client's stop file is inside its own container.
MYSQL_USER = "app"
MYSQL_DATABASE = "rh"
STOP_FILE = "/tmp/rh-traffic.stop"


@dataclass(frozen=True)
class TrafficProfile:
    """How much traffic, per client container (each at its own address on the stack network),
    and how its users behave.

    The defaults give, per container: 10 http requests/s, 2 socket.io users echoing every
    200 ms, 4 redis writes/s and 2 reads/s, 4 mysql inserts/s. ``clients``, ``metrics`` and
    ``mem_limit`` are the harness's; every other field goes to each client as is.
    """

    clients: int = 2
    http_clients: int = 1
    http_rate: float = 10.0
    http_app_every: int = 5  # every Nth request is the app endpoint (socket.io handshake)
    http_connect_timeout: float = 0.5
    http_timeout: float = 3.0
    dns_stale: float = 0.0  # a cached answer is used this long past its TTL when DNS fails
    dns_min_ttl: float = 0.0  # an answer is kept at least this long, whatever its TTL
    http_keepalive: bool = False
    http_keepalive_requests: int = 10  # then the client closes the kept-alive connection
    sio_clients: int = 2
    # cycled over the socket.io users
    sio_transports: tuple[tuple[str, ...], ...] = (("polling", "websocket"), ("polling",))
    sio_interval: float = 0.2
    sio_echo_timeout: float = 2.0
    sio_echo_failures: int = 3  # consecutive echo timeouts before a user gives up the socket
    sio_connect_timeout: float = 1.0  # below the first SYN retransmission
    sio_retry_delay: float = 0.5  # pause between two failed connection attempts
    redis_write_rate: float = 4.0
    redis_read_rate: float = 2.0
    redis_timeout: float = 1.0
    redis_stale_after: float = 2.0  # an acknowledged key must be readable on a replica by then
    mysql_rate: float = 4.0
    mysql_timeout: float = 2.0
    metrics: bool = True
    drain_timeout: float = 8.0
    verify_timeout: float = 30.0
    max_seconds: float = 4 * 3600.0
    mem_limit: str = "256m"

    @classmethod
    def for_clients(cls, clients: Clients) -> TrafficProfile:
        """The default profile with a scenario's ``clients:`` behaviour."""
        return cls(
            dns_min_ttl=clients.dns_min_ttl,
            dns_stale=clients.dns_stale,
            http_keepalive=clients.keepalive,
        )


@dataclass(frozen=True)
class ClientConfig:
    """One client container's whole configuration; its fields are the client's keys.

    Floats are floats (``to_json`` writes ``1.0``, not ``1``), lists are tuples.
    """

    name: str
    run: str
    seed: int
    dns_server: str
    domain: str
    lb_port: int
    lbs: Mapping[str, str]
    http_clients: int
    http_rate: float
    http_app_every: int
    http_connect_timeout: float
    http_timeout: float
    dns_stale: float
    dns_min_ttl: float
    http_keepalive: bool
    http_keepalive_requests: int
    sio_clients: int
    sio_transports: tuple[tuple[str, ...], ...]
    sio_interval: float
    sio_echo_timeout: float
    sio_echo_failures: int
    sio_connect_timeout: float
    sio_retry_delay: float
    sentinels: tuple[str, ...]
    sentinel_port: int
    redis_master: str
    redis_write_rate: float
    redis_read_rate: float
    redis_timeout: float
    redis_stale_after: float
    mysql_hosts: tuple[str, ...]
    mysql_port: int
    mysql_user: str
    mysql_database: str
    mysql_rate: float
    mysql_timeout: float
    drain_timeout: float
    verify_timeout: float
    max_seconds: float
    stop_file: str

    def to_json(self) -> str:
        """The document the client reads from ``$RH_TRAFFIC_CONFIG``."""
        values = asdict(self)
        values["lbs"] = dict(self.lbs)
        return json.dumps(values, sort_keys=True)


def client_config(
    profile: TrafficProfile,
    topology: Topology,
    *,
    name: str,
    run: str,
    seed: int,
    dns_server: str,
    lbs: Mapping[str, str],
) -> ClientConfig:
    """The configuration of client container ``name`` (``c1`` …).

    Args:
        profile: rates, sizes and behaviour.
        topology: where the services are (hosts, ports, names).
        name: the container's part of every user's name.
        run: unique per run: part of every written key.
        seed: seeds every user's schedule and choices (with ``name``).
        dns_server: the stack's DNS server's address.
        lbs: LB address -> LB host name, to name the target of each operation.
    """
    p = profile
    return ClientConfig(
        name=name,
        run=run,
        seed=seed,
        dns_server=dns_server,
        domain=topology.domain,
        lb_port=topology.lb_port,
        lbs=dict(lbs),
        http_clients=p.http_clients,
        http_rate=float(p.http_rate),
        http_app_every=p.http_app_every,
        http_connect_timeout=float(p.http_connect_timeout),
        http_timeout=float(p.http_timeout),
        dns_stale=float(p.dns_stale),
        dns_min_ttl=float(p.dns_min_ttl),
        http_keepalive=p.http_keepalive,
        http_keepalive_requests=p.http_keepalive_requests,
        sio_clients=p.sio_clients,
        sio_transports=tuple(tuple(t) for t in p.sio_transports),
        sio_interval=float(p.sio_interval),
        sio_echo_timeout=float(p.sio_echo_timeout),
        sio_echo_failures=p.sio_echo_failures,
        sio_connect_timeout=float(p.sio_connect_timeout),
        sio_retry_delay=float(p.sio_retry_delay),
        sentinels=tuple(topology.redis_hosts),
        sentinel_port=topology.sentinel_port,
        redis_master=topology.redis_master_name,
        redis_write_rate=float(p.redis_write_rate),
        redis_read_rate=float(p.redis_read_rate),
        redis_timeout=float(p.redis_timeout),
        redis_stale_after=float(p.redis_stale_after),
        mysql_hosts=tuple(topology.mysql_hosts),
        mysql_port=topology.mysql_port,
        mysql_user=MYSQL_USER,
        mysql_database=MYSQL_DATABASE,
        mysql_rate=float(p.mysql_rate),
        mysql_timeout=float(p.mysql_timeout),
        drain_timeout=float(p.drain_timeout),
        verify_timeout=float(p.verify_timeout),
        max_seconds=float(p.max_seconds),
        stop_file=STOP_FILE,
    )


def refusal(stderr: str) -> str:
    """Why the client refused its configuration, from what it printed on stderr; "" if it
    did not."""
    for line in stderr.splitlines():
        if line.startswith(REFUSAL_PREFIX):
            return line[len(REFUSAL_PREFIX) :].strip()
    return ""
