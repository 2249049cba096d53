"""Engine placement: which Docker engine this process's stacks go to (``--rh-engines``,
RH_ENGINES), the next one when it stops answering (:func:`blame_engine`), and what the harness
needs before its first stack (:func:`engage`)."""

from __future__ import annotations

import contextlib
from collections.abc import Callable

import pytest

from reboot_harness.faces.pytest_plugin.options import (
    _ENGAGED,
    _ENGINES,
    ENGINES,
)


def _bind_engine(config: pytest.Config, *, engaging: bool = False) -> None:
    """--rh-engines (or RH_ENGINES): make sure every engine answers (one line, exit 2, nothing
    run) and bind this process to its engine (xdist gwN: engine N mod count). The option is
    acted on at once (the controller checks before any worker starts); the variable only when a
    harness item or fixture first runs (``engaging``), so a suite that never uses the harness
    is left alone even where RH_ENGINES is exported. Without either nothing happens here: no
    Docker import, no engine contact."""
    import os

    option = config.getoption(ENGINES)
    if option is None and not engaging:
        config.stash[_ENGINES] = ()
        return
    if engaging and (option is not None or config.stash.get(_ENGINES, ())):
        return  # bound at configure already
    spec = option if option is not None else os.environ.get("RH_ENGINES", "")
    if not spec.strip() and option is None:
        return
    from reboot_harness.errors import EnvironmentProblem, UsageError
    from reboot_harness.stack import engines

    source = ENGINES if option is not None else engines.ENV
    try:
        named = engines.parse(spec, source=source)
        if engaging or not hasattr(config, "workerinput"):
            engines.require_answers(named, source=source)
    except (UsageError, EnvironmentProblem) as e:
        pytest.exit(f"reboot-harness: {e}", returncode=2)
    os.environ[engines.ENV] = spec  # xdist workers inherit it; images are copied among these
    config.stash[_ENGINES] = named
    worker = getattr(config, "workerinput", {}).get("workerid", "gw0")
    engines.bind(engines.for_worker(named, worker))


def engage(config: pytest.Config) -> None:
    """What the harness needs before its first stack, once per process: SIGTERM unwinding like
    Ctrl-C (fixtures heal and remove their stacks), and what killed runs left behind removed
    (by one process: not by xdist workers other than the first)."""
    if config.stash.get(_ENGAGED, False):
        return
    config.stash[_ENGAGED] = True
    from reboot_harness import interrupts

    _bind_engine(config, engaging=True)  # RH_ENGINES from the environment: only now
    interrupts.install()
    worker = getattr(config, "workerinput", {}).get("workerid", "gw0")
    if worker == "gw0":
        from reboot_harness.errors import EnvironmentProblem
        from reboot_harness.stack.engines import using
        from reboot_harness.stack.removal import gc

        # Every engine of --rh-engines, or the one there is. No engine: the item or fixture
        # that needs it says so.
        reporter = config.pluginmanager.get_plugin("terminalreporter")
        capman = config.pluginmanager.get_plugin("capturemanager")
        for engine in config.stash.get(_ENGINES, ()) or (None,):
            with (
                using(engine),
                contextlib.suppress(EnvironmentProblem),
            ):
                for line in gc().lines():
                    # said in the session's output, past the test's capture (an xdist worker
                    # has no reporter; every removal is also in gc.log of the state folder)
                    said = f"reboot-harness: removed stack {line}, left by a dead run"
                    if reporter is not None and capman is not None:
                        with capman.global_and_fixture_disabled():
                            reporter.write_line(said)


def _remove(config: pytest.Config, project: str, down: Callable[[str], object]) -> None:
    """Remove the stack; with several engines, one whose engine stopped answering is left for
    `reboot-harness gc` with a warning (the item itself already failed naming the engine)."""
    from reboot_harness.errors import EnvironmentProblem

    try:
        down(project)
    except EnvironmentProblem as e:
        if not config.stash.get(_ENGINES, ()):
            raise
        import warnings

        warnings.warn(
            f"stack {project} not removed ({e}); `reboot-harness gc` removes it once its"
            " engine answers again",
            stacklevel=1,
        )


def blame_engine(config: pytest.Config, report: pytest.TestReport) -> None:
    """A failed harness item's report, with several engines (--rh-engines): when this process's
    engine no longer answers, the report says so first, naming it, and the next items go to an
    engine that answers."""
    named = config.stash.get(_ENGINES, ())
    if not named:
        return
    from reboot_harness.stack import engines

    here = engines.current()
    why = engines.answer(here, timeout=5.0)
    if why is None:
        return
    others = [e for e in named if e.host != here.host and engines.answers(e)]
    after = f"; the next items go to engine {others[0].label()}" if others else ""
    if others:
        engines.bind(others[0])
    line = f"engine {here.label()} stopped answering during this item ({why}){after}"
    report.longrepr = f"{line}\n{report.longreprtext}"
