"""The CI files a user's own repository runs — the GitHub Action (ci/github/action.yml), the
GitLab CI template (ci/gitlab/reboot-harness.yml) — and the examples that use them
(examples/ci/) are what GitHub and GitLab accept: each is valid by its SchemaStore schema
(check-jsonschema, offline), and a file broken as a user might break it is refused. They have the
shape the nights rely on and run nothing of a checkout of the harness; their steps run in
tests/integration/test_ci_examples.py."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.cifiles import (
    ACTION,
    ACTION_REF,
    GITLAB_CI,
    TEMPLATE,
    WORKFLOW,
    action_inputs,
    gitlab_job,
    load,
    validate,
    workflow_job,
)

INPUT = re.compile(r"\$\{\{ inputs\.([\w-]+) \}\}")


def _made_job(tmp_path: Path) -> Path:
    """The job GitLab makes of the example (the template under its `extends:`), as a file: the
    schema leaves a hidden job (`.reboot-harness`) unchecked, the job made of it not."""
    name, job = gitlab_job()
    made = tmp_path / "made-job.yml"
    made.write_text(yaml.safe_dump({name: job}), encoding="utf-8")
    return made


def _files(schema: str, tmp_path: Path) -> list[Path]:
    return {
        "vendor.github-actions": [ACTION],
        "vendor.github-workflows": [WORKFLOW],
        "vendor.gitlab-ci": [GITLAB_CI, TEMPLATE, _made_job(tmp_path)],
    }[schema]


SCHEMAS = ["vendor.github-actions", "vendor.github-workflows", "vendor.gitlab-ci"]


@pytest.mark.parametrize("schema", SCHEMAS)
def test_each_ci_file_is_valid_by_its_schema(schema: str, tmp_path: Path) -> None:
    """The action by SchemaStore's github-actions schema, the example workflow by
    github-workflows, the template, the example .gitlab-ci.yml and the job they make by
    gitlab-ci."""
    files = _files(schema, tmp_path)
    code, said = validate(schema, *files)
    assert code == 0, said


def _no_shell(doc: dict[str, Any]) -> str:
    """A composite action's run: step without `shell:` (required there)."""
    step = next(s for s in doc["runs"]["steps"] if "run" in s)
    del step["shell"]
    return "shell"


def _runs_on_misspelt(doc: dict[str, Any]) -> str:
    (job,) = doc["jobs"].values()
    job["run-on"] = job.pop("runs-on")
    return "run-on"


def _artifacts_when_misspelt(doc: dict[str, Any]) -> str:
    (job,) = doc.values()
    job["artifacts"]["when"] = "allways"
    return "allways"


BREAKS: dict[str, Callable[[dict[str, Any]], str]] = {
    "vendor.github-actions": _no_shell,
    "vendor.github-workflows": _runs_on_misspelt,
    "vendor.gitlab-ci": _artifacts_when_misspelt,
}


@pytest.mark.parametrize("schema", SCHEMAS)
def test_a_ci_file_broken_as_a_user_might_is_refused(schema: str, tmp_path: Path) -> None:
    """The validation can fail: the action with a run: step that lost its `shell:`, the workflow
    with `run-on:`, the job made of the template with `when: allways` each exit 1 naming it."""
    good = _files(schema, tmp_path)[-1]
    doc = load(good)
    said = BREAKS[schema](doc)
    broken = tmp_path / f"broken-{good.name}"
    broken.write_text(yaml.safe_dump(doc), encoding="utf-8")
    code, output = validate(schema, broken)
    assert code == 1 and said in output, output


def _action_steps() -> list[dict[str, Any]]:
    steps: list[dict[str, Any]] = load(ACTION)["runs"]["steps"]
    return steps


def _gitlab_lines() -> list[str]:
    _, job = gitlab_job()
    return [*job["before_script"], *job["script"]]


def test_the_action_and_the_template_have_the_same_knobs_and_defaults() -> None:
    """Each variable the template reads is fed, in the action, from an input of the same
    default (RH_HISTORY_NIGHTS from `nights`, ...); only the template's RH_PYTHON (the
    interpreter; the action sets Python up) and RH_PREVIOUS (the action's is in the runner's
    temp folder) have none."""
    inputs = action_inputs()
    fed: dict[str, str] = {}
    for step in _action_steps():
        for var, value in (step.get("env") or {}).items():
            m = INPUT.fullmatch(str(value))
            if var.startswith("RH_") and m:
                fed[var] = m.group(1)
    variables = {k: str(v) for k, v in load(TEMPLATE)[".reboot-harness"]["variables"].items()}
    assert {var: inputs[name] for var, name in fed.items()} == {
        var: variables[var] for var in fed
    }, "the same defaults"
    assert set(variables) - set(fed) == {"RH_PYTHON", "RH_PREVIOUS"}


def test_the_action_and_the_template_run_the_same_scripts() -> None:
    """The machine check, the scenarios and the history are the same text on both (what differs
    is how each CI finds the previous night, puts the harness on PATH, and shows compare)."""
    lines = _gitlab_lines()
    shared = [s["name"] for s in _action_steps() if s.get("run") in lines]
    assert shared == [
        "Check the machine and build the images",
        "Run the scenarios",
        "History of the nights",
    ]


def test_the_nights_carry_what_the_next_night_reads() -> None:
    """Scheduled (cron; GitLab: schedule pipelines only) on a self-hosted runner that may read
    the workflow's runs; the workflow uses the action; the action's run: steps are bash with no
    ${{ }} and no if:; the night is uploaded even after a failure, from the folder the scenario
    step writes, under the name the next night downloads, into the folder history and compare
    read; GitLab keeps the same folder and its JUnit XML."""
    doc = load(WORKFLOW)
    on = doc["on"] if "on" in doc else doc[True]  # YAML 1.1 reads a bare `on` as true
    assert len(on["schedule"][0]["cron"].split()) == 5
    assert doc["permissions"]["actions"] == "read"
    job = workflow_job()
    assert "self-hosted" in job["runs-on"]
    assert [s["uses"] for s in job["steps"] if ACTION_REF.fullmatch(s.get("uses", ""))]
    steps = _action_steps()
    for step in steps:
        if "run" in step:
            assert step["shell"] == "bash" and "if" not in step, step["name"]
            assert "${{" not in step["run"], step["name"]
    by_action = {s["uses"].split("@")[0]: s for s in steps if "uses" in s}
    up, down = by_action["actions/upload-artifact"], by_action["actions/download-artifact"]
    assert up["if"] == "always()" and up["with"]["path"] == "${{ inputs.out }}"
    assert down["with"]["name"] == up["with"]["name"] == "${{ inputs.artifact }}"
    assert down["with"]["run-id"] == "${{ steps.previous.outputs.run_id }}"
    readers = [s for s in steps if "RH_PREVIOUS" in (s.get("env") or {})]
    assert [s["name"] for s in readers] == [
        "History of the nights",
        "Compare with the previous night",
    ]
    assert {s["env"]["RH_PREVIOUS"] for s in readers} == {down["with"]["path"]}
    scenarios = next(s for s in steps if s["name"] == "Run the scenarios")
    assert scenarios["env"]["RH_OUT"] == up["with"]["path"]

    _, gl = gitlab_job()
    assert gl["rules"] == [{"if": '$CI_PIPELINE_SOURCE == "schedule"'}]
    assert gl["artifacts"]["when"] == "always"
    assert gl["artifacts"]["paths"] == ["$RH_OUT/"]
    assert gl["artifacts"]["reports"]["junit"] == "$RH_OUT/junit.xml"


def test_nothing_they_run_comes_from_a_checkout_of_the_harness() -> None:
    """Every script runs the installed harness's `reboot-harness` (on PATH) and bash or python
    one-liners: no path into the harness's repository (scripts/, tests/, examples/) and no
    checkout's .venv."""
    scripts = [s["run"] for s in _action_steps() if "run" in s] + _gitlab_lines()
    checkout = re.compile(r"(?<![\w-])(scripts|tests|examples)/|\.venv/")
    for script in scripts:
        assert not checkout.search(script), script
    assert any("reboot-harness run " in s for s in scripts)
