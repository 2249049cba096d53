"""The Chaos Toolkit extension without a stack: `chaos discover` lists every action and probe
with its arguments, `chaos validate` refuses what the step would refuse, the project comes from
the argument, the configuration or the environment, and the control heals an interrupted
experiment. `chaos` is the venv's real command (the [chaostoolkit] extra)."""

from __future__ import annotations

import inspect
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from reboot_harness.errors import UsageError
from reboot_harness.faces import chaostoolkit, chaostoolkit_control
from reboot_harness.steps import COMMANDS

CHAOS = shutil.which("chaos", path=str(Path(sys.executable).parent)) or "chaos"
EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "chaostoolkit"
PORTABLE = {"str": "string", "str | float": "string", "bool": "boolean", "Sequence[str]": "list"}


def _chaos(
    tmp: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [CHAOS, "--no-version-check", "--log-file", str(tmp / "chaostoolkit.log"), *args],
        capture_output=True, text=True, timeout=120, cwd=tmp,
        env={**os.environ, "DOCKER_HOST": "unix:///nonexistent.sock", **(env or {})},
    )  # fmt: skip


def _experiment(tmp: Path, func: str, **arguments: object) -> Path:
    """An experiment with one action of the extension, its project from the environment."""
    path = tmp / f"{func}.json"
    path.write_text(json.dumps({
        "version": "1.0.0", "title": "t", "description": "d",
        "configuration": {"reboot_harness_project": {"type": "env", "key": "RH_PROJECT"}},
        "method": [{"type": "action", "name": "one", "provider": {
            "type": "python", "module": "reboot_harness.chaostoolkit", "func": func,
            "arguments": arguments}}],
    }))  # fmt: skip
    return path


@pytest.fixture
def recorded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """A recorded project `p1` (the shipped topology), as `up` leaves it, with no engine; the
    environment that names it."""
    from reboot_harness.stack.state import ProjectState

    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    ProjectState(
        name="p1", compose_dir="/x", compose_files=(), subnet_prefix="172.30.9",
        domain="rh.test", image_tag="t", base_image="b", owner="", keep=True,
    ).save()  # fmt: skip
    return {"XDG_STATE_HOME": str(tmp_path / "state"), "RH_PROJECT": "p1"}


# -- discover ---------------------------------------------------------------------------------


def test_chaos_discover_lists_every_action_of_the_step_kinds_and_every_probe_with_arguments(
    tmp_path: Path,
) -> None:
    """`chaos discover reboot-harness` saves one activity per action of the step-kind table
    (plus heal) and per probe, each with its module, docstring and arguments: name, portable
    type (what `chaos init` prompts for) and default — the signature's, bar `configuration`."""
    proc = _chaos(tmp_path, "discover", "--no-install", "--no-system-info", "reboot-harness")
    saved = tmp_path / "discovery.json"
    assert saved.is_file(), proc.stdout + proc.stderr + (tmp_path / "chaostoolkit.log").read_text()
    discovery = json.loads(saved.read_text())
    assert discovery["extension"]["name"] == "reboot-harness"
    by_name = {a["name"]: a for a in discovery["activities"]}
    actions = {c.action for c in COMMANDS if c.action} | {"heal"}
    assert {n for n, a in by_name.items() if a["type"] == "action"} == actions
    assert {n for n, a in by_name.items() if a["type"] == "probe"} == {
        "checks_hold",
        "check_results",
    }
    for name, activity in by_name.items():
        assert activity["mod"] == "reboot_harness.chaostoolkit"
        assert activity["doc"] and "project:" in activity["doc"], name
        function = getattr(chaostoolkit, name)
        expected = []
        for p in inspect.signature(function).parameters.values():
            if p.kind is p.KEYWORD_ONLY:
                continue
            arg: dict[str, Any] = {"name": p.name}
            if p.default is not p.empty:
                arg["default"] = p.default
            arg["type"] = PORTABLE[str(p.annotation).removesuffix(" | None")]
            expected.append(arg)
        assert activity["arguments"] == expected, name
    reboot = {a["name"]: a for a in by_name["reboot"]["arguments"]}
    assert reboot["mode"] == {"name": "mode", "default": "graceful", "type": "string"}
    assert reboot["new_ip"]["type"] == "boolean" and "host" in by_name["reboot"]["doc"]


def test_the_top_level_package_exports_discover_for_chaos_toolkit() -> None:
    """chaoslib looks for `discover` in the distribution's top-level package (reboot_harness)."""
    import reboot_harness

    found = reboot_harness.discover(discover_system=False)
    assert {a["name"] for a in found["activities"]} >= {"reboot", "heal", "checks_hold"}


# -- validate ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("func", "arguments", "said"),
    [
        ("reboot", {"host": "app1", "mode": "hrd"},
         "reboot_harness.chaostoolkit.reboot: mode: unknown mode 'hrd'; valid: crash, graceful,"
         " hard"),
        ("reboot", {"host": "app1", "down_for": "5x"},
         "reboot_harness.chaostoolkit.reboot: down_for: unknown unit 'x' in '5x'"),
        ("freeze", {"host": "app1", "for_": "1h"},
         "reboot_harness.chaostoolkit.freeze: for_: duration '1h' is above the maximum 10m"),
        ("dns_rotate", {"action": "sideways", "lb": "lb1"},
         "reboot_harness.chaostoolkit.dns_rotate: action: 'sideways'; valid: in, out"),
        ("kill", {"host": "app1", "program": "app", "signal": "FOO"},
         "reboot_harness.chaostoolkit.kill: signal: unknown signal 'FOO'"),
    ],
)  # fmt: skip
def test_chaos_validate_refuses_what_the_step_would_refuse(
    tmp_path: Path, func: str, arguments: dict[str, object], said: str
) -> None:
    """A bad mode, duration, choice or signal fails `chaos validate` (exit 1) with one line
    naming the action and its argument — no stack needed (RH_PROJECT names none that is up)."""
    proc = _chaos(tmp_path, "validate", str(_experiment(tmp_path, func, **arguments)),
                  env={"RH_PROJECT": "not-up", "XDG_STATE_HOME": str(tmp_path)})  # fmt: skip
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert said in proc.stderr, proc.stderr


def test_chaos_validate_refuses_a_host_the_running_stack_lacks(
    tmp_path: Path, recorded: dict[str, str]
) -> None:
    """When RH_PROJECT names a stack that is up, hosts are checked against its topology."""
    proc = _chaos(tmp_path, "validate", str(_experiment(tmp_path, "reboot", host="app9")),
                  env=recorded)  # fmt: skip
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "reboot_harness.chaostoolkit.reboot: host: unknown host 'app9'; known: app1" in (
        proc.stderr
    )


def test_chaos_validate_accepts_good_arguments_placeholders_and_the_examples(
    tmp_path: Path, recorded: dict[str, str]
) -> None:
    """Valid arguments, a value still written ``${name}``, and the shipped examples pass; with
    no stack up a host cannot be checked, so any name passes."""
    fine = [
        _experiment(tmp_path, "reboot", host="app1", mode="hard", down_for="1m30s"),
        _experiment(tmp_path, "freeze", host="${h}", for_="${how_long}"),
        EXAMPLES / "experiment.json",
        EXAMPLES / "deviates.json",
    ]
    for path in fine:
        proc = _chaos(tmp_path, "validate", str(path), env=recorded)
        assert proc.returncode == 0, f"{path.name}: {proc.stderr}"
    elsewhere = _experiment(tmp_path, "reboot", host="web7")
    proc = _chaos(tmp_path, "validate", str(elsewhere), env={**recorded, "RH_PROJECT": "not-up"})
    assert proc.returncode == 0, proc.stderr


def _probe_experiment(tmp: Path, checks: object) -> Path:
    path = tmp / "probe.json"
    path.write_text(json.dumps({
        "version": "1.0.0", "title": "t", "description": "d",
        "steady-state-hypothesis": {"title": "h", "probes": [{
            "type": "probe", "name": "holds", "tolerance": True, "provider": {
                "type": "python", "module": "reboot_harness.chaostoolkit", "func": "checks_hold",
                "arguments": {"checks": checks}}}]},
        "method": [],
    }))  # fmt: skip
    return path


def test_chaos_validate_refuses_a_check_the_probes_stack_cannot_run(
    tmp_path: Path, recorded: dict[str, str]
) -> None:
    """A probe's checks: a list of names the stack has (when it is known); a bare string (which
    would run each of its letters) is refused with or without a stack."""
    bad = _chaos(tmp_path, "validate", str(_probe_experiment(tmp_path, ["ulimit"])), env=recorded)
    assert bad.returncode == 1 and (
        "reboot_harness.chaostoolkit.checks_hold: checks: unknown check 'ulimit'; known:"
        in bad.stderr
    ), bad.stderr
    text = _chaos(tmp_path, "validate", str(_probe_experiment(tmp_path, "dns")), env=recorded)
    assert text.returncode == 1 and "checks: 'dns' is not a list of check names" in text.stderr
    fine = _chaos(tmp_path, "validate", str(_probe_experiment(tmp_path, ["dns"])), env=recorded)
    assert fine.returncode == 0, fine.stderr
    unknown = {**recorded, "RH_PROJECT": "not-up"}
    elsewhere = _chaos(
        tmp_path, "validate", str(_probe_experiment(tmp_path, ["mine"])), env=unknown
    )
    assert elsewhere.returncode == 0, elsewhere.stderr


def test_binding_outside_chaos_toolkit_raises_type_error(monkeypatch: pytest.MonkeyPatch) -> None:
    """The validating signature raises chaoslib's InvalidActivity only where chaoslib exists;
    elsewhere a TypeError, as a signature that cannot bind does."""
    monkeypatch.setitem(sys.modules, "chaoslib.exceptions", None)  # import fails
    monkeypatch.delenv("RH_PROJECT", raising=False)
    with pytest.raises(TypeError, match="mode: unknown mode 'hrd'"):
        inspect.signature(chaostoolkit.reboot).bind(host="app1", mode="hrd")


# -- the project ------------------------------------------------------------------------------


def test_an_action_finds_its_project_in_the_argument_the_configuration_or_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """`project` first, then the configuration's reboot_harness_project, then $RH_PROJECT;
    none is a one-line UsageError saying the three ways."""
    sent: list[str] = []
    monkeypatch.setattr(chaostoolkit, "_step", lambda project, data: sent.append(project))
    monkeypatch.setenv("RH_PROJECT", "from-env")
    config = {"reboot_harness_project": "from-config"}
    chaostoolkit.start(host="app1", project="given", configuration=config)
    chaostoolkit.start(host="app1", configuration=config)
    chaostoolkit.start(host="app1", configuration={})
    assert sent == ["given", "from-config", "from-env"]
    monkeypatch.delenv("RH_PROJECT")
    with pytest.raises(UsageError) as e:
        chaostoolkit.start(host="app1")
    assert str(e.value) == (
        "reboot_harness.chaostoolkit.start: no project: give the argument `project`, the"
        " experiment's configuration `reboot_harness_project` or the environment's RH_PROJECT"
        " (the --project of `reboot-harness up`)"
    )


# -- the control ------------------------------------------------------------------------------


@pytest.mark.parametrize("status", ["interrupted", "completed", "failed", "aborted"])
def test_the_control_heals_an_interrupted_experiment_only(
    monkeypatch: pytest.MonkeyPatch, status: str
) -> None:
    """after_experiment_control heals (the extension's heal, on the control's project or the
    configuration's) when the journal says interrupted, and leaves other endings alone."""
    healed: list[tuple[str | None, object]] = []

    def heal(project: str | None = None, *, configuration: object = None) -> list[str]:
        healed.append((project, configuration))
        return ["redis2"]

    monkeypatch.setattr(chaostoolkit, "heal", heal)
    config = {"reboot_harness_project": "p"}
    chaostoolkit_control.after_experiment_control(
        context={}, state={"status": status}, configuration=config, experiment={}
    )
    assert healed == ([(None, config)] if status == "interrupted" else [])


def test_a_failing_heal_in_the_control_is_logged_not_raised(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """The journal is written by then: a heal that fails is an error in chaostoolkit's log."""

    def heal(project: str | None = None, *, configuration: object = None) -> list[str]:
        raise UsageError("no project recorded")

    monkeypatch.setattr(chaostoolkit, "heal", heal)
    chaostoolkit_control.after_experiment_control(context={}, state={"status": "interrupted"})
    assert "not healed: no project recorded" in caplog.text


def test_the_experiment_module_exposes_the_control() -> None:
    """Experiments name one module for activities and control: reboot_harness.chaostoolkit."""
    from reboot_harness import chaostoolkit as module

    assert module.after_experiment_control is chaostoolkit_control.after_experiment_control
    assert "after_experiment_control" not in module.__all__  # not an activity
