"""The labels that tie containers and networks to a stack, and the engine's lists by them.

Compose labels every container and network of a project with its name; the containers the
harness adds itself (traffic clients) carry the harness's labels too, so `down` and `gc` find
them, even after a crash.
"""

from __future__ import annotations

from collections.abc import Mapping

from docker.errors import DockerException
from docker.models.containers import Container

from reboot_harness.errors import StackError
from reboot_harness.stack.engine import client

PROJECT_LABEL = "com.docker.compose.project"
SERVICE_LABEL = "com.docker.compose.service"
# Containers the harness adds to a project (traffic clients) carry this label: they are not
# hosts of the stack (no checks, no heal), but `down` and `gc` remove them with the project.
ROLE_LABEL = "org.reboot-harness.role"
CLIENT_ROLE = "client"
MANAGED_LABEL = "org.reboot-harness.managed"
OWNER_LABEL = "org.reboot-harness.owner"
KEEP_LABEL = "org.reboot-harness.keep"


def of_project(project: str) -> dict[str, list[str]]:
    """The engine's filter for everything labelled as part of ``project``."""
    return {"label": [f"{PROJECT_LABEL}={project}"]}


def is_client(labels: Mapping[str, str]) -> bool:
    """Whether a container with these labels is a client the harness added, not a host."""
    return labels.get(ROLE_LABEL) == CLIENT_ROLE


def project_containers(project: str, *, sparse: bool = False) -> list[Container]:
    """Every container of ``project``, hosts and clients, running or not. ``sparse``: one list
    call without an inspect per container (its ``attrs`` are the list's: flat ``State``,
    ``Labels``)."""
    try:
        # ignore_removed: a container removed between the list and its inspect is not there
        # (else the SDK raises NotFound for it)
        found: list[Container] = client().containers.list(
            all=True, filters=of_project(project), sparse=sparse, ignore_removed=True
        )
    except DockerException as e:
        raise StackError(f"stack {project}: cannot list containers: {e}") from e
    return found


def project_clients(project: str) -> list[Container]:
    """The client containers the harness added to ``project``."""
    filters = of_project(project)
    filters["label"].append(f"{ROLE_LABEL}={CLIENT_ROLE}")
    try:
        found: list[Container] = client().containers.list(
            all=True, filters=filters, ignore_removed=True
        )
    except DockerException as e:
        raise StackError(f"stack {project}: cannot list clients: {e}") from e
    return found
