"""`reboot-harness doctor`: what in a user's compose file makes a container not behave like a
server across a reboot, each finding with where it is (file:service:key) and the fix.

Pure but for reading the file (and the configuration files its services bind-mount); no engine.
The rules, one stable code each (:data:`reboot_harness.model.findings.CODES`):

- ``restart-policy``: ``restart: always | unless-stopped | on-failure[:N]``, or a
  ``deploy.restart_policy`` whose condition is not ``none`` (its default is ``any``). The engine
  starts the container again whenever it exits: a service that fails at boot looks up.
- ``run-on-volume``: a volume or bind mounted at ``/run`` or ``/var/run`` or under them (where a
  server keeps its pid and socket directories, FHS): a server mounts an empty tmpfs there at every
  boot, a volume keeps yesterday's pid files. (A pid directory elsewhere is on disk on a server
  too, so the container already behaves like one there. A bind of a single ``*.sock`` is a
  socket of the machine, not state of the service: not this rule.)
- ``anonymous-volume``: a volume without a name (``- /var/lib/data``, or ``type: volume`` without
  a ``source``): ``down`` loses it, or it stays behind unnamed for ever.
- ``no-healthcheck``: no ``healthcheck`` (or ``disable: true``, or test ``NONE``): nothing tells
  a container that is up from one that serves. (An image's own HEALTHCHECK is not read.)
- ``port-every-address``: a port published without an address, or on ``0.0.0.0`` / ``::``.
- ``limit-from-ulimits``: a service whose own configuration asks for more open files than a
  server's boot gives it (:mod:`reboot_harness.inputs.compose.boot`: soft 1024, hard 16384),
  which it gets here only from ``ulimits: nofile``. Read from its ``command``/``entrypoint``
  and the configuration files it bind-mounts from the machine:

  - nginx: ``worker_connections N`` needs N descriptors a worker. nginx raises its workers'
    limit only when ``worker_rlimit_nofile`` is set (its master runs as root, so any value
    holds); without it a worker keeps the boot's soft limit.
  - Redis: ``maxclients N`` (default 10000) needs N + 32 (Redis keeps 32 for itself). Redis
    raises its own soft limit, but only up to the hard limit, and lowers maxclients to fit.
  - MySQL/MariaDB: an explicit ``open_files_limit`` (``--open-files-limit``) needs that many;
    mysqld, running as its own user, raises its soft limit up to the hard limit only.
  - memcached: ``-c N`` (``--conn-limit``, default 1024) needs N. memcached sets both limits
    to N itself; above the hard limit, as its own user, it exits at boot ("failed to set rlimit
    for open files").

  A finding needs both halves observed: what the service asks for (a default counts only
  where the software has one, Redis and memcached) and a ``ulimits: nofile`` that gives it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

from reboot_harness.inputs.compose.boot import BootModel
from reboot_harness.inputs.compose.roots import _mapping
from reboot_harness.inputs.compose.services import (
    Mount,
    Service,
    Software,
    argv,
    bind_source,
    has_healthcheck,
    mounts,
    option,
    ports,
    runs,
    software,
)
from reboot_harness.model.findings import CODES, Finding

RESTARTING = ("always", "unless-stopped", "on-failure")
EVERY_ADDRESS = ("", "0.0.0.0", "::", "[::]")
CONFIG_SUFFIXES = (".conf", ".cnf")
MAX_CONFIG_BYTES = 1 << 20
MAX_CONFIG_FILES = 32  # read from one bind-mounted folder


def diagnose(services: Sequence[Service], boot: BootModel) -> tuple[Finding, ...]:
    """Every finding of ``services`` (in their order, then the rules' order)."""
    found: list[Finding] = []
    for svc in services:
        for code, key, message, fix in _findings(svc, boot):
            found.append(Finding(code, str(svc.file), svc.name, key, message,
                                 fix or CODES[code][1]))  # fmt: skip
    return tuple(found)


_Raw = tuple[str, str, str, str]  # code, key, message, fix ("": the code's)


def _findings(svc: Service, boot: BootModel) -> Iterator[_Raw]:
    settings = svc.settings
    restart = str(settings.get("restart") or "no")
    if restart.split(":", 1)[0] in RESTARTING:
        yield "restart-policy", "restart", f"restart: {restart} hides a failure at boot", ""
    deploy = _mapping(settings.get("deploy"))
    if "restart_policy" in deploy:
        condition = str(_mapping(deploy["restart_policy"]).get("condition") or "any")
        if condition != "none":
            yield ("restart-policy", "deploy.restart_policy",
                   f"condition {condition} hides a failure at boot", "")  # fmt: skip
    for mount in mounts(svc):
        if _in_run(mount):
            yield ("run-on-volume", "volumes", f"{mount.target} is on a {mount.kind}"
                   f" ({_shown(mount)}): it survives what a server's boot empties", "")  # fmt: skip
        if mount.kind == "volume" and not mount.source:
            yield ("anonymous-volume", "volumes", f"{mount.target} is an anonymous volume",
                   f"name it (NAME:{mount.target}, NAME under the top-level volumes)")  # fmt: skip
    if not has_healthcheck(svc):
        yield "no-healthcheck", "healthcheck", "no healthcheck", ""
    for port in ports(svc):
        if port.host_ip.strip() in EVERY_ADDRESS:
            fix = ("host_ip: 127.0.0.1" if isinstance(port.entry, Mapping)
                   else f'"{port.on_loopback()}"')  # fmt: skip
            yield ("port-every-address", "ports", f"{port.shown()} is published on every address",
                   f"publish it on 127.0.0.1 ({fix})")  # fmt: skip
    yield from _limits(svc, boot)


def _in_run(mount: Mount) -> bool:
    if mount.kind not in ("bind", "volume") or mount.target.endswith(".sock"):
        return False
    return any(mount.target == d or mount.target.startswith(d + "/") for d in ("/run", "/var/run"))


def _shown(mount: Mount) -> str:
    return f"{mount.kind} {mount.source}" if mount.source else f"anonymous {mount.kind}"


# -- limit-from-ulimits --------------------------------------------------------------------------


def _given(svc: Service) -> tuple[int, int] | None:
    """The soft and hard ``nofile`` its ``ulimits`` give it (None: none)."""
    nofile = _mapping(svc.settings.get("ulimits")).get("nofile")
    try:
        if isinstance(nofile, Mapping):
            soft = int(nofile.get("soft") or nofile.get("hard") or 0)
            return soft, int(nofile.get("hard") or soft)
        return (int(nofile), int(nofile)) if nofile is not None else None
    except (TypeError, ValueError):
        return None  # (a variable: only Compose knows)


def _config_text(svc: Service) -> list[tuple[str, str]]:
    """(name, text) of each configuration file ``svc`` bind-mounts from the machine: a file
    whose target ends in .conf/.cnf, or those of a folder mounted under /etc."""
    found: list[tuple[str, str]] = []
    for mount in mounts(svc):
        if mount.kind != "bind" or "$" in mount.source:
            continue
        source = bind_source(svc, mount)
        files: list[Path] = []
        if source.is_file() and mount.target.endswith(CONFIG_SUFFIXES):
            files = [source]
        elif source.is_dir() and mount.target.startswith(("/etc/", "/usr/local/etc/")):
            files = sorted(p for p in source.iterdir() if p.name.endswith(CONFIG_SUFFIXES))
            files = files[:MAX_CONFIG_FILES]
        for file in files:
            try:
                if file.is_file() and file.stat().st_size <= MAX_CONFIG_BYTES:
                    text = file.read_text(encoding="utf-8", errors="replace")
                    found.append((file.name, re.sub(r"#[^\n]*", "", text)))
            except OSError:
                continue  # unreadable: nothing observed
    return found


def _directive(texts: list[tuple[str, str]], pattern: str) -> tuple[int, str] | None:
    """The last value of a ``pattern`` directive (group 1) and the file it is in."""
    hit = None
    for name, text in texts:
        for m in re.finditer(pattern, text, re.MULTILINE):
            hit = (int(m.group(1)), name)
    return hit


def _need(svc: Service, known: Software, boot: BootModel) -> tuple[int, str, int, str] | None:
    """What ``svc`` running ``known`` asks for: (need, from what, what a server's boot gives
    it, why), None when it cannot be told."""
    args = argv(svc)
    texts = _config_text(svc)
    if known.name == "nginx":
        conns = _directive(texts, r"(?:^|[;{])\s*worker_connections\s+(\d+)\s*;")
        if conns is None:
            return None
        asks = f"worker_connections {conns[0]} in {conns[1]}"
        rlimit = _directive(texts, r"(?:^|[;{])\s*worker_rlimit_nofile\s+(\d+)\s*;")
        if rlimit is not None:
            return conns[0], asks, rlimit[0], "worker_rlimit_nofile"
        why = "without worker_rlimit_nofile its workers keep the soft limit"
        return conns[0], asks, boot.nofile_soft, why
    if known.name == "Redis":
        clients, where = option(args, ("--maxclients",)), "in its command"
        if clients is None and (conf := _directive(texts, r"^\s*maxclients\s+(\d+)")):
            clients, where = conf[0], f"in {conf[1]}"
        if clients is None:
            clients, where = 10000, "by default"
        why = "it raises its soft limit only up to the hard one, then lowers maxclients"
        return clients + 32, f"maxclients {clients} {where}, + 32", boot.nofile_hard, why
    if known.name in ("MySQL", "MariaDB"):
        limit, where = option(args, ("--open-files-limit", "--open_files_limit")), "in its command"
        if limit is None:
            conf = _directive(texts, r"^\s*open[-_]files[-_]limit\s*=\s*(\d+)")
            if conf is None:
                return None
            limit, where = conf[0], f"in {conf[1]}"
        why = "it raises its soft limit only up to the hard one"
        return limit, f"open_files_limit {limit} {where}", boot.nofile_hard, why
    if known.name == "memcached":
        maxconns, where = option(args, ("-c", "--conn-limit")), "in its command"
        if maxconns is None:
            maxconns, where = 1024, "by default"
        why = "it sets both to -c itself and, as its own user, exits at boot above the hard one"
        return maxconns, f"-c {maxconns} {where}", boot.nofile_hard, why
    return None


def _limits(svc: Service, boot: BootModel) -> Iterator[_Raw]:
    given = _given(svc)
    known = software(svc, runs(svc, None))
    if given is None or known is None or (found := _need(svc, known, boot)) is None:
        return
    need, asks, at_boot, why = found
    # nginx's worker keeps its soft limit; the others raise theirs up to the hard one
    here = given[0] if known.name == "nginx" else given[1]
    if here >= need > at_boot:
        fix = (f"set worker_rlimit_nofile {need}; in its nginx.conf" if known.name == "nginx"
               else f"LimitNOFILE={need} in its systemd unit, or ask for fewer")  # fmt: skip
        message = (
            f"{known.name} needs {need} open files ({asks}), which it gets only from ulimits"
            f" nofile {here}: a server's boot gives it {at_boot} ({why})"
        )
        yield "limit-from-ulimits", "ulimits.nofile", message, fix
