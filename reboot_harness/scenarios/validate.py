"""`reboot-harness validate`: scenario, topology, incident and compose files checked with the
loaders the commands read them with (nothing started, no engine asked), every problem one line.

A file's kind is told from its content unless the user names it: an incident is a compose
override with an ``x-reboot-harness`` block, a scenario has ``steps``, a compose override has
``services``, anything else is a topology.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from reboot_harness.errors import EnvironmentProblem, HarnessError, ScenarioError
from reboot_harness.inputs.yamlfile import _load_yaml, read_text
from reboot_harness.model.topology import Topology
from reboot_harness.scenarios.incidents import KEY as INCIDENT_KEY

KINDS = ("scenario", "topology", "incident", "compose")


def kind_of(path: Path) -> str:
    """What ``path`` holds, told from its top-level keys (see the module docstring).

    Raises:
        ScenarioError: the file cannot be read or is not YAML (one line naming it).
    """
    data = _load_yaml(read_text(path, "YAML"), str(path))
    if isinstance(data, dict):
        if INCIDENT_KEY in data:  # (without services, the incident's loader says what is wrong)
            return "incident"
        if "steps" in data:
            return "scenario"
        if "services" in data:
            return "compose"
    return "topology"


def _check(path: Path, kind: str, topology: Topology | None, compose: Sequence[Path]) -> None:
    """Read ``path`` as a ``kind`` file exactly as the command using it would; raise its first
    problem (a HarnessError)."""
    if kind == "topology":
        from reboot_harness.inputs.topology import load_topology

        load_topology(path)
    elif kind == "scenario":
        from reboot_harness.scenarios import find

        find.load(path, topology)
    elif kind == "incident":
        from reboot_harness.scenarios.incidents import load_incident

        load_incident(path, topology)
        _compose([*compose, path], topology)  # `run` layers it over the user's overrides
    else:
        _compose([*compose, path], topology)


def _compose(files: Sequence[Path], topology: Topology | None) -> None:
    """The compose safety rules `up` and `run` apply to a user's files (through `docker compose
    config`, offline), with the stack's names as ``topology`` gives them."""
    from reboot_harness.inputs.compose.offline import refuse_unsafe
    from reboot_harness.inputs.paths import default_compose_dir

    for path in files:
        if not path.is_file():
            raise ScenarioError(f"{path}: compose file not found")
    refuse_unsafe(
        [list(dict.fromkeys(files))], compose_dir=default_compose_dir(),
        domain=topology.domain if topology else "rh.test",
        code_dir=topology.python_path if topology else "",
    )  # fmt: skip


def problems(
    paths: Sequence[Path],
    *,
    kind: str | None = None,
    topology: Topology | None = None,
    compose: Sequence[Path] = (),
) -> list[str]:
    """Every problem of every file of ``paths``, one line each, ``FILE: what``; none when all
    are valid. A file's loader stops at its first problem, except where pydantic reports
    several at once (each is a line).

    Args:
        paths: the files, in the order the user named them.
        kind: what every file is (one of ``KINDS``); None: told from each file's content.
        topology: the user's topology, which scenarios and incidents are checked against.
        compose: the user's compose overrides, which incidents and compose files are layered
            over (as `run --compose` layers them).

    Raises:
        EnvironmentProblem: a compose file needs `docker compose config` and the machine has
            no `docker` command or no Compose v2 plugin.
    """
    found: list[str] = []
    for path in paths:
        try:
            _check(path, kind or kind_of(path), topology, compose)
        except EnvironmentProblem:
            raise
        except HarnessError as e:
            line = str(e)
            # (the message names the file; a few, from deeper readers, do not)
            found.append(line if line.startswith(str(path)) else f"{path}: {line}")
            if isinstance(e, ScenarioError):
                found += e.also
    return found
