"""What `reboot-harness doctor --engine` finds of the machine: one :class:`Need` per thing the
harness needs of it (found by reboot_harness.stack.machine)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Need:
    """One thing the harness needs of the machine, as found.

    Attributes:
        name: what it is: ``engine``, ``compose``, ``base-image`` or ``fuse``.
        ok: the machine has it.
        detail: what was found (a version, an image), or what is lacking and why.
        fix: the commands that fix it on Debian/Ubuntu ('' when ok).
        elsewhere: where to look on another system ('' when ok).
    """

    name: str
    ok: bool
    detail: str
    fix: str = ""
    elsewhere: str = ""

    def line(self) -> str:
        """``NAME: ok: detail`` or ``NAME: lacking: detail; fix: …; elsewhere: …`` (one line)."""
        if self.ok:
            return f"{self.name}: ok: {self.detail}"
        text = f"{self.name}: lacking: {self.detail}; fix (Debian/Ubuntu): {self.fix}"
        return " ".join(
            (text + (f"; elsewhere: {self.elsewhere}" if self.elsewhere else "")).split()
        )
