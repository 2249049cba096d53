"""Several Docker engines (``RH_ENGINES`` / ``--rh-engines``): where each stack lives.

A process is bound to one engine at a time through the variables Docker's own tools read
(``DOCKER_HOST``, ``DOCKER_TLS_VERIFY``, ``DOCKER_CERT_PATH``): the docker SDK client
(:func:`reboot_harness.stack.engine.client`) and every ``docker compose`` the harness runs follow
it, so a stack's containers, networks and volumes all live on the engine its process was bound to.
pytest-xdist worker ``gwN`` takes engine ``N mod len(engines)``; ``run`` hands its scenarios out
in turn. The engine is recorded in the project's state, so ``down``, ``check`` and the one-shot
faults find the stack wherever it is.

Images reach each engine once, by content hash: a service image (``reboot-harness/<role>:h-…``,
the tag a hash of its build context and base) missing on the bound engine is loaded from another
configured engine that has it (``docker save | docker load``), and built only when none has.

An engine is named by a Docker context (``docker context ls``) or by URL: ``unix:///path``,
``tcp://host:port`` (TLS from ``DOCKER_TLS_VERIFY``/``DOCKER_CERT_PATH``, or the context's) or
``ssh://user@host``. The harness's checks connect to the ports a stack publishes on 127.0.0.1 of
the engine's machine: on this machine directly; on another machine, which must then be named by
``ssh://``, through ssh forwards (:mod:`reboot_harness.stack.tunnel`). An engine on another machine
named by ``tcp://`` (or a context pointing there) is refused with the way out: its published
ports could only be reached by publishing them beyond loopback, which the safety layer refuses.
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import os
import re
import shutil
import socket
import subprocess
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import docker
from docker.errors import DockerException
from docker.tls import TLSConfig

from reboot_harness.errors import EnvironmentProblem, StackError, UsageError
from reboot_harness.stack import engine as engine_module
from reboot_harness.stack.state import ProjectState

ENV = "RH_ENGINES"
DEFAULT_HOST = "unix:///var/run/docker.sock"
_VARS = ("DOCKER_HOST", "DOCKER_TLS_VERIFY", "DOCKER_CERT_PATH", "DOCKER_CONTEXT")
_CONTEXT_NAME = re.compile(r"[a-zA-Z0-9][a-zA-Z0-9_.+-]*")
_WAY_OUT = (
    "name Docker contexts (`docker context ls`) or engine URLs separated by commas, e.g."
    " unix:///var/run/docker.sock,unix:///run/docker2.sock"
)


@dataclass(frozen=True)
class Engine:
    """One Docker engine: as the user named it, and how to reach it."""

    name: str  # what the user wrote: a context name or the URL itself
    host: str  # the DOCKER_HOST value
    cert_path: str = ""  # TLS: a folder with ca.pem, cert.pem, key.pem ("" without TLS)
    tls_verify: bool = True  # verify the engine's certificate (with cert_path)

    @property
    def forwarded(self) -> bool:
        """Whether its stacks' ports are reached through ssh forwards (another machine)."""
        return self.host.startswith("ssh://") and not on_this_machine(self)

    def label(self) -> str:
        return self.host if self.name == self.host else f"{self.name} ({self.host})"

    def env(self) -> dict[str, str | None]:
        """The variables Docker's tools read, for this engine (None: unset)."""
        return {
            "DOCKER_HOST": self.host,
            "DOCKER_TLS_VERIFY": "1" if self.cert_path and self.tls_verify else None,
            "DOCKER_CERT_PATH": self.cert_path or None,
            "DOCKER_CONTEXT": None,  # DOCKER_HOST decides; a context too would be ambiguous
        }

    def client(self, timeout: float = 120.0) -> docker.DockerClient:
        tls: TLSConfig | bool = False
        if self.cert_path:
            d = Path(self.cert_path)
            tls = TLSConfig(
                client_cert=(str(d / "cert.pem"), str(d / "key.pem")),
                ca_cert=str(d / "ca.pem") if self.tls_verify else None,
                verify=self.tls_verify,
            )
        return engine_module.own_trust(
            lambda: docker.DockerClient(
                base_url=self.host,
                tls=tls,
                timeout=int(timeout),
                max_pool_size=engine_module.MAX_POOL,
            ),
            tls=bool(self.cert_path),
        )


# -- naming engines -------------------------------------------------------------------------------
def parse(spec: str, *, source: str = ENV) -> tuple[Engine, ...]:
    """The engines named in ``spec`` (comma-separated contexts or URLs), or a UsageError naming
    ``source`` (the option or variable it came from) and what is valid. Contacts no engine."""
    names = [s.strip() for s in spec.split(",")]
    if not spec.strip() or any(not n for n in names):
        raise UsageError(f"{source}={spec!r}: an empty engine name; {_WAY_OUT}")
    engines = tuple(_one(n, source) for n in names)
    seen: dict[str, str] = {}
    for n, e in zip(names, engines, strict=True):
        if e.host in seen:
            raise UsageError(
                f"{source}: {n!r} and {seen[e.host]!r} are the same engine ({e.host});"
                " name each engine once"
            )
        seen[e.host] = n
    return engines


def _one(name: str, source: str) -> Engine:
    if "://" in name:
        engine = _url(name, source)
    elif _CONTEXT_NAME.fullmatch(name):
        engine = _context(name, source)
    else:
        raise UsageError(
            f"{source}: {name!r} is neither an engine URL nor a context name; {_WAY_OUT}"
        )
    _refuse_remote(engine, source)
    engine_module.need_ssh(engine.host, source)
    return engine


def _url(url: str, source: str) -> Engine:
    parts = urlsplit(url)
    if parts.scheme == "unix":
        if not parts.path.startswith("/") or parts.netloc:
            raise UsageError(f"{source}: {url!r}: a socket URL is unix:///absolute/path")
        return Engine(url, url)
    if parts.scheme == "ssh":
        if not parts.hostname:
            raise UsageError(f"{source}: {url!r}: an ssh URL is ssh://[user@]host[:port]")
        return Engine(url, url)
    if parts.scheme == "tcp":
        try:
            port = parts.port
        except ValueError:
            port = None
        if not parts.hostname or port is None or parts.path not in ("", "/"):
            raise UsageError(f"{source}: {url!r}: a tcp URL is tcp://host:port")
        cert = os.environ.get("DOCKER_CERT_PATH", "") if os.environ.get("DOCKER_TLS_VERIFY") else ""
        if cert and not all((Path(cert) / f).is_file() for f in ("ca.pem", "cert.pem", "key.pem")):
            raise UsageError(
                f"{source}: {url!r}: DOCKER_CERT_PATH={cert} lacks ca.pem, cert.pem or key.pem"
            )
        if not cert and not _loopback(parts.hostname):
            raise UsageError(
                f"{source}: {url!r} without TLS: set DOCKER_TLS_VERIFY=1 and DOCKER_CERT_PATH"
                " (ca.pem, cert.pem, key.pem), or name a Docker context that has them"
            )
        return Engine(url, url, cert_path=cert)
    raise UsageError(
        f"{source}: {url!r}: unknown scheme {parts.scheme!r}; use unix://, tcp:// or ssh://"
    )


def _context(name: str, source: str) -> Engine:
    """A Docker context's endpoint and TLS material, read by the docker CLI (no engine)."""
    cli = shutil.which("docker")
    if cli is None:
        raise UsageError(
            f"{source}: {name!r} looks like a Docker context, but `docker` is not on PATH"
        )
    proc = subprocess.run(
        [cli, "context", "inspect", name], capture_output=True, text=True, check=False, timeout=30
    )
    if proc.returncode != 0:
        raise UsageError(
            f"{source}: no Docker context {name!r} (`docker context ls` lists them); or name an"
            " engine by URL: unix:///path, tcp://host:port, ssh://user@host"
        )
    try:
        info = json.loads(proc.stdout)[0]
        endpoint = info["Endpoints"]["docker"]
        host = str(endpoint["Host"])
        skip = bool(endpoint.get("SkipTLSVerify", False))
        tls_dir = Path(str(info.get("Storage", {}).get("TLSPath", "")), "docker")
    except (ValueError, LookupError, TypeError) as e:
        raise UsageError(f"{source}: Docker context {name!r}: unreadable description ({e})") from e
    has_tls = bool(info.get("Storage", {}).get("TLSPath")) and (tls_dir / "cert.pem").is_file()
    return Engine(name, host, cert_path=str(tls_dir) if has_tls else "", tls_verify=not skip)


def _loopback(hostname: str) -> bool:
    if hostname == "localhost":
        return True
    try:
        return ipaddress.ip_address(hostname).is_loopback
    except ValueError:
        return False


def on_this_machine(engine: Engine) -> bool:
    """Whether the engine runs here: published ports on its 127.0.0.1 are ours."""
    parts = urlsplit(engine.host)
    if parts.scheme in ("unix", "npipe"):
        return True
    hostname = parts.hostname or ""
    return _loopback(hostname) or hostname in (socket.gethostname(), socket.getfqdn())


def _refuse_remote(engine: Engine, source: str) -> None:
    if not on_this_machine(engine) and not engine.forwarded:
        host = urlsplit(engine.host).hostname or engine.host
        raise UsageError(
            f"{source}: engine {engine.label()} runs on another machine: the harness's checks"
            " connect to the ports its stacks publish on that machine's 127.0.0.1, which this"
            f" machine reaches only through ssh; name it ssh://USER@{host} (the harness then"
            " forwards those ports over ssh) or run the harness on that machine (one CI runner"
            " per machine, each with --rh-shard K/N; see docs/scaling.md)"
        )


def configured() -> tuple[Engine, ...]:
    """The engines ``RH_ENGINES`` names (none when unset or empty)."""
    spec = os.environ.get(ENV, "")
    return parse(spec, source=ENV) if spec.strip() else ()


# -- reaching engines -----------------------------------------------------------------------------
def answer(engine: Engine, timeout: float = 10.0) -> str | None:
    """None when ``engine`` answers a ping within ``timeout`` seconds, else why not (short).

    Bounded whatever the transport: an ssh connection to a machine that drops packets would
    otherwise wait for the system's TCP timeout (minutes) before paramiko gives up."""
    why: list[str | None] = []

    def ask() -> None:
        try:
            c = engine.client(timeout)
            try:
                c.ping()
            finally:
                c.close()
        except engine_module.UNREACHABLE as e:
            text = str(e).strip().splitlines()
            why.append((text[0] if text else type(e).__name__)[:160])
        else:
            why.append(None)

    asking = threading.Thread(target=ask, name=f"ping {engine.host}", daemon=True)
    asking.start()
    asking.join(timeout + 1)
    return why[0] if why else f"no answer within {timeout:g} s"


def answers(engine: Engine, timeout: float = 5.0) -> bool:
    return answer(engine, timeout) is None


def require_answers(engines: Sequence[Engine], *, source: str = ENV, timeout: float = 10.0) -> None:
    """Every engine answers, or one EnvironmentProblem line naming those that do not."""
    with ThreadPoolExecutor(max_workers=max(1, len(engines))) as pool:
        why = list(pool.map(lambda e: answer(e, timeout), engines))
    silent = [(e, w) for e, w in zip(engines, why, strict=True) if w]
    if silent:
        over_ssh = [e.host for e, _ in silent if e.host.startswith("ssh://")]
        hint = "; " + engine_module.SSH_HINT.format(where=over_ssh[0]) if over_ssh else ""
        raise EnvironmentProblem(
            f"{source}: no answer from engine {', '.join(f'{e.label()} ({w})' for e, w in silent)};"
            f" start it or leave it out{hint}"
        )


def for_worker(engines: Sequence[Engine], worker: str) -> Engine:
    """The engine of xdist worker ``gwN`` (``N mod len(engines)``); the first for the rest."""
    m = re.fullmatch(r"gw(\d+)", worker)
    return engines[(int(m.group(1)) if m else 0) % len(engines)]


# -- binding this process -------------------------------------------------------------------------
def current() -> Engine:
    """The engine this process talks to now (from DOCKER_HOST and friends)."""
    host = os.environ.get("DOCKER_HOST") or DEFAULT_HOST
    tls = bool(os.environ.get("DOCKER_TLS_VERIFY"))
    return Engine(host, host, cert_path=os.environ.get("DOCKER_CERT_PATH", "") if tls else "")


def bind(engine: Engine) -> None:
    """Make ``engine`` the one this process talks to: the SDK client and every compose."""
    for var, value in engine.env().items():
        if value is None:
            os.environ.pop(var, None)
        else:
            os.environ[var] = value
    engine_module.client.cache_clear()


@contextlib.contextmanager
def using(engine: Engine | None) -> Iterator[None]:
    """``engine`` for the duration of the block, then the one before (None: as it is)."""
    if engine is None:
        yield
        return
    here = current()
    chosen = os.environ.get("DOCKER_HOST") == engine.host  # (set: the state will record it)
    if chosen and (engine.host, engine.cert_path) == (here.host, here.cert_path):
        yield
        return
    before = {var: os.environ.get(var) for var in _VARS}
    bind(engine)
    try:
        yield
    finally:
        for var, value in before.items():
            if value is None:
                os.environ.pop(var, None)
            else:
                os.environ[var] = value
        engine_module.client.cache_clear()


def of_state(state: ProjectState) -> Engine | None:
    """The engine a project's state recorded (None: none was chosen when it started)."""
    if not state.engine:
        return None
    return Engine(state.engine, state.engine, cert_path=state.engine_cert_path, tls_verify=True)


# -- images: each engine gets them once --------------------------------------------------------
def _has(c: docker.DockerClient, name: str) -> bool:
    try:
        c.images.get(name)
    except DockerException:
        return False
    return True


def load_from_peers(names: Sequence[str], progress: Callable[[str], None]) -> list[str]:
    """Copy those of ``names`` (image references, content-hash tags) that another configured
    engine has onto the bound one, in one stream per source engine; return the ones copied."""
    here = current()
    peers = [e for e in configured() if e.host != here.host]
    wanted = list(names)
    copied: list[str] = []
    for peer in peers:
        if not wanted or not answers(peer):
            continue
        c = peer.client()
        try:
            found = [n for n in wanted if _has(c, n)]
        finally:
            c.close()
        if not found:
            continue
        progress(f"loading {len(found)} images from engine {peer.label()} onto {here.label()}")
        copy_images(found, peer, here)
        copied += found
        wanted = [n for n in wanted if n not in found]
    return copied


def copy_images(names: Sequence[str], source: Engine, target: Engine) -> None:
    """``docker save NAMES`` on ``source`` streamed into ``docker load`` on ``target`` (layers
    they share travel once)."""
    cli = shutil.which("docker")
    if cli is None:
        raise EnvironmentProblem("the `docker` command is not on PATH (needed to copy images)")

    def env(e: Engine) -> dict[str, str]:
        merged = {k: v for k, v in os.environ.items() if k not in _VARS}
        merged.update({k: v for k, v in e.env().items() if v is not None})
        return merged

    save = subprocess.Popen(
        [cli, "save", *names], env=env(source), stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    try:
        load = subprocess.run(
            [cli, "load", "--quiet"], env=env(target), stdin=save.stdout, capture_output=True,
            check=False,
        )  # fmt: skip
    finally:
        if save.stdout:
            save.stdout.close()
        save_err = save.stderr.read().decode("utf-8", "replace") if save.stderr else ""
        save.wait()
    if save.returncode != 0 or load.returncode != 0:
        why = (save_err or load.stderr.decode("utf-8", "replace")).strip().splitlines()
        raise StackError(
            f"copying images {', '.join(names)} from engine {source.label()} to"
            f" {target.label()} failed: {why[-1] if why else 'exit ' + str(load.returncode)}"
        )
