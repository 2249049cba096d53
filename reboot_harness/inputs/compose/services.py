"""A user's compose file read as its services, the way `doctor` and `init --from` see it: anchors,
merge keys and compose tags applied as the rest of inputs/compose reads them (files, anchor),
``extends`` (in the file or another beside it) merged in, the services of the files it
``include``-s added; then what each service publishes, mounts and runs, and which software it
is.

No engine and no `docker compose config`: a file the harness will never start is judged as
written, so the file, service and key of every finding are the user's own.
"""

from __future__ import annotations

import os
import posixpath
import re
import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any

from reboot_harness.errors import UsageError
from reboot_harness.inputs.compose.anchor import Tagged
from reboot_harness.inputs.compose.files import _load_tagged, _plain, read_compose_file
from reboot_harness.inputs.compose.roots import _items, _mapping, _path
from reboot_harness.inputs.compose.rules import _loopback

MAX_EXTENDS = 16  # services one service may extend, one through the next


@dataclass(frozen=True)
class Service:
    """One service of a user's compose file.

    Attributes:
        name: its name under ``services``.
        file: the compose file that defines it (as the user named it).
        settings: its settings as written, anchors, merge keys and ``extends`` applied, compose
            tags (``!reset``, ``!override``) resolved.
    """

    name: str
    file: Path
    settings: Mapping[str, Any]

    @property
    def folder(self) -> Path:
        """Where its relative paths point (the folder of its file)."""
        return self.file.resolve().parent


def _untagged(value: Any) -> Any:
    """``value`` with compose tags resolved: ``!reset`` drops the key, ``!override`` keeps its
    value (one file alone: there is nothing under it to reset or override)."""
    if isinstance(value, Tagged):
        return None if value.tag == "!reset" else _untagged(value.value)
    if isinstance(value, Mapping):
        return {
            str(k): _untagged(v)
            for k, v in value.items()
            if not (isinstance(v, Tagged) and v.tag == "!reset")
        }
    if isinstance(value, list):
        return [_untagged(v) for v in value]
    return value


def _merged(base: Any, mine: Any) -> Any:
    """``mine`` over ``base`` as ``extends`` merges them: mappings key by key, a list gains the
    items it lacks, anything else is replaced."""
    if isinstance(base, Mapping) and isinstance(mine, Mapping):
        out = dict(base)
        for key, value in mine.items():
            out[key] = _merged(base[key], value) if key in base else value
        return out
    if isinstance(base, list) and isinstance(mine, list):
        return [*base, *(item for item in mine if item not in base)]
    return mine


def _document(path: Path) -> dict[str, Any]:
    """``path`` read and refused as `up` refuses a compose file (one line): its mapping, each
    service a mapping whose values keep their compose tags (``extends`` applies them)."""
    read_compose_file(path, path.resolve().parent)
    loaded = _load_tagged(path)
    doc = dict(loaded) if isinstance(loaded, Mapping) else {}
    services = _plain(doc.get("services"))
    # (read_compose_file refused a service that is not a mapping; null is an empty one)
    doc["services"] = {
        str(name): dict(_plain(svc) or {}) for name, svc in _mapping(services).items()
    }
    return doc


def read_services(path: Path) -> tuple[Service, ...]:
    """The services of the compose file ``path`` and of the files it includes, in their
    order (an included file's first).

    Raises:
        UsageError: a file cannot be read, is not YAML or not a compose file (no services), a
            service is defined twice, or extends one that is not there (one line naming the
            file and key).
    """
    docs: dict[Path, dict[str, Any]] = {}
    files = _included(path, docs, ())
    found: dict[str, Path] = {}
    for file in files:
        for name in docs[file.resolve()]["services"]:
            if name in found:
                raise UsageError(
                    f"{file}: services.{name}: defined in {found[name]} too (include); Compose"
                    " refuses a service defined twice: rename one"
                )
            found[name] = file
    if not found:
        raise UsageError(
            f"{path}: not a compose file: no services (expected services: {{NAME: {{image: ...,"
            " command: ...}}}})"
        )
    return tuple(
        Service(name, file, MappingProxyType(_extended(file, name, docs, ())))
        for name, file in found.items()
    )


def _included(path: Path, docs: dict[Path, dict[str, Any]], chain: tuple[Path, ...]) -> list[Path]:
    """``path`` after the files it includes (theirs first), each read into ``docs``."""
    if path.resolve() in chain or len(chain) > MAX_EXTENDS:
        raise UsageError(f"{path}: include: a loop or more than {MAX_EXTENDS} deep; break it")
    if path.resolve() in docs:
        return []
    docs[path.resolve()] = doc = _document(path)
    files: list[Path] = []
    for entry in _items(_untagged(doc.get("include"))):
        for name in _items(entry.get("path") if isinstance(entry, Mapping) else entry):
            included = Path(os.path.expanduser(str(name)))
            included = included if included.is_absolute() else path.parent / included
            if not included.is_file():
                raise UsageError(f"{path}: include: {name} not found")
            files += _included(included, docs, (*chain, path.resolve()))
    return [*files, path]


def _extended(
    path: Path, name: str, docs: dict[Path, dict[str, Any]], chain: tuple[str, ...]
) -> dict[str, Any]:
    """Service ``name`` of ``path`` with what it extends merged under it (a key tagged
    ``!override`` replaces the base's, one tagged ``!reset`` removes it)."""
    where = f"{path}: services.{name}"
    if len(chain) > MAX_EXTENDS or f"{path.resolve()}:{name}" in chain:
        raise UsageError(f"{where}: extends: a loop or more than {MAX_EXTENDS} deep; break it")
    raw = docs[path.resolve()]["services"][name]
    svc = {k: _untagged(v) for k, v in raw.items() if not isinstance(v, Tagged)}
    replaced = {k: _untagged(v) for k, v in raw.items() if isinstance(v, Tagged)}
    extends = svc.pop("extends", None)
    if extends is None:
        return {**svc, **{k: v for k, v in replaced.items() if v is not None}}
    spec = {"service": extends} if isinstance(extends, str) else _mapping(extends)
    base_name = str(spec.get("service") or "")
    base_path = path
    if spec.get("file"):
        base_path = Path(os.path.expanduser(str(spec["file"])))
        base_path = base_path if base_path.is_absolute() else path.resolve().parent / base_path
        if base_path.resolve() not in docs:
            if not base_path.is_file():
                raise UsageError(f"{where}: extends.file: {spec['file']} not found")
            docs[base_path.resolve()] = _document(base_path)
    if base_name not in docs[base_path.resolve()]["services"]:
        raise UsageError(
            f"{where}: extends.service: no service {base_name!r} in {base_path}; name one of its"
            " services"
        )
    base = _extended(base_path, base_name, docs, (*chain, f"{path.resolve()}:{name}"))
    merged = dict(_merged(base, svc))
    for key, value in replaced.items():
        if value is None:
            merged.pop(key, None)
        else:
            merged[key] = value
    return merged


# -- what a service publishes, mounts and runs ---------------------------------------------------


def _split_colons(text: str) -> list[str]:
    """``text`` split at the colons outside ``${...}`` and ``[...]`` (variables, IPv6)."""
    parts, depth, current = [], 0, ""
    for char in text:
        if char in "{[":
            depth += 1
        elif char in "}]":
            depth = max(0, depth - 1)
        if char == ":" and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += char
    return [*parts, current]


@dataclass(frozen=True)
class Port:
    """One entry of ``ports``: the address it is published on ("" = every address), as written."""

    entry: Any
    host_ip: str

    @property
    def loopback(self) -> bool:
        return _loopback(self.host_ip)

    def on_loopback(self) -> Any:
        """The same entry published on 127.0.0.1 only."""
        if isinstance(self.entry, Mapping):
            return {**self.entry, "host_ip": "127.0.0.1"}
        parts = _split_colons(str(self.entry))
        rest = parts[1:] if len(parts) == 3 else parts  # (a host address, dropped)
        return ":".join(["127.0.0.1", *(rest if len(rest) == 2 else ["", *rest])])

    def ephemeral(self) -> Any:
        """The same container port published on 127.0.0.1 at a port the engine picks (as the
        shipped stack's are: stacks side by side never collide)."""
        if isinstance(self.entry, Mapping):
            return {k: v for k, v in {**self.entry, "host_ip": "127.0.0.1"}.items()
                    if k != "published"}  # fmt: skip
        return f"127.0.0.1::{_split_colons(str(self.entry))[-1]}"

    def shown(self) -> str:
        if isinstance(self.entry, Mapping):
            published = self.entry.get("published")
            return f"{published or ''}:{self.entry.get('target')}".lstrip(":")
        return str(self.entry)


def ports(svc: Service) -> tuple[Port, ...]:
    """What ``svc`` publishes on the machine."""
    out = []
    for entry in _items(svc.settings.get("ports")):
        if isinstance(entry, Mapping):
            out.append(Port(dict(entry), str(entry.get("host_ip") or "")))
        else:
            parts = _split_colons(str(entry))
            out.append(Port(entry, parts[0] if len(parts) == 3 else ""))
    return tuple(out)


def served_ports(svc: Service) -> tuple[int, ...]:
    """The TCP ports ``svc`` serves inside its container, as its file says: the container side
    of ``ports`` and every ``expose``, in that order, each once (ranges, UDP and ports given
    by a variable are left out: nothing to try)."""
    found: list[int] = []
    for entry in [*_items(svc.settings.get("ports")), *_items(svc.settings.get("expose"))]:
        if isinstance(entry, Mapping):
            if str(entry.get("protocol") or "tcp") != "tcp":
                continue
            text = str(entry.get("target") or "")
        else:
            text, _, proto = str(entry).partition("/")
            if proto and proto != "tcp":
                continue
            text = _split_colons(text)[-1]
        if text.isdigit() and 0 < int(text) < 65536 and int(text) not in found:
            found.append(int(text))
    return tuple(found)


def has_healthcheck(svc: Service) -> bool:
    """Whether ``svc``'s file gives it a healthcheck (one that is not disabled)."""
    health = svc.settings.get("healthcheck")
    test = _mapping(health).get("test")
    return not (
        not isinstance(health, Mapping)
        or health.get("disable") is True
        or [str(t).upper() for t in _items(test)][:1] == ["NONE"]
    )


@dataclass(frozen=True)
class Mount:
    """One entry of ``volumes``: ``kind`` bind, volume or tmpfs; ``source`` "" for an anonymous
    volume; ``target`` the path in the container."""

    entry: Any
    kind: str
    source: str
    target: str


def mounts(svc: Service) -> tuple[Mount, ...]:
    """What ``svc`` mounts (``volumes``, short and long syntax)."""
    out = []
    for entry in _items(svc.settings.get("volumes")):
        if isinstance(entry, Mapping):
            source = str(entry.get("source") or "")
            kind = str(entry.get("type") or ("volume" if not source.startswith((".", "/", "~"))
                                             else "bind"))  # fmt: skip
            out.append(Mount(dict(entry), kind, source, _path(entry.get("target"))))
            continue
        parts = _split_colons(str(entry))
        if len(parts) == 1:
            out.append(Mount(entry, "volume", "", _path(parts[0])))
            continue
        source = parts[0]
        kind = "bind" if source.startswith((".", "/", "~", "$")) else "volume"
        out.append(Mount(entry, kind, source, _path(parts[1])))
    return tuple(out)


def bind_source(svc: Service, mount: Mount) -> Path:
    """Where a bind mount's source lies on the machine."""
    source = Path(os.path.expanduser(mount.source))
    return source if source.is_absolute() else svc.folder / source


_WRAPPERS = frozenset({"exec", "nice", "ionice", "nohup", "setsid", "chpst", "runuser"})
_SWITCH_USER = frozenset({"gosu", "su-exec", "setpriv"})  # USER COMMAND...
_INITS = frozenset({"tini", "dumb-init", "catatonit", "docker-init"})  # [OPTIONS] [--] COMMAND
_SHELLS = frozenset({"sh", "bash", "ash", "dash", "zsh"})
# A script that ends in one of these is a loop or a wait of the shell's own: no program to name
_SHELL_WORDS = frozenset({"done", "fi", "esac", "}", "wait", "true", ":", "exit", "sleep"})
# An image's entrypoint script that runs its arguments (the official images': redis, nginx,
# postgres, mysql, mariadb, memcached all end in `exec "$@"`).
_ENTRYPOINT_SCRIPTS = frozenset({"docker-entrypoint.sh", "entrypoint.sh", "docker-entrypoint"})


def words(value: Any) -> list[str]:
    """``command``/``entrypoint`` as the words the engine runs (a string is split as a shell
    would; a list is taken as it is)."""
    if isinstance(value, list):
        return [str(w) for w in value]
    if value is None or isinstance(value, Mapping):
        return []
    try:
        return shlex.split(str(value))
    except ValueError:
        return str(value).split()


def program(argv: Sequence[str]) -> str:
    """The program that ``argv`` ends up running, past the wrappers that exec it (``exec``,
    ``gosu USER``, ``tini --``, ``env A=B``, ``sh -c '... && exec x'``, an entrypoint script);
    "" when it cannot be told (nothing, an option the image's entrypoint takes)."""
    args = list(argv)
    while args:
        head = posixpath.basename(args[0])
        if head in _WRAPPERS or head in _ENTRYPOINT_SCRIPTS:
            args = args[1:]
        elif head in _SWITCH_USER:
            args = args[2:]
        elif head in _INITS:
            args = args[1:]
            while args and args[0].startswith("-"):
                args = args[1:]
        elif head == "env":
            args = args[1:]
            while args and ("=" in args[0] or args[0].startswith("-")):
                # (-u NAME and -C DIR take the next word)
                args = args[2:] if args[0] in ("-u", "--unset", "-C", "--chdir") else args[1:]
        elif head in _SHELLS and "-c" in args[1:]:
            script = args[args.index("-c") + 1] if args.index("-c") + 1 < len(args) else ""
            # the last command of the script is the one it leaves running
            last = re.split(r"&&|\|\||[;&|\n]", script.strip().rstrip(";&"))[-1]
            found = program(words(last))
            return "" if found in _SHELL_WORDS else found
        elif head.startswith("-") or "=" in head:
            return ""
        else:
            return head
    return ""


def argv(svc: Service) -> list[str]:
    """Its ``entrypoint`` and ``command`` words (what it says it runs; options included)."""
    return words(svc.settings.get("entrypoint")) + words(svc.settings.get("command"))


def option(args: Sequence[str], names: tuple[str, ...]) -> int | None:
    """The number the last ``--name=N``, ``--name N`` or ``-xN`` (a one-letter ``-x``) of
    ``args`` gives (None: none)."""
    value = None
    for i, word in enumerate(args):
        for name in names:
            text = None
            if word == name and i + 1 < len(args):
                text = args[i + 1]
            elif word.startswith(name + "=") or (len(name) == 2 and word.startswith(name)):
                text = word[len(name) :].lstrip("=")
            if text is not None and text.isdigit():
                value = int(text)
    return value


def runs(svc: Service, image: tuple[tuple[str, ...], tuple[str, ...]] | None) -> str:
    """The program ``svc`` runs ("" when it cannot be told): its ``entrypoint`` (which clears the
    image's command) and ``command``, else the image's (``image``: its entrypoint and command,
    None when unknown)."""
    entrypoint = words(svc.settings.get("entrypoint"))
    command = words(svc.settings.get("command"))
    if "entrypoint" in svc.settings:
        return program([*entrypoint, *command])
    if command and (found := program(command)):
        return found
    if image is None:
        return ""
    return program([*image[0], *(command or image[1])])


# -- which software a service is -----------------------------------------------------------------


@dataclass(frozen=True)
class Software:
    """A server software the harness knows by name.

    Attributes:
        name: what messages call it.
        daemons: the names its processes run under (comm); the first is its main daemon.
        images: repository names (the last part of an image name, before ``-``) of images
            that run it as their command.
        role: the topology key of its hosts ("" when there is none yet).
    """

    name: str
    daemons: tuple[str, ...]
    images: tuple[str, ...]
    role: str


SOFTWARE: tuple[Software, ...] = (
    Software("nginx", ("nginx",), ("nginx",), "lbs"),
    Software("Redis", ("redis-server",), ("redis",), "redis_hosts"),
    # (no role: a host is a sentinel by its daemons, whether it runs a redis server too or not)
    Software("Redis Sentinel", ("redis-sentinel",), (), ""),
    Software("MariaDB", ("mariadbd", "mariadbd-safe"), ("mariadb",), "mysql_hosts"),
    Software("MySQL", ("mysqld", "mysqld_safe"), ("mysql", "percona"), "mysql_hosts"),
    Software("PostgreSQL", ("postgres", "postmaster"), ("postgres", "postgis"), "postgres_hosts"),
    Software("memcached", ("memcached",), ("memcached",), ""),
    Software("dnsmasq", ("dnsmasq",), ("dnsmasq",), "dns_host"),
    Software("carbon", ("carbon-cache",), (), "graphite_host"),
)


def image_repository(image: object) -> str:
    """``registry:5000/team/redis-stack:7@sha256:...`` -> ``redis``: the image's own name, the
    part before its first ``-``."""
    name = str(image or "").split("@", 1)[0].rsplit("/", 1)[-1].split(":", 1)[0]
    return name.lower().split("-", 1)[0]


def software(svc: Service, program_name: str) -> Software | None:
    """Which known software ``svc`` is: by the program it runs, else by its image's name when
    it runs the image's own command (an official image runs its software)."""
    comm = program_name[:15]
    for known in SOFTWARE:
        if comm in known.daemons or program_name.removesuffix(".py") in known.daemons:
            return known
    if program_name and ("command" in svc.settings or "entrypoint" in svc.settings):
        return None  # it runs something else than its image's software (a worker on `redis`)
    repository = image_repository(svc.settings.get("image"))
    return next((known for known in SOFTWARE if repository in known.images), None)
