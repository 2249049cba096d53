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

from __future__ import annotations

import dataclasses
import importlib
import re
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from importlib import metadata
from types import MappingProxyType
from typing import Protocol

from reboot_harness.errors import UsageError
from reboot_harness.model.checks import CHECK_NAMES, COMMON_CAUSES, CheckKind
from reboot_harness.model.results import CheckResult
from reboot_harness.model.topology import Topology

ENTRY_POINT_GROUP = "reboot_harness.checks"
CAUSE_RE = re.compile(r"[a-z0-9][a-z0-9-]{0,62}")
CHECK_NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9 ._-]{0,62}")


class ExecOutput(Protocol):
    """What a command run inside a host printed and returned."""

    @property
    def exit_code(self) -> int: ...

    @property
    def stdout(self) -> str: ...

    @property
    def stderr(self) -> str: ...

    @property
    def ok(self) -> bool: ...

    def brief(self) -> str: ...


class Context(Protocol):
    """What a check may look at and how it reports (one per check per run).

    Attributes:
        topology: the stack's topology (hosts, roles, daemons).
        subjects: what this check must cover on this topology (from its ``subjects``).
        deadline_s: how long the check may wait for something to settle before it reports.
    """

    @property
    def topology(self) -> Topology: ...

    @property
    def subjects(self) -> tuple[str, ...]: ...

    @property
    def deadline_s(self) -> float: ...

    def down(self, host: str) -> str | None:
        """Why ``host`` cannot be checked (not running, no such host), or None."""
        ...

    def exec(
        self, host: str, argv: Sequence[str], *, user: str = "", timeout: float = 10.0
    ) -> ExecOutput:
        """Run ``argv`` inside ``host`` (killed after ``timeout`` seconds)."""
        ...

    def address(self, host: str) -> str:
        """``host``'s address on the stack's network."""
        ...

    def ok(
        self, host: str, expected: str, observed: str, *, subjects: Sequence[str] = (),
        detail: str = "",
    ) -> CheckResult:  # fmt: skip
        """A result that held; ``subjects`` default to ``(host,)``."""
        ...

    def fail(
        self, host: str, expected: str, observed: str, *, cause: str,
        subjects: Sequence[str] = (), detail: str = "",
    ) -> CheckResult:  # fmt: skip
        """A failed result with one of the check's causes (or a common one)."""
        ...


CheckFunction = Callable[[Context], Iterable[CheckResult]]
Subjects = Callable[[Topology], Sequence[str]] | Sequence[str]


@dataclass(frozen=True)
class Check:
    """A check of your own (build it with :func:`check`).

    Attributes:
        name: what scenarios call it.
        run: looks at the stack, returns results.
        causes: cause code -> what it means; every failing result carries one of them or a
            common one (``host-down``, ``check-crashed``, ``not-exercised``).
        subjects: the subjects it must cover: a function of the topology, or fixed names.
        description: what holds when it passes (for ``list`` and the README of your project).
        unobserved: those of ``causes`` that say the check could not see (no answer, a
            timeout, a failed read) rather than name a mechanism; report silence with one of
            them (or the common ``host-unreadable``), never with a mechanism's code.
    """

    name: str
    run: CheckFunction
    causes: Mapping[str, str]
    subjects: Subjects = ()
    description: str = ""
    unobserved: frozenset[str] = frozenset()
    source: str = field(default="", compare=False)

    def subjects_for(self, topology: Topology) -> tuple[str, ...]:
        found = self.subjects(topology) if callable(self.subjects) else self.subjects
        return tuple(str(s) for s in found)

    def kind(self) -> CheckKind:
        return CheckKind(
            self.name,
            MappingProxyType(dict(self.causes)),
            self.description,
            unobserved=frozenset(self.unobserved),
        )


def check(
    name: str,
    *,
    causes: Mapping[str, str],
    subjects: Subjects,
    description: str = "",
    unobserved: Iterable[str] = (),
) -> Callable[[CheckFunction], Check]:
    """Make a function a :class:`Check` (see the module's documentation)."""

    def deco(fn: CheckFunction) -> Check:
        made = Check(
            name, fn, MappingProxyType(dict(causes)), subjects, description, frozenset(unobserved)
        )
        problem = _invalid(made)
        if problem:
            raise ValueError(f"check {name!r}: {problem}")
        return made

    return deco


def _invalid(made: Check) -> str:
    """What is wrong with a check's declaration, or ""."""
    if not isinstance(made.name, str) or not CHECK_NAME_RE.fullmatch(made.name):
        return (
            f"name {made.name!r} is not valid: 1-63 letters, digits, spaces, '.', '_' or '-',"
            " starting with a letter or digit"
        )
    if made.name in CHECK_NAMES:
        return f"name {made.name!r} is a shipped check's; choose another"
    if not callable(made.run):
        return "run is not callable"
    if not isinstance(made.causes, Mapping):
        return "causes must be a mapping of cause code -> meaning"
    for cause, meaning in made.causes.items():
        if not isinstance(cause, str) or not CAUSE_RE.fullmatch(cause):
            return f"cause {cause!r} is not valid: lowercase letters, digits and '-'"
        if cause in COMMON_CAUSES:
            return f"cause {cause!r} is every check's already; do not declare it"
        if not isinstance(meaning, str) or not meaning.strip():
            return f"cause {cause!r} needs a one-line meaning"
    stray = sorted(set(made.unobserved) - set(made.causes))
    if stray:
        return f"unobserved causes {stray} are not among its causes"
    if not callable(made.subjects) and (
        isinstance(made.subjects, str) or not isinstance(made.subjects, Sequence)
    ):
        return "subjects must be a function of the topology or a list of names"
    return ""


def load(ref: str, search: str = "") -> Check:
    """The check ``ref`` names: an entry point name of group ``reboot_harness.checks`` or
    ``module:attribute`` (imported with ``search`` first on ``sys.path``).

    Raises:
        UsageError: nothing by that name, an import that fails, or not a valid Check.
    """
    return _load(ref, search)


@cache
def _load(ref: str, search: str) -> Check:
    if not isinstance(ref, str) or not ref.strip():
        raise UsageError(f"python check {ref!r}: expected an entry point name or module:attribute")
    if ":" in ref:
        found = _import(ref, search)
    else:
        eps = [ep for ep in metadata.entry_points(group=ENTRY_POINT_GROUP) if ep.name == ref]
        if not eps:
            known = sorted({ep.name for ep in metadata.entry_points(group=ENTRY_POINT_GROUP)})
            raise UsageError(
                f"python check {ref!r}: no entry point of group {ENTRY_POINT_GROUP} has that"
                f" name (installed: {', '.join(known) or 'none'}); install the package that"
                " provides it, or write module:attribute"
            )
        try:
            found = eps[0].load()
        except Exception as e:
            raise UsageError(
                f"python check {ref!r}: entry point {eps[0].value} cannot be loaded:"
                f" {type(e).__name__}: {e}"
            ) from e
        if isinstance(found, Check) and found.name != ref:
            raise UsageError(
                f"python check {ref!r}: entry point {eps[0].value} is check {found.name!r};"
                " name the entry point as the check"
            )
    if not isinstance(found, Check):
        raise UsageError(
            f"python check {ref!r} is a {type(found).__name__}, not a"
            " reboot_harness.checks.Check; decorate the function with"
            " @reboot_harness.checks.check(...)"
        )
    problem = _invalid(found)
    if problem:
        raise UsageError(f"python check {ref!r}: {problem}")
    return dataclasses.replace(found, source=ref)


def _import(ref: str, search: str) -> object:
    module_name, _, attr = ref.partition(":")
    if not module_name or not attr:
        raise UsageError(f"python check {ref!r}: expected module:attribute")
    if search and search not in sys.path:
        sys.path.insert(0, search)
    try:
        module = importlib.import_module(module_name)
    except Exception as e:
        where = f" (searched {search} and sys.path)" if search else ""
        raise UsageError(
            f"python check {ref!r}: cannot import {module_name}{where}: {type(e).__name__}: {e}"
        ) from e
    found = module
    for part in attr.split("."):
        try:
            found = getattr(found, part)
        except AttributeError as e:
            raise UsageError(f"python check {ref!r}: {module_name} has no {attr}") from e
    return found


__all__ = ["ENTRY_POINT_GROUP", "Check", "Context", "ExecOutput", "check", "load"]
