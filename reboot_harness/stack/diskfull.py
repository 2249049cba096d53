"""A full disk is the machine's problem, not the build's: ENOSPC in any of its spellings becomes
one line naming the filesystem that filled up, its free space and what to do."""

from __future__ import annotations

import re
import shutil

from reboot_harness.errors import EnvironmentProblem

DOCKER_CLEANUP = "`docker system df`, then `docker image prune` and `docker builder prune`"

_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
_FULL = re.compile(
    r"no space left on device"  # strerror(ENOSPC): the daemon, RUN steps, tar, debootstrap
    r"|\[errno 28\]"  # a Python OSError inside a RUN step
    r"|\benospc\b"  # Go and node name it
    r"|you don't have enough free space in",  # apt-get refusing before it starts
    re.IGNORECASE,
)
_MAX_EVIDENCE = 200


def evidence(text: str) -> str | None:
    """The first line of ``text`` that says a filesystem is full, without colour codes or runs
    of blanks and at most 200 characters long; None if no line says so."""
    for raw in text.splitlines():
        line = " ".join(_ANSI.sub("", raw).split())
        if _FULL.search(line):
            return line if len(line) <= _MAX_EVIDENCE else line[: _MAX_EVIDENCE - 1] + "…"
    return None


def free_bytes(path: str) -> int | None:
    """Free bytes on the filesystem holding ``path`` (None when it cannot be measured here)."""
    try:
        return shutil.disk_usage(path).free
    except OSError:
        return None


def human(n: int) -> str:
    size = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024:
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} TiB"


def _free_text(free: int | None) -> str:
    return f"{human(free)} free now" if free is not None else "free space not measurable from here"


def in_docker(what: str, found: str, data_root: str, free: int | None) -> EnvironmentProblem:
    """The engine ran out of space: images and build layers live in its data-root."""
    return EnvironmentProblem(
        f"{what} ran out of disk space ({found}); free space where Docker keeps images and"
        f" build layers, its data-root {data_root} ({_free_text(free)}): {DOCKER_CLEANUP},"
        " and run again"
    )


def in_dir(what: str, found: str, directory: str, hint: str = "") -> EnvironmentProblem:
    """The harness itself ran out of space writing under ``directory`` (a temporary dir)."""
    free = _free_text(free_bytes(directory))
    return EnvironmentProblem(
        f"{what} ran out of disk space in {directory} ({found}; {free}); free space there or"
        f" point TMPDIR at a larger filesystem{hint}, and run again"
    )
