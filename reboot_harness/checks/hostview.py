"""One reading of a host's processes (and its supervisord programs), shared by the checks of a
run and taken through a probe that stays running in the host (:meth:`Stack.ask`), so reading a
host costs a pipe round trip instead of a `docker exec` and a `supervisorctl` start."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from reboot_harness.model.hostview import HostView, Program
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
