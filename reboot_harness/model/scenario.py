"""A scenario: a plan of action, as a frozen value."""

from __future__ import annotations

from dataclasses import dataclass

from reboot_harness.model.steps import Step
from reboot_harness.model.traffic import Budget

# -- scenarios -----------------------------------------------------------------------------------
# A scenario is a plan of action: steps run in order against a fresh stack, then the expected
# checks must hold within a deadline. The YAML form is documented in scenarios/README.md and
# parsed by reboot_harness.scenarios.files.


@dataclass(frozen=True)
class Reproduces:
    """The incident (a compose override in compose/incidents/) a scenario reproduces. What its
    failure must show is the incident's own declaration (reboot_harness.scenarios.incidents);
    ``check`` or ``budget``, when the scenario names one, must agree with it."""

    incident: str
    check: str = ""
    budget: str = ""


@dataclass(frozen=True)
class Expect:
    checks: tuple[str, ...] = ()  # empty: every check
    recover_within: float = 60.0


@dataclass(frozen=True)
class Clients:
    """How the traffic's clients behave where real ones differ: how long they keep a DNS answer,
    and whether they keep HTTP connections open. The defaults are the idealised client (the
    answer kept for its TTL, a new connection per request); a plan proven with them says
    nothing about clients that cache longer or keep connections."""

    dns_min_ttl: float = 0.0  # an answer is kept at least this long, whatever its TTL
    dns_stale: float = 0.0  # a cached answer is used this long past its TTL when DNS fails
    keepalive: bool = False  # HTTP connections kept open and reused (pooled by name)

    def describe(self) -> str:
        dns = (
            f"DNS answers kept at least {self.dns_min_ttl:g} s"
            if self.dns_min_ttl
            else "DNS answers kept for their TTL"
        )
        if self.dns_stale:
            dns += f" (served {self.dns_stale:g} s stale when DNS fails)"
        http = (
            "HTTP keep-alive (a connection reused for up to 10 requests)"
            if self.keepalive
            else "a new HTTP connection per request"
        )
        return f"{dns}; {http}"


@dataclass(frozen=True)
class Scenario:
    name: str
    description: str
    steps: tuple[Step, ...]
    expect: Expect
    reproduces: Reproduces | None = None
    seed: int = 0
    source: str = ""  # the file it came from
    traffic: bool = False  # real clients run from before the first step until recovery
    budgets: tuple[Budget, ...] = ()  # what users may suffer (implies traffic)
    clients: Clients = Clients()  # how those clients behave (traffic: {…})

    @property
    def variants(self) -> tuple[str, ...]:
        return ("fixed", "incident") if self.reproduces else ("fixed",)

    @property
    def planned_s(self) -> float:
        """The longest this scenario can take by its own plan: every time off, sleep, wait and
        timeout its steps name, then ``recover_within`` (not counting how long hosts take to
        boot, nor bringing the stack up)."""
        return sum(step.planned_s() for step in self.steps) + self.expect.recover_within
