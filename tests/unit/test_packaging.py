"""The wheel's package list is the harness's packages plus the shipped data, and the code finds
the shipped directories in the checkout and, installed, inside the package."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from reboot_harness.inputs import paths

REPO = Path(__file__).resolve().parents[2]


def test_the_wheel_lists_every_package_and_the_shipped_data() -> None:
    conf = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]
    found = sorted(
        ".".join(p.parent.relative_to(REPO).parts)
        for p in (REPO / "reboot_harness").rglob("__init__.py")
    )
    assert sorted(conf["packages"]) == sorted([*found, "reboot_harness._data.compose",
                                               "reboot_harness._data.scenarios"])  # fmt: skip
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
