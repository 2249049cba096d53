"""The boot model: how the harness makes a container boot like a server — tmpfs ``/run`` (and
``/tmp`` emptied), the boot ``nofile`` limit, no restart policy — read from where the shipped
stack states it once (``x-host`` in compose/stack.yaml), so that `doctor` and `init --from` apply
what every shipped host gets, not a copy of it."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from reboot_harness.errors import UsageError
from reboot_harness.inputs.compose.files import _load_tagged
from reboot_harness.inputs.compose.roots import _items, _mapping, _path

BOOT_KEY = "x-host"  # stack.yaml's anchor every host merges


@dataclass(frozen=True)
class BootModel:
    """What a host gets at every boot (see the module's docstring).

    Attributes:
        tmpfs: the ``tmpfs`` entries (``/run``, ``/tmp:exec,mode=1777``).
        nofile_soft: the soft open-file limit every process starts with.
        nofile_hard: the hard limit (a process may raise its soft limit up to it itself).
        restart: the restart policy (``no``: the harness, not the engine, boots a host).
    """

    tmpfs: tuple[str, ...]
    nofile_soft: int
    nofile_hard: int
    restart: str

    @property
    def tmpfs_paths(self) -> tuple[str, ...]:
        return tuple(_path(entry.split(":", 1)[0]) for entry in self.tmpfs)

    def ulimits(self) -> dict[str, Any]:
        return {"nofile": {"soft": self.nofile_soft, "hard": self.nofile_hard}}


@functools.cache
def boot_model(compose_dir: Path) -> BootModel:
    """The boot model stated in ``compose_dir``/stack.yaml.

    Raises:
        UsageError: stack.yaml does not state it (one line naming the file and key).
    """
    stack = compose_dir / "stack.yaml"
    host = _mapping(_mapping(_load_tagged(stack)).get(BOOT_KEY))
    nofile = _mapping(_mapping(host.get("ulimits")).get("nofile"))
    try:
        return BootModel(
            tmpfs=tuple(str(entry) for entry in _items(host.get("tmpfs"))),
            nofile_soft=int(nofile["soft"]),
            nofile_hard=int(nofile["hard"]),
            restart=str(host["restart"]),
        )
    except (KeyError, TypeError, ValueError) as e:
        raise UsageError(
            f"{stack}: {BOOT_KEY}: expected the boot model (tmpfs, ulimits.nofile.soft/hard,"
            " restart); restore the shipped stack.yaml or unset RH_COMPOSE_DIR"
        ) from e
