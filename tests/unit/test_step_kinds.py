"""Every step kind is one unit listed once (reboot_harness.steps.KINDS): the scenario schema,
the one-shot commands, the Chaos Toolkit actions and the reports' marks are made from the
table, so the kind added last — freeze, a host's VM paused by its hypervisor — has all of them
from its own module and one row. No Docker: the executors and the heal run on a small fake."""

from __future__ import annotations

import argparse
import inspect
import random
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from reboot_harness.errors import ScenarioError
from reboot_harness.model.events import Category, EventKind
from reboot_harness.model.topology import Topology
from reboot_harness.scenarios.files import parse_scenario, parse_step
from reboot_harness.steps import COMMANDS, KEYS, KINDS, MARKS, execute
from reboot_harness.steps.base import RunContext
from reboot_harness.steps.freeze import Freeze

TOPO = Topology()
STEPS = Path(__file__).resolve().parents[2] / "reboot_harness" / "steps"


def _step(data: object) -> Any:
    return parse_step(data, source="s.yaml", topology=TOPO, checks=("limits", "dns"))


def _refused(data: object) -> str:
    with pytest.raises(ScenarioError) as e:
        _step(data)
    return str(e.value)


# -- the table ---------------------------------------------------------------------------------


def test_each_kind_is_one_module_named_by_its_key_and_listed_once() -> None:
    """A row of KINDS is the class of steps/<key>.py; each key once, KEYS sorted."""
    assert len({kind.KEY for kind in KINDS}) == len(KINDS)
    assert tuple(sorted(kind.KEY for kind in KINDS)) == KEYS
    for kind in KINDS:
        assert (STEPS / f"{kind.KEY}.py").is_file(), kind.KEY
        assert kind.__module__ == f"reboot_harness.steps.{kind.KEY}"
    assert "freeze" in KEYS


def test_every_kind_names_an_executor_that_takes_a_context_and_a_step() -> None:
    """The executor a kind names ("module:function", imported only to run a step) exists."""
    for kind in KINDS:
        run = kind.executor()
        assert list(inspect.signature(run).parameters)[:1] in (["ctx"], ["_ctx"]), kind.KEY
        assert len(inspect.signature(run).parameters) == 2, kind.KEY


def test_the_schema_of_every_kind_takes_exactly_the_keys_of_its_dataclass() -> None:
    """The scenario schema has one key per kind, and each kind's model the YAML keys of its
    dataclass (or of its written form): declared once, in the kind's module."""
    import dataclasses

    from reboot_harness.scenarios.step_models import _StepDoc
    from reboot_harness.steps.kind import Param

    assert tuple(_StepDoc.model_fields) == KEYS
    for kind in KINDS:
        form = kind.FORM or kind
        hints = inspect.get_annotations(form, eval_str=True)
        want = set()
        for f in dataclasses.fields(form):
            param = next(m for m in hints[f.name].__metadata__ if isinstance(m, Param))
            want.add(param.key or f.name)
        model = _StepDoc.model_fields[kind.KEY].annotation
        assert model is not None
        assert {v.alias or k for k, v in model.model_fields.items()} == want, kind.KEY


# -- freeze: validation, plan, hosts -----------------------------------------------------------


def test_a_freeze_step_names_a_host_and_how_long() -> None:
    """`freeze: {host, for}` builds a Freeze; `for` is a duration like any other."""
    assert _step({"freeze": {"host": "app1", "for": "10s"}}) == Freeze(host="app1", for_=10.0)
    assert _step({"freeze": {"host": "redis1", "for": 0.5}}) == Freeze("redis1", 0.5)


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"host": "app1", "for": 0}, "freeze.for: duration must be more than 0s, got 0; valid: "
         "more than 0s up to 10m"),
        ({"host": "app1", "for": "11m"}, "freeze.for: duration '11m' is above the maximum 10m;"
         " valid: more than 0s up to 10m"),
        ({"host": "app1", "for": "-1s"}, "freeze.for: "),
        ({"host": "app1"}, "freeze.for: required key is missing"),
        ({"for": "1s"}, "freeze.host: required key is missing"),
        ({"host": "app3", "for": "1s"}, "freeze.host: unknown host 'app3'; known: app1, app2,"),
        ({"host": "apps", "for": "1s"}, "freeze.host: unknown host 'apps'"),
        ({"host": "app1", "for_": "1s"}, "freeze.for_: unknown key 'for_'; valid: for, host"),
        ("app1", "freeze: expected a mapping with keys for, host, got the string 'app1'"),
    ],
)  # fmt: skip
def test_a_bad_freeze_is_refused_naming_the_key_and_the_way_out(
    params: object, message: str
) -> None:
    """A freeze of no time, of more than ten minutes, on an unknown host or without its keys
    is refused in one line naming the key and what is valid."""
    said = _refused({"freeze": params})
    assert said.startswith(f"s.yaml: {message}"), said


def test_a_freeze_plans_its_time_and_touches_its_host() -> None:
    """Its planned time is `for`; it touches its host only; a scenario's plan counts it."""
    step = Freeze("app2", 7.0)
    assert step.planned_s() == 7.0
    assert step.touches(TOPO) == ("app2",)
    scenario = parse_scenario(
        "name: x\ndescription: d\nsteps:\n  - freeze: {host: app2, for: 7s}\n"
        "expect: {recover_within: 30s}\n",
        source="x.yaml",
        topology=TOPO,
        checks=("limits",),
        incidents=(),
    )
    assert scenario.steps == (step,)
    assert scenario.planned_s == 37.0


PLANS = [
    ({"reboot": {"host": "app1", "down_for": "5s"}}, 15.0, ("app1",)),
    ({"reboot": {"host": "app1", "mode": "hard", "down_for": "5s"}}, 5.0, ("app1",)),
    ({"stop": {"host": "lb1", "grace": "3s"}}, 3.0, ("lb1",)),
    ({"start": {"host": "lb1"}}, 0.0, ("lb1",)),
    ({"kill": {"host": "app1", "program": "app"}}, 0.0, ("app1",)),
    ({"dns_rotate": {"out": "lb1", "wait": "1s"}}, 6.0, ("lb1", "dns")),
    ({"sentinel_failover": None}, 30.0, ("redis1", "redis2", "redis3")),
    ({"mysql_failover": {"timeout": "45s"}}, 45.0, ("mysql1", "mysql2")),
    ({"wait_recovered": {"within": "1m"}}, 60.0, ()),
    ({"sleep": "2s"}, 2.0, ()),
    ({"rolling": {"hosts": ["app1", "app2"], "recover_within": "20s"}}, 60.0, ("app1", "app2")),
    ({"full_restart": {"hosts": "lbs", "mode": "hard", "down_for": 4}}, 4.0, ("lb1", "lb2")),
    ({"freeze": {"host": "mysql2", "for": "90s"}}, 90.0, ("mysql2",)),
]


def test_the_plans_cover_every_kind() -> None:
    assert {next(iter(data)) for data, _, _ in PLANS} == set(KEYS)


@pytest.mark.parametrize(("data", "planned", "touched"), PLANS, ids=lambda v: str(v)[:40])
def test_every_kind_says_its_planned_time_and_the_hosts_it_touches(
    data: dict[str, object], planned: float, touched: tuple[str, ...]
) -> None:
    """Each kind's own planned_s() and touches(), as the scenario's plan and the judge use."""
    step = _step(data)
    assert step.planned_s() == planned
    assert step.touches(TOPO) == touched


# -- the one-shot command and the Chaos Toolkit action ------------------------------------------


def _argv(*argv: str) -> argparse.Namespace:
    from reboot_harness.faces.cli.parser import build_parser

    return build_parser().parse_args([*argv, "--project", "p"])


def test_every_command_of_the_table_is_a_subcommand() -> None:
    """Each kind's one-shot spelling is a `reboot-harness` command, run by the one-shot code."""
    from reboot_harness.faces.cli import COMMANDS as CLI
    from reboot_harness.faces.cli.commands import _cmd_oneshot

    names = [c.name for c in COMMANDS]
    assert names == ["reboot", "stop", "start", "kill", "failover", "dns-rotate", "wait",
                     "freeze"]  # fmt: skip
    assert all(CLI[name] is _cmd_oneshot for name in names)


def test_freeze_on_the_command_line_is_the_scenario_step() -> None:
    """`reboot-harness freeze HOST --for 10s` stands for `{freeze: {host: HOST, for: 10s}}`;
    --for is required (argparse's exit 2)."""
    from reboot_harness.faces.cli.commands import _oneshot_step

    assert _oneshot_step(_argv("freeze", "app1", "--for", "10s")) == {
        "freeze": {"host": "app1", "for": "10s"}
    }
    assert _oneshot_step(_argv("freeze", "lb2", "--for", "3")) == {
        "freeze": {"host": "lb2", "for": 3.0}
    }
    with pytest.raises(SystemExit) as e:
        _argv("freeze", "app1")
    assert e.value.code == 2


def test_a_bad_one_shot_freeze_names_the_option() -> None:
    """The step's message in the command line's spelling: `--for`, `HOST`."""
    from reboot_harness.run.oneshot import step_of

    for data, said in (
        ({"freeze": {"host": "app1", "for": 0}}, "--for: duration must be more than 0s"),
        ({"freeze": {"host": "app3", "for": 1}}, "HOST: unknown host 'app3'"),
    ):
        with pytest.raises(ScenarioError) as e:
            step_of(data, "reboot-harness freeze", "p", TOPO)
        assert str(e.value).startswith(said), str(e.value)


def test_every_action_of_the_table_is_a_chaos_toolkit_action(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The extension exports one action per command (freeze included) beside its probes and
    heal; freeze(host, for_, project) runs exactly the scenario step (the project last and
    optional: Chaos Toolkit passes arguments by name, and may leave it to the configuration)."""
    from reboot_harness.faces import chaostoolkit

    actions = {c.action for c in COMMANDS if c.action}
    assert actions == {"reboot", "stop", "start", "kill", "failover", "dns_rotate",
                       "wait_recovered", "freeze"}  # fmt: skip
    assert set(chaostoolkit.__all__) == actions | {"check_results", "checks_hold", "heal"}
    assert str(inspect.signature(chaostoolkit.freeze)) == (
        "(host: 'str', for_: 'str | float', project: 'str | None' = None, *,"
        " configuration: 'Mapping[str, Any] | None' = None) -> 'list[Json]'"
    )
    sent: list[tuple[str, dict[str, object]]] = []
    monkeypatch.setattr(chaostoolkit, "_step", lambda project, data: sent.append((project, data)))
    chaostoolkit.freeze("app1", "10s", "p")
    chaostoolkit.freeze(project="p", host="app2", for_=2)
    assert sent == [("p", {"freeze": {"host": "app1", "for": "10s"}}),
                    ("p", {"freeze": {"host": "app2", "for": 2}})]  # fmt: skip
    with pytest.raises(TypeError):
        chaostoolkit.freeze("app1", project="p")  # `for_` is required


# -- reports ----------------------------------------------------------------------------------


def test_the_reports_mark_a_pause_and_its_end_on_the_host() -> None:
    """Pause and unpause are faults (drawn in the fault colour, counted as disruptive) with
    their own markers under one legend entry."""
    from reboot_harness.judging.measures import FAULT_KINDS

    pause, unpause = MARKS[EventKind.PAUSE], MARKS[EventKind.UNPAUSE]
    assert pause.legend == unpause.legend == "freeze / thaw (▶)"
    assert (pause.marker, unpause.marker) == ("s", ">")
    assert EventKind.PAUSE.category is Category.FAULT
    assert {EventKind.PAUSE, EventKind.UNPAUSE} <= set(FAULT_KINDS)


def test_the_timeline_of_a_freeze_draws_its_markers_and_legend() -> None:
    """A run with a freeze shows it on the host's lane (a square, then a play triangle) and
    in the legend; the host is not drawn as powered off."""
    from reboot_harness.report.timeline import timeline_svg
    from tests.unit.test_report import _Run

    r = _Run()
    r.event("stack ready", "", "ready")
    r.wait(1)
    r.event("pause", "app1", "for 5s", 0.1)
    r.wait(5)
    r.event("unpause", "app1", "after 5.0s", 0.1)
    r.event("recovered", "", "expected checks hold", 1.0)
    svg = timeline_svg(r.result("freeze-app1", "fixed", True, "held"), "t1")
    assert "freeze / thaw (▶)" in svg
    assert "host down" not in svg


# -- the executor and the heal, on a fake stack -------------------------------------------------


class _Stack:
    """What the freeze executor and the heal use of a stack; records every call."""

    def __init__(self, **statuses: str) -> None:
        self.statuses = {"app1": "running", **statuses}
        self.calls: list[tuple[str, str]] = []
        self.topology = TOPO

    def containers(self) -> dict[str, Any]:
        return {
            host: SimpleNamespace(attrs={"State": {"Status": status}})
            for host, status in self.statuses.items()
        }

    def pause(self, host: str) -> None:
        self.calls.append(("pause", host))
        self.statuses[host] = "paused"

    def unpause(self, host: str) -> None:
        self.calls.append(("unpause", host))
        self.statuses[host] = "running"

    def signal_program(self, host: str, program: str, signal: str) -> int:
        self.calls.append(("signal", f"{host}:{program}:{signal}"))
        return 1

    def power_on(self, host: str) -> None:
        if self.statuses[host] == "paused":
            raise RuntimeError(f"cannot start paused {host}")
        self.calls.append(("power_on", host))
        self.statuses[host] = "running"

    def close_sessions(self) -> None:
        self.calls.append(("close_sessions", ""))


def _ctx(stack: _Stack) -> RunContext:
    return RunContext(stack, random.Random(0))  # type: ignore[arg-type]


def test_a_freeze_pauses_the_host_for_its_time_then_unpauses_it() -> None:
    """The executor pauses, waits `for`, unpauses, and records pause/unpause on the host."""
    stack = _Stack()
    ctx = _ctx(stack)
    execute(ctx, Freeze("app1", 0.2))
    assert stack.calls == [("pause", "app1"), ("unpause", "app1")]
    kinds = [(e.kind, e.host) for e in ctx.events]
    assert kinds == [(EventKind.PAUSE, "app1"), (EventKind.UNPAUSE, "app1")]
    assert ctx.events[0].detail == "for 0.2s"
    assert ctx.events[1].t - ctx.events[0].t >= 0.2
    assert stack.statuses["app1"] == "running"


def test_the_heal_unpauses_a_paused_host_before_thawing_programs_and_booting() -> None:
    """A host left paused is unpaused first (a frozen program in it can then be thawed), and
    never booted as if it were off; hosts that are off are booted."""
    stack = _Stack(app1="paused", lb1="exited", app2="running")
    ctx = _ctx(stack)
    ctx.frozen.add(("app1", "app"))
    healed = ctx.heal()
    assert stack.calls == [("unpause", "app1"), ("signal", "app1:app:CONT"), ("power_on", "lb1")]
    assert healed == ["app1 (unpaused)", "app1:app", "lb1"]
    assert [(e.kind, e.detail) for e in ctx.events] == [
        (EventKind.HEAL, "started again: app1 (unpaused), app1:app, lb1")
    ]


def test_a_one_shot_freeze_interrupted_while_paused_is_unpaused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Ctrl-C during the pause of `reboot-harness freeze`: the heal unpauses the host before
    the interrupt goes on (no host is left paused by an aborted command)."""
    from reboot_harness.run import bringup, oneshot
    from reboot_harness.steps import freeze as freeze_module

    stack = _Stack()
    monkeypatch.setattr(bringup, "attach", lambda project, topology=None: stack)

    def interrupted(_seconds: float) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(freeze_module.time, "sleep", interrupted)
    with pytest.raises(KeyboardInterrupt):
        oneshot.apply("p", Freeze("app1", 30.0), TOPO)
    assert stack.calls == [("pause", "app1"), ("unpause", "app1"), ("close_sessions", "")]
    assert stack.statuses["app1"] == "running"


def test_validating_a_freeze_loads_no_engine_client() -> None:
    """The kinds' table and the freeze's module import no Docker, redis or MySQL client: a
    scenario with a freeze is validated as fast as any."""
    code = (
        "import sys; from reboot_harness.scenarios.files import parse_step; "
        "from reboot_harness.model.topology import Topology; "
        "print(parse_step({'freeze': {'host': 'app1', 'for': '1s'}}, source='s',"
        " topology=Topology(), checks=())); "
        "print(sorted(m for m in ('docker', 'redis', 'pymysql', 'reboot_harness.stack',"
        " 'reboot_harness.checks.run', 'reboot_harness.checks.base') if m in sys.modules))"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == ["Freeze(host='app1', for_=1.0)", "[]"]
