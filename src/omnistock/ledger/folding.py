"""What every fold handler shares (``fold.py``, ``orderfold.py``,
``lotfold.py``): the handler type, and the helpers that move a position's
figures, a channel's used units and a reservation's lines. Snapshots and
bulk holds use ``use``, ``use_many``, ``per_sku`` and ``add_reserved`` too."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

from .grid import STATE_INDEX, Pos
from .holds import Hold
from .kits import clamp
from .rows import SELLABLE

if TYPE_CHECKING:  # the container; state.py imports the folds, not the reverse
    from .fields import LedgerFields as LedgerState

__all__ = [
    "Data",
    "Handler",
    "Id",
    "add_kits",
    "add_reserved",
    "hold_of",
    "open_res",
    "per_sku",
    "pos_of",
    "to_state",
    "unreserve",
    "use",
    "use_many",
]

Id = str | None
Data = dict[str, Any]
Handler = Callable[
    ["LedgerState", Id, Id, int, Id, Id, Data, int],
    None,
]
"""``(state, sku, location, qty, ref, channel, data, seq)``: ``data`` is the
row's parsed JSON, ``{}`` when it has none."""


def use(st: LedgerState, channel: str | None, s: int, qty: int) -> None:
    """Add ``qty`` (may be negative) to the channel's open reserved units of
    SKU row ``s`` (the ring-fence's "used"); a zero total is dropped."""
    if channel is None or not qty:
        return
    k = (channel, s)
    v = st.chan_used.get(k, 0) + qty
    if v:
        st.chan_used[k] = v
    else:
        del st.chan_used[k]


def use_many(st: LedgerState, channel: str | None, s: np.ndarray, q: np.ndarray) -> None:
    """``use`` for lines ``s``/``q``, each SKU once. O(lines log lines)."""
    if channel is None:
        return
    for a, v in per_sku(s, q):
        use(st, channel, a, v)


def per_sku(s: np.ndarray, q: np.ndarray) -> list[tuple[int, int]]:
    """``(sku row, total units)`` over lines ``s``/``q``, each SKU once."""
    if not len(s):
        return []
    us, inv = np.unique(s, return_inverse=True)
    sums = np.zeros(len(us), dtype=np.int64)
    np.add.at(sums, inv, q)
    return list(zip(us.tolist(), sums.tolist(), strict=True))


def add_reserved(st: LedgerState, s: np.ndarray, l: np.ndarray, q: np.ndarray) -> None:
    """``reserved[s[i], l[i]] += q[i]`` for every i (q may be negative)."""
    g = st.grid
    if len(s) < 64:  # a kernel call costs more than a few numpy writes
        for a, b, d in zip(s.tolist(), l.tolist(), q.tolist(), strict=True):
            g.reserved[a, b] += d
        return
    from .kernels import apply_deltas

    apply_deltas(s, l, np.zeros(len(s), dtype=np.int64), q, g.holdable, g.reserved)


def pos_of(st: LedgerState, sku: str | None, loc: str | None) -> Pos:
    assert sku is not None and loc is not None
    return st.grid.sku(sku), st.grid.loc(loc)


def to_state(st: LedgerState, p: Pos, state: str, qty: int) -> None:
    """Add ``qty`` (may be negative) units in stock state ``state`` at ``p``."""
    if state == SELLABLE:
        st.grid.holdable[p] += qty
    else:
        st.grid.add_unsellable(p, STATE_INDEX[state], qty)


def open_res(st: LedgerState, rid: str, channel: str | None, d: Data, seq: int) -> Hold:
    h = st.holds.open_hold(rid, d.get("order"), channel, seq)
    if "to" in d:
        h.dest = (d["to"][0], d["to"][1])
    if "pickup" in d:
        h.pickup = d["pickup"]
    return h


def hold_of(st: LedgerState, ref: str | None) -> Hold:
    assert ref is not None
    return st.holds.need_for_update(ref)


def unreserve(st: LedgerState, sku: Id, loc: Id, qty: int, ref: Id, state: str, keep: bool) -> Hold:
    h = hold_of(st, ref)
    p = pos_of(st, sku, loc)
    st.holds.take_line(h, p, qty)
    st.grid.reserved[p] -= qty
    use(st, h.channel, p[0], -qty)
    if h.kits:  # the kits left are those its component units still make up
        clamp(st, h)
    if not keep:
        st.holds.close(h, state)
    return h


def add_kits(h: Hold, kit: str, l: int, qty: int) -> None:
    """Add ``qty`` kits (negative: an amendment asks for fewer) of ``kit``
    at location column ``l`` to ``h``; none left drops the entry."""
    k = (kit, l)
    n = h.kits.get(k, 0) + qty
    if n > 0:
        h.kits[k] = n
    else:
        h.kits.pop(k, None)
