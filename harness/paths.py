"""Where the harness's own files live (no Docker here: imported by input validation)."""

from __future__ import annotations

import os
from pathlib import Path


def default_compose_dir() -> Path:
    """The compose directory: ``$RH_COMPOSE_DIR`` or the repository's ``compose/``."""
    override = os.environ.get("RH_COMPOSE_DIR")
    if override:
        return Path(override).resolve()
    return Path(__file__).resolve().parents[1] / "compose"
