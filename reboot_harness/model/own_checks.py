"""Your own checks as values: :class:`Check` (a name, its causes, what a topology asks it to
cover, and its function), the :class:`Context` it sees the stack through, and the :func:`check`
decorator that makes one — the public check API (reboot_harness.checks, where it is documented
for users). Values and protocols only: no Docker, no imports of your modules (the loader is
reboot_harness.inputs.own_checks)."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Protocol

from reboot_harness.model.checks import CHECK_NAMES, COMMON_CAUSES, CheckKind
from reboot_harness.model.results import CheckResult
from reboot_harness.model.topology import Topology

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
