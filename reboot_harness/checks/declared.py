"""Declared host checks (a topology file's ``host_checks``): a process alive, a process's
``nofile``, a directory with owner and mode, a port listening (or reached from a peer host), an
HTTP URL answering, a file present or absent — observed inside the host (a port tried from a
peer: inside the peer) with bash and /proc only, one command per host per run — and the engine's
healthcheck of a host; judged here with the causes of
:data:`reboot_harness.model.checks.HOST_CHECK_CAUSES`."""

from __future__ import annotations

import shlex
from collections.abc import Callable, Sequence
from functools import partial
from urllib.parse import urlsplit

from reboot_harness.checks.base import ask_each
from reboot_harness.errors import HarnessError
from reboot_harness.model.checks import COMMON_CAUSES, HOST_CHECK_CAUSES, HOST_CHECK_UNOBSERVED
from reboot_harness.model.own_checks import Check, Context
from reboot_harness.model.results import CheckResult
from reboot_harness.model.topology import HostCheck

# Shell functions the per-host script uses. Each prints facts, never a verdict.
_LIB = r"""
# procs NAME: "PID STATE" of every process whose comm (15 chars) or argv[0]'s name is NAME
procs() {
  local d stat comm rest state argv0 want15=${1:0:15}
  for d in /proc/[0-9]*; do
    [ "${d#/proc/}" = "$$" ] && continue
    { read -r stat < "$d/stat"; } 2>/dev/null || continue
    comm=${stat#*\(}; comm=${comm%\)*}; rest=${stat##*\) }; state=${rest%% *}
    if [ "$comm" != "$want15" ] && [ "$comm" != "$1" ]; then
      argv0=
      { IFS= read -r -d '' argv0 < "$d/cmdline"; } 2>/dev/null
      argv0=${argv0##*/}
      [ "$argv0" = "$1" ] || continue
    fi
    printf '%s %s\n' "${d#/proc/}" "$state"
  done
}
# nofile PID: "soft hard" of its Max open files
nofile() {
  local line
  { while IFS= read -r line; do
      case $line in "Max open files"*) set -- $line; printf '%s %s\n' "$4" "$5"; return;; esac
    done < "/proc/$1/limits"; } 2>/dev/null
  echo "? ?"
}
# listening PORT: yes when a TCP socket (v4 or v6) listens on PORT in this host
listening() {
  local hex sl local rest st f
  hex=$(printf '%04X' "$1")
  for f in /proc/net/tcp /proc/net/tcp6; do
    [ -r "$f" ] || continue
    while read -r sl local rest; do
      set -- $rest
      [ "${local##*:}" = "$hex" ] && [ "$2" = 0A ] && { echo yes; return; }
    done < "$f"
  done
  echo no
}
# reach HOST PORT: whether a TCP connection to HOST:PORT opens: open, refused, timeout,
# unresolved, or "other WHAT"
reach() {
  local out rc
  out=$(timeout 3 bash -c 'exec 3<>"/dev/tcp/$1/$2"' reach "$1" "$2" 2>&1); rc=$?
  if [ "$rc" = 0 ]; then echo open; return; fi
  [ "$rc" = 124 ] && { echo timeout; return; }
  case $out in
    *refused*) echo refused;;
    *"not known"*|*resolution*|*"No address"*) echo unresolved;;
    *) out=${out##*: }; echo "other ${out:-exit $rc}";;
  esac
}
# http HOST PORT PATH: the status line, or "ERR what went wrong"
http() {
  timeout 5 bash -c '
    exec 3<>"/dev/tcp/$1/$2" || { echo "ERR cannot connect to $1:$2"; exit 0; }
    printf "GET %s HTTP/1.0\r\nHost: %s\r\nUser-Agent: reboot-harness\r\n" "$3" "$1" >&3
    printf "Connection: close\r\n\r\n" >&3
    IFS= read -r line <&3 || { echo "ERR no answer from $1:$2"; exit 0; }
    printf "%s\n" "$line"
  ' http "$@" 2>/dev/null || echo "ERR cannot connect to $1:$2, or no answer within 5s"
}
"""


def script(entries: Sequence[HostCheck]) -> str:
    """The bash script that observes ``entries`` (all on one host): one line per fact,
    ``INDEX<TAB>FACT``."""
    lines = [_LIB]
    for i, e in enumerate(entries):
        t = shlex.quote(e.target)
        if e.kind in ("process", "nofile"):
            lines.append(f"procs {t} | while read -r pid state; do")
            lines.append(
                f'  [ "$state" = Z ] && continue; printf "{i}\\t%s %s\\n" "$pid" '
                + ('"$(nofile $pid)"' if e.kind == "nofile" else '"$state"')
            )
            lines.append("done")
        elif e.kind == "directory":
            lines.append(
                f"if [ -d {t} ]; then printf '{i}\\tdir %s\\n' \"$(stat -L -c '%U %G %a' {t})\";"
                f" elif [ -e {t} ] || [ -L {t} ]; then printf '{i}\\tother\\n';"
                f" else printf '{i}\\tmissing\\n'; fi"
            )
        elif e.kind == "port" and e.peer:
            where = f"{shlex.quote(e.host)} {int(e.target)}"
            lines.append(f"printf '{i}\\t%s\\n' \"$(reach {where})\"")
        elif e.kind == "port":
            lines.append(f"printf '{i}\\t%s\\n' \"$(listening {int(e.target)})\"")
        elif e.kind == "http":
            u = urlsplit(e.target)
            path = u.path or "/"
            if u.query:
                path += f"?{u.query}"
            args = " ".join(shlex.quote(a) for a in (u.hostname or "", str(u.port or 80), path))
            lines.append(f"printf '{i}\\t%s\\n' \"$(http {args})\"")
        elif e.kind == "file":
            lines.append(
                f"if [ -e {t} ] || [ -L {t} ]; then printf '{i}\\tyes\\n';"
                f" else printf '{i}\\tno\\n'; fi"
            )
    lines.append("echo END")
    return "\n".join(lines) + "\n"


def parse(output: str, count: int) -> list[list[str]]:
    """The facts of each entry, in order (an entry may have none: no such process)."""
    facts: list[list[str]] = [[] for _ in range(count)]
    for line in output.splitlines():
        index, sep, fact = line.partition("\t")
        if sep and index.isdigit() and int(index) < count:
            facts[int(index)].append(fact)
    return facts


def _result(
    entry: HostCheck, ok: bool, observed: str, cause: str = "", detail: str = ""
) -> CheckResult:
    if not ok and cause not in HOST_CHECK_CAUSES and cause not in COMMON_CAUSES:
        raise RuntimeError(f"declared check reported unknown cause {cause!r}")  # a bug
    return CheckResult(
        entry.check, entry.host, ok, entry.expected(), observed, detail,
        () if ok else (cause,), (entry.subject,),
    )  # fmt: skip


def judge(entry: HostCheck, facts: list[str]) -> CheckResult:
    """One entry's result from the facts the script printed for it."""
    if entry.kind in ("process", "nofile"):
        live = [f.split() for f in facts]
        if not live:
            return _result(entry, False, f"no live process {entry.target}",
                           "process-not-running")  # fmt: skip
        if entry.kind == "process":
            pids = ", ".join(p[0] for p in live)
            return _result(entry, True, f"{entry.target} alive (pid {pids})")
        seen, low, unread = [], [], []
        for pid, soft, hard in (p[:3] for p in live if len(p) >= 3):
            value = -1 if soft == "unlimited" else int(soft) if soft.isdigit() else None
            if value is None:  # ended between the listing and the read, or unreadable
                unread.append(pid)
                continue
            seen.append(f"pid {pid} soft {soft}, hard {hard}")
            if value != -1 and value < entry.minimum:
                low.append(f"{entry.target} (pid {pid}) soft {soft} < {entry.minimum}")
        if low:
            return _result(entry, False, "; ".join(low), "nofile-below-minimum", "; ".join(seen))
        if not seen:  # listed alive, its limits not read: that is no "not running"
            pids = ", ".join(unread) or "?"
            return _result(entry, False, f"cannot read the limits of {entry.target} (pid {pids})",
                           "host-unreadable")  # fmt: skip
        return _result(entry, True, f"{entry.target}: " + "; ".join(seen))
    fact = facts[0].strip() if facts else ""
    if not _well_formed(entry, fact):  # the script printed nothing, or not its fact
        return _result(entry, False, f"no reading of {entry.target} ({fact or 'nothing'})",
                       "host-unreadable")  # fmt: skip
    if entry.kind == "directory":
        if fact == "missing":
            return _result(entry, False, f"{entry.target} does not exist", "directory-missing")
        if fact == "other":
            return _result(entry, False, f"{entry.target} is not a directory", "not-a-directory")
        owner, group, mode = fact.split()[1:4]
        got = f"{entry.target} {owner}:{group} mode {mode}"
        if (entry.owner and owner != entry.owner) or (entry.group and group != entry.group):
            return _result(entry, False, got, "directory-wrong-owner")
        if entry.mode and mode.lstrip("0") != entry.mode.lstrip("0"):
            return _result(entry, False, got, "directory-wrong-mode")
        return _result(entry, True, got)
    if entry.kind == "port" and entry.peer:
        tried = f"from {entry.peer}: {entry.host}:{entry.target}"
        if fact == "open":
            return _result(entry, True, f"{tried} connects")
        if fact == "refused":
            return _result(entry, False, f"{tried} refused", "port-refused-from-peer")
        said = {"timeout": "no answer within 3s", "unresolved": f"{entry.host} does not resolve"}
        return _result(entry, False, f"{tried}: {said.get(fact, fact.removeprefix('other '))}",
                       "port-unanswered-from-peer")  # fmt: skip
    if entry.kind == "port":
        if fact == "yes":
            return _result(entry, True, f"listening on {entry.target}")
        return _result(entry, False, f"nothing listens on TCP {entry.target}", "port-not-listening")
    if entry.kind == "http":
        if not fact.startswith("HTTP/"):
            what = fact.removeprefix("ERR ") or "no answer"
            return _result(entry, False, what, "http-unreachable")
        parts = fact.split(maxsplit=2)
        status = parts[1] if len(parts) > 1 else "?"
        if status != str(entry.status):
            return _result(entry, False, f"answered {fact}", "http-wrong-status")
        return _result(entry, True, f"answered {fact}")
    present = fact == "yes"
    if present == entry.present:
        return _result(entry, True, f"{entry.target} {'present' if present else 'absent'}")
    if present:
        return _result(entry, False, f"{entry.target} is present", "file-present")
    return _result(entry, False, f"{entry.target} does not exist", "file-missing")


def _well_formed(entry: HostCheck, fact: str) -> bool:
    """Whether ``fact`` is what the script prints for ``entry`` (see :func:`script`)."""
    kind = entry.kind
    if kind == "port" and entry.peer:
        return fact in ("open", "refused", "timeout", "unresolved") or fact.startswith("other ")
    if kind == "directory":
        return fact in ("missing", "other") or (fact.startswith("dir ") and len(fact.split()) == 4)
    if kind in ("port", "file"):
        return fact in ("yes", "no")
    return bool(fact)  # http: a status line, or "ERR why"


def _unobservable(
    ctx: Context, observer: str, entries: list[HostCheck]
) -> dict[HostCheck, CheckResult]:
    """The entries that cannot be observed now: their host is down (``host-down``), or the
    peer that would try a port is (``host-unreadable``: nothing was seen of the host)."""
    out = {}
    for e in entries:
        reason = ctx.down(e.host)
        if reason:
            out[e] = _result(e, False, reason, "host-down")
        elif e.peer:
            peer_down = ctx.down(observer)
            if peer_down:
                out[e] = _result(e, False, f"cannot try it from {observer}: {peer_down}",
                                 "host-unreadable")  # fmt: skip
    return out


def _host_results(ctx: Context, observer: str, entries: list[HostCheck]) -> list[CheckResult]:
    """The results of ``entries``, all observed by one script inside ``observer``."""
    found = _unobservable(ctx, observer, entries)
    todo = [e for e in entries if e not in found]
    if todo:
        out = ctx.exec(observer, ["bash", "-c", script(todo)], timeout=max(ctx.deadline_s, 8.0))
        if out.exit_code == 125:  # went down between the status read and the exec
            cause = {e: "host-down" if e.host == observer else "host-unreadable" for e in todo}
            found |= {e: _result(e, False, out.brief(), cause[e]) for e in todo}
        elif not out.stdout.rstrip().endswith("END"):
            found |= {e: _result(e, False, f"cannot read {observer}: {out.brief()}",
                                 "host-unreadable") for e in todo}  # fmt: skip
        else:
            facts = parse(out.stdout, len(todo))
            found |= {e: judge(e, f) for e, f in zip(todo, facts, strict=True)}
    return [found[e] for e in entries]


def _health(ctx: Context, entry: HostCheck) -> CheckResult:
    """A healthcheck entry, from the engine's view of the host's healthcheck."""
    reason = ctx.down(entry.host)
    if reason:
        return _result(entry, False, reason, "host-down")
    try:
        status = ctx.health(entry.host)
    except HarnessError as e:
        return _result(entry, False, f"cannot read its health: {e}", "host-unreadable")
    if status == "healthy":
        return _result(entry, True, "healthy")
    if status == "unhealthy":
        return _result(entry, False, "unhealthy", "healthcheck-unhealthy")
    if status == "starting":
        return _result(entry, False, "starting (not passed yet)", "healthcheck-starting")
    if status == "":
        return _result(entry, False, "no healthcheck", "healthcheck-missing")
    return _result(entry, False, f"health {status!r}", "host-unreadable")


def run(ctx: Context, entries: Sequence[HostCheck]) -> list[CheckResult]:
    """Every entry's result, the hosts read concurrently, in the declared order."""
    # one script per observing host, one engine read per healthcheck: all asked at once
    work: dict[str, Callable[[], list[CheckResult]]] = {}
    for e in entries:
        if e.kind == "healthcheck":
            work[e.subject] = partial(lambda e: [_health(ctx, e)], e)
        elif e.observer not in work:
            mine = [x for x in entries if x.kind != "healthcheck" and x.observer == e.observer]
            work[e.observer] = partial(_host_results, ctx, e.observer, mine)
    answers = ask_each(list(work), lambda key: work[key]())
    found = {(r.host, r.subjects): r for rs in answers.values() for r in rs}
    return [found[(e.host, (e.subject,))] for e in entries]


def as_check(name: str, entries: Sequence[HostCheck]) -> Check:
    """The declared host checks of one name (``entries``, in the declared order) as one
    check: the causes of :data:`reboot_harness.model.checks.HOST_CHECK_CAUSES`, one subject
    per entry."""
    entries = tuple(entries)
    hosts = ", ".join(dict.fromkeys(e.host for e in entries))
    return Check(
        name,
        partial(run, entries=entries),
        HOST_CHECK_CAUSES,
        tuple(e.subject for e in entries),
        f"declared host checks on {hosts}",
        HOST_CHECK_UNOBSERVED,
    )
