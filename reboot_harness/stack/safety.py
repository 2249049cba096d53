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

import contextlib
import functools
import ipaddress
import json
import os
import posixpath
import signal
import subprocess
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

import yaml

from reboot_harness.errors import EnvironmentProblem, UsageError
from reboot_harness.scenario.messages import _clip, _one_line
from reboot_harness.scenario.yamlfile import MAX_DEPTH, _Loader, read_text
from reboot_harness.state import SECRET_NAMES, ProjectState

DOCKER_SOCKETS = ("/var/run/docker.sock", "/run/docker.sock")
# The machine's kernel interfaces: a host that sees them can act on the machine itself
# (/proc/sysrq-trigger reboots it, /sys powers devices off, /dev reaches its disks).
KERNEL_PATHS = ("/proc", "/sys", "/dev")
# The engine's own state: every container's files, every image, every volume.
ENGINE_STATE = ("/var/lib/docker", "/var/lib/containerd")
# ... but these device nodes every host has anyway (a bind of /dev/null masks a file)
HARMLESS_DEVICES = ("/dev/null", "/dev/zero", "/dev/full", "/dev/random", "/dev/urandom")
# ... and these files of the machine say only what time it is there (read-only: a host that
# could write them would set the machine's clock zone)
HARMLESS_FILES = ("/etc/localtime", "/etc/timezone")
# A compose file directly in one of these folders grants nothing (see the module's docstring).
SHARED_PARENTS = ("home", "var", "run", "usr")
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
# A compose override needs a few hundred nodes (the shipped stack: about 800 once its aliases are
# expanded). Aliases of aliases expand exponentially ("billion laughs"): Compose would expand
# them all and take the machine's memory, so a file that expands beyond this is refused unread.
MAX_NODES = 100_000
MAX_FILES = 64  # files one configuration may pull in through `include` and `extends`
CONFIG_TIMEOUT_S = 20.0  # `docker compose config` takes ~0.2 s; a backstop, not a budget
# Where `docker compose config` is told the engine is: a socket path that cannot exist (under a
# file), so Compose's own best-effort probes fail at once instead of reaching an engine (or
# spawning ssh for an ssh:// DOCKER_HOST). The resolution itself never needs the engine.
NO_ENGINE = "unix:///dev/null/reboot-harness-resolves-offline"

# -- where a user's file may point the engine ----------------------------------------------------


def _real(path: str | Path) -> str:
    """``path`` as the engine will find it: absolute, ``..`` and symbolic links resolved."""
    return os.path.realpath(os.path.expanduser(str(path)))


def shared_folder(folder: str) -> bool:
    """Whether ``folder`` (a real path) is shared by the whole machine: a compose file lying
    there grants no folder (see the module's docstring)."""
    parts = PurePosixPath(folder).parts
    homes = {_real(Path.home()), _real(os.environ.get("XDG_RUNTIME_DIR") or "/run/user")}
    return (
        len(parts) <= 2
        or (len(parts) == 3 and parts[1] in SHARED_PARENTS)
        or (len(parts) == 4 and parts[1:3] == ("run", "user"))
        or folder in homes
    )


@dataclass(frozen=True)
class Roots:
    """The folders a user's compose file may point the engine at, and how a refusal names them.

    Attributes:
        folders: real paths; a path lying inside one of them is allowed.
        hint: what a refusal says after "outside": the folders, and why one grants nothing.
        project: the folder Compose reads a relative path from (the harness's compose folder).
    """

    folders: tuple[str, ...]
    hint: str
    project: str = ""

    @classmethod
    def of(cls, files: Sequence[Path], compose_dir: Path, code_dir: str = "") -> Roots:
        """The roots of ``files`` (a user's compose files): their folders, unless shared, the
        harness's ``compose_dir``, and ``code_dir`` (a topology's Python checks) unless shared."""
        # (the folder of the file itself, not of a link to it: its paths are anchored there)
        own = list(dict.fromkeys(_real(Path(f).resolve().parent) for f in files))
        granted = [d for d in own if not shared_folder(d)]
        extra = [_real(compose_dir), *([_real(code_dir)] if code_dir else [])]
        folders = tuple(dict.fromkeys([*granted, *(d for d in extra if not shared_folder(d))]))
        if shared := [d for d in own if shared_folder(d)]:
            hint = (
                f"the folders a compose file may use ({shared[0]}, where it lies, is shared by"
                " the whole machine and grants none: put the file in a folder of its own)"
            )
        elif len(granted) == 1:
            hint = f"{granted[0]} (the compose file's folder, where what it names must lie)"
        else:
            hint = f"the folders of the compose files ({', '.join(granted)})"
        return cls(folders, hint, _real(compose_dir))


def _machine_path(
    path: object, verb: str, sockets: Sequence[str], roots: Roots | None, *, read_only: bool = True
) -> str | None:
    """Why letting a host have ``path`` of the machine (``verb``: binds, reads, ...) voids the
    rehearsal, if it does: the engine's socket, the kernel's interfaces and the engine's state
    wherever they are; with ``roots``, anything outside them."""
    text = str(path or "").strip()
    if not text:
        return None
    if not text.startswith(("/", "~")):
        if roots is None or not roots.project:
            return None  # (a relative path Compose did not resolve: nothing to judge it against)
        text = posixpath.join(roots.project, text)
    shown = _path(os.path.expanduser(text))
    real = _real(shown)
    for candidate in dict.fromkeys((shown, real)):
        # the socket itself, or a directory holding it (`/run`, `/var/run`, `/var`, `/`)
        for sock in sockets:
            if _under(sock, candidate):
                what = "the Docker socket" if sock == candidate else f"the folder of {sock}"
                return f"{verb} {what} ({candidate}): the host could drive the engine"
        if candidate in HARMLESS_DEVICES or (candidate in HARMLESS_FILES and read_only):
            return None
        for top in KERNEL_PATHS:
            if _under(candidate, top):
                why = "the host could act on the machine"
                return f"{verb} the machine's {top} ({candidate}): {why}"
        for top in ENGINE_STATE:
            if _under(candidate, top):
                return f"{verb} the engine's state ({candidate}): every container's files"
    if roots is None or any(_under(real, root) for root in roots.folders):
        return None
    link = f" (a link to {real})" if real != shown else ""
    return f"{verb} {shown}{link}, outside {roots.hint}"


# -- the rules (pure) ----------------------------------------------------------------------------


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _items(value: Any) -> list[Any]:
    if isinstance(value, list | tuple):
        return list(value)
    return [] if value is None or isinstance(value, Mapping) else [value]


def _path(value: Any) -> str:
    """An absolute path as the kernel reads it (`//run/./x/..` is `/run`); others unchanged."""
    text = str(value or "").strip()
    return posixpath.normpath("/" + text.lstrip("/")) if text.startswith("/") else text


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


def _sockets(docker_host: str) -> tuple[str, ...]:
    """The Docker sockets of this machine: the usual ones and DOCKER_HOST's, when a socket."""
    extra = docker_host.removeprefix("unix://") if docker_host.startswith("unix://") else ""
    return tuple(dict.fromkeys([*DOCKER_SOCKETS, *([_path(extra)] if extra else [])]))


def _under(path: str, top: str) -> bool:
    return path == top or path.startswith(top.rstrip("/") + "/")


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


# -- reading a user's compose file ---------------------------------------------------------------


def _compose_node(text: str, source: str) -> yaml.Node | None:
    """The YAML node graph of ``text``, bounded in nesting (no Python objects are built, so
    Compose's own tags, ``!reset`` and ``!override``, need no constructor)."""

    def fail(problem: str) -> UsageError:
        return UsageError(_one_line(f"{source}: {problem}"))

    try:
        return yaml.compose(text, Loader=_Loader)  # _Loader: a SafeLoader, nesting bounded
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        problem = e.problem or e.context or "malformed YAML"
        if problem.startswith("nested deeper"):
            raise fail(f"{where}nested deeper than {MAX_DEPTH} levels") from e
        if e.problem and e.context:
            problem = f"{e.problem} ({e.context})"
        raise fail(f"{where}YAML syntax error: {_clip(problem, 200)}") from e
    except yaml.YAMLError as e:  # a reader error: a character YAML does not allow
        raise fail(f"YAML syntax error: {_clip(str(e), 200)}") from e
    except RecursionError as e:
        raise fail("YAML nested too deeply to read") from e


def _expanded_size(root: yaml.Node, source: str) -> int:
    """How many nodes ``root`` has once every alias is expanded (as Compose expands them)."""
    sizes: dict[int, int] = {}
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    open_: set[int] = set()
    while stack:
        node, children_done = stack.pop()
        if id(node) in sizes:
            continue
        kids: list[yaml.Node] = []
        if isinstance(node, yaml.SequenceNode):
            kids = list(node.value)
        elif isinstance(node, yaml.MappingNode):
            kids = [n for pair in node.value for n in pair]
        if children_done or not kids:
            open_.discard(id(node))
            total = 1 + sum(sizes[id(k)] for k in kids)
            if total > MAX_NODES:
                raise UsageError(
                    f"{source}: its aliases expand to more than {MAX_NODES} YAML nodes"
                    f" (line {node.start_mark.line + 1}); a compose file needs a few hundred"
                )
            sizes[id(node)] = total
            continue
        if id(node) in open_:
            raise UsageError(
                f"{source}: line {node.start_mark.line + 1}: an alias refers to a node that holds"
                " it; compose files cannot be recursive"
            )
        open_.add(id(node))
        stack.append((node, True))
        stack.extend((k, False) for k in kids if id(k) not in sizes)
    return sizes[id(root)]


def _pairs(node: yaml.Node | None) -> list[tuple[str, yaml.Node]]:
    if not isinstance(node, yaml.MappingNode):
        return []
    return [(str(k.value), v) for k, v in node.value if isinstance(k, yaml.ScalarNode)]


def _duplicate_keys(root: yaml.Node, source: str) -> None:
    seen_nodes: set[int] = set()
    todo = [root]
    while todo:
        node = todo.pop()
        if id(node) in seen_nodes:
            continue
        seen_nodes.add(id(node))
        if isinstance(node, yaml.SequenceNode):
            todo.extend(node.value)
        elif isinstance(node, yaml.MappingNode):
            keys: set[str] = set()
            for key, value in node.value:
                if isinstance(key, yaml.ScalarNode) and key.tag != "tag:yaml.org,2002:merge":
                    if key.value in keys:
                        raise UsageError(
                            f"{source}: line {key.start_mark.line + 1}: duplicate key"
                            f" {key.value[:40]!r}; each key may appear once per mapping"
                        )
                    keys.add(key.value)
                todo.extend((key, value))


def _null(node: yaml.Node) -> bool:
    return isinstance(node, yaml.ScalarNode) and node.tag == "tag:yaml.org,2002:null"


def _kind(node: yaml.Node) -> str:
    if isinstance(node, yaml.SequenceNode):
        return "a list"
    if isinstance(node, yaml.MappingNode):
        return "a mapping"
    return f"{_clip(repr(node.value), 40)}"


def _referenced(root: yaml.Node, here: Path, project_dir: Path) -> list[Path]:
    """Files this one pulls in (``include``, ``extends.file``), when named literally: Compose
    reads a relative one from the project's folder (``compose/``); the file's own folder is
    read too, in case."""
    names: list[str] = []
    for key, value in _pairs(root):
        if key == "include":
            entries = value.value if isinstance(value, yaml.SequenceNode) else []
            for entry in entries:
                if isinstance(entry, yaml.ScalarNode):
                    names.append(str(entry.value))
                for k, v in _pairs(entry):
                    if k == "path":
                        seq = v.value if isinstance(v, yaml.SequenceNode) else [v]
                        names += [str(s.value) for s in seq if isinstance(s, yaml.ScalarNode)]
        if key == "services":
            for _name, svc in _pairs(value):
                extends = dict(_pairs(svc)).get("extends")
                file = dict(_pairs(extends)).get("file")
                if isinstance(file, yaml.ScalarNode):
                    names.append(str(file.value))
    # a path Compose interpolates (`${...}`) is only known to Compose: CONFIG_TIMEOUT_S guards it
    literal = [n for n in names if "$" not in n and "://" not in n]
    return [d / n for n in literal for d in dict.fromkeys([project_dir, here.parent])]


def read_compose_file(path: Path, project_dir: Path) -> list[Path]:
    """Refuse (UsageError, one line naming the file and what is valid) a compose file that is
    missing, larger than 1 MiB, not UTF-8, not YAML, nested absurdly deep, holding duplicate keys
    or aliases that expand without bound, or whose ``services`` is not a mapping of service name
    to settings. Return the files it pulls in (``include``, ``extends``)."""
    source = str(path)
    if not path.is_file():
        raise UsageError(f"{source}: compose file not found")
    text = read_text(path, "compose")  # a ScenarioError (a UsageError) names the problem
    root = _compose_node(text, source)
    if root is None or _null(root):
        return []  # an empty file: Compose accepts it, it changes nothing
    _expanded_size(root, source)
    _duplicate_keys(root, source)
    if not isinstance(root, yaml.MappingNode):
        raise UsageError(
            f"{source}: expected a mapping (a compose file: services, volumes, networks, x-...),"
            f" not {_kind(root)}"
        )
    for key, value in _pairs(root):
        if key != "services" or _null(value):
            continue
        if not isinstance(value, yaml.MappingNode):
            raise UsageError(
                f"{source}: services: expected a mapping of service name to its settings,"
                f" not {_kind(value)}"
            )
        for name, svc in _pairs(value):
            if not (isinstance(svc, yaml.MappingNode) or _null(svc)):
                shown = _one_line(name[:40])
                raise UsageError(
                    f"{source}: services.{shown}: expected a mapping of settings (image, volumes,"
                    f" ports, ...), not {_kind(svc)}"
                )
    return _referenced(root, path, project_dir)


def _plain(value: Any) -> Any:
    """A value as written, without its compose tag (``!reset``, ``!override``)."""
    from reboot_harness.stack.anchor import Tagged

    return value.value if isinstance(value, Tagged) else value


def _load_tagged(path: Path) -> Any:
    """``path`` (already read by :func:`read_compose_file`) with anchors, aliases and merge keys
    applied as Compose applies them; compose tags kept."""
    from reboot_harness.stack.anchor import _Loader as TaggedLoader

    return yaml.load(read_text(path, "compose"), Loader=TaggedLoader)  # a SafeLoader subclass


@functools.lru_cache(maxsize=8)
def _harness_env_files(compose_dir: Path) -> frozenset[str]:
    """The ``env_file`` paths the harness's stack names (its secrets, through
    ``${RH_SECRETS_FILE...}``): a user's file may name them as they are written there."""
    try:
        doc = _mapping(_plain(_load_tagged(compose_dir / "stack.yaml")))
    except (UsageError, yaml.YAMLError):
        return frozenset()
    return frozenset(
        str(_mapping(ref).get("path") if isinstance(ref, Mapping) else ref)
        for svc in _mapping(_plain(doc.get("services"))).values()
        for ref in _items(_plain(_mapping(_plain(svc)).get("env_file")))
    )


def named_paths(path: Path, roots: Roots, compose_dir: Path, docker_host: str = "") -> list[str]:
    """What the user's compose file ``path`` names for Compose to read while it resolves —
    ``include`` (files, env files, project folders), ``extends.file``, ``env_file``,
    ``label_file`` — that lies outside ``roots``, is a machine path of the deny-list, comes from
    the network, or goes through a variable (``${...}``: known only to Compose, which reads the
    file before anyone could judge it). Compose drops these from what it prints, so they are
    read here, as written. A relative path is judged where Compose may read it from: beside the
    file (an own file's paths are anchored there) and in the project folder ``compose_dir``."""
    found: list[str] = []
    here = path.resolve().parent
    sockets = _sockets(docker_host)

    def judge(where: str, value: object, key: str) -> None:
        if not isinstance(value, str) or not value.strip():
            return
        if "$" in value:
            if key != "env_file" or value not in _harness_env_files(compose_dir):
                found.append(f"{where}: {value}: a path through a variable cannot be judged"
                             " before Compose reads it; write it out")  # fmt: skip
        elif "://" in value or value.startswith("git@"):
            found.append(f"{where}: {value}: a file from the network cannot be judged before"
                         " Compose fetches it; copy it beside the compose file")  # fmt: skip
        else:
            near = [str(here / value), str(compose_dir / value)]
            for candidate in [value] if value.startswith(("/", "~")) else near:
                if problem := _machine_path(candidate, "reads", sockets, roots):
                    found.append(f"{where}: {problem}")
                    return

    root = _mapping(_plain(_load_tagged(path)))
    for entry in map(_plain, _items(_plain(root.get("include")))):
        if not isinstance(entry, Mapping):
            judge("include", entry, "include")
            continue
        for file in _items(_plain(entry.get("path"))):
            judge("include", _plain(file), "include")
        for env in _items(_plain(entry.get("env_file"))):
            judge("include: env_file", _plain(env), "env_file")
        judge("include: project_directory", _plain(entry.get("project_directory")), "include")
    for name, svc in _mapping(_plain(root.get("services"))).items():
        svc = _mapping(_plain(svc))
        if isinstance(extends := _plain(svc.get("extends")), Mapping):
            judge(f"service {name}: extends", _plain(extends.get("file")), "extends")
        for key in ("env_file", "label_file"):
            for ref in map(_plain, _items(_plain(svc.get(key)))):
                value = _plain(ref.get("path")) if isinstance(ref, Mapping) else ref
                judge(f"service {name}: {key}", value, key)
    return [_clip(f, 300) for f in found]


# -- resolving without the engine ----------------------------------------------------------------


def _last_line(stderr: bytes) -> str:
    """Compose's error: its last line that is not a warning (`level=warning` lines come first)."""
    lines = [
        line.strip()
        for line in stderr.decode("utf-8", "replace").splitlines()
        if line.strip() and "level=warning" not in line
    ]
    return _clip(lines[-1], 300) if lines else "no reason given"


def _no_compose(what: str) -> EnvironmentProblem:
    """What the machine lacks (no `docker`, no Compose v2 plugin), saying what to install.

    Not asked up front: `docker compose version` costs as much as the resolution itself."""
    from reboot_harness.stack.engine import SETUP_HINT, compose_version

    compose_version.cache_clear()
    try:
        compose_version()
    except EnvironmentProblem as e:
        return e
    return EnvironmentProblem(f"`docker compose config` could not run ({what}); {SETUP_HINT}")


def _as_started(path: Path, into: Path, compose_dir: Path) -> Path:
    """A user's own file as `start` hands it to Compose: its relative paths anchored to its own
    folder (reboot_harness.stack.anchor), so that binds are judged where they will point."""
    from reboot_harness.stack.anchor import anchored_copy, is_own

    if not is_own(path, compose_dir):
        return path
    root = _compose_node(read_text(path, "compose"), str(path))
    if root is None or _null(root):
        return path  # nothing to anchor (and a copy holding `null` is no compose file)
    return anchored_copy(path, into)


def resolve_offline(
    files: Sequence[Path],
    *,
    compose_dir: Path,
    project: str = "rh-check",
    domain: str = "rh.test",
    lenient: bool = False,
) -> dict[str, Any]:
    """Compose's resolved configuration of ``stack.yaml`` with ``files`` over it, as `up` would
    start it, without the engine: interpolated with the variables the harness sets (placeholders
    for what only starting decides — subnet, image tag, passwords — which no rule reads), with
    the services of every profile (one that is not started now may be later, by name).
    ``lenient``: without Compose's consistency checks (a file that needs another's volumes or
    services resolves alone).

    Raises:
        EnvironmentProblem: no `docker` command or no Compose v2 plugin.
        UsageError: Compose refuses the files (its reason, one line), or takes too long.
    """
    placeholder = ProjectState(
        name=project, compose_dir=str(compose_dir), compose_files=(), subnet_prefix="172.30.0",
        domain=domain, image_tag="latest", base_image="debian:bookworm-slim", owner="manual",
        keep=False,
    )  # fmt: skip
    shown = ", ".join(str(f) for f in files) or str(compose_dir / "stack.yaml")
    with tempfile.TemporaryDirectory(prefix="rh-compose-") as tmp:
        secrets_file = Path(tmp) / "secrets.env"
        secrets_file.write_text("".join(f"{k}=\n" for k in SECRET_NAMES), encoding="utf-8")
        env_file = Path(tmp) / "compose.env"
        values = {**placeholder.compose_env(), "RH_SECRETS_FILE": str(secrets_file)}
        env_file.write_text("".join(f"{k}={v}\n" for k, v in values.items()), encoding="utf-8")
        given = [_as_started(f, Path(tmp), compose_dir) for f in files]
        all_files = [compose_dir / "stack.yaml", *given]
        cmd = ["docker", "compose", "--profile", "*"]
        cmd += [a for f in all_files for a in ("-f", str(f.absolute()))]
        cmd += ["--env-file", str(env_file), "config", "--format", "json"]
        cmd += ["--no-consistency"] if lenient else []
        env = {k: v for k, v in os.environ.items() if k != "DOCKER_CONTEXT"}
        env["DOCKER_HOST"] = NO_ENGINE
        # Its own session, so that it can be killed whole (the CLI and its compose plugin) on a
        # timeout or Ctrl-C: nothing of it outlives the refusal.
        try:
            proc = subprocess.Popen(
                cmd, cwd=compose_dir, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                stderr=subprocess.PIPE, start_new_session=True,
            )  # fmt: skip
        except OSError as e:
            raise _no_compose(e.strerror or str(e)) from e
        try:
            out, err = proc.communicate(timeout=CONFIG_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            raise UsageError(
                f"compose files ({shown}): `docker compose config` did not finish within"
                f" {CONFIG_TIMEOUT_S:.0f} s; simplify them (include, extends, env files)"
            ) from None
        finally:
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):  # (it ended just now)
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
    if proc.returncode != 0:
        if b"is not a docker command" in err:
            raise _no_compose(_last_line(err))
        raise UsageError(f"compose files do not parse ({shown}): {_last_line(err)}")
    try:
        resolved = json.loads(out)
    except ValueError as e:
        raise UsageError(f"compose files ({shown}): `docker compose config` said no JSON") from e
    return resolved if isinstance(resolved, dict) else {}


def refuse_unsafe(
    file_sets: Sequence[Sequence[Path]],
    *,
    compose_dir: Path,
    project: str = "rh-check",
    domain: str = "rh.test",
    allow: bool = False,
    code_dir: str = "",
) -> list[str]:
    """Refuse, before the engine is asked anything, compose files that cannot be read or whose
    configuration voids the rehearsal (one UsageError line naming the file, the service and key).

    Args:
        file_sets: for each stack about to start, the files layered over ``stack.yaml``. Files
            inside ``compose_dir`` are the harness's own: read, never judged.
        compose_dir: the harness's compose folder.
        project: the stack's name (the names its volumes and networks get).
        domain: the stack's domain.
        allow: `--allow-unsafe-compose`: refuse only what cannot be read or resolved.
        code_dir: the folder a topology's Python checks are imported from (a root, see
            :class:`Roots`); empty without one.

    Returns:
        The problems ``allow`` let through (the runner warns about each).
    """
    from reboot_harness.stack.anchor import is_own

    docker_host = os.environ.get("DOCKER_HOST", "")
    # (given, path): a file the user named must exist; one it pulls in is read when it exists
    # where we would look (Compose, which resolves it for real, names a missing one itself)
    pending = [(True, p) for files in file_sets for p in files]
    read: set[Path] = set()
    named: list[tuple[Path, list[str]]] = []
    while pending:
        given, path = pending.pop(0)
        if path.resolve() in read or not (given or path.is_file()):
            continue
        read.add(path.resolve())
        if len(read) > MAX_FILES:
            raise UsageError(f"{path}: more than {MAX_FILES} compose files through include and"
                             " extends; a stack needs a few")  # fmt: skip
        pending += [(False, p) for p in read_compose_file(path, compose_dir)]
        if is_own(path, compose_dir):
            roots = Roots.of([path], compose_dir, code_dir)
            if found := named_paths(path, roots, compose_dir, docker_host):
                named.append((path, found))
    allowed = [problem for _path, found in named for problem in found]
    if named and not allow:
        path, found = named[0]
        raise UsageError(refusal(found, [str(path)]))

    def own(files: Sequence[Path]) -> tuple[Path, ...]:
        return tuple(f for f in files if is_own(f, compose_dir))

    # Judged: each set holding a file of the user's; and each of the user's files alone, when a
    # set holds several (a path it names must lie in its own folder, not another file's).
    sets = list(dict.fromkeys(tuple(files) for files in file_sets if own(files)))
    alone = [(f,) for files in sets if len(own(files)) > 1 for f in own(files)]
    jobs = [(files, False) for files in sets] + [
        (files, True) for files in dict.fromkeys(alone) if files not in sets
    ]

    def resolve(job: tuple[tuple[Path, ...], bool]) -> dict[str, Any] | None:
        files, lenient = job
        try:
            return resolve_offline(files, compose_dir=compose_dir, project=project,
                                   domain=domain, lenient=lenient)  # fmt: skip
        except UsageError:
            if lenient:
                return None  # (a file that cannot stand alone: its set is judged whole)
            raise

    if len(jobs) <= 1:  # in this thread: Ctrl-C reaches it (and kills Compose) at once
        configs = [resolve(job) for job in jobs]
    else:
        with ThreadPoolExecutor(max_workers=min(4, len(jobs))) as pool:
            configs = list(pool.map(resolve, jobs))
    resolved = {files: config for (files, _lenient), config in zip(jobs, configs, strict=True)}
    baselines: dict[tuple[Path, ...], dict[str, Any]] = {}

    def judge(files: tuple[Path, ...]) -> list[str]:
        config, whole = resolved.get(files), files in sets
        if config is None:
            return []
        roots = Roots.of(own(files), compose_dir, code_dir)
        if not unsafe(config, docker_host, roots=roots, whole=whole):
            return []
        # Something to refuse, unless the harness's own files give it: judge again beside them
        harness = tuple(f for f in files if not is_own(f, compose_dir))
        if harness not in baselines:
            baselines[harness] = resolve_offline(
                harness, compose_dir=compose_dir, project=project, domain=domain
            )
        return unsafe(config, docker_host, roots=roots, baseline=baselines[harness], whole=whole)

    for files in [*dict.fromkeys(alone), *sets]:  # the user's files alone first: named exactly
        if problems := judge(files):
            if not allow:
                raise UsageError(refusal(problems, [str(f) for f in files]))
            allowed += problems
    return list(dict.fromkeys(allowed))
