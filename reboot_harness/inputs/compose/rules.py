"""What a user's compose configuration must not do to be a rehearsal of reboots, and how it is
judged before the Docker engine is asked anything.

The rules name what is allowed, not what is known to be bad, so that a way nobody listed is
refused too:

- **Paths.** Whatever a user's compose file makes Compose or the engine read from the machine —
  a bind mount (short or long syntax, or a named volume that binds: ``driver_opts: {o: bind,
  device: PATH}``), a build context, Dockerfile, extra build context or local build cache, a
  ``configs``/``secrets`` file, an ``env_file`` or ``label_file``, a file it ``include``\\ s or
  ``extends`` — must lie, once ``..`` and symbolic links are resolved, inside the folder of the
  compose file that names it, or inside the harness's own data: its compose folder (the shipped
  stack, incidents and images). The folder a topology's Python checks are imported from counts
  too: the harness already runs code from there. A folder the whole machine shares — ``/``, a
  top-level folder (``/tmp``, ``/etc``, ``/home``, ...), one directly under ``/home``, ``/var``,
  ``/run`` or ``/usr``, your home folder — grants nothing: a compose file lying there does not
  make everything beside it yours (others' sockets, your keys). The harness's state folder is not
  granted: nothing there is meant for a host, and it holds every stack's passwords. The Docker
  socket and its folders, the kernel's interfaces and the engine's own state are refused
  wherever they lie. A named volume is always fine; /dev/null and its kind may mask a file, and
  /etc/localtime may be read.
- **Settings.** A host that is privileged, holds extra capabilities, devices or GPUs, joins a
  namespace of the machine (network, pid, ipc, uts, user, cgroup) or of a container or network
  outside the stack, runs with its confinement changed (anything in ``security_opt`` but
  ``no-new-privileges``), under a cgroup parent of the machine, with another runtime than runc,
  a log driver that hands its output to the machine, the engine's API socket, or protected from
  the machine's out-of-memory killer, can reach past its container: the machine itself is then
  part of the test. So can a builder that gets your SSH agent, the machine's network or
  privileges, and a named volume or network that is external, named after another project's,
  driven by a plugin, or mounted/attached with driver options. A setting this module does not
  know (a newer Compose's) is refused, not let through. A host without the tmpfs ``/run``,
  without its boot ulimits, or with a restart policy no longer boots like a server. A port
  published beyond the loopback address exposes the stack to the network.

Each is refused unless the user says ``--allow-unsafe-compose``. The rules apply to what the
user's files add: what the harness's own files give a host (a later feature may give some hosts
/dev/fuse and CAP_SYS_ADMIN) is the baseline, not judged.

:func:`unsafe` (pure, but for resolving symbolic links) judges Compose's resolved configuration,
``docker compose config --format json``. :func:`refuse_unsafe` applies it to the user's files
before anything else happens: each file is read first (size, UTF-8, YAML, nesting, aliases that
would expand without bound, the shape of ``services``) and the paths it names literally
(``include``, ``extends``, ``env_file``: Compose reads them while it resolves, and drops them
from what it prints) are judged; then Compose resolves the files (interpolation, ``extends``,
``include``, anchors and merge keys, ``!reset``/``!override``, every profile) with the engine out
of reach — ``config`` needs no daemon — so an unsafe file is named in one line whether or not an
engine runs, and nothing is created.
"""

from __future__ import annotations

import ipaddress
import os
import posixpath
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from reboot_harness.inputs.compose.roots import (
    Roots,
    _items,
    _machine_path,
    _mapping,
    _path,
    _sockets,
)
from reboot_harness.inputs.messages import _clip

# The only confinement option a user's file may add: it takes privileges away. Others (a
# seccomp profile of the machine's, an AppArmor profile, an SELinux label, `unconfined`) change
# what the engine lets a host do, and may let it do everything.
CONFINING = ("no-new-privileges", "no-new-privileges:true", "no-new-privileges=true")
UNCONFINED = (
    "seccomp=unconfined",
    "seccomp:unconfined",
    "apparmor=unconfined",
    "apparmor:unconfined",
    "label=disable",
    "label:disable",
    "systempaths=unconfined",
)
# Namespaces a host may not share with the machine. `service:NAME` (another host of the stack,
# as a sidecar shares its server's network) stays inside the rehearsal and is allowed;
# `container:NAME` joins a container outside it (anything running on the machine) and is not.
NAMESPACES = ("network_mode", "pid", "ipc", "uts", "userns_mode", "cgroup")
# Log drivers that keep a host's output in the engine's own files (`docker logs`, which the
# harness's reports read); others hand it to a socket, a file or an address of the machine.
LOG_DRIVERS = ("json-file", "local")
RUNTIMES = ("runc", "io.containerd.runc.v2")
# Service settings that stay inside the host: its processes, limits, names, health, lifecycle.
INSIDE = frozenset({
    "annotations", "attach", "blkio_config", "cap_drop", "command", "container_name", "cpu_count",
    "cpu_percent", "cpu_period", "cpu_quota", "cpu_rt_period", "cpu_rt_runtime", "cpu_shares",
    "cpus", "cpuset", "depends_on", "develop", "dns", "dns_opt", "dns_search", "domainname",
    "entrypoint", "environment", "expose", "extra_hosts", "group_add", "healthcheck", "hostname",
    "image", "init", "isolation", "labels", "links", "mac_address", "mem_limit",
    "mem_reservation", "mem_swappiness", "memswap_limit", "pids_limit", "platform", "post_start",
    "pre_stop", "profiles", "pull_policy", "pull_refresh_after", "read_only", "scale",
    "shm_size", "stdin_open", "stop_grace_period", "stop_signal", "storage_opt", "sysctls",
    "tty", "user", "working_dir",
})  # fmt: skip
# Not refused, though it may look so: `sysctls` (the engine allows only namespaced ones, net.*
# and IPC, set in the host's own namespaces at every start, as sysctl.d does at a server's
# boot); `develop` (read only by `docker compose watch`, which the harness never runs);
# `extra_hosts: host-gateway` (every container can reach the machine's bridge address anyway).
# Service settings a rule below judges (with those of the boot: tmpfs, ulimits, restart).
JUDGED = frozenset({
    "build", "cap_add", "cgroup", "cgroup_parent", "configs", "credential_spec", "deploy",
    "device_cgroup_rules", "devices", "env_file", "external_links", "extends", "gpus", "ipc",
    "label_file", "logging", "models", "network_mode", "networks", "oom_kill_disable",
    "oom_score_adj", "pid", "ports", "privileged", "provider", "restart", "runtime", "secrets",
    "security_opt", "tmpfs", "ulimits", "use_api_socket", "userns_mode", "uts", "volumes",
    "volumes_from",
})  # fmt: skip
BUILD_KEYS = frozenset({
    "additional_contexts", "args", "cache_from", "cache_to", "context", "dockerfile",
    "dockerfile_inline", "entitlements", "extra_hosts", "isolation", "labels", "network",
    "no_cache", "platforms", "privileged", "provenance", "pull", "sbom", "secrets", "shm_size",
    "ssh", "tags", "target", "ulimits",
})  # fmt: skip
TOP_LEVEL = frozenset({"name", "version", "services", "networks", "volumes", "configs", "secrets"})

# -- the rules (pure) ----------------------------------------------------------------------------


def _true(value: Any) -> bool:
    return value is True or str(value).strip().lower() in ("true", "1", "yes", "on")


def _tmpfs_paths(svc: Mapping[str, Any]) -> set[str]:
    paths = {_path(str(e).split(":", 1)[0]) for e in _items(svc.get("tmpfs"))}
    # a tmpfs mount written as a volume (`{type: tmpfs, target: /run}`) is as good
    for vol in _items(svc.get("volumes")):
        vol = _mapping(vol)
        if vol.get("type") == "tmpfs":
            paths.add(_path(vol.get("target")))
    return paths


def _loopback(ip: str) -> bool:
    try:
        return ipaddress.ip_address(ip.strip("[]")).is_loopback
    except ValueError:
        return False


def _local(ref: str) -> bool:
    """A build context or extra context that is a folder of the machine (not a URL, an image,
    another service or stage)."""
    return not ("://" in ref or ref.startswith(("git@", "github.com/", "service:", "target:")))


@dataclass(frozen=True)
class _Judge:
    """What the rules need beside a service: the engine's sockets, the roots (None: paths are
    judged by the deny-list alone), and the named volumes, networks, configs and secrets of the
    configuration and of the harness's baseline (which are not judged)."""

    sockets: tuple[str, ...]
    roots: Roots | None
    project: str
    top: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    base: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)

    def path(self, path: object, verb: str, *, read_only: bool = True) -> str | None:
        return _machine_path(path, verb, self.sockets, self.roots, read_only=read_only)

    def definition(self, kind: str, name: str) -> Mapping[str, Any] | None:
        """Top-level ``kind`` (volumes, networks, ...) ``name`` as the user's files leave it;
        None when it is the harness's own, unchanged."""
        mine = _mapping(_mapping(self.top.get(kind)).get(name))
        theirs = _mapping(self.base.get(kind)).get(name)
        return None if theirs is not None and mine == theirs else mine

    def own_name(self, name: object, key: str) -> str | None:
        """Why an explicit ``name`` is not the stack's own (``PROJECT_KEY``), if it is not."""
        if not self.project or not name or name == f"{self.project}_{key}":
            return None
        return f"{name}, not the stack's own {self.project}_{key}"

    def volume(self, key: str) -> str | None:
        """Why named volume ``key`` reaches past the stack, if it does."""
        vol = self.definition("volumes", key)
        if not vol:
            return None
        if _true(vol.get("external")):
            return f"mounts {vol.get('name') or key}, a volume of the machine outside the stack"
        if other := self.own_name(vol.get("name"), key):
            return f"mounts the volume {other}"
        if str(vol.get("driver") or "local") != "local":
            return f"volume {key} is a {vol.get('driver')} volume, a plugin of the machine"
        opts = _mapping(vol.get("driver_opts"))
        if not opts:
            return None
        if "bind" in str(opts.get("o") or "").split(","):
            problem = self.path(opts.get("device"), "binds")
            return f"{problem} (as volume {key})" if problem else None
        device = str(opts.get("device") or "")
        if str(opts.get("type") or "") == "tmpfs" and not device.startswith("/"):
            return None  # a tmpfs of the host's own memory
        device = device or str(opts.get("type") or "")
        return f"volume {key} mounts {device} on the machine (driver_opts)"

    def network(self, key: str) -> str | None:
        """Why network ``key`` puts a host beyond the stack's own network, if it does."""
        net = self.definition("networks", key)
        if not net:
            return None
        if _true(net.get("external")):
            return f"joins {net.get('name') or key}, a network of the machine outside the stack"
        if other := self.own_name(net.get("name"), key):
            return f"joins the network {other}"
        if str(net.get("driver") or "bridge") != "bridge":
            return (f"network {key} has driver {net.get('driver')}: hosts on the machine's own"
                    " network, not the stack's bridge")  # fmt: skip
        if str(_mapping(net.get("ipam")).get("driver") or "default") != "default":
            ipam = _mapping(net.get("ipam")).get("driver")
            return f"network {key} has IPAM driver {ipam}, a plugin of the machine"
        if opts := _mapping(net.get("driver_opts")):
            return (f"network {key} sets {next(iter(opts))}: changes how the machine's network"
                    " reaches the hosts")  # fmt: skip
        return None

    def file(self, kind: str, key: str) -> str | None:
        """Why config or secret ``key`` hands a host a file of the machine, if it does."""
        item = self.definition(kind, key)
        return self.path(item.get("file"), f"{key} reads") if item else None


def _beyond(svc: Mapping[str, Any], was: Mapping[str, Any] | None) -> dict[str, Any]:
    """What the user's files add to a host the harness's files define as ``was``: each setting
    that differs, and of a list only the items the harness's does not have."""
    if was is None:
        return dict(svc)
    out: dict[str, Any] = {}
    for key, value in svc.items():
        before = was.get(key)
        if value == before:
            continue
        if isinstance(value, list) and isinstance(before, list):
            if extra := [item for item in value if item not in before]:
                out[key] = extra
        else:
            out[key] = value
    return out


def _build(build: Mapping[str, Any], j: _Judge) -> Iterator[str]:
    for key in build:
        if key not in BUILD_KEYS:
            yield f"{key}: a build setting this check does not know (another Compose version?)"
    context = str(build.get("context") or "")
    if context and _local(context):
        dockerfile = str(build.get("dockerfile") or "")
        file = posixpath.join(context, dockerfile) if dockerfile and _local(dockerfile) else ""
        # (a Dockerfile in a context refused already is not named again)
        problem = j.path(context, "sends the builder")
        if problem or (file and (problem := j.path(file, "reads the Dockerfile"))):
            yield problem
    for name, ref in _mapping(build.get("additional_contexts")).items():
        ref = str(ref)
        if ref.startswith("oci-layout://"):
            ref = ref.removeprefix("oci-layout://").split("@", 1)[0].split(":", 1)[0]
        if _local(ref) and (problem := j.path(ref, f"sends the builder (as {name})")):
            yield problem
    for key in ("cache_from", "cache_to"):
        for entry in map(str, _items(build.get(key))):
            fields = dict(f.split("=", 1) for f in entry.split(",") if "=" in f)
            if fields.get("type") == "local":
                verb = "reads the build cache" if key == "cache_from" else "writes the build cache"
                if problem := j.path(fields.get("src") or fields.get("dest"), f"{key}: {verb}"):
                    yield problem
    for ref in _items(build.get("secrets")):
        if problem := j.file("secrets", str(_mapping(ref).get("source") or ref)):
            yield f"secrets: {problem}"
    if _items(build.get("ssh")) or _mapping(build.get("ssh")):
        yield "ssh: the builder would use your SSH agent or keys"
    if str(build.get("network") or "") == "host":
        yield "network host: the builder on the machine's own network"
    if _true(build.get("privileged")):
        yield "privileged: a privileged builder can reach the machine"
    if entitlements := _items(build.get("entitlements")):
        yield f"entitlements {', '.join(map(str, entitlements))}: the builder's extra powers"


def _grants(svc: Mapping[str, Any], j: _Judge) -> Iterator[tuple[str, str]]:
    """What ``svc`` (the settings the user's files add to a host) gives it of the machine."""
    for key in svc:
        if key not in INSIDE and key not in JUDGED and not str(key).startswith("x-"):
            yield str(key), ("a setting this check does not know (another Compose version?);"
                             " it may reach the machine")  # fmt: skip
    if _true(svc.get("privileged")):
        yield "privileged", "a privileged host can reach the machine"
    if caps := _items(svc.get("cap_add")):
        yield "cap_add", f"extra capabilities {', '.join(map(str, caps))}"
    if _items(svc.get("devices")):
        yield "devices", "the machine's devices inside a host"
    if _items(svc.get("device_cgroup_rules")):
        # with CAP_MKNOD (a default capability) a rule is enough to open the machine's disks
        yield "device_cgroup_rules", "access to the machine's devices"
    if _items(svc.get("gpus")):
        yield "gpus", "the machine's GPUs inside a host"
    resources = _mapping(_mapping(svc.get("deploy")).get("resources"))
    reservations = _mapping(resources.get("reservations"))
    if _items(reservations.get("devices")):
        yield "deploy", "resources.reservations.devices: the machine's devices inside a host"
    for ns in NAMESPACES:
        mode = str(svc.get(ns) or "")
        if mode == "host":
            yield ns, "the machine's own namespace, not the host's"
        elif ns == "network_mode" and mode in ("bridge", "default"):
            yield (
                ns,
                f"{mode}: the engine's default network, shared with every container of the machine",
            )
        elif mode.startswith("container:"):
            yield ns, f"the namespace of {mode}, a container outside the stack"
    for source in map(str, _items(svc.get("volumes_from"))):
        if source.startswith("container:"):
            yield "volumes_from", f"the volumes of {source}, a container outside the stack"
    for link in map(str, _items(svc.get("external_links"))):
        yield "external_links", f"{link}: a container outside the stack"
    for opt in map(str, _items(svc.get("security_opt"))):
        compact = opt.replace(" ", "")
        if compact in UNCONFINED:
            yield "security_opt", f"{opt}: the host runs without the engine's confinement"
        elif compact not in CONFINING:
            yield "security_opt", f"{opt}: changes the engine's confinement of the host"
    if parent := svc.get("cgroup_parent"):
        yield "cgroup_parent", f"{parent}: the host in a cgroup of the machine's, not the engine's"
    if (runtime := str(svc.get("runtime") or "runc")) not in RUNTIMES:
        yield "runtime", f"{runtime}: a runtime of the machine's, which may give what runc does not"
    driver = str(_mapping(svc.get("logging")).get("driver") or "json-file")
    if driver not in LOG_DRIVERS:
        yield "logging", (f"driver {driver}: the engine would hand the host's output to the"
                          f" machine; {' or '.join(LOG_DRIVERS)} only")  # fmt: skip
    try:
        protected = int(svc.get("oom_score_adj") or 0) < 0
    except (TypeError, ValueError):
        protected = False
    if protected or _true(svc.get("oom_kill_disable")):
        key = "oom_score_adj" if protected else "oom_kill_disable"
        yield key, "the machine's own processes would die before this host when memory runs out"
    for key in ("post_start", "pre_stop"):
        if any(_true(_mapping(hook).get("privileged")) for hook in _items(svc.get(key))):
            yield key, "a privileged hook can reach the machine"
    if _true(svc.get("use_api_socket")):
        yield "use_api_socket", "the engine's API socket inside a host: it could drive the engine"
    if svc.get("provider"):
        yield "provider", "Compose would run a program of the machine for this host"
    if svc.get("models"):
        yield "models", "the machine's model runner inside a host"
    if svc.get("credential_spec"):
        yield "credential_spec", "the machine's credentials inside a host"
    for vol in _items(svc.get("volumes")):
        vol = _mapping(vol)
        kind = str(vol.get("type") or "")
        if kind == "bind":
            read_only = _true(vol.get("read_only"))
            if problem := j.path(vol.get("source"), "binds", read_only=read_only):
                yield "volumes", problem
        elif kind == "volume":
            if vol.get("source") and (problem := j.volume(str(vol.get("source")))):
                yield "volumes", problem
        elif kind not in ("tmpfs", "image"):
            yield "volumes", f"a {kind or 'typeless'} mount: only binds, volumes and tmpfs"
    for key in ("configs", "secrets"):
        for ref in _items(svc.get(key)):
            if problem := j.file(key, str(_mapping(ref).get("source") or ref)):
                yield key, problem
    for key in ("env_file", "label_file"):  # (Compose reads and drops them; a newer may not)
        for ref in _items(svc.get(key)):
            if problem := j.path(_mapping(ref).get("path") or ref, "reads"):
                yield key, problem
    networks = svc.get("networks")
    for net in _mapping(networks) or dict.fromkeys(map(str, _items(networks))):
        if problem := j.network(str(net)):
            yield "networks", problem
    if isinstance(svc.get("build"), Mapping):
        for problem in _build(svc["build"], j):
            yield "build", problem
    for port in map(_mapping, _items(svc.get("ports"))):
        ip = str(port.get("host_ip") or "")
        if not _loopback(ip):
            target = port.get("target")
            yield "ports", f"port {target} published on {ip or 'every address'}, not 127.0.0.1"


def _boot(svc: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
    """How ``svc`` would not boot like a server."""
    if "/run" not in _tmpfs_paths(svc):
        yield "tmpfs", "no tmpfs /run: /run would survive a reboot, as on no real server"
    nofile = _mapping(svc.get("ulimits")).get("nofile")
    if isinstance(nofile, Mapping):
        nofile = nofile.get("soft") or nofile.get("hard")
    if not nofile:
        yield "ulimits", "no boot nofile limit: a host would boot with the engine's limits"
    restart = str(svc.get("restart") or "no")
    policy = _mapping(_mapping(svc.get("deploy")).get("restart_policy"))
    if restart != "no" or str(policy.get("condition") or "none") != "none":
        shown = restart if restart != "no" else f"deploy {policy.get('condition')}"
        yield "restart", f"policy {shown}: the engine would boot the host, not the scenario"


def unsafe(
    resolved: Mapping[str, Any],
    docker_host: str | None = None,
    *,
    roots: Roots | None = None,
    baseline: Mapping[str, Any] | None = None,
    whole: bool = True,
) -> list[str]:
    """Every unsafe setting, as ``service SERVICE: KEY: what`` or ``top-level KEY: what``
    (empty: safe).

    Args:
        resolved: Compose's resolved configuration; any other shape (a value of another type)
            is read as leniently as possible and never raises.
        docker_host: the engine's address (default ``$DOCKER_HOST``), whose socket counts as a
            Docker socket.
        roots: where the user's files may point the engine (:class:`Roots`); None judges paths
            by the deny-list alone (the socket, the kernel's interfaces, the engine's state).
        baseline: the configuration of the harness's own files alone: what it gives a host is
            not judged, only what the user's files add.
        whole: ``resolved`` is what will start; False: a user's file alone, whose hosts another
            file may complete (how they boot is then not judged, only what it gives them).
    """
    if not isinstance(resolved, Mapping):
        return []
    where = os.environ.get("DOCKER_HOST", "") if docker_host is None else docker_host
    base = _mapping(baseline)
    kinds = ("volumes", "networks", "configs", "secrets")
    judge = _Judge(
        _sockets(where), roots, str(resolved.get("name") or ""),
        {k: _mapping(resolved.get(k)) for k in kinds}, {k: _mapping(base.get(k)) for k in kinds},
    )  # fmt: skip
    found: list[str] = []
    for key in sorted(resolved, key=str):
        if key not in TOP_LEVEL and not str(key).startswith("x-") and key not in base:
            what = "the machine's model runner" if key == "models" else (
                "a setting this check does not know (another Compose version?)"
            )  # fmt: skip
            found.append(_clip(f"top-level {key}: {what}", 300))
    services, before = _mapping(resolved.get("services")), _mapping(base.get("services"))
    for name in sorted(services, key=str):
        svc = _mapping(services[name])
        was = _mapping(before[name]) if name in before else None
        problems = list(_grants(_beyond(svc, was), judge))
        harness_boot = set(_boot(was)) if was is not None else set()
        problems += [p for p in _boot(svc) if whole and p not in harness_boot]
        found += [_clip(f"service {name}: {key}: {what}", 300) for key, what in problems]
    return found


def refusal(problems: Sequence[str], files: Sequence[str]) -> str:
    """The one line that refuses an unsafe configuration (the first problem, and how many more)."""
    more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
    return (
        f"compose files ({', '.join(files) or 'stack.yaml'}) are not safe to rehearse with:"
        f" {problems[0]}{more}; remove it, or pass --allow-unsafe-compose"
    )
