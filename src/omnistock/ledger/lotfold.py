"""The lot side of the fold: what a row does to the books of ``lots.py``.

``LedgerState.apply`` calls ``fold`` after the row's handler in
``fold.py`` (which moved the grid) for the kinds in ``PHYSICAL``, and only
when the ledger has lots at all or the row names one, so a ledger without
lots never comes here. A row that says which lots it moved (``data["lot"]``
or ``data["lots"]``) moves those; any other row at a lotted position is
settled against the grid (``Lots.settle``), so the books always add up.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .grid import STATE_INDEX
from .lots import NO_LOT
from .rows import SELLABLE, Kind

if TYPE_CHECKING:
    from .fields import LedgerFields as LedgerState

EXPIRED_STATE = "expired"

PHYSICAL = frozenset(
    k._value_
    for k in (
        Kind.RECEIVED,
        Kind.COUNTED,
        Kind.SOLD,
        Kind.RETURNED,
        Kind.WRITTEN_OFF,
        Kind.STATE_CHANGED,
        Kind.FULFILLED,
        Kind.TRANSFER_OUT,
        Kind.TRANSFER_IN,
        Kind.TRANSFER_LOST,
        Kind.LOT_EXPIRED,
    )
)
"""Kinds that move physical units: the only ones a book follows."""


def fold(
    st: LedgerState, kind: str, sku: str | None, loc: str | None, qty: int, ref: str | None,
    d: dict[str, Any], _seq: int,
) -> None:  # fmt: skip
    """Apply a row's lot effect (after its grid effect). O(lots at the position)."""
    lots = st.lots
    if kind == Kind.TRANSFER_LOST:
        if ref is not None:
            lots.arrive(ref, qty)
        return
    if sku is None or loc is None:
        return
    g = st.grid
    p = (g.sku_ix[sku], g.loc_ix[loc])
    lotted = p in lots.by_pos
    back = kind == Kind.RETURNED and "lot" in d and d.get("state", SELLABLE) == SELLABLE
    arrives = kind == Kind.TRANSFER_IN and ref is not None and ref in lots.transit
    if not lotted and (back or arrives or (kind == Kind.RECEIVED and "lot" in d)):
        # A book opens: the units already there (maybe oversold) had no lot.
        before = int(g.holdable[p]) + g.safety.get(p, 0) - qty
        if before:
            lots.add(p, NO_LOT, None, before)
    if kind == Kind.RECEIVED and "lot" in d:
        lots.add(p, d["lot"], d.get("exp"), qty)
    elif back:
        old = lots.expiry_of(p[0], d["lot"])[1]  # the lot's expiry, from where it is
        lots.add(p, d["lot"], old, qty)
    elif arrives and ref is not None:
        for name, exp, n in lots.arrive(ref, qty):
            lots.add(p, name, exp, n)
    elif not lotted:
        return
    elif kind in (Kind.SOLD, Kind.FULFILLED, Kind.TRANSFER_OUT, Kind.COUNTED):
        pairs = d.get("lots")
        if pairs is None and kind != Kind.COUNTED:
            pairs = lots.fefo(p, qty)
        if pairs:
            lots.take(p, pairs)
            if kind == Kind.TRANSFER_OUT and ref is not None:
                lots.send(ref, pairs, p)
    elif kind == Kind.STATE_CHANGED and "lot" in d and d.get("from") == SELLABLE:
        lots.to_state(p, d["lot"], qty, d["to"])
    elif kind == Kind.LOT_EXPIRED:
        lots.to_state(p, d["lot"], qty, EXPIRED_STATE)
    u = g.unsell.get(p)
    unsell = {} if u is None else {k: u[i] for k, i in STATE_INDEX.items() if u[i]}
    lots.settle(p, int(g.holdable[p]) + g.safety.get(p, 0), unsell)


def lot_units(st: LedgerState, p: tuple[int, int], name: str) -> int | None:
    """Units of lot ``name`` on hand at ``p`` (any state); None when the
    position has no such lot."""
    book = st.lots.by_pos.get(p)
    lot = None if book is None else book.get(name)
    return None if lot is None or name == NO_LOT else lot.total


def violations(st: LedgerState) -> list[str]:
    """The lot invariants (``lots.py``'s module doc), as sentences.
    O(lots); nothing when the ledger has no lots."""
    lots = st.lots
    if not lots.by_pos and not lots.transit:
        return []
    out: list[str] = []
    g = st.grid
    index = set()
    for (s, l), book in lots.by_pos.items():
        where = f"({g.skus[s]}, {g.locs[l]})"
        sellable = int(g.holdable[s, l]) + g.safety.get((s, l), 0)
        total = sum(lot.qty for lot in book.values())
        if total != sellable:
            out.append(f"lots at {where} hold {total} sellable units, the position {sellable}")
        u = g.unsell.get((s, l))
        for name, lot in book.items():
            if (lot.qty < 0 and name != NO_LOT) or min(lot.off.values(), default=0) < 0:
                out.append(f"lot {name!r} at {where} is negative: {lot.qty} {lot.off}")
            if lot.qty > 0 and lot.exp is not None and name != NO_LOT:
                index.add((lot.exp, s, l, name))
        for state, i in STATE_INDEX.items():
            kept = sum(lot.off.get(state, 0) for lot in book.values())
            if kept > (0 if u is None else u[i]):
                out.append(f"lots at {where} keep {kept} units {state}, the position fewer")
    if index != set(lots.expiry):
        out.append("the lot expiry index does not list exactly the named lots with units")
    for tid, items in lots.transit.items():
        item = st.supply.by_id.get(tid)
        n = sum(x[2] for x in items)
        if item is None or n != item.qty or min(x[2] for x in items) <= 0:
            out.append(f"lots in transit for {tid} add up to {n}, the transfer does not")
    return out
