"""What every command of the CLI says through: its exit codes and its two consoles."""

from __future__ import annotations

import sys

from rich.console import Console

EXIT_OK, EXIT_FAIL, EXIT_USAGE = 0, 1, 2

out = Console(highlight=False)
err = Console(stderr=True, highlight=False)


def _say(message: str) -> None:
    """An error for the user: plain text on stderr, never wrapped or styled (one line stays one
    line for scripts and CI logs)."""
    print(message, file=sys.stderr, flush=True)
