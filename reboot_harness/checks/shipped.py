"""The shipped checks, loaded from their one table (:data:`reboot_harness.model.checks.SHIPPED`:
name -> module:attribute). Each is a module of this package that declares its check with the
public check API (:func:`reboot_harness.checks.check`) — its causes, the roles it needs, its
subjects and its function in one place — exactly as your own checks are declared. Importing
them imports no engine, database or socket.io client (those are imported when a check runs):
validating a scenario stays cheap."""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from functools import cache
from types import MappingProxyType

from reboot_harness.model.checks import COMMON_CAUSES, SHIPPED, CheckKind
from reboot_harness.model.own_checks import Check


@cache
def checks() -> Mapping[str, Check]:
    """Every shipped check by name, in the table's order."""
    out = {}
    for name, ref in SHIPPED.items():
        module, _, attr = ref.partition(":")
        found = getattr(importlib.import_module(module), attr)
        if not isinstance(found, Check) or found.name != name:  # pragma: no cover - a bug
            raise RuntimeError(f"{ref} is not the check {name!r} the table names")
        out[name] = found
    return MappingProxyType(out)


def kinds() -> Mapping[str, CheckKind]:
    """Every shipped check as scenarios and incidents name it."""
    return MappingProxyType({name: found.kind() for name, found in checks().items()})


def causes_of(check: str) -> tuple[str, ...]:
    """Every cause code a failure of shipped check ``check`` may carry (its own, then the common
    ones)."""
    return (*checks()[check].causes, *COMMON_CAUSES)


def unobserved_causes(check: str) -> frozenset[str]:
    """The causes of shipped check ``check`` that say it could not see (the common ones too)."""
    return checks()[check].unobserved | frozenset(COMMON_CAUSES)
