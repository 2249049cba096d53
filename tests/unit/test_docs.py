"""The reference pages of docs/reference/ are what the code generates now
(reboot_harness.faces.docs)."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from reboot_harness.faces import docs


@pytest.mark.parametrize("name", sorted(docs.PAGES))
def test_each_generated_reference_is_what_the_code_generates_now(name: str) -> None:
    """docs/reference/NAME is regenerated in memory; a difference names the file and the
    command that refreshes it."""
    path = docs.REFERENCE / name
    assert path.is_file(), f"{path}: missing; run `{docs.REFRESH}` to write it"
    assert path.read_text(encoding="utf-8") == docs.PAGES[name](), (
        f"{path}: stale (generated from the code); run `{docs.REFRESH}` to refresh it"
    )


def test_an_option_added_to_the_parser_makes_the_cli_reference_stale(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The check is not blind: a new option of `run` changes the generated page, and `--check`
    names the stale file and the command, exit 1; writing the pages makes it fresh again."""
    from reboot_harness.faces.cli import parser as cli_parser

    assert docs.main(["--out", str(tmp_path)]) == 0
    assert docs.main(["--check", "--out", str(tmp_path)]) == 0
    built = cli_parser.build_parser

    def with_an_option() -> argparse.ArgumentParser:
        p = built()
        for action in p._actions:
            if isinstance(action, argparse._SubParsersAction):
                action.choices["run"].add_argument("--brand-new", help="an option the page lacks")
        return p

    monkeypatch.setattr(cli_parser, "build_parser", with_an_option)
    assert "| `--brand-new BRAND_NEW` | an option the page lacks |" in docs.cli_reference()
    assert docs.stale(tmp_path) == [
        f"{tmp_path / 'cli.md'}: stale (generated from the code); run `{docs.REFRESH}` to"
        " refresh it"
    ]
    assert docs.main(["--check", "--out", str(tmp_path)]) == 1
    assert docs.main(["--out", str(tmp_path)]) == 0
    assert docs.stale(tmp_path) == []


def test_every_step_kind_and_topology_key_is_in_the_references() -> None:
    """The scenario reference has a section per step kind with each of its keys; the topology
    reference a row per key a topology file may have."""
    from reboot_harness.inputs.topology import FIELDS
    from reboot_harness.steps import KINDS
    from reboot_harness.steps.kind import parameters

    scenario = docs.scenario_reference()
    for kind in KINDS:
        section = scenario.split(f"### `{kind.KEY}`\n", 1)[1].split("\n### ", 1)[0]
        for p in parameters(kind):
            assert f"| `{p.key}` |" in section, (kind.KEY, p.key)
    topology = docs.topology_reference()
    assert [k for k in FIELDS if f"| `{k}` |" not in topology] == []
