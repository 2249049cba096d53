"""The wheel works on its own: built from this checkout, installed into a fresh virtualenv
outside the repository (beside the newest pytest, which it leaves in place, and without what
only some users need: the [ssh] and [chaostoolkit] extras), it knows every shipped scenario and
incident and runs one — compose/ and scenarios/ travel inside the package
(reboot_harness/_data), found through importlib.resources — and no message of it names a script
it does not ship (`doctor --engine` is its setup path). The tutorial's first part
(docs/tutorial.md) runs as written from it."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import venv
from pathlib import Path

import pytest

pytestmark = pytest.mark.docker
INDEPENDENT = True

REPO = Path(__file__).resolve().parents[2]


def _run(cmd: list[str], cwd: Path, env: dict[str, str], timeout: float) -> str:
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, f"{cmd} exited {proc.returncode}:\n{proc.stdout}\n{proc.stderr}"
    return proc.stdout


def outside_env() -> dict[str, str]:
    """This environment without what points into this checkout or its virtualenv."""
    unset = ("PYTHONPATH", "RH_COMPOSE_DIR", "RH_SCENARIOS_DIR", "VIRTUAL_ENV")
    return {k: v for k, v in os.environ.items() if k not in unset}


def build_wheel(into: Path, env: dict[str, str]) -> Path:
    """The harness's wheel, built from this checkout into the folder ``into``."""
    _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(into), str(REPO)],
         into.parent, env, 600)  # fmt: skip
    (wheel,) = into.glob("reboot_harness-*.whl")
    return wheel


def test_the_wheel_runs_outside_the_repository(tmp_path: Path) -> None:
    env = outside_env()
    wheel = build_wheel(tmp_path / "wheels", env)
    venv.create(tmp_path / "venv", with_pip=True)
    bin_dir = tmp_path / "venv" / "bin"
    # a project's own, newest pytest stays what it is: the harness pins no upper bound
    _run([str(bin_dir / "pip"), "install", "-q", "--upgrade", "pytest"], tmp_path, env, 600)
    version = [str(bin_dir / "python"), "-c", "import pytest; print(pytest.__version__)"]
    newest = _run(version, tmp_path, env, 60)
    _run([str(bin_dir / "pip"), "install", "-q", str(wheel)], tmp_path, env, 900)
    assert _run(version, tmp_path, env, 60) == newest
    installed = _run([str(bin_dir / "pip"), "list", "--format=freeze"], tmp_path, env, 60)
    for extra in ("matplotlib", "testcontainers", "paramiko", "chaostoolkit"):
        assert f"{extra}==" not in installed.lower(), f"{extra} is in the base install"
    work = tmp_path / "elsewhere"
    work.mkdir()
    tool = str(bin_dir / "reboot-harness")

    listed = json.loads(_run([tool, "list", "--json"], work, env, 120))["scenarios"]
    shipped = sorted(p.stem for p in (REPO / "scenarios").glob("*.yaml"))
    assert [s["name"] for s in listed] == shipped
    for s in listed:
        assert "/site-packages/reboot_harness/_data/scenarios/" in s["file"], s["file"]
    where = _run([str(bin_dir / "python"), "-c",
                  "from reboot_harness.scenarios import find;"
                  " from reboot_harness.inputs import paths;"
                  " from reboot_harness.report.serialize import schema;"
                  " print(paths.default_compose_dir()); print(*find.known_incidents());"
                  " print(schema('run')['title'])"],
                 work, env, 60).splitlines()  # fmt: skip
    assert where[0].endswith("/site-packages/reboot_harness/_data/compose"), where
    incidents = sorted(p.stem for p in (REPO / "compose" / "incidents").glob("*.yaml"))
    assert where[1].split() == incidents
    assert where[2] == "reboot-harness run --json, and results.json", "the JSON Schemas ship"

    # The wheel ships no scripts/: no message names one; the machine check is the setup path.
    nowhere = {**env, "DOCKER_HOST": "unix:///nonexistent/docker.sock"}
    build = subprocess.run([tool, "build"], cwd=work, env=nowhere, capture_output=True, text=True,
                           timeout=120)  # fmt: skip
    assert build.returncode == 2 and "no Docker engine reachable" in build.stderr, build.stderr
    assert "scripts/" not in build.stderr and "reboot-harness doctor --engine" in build.stderr
    machine = subprocess.run([tool, "doctor", "--engine"], cwd=work, env=env, capture_output=True,
                             text=True, timeout=300)  # fmt: skip
    lacking = [line for line in machine.stdout.splitlines()[:-1] if ": lacking: " in line]
    assert machine.returncode in (0, 1) and all(x.startswith("fuse:") for x in lacking), (
        machine.stdout + machine.stderr
    )

    out = _run([tool, "run", "cold-start"], work, env, 900)
    assert "scenarios: 1 passed, 0 failed" in " ".join(out.split()), out


TUTORIAL = REPO / "docs" / "tutorial.md"


def tutorial_script() -> str:
    """The tested part of the tutorial: its ```bash blocks between the ``tested`` and ``end
    tested`` comments, one script, in order."""
    text = TUTORIAL.read_text(encoding="utf-8")
    part = text.split("<!-- tested:", 1)[1].split("<!-- end tested -->", 1)[0]
    blocks = re.findall(r"^```bash\n(.*?)^```$", part, re.S | re.M)
    assert blocks, f"{TUTORIAL}: no ```bash block in its tested part"
    return "set -euxo pipefail\n" + "".join(blocks)


def test_the_tutorial_runs_as_written_from_a_wheel(tmp_path: Path) -> None:
    """A newcomer's path from `pip install` to a first passing scenario is a tested document:
    docs/tutorial.md's first part, run as written in an empty folder by bash, where
    `pip install reboot-harness` finds the wheel built from this checkout (and the rest where
    pip finds it here), ends with a passing scenario and its report."""
    env = outside_env()
    wheel = build_wheel(tmp_path / "wheels", env)
    # pip looks here first for `reboot-harness`, and where it is configured to for the rest
    env["PIP_FIND_LINKS"] = " ".join(filter(None, (str(wheel.parent), env.get("PIP_FIND_LINKS"))))
    work = tmp_path / "newcomer"
    work.mkdir()
    proc = subprocess.run(["bash", "-c", tutorial_script()], cwd=work, env=env,
                          capture_output=True, text=True, timeout=1500)  # fmt: skip
    said = f"{proc.stdout}\n{proc.stderr}"
    assert proc.returncode == 0, said
    assert "scenarios: 1 passed, 0 failed" in " ".join(proc.stdout.split()), said
    assert (work / "report" / "report.html").is_file(), said
    # the harness that ran is the wheel's, installed in the tutorial's own venv
    show = "import reboot_harness as rh; print(rh.__version__, rh.__file__)"
    where = _run([str(work / "rh" / "bin" / "python"), "-c", show], work, env, 60).split()
    assert wheel.name.startswith(f"reboot_harness-{where[0]}-"), (wheel.name, where)
    assert where[1].startswith(str(work / "rh" / "lib")), where
