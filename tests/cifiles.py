"""The CI files a user's own repository runs — the GitHub Action (ci/github/action.yml) and the
GitLab CI template (ci/gitlab/reboot-harness.yml) — and the examples that use them
(examples/ci/), read as GitHub and GitLab read them: the action's inputs with their defaults, the
job that the GitLab example's `include:` and `extends:` make of the template. Shared by the
schema and shape tests (tests/unit/test_ci_files.py) and the nights that run them
(tests/integration/test_ci_examples.py)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[1]
ACTION = REPO / "ci" / "github" / "action.yml"
TEMPLATE = REPO / "ci" / "gitlab" / "reboot-harness.yml"
WORKFLOW = REPO / "examples" / "ci" / "github-nightly.yml"
GITLAB_CI = REPO / "examples" / "ci" / "gitlab-ci.yml"
HIDDEN_JOB = ".reboot-harness"
# How a workflow names the action: `uses: OWNER/reboot-harness/ci/github@REF`.
ACTION_REF = re.compile(r"[\w.-]+/reboot-harness/ci/github@[\w./-]+")


def load(path: Path) -> dict[Any, Any]:
    """A YAML file as a mapping (a workflow's bare `on:` key reads as True in YAML 1.1)."""
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert isinstance(doc, dict), f"{path}: not a mapping"
    return doc


def workflow_job(path: Path = WORKFLOW) -> dict[str, Any]:
    """The workflow's one job."""
    (job,) = load(path)["jobs"].values()
    assert isinstance(job, dict)
    return job


def action_inputs() -> dict[str, str]:
    """The action's inputs and their defaults."""
    return {name: str(spec.get("default", "")) for name, spec in load(ACTION)["inputs"].items()}


def gitlab_job(gitlab_ci: Path = GITLAB_CI) -> tuple[str, dict[str, Any]]:
    """The name of the job in ``gitlab_ci`` that extends the template, and that job as GitLab
    makes it: the template (its one `include: remote:`, read from this checkout) merged under it.
    """
    doc = load(gitlab_ci)
    (include,) = doc["include"]
    assert include["remote"].endswith("/ci/gitlab/reboot-harness.yml"), include
    template = load(TEMPLATE)
    (name,) = [k for k, v in doc.items() if isinstance(v, dict) and v.get("extends") == HIDDEN_JOB]
    job = {k: v for k, v in doc[name].items() if k != "extends"}
    return name, extended(template[HIDDEN_JOB], job)


def extended(base: dict[str, Any], job: dict[str, Any]) -> dict[str, Any]:
    """GitLab's `extends:`: mappings are merged key by key (the job's values win), anything else
    (a list, a string) the job gives replaces the base's."""
    merged = dict(base)
    for key, value in job.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            merged[key] = extended(base[key], value)
        else:
            merged[key] = value
    return merged


def validate(schema: str, *files: Path) -> tuple[int, str]:
    """check-jsonschema's command with one of its vendored SchemaStore schemas (offline), e.g.
    ``vendor.github-workflows``: its exit code (0: every file is valid) and what it said. Run in
    this process (click's runner): a process of its own takes 0.6 s, the validation 0.01 s."""
    from check_jsonschema.cli.main_command import main
    from click.testing import CliRunner

    said = CliRunner().invoke(main, ["--builtin-schema", schema, *(str(f) for f in files)])
    return said.exit_code, said.output
