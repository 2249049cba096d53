"""Where to put the client containers so that the LBs spread them over every backend.

The LB upstream is ``hash $remote_addr consistent`` (compose/images/lb/app.conf): each client
address sticks to one backend. Which one is nginx's ketama-style consistent hash, computed here
the way ngx_http_upstream_hash_module does (160 points per unit of weight, each
``crc32(HOST \\0 PORT PREV_HASH)``; a key maps to the first point at or after ``crc32(key)``),
so the clients can be given addresses that land on different backends. Tests check the
prediction against which app actually answered.
"""

from __future__ import annotations

import bisect
import struct
import zlib
from collections.abc import Collection, Sequence

POINTS_PER_WEIGHT = 160


def chash_points(servers: Sequence[str], weight: int = 1) -> list[tuple[int, str]]:
    """nginx's continuum for ``servers`` as written in the upstream (``app1:8000``)."""
    points: list[tuple[int, str]] = []
    for server in servers:
        host, sep, port = server.rpartition(":")
        if not sep:
            host, port = server, ""
        base = host.encode() + b"\0" + port.encode()
        prev = 0
        for _ in range(POINTS_PER_WEIGHT * weight):
            h = zlib.crc32(base + struct.pack("<I", prev))
            points.append((h, server))
            prev = h
    points.sort(key=lambda p: p[0])
    deduped: list[tuple[int, str]] = []
    for p in points:
        if not deduped or deduped[-1][0] != p[0]:
            deduped.append(p)
    return deduped


def chash_server(key: str, points: Sequence[tuple[int, str]]) -> str:
    """The server nginx picks for ``key`` (``$remote_addr``) while every server is up."""
    hashes = [h for h, _ in points]
    i = bisect.bisect_left(hashes, zlib.crc32(key.encode()))
    return points[i % len(points)][1]


def spread_addresses(
    prefix: str,
    used: Collection[str],
    count: int,
    servers: Sequence[str],
    *,
    low: int = 200,
    high: int = 254,
) -> list[tuple[str, str]]:
    """``count`` free addresses ``prefix.N`` (N from ``high`` down to ``low``), the i-th one
    hashing to ``servers[i % len(servers)]``; each with the server it hashes to.

    Raises:
        ValueError: the range has no free address left for some server.
    """
    points = chash_points(servers)
    free = [f"{prefix}.{n}" for n in range(high, low - 1, -1) if f"{prefix}.{n}" not in used]
    chosen: list[tuple[str, str]] = []
    for i in range(count):
        want = servers[i % len(servers)]
        addr = next((a for a in free if chash_server(a, points) == want), None)
        if addr is None:
            raise ValueError(
                f"no free address in {prefix}.{low}-{high} hashes to {want};"
                f" {len(free)} free, {count} clients wanted"
            )
        free.remove(addr)
        chosen.append((addr, want))
    return chosen
