"""The wheel's package list is the harness's packages plus the shipped data, and the code finds
the shipped directories in the checkout and, installed, inside the package."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from reboot_harness.inputs import paths

REPO = Path(__file__).resolve().parents[2]


def _importable(root: Path, under: Path) -> list[str]:
    """Every folder below ``root`` (itself included) that setuptools sees as a package — each
    part of its path a Python name — named as it is in the wheel, below ``under``."""
    return [
        ".".join([*under.parts, *d.relative_to(root).parts])
        for d in [root, *root.rglob("*")]
        if d.is_dir()
        and "__pycache__" not in d.parts
        and all(part.isidentifier() for part in d.relative_to(root).parts)
    ]


def test_the_wheel_lists_every_package_and_the_shipped_data() -> None:
    """Every folder the wheel build would call a package is listed (the build warns of each one
    left out: "package would be ignored"): the code's, its schemas and the shipped data."""
    conf = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]
    found = _importable(REPO / "reboot_harness", Path("reboot_harness"))
    data = Path("reboot_harness", "_data")
    found += _importable(REPO / "compose", data / "compose")
    found += _importable(REPO / "scenarios", data / "scenarios")
    assert sorted(conf["packages"]) == sorted(found)
    assert conf["package-dir"] == {
        "reboot_harness._data.compose": "compose",
        "reboot_harness._data.scenarios": "scenarios",
    }


def test_shipped_directories_come_from_the_checkout_or_the_package(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert paths.shipped("compose") == REPO / "compose"
    assert paths.shipped("scenarios") == REPO / "scenarios"
    monkeypatch.setattr(paths, "_CHECKOUT", tmp_path)  # an installed wheel: no checkout around
    assert paths.shipped("compose") == REPO / "reboot_harness" / "_data" / "compose"
    monkeypatch.setenv("RH_SCENARIOS_DIR", str(tmp_path))
    assert paths.default_scenarios_dir() == tmp_path
