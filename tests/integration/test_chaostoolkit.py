"""The Chaos Toolkit extension, with the real `chaos run`, against a stack from `up`: the
example experiment completes (steady state held before and after a power loss; its project from
the configuration), the one that leaves a host off deviates — and its rollback heals the stack —
and an experiment interrupted with a host off is healed by the control."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.integration.conftest import unique_project

pytestmark = pytest.mark.docker
INDEPENDENT = False  # one stack (module fixture) for both experiments: one worker

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "chaostoolkit"
RH = [sys.executable, "-m", "reboot_harness"]
CHAOS = shutil.which("chaos", path=str(Path(sys.executable).parent)) or "chaos"


@pytest.fixture(scope="module")
def project() -> Iterator[str]:
    name = unique_project("chaos")
    up = subprocess.run([*RH, "up", "--project", name], capture_output=True, text=True,
                        timeout=600)  # fmt: skip
    try:
        assert up.returncode == 0, up.stdout + up.stderr
        yield name
    finally:
        subprocess.run([*RH, "down", "--project", name], capture_output=True, timeout=300)


def _chaos(experiment: str, project: str, tmp: Path) -> dict[str, object]:
    journal = tmp / f"{experiment}.journal.json"
    proc = subprocess.run(
        [CHAOS, "--no-version-check", "--log-file", str(tmp / "chaostoolkit.log"), "run",
         "--rollback-strategy", "always", "--journal-path", str(journal),
         str(EXAMPLES / experiment)],
        capture_output=True, text=True, timeout=900, cwd=tmp,
        env={**os.environ, "RH_PROJECT": project},
    )  # fmt: skip
    log = tmp / "chaostoolkit.log"
    assert journal.is_file(), (
        f"chaos exited {proc.returncode} without a journal\n{proc.stdout}{proc.stderr}\n"
        + (log.read_text()[-4000:] if log.is_file() else "(no log)")
    )
    loaded: dict[str, object] = json.loads(journal.read_text())
    return loaded


def _told(journal: dict[str, object]) -> str:
    """What a failed assertion needs of a journal: its status, each steady state's probes and
    each activity of the method and the rollbacks, with status, output and exception."""

    def activity(r: dict[str, Any]) -> str:
        said = r.get("exception") or r.get("output")
        return f"  {r['activity'].get('name')}: {r.get('status')}: {str(said)[:600]}"

    lines = [f"status {journal.get('status')}, deviated {journal.get('deviated')}"]
    states = journal.get("steady_states") or {}
    assert isinstance(states, dict)
    for when, state in states.items():
        if isinstance(state, dict):
            lines.append(f"steady state {when}: met {state.get('steady_state_met')}")
            lines += [activity(p) for p in state.get("probes") or []]
    for key in ("run", "rollbacks"):
        runs = journal.get(key) or []
        assert isinstance(runs, list)
        lines.append(f"{key}:")
        lines += [activity(r) for r in runs]
    return "\n".join(lines)


def test_the_example_experiment_completes(project: str, tmp_path: Path) -> None:
    journal = _chaos("experiment.json", project, tmp_path)
    assert journal["status"] == "completed" and journal["deviated"] is False, _told(journal)
    assert journal["steady_states"]["before"]["steady_state_met"] is True  # type: ignore[index]
    assert journal["steady_states"]["after"]["steady_state_met"] is True  # type: ignore[index]
    runs = journal["run"]
    assert isinstance(runs, list)
    power = next(r for r in runs if r["activity"]["name"] == "power-loss-app1")
    kinds = [(e["kind"], e["host"]) for e in power["output"]]
    assert kinds == [("power off", "app1"), ("power on", "app1")], power["output"]


def test_an_experiment_that_leaves_a_host_off_deviates_and_is_healed(
    project: str, tmp_path: Path
) -> None:
    journal = _chaos("deviates.json", project, tmp_path)
    # chaostoolkit: the run completed, and the steady state deviated
    assert journal["status"] == "completed" and journal["deviated"] is True, _told(journal)
    assert journal["steady_states"]["after"]["steady_state_met"] is False  # type: ignore[index]
    (rollback,) = journal["rollbacks"]  # type: ignore[misc]
    assert rollback["status"] == "succeeded" and "redis2" in rollback["output"], rollback
    wait = subprocess.run([*RH, "wait", "--project", project, "--within", "120s"],
                          capture_output=True, text=True, timeout=300)  # fmt: skip
    assert wait.returncode == 0, wait.stdout + wait.stderr


def test_an_interrupted_experiment_is_healed_by_the_control(project: str, tmp_path: Path) -> None:
    """Ctrl-C while the method holds redis2 off: Chaos Toolkit plays no rollback then (its
    default strategy), and the control boots redis2 again."""
    experiment = tmp_path / "interrupted.json"
    power_off = {
        "type": "python",
        "module": "reboot_harness.chaostoolkit",
        "func": "stop",
        "arguments": {"host": "redis2", "mode": "hard"},
    }
    experiment.write_text(json.dumps({
        "version": "1.0.0", "title": "interrupted", "description": "a host off, then Ctrl-C",
        "configuration": {"reboot_harness_project": {"type": "env", "key": "RH_PROJECT"}},
        "controls": [{"name": "reboot-harness",
                      "provider": {"type": "python", "module": "reboot_harness.chaostoolkit"}}],
        "method": [
            {"type": "action", "name": "power-off-redis2", "provider": power_off},
            {"type": "action", "name": "hold",
             "provider": {"type": "process", "path": "sleep", "arguments": "300"}},
        ],
    }))  # fmt: skip
    log = tmp_path / "chaostoolkit.log"
    journal = tmp_path / "journal.json"
    chaos = subprocess.Popen(
        [CHAOS, "--no-version-check", "--log-file", str(log), "run", "--journal-path",
         str(journal), str(experiment)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=tmp_path,
        env={**os.environ, "RH_PROJECT": project},
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 300
        while "Action: hold" not in (log.read_text() if log.is_file() else ""):
            assert chaos.poll() is None, log.read_text() if log.is_file() else "(no log)"
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.5)
        chaos.send_signal(signal.SIGINT)
        chaos.wait(timeout=300)
    finally:
        if chaos.poll() is None:
            chaos.kill()
    said = log.read_text()
    assert json.loads(journal.read_text())["status"] == "interrupted", said[-3000:]
    assert "the experiment was interrupted; healed: redis2" in said, said[-3000:]
    wait = subprocess.run([*RH, "wait", "--project", project, "--within", "120s"],
                          capture_output=True, text=True, timeout=300)  # fmt: skip
    assert wait.returncode == 0, wait.stdout + wait.stderr
