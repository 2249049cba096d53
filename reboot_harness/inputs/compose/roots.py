"""Where a user's compose file may point the engine: the folders it may use (:class:`Roots`),
and the paths of the machine no host may have wherever they lie (the Docker socket, the
kernel's interfaces, the engine's state). The rules are reboot_harness.inputs.compose.rules's."""

from __future__ import annotations

import os
import posixpath
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

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


# -- reading Compose's values leniently ---------------------------------------------------------


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


def _sockets(docker_host: str) -> tuple[str, ...]:
    """The Docker sockets of this machine: the usual ones and DOCKER_HOST's, when a socket."""
    extra = docker_host.removeprefix("unix://") if docker_host.startswith("unix://") else ""
    return tuple(dict.fromkeys([*DOCKER_SOCKETS, *([_path(extra)] if extra else [])]))


def _under(path: str, top: str) -> bool:
    return path == top or path.startswith(top.rstrip("/") + "/")
