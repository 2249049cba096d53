"""The documents: the README stays short, every relative link of README.md and docs/ leads to a
file (and heading) that exists, every command they show parses, and the reference pages of
docs/reference/ are what the code generates now (reboot_harness.faces.docs)."""

from __future__ import annotations

import argparse
import re
import shlex
from pathlib import Path

import pytest

from reboot_harness.faces import docs

REPO = Path(__file__).resolve().parents[2]
PAGES = [REPO / "README.md", *sorted((REPO / "docs").rglob("*.md"))]
LINK = re.compile(r"(?<!!)\[[^\]]*\]\(([^)\s]+)\)|!\[[^\]]*\]\(([^)\s]+)\)")


def _slug(heading: str) -> str:
    """The anchor GitHub gives a heading: lowercase, punctuation dropped, spaces to '-'."""
    text = re.sub(r"[`*_]|\[([^\]]*)\]\([^)]*\)", r"\1", heading.strip()).lower()
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def _anchors(page: Path) -> set[str]:
    text = re.sub(r"```.*?```", "", page.read_text(encoding="utf-8"), flags=re.S)
    return {_slug(m.group(1)) for m in re.finditer(r"^#{1,6} (.+)$", text, re.M)}


def _links(page: Path) -> list[str]:
    text = re.sub(r"```.*?```", "", page.read_text(encoding="utf-8"), flags=re.S)
    text = re.sub(r"`[^`\n]*`", "", text)  # code spans are not links
    return [a or b for a, b in LINK.findall(text)]


def test_the_readme_is_at_most_150_lines() -> None:
    """What a newcomer reads first stays short; the rest is in docs/."""
    lines = (REPO / "README.md").read_text(encoding="utf-8").splitlines()
    assert len(lines) <= 150, f"README.md has {len(lines)} lines; move the detail to docs/"


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(REPO)))
def test_every_relative_link_leads_to_a_file_and_heading_that_exist(page: Path) -> None:
    """A relative link names a file of the checkout; an anchor (#...) names a heading of the
    page it points to."""
    broken = []
    for link in _links(page):
        if re.match(r"[a-z]+:", link):
            continue  # https:, mailto:: not ours to check offline
        target, _, anchor = link.partition("#")
        path = (page.parent / target).resolve() if target else page
        if not path.exists():
            broken.append(f"{link}: no such file")
        elif anchor and path.suffix == ".md" and anchor not in _anchors(path):
            broken.append(f"{link}: no heading #{anchor} in {path.name}")
    assert not broken, f"{page.relative_to(REPO)}: " + "; ".join(broken)


def test_the_readme_links_every_page_of_docs() -> None:
    """Where the rest is: every page of docs/ is linked from README.md."""
    linked = {(REPO / link.partition("#")[0]).resolve() for link in _links(REPO / "README.md")}
    pages = {p.resolve() for p in (REPO / "docs").rglob("*.md")}
    missing = sorted(str(p.relative_to(REPO)) for p in pages - linked)
    assert not missing, f"README.md links none of {missing}"


def _commands(page: Path) -> list[str]:
    """The `reboot-harness ...` command lines of a page's code, as written (a `$ ` prompt and a
    trailing `# comment` taken off); lines in a synopsis notation (`[--opt]`, `a|b`, `…`) are
    not commands."""
    found = []
    fenced = False
    for line in page.read_text(encoding="utf-8").splitlines():
        if line.startswith("```"):
            fenced = not fenced
            continue
        if not fenced and not line.startswith("    "):
            continue  # prose, not code
        words = line.strip().removeprefix("$ ").split(" #", 1)[0].strip()
        first = words.split(" ", 1)[0]
        if first.endswith("reboot-harness") and not re.search(r"[\[\]|…<>]|\.\.\.", words):
            found.append(words)
    return found


@pytest.mark.parametrize(
    "page", [p for p in PAGES if "reference" not in p.parts], ids=lambda p: str(p.relative_to(REPO))
)
def test_every_command_a_page_shows_is_one_the_command_line_takes(page: Path) -> None:
    """A command shown in the README or docs/ parses with today's parser (a renamed option or
    command fails here, naming the page and the line)."""
    from reboot_harness.faces.cli.parser import build_parser

    parser = build_parser()
    # as written: an abbreviation argparse would take (`--down` for `--down-for`) is refused
    for each in (parser, *docs._subcommands(parser).values()):
        each.allow_abbrev = False
    refused = []
    for line in _commands(page):
        try:
            parser.parse_args(shlex.split(line)[1:])
        except SystemExit:
            refused.append(line)
    assert not refused, f"{page.relative_to(REPO)}: the command line refuses: {refused}"


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
