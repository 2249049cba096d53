"""The one exception tree of reboot-harness.

Every error the harness raises on purpose is a HarnessError; its message says where the problem
is and what to do about it. The CLI maps ``UsageError`` and ``EnvironmentError_`` to exit 2 and
everything else to exit 1.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the results are model data; errors stay importable from anywhere
    from reboot_harness.model.results import CheckResult


class HarnessError(Exception):
    """Base of every error reboot-harness raises on purpose."""


class UsageError(HarnessError):
    """The user asked for something that cannot be: unknown project, bad option, bad file."""


class ScenarioError(UsageError):
    """A scenario or configuration file is invalid (names file, key path, valid choices).

    Args:
        message: the problem, in one line (what every command shows).
        also: the file's other problems found at the same time, one line each (what
            `validate` shows beside it).
    """

    def __init__(self, message: str, *, also: Sequence[str] = ()) -> None:
        super().__init__(message)
        self.also: tuple[str, ...] = tuple(also)


class EnvironmentProblem(HarnessError):
    """The machine lacks something the harness needs (engine, compose plugin, debootstrap)."""


class StackError(HarnessError):
    """Building, starting, inspecting or stopping the stack failed."""


class ImageBuildError(StackError):
    """A service image failed to build."""


class FaultError(HarnessError):
    """A fault could not be injected or healed, or an operation did not take effect.

    Args:
        message: what failed, where, and what was seen.
        cause: a stable code of reboot_harness.model.steps.STEP_ERROR_CAUSES (how incidents
            declare the step errors they bring).
        checks: for a wait that ran out, the checks still failing
            (reboot_harness.model.results.CheckResult).
    """

    def __init__(
        self, message: str, cause: str = "step-failed", checks: Sequence[CheckResult] = ()
    ) -> None:
        super().__init__(message)
        self.cause = cause
        self.checks: tuple[CheckResult, ...] = tuple(checks)


class CheckTimeout(HarnessError):
    """A wait ran out before the checks held, or ended on a failure that had settled
    (``settled``); carries the last observed results."""

    def __init__(
        self, message: str, results: Sequence[CheckResult] = (), *, settled: bool = False
    ) -> None:
        super().__init__(message)
        self.results: list[CheckResult] = list(results)
        self.settled = settled
