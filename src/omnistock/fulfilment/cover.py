"""The covering-set search behind fewest-splits sourcing.

Columns of ``A`` are the kept candidate locations in rank order, rows the
order's SKU groups, ``demand`` the units each group needs. A *cover* is a
set of columns whose ATP meets every group's demand.

Exact-search bound
------------------
When the order has one distinct SKU, the smallest lexicographically-first
cover is found exactly in O(k * n^2) for n kept candidates (no bound). With
several SKUs, sets are enumerated by increasing size from a lower bound
(pruned: the largest number of locations any single SKU needs) up to the
size a greedy cover reached, testing ``C(n, k)`` sets of ``g`` SKU groups at
size k. The search is exact while the running total ``sum C(n, k) * g``
stays within :data:`EXACT_WORK` (200,000): e.g. up to 3 locations out of 20
candidates for up to 100 SKUs, up to 3 out of 30 for 40 SKUs, or 2 out of
60 for 100 SKUs. Beyond it the greedy set cover (largest number of
still-needed units first, ties by rank) is used and the plan says
``search="greedy"``. Greedy is never worse than exact by more than the usual
``H(max units)`` factor, and the exact plan never has more splits.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

__all__ = [
    "EXACT_WORK",
    "covers",
    "greedy_cover",
    "lex_first_single",
    "need_count",
    "smallest_cover",
]

EXACT_WORK = 200_000
"""Most (subset x SKU group) coverage tests the exact multi-SKU search makes."""


def need_count(a: NDArray[np.int64], demand: int) -> int:
    """Fewest locations whose ATP (row ``a``) sums to ``demand``; len+1 if none."""
    s = np.sort(a)[::-1]
    c = np.cumsum(s)
    hit = np.nonzero(c >= demand)[0]
    return int(hit[0]) + 1 if hit.size else a.shape[0] + 1


def lex_first_single(a: NDArray[np.int64], demand: int, k: int) -> list[int]:
    """Lexicographically first k-subset (indices in rank order) of ``a`` that
    sums to ``demand``; the same algorithm as the wave kernel. O(k * n^2)."""
    n = a.shape[0]
    chosen: list[int] = []
    acc = 0
    last = -1
    for p in range(k):
        need = k - p - 1
        for i in range(last + 1, n):
            rest = np.sort(a[i + 1 :])[::-1][:need].sum() if need else 0
            if acc + int(a[i]) + int(rest) >= demand:
                chosen.append(i)
                acc += int(a[i])
                last = i
                break
    return chosen


def greedy_cover(A: NDArray[np.int64], demand: NDArray[np.int64]) -> list[int]:
    """Greedy set cover: repeatedly the location (column of ``A``, rank order)
    adding the most still-needed units, ties to the better rank; stops when
    covered or nothing adds. Returns rank positions in pick order."""
    rem = demand.copy()
    left = list(range(A.shape[1]))
    picked: list[int] = []
    while left and rem.sum() > 0:
        gains = [int(np.minimum(A[:, j], rem).sum()) for j in left]
        best = max(range(len(left)), key=lambda t: (gains[t], -t))
        if gains[best] <= 0:
            break
        j = left.pop(best)
        picked.append(j)
        rem = rem - np.minimum(A[:, j], rem)
    return picked


def covers(A: NDArray[np.int64], demand: NDArray[np.int64], cols: Sequence[int]) -> bool:
    return bool((A[:, list(cols)].sum(axis=1) >= demand).all())


def smallest_cover(
    A: NDArray[np.int64], demand: NDArray[np.int64], greedy: list[int]
) -> tuple[list[int] | None, int]:
    """Lexicographically first smallest cover by enumeration, or None when the
    work bound is hit first. Also returns the size it was proven minimal from."""
    g, n = A.shape
    kmin = max(need_count(A[r], int(demand[r])) for r in range(g))
    work = 0
    for k in range(kmin, len(greedy) + 1):
        work += math.comb(n, k) * g
        if work > EXACT_WORK:
            return None, k
        combos = itertools.combinations(range(n), k)
        while True:
            chunk = np.array(list(itertools.islice(combos, 4096)), dtype=np.int64)
            if chunk.size == 0:
                break
            ok = (A[:, chunk].sum(axis=2) >= demand[:, None]).all(axis=0)
            hit = np.nonzero(ok)[0]
            if hit.size:
                return [int(x) for x in chunk[hit[0]]], k
    return None, kmin  # unreachable when greedy covers
