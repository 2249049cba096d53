"""This team's own Python check for its memcached host (reboot_harness.checks).

`memcached stats`: memcached answers, keeps a value it is given, allows the connections it was
started for, and its pid file names the process that answers (tools that stop or watch it by
pid file are blind otherwise).
"""

from __future__ import annotations

import time

from reboot_harness.checks import CheckResult, Context, Topology, check

MIN_CONNECTIONS = 4096
PID_FILE = "/run/memcached/memcached.pid"

# Run inside the cache host (bash only): a set and a get of a fresh value, `stats`, then the
# pid file. memcached closes the connection on `quit`.
ASK = r"""
exec 3<>/dev/tcp/127.0.0.1/11211 || exit 3
printf 'set rh-probe 0 60 %s\r\n%s\r\nget rh-probe\r\nstats\r\nquit\r\n' "${#1}" "$1" >&3
tr -d '\r' <&3
printf 'PIDFILE %s\n' "$(cat "$2" 2>/dev/null || echo none)"
"""


def cache_hosts(topology: Topology) -> list[str]:
    return [host for host, daemons in topology.daemons.items() if "memcached" in daemons]


@check(
    "memcached stats",
    causes={
        "no-answer": "memcached does not answer on 11211",
        "value-lost": "memcached did not give back a value it was just given",
        "connections-below-minimum": f"memcached allows fewer than {MIN_CONNECTIONS} connections",
        "pid-file-wrong": "the pid file is missing or names another process",
    },
    subjects=cache_hosts,
    description="memcached answers, keeps a value, allows its connections, its pid file is right",
    unobserved=["no-answer"],  # silence says nothing about memcached's configuration
)
def memcached_stats(ctx: Context) -> list[CheckResult]:
    results = []
    expected = (
        f"answers, gives back a value, max_connections >= {MIN_CONNECTIONS}, {PID_FILE} names it"
    )
    for host in ctx.subjects:
        reason = ctx.down(host)
        if reason:
            results.append(ctx.fail(host, expected, reason, cause="host-down"))
            continue
        token = f"v{time.time_ns()}"
        out = ctx.exec(host, ["bash", "-c", ASK, "ask", token, PID_FILE], timeout=5)
        lines = out.stdout.splitlines()
        if out.exit_code == 3 or "END" not in lines:
            results.append(
                ctx.fail(host, expected, f"no answer ({out.brief()})", cause="no-answer")
            )
            continue
        stats = dict(line.split()[1:3] for line in lines if line.startswith("STAT "))
        pid_file = next((line.split()[1] for line in lines if line.startswith("PIDFILE ")), "none")
        header = f"VALUE rh-probe 0 {len(token)}"
        at = lines.index(header) if header in lines else -1
        given_back = at >= 0 and at + 1 < len(lines) and lines[at + 1] == token
        seen = (
            f"pid {stats.get('pid', '?')}, max_connections {stats.get('max_connections', '?')},"
            f" pid file {pid_file}"
        )
        if not given_back:
            results.append(
                ctx.fail(host, expected, f"value not given back; {seen}", cause="value-lost")
            )
        elif int(stats.get("max_connections", "0")) < MIN_CONNECTIONS:
            results.append(ctx.fail(host, expected, seen, cause="connections-below-minimum"))
        elif pid_file != stats.get("pid"):
            results.append(ctx.fail(host, expected, seen, cause="pid-file-wrong"))
        else:
            results.append(ctx.ok(host, expected, seen))
    return results
