"""report.html: one self-contained page (inline CSS and SVG, no scripts, no external URL) that
works offline: a summary, then per scenario variant its timeline, measurements, downtime table,
checks and events, and finally the plans of action proved."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from html import escape

from reboot_harness.judging.measures import Latency
from reboot_harness.judging.result import ScenarioResult
from reboot_harness.report.plan import PER_SERVICE, budgets_text, runbook_table, runbooks
from reboot_harness.report.tables import COLUMNS, HEADINGS, downtime_rows
from reboot_harness.report.timeline import timeline_svg

EMPTY = "\u2013"  # an en dash: not measured

CSS = """
:root { --ok: #1e7f4f; --bad: #b3261e; --muted: #5f6670; --line: #dfe3e8; --bg: #f7f8fa; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.45 "DejaVu Sans", system-ui, -apple-system, "Segoe UI",
       Roboto, Helvetica, Arial, sans-serif; color: #1d2125; background: #fff; }
header { background: #1f2933; color: #fff; padding: 18px 32px; }
header h1 { margin: 0 0 4px; font-size: 22px; font-weight: 600; }
header p { margin: 0; color: #c5ccd3; }
main { max-width: 1360px; margin: 0 auto; padding: 8px 32px 48px; }
h2 { font-size: 19px; margin: 34px 0 6px; padding-top: 14px; border-top: 2px solid var(--line); }
h3 { font-size: 15px; margin: 22px 0 6px; color: #33393f; }
.variant { color: var(--muted); font-weight: normal; }
.badge { display: inline-block; padding: 1px 9px; border-radius: 10px; font-size: 12px;
         font-weight: 700; color: #fff; vertical-align: 2px; letter-spacing: .03em; }
.badge.pass { background: var(--ok); } .badge.fail { background: var(--bad); }
.reason { margin: 4px 0 8px; color: #33393f; }
.violations { margin: 6px 0; padding: 8px 12px 8px 30px; background: #fdecea;
              border-left: 4px solid var(--bad); }
.violations li { margin: 2px 0; }
.note { color: var(--muted); font-size: 13px; }
table { border-collapse: collapse; margin: 6px 0 10px; font-size: 13px; width: 100%; }
th, td { border-bottom: 1px solid var(--line); padding: 4px 8px; text-align: left;
         vertical-align: top; }
th { background: var(--bg); font-weight: 600; white-space: nowrap; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
tr:nth-child(even) td { background: #fbfcfd; }
td.ok { color: var(--ok); font-weight: 600; } td.bad { color: var(--bad); font-weight: 600; }
figure.timeline { margin: 10px 0 4px; padding: 8px; border: 1px solid var(--line);
                  border-radius: 6px; background: #fff; }
figure.timeline svg { display: block; width: 100%; height: auto; }
figcaption { color: var(--muted); font-size: 12.5px; margin: 4px 4px 0; }
details { margin: 8px 0; } summary { cursor: pointer; color: #33393f; font-weight: 600; }
nav table td:first-child a { color: inherit; }
nav h2 { border-top: none; margin-top: 18px; }
a { color: #2f5fb3; }
.plan td:nth-child(3), .plan td:nth-child(6) { min-width: 250px; }
.plan th:nth-child(n+7) { white-space: normal; }
"""


def _table(
    headings: Sequence[str],
    rows: Iterable[Sequence[object]],
    *,
    classes: Mapping[int, Callable[[str], str]] | None = None,
) -> str:
    """An HTML table; numeric cells right-aligned; ``classes``: column -> fn(cell) -> class."""
    head = "".join(f"<th>{escape(h)}</th>" for h in headings)
    body = []
    for row in rows:
        cells = []
        for i, cell in enumerate(row):
            text = EMPTY if cell is None or cell == "" else str(cell)
            cls = []
            if _numeric(text):
                cls.append("num")
            if classes and i in classes and classes[i](text):
                cls.append(classes[i](text))
            attr = f' class="{" ".join(cls)}"' if cls else ""
            cells.append(f"<td{attr}>{escape(text)}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _numeric(text: str) -> bool:
    try:
        float(text.split(" / ")[0])
    except ValueError:
        return False
    return True


def _verdict_class(text: str) -> str:
    if text.startswith("over") or text in ("FAIL", "no", "fail"):
        return "bad"
    return "ok" if text in ("ok", "pass", "yes") else ""


def _s(value: float | None, digits: int = 2) -> str:
    return "" if value is None else f"{value:.{digits}f}"


def _ms(value: float | None) -> str:
    return "" if value is None else f"{value * 1000:.0f}"


def _latency(lat: Latency) -> str:
    return f"{_ms(lat.p50_s)} / {_ms(lat.p99_s)}" if lat.count else ""


def _services_table(run: ScenarioResult) -> str:
    headings = [
        "service", "ops", "failed", "windows", "downtime s", "longest s", "errors by kind",
        "p50 / p99 ms outside", "p50 / p99 ms during", "reconnect max / p50 s", "lost writes",
    ]  # fmt: skip
    rows = []
    for v in run.measured.services:
        rec, writes = v.reconnects, v.writes
        rows.append(
            [
                v.service,
                v.ops,
                v.failed,
                len(v.windows),
                _s(v.downtime_s),
                _s(v.longest_s),
                ", ".join(f"{k}: {n}" for k, n in v.errors.items()) or "-",
                _latency(v.latency_outside),
                _latency(v.latency_during),
                f"{_s(rec.max_s)} / {_s(rec.p50_s)}"
                + (f" ({rec.failed} never)" if rec.failed else "")
                if rec.count or rec.failed
                else "",
                f"{len(writes.lost)} of {writes.acked}"
                if writes.checked
                else ("not read back" if writes.acked else ""),
            ]
        )
    return _table(headings, rows)


def _downtime_table(run: ScenarioResult) -> str:
    rows = downtime_rows([run])
    cols = [c for c in COLUMNS if c not in ("scenario", "variant", "repeat")]
    return _table(
        [HEADINGS.get(c, c) for c in cols],
        [[r[c] for c in cols] for r in rows],
        classes={len(cols) - 1: _verdict_class},
    )


def _checks_table(run: ScenarioResult) -> str:
    if not run.checks:
        return '<p class="note">No recovery checks recorded.</p>'
    return _table(
        ["check", "host", "ok", "expected", "observed", "detail"],
        [
            [c.check, c.host, "yes" if c.ok else "no", c.expected, c.observed, c.detail]
            for c in run.checks
        ],
        classes={2: _verdict_class},
    )


def _events_table(run: ScenarioResult) -> str:
    t0 = run.t0
    return _table(
        ["t s", "event", "host", "detail", "took s"],
        [
            [f"{e.t - t0:.2f}", e.kind, e.host, e.detail, _s(e.duration_s) if e.duration_s else ""]
            for e in run.timeline
        ],
    )


def _run_section(run: ScenarioResult, index: int) -> str:
    badge = (
        '<span class="badge pass">PASS</span>'
        if run.passed
        else ('<span class="badge fail">FAIL</span>')
    )
    parts = [
        f'<section class="run" id="run-{index}" data-scenario="{escape(run.name)}" '
        f'data-variant="{escape(run.variant)}">',
        f'<h2>{escape(run.name)} <span class="variant">[{escape(run.variant)}]</span> {badge}</h2>',
        f'<p class="reason">{escape(run.reason)} <span class="note">— {run.duration_s:.1f} s'
        "</span></p>",
    ]
    problems = [v.message for v in run.budget_violations] + [e.line() for e in run.step_errors]
    if problems:
        parts.append(
            '<ul class="violations">' + "".join(f"<li>{escape(p)}</li>" for p in problems)
            + "</ul>"
        )  # fmt: skip
    budgets = budgets_text(run)
    if budgets:
        parts.append(f'<p class="note">Budgets: {escape(budgets)}</p>')
    caption = (
        "Each service lane has one row per client: green while its operations succeed, red "
        "while they fail; shaded: downtime windows. Grey host bars: from power off until "
        "powered on again. Dashed red lines: faults; dotted blue: operations; green: "
        "recovered; pale yellow: the fault span."
        if run.traffic
        else "No client traffic in this run: the chart shows the hosts' faults and operations."
    )
    parts.append(
        f'<figure class="timeline" id="timeline-{index}">{timeline_svg(run, f"t{index}")}'
        f"<figcaption>{escape(caption)}</figcaption></figure>"
    )
    if run.measured.services:
        parts += ["<h3>What the clients saw</h3>", _services_table(run)]
    parts += ["<h3>Downtime per host</h3>", _downtime_table(run)]
    parts += ["<h3>Recovery checks</h3>", _checks_table(run)]
    parts.append(
        f"<details><summary>Events ({len(run.timeline)})</summary>{_events_table(run)}</details>"
    )
    parts.append("</section>")
    return "\n".join(parts)


def _plan_section(runs: Sequence[ScenarioResult]) -> str:
    proved, unproved = runbooks(runs)
    parts = ['<section id="plan"><h2>Plan of action</h2>']
    if not proved:
        parts.append(
            '<p class="note">No passing scenario rebooted hosts one at a time, so no plan of '
            "action is proved yet.</p>"
        )
    for book in proved:
        headings, rows = runbook_table(book)
        headings = [h.removesuffix(PER_SERVICE) for h in headings]
        parts.append(
            f"<h3>{escape(book.run.name)}: {escape(' → '.join(book.order))}</h3>"
            '<p class="note">Per service: seconds of downtime / failed operations, measured '
            "from the host's first step until the next host's.</p>"
            f'<div class="plan">{_table(headings, rows)}</div>'
        )
    if unproved:
        parts.append(
            "<h3>Not proved</h3><ul>"
            + "".join(f"<li>{escape(r.title)}: {escape(r.reason)}</li>" for r in unproved)
            + "</ul>"
        )
    parts.append("</section>")
    return "\n".join(parts)


def render(runs: Sequence[ScenarioResult], generated: datetime | None = None) -> str:
    """The whole page."""
    generated = generated or datetime.now(UTC)
    passed = sum(r.passed for r in runs)
    summary = _table(
        ["scenario", "variant", "result", "reason", "budget violations"],
        [
            [r.name, r.variant, "pass" if r.passed else "FAIL", r.reason, len(r.budget_violations)]
            for r in runs
        ],
        classes={2: _verdict_class},
    )
    links = summary
    for i, r in enumerate(runs):  # link each summary row to its section
        links = links.replace(
            f"<td>{escape(r.name)}</td><td>{escape(r.variant)}</td>",
            f'<td><a href="#run-{i}">{escape(r.name)}</a></td><td>{escape(r.variant)}</td>',
            1,
        )
    sections = "\n".join(_run_section(r, i) for i, r in enumerate(runs))
    when = generated.strftime("%Y-%m-%d %H:%M:%S UTC")
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>reboot-harness report</title>
<style>{CSS}</style>
</head>
<body>
<header>
<h1>reboot-harness report</h1>
<p>{len(runs)} scenario variant{"s" if len(runs) != 1 else ""}: {passed} passed,
{len(runs) - passed} failed · generated {when} · files: results.json, downtime.csv,
downtime.md, plan.md</p>
</header>
<main>
<nav><h2>Summary</h2>{links}</nav>
{sections}
{_plan_section(runs)}
</main>
</body>
</html>
"""
