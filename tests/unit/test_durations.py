"""reboot_harness.inputs.durations: one grammar for every duration (``90``, ``90s``, ``1m30s``,
``2h``, ``500ms``) and one wording for every refusal, wherever a duration is read: the command
line, scenario files, one-shot steps and the pytest plugin's options."""

from __future__ import annotations

import math
import re
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from reboot_harness.errors import ScenarioError
from reboot_harness.faces.cli.parser import build_parser
from reboot_harness.inputs.durations import GRAMMAR, UNITS, _seconds, parse_duration
from reboot_harness.model.checks import CHECK_NAMES
from reboot_harness.model.topology import Topology
from reboot_harness.run.oneshot import step_of
from reboot_harness.scenarios.files import parse_scenario

pytest_plugins = ["pytester"]

ROOT = Path(__file__).resolve().parents[2]
BAD = "1m30"  # a number after the last unit: refused everywhere with one line
ACCEPTED = "1m30s"
UNBOUNDED = 1e12


def _refusal(value: str) -> str:
    return f"bad duration {value!r}; valid: "


# -- the grammar -----------------------------------------------------------------------------


@given(
    st.lists(st.sampled_from(list(UNITS)), min_size=1, max_size=4, unique=True),
    st.lists(st.integers(min_value=0, max_value=10**6), min_size=4, max_size=4),
    st.booleans(),
)
def test_parts_largest_unit_first_add_up(
    units: list[str], numbers: list[int], spaced: bool
) -> None:
    """Any parts with distinct units written largest first are the sum of number x unit; a
    space between parts changes nothing."""
    units.sort(key=lambda u: -UNITS[u])
    text = (" " if spaced else "").join(f"{n}{u}" for n, u in zip(numbers, units, strict=False))
    want = sum(n * UNITS[u] for n, u in zip(numbers, units, strict=False))
    assert _seconds(text, 0.0, UNBOUNDED, True) == pytest.approx(want)


@given(st.integers(min_value=0, max_value=10**9) | st.floats(0, 1e9, allow_nan=False))
def test_a_number_of_seconds_is_the_same_written_as_text_or_with_s(seconds: float) -> None:
    """``90``, ``'90'`` and ``'90s'`` are one duration."""
    text = repr(seconds) if isinstance(seconds, float) else str(seconds)
    if "e" in text:  # exponents are not part of the grammar
        return
    got = _seconds(seconds, 0.0, UNBOUNDED, True)
    assert _seconds(text, 0.0, UNBOUNDED, True) == got == _seconds(f"{text}s", 0.0, UNBOUNDED, True)


@given(st.text(alphabet="0123456789hmsx .-", max_size=12))
def test_every_string_is_a_duration_or_one_refusal_in_one_wording(text: str) -> None:
    """Whatever the string, it is seconds, or a ValueError of one line that shows the value
    given, the bounds and the grammar."""
    try:
        seconds = _seconds(text, 0.0, 3600.0, True)
    except ValueError as e:
        message = str(e)
        assert "\n" not in message
        assert re.fullmatch(r".*; valid: 0s to 1h, " + re.escape(GRAMMAR), message), message
        assert repr(text) in message or "got" in message, message
    else:
        assert 0.0 <= seconds <= 3600.0 and not math.isnan(seconds)


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("1m30", "bad duration '1m30'"),
        ("30s1m", "bad duration '30s1m' (each unit once, the largest first)"),
        ("1s1s", "bad duration '1s1s' (each unit once, the largest first)"),
        ("5min", "unknown unit 'min' in '5min'"),
        ("", "bad duration ''"),
        ("-90", "negative duration '-90'"),
        ("2h", "duration '2h' is above the maximum 1h"),
    ],
)
def test_a_refusal_names_the_value_the_bounds_and_the_grammar(text: str, problem: str) -> None:
    with pytest.raises(ValueError) as e:
        _seconds(text, 0.0, 3600.0, True)
    assert str(e.value) == f"{problem}; valid: 0s to 1h, {GRAMMAR}"


# -- every entry point: accepts 1m30s, refuses 1m30 with the same line ---------------------------


@pytest.mark.parametrize(
    ("argv", "dest", "valid"),
    [
        (["up", "--project", "p", "--timeout"], "timeout", "more than 0s up to 24h"),
        (["check", "--project", "p", "--deadline"], "deadline", "more than 0s up to 24h"),
        (["run", "cold-start", "--max-duration"], "max_duration", "1s to 168h"),
        (["run", "cold-start", "--max-planned"], "max_planned", "1s to 168h"),
    ],
)
def test_every_duration_option_of_the_command_line_reads_the_grammar(
    argv: list[str], dest: str, valid: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """`up --timeout`, `check --deadline`, `run --max-duration` and `--max-planned` take
    ``1m30s`` (and ``90``, ``4m``); a bad one exits 2 with argparse's line naming the option."""
    assert getattr(build_parser().parse_args([*argv, ACCEPTED]), dest) == 90.0
    assert getattr(build_parser().parse_args([*argv, "90"]), dest) == 90.0
    assert getattr(build_parser().parse_args([*argv, "4m"]), dest) == 240.0
    with pytest.raises(SystemExit) as e:
        build_parser().parse_args([*argv, BAD])
    assert e.value.code == 2
    last = capsys.readouterr().err.strip().splitlines()[-1]
    assert last.endswith(f"error: argument {argv[-1]}: {_refusal(BAD)}{valid}, {GRAMMAR}"), last


def test_a_scenario_key_reads_the_grammar() -> None:
    """A scenario's durations (here ``down_for``) take ``1m30s`` and refuse ``1m30`` with the
    line of the command line, after the file and key path."""
    doc = (
        "name: d\ndescription: d\nsteps:\n  - reboot: {host: app1, down_for: %s}\n"
        "expect: {recover_within: 60s}\n"
    )
    known = {"topology": Topology(), "checks": CHECK_NAMES, "incidents": ()}
    scenario = parse_scenario(doc % ACCEPTED, source="d.yaml", **known)  # type: ignore[arg-type]
    assert scenario.steps[0].down_for == 90.0  # type: ignore[attr-defined]
    with pytest.raises(ScenarioError) as e:
        parse_scenario(doc % BAD, source="d.yaml", **known)  # type: ignore[arg-type]
    assert str(e.value) == (
        f"d.yaml: steps[0].reboot.down_for: {_refusal(BAD)}0s to 30m, {GRAMMAR}"
    )


def test_a_one_shot_step_option_reads_the_grammar() -> None:
    """`reboot-harness reboot app1 --down-for 1m30s`: the step's option takes the grammar and
    refuses with the scenario's line in the option's spelling."""
    got = step_of({"reboot": {"host": "app1", "down_for": ACCEPTED}}, "rh reboot", "p", Topology())
    assert got.down_for == 90.0  # type: ignore[attr-defined]
    with pytest.raises(ScenarioError) as e:
        step_of({"reboot": {"host": "app1", "down_for": BAD}}, "rh reboot", "p", Topology())
    assert str(e.value).endswith(f"--down-for: {_refusal(BAD)}0s to 30m, {GRAMMAR}")


def test_parse_duration_puts_where_before_the_same_line() -> None:
    with pytest.raises(ScenarioError) as e:
        parse_duration(BAD, where="x.yaml: k", minimum=1.0, maximum=7 * 86400.0, allow_zero=False)
    assert str(e.value) == f"x.yaml: k: {_refusal(BAD)}1s to 168h, {GRAMMAR}"


def test_the_pytest_option_reads_the_grammar(pytester: pytest.Pytester) -> None:
    """--rh-max-duration takes ``1m30s`` (the session's request holds 90 s) and refuses
    ``1m30`` with the line of `run --max-duration` (the same bounds)."""
    pytester.makepyfile(
        """
        from reboot_harness.faces.pytest_plugin.options import run_request

        def test_limit(request):
            assert run_request(request.config).max_duration == 90.0
        """
    )
    ok = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--rh-max-duration", ACCEPTED)
    ok.assert_outcomes(passed=1)
    bad = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--rh-max-duration", BAD)
    assert bad.ret == pytest.ExitCode.USAGE_ERROR
    bad.stderr.fnmatch_lines(
        [f"*error: argument --rh-max-duration: {_refusal(BAD)}1s to 168h, {GRAMMAR}"]
    )
