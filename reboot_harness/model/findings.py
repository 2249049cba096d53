"""What `reboot-harness doctor` finds in a user's compose file: a :class:`Finding` each, with one
of the stable codes of :data:`CODES` (the rules: reboot_harness.inputs.compose.doctor)."""

from __future__ import annotations

import textwrap
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

# code -> (what it means, the fix): the one table of the findings' codes (shown in --help)
CODES: Mapping[str, tuple[str, str]] = MappingProxyType(
    {
        "restart-policy": (
            "a restart policy: the engine starts the container again whenever it stops, so a"
            " service failing at boot looks up",
            'remove it (restart: "no"): a server starts a service once per boot, and a failure'
            " shows",
        ),
        "run-on-volume": (
            "/run, /var/run or a pid directory in them on a volume or bind: it survives a"
            " restart here, but a server's /run is an empty tmpfs after every boot",
            "mount a tmpfs there (tmpfs: [/run]) and let the service make what it needs at start",
        ),
        "anonymous-volume": (
            "state in an anonymous volume: `down` loses it, or it stays behind unnamed",
            "name it (NAME:/path, NAME under the top-level volumes)",
        ),
        "no-healthcheck": (
            "no healthcheck in the compose file (an image's HEALTHCHECK is not read): nothing"
            ' tells "up" from "serving"',
            "add a healthcheck whose test asks the service itself (a query, a GET)",
        ),
        "port-every-address": (
            "a port published on every address of the machine (0.0.0.0), not 127.0.0.1",
            'publish it on 127.0.0.1 ("127.0.0.1:8080:80")',
        ),
        "limit-from-ulimits": (
            "a service needs more open files than a server's boot gives it, and gets them only"
            " from ulimits: nofile",
            "give it the limit in its own configuration (its systemd unit's LimitNOFILE=,"
            " nginx's worker_rlimit_nofile), or ask for fewer",
        ),
    }
)


@dataclass(frozen=True)
class Finding:
    """One thing that makes a container not behave like a server across a reboot.

    Attributes:
        code: one of :data:`CODES`.
        file: the compose file, as the user named it.
        service: the service.
        key: the setting, as a key path (``deploy.restart_policy``).
        message: what is wrong, here.
        fix: what to do about it.
    """

    code: str
    file: str
    service: str
    key: str
    message: str
    fix: str

    @property
    def where(self) -> str:
        return f"{self.file}:{self.service}:{self.key}"

    def line(self) -> str:
        text = f"{self.where}: {self.code}: {self.message}; fix: {self.fix}"
        return " ".join(text.splitlines())  # (a path or name from the file may hold a newline)


def codes_help() -> str:
    """The table of codes, for ``doctor --help``."""
    width = max(map(len, CODES))
    rows = [
        textwrap.fill(
            what, 96, initial_indent=f"  {code.ljust(width)}  ", subsequent_indent=" " * (width + 4)
        )
        for code, (what, _fix) in CODES.items()
    ]
    return "finding codes:\n" + "\n".join(rows)
