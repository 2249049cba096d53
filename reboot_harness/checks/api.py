"""Your own checks, in Python: a check for a service the harness does not ship.

A check is a :class:`Check`: a name (what scenarios, incidents and ``--checks`` call it), the cause
codes its failures may carry, the subjects a topology asks it to cover (each must be named by one of
its results, or the run reports ``not-exercised``), and a function that looks at the stack through a
:class:`Context` and returns :class:`~reboot_harness.model.results.CheckResult` s — the same
results, with expected, observed and cause, as the shipped checks::

    from reboot_harness.checks import CheckResult, Context, check

    @check(
        "memcached stats",
        causes={"no-answer": "memcached does not answer `stats`"},
        subjects=lambda topology: [h for h, d in topology.daemons.items() if "memcached" in d],
    )
    def memcached_stats(ctx: Context) -> list[CheckResult]:
        results = []
        for host in ctx.subjects:
            out = ctx.exec(host, ["bash", "-c", "..."])
            if not out.ok:
                results.append(ctx.fail(host, "answers stats", out.brief(), cause="no-answer"))
            else:
                results.append(ctx.ok(host, "answers stats", "answered"))
        return results

The context offers what the shipped checks use — they are written with this same API, one module
each in this package (``reboot_harness.model.checks.SHIPPED`` lists them): ``exec`` and ``shell``
inside a host, ``views`` (each host's live processes and supervisord programs, read once per round
for every check that asks), ``endpoint`` (where to connect to a host's port from here),
``address``/``static_address``/``addresses``, ``logs``, ``secrets``, ``since`` (the previous
round's time, for log-reading checks), ``rotation``, ``deadline()``; and it reports with ``ok``,
``fail`` and ``result`` (a list of :class:`Problem` s → one result). ``roles=[...]`` names the
topology roles the check needs (a topology without one does not offer it).

Run it against your stack: name it in your topology file (``python_checks: [NAME or
module:attribute]``). ``NAME`` is an entry point of group ``reboot_harness.checks`` (in your
package's pyproject: ``[project.entry-points."reboot_harness.checks"]`` ``"memcached stats" =
"mypkg.checks:memcached_stats"``; the entry point's name is the check's name);
``module:attribute`` is imported with the topology file's folder first on ``sys.path``.

A failure is an observation, never an exception: an exception escaping the function is reported
as ``check-crashed`` (the engine failing a read, a StackError, as ``host-unreadable``), and a
host that is off should be ``ctx.fail(..., cause="host-down")`` (``ctx.down(host)`` says
whether it is). Causes ``host-down``, ``host-unreadable``,
``check-crashed`` and ``not-exercised`` are every check's; declare the others in ``causes``.
A cause that names a mechanism is for an answer that shows it: a command that failed, timed out
or printed nothing is ``host-unreadable`` (or one of your causes you list in ``unobserved``).
Every failing result carries a cause: one without is refused (``check-crashed``, naming the
check). A passing result counts only for subjects whose host your reads reached (an ``exec``
that got an answer, the ``address`` of a running host); one that reached nothing there is
``not-exercised``.

This module imports no Docker client: loading a check (validating a scenario) stays cheap.
"""

from reboot_harness.inputs.own_checks import ENTRY_POINT_GROUP, load
from reboot_harness.model.own_checks import (
    CAUSE_RE,
    CHECK_NAME_RE,
    Check,
    Context,
    ExecOutput,
    Problem,
    check,
)

__all__ = [
    "CAUSE_RE",
    "CHECK_NAME_RE",
    "ENTRY_POINT_GROUP",
    "Check",
    "Context",
    "ExecOutput",
    "Problem",
    "check",
    "load",
]
