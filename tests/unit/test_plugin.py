"""The pytest plugin, black-box with pytester (collection only: no Docker)."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest_plugins = ["pytester"]

ROOT = Path(__file__).resolve().parents[2]


def test_collects_one_item_per_variant(pytester: pytest.Pytester) -> None:
    """`pytest scenarios/` collects every scenario file, one item per variant."""
    result = pytester.runpytest_subprocess("--collect-only", "-q", str(ROOT / "scenarios"))
    result.stdout.fnmatch_lines(
        [
            "*cold-start.yaml::cold-start[[]fixed[]]",
            "*no-minfds.yaml::no-minfds[[]fixed[]]",
            "*no-minfds.yaml::no-minfds[[]incident[]]",
            "*sentinel-all-replicas.yaml::sentinel-all-replicas[[]incident[]]",
        ]
    )
    assert result.ret == 0


def test_variant_option_filters(pytester: pytest.Pytester) -> None:
    """--rh-variant=incident collects only incident variants."""
    result = pytester.runpytest_subprocess(
        "--collect-only", "-q", "--rh-variant=incident", str(ROOT / "scenarios")
    )
    out = result.stdout.str()
    assert "[incident]" in out and "[fixed]" not in out


def test_invalid_scenario_is_a_one_line_collection_error(pytester: pytest.Pytester) -> None:
    """A malformed scenario file fails collection with the file, key path and choices."""
    d = pytester.mkdir("scenarios")
    (d / "bad.yaml").write_text(
        "name: bad\ndescription: x\nsteps:\n  - reboot: {host: app3}\nexpect: {}\n"
    )
    result = pytester.runpytest_subprocess("--collect-only", str(d))
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
        def test_x(stack):
            pass
        """
    )
    result = pytester.runpytest_subprocess()
    result.stderr.fnmatch_lines(["*unknown incident *; known: graphite-piddir*"])
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
