"""Incident declarations (compose/incidents/*.yaml, key x-reboot-harness): every shipped one is
valid and names what it must show; a bad declaration, or a scenario that contradicts its
incident, is refused in one line naming the file and the key — before anything starts."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from reboot_harness.errors import ScenarioError
from reboot_harness.model.checks import CHECK_NAMES
from reboot_harness.model.incidents import Signature
from reboot_harness.model.topology import Topology
from reboot_harness.scenarios import find
from reboot_harness.scenarios.files import parse_scenario
from reboot_harness.scenarios.incidents import load_incident, parse_incident

TOPO = Topology()
SRC = Path("compose/incidents/x.yaml")


def incident(block: str) -> str:
    return f"services:\n  app1: {{}}\nx-reboot-harness:\n{block}"


def test_every_shipped_incident_is_reproduced_by_a_shipped_scenario_that_can_show_it() -> None:
    """Each shipped incident loads with a summary and at least one signature, and some shipped
    scenario reproduces it and could observe everything it declares: its checks run, its
    budgets are set, its steps are in the plan, and the plan touches a host it is shown on."""
    from reboot_harness.scenarios.incidents import unobservable

    got = {name: find.incident(name) for name in find.known_incidents()}
    scenarios = find.resolve([p.stem for p in find.scenario_files()], TOPO)
    for name, inc in got.items():
        assert inc.summary and inc.path.is_file() and inc.reproduced_by, name
        users = [s for s in scenarios if s.reproduces and s.reproduces.incident == name]
        assert users, f"no shipped scenario reproduces {name}"
        for s in users:
            assert not unobservable(
                inc,
                checks=s.expect.checks,
                budgets=s.budgets,
                step_kinds={step.KEY for step in s.steps},
                touched=inc.touched(s.steps, TOPO),
            ), (name, s.name)
    assert got["lb-no-dns-rotation"].drops == ("dns_rotate",), "the post-mortem's plan mistake"


BAD = [
    ("missing", "services:\n  app1: {}\n", "x-reboot-harness: required key is missing"),
    ("not-compose", "x-reboot-harness: {}\n", "not a compose override"),
    (
        "unknown-cause",
        "  summary: s\n  reproduced_by:\n    - {check: limits, cause: ulimit}\n",
        "x-reboot-harness.reproduced_by[0].cause: unknown cause 'ulimit' for check 'limits'; valid:"
        " check-crashed, host-down, host-unreadable, limits-unreadable, nofile-below-minimum,"
        " not-exercised, program-not-running",
    ),
    (
        "unknown-check",
        "  summary: s\n  reproduced_by:\n    - {check: ulimit, cause: x}\n",
        "reproduced_by[0].check: unknown check 'ulimit'; valid: directories, dns",
    ),
    (
        "cause-of-other-check",
        "  summary: s\n  reproduced_by:\n    - {check: limits, cause: zero-masters}\n",
        "reproduced_by[0].cause: unknown cause 'zero-masters' for check 'limits'",
    ),
    (
        "budget-without-host",
        "  summary: s\n  reproduced_by:\n    - {budget: http, measurement: max_errors}\n",
        "a budget entry names the host its violation must be attributed to",
    ),
    (
        "budget-unknown-measurement",
        "  summary: s\n  reproduced_by:\n    - {budget: http, measurement: errors, host: lb1}\n",
        "reproduced_by[0].measurement: unknown measurement 'errors'; valid: max_downtime",
    ),
    (
        "unknown-host",
        "  summary: s\n  reproduced_by:\n    - {check: limits, cause: host-down, host: app9}\n",
        "reproduced_by[0].host: unknown host 'app9'",
    ),
    (
        "two-kinds",
        "  summary: s\n  reproduced_by:\n    - {check: limits, step: reboot, cause: host-down}\n",
        "name exactly one of check",
    ),
    (
        "unknown-step",
        "  summary: s\n  reproduced_by:\n    - {step: reboots, cause: step-failed}\n",
        "reproduced_by[0].step: unknown step kind 'reboots'; valid: dns_rotate",
    ),
    (
        "unknown-step-cause",
        "  summary: s\n  reproduced_by:\n    - {step: reboot, cause: power}\n",
        "reproduced_by[0].cause: unknown step error cause 'power'; valid: dns-no-answer,"
        " failover-incomplete",
    ),
    ("empty", "  summary: s\n  reproduced_by: []\n", "reproduced_by: empty"),
    (
        "no-summary",
        "  reproduced_by:\n    - {check: limits, cause: host-down}\n",
        "summary: required key is missing",
    ),
    (
        "allows-a-budget-without-host",
        "  summary: s\n  reproduced_by:\n    - {check: limits, cause: host-down}\n"
        "  allows:\n    - {budget: http, measurement: max_errors}\n",
        "allows[0]: a budget entry names the host its violation must be attributed to",
    ),
    (
        "unknown-key",
        "  summary: s\n  reproduced: []\n",
        "x-reboot-harness.reproduced: unknown key 'reproduced'; valid: allows, lasts, plan,"
        " reproduced_by, summary",
    ),
    (
        "lasts-without-a-check",
        "  summary: s\n  lasts: true\n  reproduced_by:\n"
        "    - {budget: http, measurement: max_errors, host: lb1}\n",
        "lasts: true needs a check entry in reproduced_by",
    ),
    (
        "lasts-not-a-boolean",
        "  summary: s\n  lasts: yes\n  reproduced_by:\n    - {check: limits, cause: host-down}\n",
        "x-reboot-harness.lasts: expected true or false",
    ),
    (
        "plan-unknown-step",
        "  summary: s\n  plan: {drop: [dns_rotation]}\n  reproduced_by:\n"
        "    - {check: dns, cause: wrong-answer}\n",
        "x-reboot-harness.plan.drop[0]: unknown step kind 'dns_rotation'; valid: dns_rotate",
    ),
]


@pytest.mark.parametrize(("text", "fragment"), [pytest.param(t, f, id=i) for i, t, f in BAD])
def test_bad_declaration_is_one_line_naming_file_and_key(text: str, fragment: str) -> None:
    """Each bad declaration is refused with one line that names the file and the key path."""
    body = text if text.startswith(("services", "x-")) else incident(text)
    began = time.monotonic()
    with pytest.raises(ScenarioError) as e:
        parse_incident(body, name="x", path=SRC, topology=TOPO)
    message = str(e.value)
    assert time.monotonic() - began < 1.0
    assert message.startswith(f"{SRC}: ") and "\n" not in message, message
    assert fragment in message, message


def test_incident_file_from_anywhere_loads_by_its_name(tmp_path: Path) -> None:
    """An incident is its file's stem; a user's own directory works like the shipped one."""
    path = tmp_path / "my-incident.yaml"
    path.write_text(
        incident("  summary: s\n  reproduced_by:\n    - {check: dns, cause: wrong-answer}\n")
    )
    got = load_incident(path)
    assert got.name == "my-incident"
    assert got.reproduced_by == (Signature("check", "dns", "wrong-answer"),)
    assert got.checks == ("dns",)


def scenario(extra: str, *, expect: str = "{checks: all}", steps: str = "sleep: 1s") -> str:
    return f"name: x\ndescription: d\nsteps:\n  - {steps}\nexpect: {expect}\n{extra}"


def parse(text: str) -> object:
    return parse_scenario(
        text,
        source="scenarios/x.yaml",
        topology=TOPO,
        checks=CHECK_NAMES,
        incidents=find.Incidents(TOPO),
    )


SCENARIO_BAD = [
    (
        "contradicting-check",
        scenario("reproduces: {incident: no-minfds, check: processes}\n"),
        "scenarios/x.yaml: reproduces.check: 'processes' contradicts incident no-minfds's"
        " declaration (no-minfds.yaml): it is reproduced by limits [app1] nofile-below-minimum",
    ),
    (
        "contradicting-budget",
        scenario(
            "reproduces: {incident: lb-no-dns-rotation, budget: socketio}\n"
            "budgets: {socketio: {max_reconnect: 3s}}\n",
            steps="dns_rotate: {out: lb1}",
        ),
        "reproduces.budget: 'socketio' contradicts incident lb-no-dns-rotation's declaration",
    ),
    (
        "declared-check-not-run",
        scenario("reproduces: no-minfds\n", expect="{checks: [processes]}"),
        "reproduces.incident: incident no-minfds is shown by check 'limits', which is not among"
        " expect.checks",
    ),
    (
        "declared-budget-not-set",
        scenario(
            "reproduces: lb-no-dns-rotation\nbudgets: {http: {max_downtime: 0s}}\n",
            steps="dns_rotate: {out: lb1}",
        ),
        "incident lb-no-dns-rotation is shown by the http budget's max_errors, which this scenario"
        " does not set",
    ),
    (
        "plan-drops-an-absent-step",
        scenario("reproduces: lb-no-dns-rotation\nbudgets: {http: {max_errors: 0}}\n"),
        "reproduces.incident: incident lb-no-dns-rotation drops dns_rotate steps from the plan,"
        " and this scenario has none",
    ),
    (
        "declared-hosts-never-touched",
        scenario("reproduces: no-minfds\n", steps="reboot: {host: lb1}"),
        "reproduces.incident: incident no-minfds is shown only on app1, app2, which this"
        " scenario's plan never touches (it touches lb1)",
    ),
    (
        "declared-step-absent",
        scenario("reproduces: mysql-long-repl-password\n"),
        "incident mysql-long-repl-password is shown by a mysql_failover step error, and this"
        " scenario has no mysql_failover step",
    ),
]


@pytest.mark.parametrize(
    ("text", "fragment"), [pytest.param(t, f, id=i) for i, t, f in SCENARIO_BAD]
)
def test_scenario_contradicting_its_incident_is_refused(text: str, fragment: str) -> None:
    """A scenario whose reproduces: contradicts the incident's own declaration, or that could
    never observe what the declaration names, is refused at validation."""
    with pytest.raises(ScenarioError) as e:
        parse(text)
    assert fragment in str(e.value), str(e.value)
    assert "\n" not in str(e.value)


def test_scenario_may_name_just_the_incident() -> None:
    """``reproduces: NAME`` is enough: the incident's file says what must fail."""
    got = parse(scenario("reproduces: no-minfds\n", steps="reboot: {host: app1}"))
    assert got.reproduces is not None  # type: ignore[attr-defined]
    assert got.reproduces.incident == "no-minfds"  # type: ignore[attr-defined]


def test_lasts_is_read_and_defaults_to_false() -> None:
    """``lasts: true`` is kept on the incident (its variant may end its final wait early:
    reboot_harness.judging.judge.settled); an incident that does not say so is waited out."""
    body = "  summary: s\n  reproduced_by:\n    - {check: limits, cause: host-down}\n"
    said = parse_incident(incident(body + "  lasts: true\n"), name="x", path=SRC, topology=TOPO)
    silent = parse_incident(incident(body), name="x", path=SRC, topology=TOPO)
    assert said.lasts and not silent.lasts


def test_allows_takes_checks_and_budgets_too() -> None:
    """Failures an incident may bring besides its cause are declared in ``allows``, whatever
    their kind (reboot_harness.judging.judge: any other failure disqualifies it)."""
    got = parse_incident(
        incident(
            "  summary: s\n  reproduced_by:\n    - {check: limits, cause: host-down}\n"
            "  allows:\n    - {check: dns, cause: wrong-answer, host: dns}\n"
            "    - {budget: http, measurement: max_downtime, host: lb1}\n"
            "    - {step: dns_rotate, cause: rotation-not-served}\n"
        ),
        name="x",
        path=SRC,
        topology=TOPO,
    )
    assert got.allows == (
        Signature("check", "dns", "wrong-answer", "dns"),
        Signature("budget", "http", "max_downtime", "lb1"),
        Signature("step", "dns_rotate", "rotation-not-served"),
    )


def test_a_plan_that_touches_one_declared_host_may_reproduce() -> None:
    """A scenario rebooting only app1 may reproduce no-minfds (declared on app1 and app2): the
    judge reads app2's signature as out of the plan's reach."""
    got = parse(scenario("reproduces: no-minfds\n", steps="reboot: {host: app1}"))
    no_minfds = find.Incidents(TOPO)["no-minfds"]
    assert no_minfds.touched(got.steps, TOPO) == {"app1"}  # type: ignore[attr-defined]
