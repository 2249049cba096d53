"""Resolving compose files as `up` would start them, without the engine (`docker compose
config` with the engine out of reach), and refusing before anything starts the files that
cannot be read or whose configuration voids the rehearsal (:func:`refuse_unsafe`). The Docker
command and its Compose v2 plugin are needed; the engine never is."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from functools import cache
from pathlib import Path
from typing import Any

from reboot_harness.errors import EnvironmentProblem, UsageError
from reboot_harness.inputs import paths
from reboot_harness.inputs.compose.files import _compose_node, _null, named_paths, read_compose_file
from reboot_harness.inputs.compose.roots import Roots
from reboot_harness.inputs.compose.rules import refusal, unsafe
from reboot_harness.inputs.compose.variables import SECRET_NAMES, compose_variables
from reboot_harness.inputs.messages import _clip
from reboot_harness.inputs.yamlfile import read_text

# How to get an engine and the Compose v2 plugin: from a checkout, its setup script; from a
# wheel (which ships no scripts/), the machine check and the packages.
CHECKOUT_SETUP_HINT = (
    "on Debian as root, `scripts/setup-host.sh` installs and starts one;"
    " elsewhere install Docker Engine (or Docker Desktop) with the Compose v2 plugin and start it"
)
WHEEL_SETUP_HINT = (
    "`reboot-harness doctor --engine` says what this machine lacks and the command that fixes"
    " it (Debian/Ubuntu: sudo apt-get install docker.io, and the Compose v2 plugin);"
    " elsewhere install Docker Engine (or Docker Desktop) with the Compose v2 plugin and start it"
)


def setup_hint() -> str:
    """How to get a Docker engine with the Compose v2 plugin, for this install."""
    return CHECKOUT_SETUP_HINT if paths.from_checkout() else WHEEL_SETUP_HINT


MAX_FILES = 64  # files one configuration may pull in through `include` and `extends`
CONFIG_TIMEOUT_S = 20.0  # `docker compose config` takes ~0.2 s; a backstop, not a budget
# Where `docker compose config` is told the engine is: a socket path that cannot exist (under a
# file), so Compose's own best-effort probes fail at once instead of reaching an engine (or
# spawning ssh for an ssh:// DOCKER_HOST). The resolution itself never needs the engine.
NO_ENGINE = "unix:///dev/null/reboot-harness-resolves-offline"


@cache
def compose_version() -> str:
    """The Compose v2 plugin's version, or an EnvironmentProblem naming what to install."""
    docker_cli = shutil.which("docker")
    if docker_cli is None:
        raise EnvironmentProblem(f"the `docker` command is not on PATH; {setup_hint()}")
    proc = subprocess.run(
        [docker_cli, "compose", "version", "--short"], capture_output=True, text=True, check=False
    )
    if proc.returncode != 0:
        raise EnvironmentProblem(
            "the Docker Compose v2 plugin is missing (`docker compose version` failed:"
            f" {proc.stderr.strip() or proc.stdout.strip()}); {setup_hint()}"
        )
    return proc.stdout.strip()


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
    compose_version.cache_clear()
    try:
        compose_version()
    except EnvironmentProblem as e:
        return e
    return EnvironmentProblem(f"`docker compose config` could not run ({what}); {setup_hint()}")


def _as_started(path: Path, into: Path, compose_dir: Path) -> Path:
    """A user's own file as `start` hands it to Compose: its relative paths anchored to its own
    folder (reboot_harness.inputs.compose.anchor), so that binds are judged where they will
    point."""
    from reboot_harness.inputs.compose.anchor import anchored_copy, is_own

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
    seed: bool = True,
) -> dict[str, Any]:
    """Compose's resolved configuration of ``stack.yaml`` with ``files`` over it (``seed``
    False: of ``files`` alone, the first being your stack's own compose file), as `up` would
    start it, without the engine: interpolated with the variables the harness sets (placeholders
    for what only starting decides — subnet, image tag, passwords — which no rule reads), with
    the services of every profile (one that is not started now may be later, by name).
    ``lenient``: without Compose's consistency checks (a file that needs another's volumes or
    services resolves alone).

    Raises:
        EnvironmentProblem: no `docker` command or no Compose v2 plugin.
        UsageError: Compose refuses the files (its reason, one line), or takes too long.
    """
    shown = ", ".join(str(f) for f in files) or str(compose_dir / "stack.yaml")
    with tempfile.TemporaryDirectory(prefix="rh-compose-") as tmp:
        secrets_file = Path(tmp) / "secrets.env"
        secrets_file.write_text("".join(f"{k}=\n" for k in SECRET_NAMES), encoding="utf-8")
        env_file = Path(tmp) / "compose.env"
        values = compose_variables(
            project=project, base_image="debian:bookworm-slim", image_tag="latest",
            subnet_prefix="172.30.0", domain=domain, secrets_file=str(secrets_file),
            owner="manual", keep=False,
        )  # fmt: skip
        env_file.write_text("".join(f"{k}={v}\n" for k, v in values.items()), encoding="utf-8")
        given = [_as_started(f, Path(tmp), compose_dir) for f in files]
        all_files = [compose_dir / "stack.yaml", *given] if seed else given
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
    seed: bool = True,
    generated: Sequence[Path] = (),
) -> list[str]:
    """Refuse, before the engine is asked anything, compose files that cannot be read or whose
    configuration voids the rehearsal (one UsageError line naming the file, the service and key).

    Args:
        file_sets: for each stack about to start, the files layered over ``stack.yaml`` (or,
            ``seed`` False, the files of the stack: your stack's compose file first). Files
            inside ``compose_dir`` and ``generated`` are the harness's own: read, never judged.
        compose_dir: the harness's compose folder.
        project: the stack's name (the names its volumes and networks get).
        domain: the stack's domain.
        allow: `--allow-unsafe-compose`: refuse only what cannot be read or resolved.
        code_dir: the folder a topology's Python checks are imported from (a root, see
            :class:`Roots`); empty without one.
        seed: the stack is the shipped one (``stack.yaml`` under the files); False: the first
            file of each set is your stack's own compose file.
        generated: files the harness wrote over your stack (its boot model): judged with each
            of your files, as they will start together, and never as yours.

    Returns:
        The problems ``allow`` let through (the runner warns about each).
    """
    from reboot_harness.inputs.compose.anchor import is_own

    docker_host = os.environ.get("DOCKER_HOST", "")
    made = {g.resolve() for g in generated}

    def mine(f: Path) -> bool:
        return is_own(f, compose_dir) and f.resolve() not in made

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
        if mine(path):
            roots = Roots.of([path], compose_dir, code_dir)
            if found := named_paths(path, roots, compose_dir, docker_host):
                named.append((path, found))
    allowed = [problem for _path, found in named for problem in found]
    if named and not allow:
        path, found = named[0]
        raise UsageError(refusal(found, [str(path)]))

    def own(files: Sequence[Path]) -> tuple[Path, ...]:
        return tuple(f for f in files if mine(f))

    # Judged: each set holding a file of the user's; and each of the user's files alone (with
    # what the harness writes over it), when a set holds several (a path it names must lie in
    # its own folder, not another file's).
    sets = list(dict.fromkeys(tuple(files) for files in file_sets if own(files)))
    alone = [
        tuple(x for x in files if x == f or x.resolve() in made)
        for files in sets
        if len(own(files)) > 1
        for f in own(files)
    ]
    jobs = [(files, False) for files in sets] + [
        (files, True) for files in dict.fromkeys(alone) if files not in sets
    ]

    def resolve(job: tuple[tuple[Path, ...], bool]) -> dict[str, Any] | None:
        files, lenient = job
        try:
            return resolve_offline(files, compose_dir=compose_dir, project=project,
                                   domain=domain, lenient=lenient, seed=seed)  # fmt: skip
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
        if not seed:  # your stack: the harness's own files over it only take away
            return unsafe(config, docker_host, roots=roots, whole=whole)
        # Something to refuse, unless the harness's own files give it: judge again beside them
        harness = tuple(f for f in files if not is_own(f, compose_dir))
        if harness not in baselines:
            baselines[harness] = resolve_offline(
                harness, compose_dir=compose_dir, project=project, domain=domain
            )
        return unsafe(config, docker_host, roots=roots, baseline=baselines[harness], whole=whole)

    for files in [*dict.fromkeys(alone), *sets]:  # the user's files alone first: named exactly
        if problems := judge(files):
            if not allow:  # (naming your files: what the harness wrote is not yours to fix)
                yours = [str(f) for f in files if f.resolve() not in made]
                raise UsageError(refusal(problems, yours))
            allowed += problems
    return list(dict.fromkeys(allowed))
