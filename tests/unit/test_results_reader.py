"""The one reader of results.json (reboot_harness.report.serialize): a result written and read
back is the result the run produced, field for field; a file written before some keys existed
still reads (their defaults); a value of the wrong kind is one line naming the file and the key
path; compare and history read through it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from reboot_harness.errors import UsageError
from reboot_harness.judging.judge import Outcome
from reboot_harness.judging.result import ScenarioResult
from reboot_harness.judging.traffic import summarize
from reboot_harness.model.events import Event, EventKind
from reboot_harness.model.results import CheckResult, StepError
from reboot_harness.model.scenario import Clients
from reboot_harness.model.traffic import Budget, History, Op
from reboot_harness.report import write_reports
from reboot_harness.report.serialize import document, load_results, result_from_json, schema

T0 = 1024.0  # every time and duration a multiple of 1/8: JSON's 4 digits hold them exactly


def _traffic() -> History:
    """Two http clients and a redis writer around a reboot of lb1 (down from +4 s to +6 s),
    one acknowledged write lost."""
    ops = []
    for i in range(64):
        t = T0 + i / 8
        down = T0 + 4 <= t < T0 + 6
        ops.append(Op("http", f"http-{i % 2 + 1}", "get /health", t, t + 0.125, not down,
                      "" if down else "lb1", "refused" if down else ""))  # fmt: skip
        if i % 4 == 0:
            ops.append(Op("redis", "redis-1", "set", t, t + 0.0625, True, "redis1", "", f"k{i}"))
    acked = {op.key for op in ops if op.key and op.key != "k8"}
    return History(tuple(ops), {"redis": frozenset(acked)})


def incident_result() -> ScenarioResult:
    """An incident variant with everything a result can hold."""
    events = [
        Event(T0 - 1, EventKind.STACK_READY, "", "42 checks hold"),
        Event(T0 + 4, EventKind.POWER_OFF, "lb1", "graceful", 0.5),
        Event(T0 + 6, EventKind.POWER_ON, "lb1", "", 1.25),
        Event(T0 + 7.5, EventKind.STEP_FAILED, "", "steps[1].wait_recovered timeout: 30s"),
        Event(T0 + 8, EventKind.RECOVERED, "", "expected checks hold", 2.375),
    ]
    failing = CheckResult("limits", "app1", False, "nofile >= 10000", "soft 1024", "ulimit -n",
                          ("nofile-below-minimum",), ("app1",))  # fmt: skip
    history = _traffic()
    summary, violations = summarize(history, events, [Budget("http", max_downtime=1.0)])
    assert violations and summary.fault_span is not None  # (the result holds both)
    reason = "reproduced: limits [app1] nofile-below-minimum: soft 1024"
    return ScenarioResult(
        "no-minfds", "incident", True, reason, 42.5, "rh-no-minfds-inc-abc123",
        incident="no-minfds", engine="ssh://lab", repeat=2,
        checks=[failing, CheckResult("processes", "*", True, "all running", "all running")],
        preflight=[CheckResult("clock", "*", True, "in sync", "in sync")],
        events=events,
        step_errors=[StepError(1, "wait_recovered", "30s", "timeout", (failing,))],
        history=history, summary=summary, budget_violations=violations,
        traffic_problems=["redis-1: 1 write not read back"],
        reproduced=Outcome(True, reason, ("limits [app1] nofile-below-minimum",), (), ("x",), ()),
        clients=Clients(dns_min_ttl=30.0, keepalive=True),
    )  # fmt: skip


def _written(results: list[ScenarioResult]) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(json.dumps(document(scenarios=results)))
    jsonschema.validate(doc, schema("run"))
    return doc


def test_a_result_written_and_read_back_equals_the_original() -> None:
    """Every field, the history (ops and the writes found), the verdicts and the reproduction
    come back as the run made them; and a run without traffic comes back without."""
    original = incident_result()
    (back,) = [result_from_json(s) for s in _written([original])["scenarios"]]
    assert back == original
    quiet = ScenarioResult("cold-start", "fixed", False, "stack did not come up: x", 300.0, "p")
    assert [result_from_json(s) for s in _written([quiet])["scenarios"]] == [quiet]


def test_the_reports_results_json_reads_back_as_the_results_written(tmp_path: Path) -> None:
    results = [incident_result(), ScenarioResult("cold-start", "fixed", True, "ok", 9.5, "p")]
    write_reports(results, tmp_path)
    assert load_results(tmp_path) == results
    assert load_results(tmp_path / "results.json") == results


def test_a_results_json_from_before_some_keys_existed_still_reads(tmp_path: Path) -> None:
    """No schema_version, engine, repeat, clients, preflight, typed step failures or budget
    breaches, traffic problems or reproduction (the first results.json): each reads as its
    default."""
    doc = _written([incident_result()])
    old = doc["scenarios"][0]
    for key in ("engine", "repeat", "clients", "preflight", "step_failures", "budget_breaches",
                "traffic_problems", "reproduction"):  # fmt: skip
        del old[key]
    path = tmp_path / "results.json"
    path.write_text(json.dumps({"scenarios": [old]}))
    (got,) = load_results(path)
    assert (got.engine, got.repeat, got.clients, got.preflight) == ("", 0, None, [])
    assert (got.step_errors, got.budget_violations, got.reproduced) == ([], [], None)
    assert got.summary == incident_result().summary and got.history == incident_result().history


@pytest.mark.parametrize(
    ("change", "said"),
    [
        (lambda s: s["verdicts"]["hosts"][0].update(downtime_s="long"),
         "scenarios[0].verdicts.hosts[0].downtime_s: expected a number, got 'long'"),
        (lambda s: s["events"][1].update(kind="meltdown"),
         "scenarios[0].events[1].kind: unknown EventKind 'meltdown'"),
        (lambda s: s.update(history={"ops": 3}), "scenarios[0].history: expected a list"),
        (lambda s: s["checks"][0].update(ok="yes"),
         "scenarios[0].checks[0].ok: expected true or false, got 'yes'"),
    ],
)  # fmt: skip
def test_a_value_of_the_wrong_kind_is_one_line_naming_the_file_and_key(
    tmp_path: Path, change: Any, said: str
) -> None:
    doc = _written([incident_result()])
    change(doc["scenarios"][0])
    path = tmp_path / "results.json"
    path.write_text(json.dumps(doc))
    with pytest.raises(UsageError) as caught:
        load_results(path)
    message = str(caught.value)
    assert message.startswith(f"{path}: not a results.json (") and said in message
    assert "\n" not in message
