"""The run request: resolved once from `run`'s arguments or the pytest options into one frozen
RunRequest, refused at construction with one line naming the option, carried to a job's process
with its topology read again there, and handed down unchanged to bring_up by run_scenario."""

from __future__ import annotations

import dataclasses
import pickle
from pathlib import Path
from typing import Any

import pytest

from reboot_harness.errors import CheckTimeout, UsageError
from reboot_harness.faces.cli.commands import up_request
from reboot_harness.faces.cli.parser import build_parser
from reboot_harness.faces.cli.run import run_request
from reboot_harness.run import loop
from reboot_harness.run.request import RunRequest
from reboot_harness.scenarios import find

pytest_plugins = ["pytester"]

TOPOLOGY = "domain: example.test\n"


def _args(*argv: str) -> Any:
    return build_parser().parse_args(["run", "cold-start", *argv])


@pytest.mark.parametrize(
    ("fields", "said"),
    [
        ({"jobs": 0}, "--jobs 0: run at least 1 scenario at a time"),
        ({"repeat": 0}, "--repeat 0: run each scenario variant 1 to 1000 times"),
        ({"repeat": 1001}, "--repeat 1001: run each scenario variant 1 to 1000 times"),
        ({"compose": (Path("/nonexistent/over.yaml"),)},
         "/nonexistent/over.yaml: compose file not found"),
    ],
)  # fmt: skip
def test_a_request_that_cannot_be_is_refused_at_construction(
    fields: dict[str, Any], said: str
) -> None:
    """Whoever builds a request (a face, a test, a library user) gets the CLI's one line."""
    with pytest.raises(UsageError) as caught:
        RunRequest(**fields)
    assert str(caught.value) == said


def test_a_topology_file_is_read_at_construction_and_named_when_bad(tmp_path: Path) -> None:
    good, bad = tmp_path / "good.yaml", tmp_path / "bad.yaml"
    good.write_text(TOPOLOGY)
    bad.write_text("colour: red\n")
    assert RunRequest(topology_file=good).topology is not None
    assert RunRequest(topology_file=good).topology.domain == "example.test"  # type: ignore[union-attr]
    with pytest.raises(UsageError, match=r"bad\.yaml: colour: unknown key"):
        RunRequest(topology_file=bad)


def test_a_request_reaches_another_process_without_its_topology_and_reads_it_there(
    tmp_path: Path,
) -> None:
    """A Topology does not pickle: the request travels without it (equal to what was sent)
    and ``loaded()`` reads the file again on the other side; a request without a topology
    file is itself once loaded."""
    topology = tmp_path / "topology.yaml"
    topology.write_text(TOPOLOGY)
    sent = RunRequest(topology_file=topology, keep=True, jobs=3)
    came = pickle.loads(pickle.dumps(sent))
    assert came == sent and came.topology is None
    assert came.loaded().topology is not None
    assert came.loaded().topology.domain == "example.test"  # type: ignore[union-attr]
    plain = RunRequest()
    assert plain.loaded() is plain


def test_run_arguments_resolve_once_into_a_typed_request(tmp_path: Path) -> None:
    """Files become paths, durations seconds, --incident the incident it names (its file
    found), and the defaults are the parser's."""
    over = tmp_path / "over.yaml"
    over.write_text("services: {}\n")
    got = run_request(
        _args("--compose", str(over), "--incident", "no-minfds", "--keep", "-j", "2",
              "--repeat", "3", "--max-duration", "2h", "--max-planned", "30m",
              "--report", str(tmp_path / "out"), "--allow-unsafe-compose")
    )  # fmt: skip
    assert got == RunRequest(
        compose=(over,), incident=find.incident("no-minfds", None), keep=True,
        allow_unsafe=True, jobs=2, repeat=3, max_duration=7200.0, max_planned=1800.0,
        report=tmp_path / "out",
    )  # fmt: skip
    assert run_request(_args()) == RunRequest()


def test_up_arguments_resolve_into_a_kept_request_with_its_timeout(tmp_path: Path) -> None:
    """`up`'s stack is kept until `down` (gc leaves it) and may take --timeout to come up."""
    over = tmp_path / "over.yaml"
    over.write_text("services: {}\n")
    argv = ["up", "--project", "p", "--compose", str(over), "--timeout", "30"]
    args = build_parser().parse_args([*argv, "--allow-unsafe-compose"])
    assert up_request(args, None) == RunRequest(
        compose=(over,), keep=True, allow_unsafe=True, up_timeout=30.0
    )
    default = up_request(build_parser().parse_args(["up", "--project", "p"]), None)
    assert default == RunRequest(keep=True, up_timeout=240.0)


@pytest.mark.parametrize(
    ("argv", "said"),
    [
        (("--jobs", "0"), "--jobs 0: run at least 1 scenario at a time"),
        (("--incident", "nope"), "unknown incident 'nope'"),
    ],
)
def test_bad_run_arguments_are_one_line_naming_the_option(argv: tuple[str, ...], said: str) -> None:
    with pytest.raises(UsageError) as caught:
        run_request(_args(*argv))
    assert said in str(caught.value) and "\n" not in str(caught.value)


def test_run_scenario_hands_the_request_down_unchanged(monkeypatch: pytest.MonkeyPatch) -> None:
    """bring_up gets the very request run_scenario was given, and for an incident variant the
    incident's override beside it; the stack is removed unless the request keeps it."""
    seen: list[tuple[str, RunRequest, list[Path]]] = []
    removed: list[str] = []

    def bring_up(name: str, request: RunRequest, *, extra: list[Path], **_: Any) -> Any:
        seen.append((name, request, list(extra)))
        raise CheckTimeout("redis roles never held")

    monkeypatch.setattr(loop, "bring_up", bring_up)
    monkeypatch.setattr(loop, "down", removed.append)
    (scenario,) = find.resolve(["no-minfds"])
    asked = RunRequest(keep=False)
    result = loop.run_scenario(scenario, "incident", request=asked)
    assert result.reason == "stack did not come up: redis roles never held"
    ((name, request, extra),) = seen
    assert request is asked
    assert extra == [find.incident("no-minfds", None).path]
    assert removed == [name] == [result.project]
    kept = loop.run_scenario(scenario, "fixed", request=dataclasses.replace(asked, keep=True))
    assert seen[-1][2] == [] and removed == [name] and kept.project != name


def test_the_pytest_options_resolve_once_into_the_request(pytester: pytest.Pytester) -> None:
    """The plugin's options and ini values make the session's request on first use, once;
    files relative to where pytest was started (ini ones to the ini file)."""
    pytester.makefile(".yaml", topology=TOPOLOGY, over="services: {}\n", ini_over="services: {}\n")
    pytester.makeini("[pytest]\nrh_compose = ini_over.yaml\n")
    pytester.makepyfile(
        """
        from pathlib import Path

        from reboot_harness.faces.pytest_plugin.options import run_request

        def test_request(request):
            got = run_request(request.config)
            assert got is run_request(request.config)
            here = Path.cwd()
            assert got.compose == (here / "ini_over.yaml", here / "over.yaml")
            assert got.topology_file == here / "topology.yaml"
            assert got.topology.domain == "example.test"
            assert (got.keep, got.repeat, got.max_duration) == (True, 3, 90.0)
            assert (got.report, got.up_timeout, got.jobs) == (Path("out"), 300.0, 1)
        """
    )
    result = pytester.runpytest_subprocess(
        "-p", "no:cacheprovider", "--rh-keep", "--rh-repeat", "3", "--rh-max-duration", "90",
        "--rh-topology", "topology.yaml", "--rh-compose", "over.yaml", "--rh-report", "out",
    )  # fmt: skip
    result.assert_outcomes(passed=1)


def test_a_bad_topology_fails_the_first_harness_use_naming_the_option(
    pytester: pytest.Pytester,
) -> None:
    pytester.makefile(".yaml", topology="colour: red\n")
    pytester.makepyfile(
        """
        from reboot_harness.faces.pytest_plugin.options import run_request

        def test_request(request):
            run_request(request.config)

        def test_plain():
            pass
        """
    )
    result = pytester.runpytest_subprocess(
        "-p", "no:cacheprovider", "--rh-topology", "topology.yaml"
    )
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*rh_topology: *topology.yaml: colour: unknown key*"])
