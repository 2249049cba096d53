"""The project config file (reboot-harness.toml, or [tool.reboot-harness] in pyproject.toml):
found from the working folder upwards, validated line by line, and read the same way by the
CLI, the pytest plugin and Chaos Toolkit, below the command line and the environment."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from reboot_harness.errors import UsageError
from reboot_harness.faces.cli import main
from reboot_harness.inputs.config import find_config, load_config, project_config

pytest_plugins = ["pytester"]

ROOT = Path(__file__).resolve().parents[2]
MEMCACHED = ROOT / "examples" / "memcached"
# the cache host as a compose override of the shipped stack (the config file's `compose` key)
LAYERED = Path(__file__).parent / "data" / "compose" / "cache-layered.yaml"
TABLE = "[tool.reboot-harness]\n"


@pytest.fixture(autouse=True)
def _no_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """The variables that sit between the command line and the file, unset (and restored
    after: `main` adds the incident folders it resolves to $RH_INCIDENTS_DIR)."""
    for name in ("RH_PROJECT", "RH_SCENARIOS_DIR", "RH_INCIDENTS_DIR"):
        monkeypatch.setenv(name, "")  # (recorded, so that what the test sets is undone)
        monkeypatch.delenv(name)


def project(tmp_path: Path, text: str, *, form: str = "pyproject") -> Path:
    """A project folder whose config file holds ``text`` (keys only), with the memcached
    example's topology, incidents and scenarios beside it, and its host as a compose override
    in compose/cache.yaml."""
    for name in ("topology.yaml", "cache_checks.py"):
        (tmp_path / name).write_text((MEMCACHED / name).read_text())
    for folder in ("incidents", "scenarios"):
        (tmp_path / folder).mkdir(exist_ok=True)
        for f in (MEMCACHED / folder).glob("*.yaml"):
            (tmp_path / folder / f.name).write_text(f.read_text())
    (tmp_path / "compose").mkdir(exist_ok=True)
    (tmp_path / "compose" / "cache.yaml").write_text(LAYERED.read_text())
    if form == "pyproject":
        (tmp_path / "pyproject.toml").write_text(f'[project]\nname = "mine"\n\n{TABLE}{text}')
    else:
        (tmp_path / "reboot-harness.toml").write_text(text)
    return tmp_path


MINE = (
    'topology = "topology.yaml"\ncompose = ["compose/cache.yaml"]\nscenarios = "scenarios"\n'
    'incidents = ["incidents"]\n'
)


def cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    try:
        code = main(list(argv))
    except SystemExit as e:  # (argparse: --help, usage errors)
        code = int(e.code or 0)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


# -- discovery ----------------------------------------------------------------------------------


def test_the_nearest_file_in_the_working_folder_or_above_wins(tmp_path: Path) -> None:
    """From a folder deep inside, the nearest folder holding a config file wins; a
    pyproject.toml without [tool.reboot-harness] on the way does not count."""
    (tmp_path / "reboot-harness.toml").write_text('project = "outer"\n')
    inner = tmp_path / "a"
    (inner / "b" / "c").mkdir(parents=True)
    (inner / "pyproject.toml").write_text(f'{TABLE}project = "inner"\n')
    (inner / "b" / "pyproject.toml").write_text("[tool.ruff]\nline-length = 100\n")
    assert find_config(inner / "b" / "c") == inner / "pyproject.toml"
    assert project_config(inner / "b" / "c").project == "inner"
    assert project_config(tmp_path).project == "outer"


def test_both_files_in_one_folder_are_refused_naming_both(tmp_path: Path) -> None:
    """Which of two files a reader should trust is not guessed: one line names both."""
    (tmp_path / "reboot-harness.toml").write_text('project = "a"\n')
    (tmp_path / "pyproject.toml").write_text(f'{TABLE}project = "b"\n')
    with pytest.raises(UsageError) as e:
        find_config(tmp_path)
    assert str(e.value) == (
        f"{tmp_path}: both reboot-harness.toml and pyproject.toml [tool.reboot-harness]"
        " configure reboot-harness; keep one of them"
    )


@pytest.mark.parametrize("form", ["pyproject", "reboot-harness.toml"])
def test_both_forms_read_the_same_paths_relative_to_the_file(
    form: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Either form gives the same values; relative paths are relative to the file's folder,
    not the working folder."""
    root = project(tmp_path, MINE + 'up-timeout = "1m30s"\n', form=form)
    (root / "sub").mkdir()
    monkeypatch.chdir(root / "sub")
    config = project_config()
    assert config.topology == root / "topology.yaml"
    assert config.compose == (root / "compose" / "cache.yaml",)
    assert config.scenarios == (root / "scenarios",)
    assert config.incidents == (root / "incidents",)
    assert config.up_timeout == 90.0


# -- every error line ---------------------------------------------------------------------------

ERRORS = {
    "unknown key": (
        'colour = "blue"\n',
        "tool.reboot-harness.colour: unknown key 'colour'; valid: stack, topology, compose,"
        " incidents, scenarios, project, up-timeout, max-planned",
    ),
    "allow-unsafe is never from a file": (
        "allow-unsafe-compose = true\n",
        "tool.reboot-harness.allow-unsafe-compose: not settable from a file; give"
        " --allow-unsafe-compose on the command line of each call that needs it (a file would"
        " switch it on for every call, unseen)",
    ),
    "wrong type": ("topology = 3\n", "tool.reboot-harness.topology: expected a string, got the"
                   " integer 3"),
    "wrong type in a list": (
        'compose = ["compose/cache.yaml", 2]\n',
        "tool.reboot-harness.compose[1]: expected a string, got the integer 2",
    ),
    "not a list": (
        "scenarios = {a = 1}\n",
        "tool.reboot-harness.scenarios: expected a folder name or a list of them, got a mapping",
    ),
    "missing file": (
        'topology = "nowhere.yaml"\n',
        "tool.reboot-harness.topology: 'nowhere.yaml': no such file (relative to {root}); fix"
        " the path or remove the key",
    ),
    "missing folder": (
        'incidents = ["incidents", "gone"]\n',
        "tool.reboot-harness.incidents[1]: 'gone': no such folder (relative to {root}); fix the"
        " path or remove the key",
    ),
    "bad duration": (
        'up-timeout = "4 minutes"\n',
        "tool.reboot-harness.up-timeout: unknown unit 'minutes' in '4 minutes'; valid: more than"
        " 0s up to 24h, written 90, 90s, 1m30s, 2h or 500ms",
    ),
    "duration out of bounds": (
        'max-planned = "200h"\n',
        "tool.reboot-harness.max-planned: duration '200h' is above the maximum 168h; valid: 1s"
        " to 168h,"
        " written 90, 90s, 1m30s, 2h or 500ms",
    ),
}  # fmt: skip


@pytest.mark.parametrize("case", ERRORS)
def test_every_problem_is_one_line_naming_file_and_key(case: str, tmp_path: Path) -> None:
    """Unknown keys (and the options a file may not set), wrong types, missing files and
    folders, bad durations: one line, FILE: KEY: what; the way out."""
    text, expected = ERRORS[case]
    root = project(tmp_path, text)
    with pytest.raises(UsageError) as e:
        load_config(root / "pyproject.toml")
    assert str(e.value) == f"{root / 'pyproject.toml'}: {expected.format(root=root)}"


def test_a_top_level_file_names_keys_without_the_table(tmp_path: Path) -> None:
    """reboot-harness.toml's keys are at the top level, and its messages say so; bad TOML is
    one line too."""
    root = project(tmp_path, "project = 7\n", form="toml")
    with pytest.raises(UsageError, match=r"reboot-harness.toml: project: expected a string"):
        load_config(root / "reboot-harness.toml")
    (root / "reboot-harness.toml").write_text("project = \n")
    with pytest.raises(UsageError, match=r"reboot-harness.toml: not valid TOML \(.*\); fix"):
        load_config(root / "reboot-harness.toml")


def test_a_pyproject_whose_tool_entry_is_not_a_table_is_refused(tmp_path: Path) -> None:
    """`tool.reboot-harness = 3` is not a config to skip silently: one line says what it
    must be; an empty string is no file name either."""
    (tmp_path / "pyproject.toml").write_text("[tool]\nreboot-harness = 3\n")
    with pytest.raises(UsageError) as e:
        find_config(tmp_path)
    assert str(e.value) == (
        f"{tmp_path / 'pyproject.toml'}: tool.reboot-harness: expected a table"
        " ([tool.reboot-harness]), got the integer 3"
    )
    (tmp_path / "pyproject.toml").write_text(f'{TABLE}project = ""\n')
    with pytest.raises(UsageError, match=r"project: expected a string, got an empty string$"):
        project_config(tmp_path)


# -- the command line ---------------------------------------------------------------------------


def test_help_names_the_file_in_force(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The top-level --help ends with the config file in force, or says there is none, or
    why it cannot be read."""
    monkeypatch.chdir(tmp_path)
    code, out, _ = cli(capsys, "--help")
    assert code == 0
    assert "config: no config file found" in out
    root = project(tmp_path, MINE)
    code, out, _ = cli(capsys, "--help")
    assert f"config: {root / 'pyproject.toml'} [tool.reboot-harness]" in out
    project(tmp_path, 'stack = ["x"]\n')
    code, out, _ = cli(capsys, "--help")
    assert code == 0
    assert "config: " in out and "stack: expected a string, got a list" in out.replace("\n", " ")


def test_a_broken_file_stops_the_commands_that_read_it_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`list` with a broken config file is exit 2 and one line; `completion` reads no config
    and goes on."""
    root = project(tmp_path, 'colour = "blue"\n')
    monkeypatch.chdir(root)
    code, _, err = cli(capsys, "list")
    assert code == 2
    assert err.startswith(f"reboot-harness list: {root / 'pyproject.toml'}: tool.reboot-harness")
    assert cli(capsys, "completion", "bash")[0] == 0


def config_command(capsys: pytest.CaptureFixture[str], *argv: str) -> dict[str, tuple[str, str]]:
    """`reboot-harness config`'s table: key -> (value, source)."""
    code, out, err = cli(capsys, "config", *argv)
    assert code == 0, err
    rows = {}
    for line in out.splitlines()[1:]:
        key, rest = line.split(None, 1)
        value, source = rest.rsplit("  (", 1)
        rows[key] = (value.strip(), source.rstrip(")"))
    return rows


def test_config_shows_each_setting_and_where_it_came_from(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Command line > environment > file > default, key by key: --project beats $RH_PROJECT,
    which beats the file; $RH_SCENARIOS_DIR beats the file's scenarios; --compose replaces the
    file's; --stack seed beats the file's stack; incidents add up."""
    root = project(tmp_path, MINE + 'project = "filed"\nstack = "compose/cache.yaml"\n'
                   'max-planned = "2h"\n')  # fmt: skip
    monkeypatch.chdir(root / "scenarios")
    where = f"{root / 'pyproject.toml'} [tool.reboot-harness]"
    rows = config_command(capsys)
    assert rows["project"] == ("filed", where)
    assert rows["topology"] == (str(root / "topology.yaml"), where)
    assert rows["stack"] == (str(root / "compose" / "cache.yaml"), where)
    assert rows["max-planned"] == ("2h", where)
    assert rows["up-timeout"] == ("5m", "default")
    monkeypatch.setenv("RH_PROJECT", "from-env")
    monkeypatch.setenv("RH_SCENARIOS_DIR", str(tmp_path))
    other = tmp_path / "other.yaml"
    other.write_text("services: {}\n")
    rows = config_command(capsys, "--compose", str(other), "--stack", "seed",
                          "--incidents", str(root / "scenarios"))  # fmt: skip
    assert rows["project"] == ("from-env", "$RH_PROJECT")
    assert rows["scenarios"] == (str(tmp_path), "$RH_SCENARIOS_DIR")
    assert rows["compose"] == (str(other), "--compose")
    assert rows["stack"] == ("seed", "--stack")
    assert rows["incidents"] == (
        f"{root / 'incidents'}, {root / 'scenarios'}",
        f"{where} + --incidents",
    )
    assert config_command(capsys, "--project", "given")["project"] == ("given", "--project")
    monkeypatch.chdir(tmp_path.parent)
    (tmp_path / "pyproject.toml").unlink()
    assert config_command(capsys)["topology"] == ("-", "default")


def resolved(argv: list[str]) -> argparse.Namespace:
    from reboot_harness.faces.cli.parser import build_parser
    from reboot_harness.faces.cli.settings import apply_config

    args = build_parser().parse_args(argv)
    apply_config(args, project_config())
    return args


def test_the_file_feeds_the_one_run_request(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`run` and `up` resolve their RunRequest from the file's values where the command line
    is silent (the topology read, the compose files, up-timeout, max-planned), and from the
    command line where it is not."""
    from reboot_harness.faces.cli.commands import up_request
    from reboot_harness.faces.cli.run import run_request

    root = project(tmp_path, MINE + 'up-timeout = "1m30s"\nmax-planned = "1h"\n')
    monkeypatch.chdir(root)
    request = run_request(resolved(["run", "cache-reboot"]))
    assert request.topology_file == root / "topology.yaml"
    assert request.topology is not None and "cache" in request.topology.hosts
    assert request.compose == (root / "compose" / "cache.yaml",)
    assert (request.up_timeout, request.max_planned) == (90.0, 3600.0)
    mine = root / "mine.yaml"
    mine.write_text((root / "topology.yaml").read_text())
    request = run_request(resolved(["run", "x", "--max-planned", "2h", "--topology", str(mine)]))
    assert request.max_planned == 7200.0
    assert request.topology_file == mine
    assert up_request(resolved(["up", "--project", "p"]), None).up_timeout == 90.0
    assert (
        up_request(resolved(["up", "--project", "p", "--timeout", "10"]), None).up_timeout == 10.0
    )


def test_project_comes_from_the_file_and_is_still_required_without_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """--project may be left out when the file (or $RH_PROJECT) names it — the name is then
    judged as --project's is; without any, the usage error is argparse's, as before."""
    monkeypatch.chdir(tmp_path)
    code, _, err = cli(capsys, "down")
    assert code == 2
    assert "reboot-harness down: error: the following arguments are required: --project" in err
    (tmp_path / "reboot-harness.toml").write_text('project = "Not A Name!"\n')
    code, _, err = cli(capsys, "up")
    assert code == 2
    assert err.startswith("reboot-harness up: project name 'Not A Name!' is not valid")


def test_run_without_names_runs_the_configured_scenarios(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`run --dry-run` with no names plans every scenario of the file's folders, on the file's
    topology; `list` shows them; without a configured folder, a name is still required."""
    root = project(tmp_path, MINE)
    monkeypatch.chdir(root)
    code, out, err = cli(capsys, "run", "--dry-run")
    assert code == 0, err
    assert "cache-reboot" in out
    assert "2 scenario variants would run; nothing was started" in out
    code, out, _ = cli(capsys, "list")
    assert out.splitlines()[1].startswith("cache-reboot")
    monkeypatch.chdir(tmp_path.parent)
    code, _, err = cli(capsys, "run", "--dry-run")
    assert code == 2
    assert "the following arguments are required: SCENARIO" in err
    theirs = tmp_path / "theirs"
    theirs.mkdir()
    (theirs / "cold.yaml").write_text((ROOT / "scenarios" / "cold-start.yaml").read_text())
    monkeypatch.setenv("RH_SCENARIOS_DIR", str(theirs))  # (the environment's folder will do)
    code, out, err = cli(capsys, "run", "--dry-run")
    assert code == 0, err
    assert "cold-start" in out and "1 scenario variants would run" in out


# -- pytest and Chaos Toolkit read the same file ------------------------------------------------


def test_pytest_collects_the_files_scenarios_and_its_ini_wins(pytester: pytest.Pytester) -> None:
    """The plugin reads the file the CLI reads: its scenario folders are collected when
    neither rh_scenarios nor --rh-scenarios names one; pytest's own ini wins when it does."""
    project(pytester.path, MINE)
    result = pytester.runpytest_subprocess("--collect-only", "-q")
    result.stdout.fnmatch_lines(["scenarios/cache-reboot.yaml::cache-reboot[[]fixed[]]"])
    assert result.ret == 0
    other = pytester.mkdir("rehearsals")
    (other / "cold.yaml").write_text((ROOT / "scenarios" / "cold-start.yaml").read_text())
    pytester.makeini("[pytest]\nrh_scenarios = rehearsals\n")
    (pytester.path / "pyproject.toml").write_text(f'{TABLE}scenarios = "scenarios"\n')
    result = pytester.runpytest_subprocess("--collect-only", "-q")
    result.stdout.fnmatch_lines(["rehearsals/cold.yaml::cold-start[[]fixed[]]"])
    assert "cache-reboot" not in result.stdout.str()


def test_pytest_refuses_a_broken_file_in_one_line(pytester: pytest.Pytester) -> None:
    """A broken config file is pytest's usage error, naming the file and the key."""
    (pytester.path / "reboot-harness.toml").write_text('topology = "gone.yaml"\n')
    result = pytester.runpytest_subprocess("--collect-only")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*reboot-harness.toml: topology: 'gone.yaml': no such file*"])


def test_chaos_toolkit_finds_the_project_in_the_same_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An activity's stack: its argument, else the experiment's configuration, else
    $RH_PROJECT, else the file's project."""
    from reboot_harness.faces.chaostoolkit import project_of

    (tmp_path / "reboot-harness.toml").write_text('project = "filed"\n')
    monkeypatch.chdir(tmp_path)
    assert project_of(None, None, "x") == "filed"
    monkeypatch.setenv("RH_PROJECT", "env")
    assert project_of(None, None, "x") == "env"
    assert project_of(None, {"reboot_harness_project": "conf"}, "x") == "conf"
    assert project_of("arg", {"reboot_harness_project": "conf"}, "x") == "arg"


def test_pytest_request_takes_the_file_below_its_own_options_and_ini(
    pytester: pytest.Pytester,
) -> None:
    """The session's RunRequest: the file's topology, compose and durations where pytest's
    options and ini values are silent; the ini's compose and the option's topology win."""
    root = project(pytester.path, MINE + 'up-timeout = "1m30s"\nmax-planned = "1h"\n')
    (root / "mine.yaml").write_text((root / "topology.yaml").read_text())
    (root / "ini_over.yaml").write_text("services: {}\n")
    pytester.makepyfile(
        """
        import os
        from pathlib import Path

        from reboot_harness.faces.pytest_plugin.options import run_request

        def test_request(request):
            got = run_request(request.config)
            here = Path.cwd()
            assert (got.up_timeout, got.max_planned) == (90.0, 3600.0)
            assert got.topology_file == here / os.environ["WANT_TOPOLOGY"]
            assert got.compose == (here / os.environ["WANT_COMPOSE"],)
        """
    )
    pytester._monkeypatch.setenv("WANT_TOPOLOGY", "topology.yaml")
    pytester._monkeypatch.setenv("WANT_COMPOSE", "compose/cache.yaml")
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-k", "test_request")
    result.assert_outcomes(passed=1)
    pytester.makeini("[pytest]\nrh_compose = ini_over.yaml\n")
    pytester._monkeypatch.setenv("WANT_TOPOLOGY", "mine.yaml")
    pytester._monkeypatch.setenv("WANT_COMPOSE", "ini_over.yaml")
    result = pytester.runpytest_subprocess(
        "-p", "no:cacheprovider", "-k", "test_request", "--rh-topology", "mine.yaml"
    )
    result.assert_outcomes(passed=1)


def test_chaos_validate_checks_hosts_on_the_stack_the_file_names(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`chaos validate` run where the config file names a stack that is up checks an action's
    host against that stack's topology, as it does for $RH_PROJECT."""
    import json
    import os
    import subprocess

    from reboot_harness.stack.state import ProjectState
    from tests.unit.test_chaostoolkit import CHAOS

    state = tmp_path / "state"
    monkeypatch.setenv("XDG_STATE_HOME", str(state))
    ProjectState(
        name="p1", compose_dir="/x", compose_files=(), subnet_prefix="172.30.9",
        domain="rh.test", image_tag="t", base_image="b", owner="", keep=True,
    ).save()  # fmt: skip
    (tmp_path / "reboot-harness.toml").write_text('project = "p1"\n')
    experiment = tmp_path / "e.json"
    experiment.write_text(json.dumps({
        "version": "1.0.0", "title": "t", "description": "d",
        "method": [{"type": "action", "name": "one", "provider": {
            "type": "python", "module": "reboot_harness.chaostoolkit", "func": "reboot",
            "arguments": {"host": "app9"}}}],
    }))  # fmt: skip
    proc = subprocess.run(
        [CHAOS, "--no-version-check", "--log-file", str(tmp_path / "log"), "validate",
         str(experiment)],
        capture_output=True, text=True, timeout=120, cwd=tmp_path,
        env={**os.environ, "DOCKER_HOST": "unix:///nonexistent.sock"},
    )  # fmt: skip
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "reboot_harness.chaostoolkit.reboot: host: unknown host 'app9'; known: app1" in (
        proc.stderr
    )
