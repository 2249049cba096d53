"""Client containers the harness adds to a stack's network (the traffic clients): started from
the stack's images, labelled so `down` and `gc` remove them, never taken for hosts."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence

from docker.errors import APIError, DockerException, ImageNotFound, NotFound
from docker.models.containers import Container
from docker.types import LogConfig

from reboot_harness.errors import StackError
from reboot_harness.stack import names
from reboot_harness.stack.engine import client
from reboot_harness.stack.labels import (
    CLIENT_ROLE,
    KEEP_LABEL,
    MANAGED_LABEL,
    OWNER_LABEL,
    PROJECT_LABEL,
    ROLE_LABEL,
    SERVICE_LABEL,
    is_client,
    of_project,
    project_clients,
    project_containers,
)
from reboot_harness.stack.project import Project


class Clients(Project):
    """The client containers of one project, by name without the project prefix."""

    def network(self) -> str:
        """The name of the stack's network (where clients are attached)."""
        try:
            nets = client().networks.list(filters=of_project(self.name))
        except DockerException as e:
            raise StackError(f"stack {self.name}: cannot list networks: {e}") from e
        if len(nets) != 1:
            raise StackError(
                f"stack {self.name}: expected one network, found"
                f" {sorted(n.name for n in nets) or 'none'}; is the stack up?"
            )
        return str(nets[0].name)

    def used_addresses(self) -> set[str]:
        """Every address configured or held on the stack network (hosts and clients)."""
        used: set[str] = {a for rec in self.state.cut.values() for a, *_ in rec.values() if a}
        for c in project_containers(self.name):
            for net in c.attrs["NetworkSettings"]["Networks"].values():
                for addr in (
                    (net.get("IPAMConfig") or {}).get("IPv4Address"),
                    net.get("IPAddress"),
                ):
                    if addr:
                        used.add(str(addr))
        return used

    def client_container_name(self, name: str) -> str:
        return f"{self.name}-{name}"

    def start_client(
        self,
        name: str,
        *,
        role: str = "client",
        command: Sequence[str] = (),
        environment: Mapping[str, str] | None = None,
        address: str = "",
        mem_limit: str = "256m",
    ) -> str:
        """Start a client container ``<project>-<name>`` from ``reboot-harness/<role>`` (the
        stack's image tag) on the stack network, at ``address`` if given; return its name.

        It is labelled like the stack (managed, owner, keep, compose project) so `down` and
        `gc` remove it, and as a client so checks and heals ignore it.
        """
        image = f"reboot-harness/{role}:{self.state.image_tag}"
        cname = self.client_container_name(name)
        labels = {
            MANAGED_LABEL: "true",
            OWNER_LABEL: self.state.owner,
            KEEP_LABEL: "true" if self.state.keep else "false",
            PROJECT_LABEL: self.name,
            ROLE_LABEL: CLIENT_ROLE,
        }
        api = client().api
        try:
            client().images.get(image)
        except ImageNotFound:
            raise StackError(
                f"stack {self.name}: image {image} is missing (the stack was started from other"
                " image sources); restart the stack (`reboot-harness down` then `up`) to build it"
            ) from None
        network = self.network()
        # Every host's name at its fixed address, kept while the host is off and following a
        # new_ip (reboot_harness.stack.names), as for the hosts themselves.
        known = names.fixed_addresses(
            {
                str(c.labels[SERVICE_LABEL]): c.attrs
                for c in project_containers(self.name)
                if not is_client(c.labels) and c.labels.get(SERVICE_LABEL)
            },
            self.state.cut,
        )
        labels[names.LABEL] = names.label_value((h, h) for h in sorted(known))
        endpoint = api.create_endpoint_config(ipv4_address=address) if address else None
        try:
            created = api.create_container(
                image,
                command=list(command) or None,
                name=cname,
                hostname=name,
                labels=labels,
                environment=dict(environment or {}),
                host_config=api.create_host_config(
                    mem_limit=mem_limit,
                    log_config=LogConfig(type="json-file", config={"max-size": "500m"}),
                    network_mode=network,
                    extra_hosts=known or None,
                ),
                networking_config=api.create_networking_config({network: endpoint})
                if endpoint
                else None,
            )
            api.start(created["Id"])
        except (APIError, DockerException) as e:
            with_logs = ""
            try:
                client().containers.get(cname).remove(force=True)
            except (APIError, DockerException):
                with_logs = f" (container {cname} may be left over; `reboot-harness gc` removes it)"
            raise StackError(
                f"stack {self.name}: cannot start client {cname} from {image}"
                f"{' at ' + address if address else ''}: {e}{with_logs}"
            ) from e
        return cname

    def _client(self, name: str) -> Container:
        cname = self.client_container_name(name)
        try:
            return client().containers.get(cname)
        except NotFound:
            raise StackError(f"stack {self.name}: client {cname} does not exist") from None
        except DockerException as e:
            raise StackError(f"stack {self.name}: client {cname}: {e}") from e

    def client_state(self, name: str) -> tuple[str, int, str]:
        """(status, exit code, engine error or OOM note) of client ``name``."""
        st = self._client(name).attrs["State"]
        note = st.get("Error") or ("killed: out of memory" if st.get("OOMKilled") else "")
        return str(st["Status"]), int(st.get("ExitCode") or 0), str(note)

    def signal_client(self, name: str, signal: str = "SIGTERM") -> bool:
        """Send ``signal`` to client ``name``; False when it was not running."""
        c = self._client(name)
        try:
            c.kill(signal=signal)
        except APIError as e:
            if e.status_code == 409 or "is not running" in str(e):
                return False
            raise StackError(f"client {c.name}: {signal} failed: {e}") from e
        return True

    def wait_client(self, name: str, timeout: float) -> int | None:
        """Wait up to ``timeout`` seconds for client ``name`` to exit; its exit code, or None
        when it is still running."""
        deadline = time.monotonic() + timeout
        while True:
            status, code, _ = self.client_state(name)
            if status in ("exited", "dead"):
                return code
            if time.monotonic() >= deadline:
                return None
            time.sleep(0.2)

    def client_output(self, name: str) -> tuple[str, str]:
        """Everything client ``name`` printed: (stdout, stderr)."""
        c = self._client(name)
        try:
            out = c.logs(stdout=True, stderr=False)
            err = c.logs(stdout=False, stderr=True, tail=200)
        except (APIError, DockerException) as e:
            raise StackError(f"client {c.name}: cannot read its output: {e}") from e
        return bytes(out).decode("utf-8", "replace"), bytes(err).decode("utf-8", "replace")

    def remove_client(self, name: str) -> None:
        """Remove client ``name`` (killed if still running); no error if it is gone."""
        try:
            client().containers.get(self.client_container_name(name)).remove(force=True)
        except NotFound:
            return
        except (APIError, DockerException) as e:
            raise StackError(
                f"client {self.client_container_name(name)}: removal failed: {e}"
            ) from e

    def clients(self) -> list[str]:
        """Names (without the project prefix) of this stack's client containers."""
        prefix = f"{self.name}-"
        return sorted(
            c.name[len(prefix) :] if c.name.startswith(prefix) else c.name
            for c in project_clients(self.name)
        )
