"""One reading of a host's processes (and its supervisord programs), shared by the checks of a
run and taken through a probe that stays running in the host (:meth:`Stack.ask`), so reading a
host costs a pipe round trip instead of a `docker exec` and a `supervisorctl` start."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from reboot_harness.model.topology import Topology
from reboot_harness.stack.protocol import StackLike

END = "rh-end"
# Hosts without supervisord need only their process list: POSIX sh builtins (no process is
# started per question, so the list holds nothing of the probe's but the shell itself).
SH_AGENT = (
    "while read -r _q; do"
    ' for p in /proc/[0-9]*; do pid="${p#/proc/}";'
    ' [ "$pid" = "$$" ] && continue;'
    ' { read -r stat < "$p/stat" && read -r comm < "$p/comm"; } 2>/dev/null || continue;'
    ' state="${stat##*) }"; printf "proc\\t%s\\t%s\\t%s\\n" "$pid" "${state%% *}" "$comm";'
    f" done; echo {END}; done"
)
DEAD = ("Z", "X", "x")  # /proc/PID/stat states of a process that has ended (zombie, dead)


@cache
def _python_agent() -> str:
    return (Path(__file__).with_name("host_agent.py")).read_text()


def agent_argv(topo: Topology, host: str) -> list[str]:
    """The probe to keep running in ``host``: the supervisord-aware one where supervisord runs,
    told how the app program shows it serves (its /health) on the app hosts."""
    if host in topo.supervisor_hosts:
        serves = [f"{topo.app_program}={topo.app_port}/health"] if host in topo.apps else []
        return ["python3", "-c", _python_agent(), topo.supervisor_conf, *serves]
    return ["sh", "-c", SH_AGENT]


@dataclass(frozen=True)
class Program:
    """A supervisord program as supervisord reports it, and what its process looks like."""

    name: str
    state: str
    pid: int
    alive: bool = False  # its pid is a live process of the host (not gone, not a zombie)
    nofile: str = ""  # the "Max open files" line of /proc/PID/limits
    # For a program that shows it serves (the app's /health), while RUNNING or STARTING: "yes"
    # when its own process answered, else why not; "" when not asked.
    serving: str = ""

    def up(self) -> bool:
        """Its process alive, and RUNNING or STARTING, and — for a program that shows it serves —
        its own process answering its health request.

        supervisord says RUNNING after ``startsecs`` of uptime whether or not the program is
        ready by then (a loaded host takes longer than 1 s to import and bind the app), and says
        STARTING for an app that already serves; a program that answers is up, which is what a
        recovered host means, and one that does not answer (not listening yet, frozen, draining)
        is not. Listening alone is not enough: a loaded host can hold connections in the backlog
        for a second before the server takes them. A killed program stays RUNNING until
        supervisord has reaped it: its zombie is not up.
        """
        if not self.alive or self.state not in ("RUNNING", "STARTING"):
            return False
        if self.serving:
            return self.serving == "yes"
        return self.state == "RUNNING"

    def describe(self) -> str:
        if self.pid > 0 and not self.alive and self.state in ("RUNNING", "STARTING"):
            return f"{self.name} {self.state} (pid {self.pid} has ended)"
        if self.state == "STARTING" and self.serving == "yes":
            return f"{self.name} STARTING (serving)"
        if self.state == "STARTING" and self.serving:
            return f"{self.name} STARTING (not serving yet: {self.serving})"
        if self.state == "RUNNING" and self.serving and self.serving != "yes":
            return f"{self.name} RUNNING (not serving: {self.serving})"
        return f"{self.name} {self.state}"


@dataclass(frozen=True)
class HostView:
    """What one question to a host's probe saw.

    Attributes:
        processes: (pid inside the host, command name) of every live process but the probe
            (zombies left out: a killed daemon is not alive while it waits to be reaped).
        programs: supervisord's programs by name (empty where supervisord is not asked).
        error: why the reading is incomplete ('' when it is complete).
        answered: the probe answered (a reading, complete or not, came from the host).
        down: the host was not running when asked (it stopped after the run's status read).
    """

    host: str
    processes: tuple[tuple[int, str], ...] = ()
    programs: dict[str, Program] = field(default_factory=dict)
    error: str = ""
    answered: bool = False
    down: bool = False


def parse_view(host: str, text: str) -> HostView:
    """A probe's answer (see :mod:`reboot_harness.checks.host_agent`) → :class:`HostView`."""
    procs: list[tuple[int, str]] = []
    programs: dict[str, tuple[str, int]] = {}
    nofile: dict[str, str] = {}
    serving: dict[str, str] = {}
    errors: list[str] = []
    for line in text.splitlines():
        kind, _, rest = line.partition("\t")
        parts = rest.split("\t")
        if kind == "proc" and len(parts) == 3 and parts[0].isdigit():
            if parts[1] not in DEAD:
                procs.append((int(parts[0]), parts[2]))
        elif kind == "program" and len(parts) == 3 and parts[2].isdigit():
            programs[parts[0]] = (parts[1], int(parts[2]))
        elif kind == "limits" and len(parts) == 2:
            nofile[parts[0]] = parts[1]
        elif kind == "ready" and len(parts) == 2:
            serving[parts[0]] = parts[1]
        elif kind == "error":
            errors.append(rest)
        elif line.strip():
            errors.append(f"unexpected line from the probe: {line[:120]!r}")
    if not text.strip():
        errors.append("the probe answered nothing")
    live = {pid for pid, _ in procs}
    return HostView(
        host,
        tuple(procs),
        {
            name: Program(
                name,
                state,
                pid,
                pid in live,
                nofile.get(name, ""),
                serving.get(name, ""),
            )
            for name, (state, pid) in programs.items()
        },
        "; ".join(errors),
        answered=True,
    )


def read_view(stack: StackLike, host: str) -> HostView:
    """Ask ``host``'s probe (started on first use) for one reading."""
    answer = stack.ask(host, agent_argv(stack.topology, host), "read", end=END)
    if not answer.ok:
        down = answer.exit_code == 125  # Hosts.ask: the host is not running
        return HostView(host, error=f"probe did not answer ({answer.brief()})", down=down)
    return parse_view(host, answer.stdout)
