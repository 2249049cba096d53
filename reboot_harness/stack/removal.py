"""Removing stacks: `down` (one stack, by its label: every container killed and removed at
once, its networks and volumes, its recorded state) and `gc` (the stacks of runs no longer
alive, on every engine this machine's states name)."""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial

from docker.errors import APIError, DockerException, NotFound

from reboot_harness.errors import StackError, UsageError
from reboot_harness.stack import binds, engines
from reboot_harness.stack.core import PROJECT_LABEL
from reboot_harness.stack.engine import client
from reboot_harness.stack.owner import Owner
from reboot_harness.stack.state import (
    PROJECT_NAME,
    ProjectState,
    state_root,
    validate_project_name,
)

MANAGED = "org.reboot-harness.managed=true"
OWNER_LABEL = "org.reboot-harness.owner"
KEEP_LABEL = "org.reboot-harness.keep"


def _forget(name: str) -> None:
    """Forget project ``name``: its state here and, on an engine on another machine, the copies
    of its bind sources there (reboot_harness.stack.binds)."""
    ProjectState.forget(name)
    if (here := engines.current()).forwarded:
        binds.forget(name, here)


@dataclass
class Removed:
    containers: int = 0
    networks: int = 0
    volumes: int = 0
    images: int = 0  # what compose built for the project (a `build:` of your stack)
    projects: list[str] = field(default_factory=list)
    # project -> why `gc` took it for abandoned (its owners, each with why it is dead)
    why: dict[str, str] = field(default_factory=dict)

    def merge(self, other: Removed) -> None:
        """Add what ``other`` removed (one `gc` over several engines)."""
        self.containers += other.containers
        self.networks += other.networks
        self.volumes += other.volumes
        self.images += other.images
        self.projects += other.projects
        self.why.update(other.why)

    def counts(self) -> str:
        """``N containers, N networks, N volumes`` (and ``N images`` when any were built)."""
        said = f"{self.containers} containers, {self.networks} networks, {self.volumes} volumes"
        return said + (f", {self.images} images" if self.images else "")

    def lines(self) -> list[str]:
        """One line per removed project: its name and why it was removed."""
        return [f"{p} ({self.why[p]})" if self.why.get(p) else p for p in self.projects]


REMOVERS = 8  # containers removed at once


def _remove_one(kind: str, remove: Callable[[], object], what: str) -> bool:
    """Remove one resource; True if we removed it, False if it was already gone.

    Another run's gc may be removing the same thing (409 "already in progress"), and a network
    is busy until its containers are gone: both are retried for a while, not reported at once.
    """
    last: Exception | None = None
    for attempt in range(20):
        try:
            remove()
            return True
        except NotFound:
            return False
        except APIError as e:
            last = e
            time.sleep(min(0.1 * (attempt + 1), 1.0))
    raise StackError(f"cannot remove {kind} {what}: {last}")


def _remove_resources(name: str, removed: Removed | None = None) -> Removed:
    """Remove every container, network and volume labelled with compose project ``name``.

    A volume or network still in use means a container of the project appeared or was still
    being removed (a compose child finishing its own `down`, a heal booting a host) after the
    listing: list again and repeat, a few times, before giving up.
    """
    removed = removed or Removed()
    for attempt in range(3):
        try:
            return _remove_pass(name, removed)
        except StackError:
            if attempt == 2:
                raise
            time.sleep(1.0)
    return removed


def _remove_pass(name: str, removed: Removed) -> Removed:
    flt = {"label": [f"{PROJECT_LABEL}={name}"]}
    c = client()
    # sparse: no inspect per container, which would race with another gc removing it.
    containers = c.containers.list(all=True, filters=flt, sparse=True)
    # Killed and removed at once, all of them together: the stack is being thrown away with its
    # volumes, so a graceful stop (up to 10 s a host) would save nothing.
    with ThreadPoolExecutor(max_workers=REMOVERS) as pool:
        gone = pool.map(
            lambda x: _remove_one("container", partial(x.remove, force=True, v=True), str(x.name)),
            containers,
        )
        removed.containers += sum(gone)
    for net in c.networks.list(filters=flt):
        if _remove_one("network", net.remove, str(net.name)):
            removed.networks += 1
    for vol in c.volumes.list(filters=flt):
        if _remove_one("volume", partial(vol.remove, force=True), str(vol.name)):
            removed.volumes += 1
    # What compose built for this project (your stack's `build:`), under the name compose gives
    # it (PROJECT-SERVICE): as `docker compose down --rmi local`; an image your file names
    # (`image:` beside `build:`) is yours and stays.
    for image in c.images.list(filters={"label": f"com.docker.compose.project={name}"}):
        tags = list(image.tags or ())
        built = bool(tags) and all(t.startswith(f"{name}-") for t in tags)
        if built and _remove_one("image", partial(c.images.remove, image.id, force=True), tags[0]):
            removed.images += 1
    return removed


def down(name: str) -> Removed:
    """Remove stack ``name``: containers, volumes, networks and its recorded state."""
    validate_project_name(name)
    recorded = _recorded_engine(name)
    # (none recorded: the bound engine, as the user's DOCKER_HOST or context says)
    with engines.using(recorded):
        return _down(name)


def _recorded_engine(name: str) -> engines.Engine | None:
    try:
        return engines.of_state(ProjectState.load(name))
    except UsageError:
        return None


def engine_of(name: str) -> engines.Engine:
    """The engine project ``name`` lives on: the one its state recorded, else the bound one."""
    return _recorded_engine(name) or engines.current()


def _down(name: str) -> Removed:
    had_state = ProjectState.exists(name)
    flt = {"label": [f"{PROJECT_LABEL}={name}"]}
    c = client()
    before = Removed(
        len(c.containers.list(all=True, filters=flt, sparse=True)),
        len(c.networks.list(filters=flt)),
        len(c.volumes.list(filters=flt)),
    )
    # Every resource of the project carries its label: removing by label needs no compose
    # files (a damaged state file included), and kills instead of stopping gracefully.
    before.images = _remove_resources(name).images
    _forget(name)
    if not had_state and not (before.containers or before.networks or before.volumes):
        raise UsageError(f"no such project {name!r}: no state and no labelled resources")
    before.projects.append(name)
    return before


def _labelled_projects() -> dict[str, tuple[set[str], set[str]]]:
    """Every project with managed resources → (owners, keep values) seen on them."""
    c = client()
    flt = {"label": [MANAGED]}
    seen: dict[str, tuple[set[str], set[str]]] = {}
    try:
        resources = [
            *(
                (x.attrs.get("Labels") or {})
                for x in c.containers.list(all=True, filters=flt, sparse=True)
            ),
            *((x.attrs.get("Labels") or {}) for x in c.networks.list(filters=flt)),
            *((x.attrs.get("Labels") or {}) for x in c.volumes.list(filters=flt)),
        ]
    except DockerException as e:
        raise StackError(f"cannot list labelled resources: {e}") from e
    for labels in resources:
        project = labels.get(PROJECT_LABEL)
        if not project or not PROJECT_NAME.match(project):
            continue  # not a name compose gives a project: not ours to judge or remove
        owners, keeps = seen.setdefault(project, (set(), set()))
        owners.add(labels.get(OWNER_LABEL, ""))
        keeps.add(labels.get(KEEP_LABEL, "false"))
    return seen


def _was_ready(project: str) -> bool:
    try:
        return ProjectState.load(project).ready
    except UsageError:
        # No state here (another user's or machine's stack): we cannot tell, so keep it.
        return True


def recorded_engines() -> list[engines.Engine]:
    """The engines the project states of this machine name, other than the bound one: where a
    run bound by RH_ENGINES left stacks (`gc` visits them even without RH_ENGINES)."""
    here = engines.current().host
    found: dict[str, engines.Engine] = {}
    for name in ProjectState.known():
        try:
            state = ProjectState.load(name)
        except UsageError:
            continue  # a damaged state: `down --project` removes it by labels
        recorded = engines.of_state(state)
        if recorded and recorded.host != here:
            found.setdefault(recorded.host, recorded)
    return list(found.values())


def gc(*, include_kept: bool = False) -> Removed:
    """Remove the stacks of runs that are no longer alive.

    A stack survives while its owner process is alive; once that process is gone it survives only
    if it was started by hand (owner ``manual``) or by an `up` (or `run --keep`) that finished
    bringing it up (labelled keep=true and recorded ready). ``include_kept`` removes those too.
    """
    removed = Removed()
    for project, (owners, keeps) in sorted(_labelled_projects().items()):
        why = "removed with --all"
        if not include_kept:
            parsed = [Owner.parse(o) for o in owners]
            if any(p is None for p in parsed):
                continue
            dead = [(p, p.why_dead()) for p in parsed if p]
            if any(not reason for _, reason in dead):
                continue
            if "true" in keeps and _was_ready(project):
                continue
            why = "; ".join(f"owner {p}: {reason}" for p, reason in dead)
        _remove_resources(project, removed)
        ProjectState.forget(project)
        removed.projects.append(project)
        removed.why[project] = why
        _log_removal(project, why)
    return removed


def _log_removal(project: str, why: str) -> None:
    """One line in ``$XDG_STATE_HOME/reboot-harness/gc.log`` per stack `gc` removed: when, by
    which process, which stack and why. It outlives the session (an xdist worker's or a captured
    test's output does not), so a stack that vanished from under a run can be traced."""
    line = f"{time.strftime('%Y-%m-%dT%H:%M:%S')} pid {os.getpid()} removed {project}: {why}\n"
    with contextlib.suppress(OSError):  # a log: never fails the gc
        state_root().mkdir(parents=True, exist_ok=True)
        with (state_root() / "gc.log").open("a", encoding="utf-8") as log:
            log.write(line)
