"""The tiers of the suite: `scripts/test.sh` leaves out only what tests/conftest.py lists, and
what it leaves out never takes away its proof (every incident's reproduction and fixed
variant but graphite-stale-pid's fifteen power losses, every check's failure modes, every step
kind)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from reboot_harness.scenarios import find
from reboot_harness.steps import KINDS
from tests.conftest import FULL_TIER

ROOT = Path(__file__).resolve().parents[2]
# what the quick tier runs on real containers besides the scenario files
QUICK_TESTS = (
    "tests/integration/test_checks.py",
    "tests/integration/test_faults.py",
    "tests/integration/test_freeze.py",
)


def test_every_full_tier_entry_names_a_file_that_exists() -> None:
    missing = [p for p in FULL_TIER if not (ROOT / p).is_file()]
    assert not missing, f"tests/conftest.py FULL_TIER names files that do not exist: {missing}"


# incident scenarios only the full tier runs (each named in FULL_TIER with why)
SLOW_INCIDENT_SCENARIOS = {"scenarios/graphite-stale-pid.yaml"}


def test_the_quick_tier_runs_every_incident_scenario_and_the_check_and_fault_tests() -> None:
    incident_scenarios = [
        f"scenarios/{path.name}"
        for path in find.scenario_files()
        if find.load(path).reproduces is not None
    ]
    assert len(incident_scenarios) >= len(find.known_incidents())
    assert set(incident_scenarios) & set(FULL_TIER) == SLOW_INCIDENT_SCENARIOS
    assert not set(QUICK_TESTS) & set(FULL_TIER)


def _quick_tests_text(path: Path) -> str:
    """The source of the tests of ``path`` the quick tier runs: every function but those marked
    ``@pytest.mark.full`` (a parameter marked so leaves its test in: another mode, same kinds)."""
    source = path.read_text()
    kept = []
    for node in ast.parse(source).body:
        if isinstance(node, ast.FunctionDef) and not any(
            ast.unparse(d) == "pytest.mark.full" for d in node.decorator_list
        ):
            kept.append(ast.get_source_segment(source, node) or "")
    return "\n".join(kept)


def test_tests_marked_full_are_left_out_of_the_quick_tests_text(tmp_path: Path) -> None:
    f = tmp_path / "test_x.py"
    f.write_text(
        "import pytest\n\n@pytest.mark.full\ndef test_a():\n    Start(host='x')\n\n"
        "def test_b():\n    Stop(host='x')\n"
    )
    assert "Stop(" in _quick_tests_text(f) and "Start(" not in _quick_tests_text(f)


def test_the_quick_tier_uses_every_step_kind() -> None:
    """Each step kind appears in a scenario of the quick tier or in a test of a quick-tier test
    file that is not marked ``full``."""
    text = "".join(_quick_tests_text(ROOT / test) for test in QUICK_TESTS)
    for path in find.scenario_files():
        if f"scenarios/{path.name}" not in FULL_TIER:
            text += path.read_text()
    unused = [
        t.KEY
        for t in KINDS
        # a word of its own: `start:` is not in `full_restart:`
        if not re.search(rf"(?<!\w){t.KEY}:|(?<!\w){t.__name__}\(", text)
    ]
    assert not unused, f"step kinds no quick-tier test uses: {unused}"
