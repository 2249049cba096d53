"""Which checks a topology has: the shipped ones whose roles it fills, the host checks it
declares, and the Python checks it names. Scenarios, incidents, ``--checks`` and the check
runner all ask here, so a check name means the same everywhere. No docker here."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from reboot_harness.inputs.own_checks import python_checks
from reboot_harness.model.checks import (
    CHECKS,
    COMMON_CAUSES,
    HOST_CHECK_CAUSES,
    HOST_CHECK_UNOBSERVED,
    CheckKind,
)
from reboot_harness.model.topology import HostCheck, Topology


def missing_roles(kind: CheckKind, topology: Topology) -> list[str]:
    """The roles ``kind`` needs that ``topology`` names no host for."""
    return [role for role in kind.roles if not getattr(topology, role)]


def unavailable(topology: Topology) -> dict[str, str]:
    """Shipped checks this topology cannot run -> why (a role with no host)."""
    out = {}
    for kind in CHECKS:
        missing = missing_roles(kind, topology)
        if missing:
            out[kind.name] = f"needs a host in {' and '.join(missing)}; the topology names none"
    return out


def declared(topology: Topology) -> dict[str, tuple[HostCheck, ...]]:
    """Declared host checks by check name, in the order the topology declares them."""
    out: dict[str, list[HostCheck]] = {}
    for entry in topology.host_checks:
        out.setdefault(entry.check, []).append(entry)
    return {name: tuple(entries) for name, entries in out.items()}


def kinds(topology: Topology) -> Mapping[str, CheckKind]:
    """Every check the topology can run, by name, in the order results are shown: the shipped
    ones it has the roles for, then declared host checks, then Python checks."""
    gone = unavailable(topology)
    out = {k.name: k for k in CHECKS if k.name not in gone}
    for name, entries in declared(topology).items():
        hosts = ", ".join(dict.fromkeys(e.host for e in entries))
        out[name] = CheckKind(
            name,
            HOST_CHECK_CAUSES,
            f"declared host checks on {hosts}",
            unobserved=HOST_CHECK_UNOBSERVED,
        )
    for name, found in python_checks(topology).items():
        out[name] = found.kind()
    return MappingProxyType(out)


def names(topology: Topology) -> tuple[str, ...]:
    return tuple(kinds(topology))


def causes_of(topology: Topology, check: str) -> tuple[str, ...]:
    """Every cause a failure of ``check`` may carry on this topology."""
    return (*kinds(topology)[check].causes, *COMMON_CAUSES)


def unobserved_causes(topology: Topology, check: str) -> frozenset[str]:
    """The causes of ``check`` that say it could not see (its own, and the common ones); a
    Python check's own causes all count as mechanisms unless it declares otherwise."""
    return kinds(topology)[check].unobserved | frozenset(COMMON_CAUSES)
