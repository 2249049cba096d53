"""report: what runs leave for people and tools — results.json and the one serializer
(serialize), report.html, the downtime table, plan.md, the nights' history, and two sets of
runs compared (compare). Imports model and judging (a run's results for their type only);
never Docker.

Reports of scenario runs: the spreadsheet of downtime and the plan of action.

``write_reports(results, directory)`` takes the ``ScenarioResult`` of every run, typed
(reboot_harness.judging.result: the reports read it as it is), and writes into ``directory``:

- ``results.json``: everything, ``{"schema_version": 1, "generated_at": ISO time, "scenarios":
  [result, ...]}``,
  each result as ``reboot_harness.report.serialize.to_json`` makes it (the shape of
  ``reboot-harness run --json``);
- ``downtime.csv`` and ``downtime.md``: one row per scenario variant x host x service —
  scenario, variant, host, service, fault (the kinds of events on the host), downtime s, errors,
  reconnect s, lost writes, budget, verdict (reboot_harness.report.tables);
- ``report.html``: a self-contained page (no scripts, no external URL) with a timeline chart
  per scenario variant, the measurements, the downtime table and the checks
  (reboot_harness.report.html);
- ``plan.md``: the runbook each passing one-host-at-a-time scenario proved
  (reboot_harness.report.plan).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from reboot_harness.judging.result import ScenarioResult
from reboot_harness.report import html, plan, tables
from reboot_harness.report.serialize import document

FILES = ("results.json", "downtime.csv", "downtime.md", "report.html", "plan.md")


def write_reports(
    results: Sequence[ScenarioResult], directory: Path, *, now: datetime | None = None
) -> dict[str, Path]:
    """Write every report of ``results`` into ``directory`` (created if needed).

    Args:
        results: the result of each scenario variant run, in run order.
        directory: where the files go; existing report files are replaced.
        now: the time the reports say they were generated (default: now).

    Returns:
        File name -> path, for each file of ``FILES``.
    """
    now = now or datetime.now(UTC)
    directory.mkdir(parents=True, exist_ok=True)
    runs = list(results)
    rows = tables.downtime_rows(runs)
    contents = {
        "results.json": json.dumps(
            document(generated_at=now.isoformat(timespec="seconds"), scenarios=list(results)),
            indent=2,
        )
        + "\n",
        "downtime.csv": tables.to_csv(rows),
        "downtime.md": tables.to_markdown(runs, rows),
        "report.html": html.render(runs, now),
        "plan.md": plan.to_markdown(runs),
    }
    written = {}
    for name in FILES:
        path = directory / name
        tmp = path.with_name(f".{name}.tmp")
        tmp.write_text(contents[name], encoding="utf-8")
        tmp.replace(path)  # a reader never sees half a report
        written[name] = path
    return written


__all__ = ["FILES", "write_reports"]
