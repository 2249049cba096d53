"""Starting stacks (compose projects): a free subnet, the compose files checked and anchored,
the hosts' names and boot overrides, `compose up`; removing them is reboot_harness.stack.removal."""

from __future__ import annotations

import ipaddress
import json
import os
import random
import subprocess
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from reboot_harness.errors import StackError, UsageError
from reboot_harness.inputs.compose.anchor import anchored_copy, is_own
from reboot_harness.inputs.compose.offline import compose_version
from reboot_harness.inputs.compose.yourstack import (
    BOOT_MODEL_FILE,
    read_stack,
    refuse_unsafe_over,
)
from reboot_harness.inputs.paths import default_compose_dir
from reboot_harness.interrupts import shielded
from reboot_harness.model.topology import Topology
from reboot_harness.stack import binds, engines, names
from reboot_harness.stack.core import PROJECT_LABEL, Stack
from reboot_harness.stack.engine import client
from reboot_harness.stack.images import build_images, ensure_base_image
from reboot_harness.stack.owner import Owner
from reboot_harness.stack.removal import _forget, _remove_resources
from reboot_harness.stack.state import (
    ProjectState,
    new_secrets,
    validate_project_name,
    write_private,
)

SUBNET_POOL = ipaddress.IPv4Network(os.environ.get("RH_SUBNET_POOL", "172.30.0.0/16"))

Progress = Callable[[str], None]


def _compose(state: ProjectState, *args: str) -> subprocess.CompletedProcess[bytes]:
    """`docker compose` over the project's files and variables, run in its compose folder; a
    CalledProcessError (its output captured) when it fails. (The docker CLI is the one Compose
    there is: the SDK speaks the engine's API only.)"""
    files = [a for f in state.compose_files for a in ("-f", f)]
    return subprocess.run(
        ["docker", "compose", *files, "--env-file", str(state.compose_env_file), *args],
        cwd=state.compose_dir,
        capture_output=True,
        check=True,
    )


def _used_subnets() -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    """The subnets of the engine's networks and, for an engine on this machine, of every route
    here: another engine's bridges (RH_ENGINES), a VPN. Two stacks on one /24 of this machine
    would make each one's published ports reach the wrong containers."""
    used: list[ipaddress.IPv4Network | ipaddress.IPv6Network] = []
    for net in client().networks.list():
        for cfg in (net.attrs.get("IPAM") or {}).get("Config") or []:
            if cfg.get("Subnet"):
                used.append(ipaddress.ip_network(cfg["Subnet"], strict=False))
    if engines.on_this_machine(engines.current()):
        used += host_routes()
    return used


def host_routes(table: Path = Path("/proc/net/route")) -> list[ipaddress.IPv4Network]:
    """This machine's IPv4 routes other than the default one (none where there is no /proc)."""
    try:
        lines = table.read_text(encoding="ascii").splitlines()[1:]
    except OSError:
        return []
    routes = []
    for line in lines:
        fields = line.split()
        if len(fields) < 8:
            continue
        try:  # little-endian hex: 0011A8C0 is 192.168.17.0
            dest = ipaddress.IPv4Address(int(fields[1], 16).to_bytes(4, "little"))
            mask = ipaddress.IPv4Address(int(fields[7], 16).to_bytes(4, "little"))
            net = ipaddress.IPv4Network(f"{dest}/{mask}", strict=False)
        except ValueError:
            continue
        if net.prefixlen:
            routes.append(net)
    return routes


def free_subnet_prefix(
    name: str, used: Sequence[ipaddress.IPv4Network | ipaddress.IPv6Network], avoid: set[str]
) -> str:
    """A /24 of the pool that no network uses, as ``a.b.c``; random start so parallel runs
    rarely try the same one (a collision is retried by the caller)."""
    candidates = list(SUBNET_POOL.subnets(new_prefix=24))
    start = random.Random(f"{name}:{time.time_ns()}").randrange(len(candidates))
    for i in range(len(candidates)):
        net = candidates[(start + i) % len(candidates)]
        prefix = str(net.network_address).rsplit(".", 1)[0]
        if prefix in avoid or any(
            net.overlaps(u) for u in used if isinstance(u, ipaddress.IPv4Network)
        ):
            continue
        return prefix
    raise StackError(
        f"no free /24 left in {SUBNET_POOL} for stack {name}; run `reboot-harness gc`"
        " or set RH_SUBNET_POOL to another private range"
    )


def build(progress: Progress = lambda _: None) -> str:
    """Make the base image and every service image that is missing; return the image tag."""
    client()
    base = ensure_base_image(progress)
    return build_images(default_compose_dir() / "images", base, progress)


def project_exists(name: str) -> bool:
    found = client().containers.list(
        all=True, filters={"label": [f"{PROJECT_LABEL}={name}"]}, sparse=True
    )
    return bool(found)


def start(
    name: str,
    *,
    stack_file: Path | None = None,
    extra_compose: Sequence[Path] = (),
    keep: bool,
    owner: Owner | None = None,
    topology_file: Path | None = None,
    progress: Progress = lambda _: None,
    allow_unsafe: bool = False,
    topology: Topology | None = None,
) -> Stack:
    """Build what is missing and start stack ``name`` (does not wait for it to be ready).
    ``stack_file``: your compose file as the stack, with the boot model written over it (None:
    the shipped stack, compose/stack.yaml). ``allow_unsafe``: start even a configuration
    reboot_harness.inputs.compose refuses (with a warning).

    Raises:
        UsageError: the project exists already or a compose file is missing.
        EnvironmentProblem: no engine, no compose plugin, no way to get a base image.
        StackError: compose could not start it (the partial stack is removed first).
    """
    validate_project_name(name)
    compose_dir = default_compose_dir()
    yours = read_stack(stack_file, compose_dir) if stack_file is not None else None
    base_file = yours.file if yours else compose_dir / "stack.yaml"
    files = [base_file, *(Path(f).resolve() for f in extra_compose)]
    for f in files:
        if not f.is_file():
            raise UsageError(f"{f}: compose file not found")
    # ``topology``: ``topology_file`` as the caller already parsed it (read once, handed down)
    if topology is None and topology_file is not None:
        from reboot_harness.inputs.topology import load_topology

        topology = load_topology(topology_file)
    if topology is None and yours is not None:
        topology = yours.topology()
    domain = topology.domain if topology else "rh.test"
    # Only now the engine: unsafe files are refused without it (Compose resolves them offline),
    # so the refusal is the same with or without an engine, and nothing exists to remove.
    compose_version()
    # your stack as it will start: the boot model over it, judged with it
    allowed = refuse_unsafe_over(
        yours, [files[1:]], compose_dir=compose_dir, project=name, domain=domain,
        allow=allow_unsafe, code_dir=topology.python_path if topology else "",
    )  # fmt: skip
    if project_exists(name):
        raise UsageError(
            f"project {name!r} already exists; remove it with `reboot-harness down --project"
            f" {name}` or choose another name"
        )
    base = ensure_base_image(progress)
    tag = build_images(compose_dir / "images", base, progress)
    secret_values = new_secrets()
    owner = owner or Owner.current()
    # Recorded only when chosen (DOCKER_HOST, set by RH_ENGINES or the user): "" means whatever
    # engine the process that reads the state is given, as before engines existed.
    here = engines.current() if os.environ.get("DOCKER_HOST") else engines.Engine("", "")
    tried: set[str] = set()
    last_error = ""
    # The files as Compose reads them (your own anchored, the boot override added), decided at
    # the first attempt and kept for the others.
    layered: tuple[str, ...] = ()
    for _attempt in range(6):
        prefix = free_subnet_prefix(name, _used_subnets(), tried)
        tried.add(prefix)
        state = ProjectState(
            name=name,
            compose_dir=str(compose_dir),
            compose_files=layered or tuple(str(f) for f in files),
            subnet_prefix=prefix,
            domain=domain,
            image_tag=tag,
            base_image=base,
            owner=str(owner),
            keep=keep,
            topology_file=str(topology_file.resolve()) if topology_file else "",
            stack_file=str(yours.file) if yours else "",
            engine=here.host,
            engine_cert_path=here.cert_path,
        )
        state.save(secret_values)
        if not layered:
            anchored = _anchor_own(state, files, compose_dir)
            if yours is not None:  # the boot model right over your file, your overrides after
                written = state.directory / BOOT_MODEL_FILE
                write_private(written, yours.override())
                anchored = (anchored[0], str(written), *anchored[1:])
            state = state.with_changes(compose_files=anchored)
            state.save()
            resolved = _validate_compose(state)
            # judged offline above, only what the user's files add (the harness's own files
            # may give a host what users may not)
            for problem in allowed:
                progress(f"warning: unsafe compose, allowed: {problem}")
            boot = _boot_override(state, resolved, topology or Topology(domain=domain))
            if boot is not None:
                state = state.with_changes(compose_files=(*state.compose_files, str(boot)))
                state.save()
            reached = _ports_override(state, resolved, topology or Topology(domain=domain))
            if reached is not None:
                state = state.with_changes(compose_files=(*state.compose_files, str(reached)))
                state.save()
            named = _names_override(state, resolved, progress)
            if named is not None:
                state = state.with_changes(compose_files=(*state.compose_files, str(named)))
                state.save()
            if here.forwarded:  # another machine: bind sources of this one copied there
                try:
                    copied = binds.override(state, resolved, here, progress)
                except BaseException:
                    with shielded():
                        _forget(name)
                    raise
                if copied is not None:
                    state = state.with_changes(compose_files=(*state.compose_files, str(copied)))
                    state.save()
            layered = state.compose_files
        try:
            _compose(state, "up", "--detach")
        except KeyboardInterrupt:
            with shielded():
                _remove_resources(name)
                # The engine may still finish a create that compose sent before it was killed.
                time.sleep(1.0)
                _remove_resources(name)
                _forget(name)
            raise
        except subprocess.CalledProcessError as e:
            last_error = (e.stderr or b"").decode("utf-8", "replace").strip()
            _remove_resources(name)
            if "overlap" in last_error.lower() or "pool" in last_error.lower():
                continue  # another run took this subnet between our look and our create
            _forget(name)
            raise StackError(
                f"stack {name}: `docker compose up` failed:\n"
                + "\n".join(last_error.splitlines()[-10:])
            ) from e
        except Exception:  # whatever else went wrong (a bug included): nothing stays behind
            with shielded():
                _remove_resources(name)
                _forget(name)
            raise
        return Stack(state, topology)
    _forget(name)
    raise StackError(f"stack {name}: no free subnet after {len(tried)} tries: {last_error}")


def _anchor_own(state: ProjectState, files: Sequence[Path], compose_dir: Path) -> tuple[str, ...]:
    """Each of the user's own compose files (outside ``compose_dir``) as an anchored copy in
    the project's state folder: relative paths in it resolve against its own folder
    (:mod:`reboot_harness.inputs.compose.anchor`); the harness's files as they are."""
    out = []
    for f in files:
        try:
            out.append(str(anchored_copy(f, state.directory) if is_own(f, compose_dir) else f))
        except UsageError:
            ProjectState.forget(state.name)
            raise
    return tuple(out)


def _validate_compose(state: ProjectState) -> dict[str, Any]:
    """Refuse compose files that do not parse before anything is created (exit 2, not 1);
    return the resolved configuration."""
    try:
        resolved: dict[str, Any] = json.loads(_compose(state, "config", "--format", "json").stdout)
        return resolved
    except subprocess.CalledProcessError as e:
        ProjectState.forget(state.name)
        lines = (e.stderr or b"").decode("utf-8", "replace").strip().splitlines()
        files = ", ".join(state.compose_files)
        raise UsageError(
            f"compose files do not parse ({files}): {lines[-1] if lines else e}"
        ) from e


def _boot_override(
    state: ProjectState, resolved: dict[str, Any], topology: Topology
) -> Path | None:
    """A compose override that makes each host's /tmp what the topology says a boot does to it:
    ``clear`` (a tmpfs /tmp, empty at every boot) or ``keep`` (on the host's disk). None when
    the resolved configuration already does (the shipped stack, by default)."""
    services: dict[str, Any] = {}
    for host in topology.hosts:
        svc = (resolved.get("services") or {}).get(host)
        if svc is None:
            continue
        mounts = [str(m) for m in svc.get("tmpfs") or []]
        others = [m for m in mounts if m.split(":", 1)[0].rstrip("/") != "/tmp"]
        has_tmp = len(others) != len(mounts)
        if topology.tmp_at_boot(host) == "keep" and has_tmp:
            services[host] = {"tmpfs": others}
        elif topology.tmp_at_boot(host) == "clear" and not has_tmp:
            services[host] = {"tmpfs": [*others, "/tmp:exec,mode=1777"]}
    if not services:
        return None
    return _override_file(
        state.directory / "boot.yaml",
        "the topology's tmp: what a boot does to /tmp",
        {host: f"tmpfs: !override {json.dumps(spec['tmpfs'])}" for host, spec in services.items()},
    )


def _override_file(path: Path, what: str, services: dict[str, str]) -> Path:
    """A compose override at ``path``: each service with its one line of settings."""
    lines = [f"# Written by reboot-harness: {what}.", "services:"]
    for host, setting in services.items():
        lines += [f"  {json.dumps(host)}:", f"    {setting}"]
    write_private(path, "\n".join(lines) + "\n")
    return path


def ports_to_publish(resolved: dict[str, Any], topology: Topology) -> dict[str, list[str]]:
    """host -> ``127.0.0.1::PORT/PROTO`` for each port the shipped checks connect to
    (:meth:`Topology.checked_ports`) that the resolved compose files do not publish: a redis of
    yours without ``ports:`` is still read by `redis roles`. The engine picks the host port."""
    out: dict[str, list[str]] = {}
    for host in topology.hosts:
        svc = (resolved.get("services") or {}).get(host)
        if svc is None:
            continue
        have = {
            (int(str(p.get("target"))), str(p.get("protocol") or "tcp"))
            for p in svc.get("ports") or []
            if isinstance(p, dict) and str(p.get("target", "")).isdigit()
        }
        want = [f"127.0.0.1::{port}/{proto}" for port, proto in topology.checked_ports(host)
                if (port, proto) not in have]  # fmt: skip
        if want:
            out[host] = want
    return out


def _ports_override(
    state: ProjectState, resolved: dict[str, Any], topology: Topology
) -> Path | None:
    """A compose override publishing :func:`ports_to_publish` (Compose adds them to the
    host's own ports); None when every port the checks read is published already (the shipped
    stack)."""
    wanted = ports_to_publish(resolved, topology)
    if not wanted:
        return None
    return _override_file(
        state.directory / "ports.yaml",
        "the ports its checks read, on 127.0.0.1",
        {host: f"ports: {json.dumps(entries)}" for host, entries in wanted.items()},
    )


def _names_override(
    state: ProjectState, resolved: dict[str, Any], progress: Progress
) -> Path | None:
    """A compose override that names every host with a fixed address in every other host's
    /etc/hosts, so that a host's name resolves while it is off (:mod:`reboot_harness.stack.names`);
    None when there is nothing to add. Warns about each host whose name cannot be kept."""
    planned = names.plan(resolved)
    for host in planned.unnamed:
        progress(
            f"warning: host {host} has no fixed address (ipv4_address) on the stack network:"
            " while it is off its name does not resolve, so its peers get 'unknown host'"
            " instead of silence; give it an ipv4_address in your compose file"
        )
    text = names.override(planned)
    if text is None:
        return None
    path = state.directory / "names.yaml"
    write_private(path, text)
    return path
