"""Stock plans: receive, count, sell, safety, state changes, returns and
expected supply.

A sale or a count is physical truth: it always applies, and the
reservations it leaves uncovered are reported (``Applied.shortages``) and
re-sourced in the same commit by ``fulfilment.resourcing``.
"""

from __future__ import annotations

import json
from typing import Any

from .._validate import MAX_QTY
from ..errors import InsufficientStock, InvalidInput, InvalidQuantity
from ..fulfilment.allocate import policy_of
from ..fulfilment.returns import plan_return
from ..ledger.grid import Pos
from ..ledger.rows import Kind, make
from ..ledger.state import SELLABLE, LedgerState
from ..lookup import channel_of, known_pos, loc_col, shortages, units
from ..planning import Context, Plan
from ..storage import NewRow
from ..values import Applied, Line, Shortage


def applied(short: tuple[Shortage, ...] = ()) -> Plan[Applied]:
    """A plan that moves nothing and reports the head."""
    return Plan([], [], lambda st: Applied(st.head, short))


def _one(row: NewRow, data: Any, short: tuple[Shortage, ...] = ()) -> Plan[Applied]:
    return Plan([row], [data], lambda st: Applied(st.head, short))


def _no_overflow(st: LedgerState, p: Pos, q: int) -> None:
    if p[0] < len(st.grid.skus) and st.grid.on_hand(*p) + q > MAX_QTY:
        raise InvalidQuantity("qty", q, "would take on_hand past 2**62")


def receive(
    st: LedgerState, cx: Context, sku: str, location: str, q: int, ref: str | None
) -> Plan[Applied]:
    """``q`` sellable units arrive (``ref``: the expected supply they fulfil)."""
    p = known_pos(st, sku, location, new_sku=True)
    _no_overflow(st, p, q)
    return _one(
        make(Kind.RECEIVED, cx.ts, sku=sku, location=location, qty=q, ref=ref, key=cx.key), None
    )


def count(
    st: LedgerState, cx: Context, sku: str, location: str, q: int, state: str
) -> Plan[Applied]:
    """A cycle count sets the units in ``state`` to ``q``."""
    p = known_pos(st, sku, location, new_sku=True)
    delta = q - units(st, p, state)
    if delta > 0 and p[0] < len(st.grid.skus) and st.grid.on_hand(*p) + delta > MAX_QTY:
        raise InvalidQuantity("qty", q, "would take on_hand past 2**62")
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
    return _one(row, data, shortages(st, {p: -delta} if state == SELLABLE else {}))


def sell(
    st: LedgerState, cx: Context, location: str, ls: tuple[Line, ...], channel: str | None
) -> Plan[Applied]:
    """A walk-in sale: applied even beyond ATP."""
    loc_col(st, location)
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
        if st.grid.on_hand(*p) - taken[p] < -MAX_QTY:
            raise InvalidQuantity("qty", ln.qty, "would take on_hand below -2**62")
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
    return Plan(rows, [None] * len(rows), lambda s: Applied(s.head, short))


def set_safety(st: LedgerState, cx: Context, sku: str, location: str, q: int) -> Plan[Applied]:
    """Set the units kept out of ATP at a position."""
    p = known_pos(st, sku, location, new_sku=True)
    delta = q - st.grid.safety.get(p, 0)
    if delta == 0:
        return applied()
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
) -> Plan[Applied]:
    """Returned units taken back at ``location`` and dispositioned."""
    loc_col(st, location)
    if not st.locations[location].accepts_returns:
        raise InvalidInput("location", location, "does not accept returns")
    for ln in ls:
        _no_overflow(st, known_pos(st, ln.sku, location), ln.qty)
    rows, datas, transfers = plan_return(
        st, cx, location, ls, condition, order_id, policy_of(st).transfer_hours
    )
    return Plan(rows, datas, lambda s: Applied(s.head, transfers=transfers))


def expect(
    st: LedgerState, cx: Context, sku: str, location: str, q: int, eta_us: int, ref: str | None
) -> Plan[str]:
    """Dated incoming supply; returns its id."""
    known_pos(st, sku, location, new_sku=True)
    sid = ref or f"po-{st.head + 1}"
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
