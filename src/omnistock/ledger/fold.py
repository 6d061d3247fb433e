"""The fold: one handler per journal row kind, turning a row into state.

``FOLD`` maps each ``rows.Kind`` to its handler; ``LedgerState.apply``
looks the row's kind up here and calls it, for live commands and replay
alike, which is why a replay of the journal equals the live ledger. Every
row becomes state through these handlers, with one shortcut: replay folds
the rows ``rows.HOLDABLE_SIGN`` declares to be a bare ``holdable`` delta
(``received`` with no supply item, ``sold``) in bulk, the same arithmetic
as ``_received``/``_sold`` here. ``check()`` replays the journal and
compares digests, so the two cannot drift apart unnoticed.

The other writers of state are not folds: a snapshot load
(``snapshot.py``), a savepoint rollback (``savepoint.py``), and a bulk hold
reserving ahead of its ``held-batch`` row (``add_reserved``; the row then
says ``"done"``). A handler costs O(1) plus its reservation's lines, except
a block row: O(its lines).

The helpers handlers share are ``folding.py``'s; the folds of backordered
units and kits are ``orderfold.py``'s, those of lot books ``lotfold.py``'s.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..skus import Sku
from ..values import Channel, Location
from . import heldbatches, orderfold
from .folding import (
    Data,
    Handler,
    Id,
    add_kits,
    add_reserved,
    hold_of,
    open_res,
    per_sku,
    pos_of,
    to_state,
    unreserve,
    use,
    use_many,
)
from .grid import STATE_INDEX
from .heldbatches import HeldBatch
from .holds import COMMITTED, EXPIRED, FULFILLED, RELEASED
from .rows import SELLABLE, Kind
from .supply import Incoming

if TYPE_CHECKING:  # the container; state.py imports this module, not the reverse
    from .fields import LedgerFields as LedgerState

__all__ = ["FOLD", "add_reserved", "per_sku", "use", "use_many"]


# -- network and policy -------------------------------------------------------------
def _location(
    st: LedgerState, _s: Any, _l: Any, _q: int, _r: Any, _c: Any, d: Data, _seq: int
) -> None:
    location = Location.from_dict(d["location"])
    st.locations[location.id] = location
    st.grid.loc(location.id)


def _channel(
    st: LedgerState, _s: Any, _l: Any, _q: int, _r: Any, _c: Any, d: Data, _seq: int
) -> None:
    channel = Channel.from_dict(d["channel"])
    st.channels[channel.id] = channel


def _policy(
    st: LedgerState, _s: Any, _l: Any, _q: int, _r: Any, _c: Any, d: Data, _seq: int
) -> None:
    st.policy = d["policy"]


def _claimed(*_: Any) -> None:
    """A claim only makes writers minting the same id conflict in a
    partitioned store (its "sku" is the claim's scope); no state."""


def _picked(
    st: LedgerState, _s: Any, loc: Id, qty: int, ref: Id, _c: Any, d: Data, _seq: int
) -> None:
    assert loc is not None
    day = int(d["day"])
    k = (loc, day)
    st.picks[k] = st.picks.get(k, 0) + qty
    if ref is not None:  # the reservation that took (qty 1) or gave back (-1) the pick
        h = st.holds.need_for_update(ref)
        if qty > 0:
            h.picked[loc] = day
        else:
            h.picked.pop(loc, None)


# -- stock on hand ------------------------------------------------------------------
def _received(
    st: LedgerState, sku: Id, loc: Id, qty: int, ref: Id, _c: Any, _d: Any, _seq: int
) -> None:
    s, l = pos_of(st, sku, loc)
    st.grid.holdable[s, l] += qty
    st.ranged.add((s, l))
    if ref is not None and ref in st.supply.by_id:
        st.supply.take(ref, qty)


def _sold(
    st: LedgerState, sku: Id, loc: Id, qty: int, _r: Any, _c: Any, _d: Any, _seq: int
) -> None:
    s, l = pos_of(st, sku, loc)
    st.grid.holdable[s, l] -= qty


def _counted(
    st: LedgerState, sku: Id, loc: Id, qty: int, _r: Any, _c: Any, d: Data, _seq: int
) -> None:
    p = pos_of(st, sku, loc)
    to_state(st, p, d.get("state", SELLABLE), qty)
    st.ranged.add(p)


def _returned(
    st: LedgerState, sku: Id, loc: Id, qty: int, _r: Any, _c: Any, d: Data, _seq: int
) -> None:
    p, state = pos_of(st, sku, loc), d.get("state", SELLABLE)
    if state != "write_off":  # a written-off return never enters on_hand
        to_state(st, p, state, qty)


def _written_off(
    st: LedgerState, sku: Id, loc: Id, qty: int, _r: Any, _c: Any, d: Data, _seq: int
) -> None:
    to_state(st, pos_of(st, sku, loc), d.get("state", SELLABLE), -qty)


def _state_changed(
    st: LedgerState, sku: Id, loc: Id, qty: int, _r: Any, _c: Any, d: Data, _seq: int
) -> None:
    p = pos_of(st, sku, loc)
    to_state(st, p, d["from"], -qty)
    to_state(st, p, d["to"], qty)


def _safety(
    st: LedgerState, sku: Id, loc: Id, qty: int, _r: Any, _c: Any, _d: Any, _seq: int
) -> None:
    p = pos_of(st, sku, loc)
    st.grid.add_safety(p, qty)
    st.grid.holdable[p] -= qty
    st.ranged.add(p)


# -- reservations -------------------------------------------------------------------
def _held(
    st: LedgerState, sku: Id, loc: Id, qty: int, ref: Id, channel: Id, d: Data, seq: int
) -> None:
    assert ref is not None and sku is not None and loc is not None
    g, hs = st.grid, st.holds
    # Every hold folds here once a line: the common cases (an interned SKU
    # and location, the reservation's expiry already the row's) skip a call.
    s, l = g.sku_ix.get(sku), g.loc_ix.get(loc)
    p = (g.sku(sku) if s is None else s, g.loc(loc) if l is None else l)
    h = hs.by_id.get(ref)  # a hold's later rows: open already (the common multi-line case)
    if h is None or "to" in d or "pickup" in d:
        h = open_res(st, ref, channel, d, seq)
    hs.add_line(h, p, qty)
    if h.channel is not None:
        use(st, h.channel, p[0], qty)
    exp = d.get("exp")
    if exp is not None and exp != h.expires_us:
        hs.set_expiry(h, exp)
    g.reserved[p] += qty
    if "kits" in d:  # a kit hold's last row: the kits its lines make up (commands/kits.py)
        for kit, at, n in d["kits"]:
            add_kits(h, kit, st.grid.loc(at), n)


def _committed(
    st: LedgerState, _s: Any, _l: Any, _q: int, ref: Id, _c: Any, d: Data, _seq: int
) -> None:
    """The clock stops, but a paid pickup's: it is due for collection by
    ``d["exp"]`` (a no-show after it)."""
    h = hold_of(st, ref)
    h.state = COMMITTED
    st.holds.set_expiry(h, d.get("exp"))


def _extended(
    st: LedgerState, _s: Any, _l: Any, _q: int, ref: Id, _c: Any, d: Data, _seq: int
) -> None:
    st.holds.set_expiry(hold_of(st, ref), d["exp"])


def _released(
    st: LedgerState, sku: Id, loc: Id, qty: int, ref: Id, _c: Any, d: Data, _seq: int
) -> None:
    part = bool(d.get("part"))  # some lines released: closes once none is left
    h = unreserve(st, sku, loc, qty, ref, RELEASED, part or bool(d.get("resize")))
    if part and not h.lines and not h.waiting:
        st.holds.close(h, FULFILLED if h.shipped else RELEASED)


def _expired(
    st: LedgerState, sku: Id, loc: Id, qty: int, ref: Id, _c: Any, _d: Any, _seq: int
) -> None:
    unreserve(st, sku, loc, qty, ref, EXPIRED, False)


def _no_show(
    st: LedgerState, sku: Id, loc: Id, qty: int, ref: Id, _c: Any, _d: Any, _seq: int
) -> None:
    """A paid pickup not collected in time: released, units back to stock."""
    unreserve(st, sku, loc, qty, ref, RELEASED, False)


def _fulfilled(
    st: LedgerState, sku: Id, loc: Id, qty: int, ref: Id, _c: Any, _d: Any, _seq: int
) -> None:
    h = unreserve(st, sku, loc, qty, ref, FULFILLED, True)
    p = pos_of(st, sku, loc)
    h.shipped[p] = h.shipped.get(p, 0) + qty
    st.grid.holdable[p] -= qty
    if not h.lines and not h.waiting:
        st.holds.close(h, FULFILLED)


def _held_batch(
    st: LedgerState, _s: Any, _l: Any, _q: int, ref: Id, channel: Id, d: Data, seq: int
) -> None:
    """A block of reservations (see ``heldbatches.py``). A command planned in
    this process has already reserved the units (``d["done"]``)."""
    assert ref is not None
    start, s, l, q = heldbatches.resolve(d, st.grid)
    if not d.get("done"):
        add_reserved(st, s, l, q)
    use_many(st, channel, s, q)
    st.holds.add_batch(
        HeldBatch(ref, seq, d["exp"], channel, heldbatches.orders_of(d), start, s, l, q)
    )


def _expired_batch(
    st: LedgerState, _s: Any, _l: Any, _q: int, ref: Id, _c: Any, _d: Any, _seq: int
) -> None:
    assert ref is not None
    b = st.holds.batches[ref]
    m = b.live_lines()
    s, l, q = b.s[m], b.l[m], b.q[m]
    add_reserved(st, s, l, -q)
    use_many(st, b.channel, s, -q)
    st.holds.expire_batch(b)


# -- supply -------------------------------------------------------------------------
def _expected(
    st: LedgerState, sku: Id, loc: Id, qty: int, ref: Id, _c: Any, d: Data, _seq: int
) -> None:
    assert ref is not None
    s, l = pos_of(st, sku, loc)
    st.supply.add(Incoming(ref, s, l, qty, d["eta"], "po"))


def _expected_cancelled(
    st: LedgerState, _s: Any, _l: Any, qty: int, ref: Id, _c: Any, _d: Any, _seq: int
) -> None:
    assert ref is not None
    st.supply.take(ref, qty)


def _redated(
    st: LedgerState, _s: Any, _l: Any, _q: int, ref: Id, _c: Any, d: Data, _seq: int
) -> None:
    assert ref is not None
    st.supply.redate(ref, int(d["eta"]))


def _transfer_out(
    st: LedgerState, sku: Id, loc: Id, qty: int, ref: Id, channel: Id, d: Data, seq: int
) -> None:
    assert ref is not None
    s, l = pos_of(st, sku, loc)
    st.grid.holdable[s, l] -= qty
    dst = st.grid.loc(d["to"])
    rid = d.get("res")
    st.supply.add(Incoming(ref, s, dst, qty, d["eta"], "transfer", l, rid))
    if rid is not None:  # earmarked for an order: opens its reservation if new
        h = open_res(
            st, rid, channel, {k: v for k, v in d.items() if k in ("order", "pickup")}, seq
        )
        h.transfers += 1  # its transfers' ids are never minted twice
        if "exp" in d:
            st.holds.set_expiry(h, d["exp"])


def _transfer_in(
    st: LedgerState, sku: Id, loc: Id, qty: int, ref: Id, _c: Any, d: Data, _seq: int
) -> None:
    assert ref is not None
    s, l = pos_of(st, sku, loc)
    st.grid.holdable[s, l] += qty
    st.ranged.add((s, l))
    st.supply.take(ref, qty)
    rid = d.get("res")
    if rid is not None:  # units earmarked for a reservation arrive reserved
        h = st.holds.need_for_update(rid)
        st.holds.add_line(h, (s, l), qty)
        st.grid.reserved[s, l] += qty
        use(st, h.channel, s, qty)
        if "exp" in d:  # a paid pickup: its window runs from this arrival
            st.holds.set_expiry(h, d["exp"])


def _lot_expired(
    st: LedgerState, sku: Id, loc: Id, qty: int, _r: Any, _c: Any, _d: Any, _seq: int
) -> None:
    """A lot's sellable units go to the "expired" state (its book: ``lotfold``)."""
    p = pos_of(st, sku, loc)
    st.grid.holdable[p] -= qty
    st.grid.add_unsellable(p, STATE_INDEX["expired"], qty)


# -- thresholds ---------------------------------------------------------------------
def _threshold_set(
    st: LedgerState, sku: Id, loc: Id, qty: int, _r: Any, _c: Any, d: Data, _seq: int
) -> None:
    assert sku is not None
    st.thresholds.put(sku, loc, None if d.get("clear") else qty)


def _threshold_crossed(
    st: LedgerState, sku: Id, loc: Id, _q: int, _r: Any, _c: Any, d: Data, _seq: int
) -> None:
    assert sku is not None
    st.thresholds.step(sku, loc, int(d["step"]))


def _sku_added(
    st: LedgerState, _s: Any, _l: Any, _q: int, _r: Any, _c: Any, d: Data, _seq: int
) -> None:
    """A SKU's catalogue entry (``skus.Sku``): the face converts by it."""
    sku = Sku.from_dict(d["sku"])
    st.catalogue[sku.id] = sku


def _transfer_lost(
    st: LedgerState, _s: Any, _l: Any, qty: int, ref: Id, _c: Any, _d: Any, _seq: int
) -> None:
    """Units of a transfer closed short: they leave the supply (they left
    their source's stock when they were sent)."""
    assert ref is not None
    st.supply.take(ref, qty)


_BY_KIND: dict[Kind, Handler] = {
    Kind.LOCATION_ADDED: _location,
    Kind.CHANNEL_ADDED: _channel,
    Kind.POLICY_SET: _policy,
    Kind.RECEIVED: _received,
    Kind.COUNTED: _counted,
    Kind.SOLD: _sold,
    Kind.RETURNED: _returned,
    Kind.WRITTEN_OFF: _written_off,
    Kind.STATE_CHANGED: _state_changed,
    Kind.SAFETY_SET: _safety,
    Kind.HELD: _held,
    Kind.COMMITTED: _committed,
    Kind.EXTENDED: _extended,
    Kind.RELEASED: _released,
    Kind.EXPIRED: _expired,
    Kind.FULFILLED: _fulfilled,
    Kind.EXPECTED: _expected,
    Kind.EXPECTED_CANCELLED: _expected_cancelled,
    Kind.REDATED: _redated,
    Kind.TRANSFER_OUT: _transfer_out,
    Kind.TRANSFER_IN: _transfer_in,
    Kind.TRANSFER_LOST: _transfer_lost,
    Kind.PICKED: _picked,
    Kind.CLAIMED: _claimed,
    Kind.HELD_BATCH: _held_batch,
    Kind.EXPIRED_BATCH: _expired_batch,
    Kind.THRESHOLD_SET: _threshold_set,
    Kind.THRESHOLD_CROSSED: _threshold_crossed,
    Kind.NO_SHOW: _no_show,
    Kind.SKU_ADDED: _sku_added,
    Kind.BACKORDERED: orderfold.backordered,
    Kind.BACKORDER_FILLED: orderfold.backorder_filled,
    Kind.BACKORDER_RELEASED: orderfold.backorder_released,
    Kind.KIT_ADDED: orderfold.kit_added,
    Kind.KIT_HELD: orderfold.kit_held,
    Kind.LOT_EXPIRED: _lot_expired,
}
FOLD: dict[str, Handler] = {k._value_: h for k, h in _BY_KIND.items()}
"""Kind (its journal string) -> handler. Plain ``str`` keys: the journal's
kinds are plain strings, and an all-``str`` dict is the fastest lookup."""

if set(FOLD) != set(Kind):  # pragma: no cover - a kind added without its fold
    raise ImportError(f"fold.FOLD does not cover {set(Kind) ^ set(FOLD)}")
