"""Your own hosts: a YAML file that names which host plays which part (a Topology), for users who
point the harness at their own compose files. No docker here.

```yaml
domain: example.test
dns_host: ns
lbs: [edge1, edge2]
apps: [web1, web2]
redis_hosts: [cache1, cache2, cache3]
mysql_hosts: [db1, db2]
postgres_hosts: [pg1, pg2]                       # primary first, then its standbys
graphite_host: metrics
daemons: {ns: [dnsmasq], edge1: [nginx], ...}   # every host, with the daemons it must run
tmp: {db1: keep}                                 # /tmp at boot: clear (default) or keep
host_checks:                                     # your own checks, declared (see below)
  - {host: cache, process: memcached}
python_checks: [memcached stats]                 # your own Python checks (reboot_harness.checks)
```
Every key is optional (the shipped stack's value); unknown keys are refused. A role may be
empty (``lbs: []``, ``graphite_host: ""``): the shipped checks that need it are then not run,
and a scenario that selects one is refused.

``host_checks`` declare what must hold on a host after every boot. Each entry names ``host`` (or
``hosts: [...]``), optionally the ``check`` it belongs to (default ``host``: what scenarios and
``--checks`` call it), and exactly one of::

    process: NAME                          # a live process (comm or argv[0]'s name; not a zombie)
    nofile: {process: NAME, min: N}        # every NAME process has soft nofile >= N
    directory: {path: /run/x, owner: u, group: g, mode: "755"}   # or directory: PATH
    port: 11211                            # something listens on this TCP port in the host
    port: 8080, from: worker               # a TCP connection from host worker to this one opens
    healthcheck: true                      # the engine's healthcheck of the host says healthy
    http: {url: "http://127.0.0.1:8080/health", status: 200}     # or http: URL; from the host
    file: {path: /run/x.pid, present: false}                     # or file: PATH (present)

They run inside the host with bash and /proc (no other tool needed); their failures carry the
causes of :data:`reboot_harness.model.checks.HOST_CHECK_CAUSES`. ``python_checks`` name checks
written in Python (:mod:`reboot_harness.checks`): an entry point name of group
``reboot_harness.checks`` or ``module:attribute``, imported with this file's folder first on
``sys.path``.
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path
from types import MappingProxyType
from typing import Annotated, Any
from urllib.parse import urlsplit

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
    field_validator,
    model_validator,
)

from reboot_harness.errors import UsageError
from reboot_harness.model.checks import CHECK_NAMES
from reboot_harness.model.topology import (
    DEFAULT_HOST_CHECK,
    HOST_CHECK_KINDS,
    TMP_POLICIES,
    HostCheck,
    Topology,
)

FIELDS = tuple(f.name for f in dataclasses.fields(Topology) if f.name != "python_path")

SERVICE_NAME = re.compile(r"[a-zA-Z0-9][a-zA-Z0-9_.-]*")  # compose's rule for a service name


def load_topology(path: Path) -> Topology:
    """Read and validate a topology file; every error names the file and the key."""
    # The scenarios' hardened reader: size and nesting bounded, UTF-8, duplicate keys refused,
    # YAML 1.2 booleans (`no` is a string, not False).
    from reboot_harness.inputs.yamlfile import _load_yaml, read_text

    data = _load_yaml(read_text(path, "topology"), str(path)) or {}
    if not isinstance(data, dict):
        raise UsageError(f"{path}: expected a mapping of topology keys; valid: {', '.join(FIELDS)}")
    unknown = sorted(str(k) for k in data if k not in FIELDS)
    if unknown:
        raise UsageError(f"{path}: {unknown[0]}: unknown key; valid: {', '.join(FIELDS)}")
    declared = data.pop("host_checks", None)
    python = data.pop("python_checks", None)
    try:
        topo = TypeAdapter(Topology).validate_python(data, strict=False)
    except ValidationError as e:
        raise UsageError(f"{path}: {_where(e)}") from e
    topo = dataclasses.replace(
        topo, daemons=MappingProxyType({h: tuple(d) for h, d in topo.daemons.items()})
    )
    hosts = set(topo.daemons)
    for host in sorted(hosts):
        if not SERVICE_NAME.fullmatch(host):
            raise UsageError(
                f"{path}: daemons: {host!r} is not a compose service name; valid: letters,"
                " digits, '.', '_' and '-', starting with a letter or digit"
            )
    for key in ("lbs", "apps", "redis_hosts", "mysql_hosts", "postgres_hosts"):
        missing = [h for h in getattr(topo, key) if h not in hosts]
        if missing:
            raise UsageError(
                f"{path}: {key}: {missing[0]!r} is not a host of daemons;"
                f" hosts: {', '.join(sorted(hosts))}"
            )
    for host, policy in topo.tmp.items():
        if host not in hosts:
            raise UsageError(
                f"{path}: tmp.{host}: {host!r} is not a host of daemons;"
                f" hosts: {', '.join(sorted(hosts))}"
            )
        if policy not in TMP_POLICIES:
            raise UsageError(
                f"{path}: tmp.{host}: unknown policy {policy!r}; valid: {', '.join(TMP_POLICIES)}"
            )
    topo = dataclasses.replace(topo, tmp=MappingProxyType(dict(topo.tmp)))
    for key in ("dns_host", "graphite_host"):
        if getattr(topo, key) and getattr(topo, key) not in hosts:
            raise UsageError(
                f"{path}: {key}: {getattr(topo, key)!r} is not a host of daemons;"
                f" hosts: {', '.join(sorted(hosts))}"
            )
    return _own_checks(path, topo, declared, python)


def _where(e: ValidationError, prefix: str = "") -> str:
    """``PREFIX.KEY.PATH: what is wrong`` for the first error."""
    err = e.errors(include_url=False)[0]
    where = ".".join(
        [prefix, *(str(p) for p in err["loc"])] if prefix else [str(p) for p in err["loc"]]
    )
    msg = str(err["msg"]).removeprefix("Value error, ")
    return f"{where}: {msg}" if where else msg


# -- your own checks ------------------------------------------------------------------------------

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.@+-]{0,63}")  # a process name (comm is 15 chars)


def _path(value: object) -> str:
    if not isinstance(value, str) or not value.startswith("/") or any(c in value for c in "\0\n"):
        raise ValueError(f"expected an absolute path, got {value!r}")
    return value


def _mode(value: object) -> str:
    text = str(value) if isinstance(value, int) and not isinstance(value, bool) else value
    if not isinstance(text, str) or not re.fullmatch(r"[0-7]{3,4}", text):
        read = f" (YAML read it as the number {value}: quote it)" if isinstance(value, int) else ""
        raise ValueError(f'expected an octal mode such as "0755", got {value!r}{read}')
    return text.lstrip("0").rjust(3, "0")


def _process(value: object) -> str:
    if not isinstance(value, str) or not _NAME.fullmatch(value):
        raise ValueError(
            f"expected a process name (letters, digits, '_', '.', '@', '+', '-'), got {value!r}"
        )
    return value


_Path = Annotated[str, BeforeValidator(_path)]
_Process = Annotated[str, BeforeValidator(_process)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class _Nofile(_Strict):
    process: _Process
    min: int = Field(gt=0, le=1 << 30)


class _Directory(_Strict):
    path: _Path
    owner: str = ""
    group: str = ""
    mode: Annotated[str, BeforeValidator(_mode)] = ""


class _Http(_Strict):
    url: str
    status: int = Field(default=200, ge=100, le=599)

    @field_validator("url")
    @classmethod
    def _plain_http(cls, url: str) -> str:
        parts = urlsplit(url)
        if parts.scheme != "http" or not parts.hostname:
            raise ValueError(
                f"expected an http:// URL (plain HTTP, asked from inside the host), got {url!r}"
            )
        if any(c.isspace() for c in url):
            raise ValueError(f"a URL has no spaces: {url!r}")
        parts.port  # noqa: B018 - raises ValueError for a port out of range
        return url


class _File(_Strict):
    path: _Path
    present: bool = True


def _healthy(value: object) -> object:
    if value is not True:
        raise ValueError("expected true (the host's healthcheck must report healthy); omit it"
                         " otherwise")  # fmt: skip
    return value


def _bare(key: str) -> BeforeValidator:
    """``http: URL`` and ``file: PATH`` are short for their mapping forms."""
    return BeforeValidator(lambda v: {key: v} if isinstance(v, str) else v)


class _HostCheck(_Strict):
    check: str = DEFAULT_HOST_CHECK
    host: str | None = None
    hosts: list[str] | None = None
    process: _Process | None = None
    nofile: _Nofile | None = None
    directory: Annotated[_Directory, _bare("path")] | None = None
    port: int | None = Field(default=None, ge=1, le=65535)
    from_: str | None = Field(default=None, alias="from")  # port: the peer it is tried from
    healthcheck: Annotated[bool, BeforeValidator(_healthy)] | None = None
    http: Annotated[_Http, _bare("url")] | None = None
    file: Annotated[_File, _bare("path")] | None = None

    @field_validator("check")
    @classmethod
    def _check_name(cls, name: str) -> str:
        from reboot_harness.model.own_checks import CHECK_NAME_RE

        if not CHECK_NAME_RE.fullmatch(name):
            raise ValueError(
                f"check name {name!r} is not valid: letters, digits, spaces, '.', '_', '-'"
            )
        if name in CHECK_NAMES:
            raise ValueError(f"{name!r} is a shipped check's name; choose another")
        return name

    @model_validator(mode="after")
    def _one_kind(self) -> _HostCheck:
        given = [k for k in HOST_CHECK_KINDS if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError(
                f"expected exactly one of {', '.join(HOST_CHECK_KINDS)}; got"
                f" {', '.join(given) or 'none'}"
            )
        if self.from_ is not None and self.port is None:
            raise ValueError("from: only a port is tried from another host")
        if (self.host is None) == (self.hosts is None) or self.hosts == []:
            raise ValueError("expected host: NAME or hosts: [NAME, ...] (one of them)")
        return self

    def build(self) -> list[HostCheck]:
        out = []
        for host in [self.host] if self.host is not None else self.hosts or []:
            base: dict[str, Any] = {"check": self.check, "host": host}
            if self.process is not None:
                out.append(HostCheck(kind="process", target=self.process, **base))
            elif self.nofile is not None:
                out.append(HostCheck(kind="nofile", target=self.nofile.process,
                                     minimum=self.nofile.min, **base))  # fmt: skip
            elif self.directory is not None:
                d = self.directory
                out.append(HostCheck(kind="directory", target=d.path, owner=d.owner,
                                     group=d.group, mode=d.mode, **base))  # fmt: skip
            elif self.port is not None:
                out.append(HostCheck(kind="port", target=str(self.port),
                                     peer=self.from_ or "", **base))  # fmt: skip
            elif self.healthcheck is not None:
                out.append(HostCheck(kind="healthcheck", target="", **base))
            elif self.http is not None:
                out.append(HostCheck(kind="http", target=self.http.url,
                                     status=self.http.status, **base))  # fmt: skip
            elif self.file is not None:
                out.append(HostCheck(kind="file", target=self.file.path,
                                     present=self.file.present, **base))  # fmt: skip
        return out


def _own_checks(path: Path, topo: Topology, declared: object, python: object) -> Topology:
    """The topology with its declared host checks and Python checks, validated."""
    entries: list[HostCheck] = []
    if declared is not None:
        if not isinstance(declared, list):
            raise UsageError(f"{path}: host_checks: expected a list of host checks")
        for i, raw in enumerate(declared):
            try:
                spec = _HostCheck.model_validate(raw)
            except ValidationError as e:
                raise UsageError(f"{path}: {_where(e, f'host_checks.{i}')}") from e
            for entry in spec.build():
                for host, key in ((entry.host, ""), (entry.peer, "from: ")):
                    if host and host not in topo.hosts:
                        raise UsageError(
                            f"{path}: host_checks.{i}: {key}{host!r} is not a host of daemons;"
                            f" hosts: {', '.join(sorted(topo.hosts))}"
                        )
                if entry.peer == entry.host:
                    raise UsageError(
                        f"{path}: host_checks.{i}: from: {entry.peer!r} is the host itself;"
                        " name another host, or leave `from` out to look inside the host"
                    )
                if entry in entries:
                    raise UsageError(f"{path}: host_checks.{i}: declared twice ({entry.subject})")
                entries.append(entry)
    refs: list[str] = []
    if python is not None:
        if not isinstance(python, list) or not all(isinstance(r, str) for r in python):
            raise UsageError(
                f"{path}: python_checks: expected a list of entry point names or module:attribute"
            )
        refs = list(dict.fromkeys(python))
    topo = dataclasses.replace(
        topo,
        host_checks=tuple(entries),
        python_checks=tuple(refs),
        python_path=str(path.resolve().parent) if refs else "",
    )
    if refs:
        from reboot_harness.inputs.own_checks import python_checks

        declared_names = {e.check for e in entries}
        try:
            loaded = python_checks(topo)
        except UsageError as e:
            raise UsageError(f"{path}: python_checks: {e}") from e
        if len(loaded) != len(refs):
            raise UsageError(f"{path}: python_checks: two references name the same check")
        for name in loaded:
            if name in declared_names:
                raise UsageError(
                    f"{path}: python_checks: {name!r} is also a declared host check's name;"
                    " rename one of them"
                )
    return topo
