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
    for module in ("docker", "redis", "pymysql", "reboot_harness.stack"):
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


# -- --rh-shard, --rh-durations, --rh-order ------------------------------------------------------
SHARD_SUITE = {
    "test_plain": "import pytest\n\n@pytest.mark.parametrize('i', range(9))\ndef test_p(i):\n"
    "    pass\n",
    "test_stack": "import pytest\n\npytestmark = pytest.mark.xdist_group('stack')\n\n"
    + "".join(f"def test_s{i}():\n    pass\n\n" for i in range(4)),
    "test_late": "".join(f"def test_l{i}():\n    pass\n\n" for i in range(3)),
}
# like tests/integration/conftest.py: a group given at collection, not by a mark in the file
LATE_GROUP = """
import pytest

def pytest_collection_modifyitems(config, items):
    for item in items:
        if item.path.name == "test_late.py":
            item.add_marker(pytest.mark.xdist_group("late"))
"""


# hypothesis' plugin imports hypothesis at the end of every in-process run (pytester restores
# sys.modules between runs): seconds each, for suites that do not use it
QUICK = ("-p", "no:hypothesispytest")


def _read_durations(path: Path) -> dict[str, float]:
    import json  # here: this file's imports stay as they were

    return dict(json.loads(path.read_text())["durations"])


def _write_durations(path: Path, durations: dict[str, float]) -> None:
    import json

    path.write_text(json.dumps({"schema_version": 1, "durations": durations}))


def _ran_and_deselected(pytester: pytest.Pytester, *args: str) -> tuple[list[str], list[str]]:
    rec = pytester.inline_run("-p", "no:cacheprovider", *QUICK, *args)
    ran = [r.nodeid for r in rec.getreports("pytest_runtest_logreport") if r.when == "call"]
    deselected = [i.nodeid for call in rec.getcalls("pytest_deselected") for i in call.items]
    return ran, deselected


def test_shards_are_disjoint_cover_the_suite_and_keep_groups_whole(
    pytester: pytest.Pytester,
) -> None:
    """--rh-shard 1/3, 2/3, 3/3 on one suite and one durations file: each item runs in exactly
    one shard, the rest of each run is reported deselected, an xdist_group (from a module mark
    or added by a conftest at collection) lands whole in one shard, and the shards are cut by
    duration, not by count; no shard writes the durations file."""
    pytester.makepyfile(**SHARD_SUITE)
    pytester.makeconftest(LATE_GROUP)
    everything, _ = _ran_and_deselected(pytester)
    assert len(everything) == 16
    durations = {n: 1.0 for n in everything}
    durations |= {f"test_stack.py::test_s{i}": 4.0 for i in range(4)}  # a 16 s group
    durations |= {f"test_late.py::test_l{i}": 2.0 for i in range(3)}  # a 6 s group
    path = pytester.path / "d.json"
    _write_durations(path, durations)
    before = path.read_text()
    shards = []
    for k in (1, 2, 3):
        ran, deselected = _ran_and_deselected(
            pytester, "--rh-shard", f"{k}/3", "--rh-durations", "d.json"
        )
        assert sorted(ran + deselected) == sorted(everything)
        shards.append(set(ran))
    assert sorted(n for s in shards for n in s) == sorted(everything)  # disjoint and covering
    for group in ("test_stack.py", "test_late.py"):
        assert sum(any(n.startswith(group) for n in s) for s in shards) == 1, group
    # 31 s in all: the 16 s group alone, then 6 s + 9 plain of 1 s split 8 | 7
    loads = sorted(sum(durations[n] for n in s) for s in shards)
    assert loads == [7.0, 8.0, 16.0], shards
    assert path.read_text() == before


def test_invalid_shard_is_a_one_line_usage_error(pytester: pytest.Pytester) -> None:
    """--rh-shard 0/3, 4/3 or x/3 stops the run before collection, the error on one line."""
    pytester.makepyfile("def test_x():\n    pass\n")
    for bad in ("0/3", "4/3", "x/3"):
        result = pytester.runpytest(*QUICK, "--rh-shard", bad)
        assert result.ret == pytest.ExitCode.USAGE_ERROR
        result.stderr.fnmatch_lines([f"*argument --rh-shard: expected K/N*got '{bad}'"])


def test_durations_are_recorded_merged_and_reused(pytester: pytest.Pytester) -> None:
    """A suite that asks for nothing gets no file. Asked for (--rh-order=durations), the default
    file records setup+call+teardown of each item that ran (not a skipped one); once it exists,
    later runs merge into it (what ran is replaced, the rest kept); the shards use it: the one
    slow item is a shard of its own."""
    pytester.makepyfile(
        test_d="""
        import time

        import pytest

        def test_slow():
            time.sleep(0.6)

        @pytest.mark.parametrize("i", range(5))
        def test_quick(i):
            pass

        def test_skipped():
            pytest.skip("says nothing about its duration")
        """
    )
    file = pytester.path / ".reports" / "durations.json"
    _ran_and_deselected(pytester)
    assert not file.exists()
    _ran_and_deselected(pytester, "--rh-order=durations")
    recorded = _read_durations(file)
    quick = [f"test_d.py::test_quick[{i}]" for i in range(5)]
    assert sorted(recorded) == sorted(["test_d.py::test_slow", *quick])
    assert recorded["test_d.py::test_slow"] >= 0.6
    assert max(recorded[n] for n in quick) < 0.1

    _write_durations(file, recorded | {"test_d.py::test_quick[0]": 99.0, "elsewhere.py::gone": 7.0})
    _ran_and_deselected(pytester, "-k", "test_quick and 0")  # no option: the file exists
    merged = _read_durations(file)
    assert merged["test_d.py::test_quick[0]"] < 99.0
    assert merged["elsewhere.py::gone"] == 7.0
    assert merged["test_d.py::test_slow"] == recorded["test_d.py::test_slow"]

    first, _ = _ran_and_deselected(pytester, "--rh-shard", "1/2")
    second, _ = _ran_and_deselected(pytester, "--rh-shard", "2/2")
    assert first == ["test_d.py::test_slow"]
    assert second == [*quick, "test_d.py::test_skipped"]  # unrecorded: its file's median


XDIST_SUITE = """
import os
import pytest

def _log(name):
    with open(os.environ["PYTEST_XDIST_WORKER"] + ".log", "a") as f:
        f.write(name + "\\n")

@pytest.mark.parametrize("i", range(6))
def test_a(i):
    _log(f"a{i}")

def test_zz_long():
    _log("zz_long")
"""


def test_under_xdist_the_longest_starts_first_and_the_controller_records(
    pytester: pytest.Pytester,
) -> None:
    """With -n 2 the item recorded as longest, collected last, is the first its worker runs
    (--rh-order auto: durations in workers); the durations of every item are recorded once,
    by the controller, into the file."""
    pytester.makepyfile(test_x=XDIST_SUITE)
    path = pytester.path / "d.json"
    _write_durations(
        path,
        {"test_x.py::test_zz_long": 100.0} | {f"test_x.py::test_a[{i}]": 0.01 for i in range(6)},
    )
    result = pytester.runpytest_subprocess(
        "-p", "no:cacheprovider", *QUICK, "-n", "2", "--rh-durations", "d.json"
    )
    result.assert_outcomes(passed=7)
    firsts = [p.read_text().split()[0] for p in pytester.path.glob("gw*.log")]
    assert "zz_long" in firsts, firsts
    recorded = _read_durations(path)
    assert sorted(recorded) == sorted(
        ["test_x.py::test_zz_long", *(f"test_x.py::test_a[{i}]" for i in range(6))]
    )
    assert recorded["test_x.py::test_zz_long"] < 100  # replaced by what it took


GROUPED_SUITE = """
import os

import pytest

pytestmark = pytest.mark.xdist_group("shared")


@pytest.mark.parametrize("i", range(6))
def test_in_group(i):
    print(os.environ["PYTEST_XDIST_WORKER"])
"""


def test_loadgroup_keeps_each_group_on_one_worker_on_every_pytest(
    pytester: pytest.Pytester,
) -> None:
    """`-n 2 --dist loadgroup`: the items of one xdist_group run on one worker, with xdist's
    ``@group`` suffix, on pytest 9.2 as below it (where xdist's own suffix is lost:
    pytest-dev/pytest-xdist#1386); ``-p no:reboot_harness`` shows what the plugin fixed."""
    pytester.makepyfile(test_a=GROUPED_SUITE, test_b=GROUPED_SUITE)
    result = pytester.runpytest_subprocess(
        "-p", "no:cacheprovider", "-n", "2", "--dist", "loadgroup", "-v"
    )
    result.assert_outcomes(passed=12)
    ran = [line.strip() for line in result.outlines if "PASSED" in line]
    assert len(ran) == 12 and all(line.endswith("@shared") for line in ran), ran
    assert len({line.split()[0] for line in ran}) == 1, ran  # one worker: [gw0] or [gw1]


REUSE_CONFTEST = """
import itertools, os
from types import SimpleNamespace

import pytest

from reboot_harness.errors import CheckTimeout
import reboot_harness.checks.recovery as recovery
import reboot_harness.run.bringup as bringup
import reboot_harness.stack.removal as removal

LOG = os.environ["RH_TEST_LOG"]
numbers = itertools.count(1)


def log(line):
    with open(LOG, "a") as f:
        f.write(line + "\\n")


def bring_up(project, request, extra=()):
    name = f"s{next(numbers)}"
    log(f"up {name}" + (" incident" if extra else ""))
    return SimpleNamespace(stack=SimpleNamespace(state=SimpleNamespace(name=name), sick=False))


def wait_recovered(stack, **kw):
    log(f"checked {stack.state.name}")
    if stack.sick:
        raise CheckTimeout("redis roles: no master", [])


def down(name):
    log(f"down {name}")


# for the whole session (this is a subprocess): stacks are also removed between items
bringup.bring_up, recovery.wait_recovered, removal.down = bring_up, wait_recovered, down
"""


def test_rh_reuse_stack_hands_a_healthy_stack_on_and_replaces_what_cannot_be(
    pytester: pytest.Pytester, tmp_path: Path
) -> None:
    """Tests marked rh_reuse_stack share one stack, checked before each hand-over; a stack
    whose test failed, or that does not recover, is removed and a fresh one started; an
    unmarked test or an incident gets a fresh stack and the kept one is removed before it; none
    is left at the end of the session."""
    log = tmp_path / "log"
    pytester._monkeypatch.setenv("RH_TEST_LOG", str(log))
    pytester._monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent/docker.sock")
    pytester.makeconftest(REUSE_CONFTEST)
    pytester.makepyfile(
        """
        import pytest

        reuse = pytest.mark.rh_reuse_stack

        @reuse
        def test_a(rh_stack):
            assert rh_stack.state.name == "s1"

        @reuse
        def test_b(rh_stack):
            assert rh_stack.state.name == "s1"

        @reuse
        def test_c_fails(rh_stack):
            assert rh_stack.state.name == "s1"
            raise AssertionError("left it broken")

        @reuse
        def test_d(rh_stack):
            assert rh_stack.state.name == "s2"
            rh_stack.sick = True

        @reuse
        def test_e(rh_stack):
            assert rh_stack.state.name == "s3"

        def test_f_fresh(rh_stack):
            assert rh_stack.state.name == "s4"

        @reuse
        def test_g(rh_stack):
            assert rh_stack.state.name == "s5"

        @reuse
        @pytest.mark.rh_incident("no-minfds")
        def test_h_incident(rh_stack):
            assert rh_stack.state.name == "s6"
        """
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=7, failed=1)
    assert log.read_text().splitlines() == [
        "up s1",
        "checked s1",  # test_b
        "checked s1",  # test_c_fails
        "down s1",  # its test failed
        "up s2",
        "checked s2",  # test_e: s2 does not recover
        "down s2",
        "up s3",
        "down s3",  # test_f_fresh is not marked
        "up s4",
        "down s4",
        "up s5",
        "down s5",  # an incident needs its own stack
        "up s6 incident",
        "down s6",
    ]
