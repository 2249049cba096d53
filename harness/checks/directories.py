"""directories: carbon's pid directory exists at boot with the owner and mode it needs,
carbon listens, and a metric sent now lands in whisper."""

from __future__ import annotations

import random
import socket
import time
from dataclasses import dataclass

from harness.checks.base import CheckContext, Problem, host_down, judged, register, short_error
from harness.model import CheckResult, Topology

NAME = "directories"
PROBE_METRIC = "rh.harness.probe"


def listening_ports(proc_net_tcp: str) -> set[int]:
    """Local ports in LISTEN state (0A) from /proc/net/tcp and tcp6 texts."""
    ports = set()
    for line in proc_net_tcp.splitlines()[1:]:
        parts = line.split()
        if len(parts) > 3 and parts[3] == "0A" and ":" in parts[1]:
            ports.add(int(parts[1].rsplit(":", 1)[1], 16))
    return ports


def subjects(topo: Topology) -> tuple[str, ...]:
    return (topo.graphite_host,) if topo.graphite_host else ()


# carbon's own configuration says where its pid file goes ([cache] PID_DIR); the post-mortem's
# fix moved it off tmpfs, a boot-time mkdir keeps it on /run: both must pass, so the check reads
# the directory carbon will use instead of assuming one. Each carbon-cache-*.pid in it is read
# with what the pid it names is now: a pid file left by the boot before (PID_DIR on disk, the
# host lost power) makes carbon refuse to start whenever that pid is in use again.
_PID_DIR_SCRIPT = (
    'd=$(sed -n "s/^[[:space:]]*PID_DIR[[:space:]]*=[[:space:]]*//p" "$1" 2>/dev/null | tail -n 1);'
    ' d=${d%/}; d=${d:-$2}; printf "%s\\n" "$d";'
    ' if s=$(stat -c "%U %a" "$d"); then printf "dir %s\\n" "$s"; fi;'
    ' for f in "$d"/carbon-cache-*.pid; do [ -f "$f" ] || continue;'
    ' p=$(head -c 32 "$f" | tr -cd 0-9);'
    ' c=$( [ -n "$p" ] && cat "/proc/$p/comm" 2>/dev/null || echo -);'
    ' printf "pid %s %s %s\\n" "$f" "${p:--}" "$c"; done'
)


@dataclass(frozen=True)
class PidDir:
    """carbon's pid directory as the host has it.

    Attributes:
        path: the directory (carbon.conf's PID_DIR, else the topology's).
        owner_mode: ``owner mode`` ('' when it does not exist).
        pid_files: (file, pid named in it, what that pid is now: its comm, '-' for no process).
    """

    path: str
    owner_mode: str = ""
    pid_files: tuple[tuple[str, str, str], ...] = ()

    @property
    def exists(self) -> bool:
        return bool(self.owner_mode)

    def stale(self) -> list[str]:
        """Pid files naming something that is not carbon-cache, as 'FILE names pid N, …'."""
        found = []
        for file, pid, comm in self.pid_files:
            if comm == CARBON_COMM:
                continue
            now = "which no process has" if comm == "-" else f"which is now {comm!r}"
            found.append(f"{file} names pid {pid}, {now}")
        return found


CARBON_COMM = "carbon-cache"


def parse_pid_dir(text: str, default: str) -> PidDir:
    lines = text.splitlines()
    path = lines[0].strip() if lines and lines[0].strip() else default
    owner_mode = ""
    files = []
    for line in lines[1:]:
        kind, _, rest = line.partition(" ")
        if kind == "dir":
            owner_mode = rest.strip()
        elif kind == "pid":
            parts = rest.rsplit(" ", 2)
            if len(parts) == 3:
                files.append((parts[0], parts[1], parts[2]))
    return PidDir(path, owner_mode, tuple(files))


def pid_dir(ctx: CheckContext) -> PidDir:
    """carbon's pid directory and the pid files in it, as the host has them."""
    topo = ctx.topology
    read = ctx.stack.exec(
        topo.graphite_host,
        ["sh", "-c", _PID_DIR_SCRIPT, "sh", topo.carbon_conf, topo.graphite_pid_dir],
    )
    return parse_pid_dir(read.stdout, topo.graphite_pid_dir)


@register(NAME, subjects)
def check_directories(ctx: CheckContext) -> list[CheckResult]:
    topo = ctx.topology
    host = topo.graphite_host
    expected = (
        f"carbon's PID_DIR owned by {topo.graphite_user} mode {topo.graphite_pid_dir_mode};"
        f" carbon listening on {topo.carbon_port}; a metric sent now lands in whisper"
    )
    reason = ctx.down(host)
    if reason:
        last = ctx.stack.logs(host, tail=2).strip().splitlines()
        return [host_down(NAME, host, expected, reason, last[-1][:200] if last else "", (host,))]
    problems = []
    found = pid_dir(ctx)
    path, owner_mode = found.path, found.owner_mode
    if not found.exists:
        problems.append(Problem("pid-dir-missing", f"{path} missing"))
    elif owner_mode.split() != [topo.graphite_user, topo.graphite_pid_dir_mode]:
        problems.append(Problem("pid-dir-wrong-owner", f"{path} is {owner_mode}"))
    problems += [Problem("stale-pid-file", text) for text in found.stale()]
    listening = _listens(ctx)
    if listening:
        problems.append(Problem("not-listening", listening))
    else:
        problems += _metric_lands(ctx)
    return [
        judged(NAME, host, expected, problems, f"pid dir {path} ok, carbon up, metric landed",
               subjects=(host,), detail=f"{path}: {owner_mode}")
    ]  # fmt: skip


def _listens(ctx: CheckContext) -> str:
    """'' once carbon listens (polled until the deadline), else what was seen."""
    topo = ctx.topology
    deadline = ctx.deadline()
    while True:
        tcp = ctx.stack.shell(topo.graphite_host, "cat /proc/net/tcp /proc/net/tcp6")
        if topo.carbon_port in listening_ports(tcp.stdout):
            return ""
        if time.monotonic() >= deadline:
            if not tcp.stdout:
                return f"cannot read the host's sockets ({tcp.brief()})"
            return f"nothing listens on {topo.carbon_port}"
        time.sleep(0.2)


def _metric_lands(ctx: CheckContext) -> list[Problem]:
    """Send a probe value now; no problem if whisper has it before the deadline."""
    topo = ctx.topology
    host = topo.graphite_host
    value = random.randint(1, 10**9)
    now = int(time.time())
    try:
        ip, port = ctx.stack.endpoint(host, topo.carbon_port)
        with socket.create_connection((ip, port), timeout=2) as sock:
            sock.sendall(f"{PROBE_METRIC} {value} {now}\n".encode())
    except Exception as e:
        return [
            Problem(
                "metric-not-sent", f"cannot send a metric to {topo.carbon_port}: {short_error(e)}"
            )
        ]
    path = f"{topo.whisper_dir}/{PROBE_METRIC.replace('.', '/')}.wsp"
    deadline = ctx.deadline()
    last = ""
    while True:
        fetched = ctx.stack.exec(
            host, ["whisper-fetch", "--from", str(now - 2), "--until", str(now + 2), path]
        )
        if fetched.ok and any(
            line.split()[-1:] == [f"{float(value):.6f}"] for line in fetched.stdout.splitlines()
        ):
            return []
        last = fetched.brief() if not fetched.ok else "value not there yet"
        if time.monotonic() >= deadline:
            return [
                Problem(
                    "metric-not-stored",
                    f"metric sent at {now} not in {path} after {ctx.deadline_s:g}s ({last})",
                )
            ]
        time.sleep(0.2)
