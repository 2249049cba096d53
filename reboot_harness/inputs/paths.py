"""Where the harness's own files live (no Docker here: imported by input validation).

From a checkout of the repository (an editable install, or ``PYTHONPATH``) they are its
top-level ``compose/`` and ``scenarios/``; from an installed wheel, the copies the wheel carries
inside the package (``reboot_harness/_data/``), found through :mod:`importlib.resources`.
"""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path

_CHECKOUT = Path(__file__).resolve().parents[2]


def from_checkout() -> bool:
    """Whether the harness runs from a checkout of its repository, whose ``scripts/`` (not in
    the wheel) messages may name."""
    return (_CHECKOUT / "pyproject.toml").is_file() and (_CHECKOUT / "scripts").is_dir()


def shipped(name: str) -> Path:
    """The shipped directory ``name`` (``compose`` or ``scenarios``)."""
    if (_CHECKOUT / "pyproject.toml").is_file() and (_CHECKOUT / name).is_dir():
        return _CHECKOUT / name
    return Path(str(resources.files("reboot_harness") / "_data" / name))


def default_compose_dir() -> Path:
    """The compose directory: ``$RH_COMPOSE_DIR`` or the shipped ``compose/``."""
    override = os.environ.get("RH_COMPOSE_DIR")
    if override:
        return Path(override).resolve()
    return shipped("compose")


def default_scenarios_dir() -> Path:
    """The scenarios directory: ``$RH_SCENARIOS_DIR`` or the shipped ``scenarios/``."""
    override = os.environ.get("RH_SCENARIOS_DIR")
    return Path(override) if override else shipped("scenarios")


SEED = "seed"  # the preset stack: the post-mortem's (compose/stack.yaml)


def stack_path(value: str | Path | None) -> Path | None:
    """``--stack``'s value: None for the preset ``seed`` (or nothing given), else your compose
    file."""
    if value is None or str(value) == SEED:
        return None
    return Path(value)
