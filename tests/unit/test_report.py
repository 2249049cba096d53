"""Reports from synthetic scenario results: every file written, parseable, offline (no
Docker)."""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest

from reboot_harness.judging.traffic import analyze, summarize
from reboot_harness.model.events import Event
from reboot_harness.model.results import BudgetViolation, CheckResult
from reboot_harness.model.traffic import Budget, History, Op
from reboot_harness.report import FILES, write_reports
from reboot_harness.report.plan import blocks_of, runbooks
from reboot_harness.report.serialize import to_json
from reboot_harness.report.tables import COLUMNS
from reboot_harness.run.loop import ScenarioResult

T0 = 1_700_000_000.0
NOW = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


DEFAULT_CHECKS = [
    CheckResult("processes", "*", True, "all running", "all running"),
    CheckResult("redis roles", "*", True, "1 master", "1 master (redis2)"),
]


class _Run:
    """Builds one synthetic run: a clock, events as the faults record them, client ops."""

    def __init__(self) -> None:
        self.t = T0
        self.events: list[Event] = []
        self.ops: list[Op] = []

    def event(self, kind: str, host: str = "", detail: str = "", took: float = 0.0) -> None:
        self.t += took
        self.events.append(Event(self.t, kind, host, detail, took))

    def wait(self, seconds: float) -> None:
        self.t += seconds

    def reboot(self, host: str, off: float = 1.0, down: float = 2.0, boot: float = 1.5) -> None:
        self.event("power off", host, "graceful", off)
        self.wait(down)
        self.event("power on", host, "", boot)

    def traffic(
        self,
        service: str,
        clients: int,
        every: float,
        fails: list[tuple[float, float, str]],
        *,
        op: str = "get /health",
        keys: bool = False,
        took: float = 0.02,
    ) -> None:
        """Ops from T0 to now, failing inside the (start, end, error) intervals (relative)."""
        n = 0
        for c in range(clients):
            t = T0 + c * every / clients
            while t < self.t:
                err = next((e for a, b, e in fails if T0 + a <= t < T0 + b), "")
                key = f"{service}-{n}" if keys else ""
                n += 1
                self.ops.append(
                    Op(service, f"{service}-{c + 1}", op, t, t + took, not err, "", err, key)
                )
                t += every

    def result(
        self,
        name: str,
        variant: str,
        passed: bool,
        reason: str,
        *,
        present: dict[str, list[str]] | None = None,
        budgets: tuple[Budget, ...] = (),
        checks: list[CheckResult] | None = None,
    ) -> ScenarioResult:
        present = present or {}
        history = History(tuple(self.ops), {s: frozenset(k) for s, k in present.items()})
        summary, violations = summarize(history, self.events, budgets)
        if variant == "fixed" and violations:  # as the run loop judges a fixed variant
            passed, reason = False, f"over budget: {violations[0].message}"
        return ScenarioResult(
            name=name,
            variant=variant,
            passed=passed,
            reason=reason,
            duration_s=self.t - T0 + 30,
            project=f"rh-{name}-{variant[:3]}-abc123",
            checks=list(checks or DEFAULT_CHECKS),
            events=list(self.events),
            history=history,
            summary=summary,
            budget_violations=violations,
        )


def reboot_week() -> ScenarioResult:
    """A passing one-host-at-a-time reboot of lb1, lb2, redis1, mysql1, app1 with traffic."""
    r = _Run()
    r.event("stack ready", "", "42 checks hold")
    r.wait(5)
    for lb in ("lb1", "lb2"):
        r.event("dns rotate", lb, f"out; in rotation: {'lb2' if lb == 'lb1' else 'lb1'}")
        r.wait(2)
        r.reboot(lb)
        r.event("recovered", "", f"after rebooting {lb}", 3.0)
        r.event("dns rotate", lb, "in; in rotation: lb1, lb2")
        r.wait(2)
    r.event("sentinel failover", "redis2", "redis1 -> redis2", 1.6)
    redis_fail = (r.t - T0 - 1.4, r.t - T0, "READONLY")
    r.reboot("redis1")
    r.event("recovered", "", "after rebooting redis1", 2.5)
    r.event("mysql promote", "mysql2", "was replica of mysql1", 0.8)
    mysql_fail = (r.t - T0 - 0.7, r.t - T0 + 0.3, "read-only")
    r.event("mysql repoint", "mysql1", "replica of mysql2", 0.4)
    r.reboot("mysql1")
    r.event("recovered", "", "after rebooting mysql1", 3.1)
    r.event("mysql promote", "mysql1", "was replica of mysql2", 0.7)
    r.event("mysql repoint", "mysql2", "replica of mysql1", 0.3)
    r.wait(1)
    r.event("kill", "app1", "SIGTERM app")
    sio_from = r.t - T0
    r.reboot("app1")
    reconnect = (T0 + sio_from + 0.3, r.t + 0.8)
    r.event("recovered", "", "after rebooting app1", 2.2)
    r.wait(3)
    r.event("recovered", "", "expected checks hold", 1.0)
    r.wait(2)
    r.traffic("http", 3, 0.25, [])
    r.traffic("socketio", 2, 0.5, [(sio_from, sio_from + 0.6, "timeout")], op="echo")
    # socketio-1 was on app1: no echo while it reconnects
    r.ops = [
        op
        for op in r.ops
        if not (op.client == "socketio-1" and reconnect[0] <= op.start < reconnect[1])
    ]
    r.ops.append(Op("socketio", "socketio-1", "reconnect", *reconnect, True))
    r.traffic("redis", 1, 0.5, [redis_fail], op="set", keys=True, took=0.005)
    r.traffic("mysql", 1, 0.5, [mysql_fail], op="insert", keys=True, took=0.01)
    r.traffic("metrics", 1, 1.0, [])
    present = {
        s: [op.key for op in r.ops if op.service == s and op.ok and op.key]
        for s in ("redis", "mysql")
    }
    budgets = (
        Budget("http", max_downtime=0.0, max_errors=0),
        Budget("socketio", max_reconnect=10.0),
        Budget("redis", max_downtime=5.0, no_lost_writes=True),
        Budget("mysql", no_lost_writes=True),
    )
    return r.result(
        "xen-reboot-week", "fixed", True, "recovered in 1.0s", present=present, budgets=budgets
    )


def lb_incident() -> ScenarioResult:
    """lb1 rebooted while DNS still answers with it: http clients on lb1 fail (reproduced)."""
    r = _Run()
    r.event("stack ready", "", "42 checks hold")
    r.wait(4)
    began = r.t - T0
    r.reboot("lb1", off=0.5, down=4.0, boot=1.0)
    ended = r.t - T0
    r.event("recovered", "", "expected checks hold", 2.0)
    r.wait(3)
    r.traffic("http", 2, 0.25, [(began, ended + 0.5, "refused")])
    r.ops = [op for op in r.ops if op.client == "http-1" or op.ok]  # http-2 went to lb2
    return r.result(
        "lb-no-dns-rotation",
        "incident",
        True,
        "reproduced: http [*] FAIL: expected 0 failed requests",
        budgets=(Budget("http", max_errors=0),),
    )


def cold_start() -> ScenarioResult:
    """A full restart without traffic that failed its checks."""
    r = _Run()
    r.event("stack ready", "", "42 checks hold")
    for h in ("lb1", "app1", "redis1"):
        r.event("power off", h, "hard", 0.3)
    r.event("full restart", "", "boot order: redis1, app1, lb1")
    for h in ("redis1", "app1", "lb1"):
        r.event("power on", h, "", 1.0)
    r.event("not recovered", "", "within 60s")
    limits = CheckResult(
        "limits", "app1", False, "nofile >= 10000", "nofile 1024 (pid 31)",
        "supervisord minfds", ("nofile-below-minimum",), ("app1",),
    )  # fmt: skip
    result = r.result("cold-start", "fixed", False, "not recovered within 60s: limits [app1] FAIL")
    result.checks = [limits]
    # a result without traffic, as run_scenario gives it: no history, no summary
    result.history, result.summary, result.budget_violations = None, None, []
    return result


def sample_results() -> list[ScenarioResult]:
    return [reboot_week(), lb_incident(), cold_start()]


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return write_reports(sample_results(), tmp_path_factory.mktemp("report") / "out", now=NOW)


# -- files -------------------------------------------------------------------------------------


def test_every_report_file_is_written(written: dict[str, Path]) -> None:
    """write_reports creates the directory and writes each file of FILES, non-empty."""
    assert sorted(written) == sorted(FILES)
    for path in written.values():
        assert path.is_file() and path.stat().st_size > 0
    assert not list(written["report.html"].parent.glob(".*.tmp"))


def test_results_json_holds_everything(written: dict[str, Path]) -> None:
    """results.json holds every result under "scenarios" as the serializer makes it, with the
    time."""
    data = json.loads(written["results.json"].read_text())
    assert data["schema_version"] == 1
    assert data["generated_at"] == "2024-05-01T12:00:00+00:00"
    assert data["scenarios"] == to_json(sample_results())


def test_results_json_keeps_the_documented_keys(written: dict[str, Path]) -> None:
    """Each result keeps the keys of `run --json`: lines for step errors and budget violations
    beside their typed forms, the ops as history, the summary as verdicts."""
    week, incident, cold = json.loads(written["results.json"].read_text())["scenarios"]
    assert set(week) == {
        "name", "variant", "passed", "reason", "duration_s", "project", "incident", "engine",
        "repeat", "checks", "preflight", "events", "step_errors", "step_failures", "history",
        "present", "verdicts", "budget_violations", "budget_breaches", "reproduction",
        "traffic_problems", "clients",
    }  # fmt: skip
    assert week["name"] == "xen-reboot-week" and week["passed"] is True
    assert week["events"][0] == {
        "t": T0, "kind": "stack ready", "host": "", "detail": "42 checks hold", "duration_s": 0.0,
    }  # fmt: skip
    assert set(week["checks"][0]) == {
        "check", "host", "ok", "cause", "causes", "expected", "observed", "detail", "subjects",
    }  # fmt: skip
    assert week["history"][0]["service"] == "http" and week["history"][0]["ok"] is True
    assert week["present"]["redis"] == sorted(week["present"]["redis"])
    assert [v["service"] for v in week["verdicts"]["services"]] == [
        "http", "socketio", "redis", "mysql", "metrics",
    ]  # fmt: skip
    assert week["budget_violations"] == week["budget_breaches"] == []
    assert week["reproduction"] is None
    assert incident["budget_violations"] == [
        b["message"] for b in incident["budget_breaches"]
    ] and incident["budget_breaches"][0]["hosts"] == ["lb1"]
    assert cold["history"] == [] and cold["present"] == {} and cold["verdicts"] is None
    assert cold["checks"][0]["cause"] == "nofile-below-minimum"


def test_downtime_csv_has_one_row_per_host_and_service(written: dict[str, Path]) -> None:
    """The CSV parses with the documented columns; the reboot week has a row for every
    disrupted host x measured service, carrying the attributed downtime."""
    rows = list(csv.DictReader(io.StringIO(written["downtime.csv"].read_text())))
    assert tuple(rows[0]) == COLUMNS
    week = [r for r in rows if r["scenario"] == "xen-reboot-week"]
    hosts = ["lb1", "lb2", "redis2", "redis1", "mysql2", "mysql1", "app1"]
    services = ["http", "socketio", "redis", "mysql", "metrics"]
    assert [(r["host"], r["service"]) for r in week] == [(h, s) for h in hosts for s in services]
    by = {(r["host"], r["service"]): r for r in week}
    assert by["redis2", "redis"]["fault"] == "sentinel failover"
    assert float(by["redis2", "redis"]["downtime_s"]) == pytest.approx(1.5, abs=0.01)
    assert by["redis2", "redis"]["verdict"] == "ok"
    assert by["app1", "socketio"]["fault"] == "kill, power off, power on"
    assert float(by["app1", "socketio"]["reconnect_s"]) > 4
    assert by["lb1", "http"]["downtime_s"] == "0.000"
    assert by["lb1", "http"]["errors"] == "0"
    assert by["lb1", "redis"]["lost_writes"] == "0"
    assert by["lb1", "http"]["lost_writes"] == ""  # http has no writes
    assert by["lb1", "http"]["budget"] == "downtime <= 0s, errors <= 0"
    assert by["lb1", "metrics"]["verdict"] == "no budget"


def test_downtime_csv_tells_the_repeats_of_a_variant_apart(tmp_path: Path) -> None:
    """`run --repeat 2`: each run of the variant has rows of its own, numbered in the `repeat`
    column (empty for a variant that ran once), so a spreadsheet can tell them apart."""
    first, second, once = reboot_week(), reboot_week(), cold_start()
    first.repeat, second.repeat = 1, 2
    written = write_reports([first, second, once], tmp_path / "out", now=NOW)
    rows = list(csv.DictReader(io.StringIO(written["downtime.csv"].read_text())))
    week = [r for r in rows if r["scenario"] == "xen-reboot-week"]
    assert {r["repeat"] for r in week} == {"1", "2"}
    assert len([r for r in week if r["repeat"] == "1"]) == len(week) // 2
    assert {r["repeat"] for r in rows if r["scenario"] == "cold-start"} == {""}
    md = written["downtime.md"].read_text()
    assert "| repeat |" in md


def test_downtime_csv_marks_budget_breaches_and_runs_without_traffic(
    written: dict[str, Path],
) -> None:
    """The incident's row names the breached budget; a run without traffic still lists its
    hosts and faults, with nothing measured."""
    rows = list(csv.DictReader(io.StringIO(written["downtime.csv"].read_text())))
    lb = [r for r in rows if r["scenario"] == "lb-no-dns-rotation"]
    assert len(lb) == 1
    assert lb[0]["variant"] == "incident"
    assert lb[0]["host"] == "lb1" and lb[0]["service"] == "http"
    assert lb[0]["verdict"] == "over: max_errors"
    assert int(lb[0]["errors"]) > 0
    cold = [r for r in rows if r["scenario"] == "cold-start"]
    assert [r["host"] for r in cold] == ["lb1", "app1", "redis1"]
    assert {r["service"] for r in cold} == {"-"}
    assert {r["downtime_s"] for r in cold} == {""}
    assert {r["verdict"] for r in cold} == {"no traffic"}
    assert cold[0]["fault"] == "power off, power on"


def test_downtime_md_is_a_table_per_host_and_service(written: dict[str, Path]) -> None:
    """downtime.md has the scenario summary and a Markdown row for every CSV row."""
    md = written["downtime.md"].read_text()
    csv_rows = list(csv.DictReader(io.StringIO(written["downtime.csv"].read_text())))
    table = md.split("## Per host and service", 1)[1]
    lines = [line for line in table.splitlines() if line.startswith("| ")]
    assert lines[0].startswith("| scenario | variant | host | service | fault | downtime s |")
    assert len(lines) - 1 == len(csv_rows)
    # every column but `repeat`: no variant here ran more than once
    assert all(line.count(" | ") == len(COLUMNS) - 2 for line in lines)
    assert "| xen-reboot-week | fixed | redis2 | redis | sentinel failover | 1.500 |" in md
    assert "| lb-no-dns-rotation | incident | pass | reproduced: http [*] FAIL" in md
    assert "| cold-start | fixed | FAIL | not recovered within 60s" in md


def _html(written: dict[str, Path]) -> str:
    return written["report.html"].read_text()


def test_html_is_self_contained(written: dict[str, Path]) -> None:
    """No http(s) URL, no script, no stylesheet or image fetched from anywhere."""
    page = _html(written)
    assert not re.search(r"https?://", page)
    assert "<script" not in page
    assert not re.search(r"<link\b|<img\b|@import|src=", page)
    assert page.startswith("<!DOCTYPE html>")


def test_html_has_a_timeline_svg_per_scenario_variant(written: dict[str, Path]) -> None:
    """One inline <svg class="timeline-chart"> per result, each in its own section, with ids
    unique on the page."""
    page = _html(written)
    assert page.count('<svg class="timeline-chart"') == 3
    for i in range(3):
        assert f'<figure class="timeline" id="timeline-{i}">' in page
    ids = re.findall(r'\bid="([^"]+)"', page)
    assert len(ids) == len(set(ids))
    for ref in re.findall(r"url\(#([^)]+)\)|href=\"#([^\"]+)\"", page):
        target = ref[0] or ref[1]
        assert target in ids


def test_html_has_lanes_events_tables_and_checks(written: dict[str, Path]) -> None:
    """The chart names each service lane and each disrupted host; the page carries the
    downtime table, budget violations, check results and the plan."""
    page = _html(written)
    week = page.split('id="run-0"', 1)[1].split('id="run-1"', 1)[0]
    for lane in ("http  (3 clients)", "socketio  (2 clients)", "redis  (1 client)", "mysql1"):
        assert f">{lane}</text>" in week
    assert "<h3>Downtime per host</h3>" in week
    assert "<h3>Recovery checks</h3>" in week
    incident = page.split('id="run-1"', 1)[1].split('id="run-2"', 1)[0]
    assert '<ul class="violations"><li>http: max_errors 0 exceeded: measured' in incident
    cold = page.split('id="run-2"', 1)[1]
    assert "nofile 1024 (pid 31)" in cold
    assert "No client traffic in this run" in cold
    assert '<section id="plan">' in page
    assert "lb1 → lb2 → redis1 → mysql1 → app1" in page


def test_plan_md_is_the_runbook_of_the_passing_rolling_scenario(written: dict[str, Path]) -> None:
    """plan.md lists the proved order of hosts, the operations around each reboot in order,
    and the downtime measured per service per host; failing runs are not a plan."""
    plan = written["plan.md"].read_text()
    assert "## xen-reboot-week" in plan
    assert "lb1 → lb2 → redis1 → mysql1 → app1" in plan
    assert "cold-start" not in plan  # a full restart is no one-at-a-time plan
    assert "lb-no-dns-rotation" not in plan  # an incident variant proves no plan
    steps = re.findall(r"^\d+\. (.*)$", plan, re.M)
    assert steps[:4] == [
        "Rotate lb1 out of DNS (answer: lb2); wait for the TTL",
        "Reboot lb1 (graceful: shutdown 1.0 s, off 2.0 s, boot 1.5 s)",
        "Wait until every check holds again: recovered in 3.0 s",
        "Rotate lb1 back into DNS (answer: lb1, lb2); wait for the TTL",
    ]
    redis = plan.split("**3. redis1**", 1)[1].split("**4.", 1)[0]
    assert "Fail the Redis master over with Sentinel: redis1 → redis2 (1.6 s)" in redis
    assert "redis 1.50 s down, 3 failed" in redis
    mysql = plan.split("**4. mysql1**", 1)[1].split("**5.", 1)[0]
    assert mysql.index("Promote mysql2") < mysql.index("Reboot mysql1")
    assert mysql.index("Reboot mysql1") < mysql.index("Promote mysql1")
    table = [line for line in plan.splitlines() if line.startswith("| 3 | redis1 |")]
    assert len(table) == 1 and "| 1.50 / 3 |" in table[0]
    assert "Acknowledged writes lost: redis 0, mysql 0." in plan


def test_plan_without_a_passing_rolling_scenario_says_so(tmp_path: Path) -> None:
    """No qualifying run: plan.md says nothing is proved and lists what did not pass."""
    week = reboot_week()
    week.passed, week.reason = False, "step failed: steps[3].reboot: boom"
    written = write_reports([week, cold_start()], tmp_path, now=NOW)
    plan = written["plan.md"].read_text()
    assert "no plan of action is proved yet" in plan
    assert "- xen-reboot-week [fixed]: step failed: steps[3].reboot: boom" in plan


def test_empty_results_still_write_every_file(tmp_path: Path) -> None:
    """Zero results give valid, empty-ish reports rather than an error."""
    written = write_reports([], tmp_path / "empty", now=NOW)
    assert json.loads(written["results.json"].read_text())["scenarios"] == []
    assert written["downtime.csv"].read_text().strip() == ",".join(COLUMNS)
    assert "0 scenario variants" in written["report.html"].read_text()


def test_missing_verdicts_are_computed_from_the_history() -> None:
    """A result with history but no summary (a run that ended before its traffic was judged)
    still gets one, without budgets; a result without traffic gets its host rows."""
    week = reboot_week()
    assert week.summary is not None
    expected = week.summary
    week.summary, week.budget_violations = None, []
    run = week
    assert run.measured.service("redis").downtime_s == expected.service("redis").downtime_s
    assert run.measured.services == expected.services
    assert run.measured.budgets == ()
    cold = cold_start()
    assert cold.measured == analyze(History(()), cold.timeline)
    assert [r.host for r in cold.measured.hosts] == ["lb1", "app1", "redis1"]


def test_the_reports_read_the_typed_result_in_time_order() -> None:
    """The reports read the result itself (no copy): its typed checks, ops, violations and
    step errors, its summary as the verdicts, and its events sorted by time."""
    result = lb_incident()
    result.events = list(reversed(result.events))
    run = result
    assert [e.t for e in run.timeline] == sorted(e.t for e in result.events)
    assert run.checks == list(DEFAULT_CHECKS)
    assert result.history is not None and run.ops == result.history.ops
    assert run.budget_violations[0].measurement == "max_errors"
    assert run.measured is result.summary


# -- runbooks from events ----------------------------------------------------------------------


def _ev(t: float, kind: str, host: str = "", detail: str = "") -> Event:
    return Event(T0 + t, kind, host, detail)


def test_blocks_refuse_overlapping_reboots() -> None:
    """Two hosts off at once, a full restart, or a host left off is no one-at-a-time plan."""
    overlapping = [_ev(1, "power off", "a"), _ev(2, "power off", "b"), _ev(3, "power on", "a")]
    assert blocks_of(overlapping) is None
    assert blocks_of([_ev(1, "full restart")]) is None
    assert blocks_of([_ev(1, "power off", "a")]) is None
    assert blocks_of([_ev(1, "kill", "a", "SIGKILL app")]) == []


def test_blocks_give_restoring_operations_to_the_host_before() -> None:
    """Operations between reboots go before the next host, except those restoring the host
    just rebooted (DNS rotated back in, promoted back), which close its block."""
    events = [
        _ev(0, "dns rotate", "lb1", "out; in rotation: lb2"),
        _ev(1, "power off", "lb1"),
        _ev(2, "power on", "lb1"),
        _ev(3, "recovered"),
        _ev(4, "dns rotate", "lb1", "in; in rotation: lb1, lb2"),
        _ev(5, "dns rotate", "lb2", "out; in rotation: lb1"),
        _ev(6, "power off", "lb2"),
        _ev(7, "power on", "lb2"),
        _ev(8, "mysql promote", "lb2", "x"),
        _ev(9, "mysql repoint", "other", "y"),
        _ev(10, "sentinel failover", "redis3", "redis1 -> redis3"),
    ]
    blocks = blocks_of(events)
    assert blocks is not None
    assert [b.host for b in blocks] == ["lb1", "lb2"]
    assert [e.t - T0 for e in blocks[0].before] == [0]
    assert [e.t - T0 for e in blocks[0].after] == [4]
    assert blocks[0].recovered is not None
    assert [e.t - T0 for e in blocks[1].before] == [5]
    assert [e.t - T0 for e in blocks[1].after] == [8, 9, 10]  # trailing ops close the last
    assert blocks[1].recovered is None


def test_runbooks_skip_incident_variants_and_violations() -> None:
    """Only fixed variants that passed with no budget violated are proved."""
    week = reboot_week()
    proved, _ = runbooks([week])
    assert len(proved) == 1
    week.budget_violations = [
        BudgetViolation(
            "http", "max_errors", "http: max_errors 0 exceeded: measured 1 errors (timeout: 1)"
        )
    ]
    proved, unproved = runbooks([week])
    assert proved == [] and len(unproved) == 1
    week.variant = "incident"
    assert runbooks([week]) == ([], [])


def test_a_failure_says_what_made_the_traffic_partial_beside_the_budget_it_left_unverified() -> (
    None
):
    """A `no_lost_writes not verified` alone does not say why: the failure lines carry the
    traffic's problems (a client killed at stop, a read-back that failed and why), six at most."""
    run = ScenarioResult("failover-back-and-forth", "fixed", False, "over budget", -1.0, "p")
    run.budget_violations = [
        BudgetViolation("redis", "no_lost_writes", "redis: no_lost_writes not verified: …")
    ]
    run.traffic_problems = [
        "traffic client c1 did not finish within 53s of the stop: killed, its writes were not"
        " read back",
        *(
            f"traffic client c{i}: acknowledged mysql writes not read back: no primary"
            for i in range(2, 10)
        ),
    ]
    lines = run.verdict_lines()
    said = [line for line in lines if line.startswith("  traffic: ")]
    assert said[0] == (
        "  traffic: traffic client c1 did not finish within 53s of the stop: killed, its writes"
        " were not read back"
    )
    assert len(said) == 6
    assert lines.index(said[-1]) < lines.index("  events:")
    run.traffic_problems = []
    assert not [line for line in run.verdict_lines() if line.startswith("  traffic: ")]
