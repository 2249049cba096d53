"""What a compose configuration must not do to be a rehearsal of reboots, and how it is judged
before the Docker engine is asked anything.

:func:`unsafe` (pure) reads the resolved configuration, ``docker compose config --format json``.
A host that is privileged, holds extra capabilities or devices, binds the Docker socket or the
machine's kernel interfaces, joins a namespace of the machine (network, pid, ipc, uts, user,
cgroup) or of a container outside the stack, or runs without seccomp/AppArmor confinement can
reach past its container: the machine itself is then part of the test. A host without the tmpfs
``/run``, without its boot ulimits, or with a restart policy no longer boots like a server
(``/run`` survives, limits are the engine's, the engine boots it instead of the scenario), which
silently voids what every scenario checks. A port published beyond the loopback address exposes
the rehearsal stack (and its generated passwords' services) to the network. Each is refused
unless the user says ``--allow-unsafe-compose``.

:func:`refuse_unsafe` applies it to the user's files before anything else happens: each file is
read first (size, UTF-8, YAML, nesting, aliases that would expand without bound, the shape of
``services``), then Compose resolves them (interpolation, ``extends``, ``include``, merging,
``!reset``/``!override``) with the engine out of reach — ``config`` needs no daemon — so an
unsafe file is named in one line whether or not an engine runs, and nothing is created.
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import os
import posixpath
import signal
import subprocess
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import yaml

from harness.errors import EnvironmentProblem, UsageError
from harness.scenario.messages import _clip, _one_line
from harness.scenario.yamlfile import MAX_DEPTH, _Loader, read_text
from harness.state import SECRET_NAMES, ProjectState

DOCKER_SOCKETS = ("/var/run/docker.sock", "/run/docker.sock")
# The machine's kernel interfaces: a host that sees them can act on the machine itself
# (/proc/sysrq-trigger reboots it, /sys powers devices off, /dev reaches its disks).
KERNEL_PATHS = ("/proc", "/sys", "/dev")
# ... but these device nodes every host has anyway (a bind of /dev/null masks a file)
HARMLESS_DEVICES = ("/dev/null", "/dev/zero", "/dev/full", "/dev/random", "/dev/urandom")
# Options that take away the engine's confinement of a host (every host runs as it would on a
# server without them: supervisord, no systemd, nothing that needs raw syscalls).
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


def _bind_problem(source: str, sockets: Sequence[str]) -> str | None:
    """Why binding ``source`` of the machine into a host voids the rehearsal, if it does."""
    if not source.startswith("/"):
        return None
    # the socket itself, or a directory holding it (`/run`, `/var/run`, `/var`, `/`)
    for sock in sockets:
        if _under(sock, source):
            what = "the Docker socket" if sock == source else f"the folder of {sock}"
            return f"binds {what} ({source}): the host could drive the engine"
    for top in KERNEL_PATHS:
        if _under(source, top) and source not in HARMLESS_DEVICES:
            return f"binds the machine's {top} ({source}): the host could act on the machine"
    return None


def _volume_binds(resolved: Mapping[str, Any]) -> dict[str, str]:
    """Named volumes that are binds in disguise (local driver, ``o: bind``, ``device: PATH``)."""
    binds = {}
    for name, vol in _mapping(resolved.get("volumes")).items():
        opts = _mapping(_mapping(vol).get("driver_opts"))
        if "bind" in str(opts.get("o") or "").split(",") and opts.get("device"):
            binds[str(name)] = _path(opts.get("device"))
    return binds


def _loopback(ip: str) -> bool:
    try:
        return ipaddress.ip_address(ip.strip("[]")).is_loopback
    except ValueError:
        return False


def _service_problems(
    svc: Mapping[str, Any], binds: Mapping[str, str], sockets: Sequence[str]
) -> Iterator[tuple[str, str]]:
    if svc.get("privileged") is True or str(svc.get("privileged")).lower() == "true":
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
    for ns in NAMESPACES:
        mode = str(svc.get(ns) or "")
        if mode == "host":
            yield ns, "the machine's own namespace, not the host's"
        elif mode.startswith("container:"):
            yield ns, f"the namespace of {mode}, a container outside the stack"
    for source in map(str, _items(svc.get("volumes_from"))):
        if source.startswith("container:"):
            yield "volumes_from", f"the volumes of {source}, a container outside the stack"
    for opt in map(str, _items(svc.get("security_opt"))):
        if opt.replace(" ", "") in UNCONFINED:
            yield "security_opt", f"{opt}: the host runs without the engine's confinement"
    for vol in map(_mapping, _items(svc.get("volumes"))):
        kind = vol.get("type")
        source = _path(vol.get("source"))
        if kind == "volume" and source in binds:
            source = binds[source]  # a named volume that binds a path of the machine
        elif kind != "bind":
            continue
        if problem := _bind_problem(source, sockets):
            yield "volumes", problem
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
    for port in map(_mapping, _items(svc.get("ports"))):
        ip = str(port.get("host_ip") or "")
        if not _loopback(ip):
            target = port.get("target")
            yield "ports", f"port {target} published on {ip or 'every address'}, not 127.0.0.1"
    # Not refused: `sysctls` (the engine allows only namespaced ones, net.* and IPC, set in the
    # host's own namespaces at every start, as sysctl.d does at a server's boot: the machine is
    # untouched and a reboot behaves as on a server); `network_mode`/`pid`/`ipc: service:NAME`
    # (see NAMESPACES); `runtime`, `init`, `read_only` (how a host boots, not what it reaches).


def unsafe(resolved: Mapping[str, Any], docker_host: str | None = None) -> list[str]:
    """Every unsafe setting, as ``service SERVICE: KEY: what`` (empty: safe).

    ``resolved`` is Compose's resolved configuration; any other shape (a value of another type)
    is read as leniently as possible and never raises. ``docker_host``: the engine's address
    (default ``$DOCKER_HOST``), whose socket counts as a Docker socket.
    """
    if not isinstance(resolved, Mapping):
        return []
    where = os.environ.get("DOCKER_HOST", "") if docker_host is None else docker_host
    sockets = _sockets(where)
    binds = _volume_binds(resolved)
    found: list[str] = []
    services = _mapping(resolved.get("services"))
    for name in sorted(services, key=str):
        for key, what in _service_problems(_mapping(services[name]), binds, sockets):
            found.append(_clip(f"service {name}: {key}: {what}", 300))  # one line, short
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
    from harness.stack.engine import SETUP_HINT, compose_version

    compose_version.cache_clear()
    try:
        compose_version()
    except EnvironmentProblem as e:
        return e
    return EnvironmentProblem(f"`docker compose config` could not run ({what}); {SETUP_HINT}")


def _as_started(path: Path, into: Path, compose_dir: Path) -> Path:
    """A user's own file as `start` hands it to Compose: its relative paths anchored to its own
    folder (harness.stack.anchor), so that binds are judged where they will point."""
    from harness.stack.anchor import anchored_copy, is_own

    if not is_own(path, compose_dir):
        return path
    root = _compose_node(read_text(path, "compose"), str(path))
    if root is None or _null(root):
        return path  # nothing to anchor (and a copy holding `null` is no compose file)
    return anchored_copy(path, into)


def resolve_offline(
    files: Sequence[Path], *, compose_dir: Path, project: str = "rh-check", domain: str = "rh.test"
) -> dict[str, Any]:
    """Compose's resolved configuration of ``stack.yaml`` with ``files`` over it, as `up` would
    start it, without the engine: interpolated with the variables the harness sets (placeholders
    for what only starting decides — subnet, image tag, passwords — which no rule reads).

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
        cmd = ["docker", "compose", *(a for f in all_files for a in ("-f", str(f.absolute())))]
        cmd += ["--env-file", str(env_file), "config", "--format", "json"]
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
) -> None:
    """Refuse, before the engine is asked anything, compose files that cannot be read or whose
    configuration voids the rehearsal (one UsageError line naming the file, or the service and
    key). ``file_sets``: for each stack about to start, the files layered over ``stack.yaml``.
    ``allow`` (`--allow-unsafe-compose`): refuse only what cannot be read or resolved.
    """
    # (given, path): a file the user named must exist; one it pulls in is read when it exists
    # where we would look (Compose, which resolves it for real, names a missing one itself)
    pending = [(True, p) for files in file_sets for p in files]
    read: set[Path] = set()
    while pending:
        given, path = pending.pop(0)
        if path.resolve() in read or not (given or path.is_file()):
            continue
        read.add(path.resolve())
        if len(read) > MAX_FILES:
            raise UsageError(f"{path}: more than {MAX_FILES} compose files through include and"
                             " extends; a stack needs a few")  # fmt: skip
        pending += [(False, p) for p in read_compose_file(path, compose_dir)]
    distinct = list(dict.fromkeys(tuple(files) for files in file_sets))

    def judge(files: tuple[Path, ...]) -> list[str]:
        return unsafe(
            resolve_offline(files, compose_dir=compose_dir, project=project, domain=domain)
        )

    if len(distinct) == 1:  # in this thread: Ctrl-C reaches it (and kills Compose) at once
        verdicts = [judge(distinct[0])]
    else:
        with ThreadPoolExecutor(max_workers=min(4, len(distinct))) as pool:
            verdicts = list(pool.map(judge, distinct))
    for files, problems in zip(distinct, verdicts, strict=True):
        if problems and not allow:
            raise UsageError(refusal(problems, [str(f) for f in files]))
