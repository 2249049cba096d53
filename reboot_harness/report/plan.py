"""plan.md: the runbook each passing scenario proved — the plan of action for the next reboot.

A runbook is read from the run's events, not from the scenario file, so it says what was really
done and in which order. A run qualifies when its ``fixed`` variant passed with no budget
violated and it rebooted hosts one at a time (a power-off only after the previous host was
powered on again; no ``full restart``). Each reboot is a block:

- *before*: the operations since the previous block (rotate an LB out of DNS, fail Sentinel or
  MySQL over, kill a program), except those that restore the previous host (rotate it back in,
  promote it again, fail back to it), which close the previous block as its *after*;
- the reboot itself (mode, shutdown, time off, boot, a new address) and the wait for recovery;
- what the clients measured from the block's first action until the next block's: downtime
  (overlap of downtime windows with that time), failed ops and lost writes, per service;
- for a redis or mysql host, what coming back cost replication (``came back`` events: partial
  or full resync, transactions caught up).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from reboot_harness.judging.budgets import budgets_for, describe_budget
from reboot_harness.judging.result import ScenarioResult
from reboot_harness.model.events import Category, Event, EventKind
from reboot_harness.model.incidents import Incident, Signature
from reboot_harness.model.scenario import Scenario
from reboot_harness.model.steps import Step
from reboot_harness.model.topology import Topology
from reboot_harness.report.tables import md_table
from reboot_harness.steps import MARKS

PER_SERVICE = " down s / failed"  # the heading of a service's column, after its name


@dataclass
class Block:
    """One host's reboot within a runbook, with the operations around it."""

    host: str
    off: Event
    on: Event | None = None
    before: list[Event] = field(default_factory=list)
    after: list[Event] = field(default_factory=list)
    recovered: Event | None = None
    new_address: str = ""
    came_back: list[Event] = field(default_factory=list)  # what its return cost replication
    # service -> (downtime s, failed ops, lost writes)
    measured: dict[str, tuple[float, int, int]] = field(default_factory=dict)

    @property
    def start(self) -> float:
        return min([e.t - e.duration_s for e in self.before] + [self.off.t - self.off.duration_s])


@dataclass(frozen=True)
class Runbook:
    run: ScenarioResult
    blocks: tuple[Block, ...]

    @property
    def order(self) -> list[str]:
        return [b.host for b in self.blocks]


def _restores(e: Event, host: str, previous: Event | None) -> bool:
    """Does ``e`` undo, for ``host`` just rebooted, what was done before rebooting it?"""
    if e.kind is EventKind.DNS_ROTATE:
        return e.host == host and e.detail.startswith("in")
    if e.kind in (EventKind.MYSQL_PROMOTE, EventKind.SENTINEL_FAILOVER):
        return e.host == host
    if e.kind is EventKind.MYSQL_REPOINT:  # the second half of failing back to host
        return previous is not None and previous.kind is EventKind.MYSQL_PROMOTE
    return False


def blocks_of(events: Sequence[Event]) -> list[Block] | None:
    """The reboots in ``events`` as blocks; None when hosts were not rebooted one at a time."""
    blocks: list[Block] = []
    pending: list[Event] = []
    current: Block | None = None
    for e in sorted(events, key=lambda e: e.t):
        if e.kind is EventKind.FULL_RESTART:
            return None
        if e.kind is EventKind.POWER_OFF:
            if current is not None:
                return None  # two hosts off at once: not a one-at-a-time plan
            if blocks:
                i = 0
                while i < len(pending) and _restores(
                    pending[i], blocks[-1].host, pending[i - 1] if i else None
                ):
                    i += 1
                blocks[-1].after += pending[:i]
                pending = pending[i:]
            current = Block(e.host, e, before=pending)
            pending = []
        elif e.kind is EventKind.POWER_ON:
            if current is not None and e.host == current.host:
                current.on = e
                blocks.append(current)
                current = None
        elif e.kind is EventKind.NEW_ADDRESS and current is not None and e.host == current.host:
            current.new_address = e.detail
        elif e.kind is EventKind.CAME_BACK:
            if blocks and blocks[-1].host == e.host:
                blocks[-1].came_back.append(e)
        elif e.kind is EventKind.RECOVERED:
            if blocks and blocks[-1].recovered is None and not pending and current is None:
                blocks[-1].recovered = e
        elif e.kind.category is Category.OPERATION or e.kind is EventKind.KILL:
            pending.append(e)
    if current is not None:
        return None  # left off by the plan; only the heal brought it back
    if blocks:
        blocks[-1].after += pending
    return blocks


def _measure(run: ScenarioResult, blocks: list[Block]) -> None:
    starts = [b.start for b in blocks] + [float("inf")]
    for i, block in enumerate(blocks):
        lo, hi = starts[i], starts[i + 1]
        for v in run.measured.services:
            if not v.ops:
                continue
            down = sum(max(0.0, min(w.end, hi) - max(w.start, lo)) for w in v.windows)
            failed = sum(
                1 for op in run.ops if op.service == v.service and not op.ok and lo <= op.start < hi
            )
            lost = sum(1 for w in v.writes.lost if lo <= w.end < hi)
            block.measured[v.service] = (down, failed, lost)


def runbooks(runs: Sequence[ScenarioResult]) -> tuple[list[Runbook], list[ScenarioResult]]:
    """(the runbooks proved, the fixed runs with one-at-a-time reboots that did not pass)."""
    proved, unproved = [], []
    for run in runs:
        if run.variant != "fixed":
            continue
        blocks = blocks_of(run.timeline)
        if not blocks:
            continue
        if run.passed and not run.budget_violations:
            _measure(run, blocks)
            proved.append(Runbook(run, tuple(blocks)))
        else:
            unproved.append(run)
    return proved, unproved


def describe(e: Event) -> str:
    """An event as a runbook instruction (in the words of the step kind that records it,
    reboot_harness.steps.MARKS)."""
    mark = MARKS.get(e.kind)
    if mark is not None and mark.words is not None:
        return mark.words(e)
    return f"{e.kind} {e.host} {e.detail}".strip()


def _reboot_line(b: Block) -> str:
    mode = b.off.detail or "graceful"
    off_s = (b.on.t - b.on.duration_s - b.off.t) if b.on else 0.0
    parts = [f"shutdown {b.off.duration_s:.1f} s"]
    if off_s >= 0.05:
        parts.append(f"off {off_s:.1f} s")
    if b.on:
        parts.append(f"boot {b.on.duration_s:.1f} s")
    new = f"; back on new address {b.new_address}" if b.new_address else ""
    return f"Reboot {b.host} ({mode}: {', '.join(parts)}){new}"


def _recovery_line(b: Block) -> str:
    if b.recovered is None:
        return "Did not wait for recovery before going on"
    return f"Wait until every check holds again: recovered in {b.recovered.duration_s:.1f} s"


def _measured_text(b: Block) -> str:
    if not b.measured:
        return "no traffic measured"
    hurt = [
        f"{s} {down:.2f} s down, {failed} failed" + (f", {lost} writes lost" if lost else "")
        for s, (down, failed, lost) in b.measured.items()
        if down or failed or lost
    ]
    return "; ".join(hurt) or f"no downtime, no failed operations ({', '.join(b.measured)})"


def budgets_text(run: ScenarioResult) -> str:
    """The run's budgets in words, ``http: downtime <= 0s; redis: no lost writes``."""
    return "; ".join(f"{b.service}: {describe_budget(b)}" for b in run.measured.budgets)


def measured_services(run: ScenarioResult) -> list[str]:
    return [v.service for v in run.measured.services if v.ops]


def runbook_table(book: Runbook) -> tuple[list[str], list[list[str]]]:
    """(headings, rows): one row per reboot, with the downtime and failed ops per service."""
    services = measured_services(book.run)
    headings = ["#", "host", "before", "reboot", "recovered in s", "after"]
    headings += [f"{s}{PER_SERVICE}" for s in services]
    rows = []
    for i, b in enumerate(book.blocks, 1):
        row = [
            str(i),
            b.host,
            "; ".join(describe(e) for e in b.before) or "-",
            b.off.detail or "graceful",
            f"{b.recovered.duration_s:.1f}" if b.recovered else "-",
            "; ".join(describe(e) for e in b.after) or "-",
        ]
        row += [
            f"{b.measured[s][0]:.2f} / {b.measured[s][1]}" if s in b.measured else "-"
            for s in services
        ]
        rows.append(row)
    return headings, rows


def runbook_markdown(book: Runbook) -> str:
    run = book.run
    lines = [f"## {run.name}\n"]
    began = datetime.fromtimestamp(run.t0, UTC).strftime("%Y-%m-%d %H:%M UTC")
    lines.append(
        f"Proved on the replica stack on {began}: {run.reason}. "
        f"Hosts, one at a time: {' → '.join(book.order)}.\n"
    )
    said = budgets_text(run)
    if said:
        lines.append(f"Budgets held: {said}.\n")
    measured = [v for v in run.measured.services if v.ops]
    if measured and run.clients is not None:
        lines.append(
            f"Holds for clients like the rehearsal's: {run.clients.describe()}. Clients that keep"
            " DNS answers longer, or connections open where these did not, are not covered.\n"
        )
    if measured:
        totals = ", ".join(
            f"{v.service} {v.downtime_s:.2f} s down / {v.failed} failed" for v in measured
        )
        lost = [f"{v.service} {len(v.writes.lost)}" for v in measured if v.writes.checked]
        lines.append(f"Measured over the whole run: {totals}.")
        if lost:
            lines.append(f"Acknowledged writes lost: {', '.join(lost)}.")
        lines.append("")
    lines.append(md_table(*runbook_table(book)))
    lines.append("### Steps\n")
    n = 0
    for i, b in enumerate(book.blocks, 1):
        lines.append(f"**{i}. {b.host}** — measured: {_measured_text(b)}\n")
        for e in b.came_back:
            lines.append(f"Coming back: {e.detail}\n")
        for step in [
            *(describe(e) for e in b.before),
            _reboot_line(b),
            _recovery_line(b),
            *(describe(e) for e in b.after),
        ]:
            n += 1
            lines.append(f"{n}. {step}")
        lines.append("")
    return "\n".join(lines)


def to_markdown(runs: Sequence[ScenarioResult]) -> str:
    proved, unproved = runbooks(runs)
    parts = ["# Plan of action\n"]
    if proved:
        parts.append(
            "Each plan below was rehearsed on the replica stack and passed: after every reboot "
            "the stack recovered and every check held, with the downtime the clients measured "
            "shown beside each host. Follow it in order for the next real reboot.\n"
        )
        parts += [runbook_markdown(book) for book in proved]
    else:
        parts.append(
            "No passing scenario rebooted hosts one at a time in these results, so no plan of "
            "action is proved yet.\n"
        )
    if unproved:
        parts.append("## Not proved\n")
        parts += [f"- {r.title}: {r.reason}" for r in unproved]
        parts.append("")
    return "\n".join(parts)


# -- before a run: what `run --dry-run` shows ---------------------------------------------------
# The plan above is read from what a run did; this one from the scenario, before anything runs:
# the same plan of action, with the times the scenario allows rather than the times measured.


@dataclass(frozen=True)
class PlannedStep:
    """One step of a scenario variant as it will run.

    Attributes:
        index: its place in the scenario's ``steps`` (what step errors name).
        kind: its YAML key.
        at_s: the latest it can begin, seconds after the first step began (every earlier
            step taking as long as its own parameters let it).
        planned_s: the longest it can take by its own parameters.
        hosts: the hosts it touches.
        step: the step itself (its parameters).
        skipped: why it will not run (the incident's plan drops its kind); '' when it runs.
    """

    index: int
    kind: str
    at_s: float
    planned_s: float
    hosts: tuple[str, ...]
    step: Step
    skipped: str = ""


@dataclass(frozen=True)
class VariantPlan:
    """A scenario variant as `run` would execute it (`run --dry-run`): its steps with planned
    times, the checks that will judge it, its traffic and budgets, and for an incident variant
    the incident's configuration and declared cause."""

    name: str
    variant: str
    source: str
    description: str
    seed: int
    steps: tuple[PlannedStep, ...]
    recover_within: float
    planned_s: float
    checks: tuple[str, ...]
    traffic: bool
    clients: str
    budgets: tuple[str, ...]
    incident: str
    incident_file: str
    cause: str
    reproduced_by: tuple[Signature, ...]


def variant_plan(
    scenario: Scenario,
    variant: str,
    *,
    topology: Topology,
    checks: Sequence[str],
    incident: Incident | None,
) -> VariantPlan:
    """What `run` would do for ``variant`` of ``scenario`` (nothing is asked of an engine).

    Args:
        scenario: the scenario, validated.
        variant: ``fixed`` or ``incident``.
        topology: the stack's hosts.
        checks: every check name of the topology (what an ``expect`` naming none runs).
        incident: the incident an incident variant runs on (None for ``fixed``).
    """
    planned: list[PlannedStep] = []
    at = 0.0
    for i, step in enumerate(scenario.steps):
        skipped = ""
        if incident is not None and step.KEY in incident.drops:
            skipped = f"the incident's plan leaves it out: {incident.summary}"
        took = 0.0 if skipped else step.planned_s()
        planned.append(PlannedStep(i, step.KEY, at, took, step.touches(topology), step, skipped))
        at += took
    judged = scenario.expect.checks or tuple(checks)
    if scenario.expect.checks and incident is not None:
        judged = tuple(dict.fromkeys((*judged, *incident.checks)))
    traffic = scenario.traffic or bool(scenario.budgets)
    return VariantPlan(
        name=scenario.name,
        variant=variant,
        source=scenario.source,
        description=scenario.description,
        seed=scenario.seed,
        steps=tuple(planned),
        recover_within=scenario.expect.recover_within,
        planned_s=at + scenario.expect.recover_within,
        checks=judged,
        traffic=traffic,
        clients=scenario.clients.describe() if traffic else "",
        budgets=tuple(
            f"{b.service}: {describe_budget(b)}" for b in budgets_for(scenario)
        ) if traffic else (),
        incident=incident.name if incident else "",
        incident_file=str(incident.path) if incident else "",
        cause=incident.describe() if incident else "",
        reproduced_by=incident.reproduced_by if incident else (),
    )  # fmt: skip


def _seconds(s: float) -> str:
    return f"{s:g}s"


def variant_text(plan: VariantPlan) -> list[str]:
    """A variant's plan for the terminal, a line per step (plain text, no markup)."""
    lines = [f"{plan.name}[{plan.variant}]  ({plan.source}; seed {plan.seed})"]
    if plan.incident:
        lines.append(f"  on incident {plan.incident} ({plan.incident_file})")
        lines.append(f"  must fail by: {plan.cause}")
    for s in plan.steps:
        hosts = f" on {', '.join(s.hosts)}" if s.hosts else ""
        if s.skipped:
            lines.append(f"  {'':8}steps[{s.index}] {s.kind}{hosts}: skipped ({s.skipped})")
            continue
        params = ", ".join(f"{k}={_shown(v)}" for k, v in _parameters(s.step).items())
        lines.append(
            f"  +{_seconds(s.at_s):>6} steps[{s.index}] {s.kind}{hosts}"
            + (f" ({params})" if params else "")
            + (f", up to {_seconds(s.planned_s)}" if s.planned_s else "")
        )
    at = plan.planned_s - plan.recover_within
    lines.append(
        f"  +{_seconds(at):>6} recovery: within {_seconds(plan.recover_within)},"
        f" judged by {', '.join(plan.checks)}"
    )
    if plan.traffic:
        lines.append(f"  traffic: clients run throughout ({plan.clients})")
        lines.append(f"  budgets: {'; '.join(plan.budgets)}")
    else:
        lines.append("  traffic: none")
    lines.append(f"  planned: up to {_seconds(plan.planned_s)} (not counting boots and bring-up)")
    return lines


def _parameters(step: Step) -> dict[str, object]:
    """A step's parameters (its dataclass fields: a step kind is a frozen dataclass)."""
    import dataclasses

    if not dataclasses.is_dataclass(step):
        return {}
    return {f.name.rstrip("_"): getattr(step, f.name) for f in dataclasses.fields(step)}


def _shown(value: object) -> str:
    if isinstance(value, tuple | list):
        return "[" + ", ".join(str(v) for v in value) + "]"
    if isinstance(value, float):
        return _seconds(value)
    return str(value)
