"""directories: carbon's pid directory exists at boot with the owner and mode it needs,
carbon listens, and a metric sent now lands in whisper."""

from __future__ import annotations

import random
import socket
import time
from dataclasses import dataclass

from reboot_harness.checks.api import Context, Problem, check
from reboot_harness.checks.base import short_error
from reboot_harness.model.own_checks import ExecOutput
from reboot_harness.model.results import CheckResult
from reboot_harness.model.topology import Topology

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
# Each fact is printed as seen ("dir OWNER MODE", "missing": nothing at that path, "unreadable":
# something there that stat cannot read), and the reading ends with END: a read without it did
# not come back whole, and says nothing about the directory.
END = "rh-end"
_PID_DIR_SCRIPT = (
    'd=$(sed -n "s/^[[:space:]]*PID_DIR[[:space:]]*=[[:space:]]*//p" "$1" 2>/dev/null | tail -n 1);'
    ' d=${d%/}; d=${d:-$2}; printf "%s\\n" "$d";'
    ' if s=$(stat -c "%U %a" "$d"); then printf "dir %s\\n" "$s";'
    ' elif [ -e "$d" ] || [ -L "$d" ]; then echo unreadable; else echo missing; fi;'
    ' for f in "$d"/carbon-cache-*.pid; do [ -f "$f" ] || continue;'
    ' p=$(head -c 32 "$f" | tr -cd 0-9);'
    ' c=$( [ -n "$p" ] && cat "/proc/$p/comm" 2>/dev/null || echo -);'
    f' printf "pid %s %s %s\\n" "$f" "${{p:--}}" "$c"; done; echo {END}'
)


@dataclass(frozen=True)
class PidDir:
    """carbon's pid directory as the host has it.

    Attributes:
        path: the directory (carbon.conf's PID_DIR, else the topology's).
        owner_mode: ``owner mode`` ('' when it does not exist).
        pid_files: (file, pid named in it, what that pid is now: its comm, '-' for no process).
        missing: the host said nothing is at ``path`` (not merely: no ``dir`` line came back).
        complete: the reading came back whole (its END line); an incomplete one shows nothing.
    """

    path: str
    owner_mode: str = ""
    pid_files: tuple[tuple[str, str, str], ...] = ()
    missing: bool = False
    complete: bool = True

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
    missing = False
    files = []
    for line in lines[1:]:
        kind, _, rest = line.partition(" ")
        if kind == "dir":
            owner_mode = rest.strip()
        elif kind == "missing":
            missing = True
        elif kind == "pid":
            parts = rest.rsplit(" ", 2)
            if len(parts) == 3:
                files.append((parts[0], parts[1], parts[2]))
    if not lines or lines[-1].strip() != END:  # cut short: none of it is a reading
        return PidDir(path, complete=False)
    return PidDir(path, owner_mode, tuple(files), missing)


def pid_dir(ctx: Context) -> tuple[PidDir, ExecOutput]:
    """carbon's pid directory and the pid files in it, as the host has them, and the read (a
    read that fails or comes back cut short, on a host that runs, is asked again until the
    check's deadline: a busy machine's exec can fail once, or answer exit 0 with nothing read,
    without the host having anything to do with it)."""
    topo = ctx.topology
    deadline = ctx.deadline()
    while True:
        read = ctx.exec(
            topo.graphite_host,
            ["sh", "-c", _PID_DIR_SCRIPT, "sh", topo.carbon_conf, topo.graphite_pid_dir],
        )
        found = parse_pid_dir(read.stdout, topo.graphite_pid_dir)
        whole = read.ok and found.complete
        if whole or read.exit_code == 125 or time.monotonic() >= deadline:
            break
        time.sleep(0.2)
    if not read.ok:
        found = PidDir(found.path, complete=False)
    return found, read


@check(
    NAME,
    description="the graphite host",
    roles=("graphite_host",),
    subjects=subjects,
    unobserved=("metric-not-sent",),
    causes={
        "pid-dir-missing": "carbon's pid directory does not exist",
        "pid-dir-wrong-owner": "carbon's pid directory has the wrong owner or mode",
        "stale-pid-file": "a carbon pid file names a process that is not carbon-cache (left by"
        " a boot before: carbon refuses to start when that pid is in use again)",
        "not-listening": "carbon does not listen on its line receiver port",
        "metric-not-sent": "a metric could not be sent to carbon (no connection)",
        "metric-not-stored": "a metric sent now did not land in whisper",
    },
)
def check_directories(ctx: Context) -> list[CheckResult]:
    topo = ctx.topology
    host = topo.graphite_host
    expected = (
        f"carbon's PID_DIR owned by {topo.graphite_user} mode {topo.graphite_pid_dir_mode};"
        f" carbon listening on {topo.carbon_port}; a metric sent now lands in whisper"
    )
    reason = ctx.down(host)
    if reason:
        last = ctx.logs(host, tail=2).strip().splitlines()
        detail = last[-1][:200] if last else ""
        return [ctx.fail(host, expected, reason, cause="host-down", detail=detail)]
    problems = []
    found, read = pid_dir(ctx)
    if read.exit_code == 125:  # stopped after the run's status read
        return [ctx.fail(host, expected, read.brief(), cause="host-down")]
    path, owner_mode = found.path, found.owner_mode
    if not found.complete:
        problems.append(Problem("host-unreadable", f"cannot read {path} ({read.brief()})"))
    elif found.missing:
        problems.append(Problem("pid-dir-missing", f"{path} missing"))
    elif not found.exists:
        problems.append(Problem("host-unreadable", f"{path} exists but cannot be read"))
    elif owner_mode.split() != [topo.graphite_user, topo.graphite_pid_dir_mode]:
        problems.append(Problem("pid-dir-wrong-owner", f"{path} is {owner_mode}"))
    problems += [Problem("stale-pid-file", text) for text in found.stale()]
    listening = _listens(ctx)
    if listening:
        problems.append(listening)
    else:
        problems += _metric_lands(ctx)
    return [
        ctx.result(host, expected, problems, f"pid dir {path} ok, carbon up, metric landed",
                   detail=f"{path}: {owner_mode}")
    ]  # fmt: skip


def _listens(ctx: Context) -> Problem | None:
    """None once carbon listens (polled until the deadline), else what was seen: nothing
    listening on a socket table that was read, or a table that could not be read."""
    topo = ctx.topology
    deadline = ctx.deadline()
    while True:
        tcp = ctx.shell(topo.graphite_host, "cat /proc/net/tcp /proc/net/tcp6")
        if topo.carbon_port in listening_ports(tcp.stdout):
            return None
        if time.monotonic() >= deadline:
            if not _socket_table(tcp.stdout):
                return Problem("host-unreadable", f"cannot read the host's sockets ({tcp.brief()})")
            return Problem("not-listening", f"nothing listens on {topo.carbon_port}")
        time.sleep(0.2)


def _socket_table(text: str) -> bool:
    """Whether ``text`` is a /proc/net/tcp table (its header line), read in full or not."""
    return "local_address" in text.split("\n", 1)[0]


def _metric_lands(ctx: Context) -> list[Problem]:
    """Send a probe value now; no problem if whisper has it before the deadline."""
    topo = ctx.topology
    host = topo.graphite_host
    value = random.randint(1, 10**9)
    now = int(time.time())
    try:
        ip, port = ctx.endpoint(host, topo.carbon_port)
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
    while True:
        fetched = ctx.exec(
            host, ["whisper-fetch", "--from", str(now - 2), "--until", str(now + 2), path]
        )
        seen = whisper_read(fetched, value)
        if seen == "stored":
            return []
        if time.monotonic() >= deadline:
            if seen == "unread":
                return [
                    Problem(
                        "host-unreadable",
                        f"metric sent at {now}; cannot read {path} ({fetched.brief()})",
                    )
                ]
            last = "no such file" if seen == "no-file" else "value not there"
            return [
                Problem(
                    "metric-not-stored",
                    f"metric sent at {now} not in {path} after {ctx.deadline_s:g}s ({last})",
                )
            ]
        time.sleep(0.2)


def whisper_read(fetched: ExecOutput, value: int) -> str:
    """What one ``whisper-fetch`` showed: ``stored`` (the value is there), ``absent`` (the
    series was read and the value is not in it), ``no-file`` (it says there is no such file:
    ``[ERROR] [Errno 2] No such file or directory``, exit 1), or ``unread`` (no answer that
    shows either: another failure, a timeout, nothing)."""
    rows = [line.split() for line in fetched.stdout.splitlines()]
    series = [r for r in rows if len(r) == 2 and r[0].isdigit()]
    if fetched.ok and series:
        return "stored" if any(r[1] == f"{float(value):.6f}" for r in series) else "absent"
    said = fetched.stderr + fetched.stdout
    if fetched.exit_code == 1 and ("No such file" in said or "does not exist" in said):
        return "no-file"
    return "unread"
