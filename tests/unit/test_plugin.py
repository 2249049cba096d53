"""The pytest plugin, black-box with pytester (collection only: no Docker)."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest_plugins = ["pytester"]

ROOT = Path(__file__).resolve().parents[2]


def test_collects_one_item_per_variant(pytester: pytest.Pytester) -> None:
    """A scenario directory (here by --rh-scenarios) is collected file by file, one item per
    variant; its nightly/ subdirectory is not a configured one."""
    result = pytester.runpytest_subprocess(
        "--collect-only", "-q", "--rh-scenarios", str(ROOT / "scenarios"), str(ROOT / "scenarios")
    )
    result.stdout.fnmatch_lines(
        [
            "*cold-start.yaml::cold-start[[]fixed[]]",
            "*no-minfds.yaml::no-minfds[[]fixed[]]",
            "*no-minfds.yaml::no-minfds[[]incident[]]",
            "*sentinel-all-replicas.yaml::sentinel-all-replicas[[]incident[]]",
        ]
    )
    assert "long-outage-30m" not in result.stdout.str()
    assert result.ret == 0


def test_variant_option_filters(pytester: pytest.Pytester) -> None:
    """--rh-variant=incident collects only incident variants."""
    result = pytester.runpytest_subprocess(
        "--collect-only",
        "-q",
        "--rh-variant=incident",
        "--rh-scenarios",
        str(ROOT / "scenarios"),
        str(ROOT / "scenarios"),
    )
    out = result.stdout.str()
    assert "[incident]" in out and "[fixed]" not in out


def test_invalid_scenario_is_a_one_line_collection_error(pytester: pytest.Pytester) -> None:
    """A malformed scenario file fails collection with the file, key path and choices."""
    d = pytester.mkdir("scenarios")
    (d / "bad.yaml").write_text(
        "name: bad\ndescription: x\nsteps:\n  - reboot: {host: app3}\nexpect: {}\n"
    )
    result = pytester.runpytest_subprocess("--collect-only", "--rh-scenarios", str(d))
    result.stdout.fnmatch_lines(["*steps[[]0[]].reboot.host: unknown host 'app3'; known: app1*"])
    assert result.ret != 0


def test_unknown_option_is_a_usage_error(pytester: pytest.Pytester) -> None:
    """An option the plugin does not know fails the run as a usage error."""
    result = pytester.runpytest_subprocess("--rh-variant=sometimes")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--rh-variant*invalid choice*"])


def test_unknown_incident_marker_is_a_usage_error(pytester: pytest.Pytester) -> None:
    """rh_incident with an incident that does not exist stops the run with the known names,
    before any container is started."""
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.rh_incident("no-such-thing")
        def test_x(rh_stack):
            pass
        """
    )
    result = pytester.runpytest_subprocess()
    result.stderr.fnmatch_lines(["*unknown incident *; known: dns-rotation-not-served, graphite*"])
    assert result.ret == pytest.ExitCode.USAGE_ERROR


def test_docker_tests_fail_not_skip_in_ci(pytester: pytest.Pytester) -> None:
    """With CI=true and no usable engine a docker-marked test fails; outside CI it skips."""
    pytester.makeconftest((ROOT / "tests" / "conftest.py").read_text())
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.docker
        def test_needs_docker():
            pass
        """
    )
    pytester.makeini("[pytest]\nmarkers =\n    docker: needs docker\n")
    bogus = "unix:///nonexistent/docker.sock"
    pytester._monkeypatch.setenv("DOCKER_HOST", bogus)
    pytester._monkeypatch.setenv("CI", "true")
    result = pytester.runpytest_subprocess()
    result.assert_outcomes(errors=1)  # failed in setup: the run is red, nothing is skipped
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(["*CI=true but Docker is not usable: no Docker engine reachable*"])
    pytester._monkeypatch.setenv("CI", "")
    result = pytester.runpytest_subprocess()
    result.assert_outcomes(skipped=1)


FOREIGN_TEST = """
import signal
import sys

import pytest


@pytest.mark.slow
def test_untouched():
    for module in ("docker", "testcontainers", "redis", "pymysql", "harness.stack"):
        assert module not in sys.modules, module
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL
"""


def test_a_foreign_suite_runs_untouched_with_no_engine(pytester: pytest.Pytester) -> None:
    """A project that has the plugin installed but does not use it: its own scenarios/ folder
    (not ours) is not collected, nothing imports Docker or touches signals, --strict-markers
    holds, and with the engine unreachable the suite passes as if the plugin were not there."""
    pytester.makeini("[pytest]\nmarkers =\n    slow: a marker of the project's own\n")
    d = pytester.mkdir("scenarios")
    (d / "staging.yaml").write_text("replicas: 3\nregion: eu\n")
    pytester.makepyfile(test_foreign=FOREIGN_TEST)
    env = {"DOCKER_HOST": "unix:///nonexistent/docker.sock"}
    with pytest.MonkeyPatch.context() as mp:
        for k, v in env.items():
            mp.setenv(k, v)
        result = pytester.runpytest_subprocess("--strict-markers", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)
    assert "staging" not in result.stdout.str()


def test_the_plugin_can_be_disabled(pytester: pytest.Pytester) -> None:
    """-p no:reboot_harness removes it: its options and fixtures are gone."""
    pytester.makepyfile("def test_x(rh_stack):\n    pass\n")
    result = pytester.runpytest_subprocess("-p", "no:reboot_harness", "--rh-keep")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result = pytester.runpytest_subprocess("-p", "no:reboot_harness")
    result.stdout.fnmatch_lines(["*fixture 'rh_stack' not found*"])


def test_scenario_directories_come_from_the_ini(pytester: pytest.Pytester) -> None:
    """ini rh_scenarios names the directories (relative to the ini file) to collect."""
    pytester.makeini("[pytest]\nrh_scenarios = rehearsals\n")
    d = pytester.mkdir("rehearsals")
    (d / "one.yaml").write_text((ROOT / "scenarios" / "cold-start.yaml").read_text())
    other = pytester.mkdir("scenarios")
    (other / "two.yaml").write_text((ROOT / "scenarios" / "cold-start.yaml").read_text())
    result = pytester.runpytest_subprocess("--collect-only", "-q")
    result.stdout.fnmatch_lines(["rehearsals/one.yaml::cold-start[[]fixed[]]"])
    assert "scenarios/two.yaml" not in result.stdout.str()


def test_max_duration_fails_a_harness_item_and_the_session_goes_on(
    pytester: pytest.Pytester,
) -> None:
    """--rh-max-duration: a test using rh_stack (here a stand-in) still running when the time
    is up fails with that said; the next test runs; a test not using the harness is not
    limited."""
    pytester.makeconftest("import pytest\n\n@pytest.fixture\ndef rh_stack():\n    yield None\n")
    pytester.makepyfile(
        """
        import time

        def test_slow(rh_stack):
            time.sleep(30)

        def test_next(rh_stack):
            pass

        def test_not_ours():
            time.sleep(1.5)
        """
    )
    result = pytester.runpytest_subprocess("--rh-max-duration", "1")
    result.assert_outcomes(passed=2, failed=1)
    result.stdout.fnmatch_lines(["*did not finish within --rh-max-duration 1s*"])
    assert result.duration < 25
    bad = pytester.runpytest_subprocess("--rh-max-duration", "0")
    assert bad.ret == pytest.ExitCode.USAGE_ERROR
