"""The CI examples (examples/ci/) run as written: the `run:` steps of the GitHub workflow and the
`script:` lines of the GitLab job are taken from their YAML and executed with bash, in order,
with the workflow's own env (variables) and this test's overrides on top — one fast scenario,
a compare floor fitted to its spread, the artefact folders in tmp. The CI services they call
are stood in for: a local HTTP server answers the API requests (which earlier night succeeded,
its artefact), and the GitHub actions (`uses:` steps, not shell) are done by the test where
they stand, each reported as such.

Two real nights: night 1 on the GitHub workflow (nothing to compare: the step says so and
passes), night 2 on the GitLab job, whose previous night is night 1's artefact fetched through
the API (same code: no regression, exit 0). The GitHub workflow's second night and the doctored
nights replay night 2's scenario results instead of running the scenarios again; every other
step runs. A previous night doctored to have recovered much faster makes the compare step exit 1
on both."""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import subprocess
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
import yaml

INDEPENDENT = False  # the nights build on each other (module fixtures): one worker

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "examples" / "ci"
GITHUB = EXAMPLES / "github-nightly.yml"
GITLAB = EXAMPLES / "gitlab-ci.yml"
GITLAB_JOB = "reboot-harness-nightly"
ARTIFACT = "reboot-harness-nightly"
REPOSITORY, PROJECT_ID, BRANCH, TOKEN = "acme/web", "42", "main", "test-token"
# The overrides: one fast scenario instead of the suite (the artefact folders are per night),
# and compare's floor for its one metric. cold-start's recovery wait spreads widely between runs
# of the same code on a busy 2-core machine (6.0 to 20.7 s in five runs), beyond the default
# floors (0.75, 6 s; measured on two other scenarios, a quiet machine): a pair of same-code nights
# could read as a regression. Here a regression is a recovery 10x slower than the night before's
# — which the night doctored to have recovered 100x faster is, and a same-code night is not.
FAST = {
    "RH_SCENARIOS": "scenarios/cold-start.yaml",
    "RH_PYTEST_ARGS": "-p no:cacheprovider -q",
    "RH_COMPARE_ARGS": "--floor recovery_s=9,1",
}
DOCTOR = 100  # the doctored night recovered this many times faster
SCENARIO_STEP = "--rh-report"  # what marks the step that runs the scenarios
STEP_TIMEOUT = 900
EXPR = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")


# -- the CI services: their API, their artefact store ------------------------------------------
class FakeApi:
    """A local HTTP server answering the CI API calls the examples make. ``routes``: path ->
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
        self.routes[f"/repos/{REPOSITORY}/actions/workflows/{GITHUB.name}/runs"] = (
            {"event": "schedule", "status": "success", "branch": BRANCH},
            json.dumps(runs).encode(),
        )

    def gitlab_successful_night(self, pipeline: int, job: int, artefact: Path) -> None:
        """The last successful scheduled pipeline, its jobs, and the nightly job's artefact
        zipped as GitLab does (entries under the job's `artifacts: paths:` folder)."""
        base = f"/api/v4/projects/{PROJECT_ID}"
        schedule = {"ref": BRANCH, "source": "schedule", "status": "success"}
        self.routes[f"{base}/pipelines"] = (schedule, json.dumps([{"id": pipeline}]).encode())
        jobs = [{"id": job - 1, "name": "lint"}, {"id": job, "name": GITLAB_JOB}]
        self.routes[f"{base}/pipelines/{pipeline}/jobs"] = ({}, json.dumps(jobs).encode())
        (folder,) = _gitlab_job()["artifacts"]["paths"]
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w") as z:
            for f in sorted(artefact.rglob("*")):
                if f.is_file():
                    z.write(f, f"{folder.rstrip('/')}/{f.relative_to(artefact)}")
        self.routes[f"{base}/jobs/{job}/artifacts"] = ({}, buffer.getvalue())

    def gitlab_no_night(self) -> None:
        base = f"/api/v4/projects/{PROJECT_ID}"
        self.routes[f"{base}/pipelines"] = ({"source": "schedule", "status": "success"}, b"[]")


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
    out: Path  # RH_OUT
    previous: Path  # RH_PREVIOUS
    outputs: dict[str, dict[str, str]] = field(default_factory=dict)  # GitHub step outputs
    summary: str = ""  # GitHub step summary
    artefact: Path | None = None  # what the upload step took

    def describe(self) -> str:
        return "\n".join(f"  {s.name}: {s.outcome}" for s in self.steps)

    def step(self, containing: str) -> Step:
        (found,) = [s for s in self.steps if containing in s.name]
        return found

    def ran(self) -> list[str]:
        return [s.name for s in self.steps if s.outcome == "ran"]


def _machine_env() -> dict[str, str]:
    """This machine's environment, without what a CI system or this pytest put there."""
    drop = ("GITHUB_", "RUNNER_", "CI_", "GITLAB_", "PYTEST_")
    return {k: v for k, v in os.environ.items() if not k.startswith(drop) and k != "CI"}


def _evaluate(text: str, contexts: Mapping[str, Any]) -> str:
    """GitHub's ``${{ context.name }}``, for plain property paths only (anything else is not
    this test's to evaluate: a run: script must get it through env instead)."""

    def one(m: re.Match[str]) -> str:
        path = m.group(1)
        assert re.fullmatch(r"[A-Za-z_][\w-]*(\.[A-Za-z_][\w-]*)+", path), (
            f"the test evaluates only context paths, not {m.group(0)!r}"
        )
        value: Any = contexts
        parts = path.split(".")
        for i, part in enumerate(parts):
            # A step output not set is empty, as on GitHub; any other unknown name is an error.
            value = value.get(part, "") if parts[i - 1 : i] == ["outputs"] else value[part]
        return str(value)

    return EXPR.sub(one, str(text))


def _github_doc() -> dict[Any, Any]:
    doc: dict[Any, Any] = yaml.safe_load(GITHUB.read_text(encoding="utf-8"))
    return doc


def _gitlab_job() -> dict[str, Any]:
    job: dict[str, Any] = yaml.safe_load(GITLAB.read_text(encoding="utf-8"))[GITLAB_JOB]
    return job


def _place_replay(replay: Path, out: Path) -> None:
    """What the scenario step wrote in an earlier night: its JUnit XML and report folder."""
    out.mkdir(parents=True, exist_ok=True)
    shutil.copy2(replay / "junit.xml", out / "junit.xml")
    shutil.copytree(replay / "report", out / "report")


def run_github(
    tmp: Path,
    overrides: Mapping[str, str],
    *,
    api: FakeApi,
    store: dict[int, Path],
    run_id: int,
    replay: Path | None = None,
) -> Night:
    """The workflow's job, step by step as the runner does it: run: scripts with
    `bash --noprofile --norc -eo pipefail` (the workflow's `shell: bash`) in the checkout, env =
    the workflow's env, the job's, the step's, then ``overrides``; after a failed step only
    `if: always()` steps go on. `uses:` steps are done here: the artefact actions copy folders to
    and from ``store`` (run id -> artefact), checkout is this checkout."""
    doc = _github_doc()
    (job,) = doc["jobs"].values()
    assert doc["defaults"]["run"]["shell"] == "bash"
    tmp.mkdir(parents=True)
    summary = tmp / "step-summary.md"
    contexts: dict[str, Any] = {"github": {"token": TOKEN, "run_id": str(run_id)}, "steps": {}}
    env = {
        **_machine_env(), "CI": "true", "GITHUB_ACTIONS": "true",
        "GITHUB_WORKSPACE": str(REPO), "GITHUB_API_URL": api.url,
        "GITHUB_REPOSITORY": REPOSITORY, "GITHUB_REF_NAME": BRANCH,
        "GITHUB_WORKFLOW_REF": f"{REPOSITORY}/.github/workflows/{GITHUB.name}@refs/heads/{BRANCH}",
        "GITHUB_EVENT_NAME": "schedule", "GITHUB_RUN_ID": str(run_id),
        "GITHUB_STEP_SUMMARY": str(summary), "RUNNER_TEMP": str(tmp),
    }  # fmt: skip
    for block in (doc.get("env"), job.get("env")):
        env.update({k: _evaluate(v, contexts) for k, v in (block or {}).items()})
    env.update(overrides)
    contexts["env"] = env
    out, previous = REPO / env["RH_OUT"], REPO / env["RH_PREVIOUS"]
    if replay is not None:
        _place_replay(replay, out)
    steps: list[Step] = []
    failed = 0
    artefact: Path | None = None
    for i, step in enumerate(job["steps"]):
        name = step.get("name") or step.get("uses") or f"step {i}"
        condition = str(step.get("if", ""))
        if failed and condition != "always()":
            steps.append(Step(name, "not reached (an earlier step failed)"))
            continue
        if "uses" in step:
            action = step["uses"].split("@")[0]
            with_ = {k: _evaluate(v, contexts) for k, v in (step.get("with") or {}).items()}
            if action == "actions/checkout":
                steps.append(Step(name, "skipped: uses actions/checkout (this checkout)"))
            elif action == "actions/download-artifact":
                assert with_["name"] == ARTIFACT
                if not with_["run-id"]:  # its `if:` is false: no previous run
                    steps.append(Step(name, "skipped: uses download-artifact, no previous run"))
                    continue
                shutil.copytree(store[int(with_["run-id"])], REPO / with_["path"])
                done = f"run {with_['run-id']}'s artefact -> {with_['path']}"
                steps.append(
                    Step(name, f"skipped: uses download-artifact; done by the test: {done}")
                )
            elif action == "actions/upload-artifact":
                assert with_["name"] == ARTIFACT
                artefact = tmp / "uploaded"
                shutil.copytree(REPO / with_["path"], artefact)
                store[run_id] = artefact
                done = f"{with_['path']} -> artefact of run {run_id}"
                steps.append(Step(name, f"skipped: uses upload-artifact; done by the test: {done}"))
            else:
                raise AssertionError(f"{name}: uses {step['uses']}, which this test cannot do")
            continue
        assert not condition, f"{name}: a run: step with if: {condition!r} (not evaluated here)"
        script = step["run"]
        assert "${{" not in script, f"{name}: a ${{{{ }}}} expression in run: (use env: instead)"
        if replay is not None and SCENARIO_STEP in script:
            steps.append(Step(name, f"replayed: its results from {replay}"))
            continue
        path = tmp / f"step-{i}.sh"
        path.write_text(script, encoding="utf-8")
        output_file = tmp / f"step-{i}.output"
        output_file.touch()
        step_env = {k: _evaluate(v, contexts) for k, v in (step.get("env") or {}).items()}
        proc = subprocess.run(
            ["bash", "--noprofile", "--norc", "-eo", "pipefail", str(path)],
            cwd=REPO, env={**env, **step_env, **overrides, "GITHUB_OUTPUT": str(output_file)},
            capture_output=True, text=True, timeout=STEP_TIMEOUT,
        )  # fmt: skip
        text = proc.stdout + proc.stderr
        if "id" in step:
            pairs = [line.split("=", 1) for line in output_file.read_text().splitlines()]
            contexts["steps"][step["id"]] = {"outputs": dict(pairs)}
        if proc.returncode:
            failed = proc.returncode
            steps.append(Step(name, f"failed (exit {proc.returncode})", text))
        else:
            steps.append(Step(name, "ran", text))
    night = Night(steps, failed, out, previous, artefact=artefact)
    night.outputs = {k: v["outputs"] for k, v in contexts["steps"].items()}
    night.summary = summary.read_text(encoding="utf-8") if summary.exists() else ""
    return night


def run_gitlab(
    tmp: Path, overrides: Mapping[str, str], *, api: FakeApi, replay: Path | None = None
) -> Night:
    """The job as a shell-executor runner does it: before_script and script lines in one bash
    (`set -eo pipefail`) in the checkout, the first failing line ending the job; env = the
    job's variables, the CI/CD variable RH_GITLAB_TOKEN, then ``overrides``. Between lines
    the test writes down which line runs next (its only addition to the script)."""
    job = _gitlab_job()
    tmp.mkdir(parents=True)
    env = {
        **_machine_env(), "CI": "true", "GITLAB_CI": "true", "CI_PROJECT_DIR": str(REPO),
        "CI_API_V4_URL": f"{api.url}/api/v4", "CI_PROJECT_ID": PROJECT_ID,
        "CI_COMMIT_REF_NAME": BRANCH, "CI_JOB_NAME": GITLAB_JOB, "CI_PIPELINE_SOURCE": "schedule",
        **{k: str(v) for k, v in job["variables"].items()}, "RH_GITLAB_TOKEN": TOKEN,
        **overrides,
    }  # fmt: skip
    out, previous = REPO / env["RH_OUT"], REPO / env["RH_PREVIOUS"]
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
                          cwd=REPO, env=env, capture_output=True, text=True,
                          timeout=STEP_TIMEOUT * 2)  # fmt: skip
    reached = marker.read_text().strip() if marker.exists() else "0"
    stop = len(lines) if reached == "done" else int(reached)
    steps = []
    for i, name in enumerate(names):
        if i in replayed:
            outcome = f"replayed: its results from {replay}"
        elif i < stop:
            outcome = "ran"
        elif i == stop:
            outcome = f"failed (exit {proc.returncode})"
        else:
            outcome = "not reached (an earlier line failed)"
        steps.append(Step(name, outcome, proc.stdout + proc.stderr if i == stop else ""))
    night = Night(steps, proc.returncode, out, previous)
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
    nights: dict[str, Night] = field(default_factory=dict)

    def overrides(self, name: str) -> dict[str, str]:
        root = self.tmp / name
        return {**FAST, "RH_OUT": str(root / "out"), "RH_PREVIOUS": str(root / "previous")}


@pytest.fixture(scope="module")
def ci(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Ci]:
    api = FakeApi()
    try:
        yield Ci(api, {}, tmp_path_factory.mktemp("ci"))
    finally:
        api.server.shutdown()


@pytest.fixture(scope="module")
def night1(ci: Ci) -> Night:
    """Night 1, on the GitHub workflow, run 101: no successful scheduled run before it."""
    ci.api.github_successful_runs([])
    return run_github(ci.tmp / "night1", ci.overrides("night1"), api=ci.api, store=ci.store,
                      run_id=101)  # fmt: skip


@pytest.fixture(scope="module")
def night2(ci: Ci, night1: Night) -> Night:
    """Night 2, on the GitLab job: the last successful scheduled pipeline's nightly job holds
    night 1's artefact (both examples upload the same folder)."""
    assert night1.artefact is not None, night1.describe()
    ci.api.gitlab_successful_night(pipeline=7, job=70, artefact=night1.artefact)
    return run_gitlab(ci.tmp / "night2", ci.overrides("night2"), api=ci.api)


def _results(folder: Path) -> list[dict[str, Any]]:
    files = sorted(folder.glob("report/*/results.json"))
    assert files, f"no report/*/results.json in {folder}"
    return [s for f in files for s in json.loads(f.read_text())["scenarios"]]


def _assert_junit(path: Path) -> None:
    __tracebackhide__ = True
    suite = ET.parse(path).getroot()
    suite = suite if suite.tag == "testsuite" else suite.find("testsuite")  # type: ignore[assignment]
    assert suite is not None, path
    names = [c.get("name") for c in suite.iter("testcase")]
    assert names == ["cold-start[fixed]"], names
    assert (suite.get("failures"), suite.get("errors")) == ("0", "0"), ET.tostring(suite)


def _recovery_waits(results: list[dict[str, Any]]) -> list[float]:
    return [e["duration_s"] for s in results for e in s["events"] if e["kind"] == "recovered"]


def _doctored(artefact: Path, into: Path) -> Path:
    """The artefact of a night that recovered DOCTOR times faster than it did (every
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
def test_the_examples_say_what_the_runs_rely_on() -> None:
    """Scheduled nightly (cron; GitLab: schedule pipelines only); the selection and the folders
    are env with defaults (the full suite, `nightly/`), the same in both; no ${{ }} in a run:
    script and no if: on one; the artefact goes up even after a failure, under the name the
    next night downloads, from the folder the scenario step writes."""
    doc = _github_doc()
    on = doc["on"] if "on" in doc else doc[True]  # YAML 1.1 reads a bare `on` as true
    assert [c["cron"] for c in on["schedule"]] and len(on["schedule"][0]["cron"].split()) == 5
    (job,) = doc["jobs"].values()
    assert "self-hosted" in job["runs-on"]
    gl = _gitlab_job()
    assert gl["rules"] == [{"if": '$CI_PIPELINE_SOURCE == "schedule"'}]
    defaults = {"RH_SCENARIOS": "scenarios", "RH_OUT": "nightly", "RH_PREVIOUS": "previous-night"}
    assert defaults.items() <= doc["env"].items()
    assert {k: str(v) for k, v in gl["variables"].items()} == {
        k: str(v) for k, v in doc["env"].items()
    }, "the two examples have the same knobs and defaults"
    for step in job["steps"]:
        if "run" in step:
            assert "${{" not in step["run"] and "if" not in step, step["name"]
    by_action = {s["uses"].split("@")[0]: s for s in job["steps"] if "uses" in s}
    up, down = by_action["actions/upload-artifact"], by_action["actions/download-artifact"]
    assert up["if"] == "always()" and up["with"]["path"] == "${{ env.RH_OUT }}"
    assert down["with"]["name"] == up["with"]["name"] == ARTIFACT
    assert down["with"]["path"] == "${{ env.RH_PREVIOUS }}"
    assert down["with"]["run-id"] == "${{ steps.previous.outputs.run_id }}"
    artifacts = gl["artifacts"]
    assert artifacts["when"] == "always"
    assert artifacts["paths"] == [f"{gl['variables']['RH_OUT']}/"]
    assert artifacts["reports"]["junit"] == f"{gl['variables']['RH_OUT']}/junit.xml"


@pytest.mark.docker
def test_night_one_has_nothing_to_compare_and_passes(
    night1: Night, ci: Ci, record_property: Any
) -> None:
    """GitHub, first night: every run: step ran (the uses: steps are listed as skipped); the
    lookup asked for successful scheduled runs and found none; the compare step says there is
    no previous night and passes; the uploaded artefact holds the JUnit XML and the report
    folder (results.json) of a passing cold-start."""
    shown = _show(night1, record_property, "GitHub workflow, night 1")
    doc = _github_doc()
    (job,) = doc["jobs"].values()
    run_steps = [s["name"] for s in job["steps"] if "run" in s]
    assert night1.exit_code == 0, shown + "\n" + "\n".join(s.output for s in night1.steps)
    assert night1.ran() == run_steps, shown
    skipped = [s.name for s in night1.steps if s.outcome.startswith("skipped")]
    assert len(skipped) == len(job["steps"]) - len(run_steps), shown
    assert night1.outputs["previous"] == {"run_id": ""}
    assert "previous night: none" in night1.step("Find the previous night").output
    assert any("event=schedule&status=success" in r for r in ci.api.requests), ci.api.requests
    compare = night1.step("Compare")
    assert "no previous night" in compare.output and "nothing to compare" in compare.output
    assert "no page yet" in night1.step("History").output
    assert night1.artefact is not None
    _assert_junit(night1.artefact / "junit.xml")
    (result,) = _results(night1.artefact)
    assert (result["name"], result["passed"]) == ("cold-start", True)


@pytest.mark.docker
def test_night_two_fetches_night_one_and_finds_no_regression(
    night1: Night, night2: Night, ci: Ci, record_property: Any
) -> None:
    """GitLab, second night: every line ran; the previous night was found through the API
    (last successful scheduled pipeline, its nightly job) and unpacked where compare reads it;
    compare ran and exited 0 (same code: no regression); the history page covers both nights;
    JUnit XML and results.json are where `artifacts:` takes them."""
    shown = _show(night2, record_property, "GitLab job, night 2")
    assert night2.exit_code == 0, shown + "\n" + night2.summary
    assert night2.ran() == [s.name for s in night2.steps], shown
    base = f"/api/v4/projects/{PROJECT_ID}"
    asked = [r.split("?")[0] for r in ci.api.requests if r.startswith(base)]
    assert asked == [f"{base}/pipelines", f"{base}/pipelines/7/jobs", f"{base}/jobs/70/artifacts"]
    assert night1.artefact is not None
    assert _results(night2.previous) == _results(night1.artefact), "night 1, unpacked"
    assert "previous night: job 70 of pipeline 7" in night2.summary
    assert "no regression" in night2.summary, night2.summary
    assert "no regression" in (night2.out / "compare.md").read_text()
    assert "history of 2 nights" in night2.summary
    assert (night2.out / "history.html").is_file()
    job = _gitlab_job()
    default_out = job["variables"]["RH_OUT"]
    junit = Path(job["artifacts"]["reports"]["junit"].replace(default_out, str(night2.out), 1))
    _assert_junit(junit)
    (result,) = _results(night2.out)
    assert result["passed"] is True


@pytest.mark.docker
def test_github_second_night_finds_the_previous_run_and_compares(
    night1: Night, night2: Night, ci: Ci, record_property: Any
) -> None:
    """GitHub, a night after run 101 succeeded (night 2's scenario results replayed): the lookup
    step outputs run 101, its artefact is put where the download step puts it, compare exits 0
    and its table goes to the step summary, the history page covers both nights."""
    ci.api.github_successful_runs([101])
    night = run_github(ci.tmp / "github-night2", ci.overrides("github-night2"), api=ci.api,
                       store=ci.store, run_id=103, replay=night2.out)  # fmt: skip
    shown = _show(night, record_property, "GitHub workflow, night 2 (scenarios replayed)")
    assert night.exit_code == 0, shown + "\n" + "\n".join(s.output for s in night.steps)
    assert night.outputs["previous"] == {"run_id": "101"}
    assert "previous night: run 101" in night.step("Find the previous night").output
    assert "run 101's artefact" in night.step("Download").outcome
    assert "no regression" in night.step("Compare").output
    assert "no regression" in night.summary
    assert "history of 2 nights" in night.step("History").output
    assert night.artefact is not None and (night.artefact / "history.html").is_file()


@pytest.mark.docker
def test_a_doctored_previous_night_fails_the_compare_step(
    night1: Night, night2: Night, ci: Ci, record_property: Any
) -> None:
    """A previous night that recovered 100 times faster than it did: on GitHub the compare
    step fails with exit 1 (recovery_s named in the step summary) and the artefact is still
    uploaded; on GitLab the compare line fails the job with exit 1 (and, told to keep one
    night, the history line keeps tonight's only)."""
    assert night1.artefact is not None
    assert _recovery_waits(_results(night1.artefact)), "night 1 has a recovery wait to doctor"
    assert _recovery_waits(_results(night2.out)), "night 2 has one to compare"
    doctored = _doctored(night1.artefact, ci.tmp / "doctored")
    ci.store[102] = doctored
    ci.api.github_successful_runs([102, 101])
    night = run_github(ci.tmp / "github-doctored", ci.overrides("github-doctored"), api=ci.api,
                       store=ci.store, run_id=104, replay=night2.out)  # fmt: skip
    shown = _show(night, record_property, "GitHub workflow against a doctored night")
    assert night.exit_code == 1, shown
    failed = [s for s in night.steps if s.outcome.startswith("failed")]
    assert [s.name for s in failed] == [night.step("Compare").name], shown
    assert "regression" in night.summary and "recovery_s" in night.summary, night.summary
    assert night.step("Upload").outcome.startswith("skipped: uses upload-artifact; done")

    ci.api.gitlab_successful_night(pipeline=8, job=80, artefact=doctored)
    keep_one = {**ci.overrides("gitlab-doctored"), "RH_HISTORY_NIGHTS": "1"}
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
