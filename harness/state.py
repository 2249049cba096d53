"""Per-project state on disk: the secrets, the compose files, the DNS rotation, the last check.

A stack outlives the process that started it (`up` returns, `check` comes later), so what the
harness must remember about it lives in ``$XDG_STATE_HOME/reboot-harness/projects/NAME/``
(mode 700; the secrets file mode 600). No docker here.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import time
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path

from harness.errors import UsageError

PROJECT_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")
SECRET_NAMES = (
    "MYSQL_ROOT_PASSWORD",
    "MYSQL_REPL_PASSWORD",
    "MYSQL_APP_PASSWORD",
    "REDIS_PASSWORD",
)


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
    # Hosts whose power was cut (mode hard): they left the network before they died; by host,
    # network -> [address, alias, ...] to rejoin with at boot.
    cut: dict[str, dict[str, list[str]]] = field(default_factory=dict)
    created: float = field(default_factory=time.time)

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
        return {
            "COMPOSE_PROJECT_NAME": self.name,
            "RH_BASE_IMAGE": self.base_image,
            "RH_IMAGE_TAG": self.image_tag,
            "RH_SUBNET_PREFIX": self.subnet_prefix,
            "RH_DOMAIN": self.domain,
            "RH_SECRETS_FILE": str(self.secrets_file),
            "RH_OWNER": self.owner,
            "RH_KEEP": "true" if self.keep else "false",
        }

    def secrets(self) -> dict[str, str]:
        try:
            return read_env_file(self.secrets_file)
        except OSError as e:
            raise UsageError(
                f"{self.secrets_file}: cannot read the stack's secrets ({e.strerror});"
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
        path = state_root() / "projects" / validate_project_name(name) / "project.json"
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError as e:
            raise UsageError(
                f"no such project {name!r}: nothing recorded at {path.parent};"
                f" start it with `reboot-harness up --project {name}`"
            ) from e
        except (OSError, ValueError) as e:
            raise UsageError(f"{path}: unreadable project state ({e})") from e
        if not isinstance(data, dict):
            raise UsageError(f"{path}: unreadable project state (not a mapping)")
        known = {f.name for f in fields(cls)}
        # A file written by another version of the harness may hold keys this one does not
        # know (ignored) or lack ones it needs (refused, with the way out).
        data = {k: v for k, v in data.items() if k in known}
        try:
            data["compose_files"] = tuple(data["compose_files"])
            data["rotation"] = tuple(data.get("rotation", ()))
            return cls(**data)
        except (KeyError, TypeError) as e:
            raise UsageError(
                f"{path}: unreadable project state ({type(e).__name__}: {e}); remove the"
                f" project with `reboot-harness down --project {name}`"
            ) from e

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
