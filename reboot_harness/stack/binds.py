"""Bind mounts on an engine on another machine: their sources copied there.

A bind mount names a path of the engine's machine. On this machine that is the path in the
compose file; on another machine (``ssh://``) the same path is usually missing, and the engine
then makes an empty directory there and mounts that: an incident's configuration file (the
shipped ``no-minfds`` binds its supervisord.conf) would silently not be what the host runs. So
before such a stack starts, every bind source that exists here is copied into a folder of its
own on that machine (:data:`STAGE_ROOT`/PROJECT, over the engine's ssh connection) and a compose
override points the binds there; ``down`` removes the folder. A source missing here is left as
written: it may be a path of that machine.
"""

from __future__ import annotations

import contextlib
import json
import shlex
import subprocess
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from reboot_harness.errors import HarnessError
from reboot_harness.stack import tunnel
from reboot_harness.stack.engines import Engine
from reboot_harness.stack.state import ProjectState, write_private

STAGE_ROOT = "/tmp/reboot-harness-binds"


def stage_folder(project: str) -> str:
    """Where project ``project``'s bind sources are copied on the engine's machine."""
    return f"{STAGE_ROOT}/{project}"


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def override(
    state: ProjectState,
    resolved: Mapping[str, Any],
    engine: Engine,
    progress: Callable[[str], None],
) -> Path | None:
    """Copy the bind sources of ``resolved`` to ``engine``'s machine and write the compose
    override that uses the copies (None: no bind source of this machine)."""
    copies: dict[str, str] = {}  # source here -> its copy there
    there = tunnel.to(engine.host)

    def copy(source: str) -> str:
        if source not in copies:
            local = Path(source)
            if not source.startswith("/") or not (local.exists() or local.is_symlink()):
                return source  # not a path of this machine: maybe one of that machine
            folder = f"{stage_folder(state.name)}/{len(copies)}"
            progress(f"copying bind source {source} to {engine.label()}")
            copies[source] = there.upload(local, folder)
        return copies[source]

    services: dict[str, list[Any]] = {}
    for name, svc in _mapping(resolved.get("services")).items():
        volumes = list(_mapping(svc).get("volumes") or [])
        moved = [
            {**v, "source": copy(str(v.get("source") or ""))}
            if isinstance(v, Mapping) and v.get("type") == "bind"
            else v
            for v in volumes
        ]
        if moved != volumes:
            services[str(name)] = moved
    named: dict[str, dict[str, Any]] = {}
    for name, vol in _mapping(resolved.get("volumes")).items():
        opts = dict(_mapping(_mapping(vol).get("driver_opts")))
        device = str(opts.get("device") or "")
        is_bind = "bind" in str(opts.get("o") or "").split(",") and bool(device)
        if is_bind and (moved_to := copy(device)) != device:
            named[str(name)] = {**opts, "device": moved_to}
    if not services and not named:
        return None
    lines = ["# Written by reboot-harness: bind sources copied to the engine's machine."]
    if services:
        lines.append("services:")
        for name, volumes in services.items():
            lines += [f"  {json.dumps(name)}:", f"    volumes: !override {json.dumps(volumes)}"]
    if named:
        lines.append("volumes:")
        for name, opts in named.items():
            lines += [f"  {json.dumps(name)}:", f"    driver_opts: {json.dumps(opts)}"]
    path = state.directory / "binds.yaml"
    write_private(path, "\n".join(lines) + "\n")
    return path


def forget(project: str, engine: Engine) -> None:
    """Remove project ``project``'s copies from ``engine``'s machine (an engine that cannot be
    reached keeps them: a few files under /tmp there)."""
    with contextlib.suppress(HarnessError, OSError, subprocess.SubprocessError):
        tunnel.to(engine.host).run(f"rm -rf {shlex.quote(stage_folder(project))}")
