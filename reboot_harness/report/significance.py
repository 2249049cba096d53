"""How sure a change is: the one-sided Mann-Whitney U test, exact up to 40 values a side, and
Holm's step-down correction over the figures of one scenario variant. Pure arithmetic."""

from __future__ import annotations

import math
from collections.abc import Sequence
from functools import cache


@cache
def _u_counts(m: int, n: int) -> tuple[int, ...]:
    """How many of the C(m+n, m) orderings of m x's and n y's, all distinct, give each U
    (0..m*n), U being the number of pairs with y > x. The largest value is a y, beating every
    x (m pairs more than the orderings of m, n-1 have), or an x, beating none (those of m-1, n):
    Mann & Whitney (1947)."""
    if m == 0 or n == 0:
        return (1,)
    out = [0] * (m * n + 1)
    for u, c in enumerate(_u_counts(m, n - 1)):
        out[u + m] += c
    for u, c in enumerate(_u_counts(m - 1, n)):
        out[u] += c
    return tuple(out)


def p_larger(base: Sequence[float], new: Sequence[float]) -> float:
    """One-sided p-value that ``new`` tends to be larger than ``base`` (Mann-Whitney U).

    Exact (every ordering counted) up to 40 values a side, a normal approximation beyond. Ties
    count as "not larger", the least significant reading, so that equal values (e.g. 0 errors
    on both sides) never make a change."""
    m, n = len(base), len(new)
    if not m or not n:
        return 1.0
    u = sum(1 for x in base for y in new if y > x)  # ties: not larger
    if max(m, n) > 40:
        mean, sd = m * n / 2, math.sqrt(m * n * (m + n + 1) / 12)
        return 0.5 * math.erfc((u - 0.5 - mean) / sd / math.sqrt(2))
    counts = _u_counts(m, n)
    return sum(counts[u:]) / math.comb(m + n, m)


def smallest_p(m: int, n: int) -> float:
    """The smallest one-sided p-value samples of these sizes can give (complete separation)."""
    return 1.0 / math.comb(m + n, m) if m and n else 1.0


def runs_needed(alpha: float) -> int:
    """Runs per side for the test to be able to reach ``alpha``."""
    n = 1
    while smallest_p(n, n) >= alpha:
        n += 1
    return n


def holm(ps: Sequence[float], alpha: float) -> list[float]:
    """The level each of ``ps`` must beat under Holm's step-down correction: the smallest
    alpha/k, the next alpha/(k-1), ... until one fails; those after it cannot pass (0)."""
    out = [0.0] * len(ps)
    k = len(ps)
    for rank, i in enumerate(sorted(range(k), key=lambda i: ps[i])):
        out[i] = alpha / (k - rank)
        if ps[i] >= out[i]:
            break
    return out
