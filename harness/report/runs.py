"""The result dicts the reports are made from, read once into typed, checked form.

A result is ``ScenarioResult.as_dict()``: ``name``, ``variant``, ``passed``, ``reason``,
``duration_s``, ``checks``, ``events``, and with traffic ``history`` (op dicts as
``Op.as_dict()``), ``present`` (service -> keys read back), ``verdicts``
(``harness.verdicts.summarize``) and ``budget_violations``. Missing keys take empty defaults;
verdicts missing from a result are computed here from its history and events (without budgets).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from harness.model import Event, EventKind, History, Op
from harness.verdicts import summarize


@dataclass(frozen=True)
class Run:
    """One scenario variant, as the reports need it."""

    name: str
    variant: str
    passed: bool
    reason: str
    duration_s: float
    checks: tuple[Mapping[str, Any], ...]
    events: tuple[Event, ...]
    ops: tuple[Op, ...]
    verdicts: Mapping[str, Any]
    violations: tuple[str, ...]
    step_errors: tuple[str, ...] = ()

    @property
    def title(self) -> str:
        return f"{self.name} [{self.variant}]"

    @property
    def services(self) -> Mapping[str, Mapping[str, Any]]:
        services: Mapping[str, Mapping[str, Any]] = self.verdicts.get("services") or {}
        return services

    @property
    def host_rows(self) -> list[Mapping[str, Any]]:
        return list(self.verdicts.get("hosts") or [])

    @property
    def traffic(self) -> bool:
        return bool(self.ops)

    @property
    def t0(self) -> float:
        """The origin of the run's timeline: its first event or op."""
        times = [e.t - e.duration_s for e in self.events] + [op.start for op in self.ops]
        return min(times, default=0.0)


def _event(d: Mapping[str, Any]) -> Event:
    return Event(
        t=float(d.get("t", 0.0)),
        kind=EventKind(str(d.get("kind", ""))),
        host=str(d.get("host", "") or ""),
        detail=str(d.get("detail", "") or ""),
        duration_s=float(d.get("duration_s", 0.0) or 0.0),
    )


def _op(d: Mapping[str, Any]) -> Op:
    return Op(
        service=str(d["service"]),
        client=str(d.get("client", "")),
        op=str(d.get("op", "")),
        start=float(d["start"]),
        end=float(d.get("end", d["start"])),
        ok=bool(d.get("ok", False)),
        target=str(d.get("target", "") or ""),
        error=str(d.get("error", "") or ""),
        key=str(d.get("key", "") or ""),
    )


def load_run(result: Mapping[str, Any]) -> Run:
    """A Run from one ``ScenarioResult.as_dict()``; verdicts computed when absent."""
    events = tuple(sorted((_event(e) for e in result.get("events") or []), key=lambda e: e.t))
    ops = tuple(_op(o) for o in result.get("history") or [])
    verdicts = result.get("verdicts")
    violations: Sequence[str] = result.get("budget_violations") or []
    if not verdicts:
        present = {
            s: frozenset(map(str, keys)) for s, keys in (result.get("present") or {}).items()
        }
        verdicts, _ = summarize(History(ops, present), events, ())
    return Run(
        name=str(result.get("name", "?")),
        variant=str(result.get("variant", "fixed")),
        passed=bool(result.get("passed", False)),
        reason=str(result.get("reason", "")),
        duration_s=float(result.get("duration_s", 0.0) or 0.0),
        checks=tuple(result.get("checks") or []),
        events=events,
        ops=ops,
        verdicts=verdicts,
        violations=tuple(str(v) for v in violations),
        step_errors=tuple(str(s) for s in result.get("step_errors") or []),
    )
