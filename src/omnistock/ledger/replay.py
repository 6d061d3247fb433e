"""Replay: fold journal rows into a ledger state, fast.

Rows whose whole effect is a delta on ``holdable`` (``rows.HOLDABLE_SIGN``:
receipts of no supply item, sales) are the bulk of any journal. They are
reduced to delta vectors and applied by one kernel call per chunk (the
positions received are marked ranged in the same flush); every other row
(holds, network, supply) goes through ``LedgerState.apply`` in order.
Per-chunk ordering is kept: the kernel runs before each slow row, so the
result equals applying every row one by one. O(rows).
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from ..storage.base import Row
from .rows import HOLDABLE_SIGN, SUPPLY_REF_KINDS
from .state import LedgerState

CHUNK = 65536


def replay(st: LedgerState, rows: Iterable[Row]) -> int:
    """Apply ``rows`` (in sequence order) to ``st``; returns how many."""
    n = 0
    g = st.grid
    s_buf: list[int] = []
    l_buf: list[int] = []
    d_buf: list[int] = []
    r_buf: list[bool] = []  # the row stocks its position: mark it ranged
    last = None
    lotted = st.lots.by_pos  # the same dict throughout: books are added in place

    def flush() -> None:
        if not s_buf:
            return
        if len(s_buf) < 64:  # a kernel call costs more than a few numpy writes
            for a, b, d, r in zip(s_buf, l_buf, d_buf, r_buf, strict=True):
                g.holdable[a, b] += d
                if r:
                    g.ranged.add((a, b))
        else:
            from .kernels import apply_deltas

            s = np.asarray(s_buf, dtype=np.int64)
            l = np.asarray(l_buf, dtype=np.int64)
            zeros = np.zeros(len(s_buf), dtype=np.int64)
            apply_deltas(s, l, np.asarray(d_buf, dtype=np.int64), zeros, g.holdable, g.reserved)
            m = np.asarray(r_buf, dtype=np.bool_)
            g.ranged.add_many(s[m], l[m])
        s_buf.clear()
        l_buf.clear()
        d_buf.clear()
        r_buf.clear()

    for row in rows:
        n += 1
        kind = row[2]
        sign = HOLDABLE_SIGN.get(kind)
        if (
            sign is not None
            and (row[6] is None or kind not in SUPPLY_REF_KINDS)
            and row[9] is None  # a row naming lots goes through the fold
        ):
            sku_ix = g.sku_ix.get(row[3])  # type: ignore[arg-type]
            loc_ix = g.loc_ix.get(row[4])  # type: ignore[arg-type]
            if sku_ix is None or loc_ix is None:
                flush()  # interning may resize the grids
                sku_ix, loc_ix = g.sku(row[3]), g.loc(row[4])  # type: ignore[arg-type]
            if lotted and (sku_ix, loc_ix) in lotted:  # a lotted position: its book follows
                flush()
                st.apply(row)
                continue
            s_buf.append(sku_ix)
            l_buf.append(loc_ix)
            d_buf.append(sign * row[5])
            r_buf.append(sign > 0)
            last = row
            if len(s_buf) >= CHUNK:
                flush()
            continue
        flush()
        st.apply(row)
    flush()
    if last is not None and last[0] > st.head:
        st.head = last[0]
        st.last_ts = max(st.last_ts, last[1])
    return n
