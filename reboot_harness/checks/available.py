"""Which checks a topology has: the shipped ones whose roles it fills, the host checks it
declares, and the Python checks it names — every one a :class:`~reboot_harness.checks.Check`.
Scenarios, incidents, ``--checks`` and the check runner all ask here, so a check name means the
same everywhere. No docker here."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from reboot_harness.checks import shipped
from reboot_harness.checks.declared import as_check
from reboot_harness.inputs.own_checks import python_checks
from reboot_harness.model.checks import COMMON_CAUSES, CheckKind
from reboot_harness.model.own_checks import Check
from reboot_harness.model.topology import HostCheck, Topology


def missing_roles(found: Check | CheckKind, topology: Topology) -> list[str]:
    """The roles ``found`` needs that ``topology`` names no host for."""
    return [role for role in found.roles if not getattr(topology, role)]


def unavailable(topology: Topology) -> dict[str, str]:
    """Shipped checks this topology cannot run -> why (a role with no host)."""
    out = {}
    for name, found in shipped.checks().items():
        missing = missing_roles(found, topology)
        if missing:
            out[name] = f"needs a host in {' and '.join(missing)}; the topology names none"
    return out


def declared(topology: Topology) -> dict[str, tuple[HostCheck, ...]]:
    """Declared host checks by check name, in the order the topology declares them."""
    out: dict[str, list[HostCheck]] = {}
    for entry in topology.host_checks:
        out.setdefault(entry.check, []).append(entry)
    return {name: tuple(entries) for name, entries in out.items()}


def checks(topology: Topology) -> Mapping[str, Check]:
    """Every check the topology can run, by name, in the order results are shown: the shipped
    ones it has the roles for, then its declared host checks, then its Python checks."""
    gone = unavailable(topology)
    out = {name: found for name, found in shipped.checks().items() if name not in gone}
    for name, entries in declared(topology).items():
        out[name] = as_check(name, entries)
    out.update(python_checks(topology))
    return MappingProxyType(out)


def kinds(topology: Topology) -> Mapping[str, CheckKind]:
    """Every check the topology can run as scenarios and incidents name it (see
    :func:`checks`)."""
    return MappingProxyType({name: found.kind() for name, found in checks(topology).items()})


def names(topology: Topology) -> tuple[str, ...]:
    return tuple(checks(topology))


def causes_of(topology: Topology, check: str) -> tuple[str, ...]:
    """Every cause a failure of ``check`` may carry on this topology."""
    return (*checks(topology)[check].causes, *COMMON_CAUSES)


def unobserved_causes(topology: Topology, check: str) -> frozenset[str]:
    """The causes of ``check`` that say it could not see (its own, and the common ones); a
    Python check's own causes all count as mechanisms unless it declares otherwise."""
    return checks(topology)[check].unobserved | frozenset(COMMON_CAUSES)
