"""Client output (JSON lines, printed by compose/images/client/rh_traffic) -> Ops. Pure."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from reboot_harness.model.traffic import SERVICES, WRITE_OPS, Op

# Writes whose keys are read back at the end (lost-write accounting).


@dataclass(frozen=True)
class ClientOutput:
    """What one client container printed.

    Attributes:
        ops: every operation line, in the order printed.
        present: service -> acknowledged keys found at read-back; None when the final line is
            missing (the client died or was killed before it verified).
        verify_errors: service -> why its writes could not be read back.
        infos: diagnostic lines (``{"info": ...}``).
        bad_lines: lines that are not a valid operation, info or final line.
        first_bad: the first of them (for the report), shortened.
    """

    ops: tuple[Op, ...]
    present: Mapping[str, frozenset[str]] | None
    verify_errors: Mapping[str, str] = field(default_factory=dict)
    infos: tuple[Mapping[str, object], ...] = ()
    bad_lines: int = 0
    first_bad: str = ""

    def acknowledged(self, service: str) -> frozenset[str]:
        """Keys of the writes of ``service`` the stores acknowledged."""
        want = WRITE_OPS.get(service)
        return frozenset(
            o.key for o in self.ops if o.service == service and o.op == want and o.ok and o.key
        )


def op_from_dict(d: Mapping[str, object]) -> Op:
    """An Op from one decoded line; ValueError naming the field when it is not one."""
    for name in ("service", "client", "op"):
        if not isinstance(d.get(name), str) or not d[name]:
            raise ValueError(f"field {name!r} missing or not a string")
    if d["service"] not in SERVICES:
        raise ValueError(f"service {d['service']!r} unknown; known: {', '.join(SERVICES)}")
    times = []
    for name in ("start", "end"):
        v = d.get(name)
        if isinstance(v, bool) or not isinstance(v, int | float):
            raise ValueError(f"field {name!r} missing or not a number")
        times.append(float(v))
    if times[1] < times[0]:
        raise ValueError("end before start")
    if not isinstance(d.get("ok"), bool):
        raise ValueError("field 'ok' missing or not a boolean")
    extra = {}
    for name in ("target", "error", "key"):
        v = d.get(name, "")
        if not isinstance(v, str):
            raise ValueError(f"field {name!r} is not a string")
        extra[name] = v
    return Op(
        service=str(d["service"]),
        client=str(d["client"]),
        op=str(d["op"]),
        start=times[0],
        end=times[1],
        ok=bool(d["ok"]),
        **extra,
    )


def parse_output(text: str) -> ClientOutput:
    """Parse everything one client printed; never raises on bad lines (they are counted)."""
    ops: list[Op] = []
    infos: list[Mapping[str, object]] = []
    present: dict[str, frozenset[str]] | None = None
    verify_errors: dict[str, str] = {}
    bad = 0
    first_bad = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not line:
            continue
        try:
            d = json.loads(line)
            if not isinstance(d, dict):
                raise ValueError("not an object")
            if "service" in d:
                ops.append(op_from_dict(d))
            elif "present" in d:
                found = d["present"]
                if not isinstance(found, dict) or not all(
                    isinstance(v, list) for v in found.values()
                ):
                    raise ValueError("'present' is not an object of lists")
                present = {str(k): frozenset(str(x) for x in v) for k, v in found.items()}
                errs = d.get("verify_errors") or {}
                verify_errors = {str(k): str(v) for k, v in dict(errs).items()}
            elif "info" in d:
                infos.append(d)
            else:
                raise ValueError("neither an operation, an info nor the final line")
        except ValueError as e:
            bad += 1
            if not first_bad:
                first_bad = f"{line[:120]} ({e})"
    return ClientOutput(tuple(ops), present, verify_errors, tuple(infos), bad, first_bad)


def merge_present(outputs: Sequence[ClientOutput]) -> dict[str, frozenset[str]]:
    """service -> every acknowledged key read back, for the services whose read-back is
    complete: each client either verified the service or had no acknowledged write of it.
    A service left out could not be verified (so lost writes cannot be judged for it)."""
    merged: dict[str, frozenset[str]] = {}
    for service in WRITE_OPS:
        keys: set[str] = set()
        complete = True
        for out in outputs:
            if out.present is not None and service in out.present:
                keys |= out.present[service]
            elif out.acknowledged(service):
                complete = False
        if complete:
            merged[service] = frozenset(keys)
    return merged


def sort_ops(ops: Iterable[Op]) -> tuple[Op, ...]:
    return tuple(sorted(ops, key=lambda o: (o.start, o.end, o.service, o.client)))
