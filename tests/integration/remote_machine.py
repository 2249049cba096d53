"""Another machine with a Docker engine, reachable over ssh only: a fixture for the integration
tests of engines given as ``ssh://`` URLs.

:func:`remote_machine` runs ``tests/integration/remote-machine`` (sshd + dockerd in one
container, on the local engine) and yields a :class:`RemoteMachine`: an ssh alias and its
``ssh://<alias>`` engine URL. A stack on that engine publishes its ports on the machine's own
127.0.0.1, which this machine does not reach except through ssh port forwards, as with a real
remote host.

The alias resolves through an ssh config file of the fixture's work directory, never through
``~/.ssh``: ``<workdir>/bin/ssh`` runs ``ssh -F <workdir>/ssh_config``, so every process with
``RemoteMachine.path_dir`` first on PATH (:meth:`RemoteMachine.env`) reaches the machine by its
alias: the docker CLI's ssh connection helper, the docker SDK with ``use_ssh_client=True`` (it
runs ``ssh`` from ``os.environ["PATH"]``), ``docker compose``, ``ssh -O forward``.

On an engine whose capability bounding set lacks a capability (this machine's lacks
CAP_SYS_RESOURCE), a privileged container cannot start ("unable to apply caps"); the machine then
runs with every capability the engine has, seccomp/apparmor/SELinux and the /proc masks off and
all devices allowed, and its entrypoint makes /sys and the cgroup v1 hierarchies writable.
"""

from __future__ import annotations

import contextlib
import io
import os
import shlex
import shutil
import socket
import subprocess
import tarfile
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import docker
from docker.errors import APIError, BuildError, DockerException, NotFound
from docker.models.containers import Container
from docker.models.volumes import Volume
from docker.types import Ulimit

from reboot_harness.stack.images import build_lock, context_hash, ensure_base_image

CONTEXT = Path(__file__).resolve().parent / "remote-machine"
IMAGE_REPO = "rh-test/remote-machine"
LABEL = "rh.test"
LABEL_VALUE = "remote-machine"
# The test process that made a machine: remove_leftovers spares the machines of live processes
# (another xdist worker's), unless told to take every one.
OWNER_LABEL = "rh.test.owner"
NOFILE = 20000  # this machine's hard limit for open files (cannot be raised)
READY_TIMEOUT = 120.0  # seconds from `docker start` until ssh and the engine answer
LOCAL_ENGINE = "unix:///var/run/docker.sock"
# Logs of the machine's daemons (see the entrypoint), shown when it does not come up.
DAEMON_LOGS = ("/var/log/dockerd.log", "/var/log/sshd.log")

# Linux capability numbers (linux/capability.h) -> Docker's names, to drop from "ALL" what the
# engine's bounding set lacks.
_CAPABILITY_NAMES = (
    "CHOWN DAC_OVERRIDE DAC_READ_SEARCH FOWNER FSETID KILL SETGID SETUID SETPCAP LINUX_IMMUTABLE"
    " NET_BIND_SERVICE NET_BROADCAST NET_ADMIN NET_RAW IPC_LOCK IPC_OWNER SYS_MODULE SYS_RAWIO"
    " SYS_CHROOT SYS_PTRACE SYS_PACCT SYS_ADMIN SYS_BOOT SYS_NICE SYS_RESOURCE SYS_TIME"
    " SYS_TTY_CONFIG MKNOD LEASE AUDIT_WRITE AUDIT_CONTROL SETFCAP MAC_OVERRIDE MAC_ADMIN SYSLOG"
    " WAKE_ALARM BLOCK_SUSPEND AUDIT_READ PERFMON BPF CHECKPOINT_RESTORE"
)


class RemoteMachineError(RuntimeError):
    """The remote machine could not be built, started or reached (the message says why)."""


@dataclass(frozen=True)
class RemoteMachine:
    """A running remote machine. Reach it with :meth:`env` (or ``path_dir`` first on PATH)."""

    container_name: str  # on the local engine
    address: str  # its IP address on the local engine's bridge (docker0)
    ssh_alias: str  # e.g. rh-remote-1a2b3c4d, known only to ``path_dir/ssh``
    engine_url: str  # ssh://<ssh_alias>
    path_dir: Path  # holds the `ssh` wrapper (``ssh -F <ssh_config>``)
    ssh_config: Path  # the ssh config file naming ``ssh_alias``
    identity: Path  # the private key root logs in with
    volume: str  # the named volume at the machine's /var/lib/docker
    home: Path  # a HOME whose .ssh/config and known_hosts name the machine (for paramiko)

    def env(self, base_env: Mapping[str, str] | None = None) -> dict[str, str]:
        """``base_env`` (default: ``os.environ``) with ``path_dir`` first on PATH and HOME at
        ``home``: the ssh command (the docker CLI's) and paramiko (the docker SDK's, which reads
        ~/.ssh/config and ~/.ssh/known_hosts of $HOME) both reach the machine by its alias."""
        env = dict(os.environ if base_env is None else base_env)
        rest = [p for p in env.get("PATH", os.defpath).split(os.pathsep) if p != str(self.path_dir)]
        env["PATH"] = os.pathsep.join([str(self.path_dir), *rest])
        env["HOME"] = str(self.home)
        return env

    def write_home(self) -> None:
        """``home/.ssh``: the alias as paramiko reads it, and the machine's host keys."""
        keys = self.ssh("cat /etc/ssh/ssh_host_*_key.pub")
        if keys.returncode != 0:
            raise RemoteMachineError(
                f"{self.ssh_alias}: host keys unreadable: {_text(keys.stderr)}"
            )
        dot = self.home / ".ssh"
        dot.mkdir(parents=True, exist_ok=True, mode=0o700)
        _write_atomic(
            dot / "config",
            f"Host {self.ssh_alias}\n  HostName {self.address}\n  User root\n"
            f"  IdentityFile {self.identity}\n",
            0o600,
        )
        known = [f"{self.address} {' '.join(line.split()[:2])}"
                 for line in keys.stdout.decode().splitlines() if line.strip()]  # fmt: skip
        _write_atomic(dot / "known_hosts", "\n".join(known) + "\n", 0o600)

    def ssh(
        self, command: str, *, timeout: float = 60.0, input: bytes | None = None
    ) -> subprocess.CompletedProcess[bytes]:
        """Run a shell command on the machine, as root (output captured, exit status kept)."""
        return subprocess.run(
            [str(self.path_dir / "ssh"), self.ssh_alias, command],
            input=input,
            capture_output=True,
            timeout=timeout,
            check=False,
        )

    def docker(
        self, *args: str, timeout: float = 120.0, input: bytes | None = None
    ) -> subprocess.CompletedProcess[bytes]:
        """Run the docker CLI here against the machine's engine (``-H ssh://<alias>``)."""
        return subprocess.run(
            [_docker_cli(), "-H", self.engine_url, *args],
            input=input,
            capture_output=True,
            timeout=timeout,
            check=False,
            env=_cli_env(self.env()),
        )

    def load_images(self, *names: str, timeout: float = 600.0) -> float:
        """``docker save NAMES | docker -H ssh://<alias> load``; the seconds it took."""
        start = time.monotonic()
        with subprocess.Popen(
            [_docker_cli(), "-H", local_engine(), "save", *names],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=_cli_env(dict(os.environ)),
        ) as save:
            assert save.stdout is not None
            try:
                load = subprocess.run(
                    [_docker_cli(), "-H", self.engine_url, "load", "--quiet"],
                    stdin=save.stdout,
                    capture_output=True,
                    timeout=timeout,
                    check=False,
                    env=_cli_env(self.env()),
                )
            finally:
                save.stdout.close()
                try:
                    save.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    save.kill()
            save_err = save.stderr.read() if save.stderr else b""
        if save.returncode != 0 or load.returncode != 0:
            raise RemoteMachineError(
                f"docker save {' '.join(names)} | docker -H {self.engine_url} load failed:"
                f" save exit {save.returncode} ({_text(save_err)}),"
                f" load exit {load.returncode} ({_text(load.stderr + load.stdout)})"
            )
        return time.monotonic() - start


# -- the image ------------------------------------------------------------------------------------
def local_engine() -> str:
    """The engine the machine runs on: DOCKER_HOST if it names a local one, else the default
    socket (a test may have bound DOCKER_HOST to a remote machine already)."""
    host = os.environ.get("DOCKER_HOST") or LOCAL_ENGINE
    return host if host.startswith(("unix://", "tcp://")) else LOCAL_ENGINE


def local_client(timeout: int = 300) -> docker.DockerClient:
    return docker.DockerClient(base_url=local_engine(), timeout=timeout)


def ensure_image(client: docker.DockerClient, base_image: str | None = None) -> str:
    """The machine's image, ``rh-test/remote-machine:h-<hash of the context and base id>``,
    built only when no image has that tag."""
    base = base_image or ensure_base_image()
    try:
        base_id = client.images.get(base).id
    except DockerException as e:
        raise RemoteMachineError(f"base image {base} is not on the local engine: {e}") from e
    tag = f"{IMAGE_REPO}:h-{context_hash(CONTEXT, base_id)}"
    if _has_image(client, tag):
        return tag
    with build_lock():  # xdist workers share the engine's image cache
        if _has_image(client, tag):
            return tag
        try:
            client.images.build(
                path=str(CONTEXT),
                tag=tag,
                buildargs={"BASE": base},
                rm=True,
                forcerm=True,
                labels={LABEL: f"{LABEL_VALUE}-image"},
            )
        except BuildError as e:
            lines = "".join(
                str(c.get("stream", c.get("error", ""))) for c in e.build_log if isinstance(c, dict)
            ).splitlines()
            tail = "\n".join(lines[-15:])
            raise RemoteMachineError(f"{CONTEXT}: build of {tag} failed: {e.msg}\n{tail}") from e
        except (APIError, OSError) as e:
            raise RemoteMachineError(f"{CONTEXT}: build of {tag} failed: {e}") from e
    return tag


def _has_image(client: docker.DockerClient, name: str) -> bool:
    try:
        client.images.get(name)
    except NotFound:
        return False
    return True


# -- the machine ----------------------------------------------------------------------------------
@contextmanager
def remote_machine(
    workdir: Path,
    *,
    base_image: str | None = None,
    ready_timeout: float = READY_TIMEOUT,
) -> Iterator[RemoteMachine]:
    """A running remote machine; removed (container and volume) on the way out, whatever
    happened. ``workdir`` (made if missing) receives the key, the ssh config, known_hosts and
    ``bin/ssh``; several machines may share one ``workdir``, each with its own alias."""
    client = local_client()
    image = ensure_image(client, base_image)
    workdir = Path(workdir).resolve()
    path_dir = workdir / "bin"
    path_dir.mkdir(parents=True, exist_ok=True)
    identity = _key(workdir)
    ssh_config = _ssh_config_files(workdir, path_dir)

    short = uuid.uuid4().hex[:8]
    name = alias = f"rh-remote-{short}"
    volume = f"{name}-docker"
    host_config = workdir / "ssh_config.d" / f"{alias}.conf"
    try:
        client.volumes.create(volume, labels=_labels())
        container = _start(client, image, name, volume, identity)
        address = _address(container)
        _write_atomic(
            host_config, _host_block(alias, address, identity, workdir / "known_hosts"), 0o600
        )
        machine = RemoteMachine(
            container_name=name,
            address=address,
            ssh_alias=alias,
            engine_url=f"ssh://{alias}",
            path_dir=path_dir,
            ssh_config=ssh_config,
            identity=identity,
            volume=volume,
            home=workdir / f"home-{alias}",
        )
        _wait_ready(machine, container, ready_timeout)
        machine.write_home()
        yield machine
    finally:
        _remove(client, name, volume)
        host_config.unlink(missing_ok=True)
        client.close()


def remove_leftovers(*, live_owners_too: bool = False) -> list[str]:
    """Remove the containers and volumes (label rh.test=remote-machine) that a killed earlier
    run left; return their names. The machines of test processes still running on this host
    (another xdist worker's) stay, unless ``live_owners_too``."""
    client = local_client()
    removed: list[str] = []
    try:
        selector = {"label": f"{LABEL}={LABEL_VALUE}"}
        for c in client.containers.list(all=True, filters=selector, ignore_removed=True):
            if live_owners_too or not _owner_alive(c.labels):
                with contextlib.suppress(NotFound):
                    c.remove(force=True, v=True)
                    removed.append(c.name or c.id or "?")
        for v in client.volumes.list(filters=selector):
            if live_owners_too or not _owner_alive(v.attrs.get("Labels") or {}):
                with contextlib.suppress(NotFound, APIError):  # APIError: still in use
                    v.remove(force=True)
                    removed.append(v.name or "?")
    finally:
        client.close()
    return removed


def _labels() -> dict[str, str]:
    return {LABEL: LABEL_VALUE, OWNER_LABEL: f"{socket.gethostname()}:{os.getpid()}"}


def _owner_alive(labels: Mapping[str, str]) -> bool:
    host, _, pid = labels.get(OWNER_LABEL, "").rpartition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return False
    if int(pid) == os.getpid():
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="ascii", errors="replace")
    except OSError:
        return False
    return stat.rpartition(")")[2].split()[:1] not in (["Z"], ["X"])  # a zombie is dead


def _key(workdir: Path) -> Path:
    """An ed25519 key pair in ``workdir`` (kept if it is there already)."""
    key = workdir / "id_ed25519"
    if key.is_file() and key.with_suffix(".pub").is_file():
        return key
    keygen = shutil.which("ssh-keygen")
    if keygen is None:
        raise RemoteMachineError("`ssh-keygen` is not on PATH (install openssh-client)")
    tmp = workdir / f".id_ed25519-{uuid.uuid4().hex[:8]}"
    tmp_pub = tmp.with_name(tmp.name + ".pub")
    try:
        proc = subprocess.run(
            [keygen, "-q", "-t", "ed25519", "-N", "", "-C", "rh-remote-machine", "-f", str(tmp)],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        if proc.returncode != 0:
            raise RemoteMachineError(f"ssh-keygen failed: {(proc.stderr or proc.stdout).strip()}")
        tmp_pub.replace(key.with_suffix(".pub"))
        tmp.replace(key)
    finally:
        tmp.unlink(missing_ok=True)
        tmp_pub.unlink(missing_ok=True)
    return key


def _ssh_client(path_dir: Path) -> str:
    """The real ssh client (``/usr/bin/ssh`` or the first on PATH that is not our wrapper)."""
    if os.access("/usr/bin/ssh", os.X_OK):
        return "/usr/bin/ssh"
    for d in os.environ.get("PATH", os.defpath).split(os.pathsep):
        candidate = Path(d) / "ssh"
        if Path(d).resolve() != path_dir.resolve() and os.access(candidate, os.X_OK):
            return str(candidate)
    raise RemoteMachineError("no `ssh` client on PATH (install openssh-client)")


def _ssh_config_files(workdir: Path, path_dir: Path) -> Path:
    """``workdir/ssh_config`` (including each machine's ``ssh_config.d/<alias>.conf``) and the
    ``path_dir/ssh`` wrapper that reads only it."""
    (workdir / "ssh_config.d").mkdir(exist_ok=True)
    config = workdir / "ssh_config"
    _write_atomic(
        config,
        "# Written by tests/integration/remote_machine.py: one file per remote machine.\n"
        f"Include {_ssh_quote(str(workdir / 'ssh_config.d' / '*.conf'))}\n",
        0o600,  # ssh refuses a config others may write
    )
    _write_atomic(
        path_dir / "ssh",
        "#!/bin/sh\n"
        "# ssh to the test's remote machines by alias, without ~/.ssh (remote_machine.py)\n"
        f'exec {shlex.quote(_ssh_client(path_dir))} -F {shlex.quote(str(config))} "$@"\n',
        0o755,
    )
    return config


def _write_atomic(path: Path, text: str, mode: int) -> None:
    """Replace ``path`` at once: a machine sharing the workdir may be reading it."""
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        tmp.write_text(text, encoding="utf-8")
        tmp.chmod(mode)
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)


def _host_block(alias: str, address: str, identity: Path, known_hosts: Path) -> str:
    # HostKeyAlias: known_hosts records the alias, not the address, which a later machine in
    # the same workdir may get again (with other host keys).
    return (
        f"Host {alias}\n"
        f"  HostName {address}\n"
        "  User root\n"
        "  Port 22\n"
        f"  IdentityFile {_ssh_quote(str(identity))}\n"
        "  IdentitiesOnly yes\n"
        "  IdentityAgent none\n"
        f"  HostKeyAlias {alias}\n"
        f"  UserKnownHostsFile {_ssh_quote(str(known_hosts))}\n"
        "  GlobalKnownHostsFile /dev/null\n"
        "  StrictHostKeyChecking accept-new\n"
        "  BatchMode yes\n"
        "  LogLevel ERROR\n"
        "  ConnectTimeout 10\n"
        "  ServerAliveInterval 15\n"
        "  ServerAliveCountMax 4\n"
    )


def _ssh_quote(value: str) -> str:
    if '"' in value:
        raise RemoteMachineError(f"an ssh config cannot name a path with '\"': {value}")
    return f'"{value}"'


def _missing_capabilities() -> list[str]:
    """Capabilities the local engine cannot give a container (absent from this machine's
    bounding set; the engine runs here, since the machine is reached on its bridge)."""
    try:
        status = Path("/proc/self/status").read_text(encoding="ascii")
        last = int(Path("/proc/sys/kernel/cap_last_cap").read_text(encoding="ascii"))
    except (OSError, ValueError):
        return []
    bounding = next(
        (int(line.split()[1], 16) for line in status.splitlines() if line.startswith("CapBnd:")),
        None,
    )
    if bounding is None:
        return []
    names = _CAPABILITY_NAMES.split()
    return [names[n] for n in range(min(last, len(names) - 1) + 1) if not bounding >> n & 1]


def _privileges() -> dict[str, Any]:
    """HostConfig fields: privileged, or as near as the engine's capabilities allow."""
    missing = _missing_capabilities()
    if not missing:
        return {"Privileged": True}
    # What --privileged gives, minus the capabilities the engine does not have. MaskedPaths and
    # ReadonlyPaths empty: the CLI's `--security-opt systempaths=unconfined` (which the engine
    # does not accept as a security option; the docker SDK has no argument for them).
    return {
        "CapAdd": ["ALL"],
        "CapDrop": missing,
        "SecurityOpt": ["seccomp=unconfined", "apparmor=unconfined", "label=disable"],
        "MaskedPaths": [],
        "ReadonlyPaths": [],
        "DeviceCgroupRules": ["c *:* rwm", "b *:* rwm"],
        # The device nodes a machine has: FUSE, which the data hosts' lazy disk mounts
        # (--privileged would give every one of the host's)
        "Devices": [
            {"PathOnHost": d, "PathInContainer": d, "CgroupPermissions": "rwm"}
            for d in ("/dev/fuse",)
            if os.path.exists(d)
        ],
    }


def _start(
    client: docker.DockerClient, image: str, name: str, volume: str, identity: Path
) -> Container:
    public_key = identity.with_suffix(".pub").read_text(encoding="ascii").strip()
    api = client.api
    try:
        host_config = api.create_host_config(
            binds={volume: {"bind": "/var/lib/docker", "mode": "rw"}},
            ulimits=[Ulimit(name="nofile", soft=NOFILE, hard=NOFILE)],
        )
        host_config.update(_privileges())
        created = api.create_container(
            image,
            name=name,
            hostname=name,
            labels=_labels(),
            environment={"RH_AUTHORIZED_KEY": public_key},
            volumes=["/var/lib/docker"],
            host_config=host_config,
        )
        api.start(created["Id"])
        return client.containers.get(created["Id"])
    except DockerException as e:
        raise RemoteMachineError(f"cannot start the remote machine {name} ({image}): {e}") from e


def _address(container: Container) -> str:
    container.reload()
    settings = container.attrs.get("NetworkSettings", {})
    address = settings.get("IPAddress") or next(
        (n.get("IPAddress") for n in settings.get("Networks", {}).values() if n.get("IPAddress")),
        "",
    )
    if not address:
        raise RemoteMachineError(
            f"remote machine {container.name} has no IP address (state"
            f" {container.status}):\n{_diagnostics(container)}"
        )
    return str(address)


def _wait_ready(machine: RemoteMachine, container: Container, timeout: float) -> None:
    """Until ``ssh <alias>`` runs a command and ``docker -H ssh://<alias> info`` answers."""
    deadline = time.monotonic() + timeout
    waiting_for = "ssh"
    last = ""
    while True:
        container.reload()
        if container.status != "running":
            raise RemoteMachineError(
                f"remote machine {machine.container_name} stopped while starting"
                f" (state {container.status}, exit {container.attrs['State'].get('ExitCode')}):"
                f"\n{_diagnostics(container)}"
            )
        left = deadline - time.monotonic()
        try:
            if waiting_for == "ssh":
                proc = machine.ssh("docker version --format '{{.Server.Version}}'", timeout=15)
                if proc.returncode == 0:
                    waiting_for = "docker -H"
                    continue
            else:
                proc = machine.docker("info", "--format", "{{.ServerVersion}}", timeout=30)
                if proc.returncode == 0 and proc.stdout.strip():
                    return
            last = f"exit {proc.returncode}: {_text(proc.stderr + proc.stdout)}"
        except subprocess.TimeoutExpired as e:
            last = f"no answer in {e.timeout:.0f}s"
        if left <= 0:
            raise RemoteMachineError(
                f"remote machine {machine.container_name} ({machine.address}) not ready in"
                f" {timeout:g}s: `{waiting_for}` still fails ({last}):\n{_diagnostics(container)}"
            )
        time.sleep(min(0.5, max(left, 0)))


def _diagnostics(container: Container, lines: int = 25) -> str:
    """The end of the container's output and of its daemons' logs."""
    parts: list[str] = []
    try:
        out = container.logs(tail=lines).decode(errors="replace").rstrip()
        parts.append(f"--- docker logs {container.name} (last {lines} lines)\n{out or '(empty)'}")
    except DockerException as e:
        parts.append(f"--- docker logs {container.name}: {e}")
    for path in DAEMON_LOGS:
        text = _read_file(container, path)
        if text is not None:
            tail = "\n".join(text.rstrip().splitlines()[-lines:])
            parts.append(f"--- {path} (last {lines} lines)\n{tail or '(empty)'}")
    return "\n".join(parts)


def _read_file(container: Container, path: str) -> str | None:
    """A file of the container, running or stopped (None if it is not there)."""
    try:
        stream, _ = container.get_archive(path)
        data = b"".join(stream)
        with tarfile.open(fileobj=io.BytesIO(data)) as tar:
            member = tar.next()
            f = tar.extractfile(member) if member is not None else None
            return f.read().decode(errors="replace") if f is not None else None
    except (DockerException, tarfile.TarError, OSError):
        return None


def _remove(client: docker.DockerClient, name: str, volume: str) -> None:
    """Remove the machine's container, then its volume (also half-made ones); bounded retries:
    an engine may still be tearing the container down ("removal in progress", "in use")."""
    _retry_removal(f"container {name}", lambda: client.containers.get(name), v=True)
    _retry_removal(f"volume {volume}", lambda: client.volumes.get(volume))


def _retry_removal(what: str, get: Callable[[], Container | Volume], v: bool = False) -> None:
    deadline = time.monotonic() + 60
    while True:
        try:
            thing = get()
            if isinstance(thing, Container):
                thing.remove(force=True, v=v)
            else:
                thing.remove(force=True)
            return
        except NotFound:
            return
        except APIError as e:
            if time.monotonic() > deadline:
                raise RemoteMachineError(f"cannot remove the remote machine's {what}: {e}") from e
            time.sleep(0.5)


def _docker_cli() -> str:
    cli = shutil.which("docker")
    if cli is None:
        raise RemoteMachineError("the `docker` CLI is not on PATH")
    return cli


def _cli_env(env: dict[str, str]) -> dict[str, str]:
    """``env`` without what would make the CLI pick another engine than its ``-H``."""
    for var in ("DOCKER_HOST", "DOCKER_CONTEXT", "DOCKER_TLS_VERIFY", "DOCKER_CERT_PATH"):
        env.pop(var, None)
    return env


def _text(data: bytes, limit: int = 600) -> str:
    text = " ".join(data.decode(errors="replace").split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
