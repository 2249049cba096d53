"""The spreadsheet of downtime: one row per scenario variant x host x service (CSV and Markdown).

Rows come from the host rows of the run's summary (``reboot_harness.judging.measures.HostRow``):
what each service suffered while each host was disrupted. A run without traffic still lists its
hosts and their faults, with the measurements left empty."""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping, Sequence

from reboot_harness.judging.measures import UNATTRIBUTED, HostRow
from reboot_harness.judging.result import ScenarioResult

COLUMNS = (
    "scenario",
    "variant",
    "repeat",
    "host",
    "service",
    "fault",
    "downtime_s",
    "errors",
    "reconnect_s",
    "lost_writes",
    "budget",
    "verdict",
)
HEADINGS = {
    "downtime_s": "downtime s",
    "reconnect_s": "reconnect s",
    "lost_writes": "lost writes",
}


def _num(value: float | None, digits: int = 3) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def downtime_rows(runs: Sequence[ScenarioResult]) -> list[dict[str, str]]:
    """Every row of the spreadsheet, as text (empty: not measured)."""
    rows = []
    for run in runs:
        host_rows = run.measured.hosts or (HostRow(UNATTRIBUTED, UNATTRIBUTED, ()),)
        for r in host_rows:
            measured = r.service != UNATTRIBUTED
            rows.append(
                {
                    "scenario": run.name,
                    "variant": run.variant,
                    # which run of the variant (`run --repeat N`); empty when it ran once
                    "repeat": str(run.repeat) if run.repeat else "",
                    "host": r.host,
                    "service": r.service,
                    "fault": ", ".join(r.faults) or "-",
                    "downtime_s": _num(r.downtime_s) if measured else "",
                    "errors": _num(r.errors) if measured else "",
                    "reconnect_s": _num(r.reconnect_max_s),
                    "lost_writes": _num(r.lost_writes),
                    "budget": r.budget,
                    "verdict": r.verdict if measured else "no traffic",
                }
            )
    return rows


def to_csv(rows: Sequence[Mapping[str, str]]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


def _cell(text: str) -> str:
    return (text or "\u2013").replace("|", "\\|").replace("\n", " ")


def md_table(headings: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A GitHub-flavoured Markdown table; columns holding only numbers are right-aligned."""
    numeric = [all(_is_number(r[i]) for r in rows if r[i]) and any(r[i] for r in rows)
               for i in range(len(headings))]  # fmt: skip
    lines = [
        "| " + " | ".join(_cell(h) for h in headings) + " |",
        "|" + "|".join("---:" if n else "---" for n in numeric) + "|",
    ]
    lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def to_markdown(runs: Sequence[ScenarioResult], rows: Sequence[Mapping[str, str]]) -> str:
    """downtime.md: the scenario outcomes, then the downtime table."""
    parts = ["# Downtime\n"]
    parts.append(
        "What the clients measured while each host was disrupted. A downtime window opens at "
        "the first failed operation of a client and closes at its next success; windows of a "
        "service's clients are merged, and each is attributed to the host whose fault or "
        "operation preceded it (`-`: none). Empty cells: not measured (no traffic).\n"
    )
    parts.append("## Scenarios\n")
    parts.append(
        md_table(
            ["scenario", "variant", "result", "reason", "budget violations"],
            [
                [
                    r.name,
                    r.variant,
                    "pass" if r.passed else "FAIL",
                    r.reason,
                    "; ".join(v.message for v in r.budget_violations) or "-",
                ]
                for r in runs
            ],
        )
    )
    parts.append("\n## Per host and service\n")
    # (the repeat column only where a variant ran more than once: the CSV keeps every column)
    columns = [c for c in COLUMNS if c != "repeat" or any(row["repeat"] for row in rows)]
    headings = [HEADINGS.get(c, c) for c in columns]
    parts.append(md_table(headings, [[row[c] for c in columns] for row in rows]))
    return "\n".join(parts)
