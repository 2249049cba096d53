"""Your own checks as values: :class:`Check` (a name, its causes, what a topology asks it to
cover, and its function), the :class:`Context` it sees the stack through, and the :func:`check`
decorator that makes one — the public check API (reboot_harness.checks, where it is documented
for users). Values and protocols only: no Docker, no imports of your modules (the loader is
reboot_harness.inputs.own_checks)."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from types import MappingProxyType
from typing import Protocol

from reboot_harness.model.checks import COMMON_CAUSES, SHIPPED, CheckKind
from reboot_harness.model.hostview import HostView
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


@dataclass(frozen=True)
class Problem:
    """One thing wrong, with its cause code (one of the check's causes, or a common one); see
    :meth:`Context.result`."""

    cause: str
    text: str


class Reporter(Protocol):
    """How a check reports: results named after the check, their causes validated against its
    own (and the common ones).

    Attributes:
        name: the check's name.
    """

    @property
    def name(self) -> str: ...

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
        """A failed result with one of the check's causes (or a common one); ``subjects``
        default to ``(host,)``."""
        ...

    def result(
        self, host: str, expected: str, problems: Sequence[Problem], ok_text: str, *,
        subjects: Sequence[str] = (), detail: str = "",
    ) -> CheckResult:  # fmt: skip
        """The result the ``problems`` found make: none, it held (observed: ``ok_text``); else
        it failed with their causes, observed: their texts joined by ``; ``."""
        ...


class Context(Reporter, Protocol):
    """What a check may look at and how it reports (one per check per run). The shipped checks
    see the stack through this same context.

    Every read a check makes through it (``exec``, ``shell``, ``views``; ``endpoint`` and
    ``address`` of a host that was running) records that host as reached: a passing result
    about a host none of the check's reads reached counts as ``not-exercised``.

    It reports as a :class:`Reporter` (``ok``, ``fail``, ``result``).

    Attributes:
        topology: the stack's topology (hosts, roles, daemons).
        subjects: what this check must cover on this topology (from its ``subjects``).
        deadline_s: how long the check may wait for something to settle before it reports.
        since: epoch seconds of the previous round of checks (0: none); a check that reads
            logs judges only lines newer than this.
        rotation: the load balancers the DNS answer should name now (empty: all of them).
        project: the stack's project name (distinguishes caches kept across runs).
        secrets: the stack's generated secrets (e.g. ``MYSQL_ROOT_PASSWORD``).
        ports_over_ssh: the engine's machine is reached through ssh, which forwards TCP only:
            ``endpoint(..., "udp")`` cannot be reached from here.
    """

    @property
    def topology(self) -> Topology: ...

    @property
    def subjects(self) -> tuple[str, ...]: ...

    @property
    def deadline_s(self) -> float: ...

    @property
    def since(self) -> float: ...

    @property
    def rotation(self) -> tuple[str, ...]: ...

    @property
    def project(self) -> str: ...

    @property
    def secrets(self) -> Mapping[str, str]: ...

    @property
    def ports_over_ssh(self) -> bool: ...

    def deadline(self) -> float:
        """``time.monotonic()`` plus :attr:`deadline_s`: when to stop waiting and report."""
        ...

    def down(self, host: str) -> str | None:
        """Why ``host`` cannot be checked (not running, no such host), or None."""
        ...

    def exec(
        self, host: str, argv: Sequence[str], *, user: str = "", timeout: float = 10.0
    ) -> ExecOutput:
        """Run ``argv`` inside ``host`` (killed after ``timeout`` seconds)."""
        ...

    def health(self, host: str) -> str:
        """The engine's health of ``host``'s healthcheck (its compose file's or image's):
        ``healthy``, ``unhealthy``, ``starting``, or "" when it has none."""
        ...

    def shell(self, host: str, script: str, *, user: str = "", timeout: float = 10.0) -> ExecOutput:
        """Run a ``sh -c`` script inside ``host``."""
        ...

    def views(self, hosts: Iterable[str]) -> dict[str, HostView]:
        """One reading of each host's live processes (and supervisord programs where it runs),
        taken once per round of checks however many checks ask, the hosts read concurrently."""
        ...

    def endpoint(self, host: str, port: int, proto: str = "tcp") -> tuple[str, int]:
        """Where this machine reaches ``host``'s ``port`` (an address and port published on
        127.0.0.1, or through the ssh tunnel)."""
        ...

    def address(self, host: str) -> str:
        """``host``'s address on the stack's network now."""
        ...

    def static_address(self, host: str) -> str:
        """The address ``host`` was configured with (what the stack's own files name)."""
        ...

    def addresses(self) -> dict[str, str]:
        """Every running host's address on the stack's network now."""
        ...

    def logs(self, host: str, tail: int = 30) -> str:
        """The last ``tail`` lines the host's init wrote (its container log)."""
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
        roles: topology roles (``lbs``, ``apps``, ``redis_hosts``, ``graphite_host`` ...: the
            :class:`~reboot_harness.model.topology.Topology` attribute names) that must each
            name a host for the check to have anything to look at: a topology without one
            does not offer the check, and a scenario that selects it is refused.
    """

    name: str
    run: CheckFunction
    causes: Mapping[str, str]
    subjects: Subjects = ()
    description: str = ""
    unobserved: frozenset[str] = frozenset()
    roles: tuple[str, ...] = ()
    source: str = field(default="", compare=False)

    def subjects_for(self, topology: Topology) -> tuple[str, ...]:
        found = self.subjects(topology) if callable(self.subjects) else self.subjects
        return tuple(str(s) for s in found)

    def kind(self) -> CheckKind:
        return CheckKind(
            self.name,
            MappingProxyType(dict(self.causes)),
            self.description,
            tuple(self.roles),
            frozenset(self.unobserved),
        )


def check(
    name: str,
    *,
    causes: Mapping[str, str],
    subjects: Subjects,
    description: str = "",
    unobserved: Iterable[str] = (),
    roles: Iterable[str] = (),
) -> Callable[[CheckFunction], Check]:
    """Make a function a :class:`Check` (see the module's documentation)."""

    def deco(fn: CheckFunction) -> Check:
        made = Check(
            name,
            fn,
            MappingProxyType(dict(causes)),
            subjects,
            description,
            frozenset(unobserved),
            tuple(roles),
        )
        problem = _invalid(made) or _shipped_name(made)
        if problem:
            raise ValueError(f"check {name!r}: {problem}")
        return made

    return deco


def invalid_own(made: Check) -> str:
    """What is wrong with a check loaded as your own (``python_checks``), or "": a shipped
    check's name is refused whichever module declares it."""
    if made.name in SHIPPED:
        return f"name {made.name!r} is a shipped check's; choose another"
    return _invalid(made)


def _shipped_name(made: Check) -> str:
    """A shipped check's name is the shipped check's alone: the module the table
    (:data:`reboot_harness.model.checks.SHIPPED`) names for it may declare it, no other."""
    ref = SHIPPED.get(made.name)
    if ref is None or ref.partition(":")[0] == getattr(made.run, "__module__", None):
        return ""
    return f"name {made.name!r} is a shipped check's; choose another"


def _invalid(made: Check) -> str:
    """What is wrong with a check's declaration, or ""."""
    if not isinstance(made.name, str) or not CHECK_NAME_RE.fullmatch(made.name):
        return (
            f"name {made.name!r} is not valid: 1-63 letters, digits, spaces, '.', '_' or '-',"
            " starting with a letter or digit"
        )
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
    roles = {f.name for f in fields(Topology)}
    unknown = [r for r in made.roles if r not in roles]
    if unknown:
        return f"roles {unknown} are not topology roles (known: {', '.join(sorted(roles))})"
    stray = sorted(set(made.unobserved) - set(made.causes))
    if stray:
        return f"unobserved causes {stray} are not among its causes"
    if not callable(made.subjects) and (
        isinstance(made.subjects, str) or not isinstance(made.subjects, Sequence)
    ):
        return "subjects must be a function of the topology or a list of names"
    return ""
