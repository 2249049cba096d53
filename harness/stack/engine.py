"""Reaching the Docker engine and the Compose v2 plugin, or saying what to install."""

from __future__ import annotations

import os
import shutil
import subprocess
from functools import cache

import docker
from docker.errors import DockerException

from harness.errors import EnvironmentProblem

SETUP_HINT = (
    "on Debian as root, `scripts/setup-host.sh` installs and starts one;"
    " elsewhere install Docker Engine (or Docker Desktop) with the Compose v2 plugin and start it"
)


MAX_POOL = 64  # connections kept to the engine; a stack reads ~11 hosts x a few checks at once


@cache
def client() -> docker.DockerClient:
    """A docker SDK client whose engine answered a ping (one per process)."""
    # testcontainers' Ryuk reaper image cannot be pulled here; the harness cleans up itself (gc).
    os.environ.setdefault("TESTCONTAINERS_RYUK_DISABLED", "true")
    where = os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock")
    try:
        # Checks read every host at once (and each LB's path to each app): a pool smaller than
        # that discards connections ("Connection pool is full") and reconnects for nothing.
        # ssh:// through paramiko (docker[ssh]): one ssh connection, a channel per request. (The
        # SDK's other way, an `ssh` process per connection, cannot wait on a reply for a limited
        # time — a host that stays silent would hang a check — and costs a process each.)
        c = docker.from_env(timeout=120, max_pool_size=MAX_POOL)
        c.ping()
    except DockerException as e:
        raise EnvironmentProblem(
            f"no Docker engine reachable at {where} ({_short(e)}); {SETUP_HINT}"
        ) from e
    return c


@cache
def compose_version() -> str:
    """The Compose v2 plugin's version, or an EnvironmentProblem naming what to install."""
    docker_cli = shutil.which("docker")
    if docker_cli is None:
        raise EnvironmentProblem(f"the `docker` command is not on PATH; {SETUP_HINT}")
    proc = subprocess.run(
        [docker_cli, "compose", "version", "--short"], capture_output=True, text=True, check=False
    )
    if proc.returncode != 0:
        raise EnvironmentProblem(
            "the Docker Compose v2 plugin is missing (`docker compose version` failed:"
            f" {proc.stderr.strip() or proc.stdout.strip()}); {SETUP_HINT}"
        )
    return proc.stdout.strip()


def _short(e: Exception) -> str:
    text = str(e).strip().splitlines()
    return text[0][:200] if text else type(e).__name__
