"""Per-project state on disk: the secrets, the compose files, the DNS rotation, the last check.

A stack outlives the process that started it (`up` returns, `check` comes later), so what the
harness must remember about it lives in ``$XDG_STATE_HOME/reboot-harness/projects/NAME/``
(mode 700; the secrets file mode 600). No docker here.
"""

from __future__ import annotations

import json
import math
import os
import re
import secrets
import shutil
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

from reboot_harness.errors import UsageError
from reboot_harness.inputs.compose.variables import SECRET_NAMES, compose_variables
from reboot_harness.model.topology import Topology

PROJECT_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")


def state_root() -> Path:
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "reboot-harness"


def validate_project_name(name: str) -> str:
    if not PROJECT_NAME.match(name):
        raise UsageError(
            f"project name {name!r} is not valid: use 1-63 lowercase letters, digits, '-' or '_',"
            " starting with a letter or digit (Compose's rule)"
        )
    return name


def new_secrets() -> dict[str, str]:
    """Fresh random passwords (URL-safe, 32 characters: well inside every server's limit)."""
    return {name: secrets.token_urlsafe(24) for name in SECRET_NAMES}


def read_env_file(path: Path) -> dict[str, str]:
    values: dict[str, str] = {}
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, value = line.split("=", 1)
        values[key.strip()] = value.strip()
    return values


def write_private(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` readable by the owner only, atomically."""
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(tmp, path)


MAX_STATE_BYTES = 1024 * 1024  # project.json: about 1 KB as the harness writes it
SUBNET_PREFIX = re.compile(r"(25[0-5]|2[0-4]\d|1?\d?\d)(\.(25[0-5]|2[0-4]\d|1?\d?\d)){2}")


def _text(v: object) -> bool:
    return isinstance(v, str)


def _texts(v: object) -> bool:
    return isinstance(v, list) and all(isinstance(x, str) for x in v)


def _number(v: object) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)


def _cut(v: object) -> bool:
    """host -> network -> [address, alias, ...] (never empty: the address comes first)."""
    return isinstance(v, dict) and all(
        isinstance(nets, dict) and all(_texts(rec) and rec for rec in nets.values())
        for nets in v.values()
    )


# What each key of project.json must hold (a check, and what is valid in words); the dataclass
# below is the same list of keys. JSON object keys are always strings.
_KINDS: dict[str, tuple[Callable[[object], bool], str]] = {
    "name": (_text, "the project's name"),
    "compose_dir": (lambda v: isinstance(v, str) and bool(v), "a folder path"),
    "compose_files": (_texts, "a list of compose file paths"),
    "subnet_prefix": (
        lambda v: isinstance(v, str) and bool(SUBNET_PREFIX.fullmatch(v)),
        'the /24\'s first three octets, e.g. "172.30.9"',
    ),
    "domain": (lambda v: isinstance(v, str) and bool(v), 'a DNS domain, e.g. "rh.test"'),
    "image_tag": (_text, "a string"),
    "base_image": (_text, "a string"),
    "owner": (_text, "a string"),
    "keep": (lambda v: isinstance(v, bool), "true or false"),
    "rotation": (_texts, "a list of load balancer names"),
    "last_check": (_number, "a number of seconds"),
    "ready": (lambda v: isinstance(v, bool), "true or false"),
    "topology_file": (_text, 'a file path, or ""'),
    "stack_file": (_text, 'a file path, or ""'),
    "cut": (_cut, "host -> network -> [address, alias, ...]"),
    "created": (_number, "a number of seconds"),
    "engine": (lambda v: isinstance(v, str), 'the Docker engine\'s URL, or ""'),
    "engine_cert_path": (lambda v: isinstance(v, str), 'its TLS folder, or ""'),
}
_REQUIRED = ("name", "compose_dir", "compose_files", "subnet_prefix", "domain", "image_tag",
             "base_image", "owner", "keep")  # fmt: skip


def _shown(value: object) -> str:
    """A value of project.json in a message, as JSON, clipped to one short line."""
    if isinstance(value, str):
        value = value[:40] + ("..." if len(value) > 40 else "")
    text = json.dumps(value)
    return text if len(text) <= 40 else text[:37] + "..."


@dataclass(frozen=True)
class ProjectState:
    """What the harness remembers about one running stack."""

    name: str
    compose_dir: str
    compose_files: tuple[str, ...]
    subnet_prefix: str
    domain: str
    image_tag: str
    base_image: str
    owner: str
    keep: bool
    rotation: tuple[str, ...] = ()
    last_check: float = 0.0
    ready: bool = False  # the stack came up healthy (a kept stack is only kept once it did)
    topology_file: str = ""  # the user's topology file, when not the shipped stack's
    stack_file: str = ""  # your compose file, when it is the stack (--stack); "": the shipped one
    # Hosts whose power was cut (mode hard): they left the network before they died; by host,
    # network -> [address, alias, ...] to rejoin with at boot.
    cut: dict[str, dict[str, list[str]]] = field(default_factory=dict)
    created: float = field(default_factory=time.time)
    # The Docker engine the stack lives on (DOCKER_HOST when it started; "" for the default) and
    # its TLS folder: `down`, `check` and the one-shot faults go there
    # (reboot_harness.stack.engines).
    engine: str = ""
    engine_cert_path: str = ""

    @property
    def directory(self) -> Path:
        return state_root() / "projects" / self.name

    @property
    def secrets_file(self) -> Path:
        return self.directory / "secrets.env"

    @property
    def compose_env_file(self) -> Path:
        return self.directory / "compose.env"

    def compose_env(self) -> dict[str, str]:
        """The variables Compose interpolates into the stack files (see compose/README.md)."""
        return compose_variables(
            project=self.name, base_image=self.base_image, image_tag=self.image_tag,
            subnet_prefix=self.subnet_prefix, domain=self.domain,
            secrets_file=str(self.secrets_file), owner=self.owner, keep=self.keep,
        )  # fmt: skip

    def secrets(self) -> dict[str, str]:
        try:
            return read_env_file(self.secrets_file)
        except (OSError, ValueError) as e:  # ValueError: not UTF-8
            why = e.strerror if isinstance(e, OSError) else "not UTF-8 text"
            raise UsageError(
                f"{self.secrets_file}: cannot read the stack's secrets ({why});"
                f" recreate the stack with `reboot-harness down --project {self.name}` and `up`"
            ) from e

    def save(self, secrets_values: dict[str, str] | None = None) -> None:
        self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        if secrets_values is not None:
            write_private(
                self.secrets_file, "".join(f"{k}={v}\n" for k, v in secrets_values.items())
            )
        env = "".join(f"{k}={v}\n" for k, v in self.compose_env().items())
        write_private(self.compose_env_file, env)
        data = asdict(self)
        write_private(self.directory / "project.json", json.dumps(data, indent=2) + "\n")

    def with_changes(self, **changes: object) -> ProjectState:
        return replace(self, **changes)  # type: ignore[arg-type]

    @classmethod
    def load(cls, name: str) -> ProjectState:
        """The state recorded for project ``name``.

        Raises:
            UsageError: nothing is recorded (how to start it), or what is recorded cannot be
                used — unreadable, not JSON, a key missing or holding a value of another type
                (one line naming the file, the key, what is valid and the way out).
        """
        path = state_root() / "projects" / validate_project_name(name) / "project.json"
        # Every command that drives the stack needs this file; once it is damaged, the way out
        # is to remove the stack by its labels and forget the file (`down` needs no state).
        way_out = (
            f"the stack can no longer be driven: `reboot-harness down --project {name}` removes"
            " it by its labels, and this file"
        )

        def refuse(problem: str) -> UsageError:
            return UsageError(f"{path}: unreadable project state ({problem}); {way_out}")

        try:
            with open(path, "rb") as f:
                raw = f.read(MAX_STATE_BYTES + 1)
        except FileNotFoundError as e:
            raise UsageError(
                f"no such project {name!r}: nothing recorded at {path.parent};"
                f" start it with `reboot-harness up --project {name}`"
            ) from e
        except OSError as e:
            raise refuse(e.strerror or type(e).__name__) from e
        if len(raw) > MAX_STATE_BYTES:
            raise refuse(f"larger than {MAX_STATE_BYTES} bytes; the harness writes about 1 KB")
        try:
            data = json.loads(raw.decode("utf-8"))
        except UnicodeDecodeError as e:
            raise refuse(f"byte {e.start}: not UTF-8 text") from e
        except ValueError as e:
            raise refuse(f"not JSON: {e}") from e
        except RecursionError as e:
            raise refuse("JSON nested too deeply") from e
        if not isinstance(data, dict):
            raise refuse(f"expected a JSON object of {', '.join(_KINDS)}; not {_shown(data)}")
        # A file written by another version of the harness may hold keys this one does not
        # know (ignored) or lack ones it needs (refused, with the way out).
        data = {k: v for k, v in data.items() if k in _KINDS}
        for key, (valid, what) in _KINDS.items():
            if key not in data:
                if key in _REQUIRED:
                    raise refuse(f"{key}: missing; expected {what}")
                continue
            if not valid(data[key]):
                raise refuse(f"{key}: expected {what}, not {_shown(data[key])}")
        if data["name"] != name:
            raise refuse(f"name: {_shown(data['name'])} is not this folder's project {name!r}")
        data["compose_files"] = tuple(data["compose_files"])
        data["rotation"] = tuple(data.get("rotation", ()))
        return cls(**data)

    @staticmethod
    def exists(name: str) -> bool:
        return (state_root() / "projects" / name / "project.json").exists()

    @staticmethod
    def forget(name: str) -> None:
        """Remove what is recorded of project ``name``: only ever a folder directly in the
        state directory's ``projects/`` (a name that is not a project name is refused)."""
        root = (state_root() / "projects").resolve()
        path = (root / validate_project_name(name)).resolve()
        if path.parent != root:
            raise UsageError(f"project name {name!r} points outside {root}")
        shutil.rmtree(path, ignore_errors=True)

    @staticmethod
    def known() -> list[str]:
        root = state_root() / "projects"
        return sorted(p.name for p in root.iterdir() if p.is_dir()) if root.exists() else []


def topology_of(state: ProjectState) -> Topology:
    """The topology a stack was started with: its file's, else the one read from your stack's
    compose file (``--stack``), else the shipped stack's (with the stack's domain)."""
    from reboot_harness.inputs.topology import (
        load_topology,  # (pydantic): for a stack attached by name
    )

    if state.topology_file:
        return load_topology(Path(state.topology_file))
    if state.stack_file:
        from reboot_harness.inputs.compose.yourstack import read_stack

        return read_stack(Path(state.stack_file), Path(state.compose_dir)).topology()
    return Topology(domain=state.domain)
