"""Your own hosts: a YAML file that names which host plays which part (a Topology), for users who
point the harness at their own compose files. No docker here.

```yaml
domain: example.test
dns_host: ns
lbs: [edge1, edge2]
apps: [web1, web2]
redis_hosts: [cache1, cache2, cache3]
mysql_hosts: [db1, db2]
graphite_host: metrics
daemons: {ns: [dnsmasq], edge1: [nginx], ...}   # every host, with the daemons it must run
tmp: {db1: keep}                                 # /tmp at boot: clear (default) or keep
```
Every key is optional (the shipped stack's value); unknown keys are refused.
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path
from types import MappingProxyType

from pydantic import TypeAdapter, ValidationError

from harness.errors import UsageError
from harness.model import TMP_POLICIES, Topology
from harness.state import ProjectState

FIELDS = tuple(f.name for f in dataclasses.fields(Topology))
SERVICE_NAME = re.compile(r"[a-zA-Z0-9][a-zA-Z0-9_.-]*")  # compose's rule for a service name


def load_topology(path: Path) -> Topology:
    """Read and validate a topology file; every error names the file and the key."""
    # The scenarios' hardened reader: size and nesting bounded, UTF-8, duplicate keys refused,
    # YAML 1.2 booleans (`no` is a string, not False).
    from harness.scenario.yamlfile import _load_yaml, read_text

    data = _load_yaml(read_text(path, "topology"), str(path)) or {}
    if not isinstance(data, dict):
        raise UsageError(f"{path}: expected a mapping of topology keys; valid: {', '.join(FIELDS)}")
    unknown = sorted(str(k) for k in data if k not in FIELDS)
    if unknown:
        raise UsageError(f"{path}: {unknown[0]}: unknown key; valid: {', '.join(FIELDS)}")
    try:
        topo = TypeAdapter(Topology).validate_python(data, strict=False)
    except ValidationError as e:
        err = e.errors()[0]
        where = ".".join(str(p) for p in err["loc"])
        raise UsageError(f"{path}: {where}: {err['msg']}") from e
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
    for key in ("lbs", "apps", "redis_hosts", "mysql_hosts"):
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
        if getattr(topo, key) not in hosts:
            raise UsageError(
                f"{path}: {key}: {getattr(topo, key)!r} is not a host of daemons;"
                f" hosts: {', '.join(sorted(hosts))}"
            )
    return topo


def topology_of(state: ProjectState) -> Topology:
    """The topology a stack was started with: its file's, else the shipped stack's (with the
    stack's domain)."""
    if state.topology_file:
        return load_topology(Path(state.topology_file))
    return Topology(domain=state.domain)
