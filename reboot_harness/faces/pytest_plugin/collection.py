"""Scenario files as test items: a ``*.yaml`` of a configured scenario directory (or named on the
command line) is one item per variant, each run on a fresh stack."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from reboot_harness.errors import HarnessError, ScenarioError
from reboot_harness.faces.pytest_plugin.engines import engage
from reboot_harness.faces.pytest_plugin.options import _DIRS, VARIANT, run_request
from reboot_harness.model.scenario import Scenario


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    """A scenario file: a ``*.yaml`` in a configured scenario directory, or given by name."""
    if file_path.suffix not in (".yaml", ".yml"):
        return None
    dirs = parent.config.stash.get(_DIRS, frozenset())
    if file_path.parent.resolve() in dirs or parent.session.isinitpath(file_path):
        return ScenarioFile.from_parent(parent, path=file_path)
    return None


class ScenarioFile(pytest.File):
    def collect(self) -> Iterator[pytest.Item]:
        from reboot_harness.scenarios import find

        request = run_request(self.config)
        try:
            found = find.fit(self.path, request.topology)
        except ScenarioError as e:
            raise self.CollectError(str(e)) from e
        if isinstance(found, find.NotApplicable):  # a shipped scenario for hosts yours lack
            pytest.skip(f"not applicable to this topology: {found.why}", allow_module_level=True)
        scenario = found
        wanted = self.config.getoption(VARIANT)
        # Repeats are items of their own, as pytest-repeat makes them (and with its names):
        # each run has its own outcome, report and duration, and xdist spreads them.
        n = request.repeat
        for variant in scenario.variants:
            if wanted not in ("all", variant):
                continue
            for k in range(1, n + 1):
                name = (
                    f"{scenario.name}[{variant}-{k}-{n}]"
                    if n > 1
                    else f"{scenario.name}[{variant}]"
                )
                yield ScenarioItem.from_parent(
                    self, name=name, scenario=scenario, variant=variant, repeat=k if n > 1 else 0
                )


class ScenarioFailed(Exception):
    """A scenario variant did not turn out as required; carries its result."""


class ScenarioItem(pytest.Item):
    def __init__(self, *, scenario: Scenario, variant: str, repeat: int = 0, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.scenario = scenario
        self.variant = variant
        self.repeat = repeat  # --rh-repeat N: which run of the variant (1..N); else 0
        self.add_marker(pytest.mark.docker)

    def runtest(self) -> None:
        from reboot_harness.run.loop import run_scenario

        engage(self.config)
        request = run_request(self.config)
        result = run_scenario(self.scenario, self.variant, request=request)
        result.repeat = self.repeat
        if request.report:
            from reboot_harness.report import write_reports

            safe = self.name.replace("[", "-").replace("]", "")
            write_reports([result], request.report / safe)
        self.user_properties.append(("reason", result.reason))
        if result.incident:
            self.user_properties.append(("incident", result.incident))
        if result.engine:
            self.user_properties.append(("engine", result.engine))
        self.user_properties.append(("duration_s", f"{result.duration_s:.1f}"))
        if not result.passed:
            raise ScenarioFailed("\n".join(result.verdict_lines()))

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> str:
        if isinstance(excinfo.value, ScenarioFailed | HarnessError):
            return str(excinfo.value)
        return str(super().repr_failure(excinfo))

    def reportinfo(self) -> tuple[Path, int, str]:
        return self.path, 0, f"scenario {self.name}"
