"""The command line's manners (issue 23, items 3 and 5): every subcommand's --help says what it
does, shows an example and its exit codes; shell completion from the parser; `list` readable at
80 columns; `validate` and `run --dry-run` read input and start nothing; `run --junitxml`."""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from reboot_harness.faces.cli.parser import build_parser

RH = [sys.executable, "-m", "reboot_harness"]
ROOT = Path(__file__).resolve().parents[2]
VALID = "name: x\ndescription: d\nsteps:\n  - reboot: {host: app1}\nexpect: {recover_within: 30s}\n"
# What validating or planning must never import: the engine's and the services' clients.
HEAVY = ("docker", "redis", "pymysql", "socketio", "dns", "reboot_harness.checks.run",
         "reboot_harness.stack.hosts", "reboot_harness.run.loop")  # fmt: skip


def run(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    environ = {**os.environ, "DOCKER_HOST": "unix:///nonexistent/docker.sock", **env}
    return subprocess.run([*RH, *args], capture_output=True, text=True, env=environ, timeout=60)


def _subcommands() -> dict[str, argparse.ArgumentParser]:
    parser = build_parser()
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(action.choices)


# -- --help ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(_subcommands()))
def test_every_subcommand_help_has_a_description_an_example_and_exit_codes(name: str) -> None:
    """Each subcommand's --help has a paragraph saying what it does, an example invoking it, and
    its exit codes (0 and 2 at least), laid out as written."""
    text = _subcommands()[name].format_help()
    description = _subcommands()[name].description or ""
    assert len(description.split()) >= 8, f"{name}: no description paragraph"
    assert description.split()[0] in text
    example = re.search(r"^example:\n  (reboot-harness \S+.*)$", text, re.M)
    assert example, f"{name}: no example"
    assert example.group(1).split()[1] == name
    assert re.search(r"^exit codes:\n  0  .+\n(  \d.*\n)*  2  ", text, re.M), f"{name}: exit codes"


def test_every_example_in_help_parses() -> None:
    """The example each --help shows is a command line the parser accepts."""
    for name, sub in _subcommands().items():
        line = re.search(r"^example:\n  (.+)$", sub.epilog or "", re.M)
        assert line, name
        argv = line.group(1).split()[1:]
        argv = [a for a in argv if a != ">" and not a.startswith("~")]  # (a shell redirection)
        build_parser().parse_args(argv)


def test_top_level_help_gives_the_exit_codes_and_where_completion_is() -> None:
    """`reboot-harness --help` ends with the exit codes and how to get shell completion."""
    text = build_parser().format_help()
    assert "exit codes: 0 everything held, 1 a check or scenario failed, 2 bad input" in text
    assert "`reboot-harness completion --help` says how to install it" in text
    install = _subcommands()["completion"].format_help()
    assert "~/.local/share/bash-completion/completions/reboot-harness" in install


# -- completion ------------------------------------------------------------------------------------


@pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")
def test_bash_completion_is_valid_and_completes_a_subcommand(tmp_path: Path) -> None:
    """`completion bash` prints a script bash accepts (bash -n) which completes `reboot-harness
    val` to `validate`, `run --dry` to `--dry-run`, and a path option's value to a file."""
    proc = run("completion", "bash")
    assert proc.returncode == 0, proc.stderr
    script = tmp_path / "reboot-harness.bash"
    script.write_text(proc.stdout)
    assert subprocess.run(["bash", "-n", str(script)], capture_output=True).returncode == 0
    probe = f"""
source {script}
complete_of() {{
  COMP_WORDS=("$@"); COMP_CWORD=$(( ${{#COMP_WORDS[@]}} - 1 ))
  COMP_LINE="${{COMP_WORDS[*]}}"; COMP_POINT=${{#COMP_LINE}}
  COMPREPLY=()
  "$(complete -p reboot-harness | sed -E 's/.*-F ([^ ]+).*/\\1/')" reboot-harness \
    "${{COMP_WORDS[COMP_CWORD]}}" "${{COMP_WORDS[COMP_CWORD-1]}}"
  echo "${{COMPREPLY[*]}}"
}}
complete_of reboot-harness val
complete_of reboot-harness run --dry
complete_of reboot-harness run --topology pyproj
"""
    out = subprocess.run(
        ["bash", "-c", probe], capture_output=True, text=True, timeout=30, cwd=ROOT
    )
    assert out.returncode == 0, out.stderr
    first, second, third = out.stdout.splitlines()
    assert first.split() == ["validate"]
    assert "--dry-run" in second.split()
    assert third.split() == ["pyproject.toml"]  # a path option completes files


@pytest.mark.parametrize("shell", ["zsh", "fish"])
def test_zsh_and_fish_completion_name_every_subcommand(shell: str) -> None:
    """`completion zsh|fish` prints a script naming every subcommand; an unknown shell is a
    usage error (exit 2)."""
    proc = run("completion", shell)
    assert proc.returncode == 0, proc.stderr
    for name in _subcommands():
        assert name in proc.stdout, name
    assert run("completion", "tcsh").returncode == 2


# -- list ------------------------------------------------------------------------------------------


def test_list_at_80_columns_keeps_every_name_whole() -> None:
    """At COLUMNS=80 `list` is a line per scenario within 80 columns, each starting with its
    whole name; `--long` keeps names and words whole too and says what each one does."""
    names = [p.stem for p in sorted((ROOT / "scenarios").glob("*.yaml"))]
    proc = run("list", COLUMNS="80")
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert all(len(line) <= 80 for line in lines), lines
    assert [line.split()[0] for line in lines[1 : 1 + len(names)]] == names
    assert len(lines) == len(names) + 2
    long = run("list", "--long", COLUMNS="80")
    assert long.returncode == 0, long.stderr
    words = long.stdout.split()
    assert all(len(line) <= 80 for line in long.stdout.splitlines())
    for name in names:
        assert name in long.stdout.splitlines()
    description = "every host down at once"
    assert description in " ".join(words)


# -- validate --------------------------------------------------------------------------------------


def test_validate_accepts_the_shipped_files() -> None:
    """The shipped scenarios, incidents and stack validate (exit 0), each kind told from its
    content."""
    files = [*sorted((ROOT / "scenarios").glob("*.yaml")),
             *sorted((ROOT / "compose" / "incidents").glob("*.yaml"))]  # fmt: skip
    proc = run("validate", *map(str, files))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == f"{len(files)} files valid"


def test_validate_reports_every_problem_of_every_file_one_line_each(tmp_path: Path) -> None:
    """Every file is checked (not only up to the first bad one); each problem is one line
    `FILE: ...`, and pydantic's several errors in one file are each a line; exit 2."""
    bad = tmp_path / "bad.yaml"
    bad.write_text(VALID.replace("app1", "app3") + "colour: red\n")
    good = tmp_path / "good.yaml"
    good.write_text(VALID)
    topo = tmp_path / "topology.yaml"
    topo.write_text("lbs: [lb9]\n")
    incident = tmp_path / "inc.yaml"
    incident.write_text(
        "services: {app1: {}}\nx-reboot-harness:\n  summary: s\n  reproduced_by:\n"
        "    - {check: nope, cause: x}\n"
    )
    proc = run("validate", str(bad), str(good), str(topo), str(incident))
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert lines[:2] == [
        f"{bad}: colour: unknown key 'colour'; valid: budgets, description, expect, name,"
        " reproduces, seed, steps, traffic",
        f"{bad}: steps[0].reboot.host: unknown host 'app3'; known: app1, app2, dns, graphite,"
        " lb1, lb2, mysql1, mysql2, redis1, redis2, redis3",
    ]
    assert lines[2].startswith(f"{topo}: lbs: 'lb9' is not a host of daemons")
    assert lines[3].startswith(f"{incident}: x-reboot-harness.reproduced_by[0].check: unknown")
    assert len(lines) == 4
    assert not any(str(good) in line for line in lines)


def test_validate_kind_can_be_named_and_a_topology_given(tmp_path: Path) -> None:
    """--kind reads every file as that kind; --topology checks scenarios against the user's
    hosts (a host of theirs is known, a shipped one is not)."""
    topo = ROOT / "examples" / "memcached" / "topology.yaml"
    scenario = tmp_path / "s.yaml"
    scenario.write_text(VALID.replace("app1", "cache"))
    proc = run("validate", str(scenario), "--topology", str(topo))
    assert proc.returncode == 0, proc.stderr
    proc = run("validate", str(scenario))
    assert proc.returncode == 2 and "unknown host 'cache'" in proc.stderr
    proc = run("validate", "--kind", "topology", str(scenario))
    assert proc.returncode == 2
    assert proc.stderr.startswith(f"{scenario}: ") and "unknown key" in proc.stderr


def test_validate_tells_an_incident_by_its_block(tmp_path: Path) -> None:
    """A file with an x-reboot-harness block is read as an incident, even without services
    (the incident's loader then says what is missing)."""
    path = tmp_path / "inc.yaml"
    path.write_text("x-reboot-harness: {summary: s}\n")
    proc = run("validate", str(path))
    assert proc.returncode == 2
    assert proc.stderr.strip() == (
        f"{path}: not a compose override: expected a mapping with a 'services' key"
    )


def test_validate_without_the_compose_plugin_says_so_in_one_line(tmp_path: Path) -> None:
    """A compose override is judged through `docker compose config`: without the `docker`
    command, one line says what to install, exit 2."""
    compose = tmp_path / "override.yaml"
    compose.write_text("services:\n  app1:\n    environment: {A: '1'}\n")
    proc = run("validate", str(compose), PATH=str(tmp_path))
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("reboot-harness validate: ")
    assert "docker" in lines[0]


@pytest.mark.skipif(shutil.which("docker") is None, reason="needs the docker command")
def test_validate_refuses_an_unsafe_compose_override(tmp_path: Path) -> None:
    """A compose override is held to the rules `run` holds it to: privileged is refused."""
    compose = tmp_path / "override.yaml"
    compose.write_text("services:\n  app1:\n    privileged: true\n")
    proc = run("validate", str(compose))
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.startswith(f"{compose}: ") and "privileged" in proc.stderr


def test_validate_and_dry_run_never_load_the_engine_clients() -> None:
    """`validate` and `run --dry-run` import neither Docker's nor the services' clients, nor
    the run loop."""
    code = (
        "import sys; from reboot_harness.faces.cli import main; "
        f"a = main(['validate', '{ROOT}/scenarios/cold-start.yaml']); "
        "b = main(['run', 'lb-no-dns-rotation', '--dry-run']); "
        f"print(a, b, sorted(m for m in {HEAVY!r} if m in sys.modules))"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().splitlines()[-1] == "0 0 []"


# -- run --dry-run ---------------------------------------------------------------------------------


def test_dry_run_shows_the_plan_of_each_variant() -> None:
    """`run --dry-run` prints each variant's steps with planned times and hosts, the checks
    that judge it, its traffic and budgets, and the incident's declared cause; exit 0."""
    proc = run("run", "lb-no-dns-rotation", "--dry-run")
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert "lb-no-dns-rotation[fixed]" in out and "lb-no-dns-rotation[incident]" in out
    assert re.search(r"\+ +15s steps\[2\] reboot on lb1 \(host=lb1, mode=graceful", out)
    assert "recovery: within 30s, judged by nginx, dns, processes" in out
    assert "budgets: http: downtime <= 0s, errors <= 0" in out
    assert "must fail by: http budget max_errors [lb1]" in out
    assert "steps[1] dns_rotate on lb1, dns: skipped" in out
    assert out.strip().endswith("2 scenario variants would run; nothing was started")


def test_dry_run_json_matches_its_schema() -> None:
    """`run --dry-run --json` is a document of the plans, valid against plan.schema.json."""
    import jsonschema

    from reboot_harness.report.serialize import schema

    proc = run("run", "lb-no-dns-rotation", "cold-start", "--dry-run", "--json")
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    jsonschema.validate(doc, schema("plan"))
    fixed, incident, cold = doc["plans"]
    assert [s["at_s"] for s in fixed["steps"]] == [0, 3, 15, 30, 60, 72]
    assert fixed["planned_s"] == 105 and fixed["steps"][2]["hosts"] == ["lb1"]
    assert incident["incident"] == "lb-no-dns-rotation"
    assert incident["reproduced_by"] == [
        {"kind": "budget", "name": "http", "cause": "max_errors", "host": "lb1"}
    ]
    assert cold["traffic"] is False and cold["budgets"] == []
    broken = {**doc, "plans": [{k: v for k, v in fixed.items() if k != "checks"}]}
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(broken, schema("plan"))


def test_dry_run_refuses_bad_input_with_exit_2() -> None:
    """Bad input is refused by --dry-run as by run itself."""
    proc = run("run", "no-such-scenario", "--dry-run")
    assert proc.returncode == 2 and "unknown scenario 'no-such-scenario'" in proc.stderr
    proc = run("run", "long-outage", "--dry-run", "--max-planned", "5m")
    assert proc.returncode == 2 and "more than --max-planned 5m" in proc.stderr


def test_dry_run_writes_nothing(tmp_path: Path) -> None:
    """A dry run creates neither the --report folder nor the --junitxml file's folder."""
    report, junit = tmp_path / "report", tmp_path / "junit" / "junit.xml"
    proc = run("run", "cold-start", "--dry-run", "--report", str(report), "--junitxml", str(junit))
    assert proc.returncode == 0, proc.stderr
    assert not report.exists() and not junit.parent.exists()


# -- run --junitxml --------------------------------------------------------------------------------


def test_junit_xml_has_a_testcase_per_variant_with_failures_and_properties() -> None:
    """The JUnit XML of run results: one testsuite, a testcase per scenario variant with its
    time and properties (project, seed), a failure carrying the verdict's lines for a failed
    one; counts add up."""
    from reboot_harness.report.junit import junit_xml
    from tests.unit.test_report import sample_results

    results = sample_results()
    results[2].reason = "not recovered\x00 within 60s"  # (a control character XML cannot hold)
    root = ET.fromstring(junit_xml(results, seeds={"cold-start": 7}))
    assert root.tag == "testsuites"
    (suite,) = root.findall("testsuite")
    assert suite.get("name") == "reboot-harness"
    assert (suite.get("tests"), suite.get("failures"), suite.get("errors")) == ("3", "1", "0")
    cases = suite.findall("testcase")
    assert [c.get("name") for c in cases] == [r.test_id for r in results]
    for case, result in zip(cases, results, strict=True):
        assert float(case.get("time", "")) == pytest.approx(result.duration_s, abs=1e-3)
        props = {p.get("name"): p.get("value") for p in case.iter("property")}
        assert props["project"] == result.project
        assert props["seed"] == ("7" if result.name == "cold-start" else "0")
    assert [c.find("failure") is not None for c in cases] == [False, False, True]
    failure = cases[2].find("failure")
    assert failure is not None and failure.text is not None
    assert "limits" in failure.text and failure.get("message") == "not recovered\ufffd within 60s"


def test_junitxml_to_a_folder_that_cannot_be_written_is_refused_first(tmp_path: Path) -> None:
    """`run --junitxml` into a folder that cannot be written exits 2 before anything starts."""
    blocker = tmp_path / "file"
    blocker.write_text("")
    proc = run("run", "cold-start", "--junitxml", str(blocker / "junit.xml"))
    assert proc.returncode == 2
    assert f"--junitxml {blocker}: cannot write there" in proc.stderr
    assert "Docker" not in proc.stderr


def test_run_junitxml_writes_the_runs_results(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`run --junitxml FILE` writes a testcase per scenario variant run, the failed one with
    its failure and the scenario's seed; the run's exit code is unchanged (1: one failed). The
    scenarios run as fakes: no Docker."""
    from reboot_harness.faces import cli
    from reboot_harness.run import loop
    from reboot_harness.stack import removal
    from reboot_harness.stack.removal import Removed

    monkeypatch.delenv("RH_ENGINES", raising=False)
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path))
    monkeypatch.setattr(removal, "gc", lambda **_: Removed())

    def fake_run(scenario: object, variant: str, **_: object) -> loop.ScenarioResult:
        name = str(getattr(scenario, "name"))  # noqa: B009 - a Scenario
        ok = variant == "fixed"
        return loop.ScenarioResult(name, variant, ok, "why", 2.5, f"rh-{name}")

    monkeypatch.setattr(loop, "run_scenario", fake_run)
    junit = tmp_path / "out" / "junit.xml"
    assert cli.main(["run", "no-minfds", "long-outage", "--junitxml", str(junit)]) == 1
    assert f"JUnit XML: {junit}" in " ".join(capsys.readouterr().out.split())
    suite = ET.parse(junit).getroot().find("testsuite")
    assert suite is not None and (suite.get("tests"), suite.get("failures")) == ("3", "1")
    cases = {c.get("name"): c for c in suite.findall("testcase")}
    assert sorted(cases) == ["long-outage[fixed]", "no-minfds[fixed]", "no-minfds[incident]"]
    assert cases["no-minfds[incident]"].find("failure") is not None
    seeds = {n: p.get("value") for n, c in cases.items() for p in c.iter("property")
             if p.get("name") == "seed"}  # fmt: skip
    assert seeds["long-outage[fixed]"] == "75"
