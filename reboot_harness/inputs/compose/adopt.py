"""`reboot-harness init --from COMPOSE_FILE`: a topology for a user's compose file — one host per
service, the daemons it runs, its role recognised from its software, every role key stated
(empty where the file has none, so that it means the same whatever the harness's defaults) —
and the boot model (:mod:`reboot_harness.inputs.compose.boot`) as a compose override of its
services, written beside the topology. The user's file is only read.

A service's daemon is the program its ``entrypoint``/``command`` runs, else its image's (asked
of the engine by the caller, only when it answers: ``images``), else the software its image is
named for (an official image runs its software); else it is left for the user to fill in, with
one line saying why.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from reboot_harness.errors import UsageError
from reboot_harness.inputs.compose.anchor import Tagged, _anchor_service, _Dumper
from reboot_harness.inputs.compose.boot import BootModel
from reboot_harness.inputs.compose.roots import _items, _mapping, _path
from reboot_harness.inputs.compose.services import (
    Service,
    Software,
    argv,
    has_healthcheck,
    mounts,
    option,
    ports,
    runs,
    served_ports,
    software,
)
from reboot_harness.model.topology import Topology

# The topology's role keys, in its docstring's order: one host, or a list of hosts.
ROLES = ("dns_host", "lbs", "apps", "redis_hosts", "mysql_hosts", "postgres_hosts",
         "graphite_host")  # fmt: skip
ONE_HOST_ROLES = ("dns_host", "graphite_host")
MEMCACHED_PORT = 11211
_COMM = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.@+-]*")  # what a process check can match

# image -> (its entrypoint, its command), for the images the engine has
ImageCommands = Mapping[str, tuple[tuple[str, ...], tuple[str, ...]]]
ImageLookup = Callable[[Sequence[str]], ImageCommands]


@dataclass(frozen=True)
class Host:
    """One service as a host of the topology.

    Attributes:
        name: the service's name.
        daemons: what it must run after every boot (empty: not known).
        software: the software it was recognised as (None: none known).
        unknown: why its daemons could not be told ("" when they were).
    """

    name: str
    daemons: tuple[str, ...]
    software: Software | None
    unknown: str = ""


@dataclass(frozen=True)
class Adoption:
    """What `init --from` writes for one compose file.

    Attributes:
        source: the compose file.
        hosts: one per service, in its order.
        roles: each role key (:data:`ROLES`) and its hosts.
        host_checks: declared host checks (memcached: process and port).
        notes: one line each for what the user must know or fill in.
        overrides: the boot model's override of each service.
    """

    source: Path
    hosts: tuple[Host, ...]
    roles: Mapping[str, tuple[str, ...]]
    host_checks: tuple[Mapping[str, object], ...]
    notes: tuple[str, ...]
    overrides: Mapping[str, Mapping[str, Any]]


def _daemon(svc: Service, images: ImageCommands) -> tuple[str, Software | None, str]:
    """(daemon, software, why it is not known)."""
    image = str(svc.settings.get("image") or "")
    program = runs(svc, images.get(image))
    known = software(svc, program)
    if not program and known is not None and "entrypoint" not in svc.settings:
        program = known.daemons[0]  # an official image of the software runs it
    if program and _COMM.fullmatch(program):
        return program[:15], known, ""  # (a process's comm: its first 15 characters)
    if program:
        return "", known, f"its command runs {program!r}, not a program name"
    if "entrypoint" in svc.settings or "command" in svc.settings:
        return "", known, "its command only passes options to its image's entrypoint"
    if not image:
        return "", known, "no command and no image (built here): its Dockerfile's CMD is not read"
    return "", known, (f"no command, and its image {image} could not be inspected: no engine"
                       " answered, or it lacks the image (pull it, run init again)")  # fmt: skip


def _memcached_port(svc: Service) -> int:
    port = option(argv(svc), ("-p", "--port"))
    return port if port is not None and 0 < port < 65536 else MEMCACHED_PORT


def _served(services: Sequence[Service]) -> list[Mapping[str, object]]:
    """What every service must show after each boot beside its daemons: its healthcheck
    healthy (where its file gives it one), and each port it serves answering a connection from
    a peer — the first other service of the file, as a client on the stack's network would
    connect (a port only listening on the container's loopback fails there) — or, alone in its
    file, listening inside it."""
    out: list[Mapping[str, object]] = []
    for svc in services:
        if has_healthcheck(svc):
            out.append({"host": svc.name, "healthcheck": True})
        peer = next((s.name for s in services if s.name != svc.name), "")
        for port in served_ports(svc):
            out.append({"host": svc.name, "port": port, **({"from": peer} if peer else {})})
    return out


def _override(
    svc: Service, boot: BootModel, ephemeral: bool = False
) -> tuple[dict[str, Any], list[str]]:
    """The boot model over ``svc`` (``!override`` where Compose would otherwise merge the
    service's own list with it), and what the user must know of it. ``ephemeral``: every port
    on 127.0.0.1 at a port the engine picks (the harness starting it: stacks side by side)."""
    notes: list[str] = []
    settings = svc.settings
    boot_paths = set(boot.tmpfs_paths)
    own_tmpfs = [e for e in _items(settings.get("tmpfs")) if _path(str(e).split(":", 1)[0])
                 not in boot_paths]  # fmt: skip
    out: dict[str, Any] = {
        "tmpfs": Tagged("!override", [*own_tmpfs, *boot.tmpfs]),
        "ulimits": boot.ulimits(),  # (Compose merges it limit by limit)
        "restart": boot.restart,
    }
    if "restart_policy" in _mapping(settings.get("deploy")):
        out["deploy"] = {"restart_policy": {"condition": "none"}}
    published = ports(svc)
    if ephemeral and published:
        out["ports"] = Tagged("!override", [p.ephemeral() for p in published])
    elif any(not p.loopback for p in published):
        out["ports"] = Tagged("!override", [p.entry if p.loopback else p.on_loopback()
                                            for p in published])  # fmt: skip
    mounted = mounts(svc)
    if clash := [m for m in mounted if m.target in boot_paths]:
        kept = {"volumes": [m.entry for m in mounted if m not in clash]}
        _anchor_service(kept, svc.folder)  # (the override may lie in another folder)
        out["volumes"] = Tagged("!override", kept["volumes"])
        shown = ", ".join(m.target for m in clash)
        notes.append(f"{svc.name}: what it mounts at {shown} is left out in the override: the"
                     " boot model mounts an empty tmpfs there")  # fmt: skip
    return out, notes


def adopt(
    services: Sequence[Service],
    boot: BootModel,
    images: ImageLookup | None,
    *,
    ephemeral: bool = False,
) -> Adoption:
    """The topology and boot override of ``services`` (those of one compose file).

    Args:
        services: what :func:`reboot_harness.inputs.compose.services.read_services` read.
        boot: the boot model to apply.
        images: asked once for the entrypoint and command of the images of the services that
            run their image's own (None: nobody to ask).
        ephemeral: publish every port at a port the engine picks (the harness starting the
            stack), not at the one the file names (`init`: the user's own `compose up`).
    """
    wanted = sorted({
        str(s.settings["image"]) for s in services
        if s.settings.get("image") and "entrypoint" not in s.settings and not runs(s, None)
    })  # fmt: skip
    known_images = images(wanted) if images is not None and wanted else {}
    hosts: list[Host] = []
    roles: dict[str, list[str]] = {key: [] for key in ROLES}
    checks: list[Mapping[str, object]] = []
    notes: list[str] = []
    overrides: dict[str, Mapping[str, Any]] = {}
    for svc in services:
        daemon, known, unknown = _daemon(svc, known_images)
        hosts.append(Host(svc.name, (daemon,) if daemon else (), known, unknown))
        if unknown:
            notes.append(f"{svc.name}: daemons not known: {unknown}; fill in daemons.{svc.name}")
        if known is not None and known.role:
            if known.role in ONE_HOST_ROLES and roles[known.role]:
                notes.append(f"{svc.name}: {known.name}, but {known.role} is"
                             f" {roles[known.role][0]} already (one host)")  # fmt: skip
            else:
                roles[known.role].append(svc.name)
        elif known is not None and known.name == "memcached":
            checks += [{"host": svc.name, "process": daemon or "memcached"},
                       {"host": svc.name, "port": _memcached_port(svc)}]  # fmt: skip
        overrides[svc.name], more = _override(svc, boot, ephemeral)
        notes += more
    checks += _served(services)
    source = services[0].file if services else Path()
    return Adoption(
        source, tuple(hosts), {k: tuple(v) for k, v in roles.items()},
        tuple(checks), tuple(notes), overrides,
    )  # fmt: skip


# -- the files -----------------------------------------------------------------------------------


def topology_text(adoption: Adoption, override_name: str) -> str:
    """The topology file (JSON scalars and lists: YAML that no name can change the type of)."""
    lines = [
        f"# reboot-harness topology for {adoption.source}, written by `reboot-harness init`.",
        "# One host per service with the daemons it must run after every boot; every role is",
        "# stated, empty where the compose file has none. The boot model of its services is",
        f"# {override_name} (beside this file): layer it over the compose file.",
    ]
    for key in ROLES:
        hosts = adoption.roles.get(key, ())
        value = (hosts[0] if hosts else "") if key in ONE_HOST_ROLES else list(hosts)
        lines.append(f"{key}: {json.dumps(value)}")
    lines.append("daemons:")
    for host in adoption.hosts:
        todo = f"  # fill in: {host.unknown}" if host.unknown else ""
        lines.append(f"  {json.dumps(host.name)}: {json.dumps(list(host.daemons))}{todo}")
    if adoption.host_checks:
        lines.append("host_checks:")
        lines += [f"  - {json.dumps(dict(check))}" for check in adoption.host_checks]
    return "\n".join(lines) + "\n"


def override_text(
    adoption: Adoption, boot: BootModel, labels: Mapping[str, str] | None = None
) -> str:
    """The compose override that gives the services the boot model (and ``labels``: the
    harness's own, when it starts your stack)."""
    nofile = f"nofile {boot.nofile_soft} soft / {boot.nofile_hard} hard"
    header = (
        f"# The boot model reboot-harness applies over the services of {adoption.source}, as a\n"
        f"# server boots: tmpfs {', '.join(boot.tmpfs_paths)}, {nofile}, no restart policy,\n"
        "# ports on 127.0.0.1 only. Written by `reboot-harness init`; the compose file itself\n"
        "# is left as it is.\n"
    )
    more = {"labels": dict(labels)} if labels else {}
    doc = {"services": {name: {**o, **more} for name, o in adoption.overrides.items()}}
    return header + yaml.dump(doc, Dumper=_Dumper, sort_keys=False)


def topology_of(adoption: Adoption) -> Topology:
    """The topology :func:`topology_text` writes, as the topology loader reads it: what a
    stack given as ``--stack FILE`` without ``--topology`` is checked against.

    Raises:
        UsageError: it does not load (one line naming the compose file).
    """
    from reboot_harness.inputs.topology import load_topology

    with tempfile.TemporaryDirectory(prefix="rh-stack-") as tmp:
        path = Path(tmp) / "topology.yaml"
        path.write_text(topology_text(adoption, "the boot model"), encoding="utf-8")
        try:
            return load_topology(path)
        except UsageError as e:
            said = str(e).removeprefix(f"{path}: ")
            raise UsageError(
                f"{adoption.source}: the topology read from it does not load ({said}); write one"
                f" with `reboot-harness init --from {adoption.source}` and pass --topology"
            ) from e


def write(adoption: Adoption, boot: BootModel, out: Path, *, force: bool) -> Path:
    """Write the topology to ``out`` and the override beside it; return the override's path.

    The topology is loaded with the harness's loader before it takes its place.

    Raises:
        UsageError: a file is there already (without ``force``) or cannot be written.
    """
    from reboot_harness.inputs.topology import load_topology

    override = out.with_name(f"{out.stem}.compose-override.yaml")
    for path in (out, override):
        if path.exists() and not force:
            raise UsageError(f"{path}: already exists; pass --force to overwrite it, or --out"
                             " another file")  # fmt: skip
    texts = {out: topology_text(adoption, override.name), override: override_text(adoption, boot)}
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        for path, text in texts.items():
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".yaml")
            try:
                with os.fdopen(fd, "w", encoding="utf-8") as f:
                    f.write(text)
                if path == out:
                    load_topology(Path(tmp))
                os.replace(tmp, path)
            finally:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(tmp)
    except OSError as e:
        raise UsageError(f"--out {out}: cannot write there ({e.strerror or e})") from e
    return override
