"""The metrics "client": gaps in carbon's whisper files for each app's counter.

The apps send ``rh.<host>.counter`` every second (retention 1s:6h); a second without a point is
a second of lost metrics. Read after the run on the graphite host itself (its python3-whisper),
turned into one Op per second per app so the verdicts treat metrics like any other service.
"""

from __future__ import annotations

import json
import time

from reboot_harness.model.traffic import Op
from reboot_harness.stack.protocol import StackLike

# Runs on the graphite host: whisper.fetch for each app; JSON on stdout.
_FETCH = """
import json, sys, whisper
since, until, root = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
out = {}
for host in sys.argv[4:]:
    path = "%s/rh/%s/counter.wsp" % (root, host)
    try:
        (start, end, step), values = whisper.fetch(path, since, until)
        out[host] = {"start": start, "step": step, "values": values}
    except Exception as e:
        out[host] = {"error": "%s: %s" % (type(e).__name__, e)}
print(json.dumps(out))
"""


def fetch_points(
    stack: StackLike, since: float, until: float
) -> dict[str, list[tuple[int, bool]]] | str:
    """app -> [(second, point present)] in [since, until); or why it could not be read."""
    topo = stack.topology
    res = stack.exec(
        topo.graphite_host,
        [
            "python3",
            "-c",
            _FETCH,
            str(int(since)),
            str(int(until)),
            topo.whisper_dir,
            *topo.apps,
        ],
        timeout=20,
    )
    if not res.ok:
        return f"reading whisper on {topo.graphite_host} failed ({res.brief()})"
    try:
        data = json.loads(res.stdout)
    except ValueError:
        return f"reading whisper on {topo.graphite_host}: not JSON: {res.stdout[:120]!r}"
    out: dict[str, list[tuple[int, bool]]] = {}
    errors = []
    for app in topo.apps:
        got = data.get(app) or {"error": "no answer"}
        if "error" in got:
            errors.append(f"{app}: {got['error']}")
            continue
        start, step = int(got["start"]), int(got["step"])
        out[app] = [
            (start + i * step, v is not None)
            for i, v in enumerate(got["values"])
            if since <= start + i * step < until
        ]
    if errors and not out:
        return "; ".join(errors)
    return out


def metric_ops(
    stack: StackLike, since: float, until: float, *, settle: float = 10.0
) -> tuple[list[Op], list[str]]:
    """One Op per second per app between ``since`` and ``until`` (present point: ok, gap: not
    ok, error ``gap``), waiting up to ``settle`` seconds for the last points to be written."""
    problems: list[str] = []
    first, last = int(since) + 1, int(until) - 1  # partial seconds at both ends are not judged
    if last <= first:
        return [], problems
    deadline = time.monotonic() + settle
    while True:
        points = fetch_points(stack, first, last)
        settled = isinstance(points, dict) and all(
            any(ok for t, ok in pts if t >= last - 2) for pts in points.values()
        )
        if settled or time.monotonic() >= deadline:
            break
        time.sleep(1.0)
    if isinstance(points, str):
        return [], [f"metrics: {points}"]
    ops: list[Op] = []
    for app, pts in sorted(points.items()):
        ops.extend(
            Op(
                "metrics",
                "carbon",
                f"point rh.{app}.counter",
                float(t),
                float(t + 1),
                ok,
                app,
                "" if ok else "gap",
            )
            for t, ok in pts
        )
    missing = sorted(set(stack.topology.apps) - set(points))
    if missing:
        problems.append(f"metrics: no whisper data for {', '.join(missing)}")
    return ops, problems
