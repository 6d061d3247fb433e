"""The memory limit: a numba check-and-decrement over one flat int64 array
of ``available`` units, one element a position, at random positions.

It is the least work a ledger can do a reservation (one random cache line
read and written), so it bounds what any batch kernel can reach. It returns
the number of successful reservations, which equals the ledger's because the
rule (``available >= qty``) is the same.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from numba import njit

from ..workloads import Workload


@njit(
    "int64(int64[::1], int64[::1], int64[::1], int64[::1], int64)",
    cache=True,
    nogil=True,
    boundscheck=False,
)
def check_decrement(avail: Any, s: Any, l: Any, qty: Any, n_locs: Any) -> Any:  # pragma: no cover
    n = 0
    for i in range(s.shape[0]):
        k = s[i] * n_locs + l[i]
        q = qty[i]
        if avail[k] >= q:
            avail[k] -= q
            n += 1
    return n


def prepare_lines(w: Workload) -> Callable[[], int]:
    avail = np.ascontiguousarray(w.stock, dtype=np.int64).ravel().copy()
    n_locs = w.n_locs
    s, l, q = w.s, w.l, w.qty
    return lambda: int(check_decrement(avail, s, l, q, n_locs))


def warm() -> None:
    """Compile (or load from the cache) before timing."""
    z = np.zeros(1, dtype=np.int64)
    check_decrement(np.ones(1, dtype=np.int64), z, z, np.ones(1, dtype=np.int64), 1)
