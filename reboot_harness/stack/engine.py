"""Reaching the Docker engine and the Compose v2 plugin, or saying what to install."""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from functools import cache

import docker
from docker.errors import DockerException

from reboot_harness.errors import EnvironmentProblem
from reboot_harness.inputs.compose.offline import setup_hint


def _ssh_errors() -> tuple[type[Exception], ...]:
    """paramiko's errors, when the [ssh] extra installed it (ssh:// engines need it)."""
    try:
        import paramiko
    except ImportError:
        return ()
    # paramiko logs a failed connection with a traceback from its own thread; the harness says
    # it in one line instead
    logging.getLogger("paramiko").addHandler(logging.NullHandler())
    logging.getLogger("paramiko").propagate = False
    return (paramiko.SSHException,)


# What "the engine cannot be reached" looks like: the SDK's errors, the socket's, and for ssh://
# engines paramiko's (an unknown host key, a refused key, no ssh server answering).
_SSH_ERRORS = _ssh_errors()
UNREACHABLE: tuple[type[Exception], ...] = (DockerException, OSError, *_SSH_ERRORS)
SSH_HINT = (
    "`ssh {where} docker version` must work without a prompt (your key, the machine's host key in"
    " ~/.ssh/known_hosts) and that machine must run a Docker engine and the docker CLI"
)

MAX_POOL = 64  # connections kept to the engine; a stack reads ~11 hosts x a few checks at once


def need_ssh(where: str, source: str = "DOCKER_HOST") -> None:
    """An EnvironmentProblem, saying what to install, when ``where`` is an ssh:// engine and the
    [ssh] extra (paramiko, through which the SDK speaks ssh) is not installed."""
    if where.startswith("ssh://") and not _SSH_ERRORS:
        raise EnvironmentProblem(
            f"{source}: {where} is an ssh:// engine, which needs paramiko;"
            " pip install 'reboot-harness[ssh]'"
        )


@cache
def client() -> docker.DockerClient:
    """A docker SDK client whose engine answered a ping (one per process)."""
    where = os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock")
    need_ssh(where)
    try:
        # Checks read every host at once (and each LB's path to each app): a pool smaller than
        # that discards connections ("Connection pool is full") and reconnects for nothing.
        # ssh:// through paramiko (docker[ssh]): one ssh connection, a channel per request. (The
        # SDK's other way, an `ssh` process per connection, cannot wait on a reply for a limited
        # time — a host that stays silent would hang a check — and costs a process each.)
        c = own_trust(
            lambda: docker.from_env(timeout=120, max_pool_size=MAX_POOL),
            tls=bool(os.environ.get("DOCKER_TLS_VERIFY") or os.environ.get("DOCKER_CERT_PATH")),
        )
        c.ping()
    except UNREACHABLE as e:
        hint = SSH_HINT.format(where=where) if where.startswith("ssh://") else setup_hint()
        raise EnvironmentProblem(
            f"no Docker engine reachable at {where} ({_short(e)}); {hint}"
        ) from e
    return c


_CA_BUNDLES = ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE")
_ENV_LOCK = threading.Lock()


def own_trust(make: Callable[[], docker.DockerClient], *, tls: bool) -> docker.DockerClient:
    """A client from ``make`` that trusts the engine as the docker CLI does: with TLS, the
    engine's own CA (DOCKER_CERT_PATH, a context's), not a bundle named by REQUESTS_CA_BUNDLE or
    CURL_CA_BUNDLE, which requests puts before it ("self-signed certificate in certificate
    chain"). The SDK asks the engine's version while it is made, so those variables are out of
    the environment for that moment (under a lock), and out of the client's reach afterwards."""
    if not tls or not any(v in os.environ for v in _CA_BUNDLES):
        c = make()
    else:
        with _ENV_LOCK:
            saved = {v: os.environ.pop(v) for v in _CA_BUNDLES if v in os.environ}
            try:
                c = make()
            finally:
                os.environ.update(saved)
    c.api.trust_env = False
    return c


def _short(e: Exception) -> str:
    text = str(e).strip().splitlines()
    return text[0][:200] if text else type(e).__name__
