"""Loading your own checks by the reference a topology gives (``python_checks``): an entry
point name of group ``reboot_harness.checks``, or ``module:attribute`` imported with the topology
file's folder first on ``sys.path`` — validated as a :class:`reboot_harness.model.own_checks.Check`
before anything runs."""

from __future__ import annotations

import dataclasses
import importlib
import sys
from functools import cache
from importlib import metadata

from reboot_harness.errors import UsageError
from reboot_harness.model.own_checks import Check, invalid_own
from reboot_harness.model.topology import Topology

ENTRY_POINT_GROUP = "reboot_harness.checks"


def load(ref: str, search: str = "") -> Check:
    """The check ``ref`` names: an entry point name of group ``reboot_harness.checks`` or
    ``module:attribute`` (imported with ``search`` first on ``sys.path``).

    Raises:
        UsageError: nothing by that name, an import that fails, or not a valid Check.
    """
    return _load(ref, search)


@cache
def _load(ref: str, search: str) -> Check:
    if not isinstance(ref, str) or not ref.strip():
        raise UsageError(f"python check {ref!r}: expected an entry point name or module:attribute")
    if ":" in ref:
        found = _import(ref, search)
    else:
        eps = [ep for ep in metadata.entry_points(group=ENTRY_POINT_GROUP) if ep.name == ref]
        if not eps:
            known = sorted({ep.name for ep in metadata.entry_points(group=ENTRY_POINT_GROUP)})
            raise UsageError(
                f"python check {ref!r}: no entry point of group {ENTRY_POINT_GROUP} has that"
                f" name (installed: {', '.join(known) or 'none'}); install the package that"
                " provides it, or write module:attribute"
            )
        try:
            found = eps[0].load()
        except Exception as e:
            raise UsageError(
                f"python check {ref!r}: entry point {eps[0].value} cannot be loaded:"
                f" {type(e).__name__}: {e}"
            ) from e
        if isinstance(found, Check) and found.name != ref:
            raise UsageError(
                f"python check {ref!r}: entry point {eps[0].value} is check {found.name!r};"
                " name the entry point as the check"
            )
    if not isinstance(found, Check):
        raise UsageError(
            f"python check {ref!r} is a {type(found).__name__}, not a"
            " reboot_harness.checks.Check; decorate the function with"
            " @reboot_harness.checks.check(...)"
        )
    problem = invalid_own(found)
    if problem:
        raise UsageError(f"python check {ref!r}: {problem}")
    return dataclasses.replace(found, source=ref)


def _import(ref: str, search: str) -> object:
    module_name, _, attr = ref.partition(":")
    if not module_name or not attr:
        raise UsageError(f"python check {ref!r}: expected module:attribute")
    if search and search not in sys.path:
        sys.path.insert(0, search)
    try:
        module = importlib.import_module(module_name)
    except Exception as e:
        where = f" (searched {search} and sys.path)" if search else ""
        raise UsageError(
            f"python check {ref!r}: cannot import {module_name}{where}: {type(e).__name__}: {e}"
        ) from e
    found = module
    for part in attr.split("."):
        try:
            found = getattr(found, part)
        except AttributeError as e:
            raise UsageError(f"python check {ref!r}: {module_name} has no {attr}") from e
    return found


def python_checks(topology: Topology) -> dict[str, Check]:
    """The Python checks the topology names, loaded (see :func:`load`)."""
    out: dict[str, Check] = {}
    for ref in topology.python_checks:
        found = load(ref, topology.python_path)
        out[found.name] = found
    return out
