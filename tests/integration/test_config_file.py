"""A user's repository with a project config file, as a user runs it (the console script and
pytest in processes of their own, from a folder inside the repository): `run --dry-run`
without names plans the configured scenarios on the configured topology, and pytest collects
the same ones. No stack, no engine: the quick tier."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

INDEPENDENT = True  # (no stack shared: any worker)

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "memcached"
CONFIG = """[project]
name = "my-service"

[tool.reboot-harness]
topology = "topology.yaml"
stack = "docker-compose.yml"
incidents = "incidents"
scenarios = "scenarios"
up-timeout = "1m30s"
"""


def _in(folder: Path, *argv: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RH_")}
    return subprocess.run(
        argv, cwd=folder, env=env, capture_output=True, text=True, timeout=300, check=False
    )


def test_a_repository_configured_once_runs_without_options(tmp_path: Path) -> None:
    """The memcached example with its options in pyproject.toml: from a subfolder, `config`
    names the file, `run --dry-run` plans cache-reboot's two variants on the cache host with
    the file's stack, and pytest collects them too."""
    repo = tmp_path / "repo"
    shutil.copytree(EXAMPLE, repo, ignore=shutil.ignore_patterns("pytest.ini", "README.md"))
    (repo / "pyproject.toml").write_text(CONFIG)
    (repo / "docs").mkdir()
    rh = (sys.executable, "-m", "reboot_harness")

    shown = _in(repo / "docs", *rh, "config")
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.splitlines()[0] == f"file: {repo / 'pyproject.toml'} [tool.reboot-harness]"
    assert "up-timeout   90s" in shown.stdout

    plan = _in(repo / "docs", *rh, "run", "--dry-run")
    assert plan.returncode == 0, plan.stderr
    assert "cache-reboot" in plan.stdout and "cache" in plan.stdout
    assert "2 scenario variants would run; nothing was started" in plan.stdout

    collected = _in(repo, sys.executable, "-m", "pytest", "--collect-only", "-q", "-p",
                    "no:cacheprovider")  # fmt: skip
    assert collected.returncode == 0, collected.stdout + collected.stderr
    assert "scenarios/cache-reboot.yaml::cache-reboot[fixed]" in collected.stdout
    assert "scenarios/cache-reboot.yaml::cache-reboot[incident]" in collected.stdout
