"""Your stack: a compose file of yours as the whole stack (``--stack FILE``), instead of the
preset ``seed`` (the post-mortem's stack the harness ships, compose/stack.yaml).

The harness reads your file (it is never edited), takes a topology from it when you give none
(one host per service, its daemons, roles recognised from its software: see
:mod:`reboot_harness.inputs.compose.adopt`), and starts it with the boot model written over it as
an override of its own (tmpfs /run and /tmp, the boot open-file limit, no restart policy, ports
on 127.0.0.1, the harness's labels): what a server gets at every boot. No Docker here."""

from __future__ import annotations

import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from reboot_harness.errors import UsageError
from reboot_harness.inputs.compose.adopt import Adoption, adopt, override_text, topology_of
from reboot_harness.inputs.compose.boot import BootModel, boot_model
from reboot_harness.inputs.compose.services import read_services
from reboot_harness.inputs.paths import SEED
from reboot_harness.model.topology import Topology

BOOT_MODEL_FILE = "boot-model.yaml"  # the boot model over your stack (in its state folder)
# The harness's own labels on every host of your stack, as the shipped stack's hosts carry them
# from stack.yaml (reboot_harness.stack.labels names them): `down` and `gc` find what a crashed
# run left, and `keep` is honoured.
LABELS: Mapping[str, str] = {
    "org.reboot-harness.managed": "true",
    "org.reboot-harness.owner": "${RH_OWNER:-manual}",
    "org.reboot-harness.keep": "${RH_KEEP:-false}",
}


@dataclass(frozen=True)
class YourStack:
    """Your compose file as the stack.

    Attributes:
        file: the compose file (absolute).
        adoption: what was read of its services (hosts, daemons, roles, the boot override).
        boot: the boot model written over it.
    """

    file: Path
    adoption: Adoption
    boot: BootModel

    def topology(self) -> Topology:
        """The topology read from the file (see
        :func:`reboot_harness.inputs.compose.adopt.topology_of`)."""
        return topology_of(self.adoption)

    def override(self) -> str:
        """The boot model over every service, with the harness's labels."""
        return override_text(self.adoption, self.boot, LABELS)

    def refuse_unsafe(
        self,
        overrides: Sequence[Sequence[Path]],
        *,
        compose_dir: Path,
        project: str,
        domain: str,
        allow: bool,
        code_dir: str,
    ) -> list[str]:
        """Refuse your stack as it will start — your file, the boot model over it, then each of
        ``overrides`` (a set per stack about to start) — judged as a whole, before the engine is
        asked anything (see :func:`reboot_harness.inputs.compose.offline.refuse_unsafe`)."""
        from reboot_harness.inputs.compose.offline import refuse_unsafe

        with tempfile.TemporaryDirectory(prefix="rh-boot-") as tmp:
            boot = Path(tmp) / BOOT_MODEL_FILE
            boot.write_text(self.override(), encoding="utf-8")
            return refuse_unsafe(
                [[self.file, boot, *files] for files in overrides] or [[self.file, boot]],
                compose_dir=compose_dir, project=project, domain=domain, allow=allow,
                code_dir=code_dir, seed=False, generated=[boot],
            )  # fmt: skip


def read_stack(path: Path, compose_dir: Path) -> YourStack:
    """Your compose file, read and checked as a stack (nothing started, no engine asked).

    Raises:
        UsageError: no such file, or a file that is not a compose file with services (one
            line naming the file and key).
    """
    if not path.is_file():
        raise UsageError(
            f"--stack {path}: no such compose file; give your docker-compose.yml, or `{SEED}`"
            " for the stack the harness ships"
        )
    services = read_services(path)  # (a file without services is refused there)
    boot = boot_model(compose_dir)
    return YourStack(path.resolve(), adopt(services, boot, None, ephemeral=True), boot)


def refuse_unsafe_over(
    yours: YourStack | None,
    overrides: Sequence[Sequence[Path]],
    *,
    compose_dir: Path,
    project: str,
    domain: str,
    allow: bool,
    code_dir: str,
) -> list[str]:
    """The user's compose ``overrides`` (a set per stack about to start), judged before the
    engine is asked anything: over your stack with the boot model (:meth:`YourStack.
    refuse_unsafe`), or over the shipped one (``yours`` None)."""
    if yours is not None:
        return yours.refuse_unsafe(
            overrides, compose_dir=compose_dir, project=project, domain=domain, allow=allow,
            code_dir=code_dir,
        )  # fmt: skip
    from reboot_harness.inputs.compose.offline import refuse_unsafe

    return refuse_unsafe(
        overrides, compose_dir=compose_dir, project=project, domain=domain, allow=allow,
        code_dir=code_dir,
    )  # fmt: skip
