"""Stock plans: receive, count, sell, safety, state changes, returns and
expected supply.

A sale or a count is physical truth: it always applies, and the
reservations it leaves uncovered are reported (``Applied.shortages``) and
re-sourced in the same commit by ``fulfilment.resourcing``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from .._validate import MAX_QTY
from ..errors import InsufficientStock, InvalidInput, InvalidQuantity
from ..fulfilment.allocate import policy_of
from ..fulfilment.backorders import fill_rows
from ..fulfilment.returns import plan_return
from ..ledger.grid import Pos
from ..ledger.rows import Kind, make
from ..ledger.state import SELLABLE, LedgerState
from ..lookup import (
    channel_of,
    check_bounds,
    known_pos,
    loc_col,
    shortages,
    state_delta,
    units,
)
from ..planning import Context, Guard, Plan, unchanged
from ..storage import NewRow
from ..values import Applied, Line, Shortage
from . import kits
from .lots import annotate, with_lot
from .purchases import check_receipt


def applied(short: tuple[Shortage, ...] = ()) -> Plan[Applied]:
    """A plan that moves nothing and reports the head."""
    return Plan([], [], lambda st: Applied(st.head, short))


def _one(
    row: NewRow, data: Any, short: tuple[Shortage, ...] = (), guards: Sequence[Guard] = ()
) -> Plan[Applied]:
    return Plan([row], [data], lambda st: Applied(st.head, short), guards)


def receive(
    st: LedgerState, cx: Context, sku: str, location: str, q: int, ref: str | None
) -> Plan[Applied]:
    """``q`` sellable units arrive (``ref``: the open PO line they draw
    down, partly or past what it expects; it closes at zero)."""
    p = known_pos(st, sku, location, new_sku=True)
    if ref is not None:
        check_receipt(st, ref, sku, location)
    check_bounds(st, p, "qty", q, holdable=q)
    plan = _one(
        make(Kind.RECEIVED, cx.ts, sku=sku, location=location, qty=q, ref=ref, key=cx.key), None
    )
    item = None if ref is None else st.supply.by_id.get(ref)
    if item is not None and item.booked:  # backorders waiting on it: on hand now, in order
        rows, datas = fill_rows(st, cx, item, q)
        plan.rows += rows
        plan.datas += datas
    return plan


def count(
    st: LedgerState, cx: Context, sku: str, location: str, q: int, state: str
) -> Plan[Applied]:
    """A cycle count sets the units in ``state`` to ``q``."""
    p = known_pos(st, sku, location, new_sku=True)
    delta = q - units(st, p, state)
    if abs(delta) > MAX_QTY:  # the entry's qty is a term too
        raise InvalidQuantity("qty", q, f"would change the count by {delta}, past 2**62")
    d_hold, d_unsell = state_delta(state, delta)
    check_bounds(st, p, "qty", q, holdable=d_hold, unsell=d_unsell)
    data = {"state": state, "to": q}
    row = make(
        Kind.COUNTED,
        cx.ts,
        sku=sku,
        location=location,
        qty=delta,
        key=cx.key,
        data=json.dumps(data),
    )
    # The row journals the difference to what this ledger saw: it relies on it.
    short = shortages(st, {p: -delta} if state == SELLABLE else {})
    rows: list[NewRow] = [row]
    datas: list[dict[str, Any] | None] = [data]
    annotate(st, rows, datas)  # a count below the lots takes them FEFO
    return _one(rows[0], datas[0], short, [unchanged(st, sku, location)])


def sell(
    st: LedgerState, cx: Context, location: str, ls: tuple[Line, ...], channel: str | None
) -> Plan[Applied]:
    """A walk-in sale: applied even beyond ATP. A kit sells its components."""
    loc_col(st, location)
    if st.kits and kits.has_kit(st, ls):
        ls = kits.expand(st, ls)
    if channel is not None:
        channel_of(st, channel)
    rows: list[NewRow] = []
    taken: dict[Pos, int] = {}
    for ln in ls:
        if ln.location is not None and ln.location != location:
            why = f"is pinned to another location than the sale's location={location!r}"
            raise InvalidInput("lines", ln, why)
        p = known_pos(st, ln.sku, location)
        taken[p] = taken.get(p, 0) + ln.qty
        check_bounds(st, p, "qty", ln.qty, holdable=-taken[p])
        rows.append(
            make(
                Kind.SOLD,
                cx.ts,
                sku=ln.sku,
                location=location,
                qty=ln.qty,
                channel=channel,
                key=cx.key,
            )
        )
    short = shortages(st, taken)
    datas: list[Any] = [None] * len(rows)
    lots = annotate(st, rows, datas)  # first-expiry-first-out at lotted positions
    return Plan(rows, datas, lambda s: Applied(s.head, short, lots=lots))


def set_safety(st: LedgerState, cx: Context, sku: str, location: str, q: int) -> Plan[Applied]:
    """Set the units kept out of ATP at a position."""
    p = known_pos(st, sku, location, new_sku=True)
    delta = q - st.grid.safety.get(p, 0)
    if delta == 0:
        return applied()
    check_bounds(st, p, "qty", q, holdable=-delta, safety=delta)
    data = {"to": q}
    return _one(
        make(
            Kind.SAFETY_SET,
            cx.ts,
            sku=sku,
            location=location,
            qty=delta,
            key=cx.key,
            data=json.dumps(data),
        ),
        data,
        guards=[unchanged(st, sku, location)],
    )


def change_state(
    st: LedgerState, cx: Context, sku: str, location: str, q: int, to: str, from_: str
) -> Plan[Applied]:
    """Move ``q`` units between states; moving sellable units out may leave
    reservations uncovered (a shortage)."""
    p = known_pos(st, sku, location)
    have = units(st, p, from_)
    if have < q:
        raise InsufficientStock(sku, q, max(0, have), location)
    d_out, u_out = state_delta(from_, -q)
    d_in, u_in = state_delta(to, q)
    for i, d in u_in.items():
        u_out[i] = u_out.get(i, 0) + d
    check_bounds(st, p, "qty", q, holdable=d_out + d_in, unsell=u_out)
    data = {"from": from_, "to": to}
    row = make(
        Kind.STATE_CHANGED,
        cx.ts,
        sku=sku,
        location=location,
        qty=q,
        key=cx.key,
        data=json.dumps(data),
    )
    return _one(row, data, shortages(st, {p: q} if from_ == SELLABLE else {}))


def return_items(
    st: LedgerState,
    cx: Context,
    location: str,
    ls: tuple[Line, ...],
    condition: str,
    order_id: str | None,
    lot: str | None = None,
) -> Plan[Applied]:
    """Returned units taken back at ``location`` and dispositioned (a kit's
    components, for a kit; ``lot``: the lot they came from, restocked into it)."""
    loc_col(st, location)
    if st.kits and kits.has_kit(st, ls):
        ls = kits.expand(st, ls)
    if not st.locations[location].accepts_returns:
        raise InvalidInput("location", location, "does not accept returns")
    came: dict[Pos, int] = {}
    for ln in ls:  # lines of one position add up
        p = known_pos(st, ln.sku, location)
        if condition != "write_off":  # a written-off return never enters on_hand
            came[p] = came.get(p, 0) + ln.qty
            d_hold, d_unsell = state_delta(condition, came[p])
            check_bounds(st, p, "qty", ln.qty, holdable=d_hold, unsell=d_unsell)
    rows, datas, transfers = plan_return(
        st, cx, location, ls, condition, order_id, policy_of(st).transfer_hours
    )
    if lot is not None:  # the units go back into their lot
        rows, datas = with_lot(st, rows, datas, lot)
    return Plan(rows, datas, lambda s: Applied(s.head, transfers=transfers))


def expect(
    st: LedgerState, cx: Context, sku: str, location: str, q: int, eta_us: int, ref: str | None
) -> Plan[str]:
    """Dated incoming supply; returns its id."""
    known_pos(st, sku, location, new_sku=True)
    sid = ref or f"po-{st.head + 1}"
    old = st.supply.by_id.get(sid)  # more of the same supply adds up
    if old is not None and old.qty + q > MAX_QTY:
        raise InvalidQuantity("qty", q, f"would take supply {sid} to {old.qty + q}, past 2**62")
    claim = [] if ref else cx.claim("head:" + sid)
    data = {"eta": eta_us}
    row = make(
        Kind.EXPECTED,
        cx.ts,
        sku=sku,
        location=location,
        qty=q,
        ref=sid,
        key=cx.key,
        data=json.dumps(data),
    )
    return Plan([*claim, row], [None] * len(claim) + [data], lambda _s: sid)
