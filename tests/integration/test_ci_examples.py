"""The CI files a user's own repository runs, as written, against a user's project that is not
this checkout: a project in tmp (one scenario file of its own on the harness's stack, the
example workflow in .github/workflows/, the example .gitlab-ci.yml) is checked out afresh each
night, and the harness comes from a wheel built from this checkout (installed by the action's
and the template's own install step, in place of the package index). The GitHub workflow's
steps and the composite action's steps it uses (ci/github/action.yml), and the script lines of
the job the example's `extends:` makes of the GitLab template (ci/gitlab/reboot-harness.yml),
run with bash in order, with the inputs (variables) of the examples and this test's overrides on
top: one run a night, a compare floor fitted to cold-start's spread, the wheel, one virtualenv
kept between the nights (as a self-hosted runner may keep one: the first night installs, the
others find it installed). The CI services are stood in for: a local HTTP server answers the API
calls (which earlier night succeeded, its artifact), and the GitHub actions that are not shell
(`uses:` steps) are done by the test where they stand, each reported as such.

Two real nights: night 1 on GitHub (nothing to compare: the step says so and passes), night 2
on GitLab, whose previous night is night 1's artifact fetched through the API (same code: no
regression, exit 0). The GitHub workflow's second night and the doctored nights replay night 2's
scenario results instead of running the scenarios again; every other step runs. A previous
night doctored to have recovered much faster makes the compare step exit 1 on both."""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import subprocess
import sys
import threading
import xml.etree.ElementTree as ET
import zipfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest

from tests.cifiles import (
    ACTION,
    ACTION_REF,
    GITLAB_CI,
    REPO,
    WORKFLOW,
    action_inputs,
    gitlab_job,
    load,
    workflow_job,
)
from tests.integration.test_wheel import build_wheel, outside_env

INDEPENDENT = False  # the nights build on each other (module fixtures): one worker

REPOSITORY, PROJECT_ID, BRANCH, TOKEN = "acme/web", "42", "main", "test-token"
WORKFLOW_FILE = f".github/workflows/{WORKFLOW.name}"
# The overrides. cold-start's recovery wait spreads widely between runs of the same code on a
# busy 2-core machine (6.0 to 20.7 s in five runs), beyond the default floors (0.75, 6 s;
# measured on two other scenarios, a quiet machine): a pair of same-code nights could read as a
# regression. Here a regression is a recovery 10x slower than the night before's — which the
# night doctored to have recovered 100x faster is, and a same-code night is not.
FLOOR = "--floor recovery_s=9,1"
GITHUB_INPUTS = {"repeat": "1", "compare-args": FLOOR, "python-version": ""}
GITLAB_VARIABLES = {"RH_REPEAT": "1", "RH_COMPARE_ARGS": FLOOR}
SCENARIO = "our-cold-start"  # the project's scenario: its name says it is not the shipped one
DOCTOR = 100  # the doctored night recovered this many times faster
SCENARIO_STEP = "reboot-harness run "  # what marks the step that runs the scenarios
STEP_TIMEOUT = 900
EXPR = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")
PATH_EXPR = re.compile(r"[A-Za-z_][\w-]*(\.[A-Za-z_][\w-]*)+")


# -- the CI services: their API, their artifact store -------------------------------------------
class FakeApi:
    """A local HTTP server answering the CI API calls the CI files make. ``routes``: path ->
    (query items the request must carry, body); a request without the token gets 401, one
    missing a query item 400, an unknown path 404. Every request is kept in ``requests``."""

    def __init__(self) -> None:
        self.routes: dict[str, tuple[dict[str, str], bytes]] = {}
        self.requests: list[str] = []
        api = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                url = urlsplit(self.path)
                api.requests.append(self.path)
                query = dict(parse_qsl(url.query))
                authorised = TOKEN in (
                    self.headers.get("PRIVATE-TOKEN"),
                    (self.headers.get("Authorization") or "").removeprefix("Bearer "),
                )
                route = api.routes.get(url.path)
                if not authorised:
                    self._answer(401, b'{"message": "401 Unauthorized"}')
                elif route is None:
                    self._answer(404, b'{"message": "404 Not Found"}')
                elif not route[0].items() <= query.items():
                    self._answer(400, f"expected query {route[0]}, got {query}".encode())
                else:
                    self._answer(200, route[1])

            def _answer(self, status: int, body: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:  # keep the test output readable
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def github_successful_runs(self, ids: list[int]) -> None:
        """The workflow's successful scheduled runs on the branch, newest first."""
        runs = {"total_count": len(ids), "workflow_runs": [{"id": i} for i in ids[:1]]}
        self.routes[f"/repos/{REPOSITORY}/actions/workflows/{WORKFLOW.name}/runs"] = (
            {"event": "schedule", "status": "success", "branch": BRANCH},
            json.dumps(runs).encode(),
        )

    def gitlab_successful_night(self, pipeline: int, job: int, artefact: Path) -> None:
        """The last successful scheduled pipeline, its jobs, and the nightly job's artifact
        zipped as GitLab does (entries under the job's `artifacts: paths:` folder)."""
        base = f"/api/v4/projects/{PROJECT_ID}"
        schedule = {"ref": BRANCH, "source": "schedule", "status": "success"}
        self.routes[f"{base}/pipelines"] = (schedule, json.dumps([{"id": pipeline}]).encode())
        name, made = gitlab_job()
        jobs = [{"id": job - 1, "name": "lint"}, {"id": job, "name": name}]
        self.routes[f"{base}/pipelines/{pipeline}/jobs"] = ({}, json.dumps(jobs).encode())
        (folder,) = _artifact_paths(made, {k: str(v) for k, v in made["variables"].items()})
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w") as z:
            for f in sorted(artefact.rglob("*")):
                if f.is_file():
                    z.write(f, f"{folder.rstrip('/')}/{f.relative_to(artefact)}")
        self.routes[f"{base}/jobs/{job}/artifacts"] = ({}, buffer.getvalue())


# -- running the steps as written ---------------------------------------------------------------
@dataclass
class Step:
    name: str
    outcome: str  # ran / failed (exit N) / skipped: ... / replayed ... / not reached
    output: str = ""


@dataclass
class Night:
    """One job run: each step's outcome, the job's exit code, and where things landed."""

    steps: list[Step]
    exit_code: int
    out: Path  # this night's folder (the artifact's contents)
    previous: Path  # where the previous night's artifact was put
    outputs: dict[str, dict[str, str]] = field(default_factory=dict)  # GitHub step outputs
    summary: str = ""  # GitHub: the step summary; GitLab: the job's log
    artefact: Path | None = None  # what the upload took

    def describe(self) -> str:
        return "\n".join(f"  {s.name}: {s.outcome}" for s in self.steps)

    def step(self, containing: str) -> Step:
        (found,) = [s for s in self.steps if containing in s.name]
        return found

    def ran(self) -> list[str]:
        return [s.name for s in self.steps if s.outcome == "ran"]


def _machine_env() -> dict[str, str]:
    """This machine's environment, without what a CI system, this pytest or this checkout's
    virtualenv put there: the harness the steps run is the one they install."""
    drop = ("GITHUB_", "RUNNER_", "CI_", "GITLAB_", "PYTEST_")
    ours = str(Path(sys.executable).parent)
    env = {k: v for k, v in outside_env().items() if not k.startswith(drop) and k != "CI"}
    env["PATH"] = os.pathsep.join(p for p in env["PATH"].split(os.pathsep) if p != ours)
    return env


def _project(workspace: Path) -> Path:
    """A checkout of the user's project: a scenario of its own (the shipped cold-start, on the
    harness's stack, named SCENARIO) where the examples look for it, and the two example CI
    files where they go."""
    (workspace / "rehearsals").mkdir(parents=True)
    shipped = (REPO / "scenarios" / "cold-start.yaml").read_text(encoding="utf-8")
    ours = shipped.replace("name: cold-start\n", f"name: {SCENARIO}\n", 1)
    assert ours != shipped
    (workspace / "rehearsals" / f"{SCENARIO}.yaml").write_text(ours, encoding="utf-8")
    (workspace / WORKFLOW_FILE).parent.mkdir(parents=True)
    shutil.copy2(WORKFLOW, workspace / WORKFLOW_FILE)
    shutil.copy2(GITLAB_CI, workspace / ".gitlab-ci.yml")
    return workspace


def _evaluate(text: Any, contexts: Mapping[str, Any]) -> str:
    """GitHub's ``${{ context.name }}``, for plain property paths only (anything else is not
    this test's to evaluate: a run: script must get it through env instead)."""

    def one(m: re.Match[str]) -> str:
        return str(_lookup(m.group(1), contexts))

    return EXPR.sub(one, str(text))


def _lookup(path: str, contexts: Mapping[str, Any]) -> Any:
    assert PATH_EXPR.fullmatch(path), f"the test evaluates only context paths, not {path!r}"
    value: Any = contexts
    parts = path.split(".")
    for i, part in enumerate(parts):
        # A step output not set is empty, as on GitHub; any other unknown name is an error.
        value = value.get(part, "") if parts[i - 1 : i] == ["outputs"] else value[part]
    return value


def _condition(expression: str, contexts: Mapping[str, Any], failed: bool) -> bool:
    """A step's `if:`, of the forms the CI files use: none (only while nothing failed),
    `always()`, and `<context path> != ''`."""
    if not expression:
        return not failed
    if expression == "always()":
        return True
    path, is_not, empty = expression.partition(" != ")
    assert is_not and empty == "''", f"the test evaluates no `if: {expression}`"
    return not failed and _lookup(path, contexts) != ""


def _place_replay(replay: Path, out: Path) -> None:
    """What the scenario step wrote in an earlier night: its JUnit XML and report folder."""
    out.mkdir(parents=True, exist_ok=True)
    shutil.copy2(replay / "junit.xml", out / "junit.xml")
    shutil.copytree(replay / "report", out / "report")


@dataclass
class GitHubJob:
    """A runner doing the workflow's job in ``workspace``: run: scripts with
    `bash --noprofile --norc -eo pipefail` (`shell: bash`), env = the runner's, then the step's;
    after a failed step only `if: always()` steps go on; GITHUB_PATH and step outputs carried
    as the runner carries them. `uses:` steps: the action of this checkout's ci/github (its
    composite steps run here, with ``inputs`` over the `with:`); the artifact actions copy
    folders to and from ``store`` (run id -> artifact); checkout is the project copied afresh."""

    tmp: Path
    workspace: Path
    api: FakeApi
    store: dict[int, Path]
    run_id: int
    inputs: Mapping[str, str]
    replay: Path | None
    env: dict[str, str] = field(default_factory=dict)
    steps: list[Step] = field(default_factory=list)
    path: list[str] = field(default_factory=list)  # GITHUB_PATH, newest first
    outputs: dict[str, dict[str, str]] = field(default_factory=dict)  # step id -> outputs
    failed: int = 0
    artefact: Path | None = None
    where: dict[str, Path] = field(default_factory=dict)  # RH_OUT, RH_PREVIOUS as the steps had

    def run(self, steps: list[dict[str, Any]], contexts: dict[str, Any]) -> None:
        for i, step in enumerate(steps):
            name = step.get("name") or step.get("uses") or f"step {i}"
            condition = str(step.get("if", ""))
            if not _condition(condition, contexts, bool(self.failed)):
                why = "an earlier step failed" if self.failed else f"if: {condition} is false"
                self.steps.append(Step(name, f"not run ({why})"))
                continue
            if "uses" in step:
                self._uses(name, step, contexts)
            else:
                self._script(name, step, contexts)

    def _uses(self, name: str, step: dict[str, Any], contexts: dict[str, Any]) -> None:
        action = step["uses"].split("@")[0]
        with_ = {k: _evaluate(v, contexts) for k, v in (step.get("with") or {}).items()}
        if ACTION_REF.fullmatch(step["uses"]):
            action_doc = load(ACTION)
            assert action_doc["runs"]["using"] == "composite"
            inputs = {k: _evaluate(v, contexts) for k, v in action_inputs().items()}
            inputs.update(with_)
            inputs.update(self.inputs)
            self.run(action_doc["runs"]["steps"], {**contexts, "inputs": inputs, "steps": {}})
        elif action == "actions/checkout":
            self.steps.append(Step(name, "skipped: uses actions/checkout (the project, copied)"))
        elif action == "actions/setup-python":
            done = f"this machine's python3 stands for Python {with_['python-version']}"
            self._done_by_test(name, action, done)
        elif action == "actions/download-artifact":
            into = self.workspace / with_["path"]
            shutil.copytree(self.store[int(with_["run-id"])], into)
            done = f"run {with_['run-id']}'s artifact {with_['name']} -> {into}"
            self._done_by_test(name, action, done)
        elif action == "actions/upload-artifact":
            self.artefact = self.tmp / "uploaded"
            shutil.copytree(self.workspace / with_["path"], self.artefact)
            self.store[self.run_id] = self.artefact
            done = f"{with_['path']} -> artifact {with_['name']} of run {self.run_id}"
            self._done_by_test(name, action, done)
        else:
            raise AssertionError(f"{name}: uses {step['uses']}, which this test cannot do")

    def _done_by_test(self, name: str, action: str, done: str) -> None:
        self.steps.append(
            Step(name, f"skipped: uses {action.split('/')[1]}; done by the test: {done}")
        )

    def _script(self, name: str, step: dict[str, Any], contexts: dict[str, Any]) -> None:
        assert step.get("shell") == "bash" and "working-directory" not in step, name
        script = step["run"]
        assert "${{" not in script, f"{name}: a ${{{{ }}}} expression in run: (use env: instead)"
        step_env = {k: _evaluate(v, contexts) for k, v in (step.get("env") or {}).items()}
        for key in ("RH_OUT", "RH_PREVIOUS"):
            if key in step_env:
                self.where[key] = self.workspace / step_env[key]
        if self.replay is not None and SCENARIO_STEP in script:
            _place_replay(self.replay, self.where["RH_OUT"])
            self.steps.append(Step(name, f"replayed: its results from {self.replay}"))
            return
        n = len(self.steps)
        path = self.tmp / f"step-{n}.sh"
        path.write_text(script, encoding="utf-8")
        output_file, path_file = self.tmp / f"step-{n}.output", self.tmp / f"step-{n}.path"
        output_file.touch()
        path_file.touch()
        env = {**self.env, **step_env, "GITHUB_OUTPUT": str(output_file),
               "GITHUB_PATH": str(path_file),
               "PATH": os.pathsep.join([*self.path, self.env["PATH"]])}  # fmt: skip
        proc = subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", str(path)],
                              cwd=self.workspace, env=env, capture_output=True, text=True,
                              timeout=STEP_TIMEOUT)  # fmt: skip
        text = proc.stdout + proc.stderr
        self.path[:0] = reversed(path_file.read_text().splitlines())
        if "id" in step:
            pairs = [line.split("=", 1) for line in output_file.read_text().splitlines()]
            self.outputs[step["id"]] = dict(pairs)
            contexts["steps"][step["id"]] = {"outputs": self.outputs[step["id"]]}
        if proc.returncode:
            self.failed = proc.returncode
            self.steps.append(Step(name, f"failed (exit {proc.returncode})", text))
        else:
            self.steps.append(Step(name, "ran", text))


def run_github(
    tmp: Path,
    inputs: Mapping[str, str],
    *,
    api: FakeApi,
    store: dict[int, Path],
    run_id: int,
    replay: Path | None = None,
) -> Night:
    """A night of the example workflow, in a fresh checkout of the project (``tmp``/workspace),
    with ``inputs`` over the action's `with:`."""
    workspace = _project(tmp / "workspace")
    runner_temp = tmp / "runner-temp"
    runner_temp.mkdir()
    summary = tmp / "step-summary.md"
    doc = load(workspace / WORKFLOW_FILE)
    job = workflow_job(workspace / WORKFLOW_FILE)
    env = {
        **_machine_env(), "CI": "true", "GITHUB_ACTIONS": "true",
        "GITHUB_WORKSPACE": str(workspace), "GITHUB_API_URL": api.url,
        "GITHUB_REPOSITORY": REPOSITORY, "GITHUB_REF_NAME": BRANCH,
        "GITHUB_WORKFLOW_REF": f"{REPOSITORY}/{WORKFLOW_FILE}@refs/heads/{BRANCH}",
        "GITHUB_EVENT_NAME": "schedule", "GITHUB_RUN_ID": str(run_id),
        "GITHUB_STEP_SUMMARY": str(summary), "RUNNER_TEMP": str(runner_temp),
    }  # fmt: skip
    contexts: dict[str, Any] = {
        "github": {"token": TOKEN, "run_id": str(run_id)},
        "runner": {"temp": str(runner_temp)},
        "steps": {},
    }
    for block in (doc.get("env"), job.get("env")):
        env.update({k: _evaluate(v, contexts) for k, v in (block or {}).items()})
    contexts["env"] = env
    runner = GitHubJob(tmp, workspace, api, store, run_id, inputs, replay, env)
    runner.run(job["steps"], contexts)
    night = Night(runner.steps, runner.failed, runner.where["RH_OUT"],
                  runner.where["RH_PREVIOUS"], artefact=runner.artefact)  # fmt: skip
    night.outputs = runner.outputs
    night.summary = summary.read_text(encoding="utf-8") if summary.exists() else ""
    return night


def _artifact_paths(job: Mapping[str, Any], env: Mapping[str, str]) -> list[str]:
    """The job's `artifacts: paths:`, their $VARIABLES expanded as the runner does."""
    return [re.sub(r"\$(\w+)", lambda m: env[m.group(1)], p) for p in job["artifacts"]["paths"]]


def run_gitlab(
    tmp: Path, variables: Mapping[str, str], *, api: FakeApi, replay: Path | None = None
) -> Night:
    """A night of the job the example's `extends:` makes of the template, as a shell-executor
    runner does it, in a fresh checkout of the project: before_script and script lines in one
    bash (`set -eo pipefail`), the first failing line ending the job; env = the job's
    variables, the CI/CD variable RH_GITLAB_TOKEN, then ``variables``; the artifact (`when:
    always`) is taken after. Between lines the test writes down which line runs next (its only
    addition to the script)."""
    workspace = _project(tmp / "workspace")
    name, job = gitlab_job(workspace / ".gitlab-ci.yml")
    env = {
        **_machine_env(), "CI": "true", "GITLAB_CI": "true", "CI_PROJECT_DIR": str(workspace),
        "CI_API_V4_URL": f"{api.url}/api/v4", "CI_PROJECT_ID": PROJECT_ID,
        "CI_COMMIT_REF_NAME": BRANCH, "CI_JOB_NAME": name, "CI_PIPELINE_SOURCE": "schedule",
        **{k: str(v) for k, v in job["variables"].items()}, "RH_GITLAB_TOKEN": TOKEN,
        **variables,
    }  # fmt: skip
    out, previous = workspace / env["RH_OUT"], workspace / env["RH_PREVIOUS"]
    lines: list[str] = [*job["before_script"], *job["script"]]
    names = [line.strip().splitlines()[0] for line in lines]
    marker = tmp / "line"
    script = ["set -eo pipefail", "set +o noclobber"]
    replayed: set[int] = set()
    for i, line in enumerate(lines):
        if replay is not None and SCENARIO_STEP in line:
            replayed.add(i)
            continue
        script += [f"printf '%s\\n' {i} > '{marker}'", line]
    script.append(f"printf 'done\\n' > '{marker}'")
    if replay is not None:
        _place_replay(replay, out)
    proc = subprocess.run(["bash", "--noprofile", "--norc", "-c", "\n".join(script)],
                          cwd=workspace, env=env, capture_output=True, text=True,
                          timeout=STEP_TIMEOUT * 2)  # fmt: skip
    reached = marker.read_text().strip() if marker.exists() else "0"
    stop = len(lines) if reached == "done" else int(reached)
    steps = []
    for i, line_name in enumerate(names):
        if i in replayed:
            outcome = f"replayed: its results from {replay}"
        elif i < stop:
            outcome = "ran"
        elif i == stop:
            outcome = f"failed (exit {proc.returncode})"
        else:
            outcome = "not reached (an earlier line failed)"
        steps.append(Step(line_name, outcome, proc.stdout + proc.stderr if i == stop else ""))
    (kept,) = _artifact_paths(job, env)
    artefact = tmp / "uploaded"
    shutil.copytree(workspace / kept, artefact)
    night = Night(steps, proc.returncode, out, previous, artefact=artefact)
    night.summary = proc.stdout + proc.stderr
    return night


def _show(night: Night, record: Any, label: str) -> str:
    """The steps and what happened to each (printed, and kept in the JUnit XML)."""
    text = f"{label}:\n{night.describe()}"
    print(text)
    record(label, night.describe())
    return text


# -- the nights ---------------------------------------------------------------------------------
@dataclass
class Ci:
    api: FakeApi
    store: dict[int, Path]
    tmp: Path
    wheel: Path
    venv: Path  # kept between the nights

    def github(self) -> dict[str, str]:
        return {**GITHUB_INPUTS, "package": str(self.wheel), "venv": str(self.venv)}

    def gitlab(self) -> dict[str, str]:
        return {**GITLAB_VARIABLES, "RH_PACKAGE": str(self.wheel), "RH_VENV": str(self.venv)}


@pytest.fixture(scope="module")
def ci(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Ci]:
    tmp = tmp_path_factory.mktemp("ci")
    wheel = build_wheel(tmp / "wheels", outside_env())
    api = FakeApi()
    try:
        yield Ci(api, {}, tmp, wheel, tmp / "venv")
    finally:
        api.server.shutdown()


@pytest.fixture(scope="module")
def night1(ci: Ci) -> Night:
    """Night 1, on the GitHub workflow, run 101: no successful scheduled run before it."""
    ci.api.github_successful_runs([])
    return run_github(ci.tmp / "night1", ci.github(), api=ci.api, store=ci.store, run_id=101)


@pytest.fixture(scope="module")
def night2(ci: Ci, night1: Night) -> Night:
    """Night 2, on the GitLab job: the last successful scheduled pipeline's nightly job holds
    night 1's artifact (both upload the same folder)."""
    assert night1.artefact is not None, night1.describe()
    ci.api.gitlab_successful_night(pipeline=7, job=70, artefact=night1.artefact)
    return run_gitlab(ci.tmp / "night2", ci.gitlab(), api=ci.api)


def _results(folder: Path) -> list[dict[str, Any]]:
    doc = json.loads((folder / "report" / "results.json").read_text())
    scenarios: list[dict[str, Any]] = doc["scenarios"]
    return scenarios


def _assert_junit(path: Path) -> None:
    __tracebackhide__ = True
    suite = ET.parse(path).getroot()
    suite = suite if suite.tag == "testsuite" else suite.find("testsuite")  # type: ignore[assignment]
    assert suite is not None, path
    names = [c.get("name") for c in suite.iter("testcase")]
    assert names == [f"{SCENARIO}[fixed]"], names
    assert (suite.get("failures"), suite.get("errors")) == ("0", "0"), ET.tostring(suite)


def _recovery_waits(results: list[dict[str, Any]]) -> list[float]:
    return [e["duration_s"] for s in results for e in s["events"] if e["kind"] == "recovered"]


def _doctored(artefact: Path, into: Path) -> Path:
    """The artifact of a night that recovered DOCTOR times faster than it did (every
    results.json: each recovery wait divided), as tests/unit/test_compare.py doctors runs."""
    shutil.copytree(artefact, into)
    for f in into.rglob("results.json"):
        data = json.loads(f.read_text())
        for s in data["scenarios"]:
            for e in s["events"]:
                if e["kind"] == "recovered" and e.get("duration_s") is not None:
                    e["duration_s"] = e["duration_s"] / DOCTOR
        f.write_text(json.dumps(data))
    return into


# -- the tests ----------------------------------------------------------------------------------
@pytest.mark.docker
def test_night_one_installs_the_harness_and_has_nothing_to_compare(
    night1: Night, ci: Ci, record_property: Any
) -> None:
    """GitHub, first night, in the user's project: every run: step of the action ran (its
    uses: steps are listed as skipped or not run) and the harness they ran is the one the
    install step put in the virtualenv from the wheel; the lookup asked for successful
    scheduled runs and found none; the compare step says there is no previous night and
    passes; the uploaded artifact holds the JUnit XML and the report (results.json) of the
    project's own scenario, passed."""
    shown = _show(night1, record_property, "GitHub workflow, night 1")
    assert night1.exit_code == 0, shown + "\n" + "\n".join(s.output for s in night1.steps)
    run_steps = [s["name"] for s in load(ACTION)["runs"]["steps"] if "run" in s]
    assert night1.ran() == run_steps, shown
    assert night1.step("Set up Python").outcome.startswith("not run (if: inputs.python-version")
    installed = night1.step("Install the harness").output
    assert "reboot-harness 0.1.0" in installed and (ci.venv / "bin" / "reboot-harness").is_file()
    assert "machine: ready for the harness" in night1.step("Check the machine").output
    assert night1.outputs["previous"] == {"run_id": ""}
    assert "previous night: none" in night1.step("Find the previous night").output
    assert any("event=schedule&status=success" in r for r in ci.api.requests), ci.api.requests
    assert night1.step("Download").outcome.startswith("not run (if: steps.previous")
    compare = night1.step("Compare")
    assert "no previous night" in compare.output and "nothing to compare" in compare.output
    assert "no page yet" in night1.step("History").output
    assert night1.artefact is not None
    _assert_junit(night1.artefact / "junit.xml")
    (result,) = _results(night1.artefact)
    assert (result["name"], result["passed"]) == (SCENARIO, True)


@pytest.mark.docker
def test_night_two_on_gitlab_fetches_night_one_and_finds_no_regression(
    night1: Night, night2: Night, ci: Ci, record_property: Any
) -> None:
    """GitLab, second night: every line ran, with the harness found installed in the kept
    virtualenv; the previous night found through the API (last successful scheduled pipeline,
    its job of the same name) and unpacked where compare reads it; compare exited 0 (same code:
    no regression); the history page covers both nights; JUnit XML and results.json are where
    `artifacts:` takes them."""
    shown = _show(night2, record_property, "GitLab job, night 2")
    assert night2.exit_code == 0, shown + "\n" + night2.summary
    assert night2.ran() == [s.name for s in night2.steps], shown
    assert "reboot-harness 0.1.0" in night2.summary
    base = f"/api/v4/projects/{PROJECT_ID}"
    asked = [r.split("?")[0] for r in ci.api.requests if r.startswith(base)]
    assert asked == [f"{base}/pipelines", f"{base}/pipelines/7/jobs", f"{base}/jobs/70/artifacts"]
    assert night1.artefact is not None
    assert _results(night2.previous) == _results(night1.artefact), "night 1, unpacked"
    assert "previous night: job 70 of pipeline 7" in night2.summary
    assert "no regression" in night2.summary, night2.summary
    assert "no regression" in (night2.out / "compare.md").read_text()
    assert "history of 2 nights" in night2.summary
    assert night2.artefact is not None and (night2.artefact / "history.html").is_file()
    _assert_junit(night2.artefact / "junit.xml")
    (result,) = _results(night2.artefact)
    assert (result["name"], result["passed"]) == (SCENARIO, True)


@pytest.mark.docker
def test_github_second_night_finds_the_previous_run_and_compares(
    night1: Night, night2: Night, ci: Ci, record_property: Any
) -> None:
    """GitHub, a night after run 101 succeeded (night 2's scenario results replayed): the
    lookup step outputs run 101, its artifact is put where the download step puts it, compare
    exits 0 and its table goes to the step summary, the history page covers both nights."""
    ci.api.github_successful_runs([101])
    night = run_github(ci.tmp / "github-night2", ci.github(), api=ci.api, store=ci.store,
                       run_id=103, replay=night2.out)  # fmt: skip
    shown = _show(night, record_property, "GitHub workflow, night 2 (scenarios replayed)")
    assert night.exit_code == 0, shown + "\n" + "\n".join(s.output for s in night.steps)
    assert night.outputs["previous"] == {"run_id": "101"}
    assert "previous night: run 101" in night.step("Find the previous night").output
    assert "run 101's artifact" in night.step("Download").outcome
    assert "no regression" in night.step("Compare").output
    assert "no regression" in night.summary
    assert "history of 2 nights" in night.step("History").output
    assert night.artefact is not None and (night.artefact / "history.html").is_file()


@pytest.mark.docker
def test_a_doctored_previous_night_fails_the_compare_step(
    night1: Night, night2: Night, ci: Ci, record_property: Any
) -> None:
    """A previous night that recovered 100 times faster than it did: on GitHub the compare
    step fails with exit 1 (recovery_s named in the step summary) and the night is still
    uploaded; on GitLab the compare line fails the job with exit 1 (and, told to keep one
    night, the history line keeps tonight's only)."""
    assert night1.artefact is not None
    assert _recovery_waits(_results(night1.artefact)), "night 1 has a recovery wait to doctor"
    assert _recovery_waits(_results(night2.out)), "night 2 has one to compare"
    doctored = _doctored(night1.artefact, ci.tmp / "doctored")
    ci.store[102] = doctored
    ci.api.github_successful_runs([102, 101])
    night = run_github(ci.tmp / "github-doctored", ci.github(), api=ci.api, store=ci.store,
                       run_id=104, replay=night2.out)  # fmt: skip
    shown = _show(night, record_property, "GitHub workflow against a doctored night")
    assert night.exit_code == 1, shown
    failed = [s for s in night.steps if s.outcome.startswith("failed")]
    assert [s.name for s in failed] == [night.step("Compare").name], shown
    assert "regression" in night.summary and "recovery_s" in night.summary, night.summary
    assert night.step("Upload").outcome.startswith("skipped: uses upload-artifact; done")

    ci.api.gitlab_successful_night(pipeline=8, job=80, artefact=doctored)
    keep_one = {**ci.gitlab(), "RH_HISTORY_NIGHTS": "1"}
    night = run_gitlab(ci.tmp / "gitlab-doctored", keep_one, api=ci.api, replay=night2.out)
    shown = _show(night, record_property, "GitLab job against a doctored night")
    assert night.exit_code == 1, shown + "\n" + night.summary
    (failed_line,) = [s for s in night.steps if s.outcome.startswith("failed")]
    assert failed_line.name.startswith("# Compare with the previous night"), shown
    assert "1 regression" in night.summary and "recovery_s" in night.summary, night.summary
    kept = [p.name for p in (night.out / "nights").iterdir()]
    assert len(kept) == 1 and kept[0] not in {p.name for p in (doctored / "nights").iterdir()}, (
        "RH_HISTORY_NIGHTS=1 keeps tonight only"
    )
    assert "no page yet" in night.summary
    assert night.artefact is not None and (night.artefact / "compare.md").is_file()
