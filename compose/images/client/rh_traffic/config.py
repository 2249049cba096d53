"""The client's configuration: one complete JSON document, validated before anything starts.

The harness builds it (reboot_harness/traffic/config.py, ClientConfig) and sends it in
$RH_TRAFFIC_CONFIG. Nothing is defaulted here: an unknown key, a missing key or a value of the
wrong type or range is refused (ConfigError, one line naming the key), so what ran is exactly
what the harness sent. Standard library only: the harness's tests import this module on the host.
"""

import dataclasses
import difflib
import json
import math
import typing

ENV = "RH_TRAFFIC_CONFIG"
# Passwords come in the environment, never in the document (it may be shown in reports and
# errors); both must be set, an empty value meaning no password.
REDIS_PASSWORD_ENV = "REDIS_PASSWORD"
MYSQL_PASSWORD_ENV = "MYSQL_APP_PASSWORD"
# The one stderr line of a refused configuration, and the exit code; the harness reads both
# (reboot_harness/traffic/config.py).
ERROR_PREFIX = "rh-traffic: bad configuration: "
EXIT_BAD_CONFIG = 2
TRANSPORTS = ("polling", "websocket")


class ConfigError(ValueError):
    """The configuration is refused; the message is one line and names the key."""


def _at_least(low):
    def check(value):
        return "" if value >= low else f"must be >= {low:g}"

    return check


def _positive(value):
    return "" if value > 0 else "must be > 0"


def _port(value):
    return "" if 0 < value < 65536 else "must be a port (1-65535)"


def _not_empty(value):
    return "" if value else "must not be empty"


def _transports(value):
    for i, names in enumerate(value):
        if not names:
            return f"item [{i}] must not be empty"
        for name in names:
            if name not in TRANSPORTS:
                return f"item [{i}]: unknown transport {name!r}; known: {', '.join(TRANSPORTS)}"
    return ""


def _key(check, doc):
    return dataclasses.field(metadata={"check": check, "doc": doc})


NON_NEGATIVE = _at_least(0)


@dataclasses.dataclass(frozen=True)
class Config:
    """Every key of the document (and nothing else); see each key's ``doc``."""

    name: str = _key(_not_empty, "this container's name in client names (http-c1, sio-c1-1 ...)")
    run: str = _key(_not_empty, "unique per run: part of every written key")
    seed: int = _key(None, "seeds every user's schedule phase and choices")
    dns_server: str = _key(_not_empty, "address of the stack's DNS server")
    domain: str = _key(_not_empty, "the LBs are lb.<domain>")
    lb_port: int = _key(_port, "the LBs' http port")
    lbs: dict[str, str] = dataclasses.field(
        metadata={"check": None, "doc": "address -> LB host name, to name the target"}
    )
    http_clients: int = _key(NON_NEGATIVE, "http users")
    http_rate: float = _key(_positive, "requests per second per http user")
    http_app_every: int = _key(
        NON_NEGATIVE, "every Nth request is the app endpoint (socket.io handshake); 0: never"
    )
    http_connect_timeout: float = _key(_positive, "below the first SYN retransmission (1 s)")
    http_timeout: float = _key(_positive, "per request, after the connection")
    dns_stale: float = _key(
        NON_NEGATIVE, "seconds a cached answer may outlive its TTL when dns does not answer"
    )
    dns_min_ttl: float = _key(
        NON_NEGATIVE, "seconds an answer is kept at least, whatever its TTL (JVM, nscd, ...)"
    )
    http_keepalive: bool = _key(
        None, "keep connections open and reuse them (pooled by name, not address)"
    )
    # a kept-alive connection serves this many requests, then the client closes it (a visitor's
    # page views end; browsers and pools also retire connections), so new ones keep being opened
    http_keepalive_requests: int = _key(_at_least(1), "requests per kept-alive connection")
    sio_clients: int = _key(NON_NEGATIVE, "socket.io users")
    sio_transports: tuple[tuple[str, ...], ...] = _key(
        _transports, "transports, cycled over the socket.io users; []: the library's default"
    )
    sio_interval: float = _key(NON_NEGATIVE, "echo period")
    sio_echo_timeout: float = _key(_positive, "longest wait for an echo's ack")
    sio_echo_failures: int = _key(
        _at_least(1), "consecutive echo timeouts before the client gives up the socket"
    )
    sio_connect_timeout: float = _key(
        _positive, "handshake and polling POSTs; below the first SYN retransmission"
    )
    sio_retry_delay: float = _key(NON_NEGATIVE, "pause between two failed connection attempts")
    sentinels: tuple[str, ...] = _key(_not_empty, "Sentinel hosts")
    sentinel_port: int = _key(_port, "Sentinel port")
    redis_master: str = _key(_not_empty, "the master's name in Sentinel")
    redis_write_rate: float = _key(NON_NEGATIVE, "writes per second; 0: no redis user")
    redis_read_rate: float = _key(_positive, "replica reads per second")
    redis_timeout: float = _key(_positive, "connect and command timeout")
    redis_stale_after: float = _key(
        NON_NEGATIVE, "a key acknowledged this long ago must be readable on a replica"
    )
    mysql_hosts: tuple[str, ...] = _key(_not_empty, "MySQL hosts; the writable one is used")
    mysql_port: int = _key(_port, "MySQL port")
    mysql_user: str = _key(_not_empty, "MySQL user")
    mysql_database: str = _key(_not_empty, "database of the rh_traffic table")
    mysql_rate: float = _key(NON_NEGATIVE, "inserts per second; 0: no mysql user")
    mysql_timeout: float = _key(_positive, "read and write timeout (connect: at most 1 s)")
    drain_timeout: float = _key(NON_NEGATIVE, "longest wait for in-flight operations at stop")
    verify_timeout: float = _key(
        NON_NEGATIVE, "longest wait for a master/primary to read writes back"
    )
    max_seconds: float = _key(_positive, "stops by itself after this long (nothing runs forever)")
    stop_file: str = _key(_not_empty, "stop when this file appears (as on SIGTERM)")


KEYS = tuple(f.name for f in dataclasses.fields(Config))
_HINTS = typing.get_type_hints(Config)


@dataclasses.dataclass(frozen=True)
class Secrets:
    redis_password: str
    mysql_password: str


def _json_type(value):
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    return "an object"


def _plural(hint):
    if typing.get_origin(hint) is tuple:
        return "lists of " + _plural(typing.get_args(hint)[0])
    return {str: "strings", int: "integers", float: "numbers", bool: "booleans"}[hint]


def _expected(hint):
    if typing.get_origin(hint) is tuple:
        return "a list of " + _plural(typing.get_args(hint)[0])
    if typing.get_origin(hint) is dict:
        return "an object of strings"
    return {str: "a string", int: "an integer", float: "a number", bool: "true or false"}[hint]


def _convert(value, hint, where):
    """``value`` as ``hint`` (lists become tuples); ConfigError naming ``where`` if it is not."""
    ok = True
    if hint is bool:
        ok = isinstance(value, bool)
    elif hint is int:
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif hint is float:
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        if ok and not math.isfinite(value):
            raise ConfigError(f"key {where!r}: must be a finite number, got {value!r}")
        if ok:
            value = float(value)
    elif hint is str:
        ok = isinstance(value, str)
    elif typing.get_origin(hint) is tuple:
        ok = isinstance(value, list)
        if ok:
            inner = typing.get_args(hint)[0]
            value = tuple(_convert(v, inner, f"{where}[{i}]") for i, v in enumerate(value))
    else:  # dict[str, str]: JSON object keys are always strings
        ok = isinstance(value, dict)
        if ok:
            value = {k: _convert(v, str, f"{where}.{k}") for k, v in value.items()}
    if not ok:
        raise ConfigError(
            f"key {where!r}: expected {_expected(hint)}, got {_json_type(value)}"
            f" ({json.dumps(value)[:40]})"
        )
    return value


def validate(data):
    """The Config of a decoded document; ConfigError (one line, naming the key) if refused."""
    if not isinstance(data, dict):
        raise ConfigError(f"expected a JSON object of keys, got {_json_type(data)}")
    unknown = sorted(set(data) - set(KEYS))
    if unknown:
        near = difflib.get_close_matches(unknown[0], KEYS, n=1)
        hint = f" (did you mean {near[0]!r}?)" if near else f"; known keys: {', '.join(KEYS)}"
        more = f" and {len(unknown) - 1} more ({', '.join(unknown[1:])})" if unknown[1:] else ""
        raise ConfigError(f"unknown key {unknown[0]!r}{more}{hint}")
    missing = [k for k in KEYS if k not in data]
    if missing:
        raise ConfigError(
            f"missing key{'s' if missing[1:] else ''} {', '.join(repr(k) for k in missing)}"
            " (every key must be given; nothing is defaulted)"
        )
    values = {}
    for f in dataclasses.fields(Config):
        value = _convert(data[f.name], _HINTS[f.name], f.name)
        check = f.metadata["check"]
        problem = check(value) if check else ""
        if problem:
            raise ConfigError(f"key {f.name!r}: {problem} (got {json.dumps(data[f.name])[:40]})")
        values[f.name] = value
    return Config(**values)


def parse(text):
    """The Config of one JSON document."""
    try:
        data = json.loads(text)
    except ValueError as e:
        raise ConfigError(f"${ENV} is not JSON: {e}") from None
    return validate(data)


def load(environ):
    """(Config, Secrets) from the environment; ConfigError if anything is missing or wrong."""
    text = environ.get(ENV)
    if not text:
        raise ConfigError(f"${ENV} is not set; it must hold the whole configuration")
    cfg = parse(text)
    missing = [v for v in (REDIS_PASSWORD_ENV, MYSQL_PASSWORD_ENV) if v not in environ]
    if missing:
        raise ConfigError(
            f"${missing[0]} is not set (empty means no password; it must still be given)"
        )
    return cfg, Secrets(environ[REDIS_PASSWORD_ENV], environ[MYSQL_PASSWORD_ENV])
