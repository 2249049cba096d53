"""The memcached example as it was before it became a stack of its own (`--stack`): its host
layered over the shipped stack from compose/, built from ../images, with a topology naming the
shipped hosts and it — for the tests of `--compose` that need a project's own folder, build
context and Python check."""

from __future__ import annotations

import shutil
from pathlib import Path

import yaml

from reboot_harness.model.topology import Topology

ROOT = Path(__file__).resolve().parents[1]
LAYERED = Path(__file__).parent / "unit" / "data" / "compose" / "cache-layered.yaml"


def layered_memcached(dest: Path) -> tuple[Path, Path]:
    """A copy of examples/memcached at ``dest`` with its host as ``compose/cache.yaml`` over the
    shipped stack: (that compose file, its topology)."""
    shutil.copytree(ROOT / "examples" / "memcached", dest)
    (dest / "compose").mkdir()
    cache = dest / "compose" / "cache.yaml"
    cache.write_text(LAYERED.read_text())
    topology = dest / "topology.yaml"
    text = yaml.safe_load(topology.read_text())
    roles = ("lbs", "apps", "dns_host", "graphite_host")
    text = {k: v for k, v in text.items() if not k.endswith("_hosts") and k not in roles}
    daemons = {**Topology().daemons, "cache": ("memcached",)}
    text["daemons"] = {host: list(names) for host, names in daemons.items()}
    topology.write_text(yaml.safe_dump(text))
    return cache, topology
