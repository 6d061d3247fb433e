"""The folds of what waits on a reservation beside its lines: backordered
units (waiting on dated supply, ``fulfilment/backorders.py``) and kits
(``kits.py``). ``fold.FOLD`` maps their kinds here."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .folding import Data, Id, add_kits, hold_of, open_res, pos_of, use
from .holds import COMMITTED, FULFILLED, HELD, Hold

if TYPE_CHECKING:
    from .fields import LedgerFields as LedgerState


# -- backorders (units waiting on dated supply; see fulfilment/backorders.py) ----------
def backordered(
    st: LedgerState, sku: Id, _l: Id, qty: int, ref: Id, channel: Id, d: Data, seq: int
) -> None:
    assert ref is not None
    h = open_res(st, ref, channel, d, seq)
    sid = d["sid"]
    h.waiting[sid] = h.waiting.get(sid, 0) + qty
    st.supply.book(sid, ref, qty)
    if "exp" in d:
        st.holds.set_expiry(h, d["exp"])


def _unwait(st: LedgerState, ref: Id, qty: int, d: Data) -> Hold:
    h = hold_of(st, ref)
    sid = d["sid"]
    left = h.waiting.get(sid, 0) - qty
    if left > 0:
        h.waiting[sid] = left
    else:
        h.waiting.pop(sid, None)
    st.supply.book(sid, h.id, -qty)
    return h


def backorder_filled(
    st: LedgerState, sku: Id, loc: Id, qty: int, ref: Id, _c: Any, d: Data, _seq: int
) -> None:
    h = _unwait(st, ref, qty, d)
    p = pos_of(st, sku, loc)
    st.holds.add_line(h, p, qty)
    st.grid.reserved[p] += qty
    use(st, h.channel, p[0], qty)


def backorder_released(
    st: LedgerState, _s: Id, _l: Id, qty: int, ref: Id, _c: Any, d: Data, _seq: int
) -> None:
    h = _unwait(st, ref, qty, d)
    close = d.get("close")
    if close and h.state in (HELD, COMMITTED) and not h.lines and not h.waiting:
        st.holds.close(h, FULFILLED if h.shipped else close)


# -- kits (``kits.py``) --------------------------------------------------------------
def kit_added(
    st: LedgerState, sku: Id, _l: Any, _q: int, _r: Any, _c: Any, d: Data, _seq: int
) -> None:
    assert sku is not None
    st.kits.define(sku, {c: int(q) for c, q in d["components"].items()})


def kit_held(
    st: LedgerState, sku: Id, loc: Id, qty: int, ref: Id, _c: Any, _d: Any, _seq: int
) -> None:
    """Kits a reservation's component lines at ``loc`` make up (its
    ``held`` rows, just before, reserved the units)."""
    assert sku is not None and loc is not None
    add_kits(hold_of(st, ref), sku, st.grid.loc(loc), qty)
