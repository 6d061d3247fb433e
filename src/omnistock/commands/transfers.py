"""Transfer plans: units leave a location (``transfer-out``), are in transit
(counted by ``promise()``, never in today's ATP) and arrive
(``transfer-in``). Units earmarked for an open reservation arrive reserved
for it."""

from __future__ import annotations

import json
from typing import Any

from .._validate import check_id, from_micros
from ..errors import InsufficientStock, InvalidInput, InvalidQuantity, UnknownSupply
from ..fulfilment.allocate import policy_of
from ..fulfilment.backorders import fill_rows, note_waiters
from ..fulfilment.bopis import lead_time_us
from ..ledger.holds import COMMITTED, OPEN, Hold
from ..ledger.rows import Kind, make
from ..ledger.state import LedgerState
from ..ledger.supply import Incoming
from ..lookup import check_bounds, known_pos, loc_col, sku_row
from ..planning import MAX_US, Context, Plan, WithinFree, done
from ..storage import NewRow
from ..values import Applied, Transfer
from .lots import annotate


def transfer(
    st: LedgerState,
    cx: Context,
    sku: str,
    source: str,
    destination: str,
    q: int,
    eta_us: int | None,
) -> Plan[Transfer]:
    """Send ``q`` units free at ``source`` (its ATP) to ``destination``."""
    s, l = known_pos(st, sku, source)
    loc_col(st, destination, "destination")
    if source == destination:
        raise InvalidInput("destination", destination, "is the source")
    sku_row(st, sku)
    atp = st.grid.atp(s, l)
    if atp < q:
        raise InsufficientStock(sku, q, max(0, atp), source)
    due = eta_us if eta_us is not None else cx.until("eta", lead_time_us(policy_of(st)))
    tid = f"T{st.head + 1}"
    data = {"to": destination, "eta": due}
    claim = cx.claim("head:" + tid)
    row = make(
        Kind.TRANSFER_OUT,
        cx.ts,
        sku=sku,
        location=source,
        qty=q,
        ref=tid,
        key=cx.key,
        data=json.dumps(data),
    )
    rows, datas = [*claim, row], [None] * len(claim) + [data]
    lots = annotate(st, rows, datas)  # first-expiry-first-out: the lots travel along
    result = Transfer(tid, sku, source, destination, q, from_micros(due), lots=lots)
    return Plan(rows, datas, done(result), [WithinFree(sku, source)])


def receive_transfer(
    st: LedgerState, cx: Context, transfer_id: str, q_in: int | None
) -> Plan[Applied]:
    """Units of a transfer arrive at its destination (all, or ``q_in``).
    An id that is no transfer in transit raises ``UnknownSupply``. The last
    units of a paid pickup arrive: it is due for collection a whole window
    from now (``paid_pickup_due``), unless it was due later already."""
    item = st.supply.by_id.get(transfer_id)
    if item is None:
        raise UnknownSupply(transfer_id, "transfer_id")
    if item.kind != "transfer":
        raise InvalidInput("transfer_id", transfer_id, "is a purchase order; receive it with ref=")
    q = item.qty if q_in is None else q_in
    if q > item.qty:
        raise InvalidQuantity("qty", q, f"only {item.qty} in transit")
    data: dict[str, Any] = {}
    h = st.holds.peek(item.res) if item.res is not None else None
    if h is not None and h.state in OPEN:
        data["res"] = h.id
        if h.state == COMMITTED and h.pickup is not None and q == item.qty:
            due = _ready_due(st, cx, h, item.id)
            if due is not None and (h.expires_us is None or due > h.expires_us):
                data["exp"] = due
    # Units arrive (reserved for the order they are earmarked for); leaving
    # the source took them from its ATP, which no bound needs checked.
    check_bounds(st, (item.sku, item.loc), "qty", q, holdable=q, reserved=q if data else 0)
    rows, datas = [item_row(st, cx, Kind.TRANSFER_IN, item, q, data)], [data or None]
    annotate(st, rows, datas)  # the lots in transit arrive with it
    more, more_datas = fill_rows(st, cx, item, q)  # backorders waiting on it, in order
    return Plan([*rows, *more], [*datas, *more_datas], lambda s: Applied(s.head))


def _ready_due(st: LedgerState, cx: Context, h: Hold, arriving: str) -> int | None:
    """The no-show due time of paid pickup ``h`` once transfer ``arriving``
    is in: a whole window from now, if nothing else is still in transit."""
    after = policy_of(st).paid_pickup_us
    if after is None:
        return None
    if any(i.res == h.id and i.id != arriving for i in st.supply.by_id.values()):
        return None
    return min(cx.now + after, MAX_US)


def close_transfer(
    st: LedgerState,
    cx: Context,
    transfer_id: str,
    lost: dict[str, Any],
    moved: dict[str, Any] | None = None,
) -> Plan[Applied]:
    """Close a transfer short: the units not received are journaled as lost
    in transit (``transfer-lost``) and leave ``promise()``. Fills ``lost``
    (the reservation they were earmarked for, SKU row, destination, units)
    for the re-sourcing that follows in the same commit. Closing twice, or
    an id that is no transfer in transit, raises ``UnknownSupply``."""
    check_id("transfer_id", transfer_id)
    item = st.supply.by_id.get(transfer_id)
    if item is None:
        raise UnknownSupply(transfer_id, "transfer_id")
    if item.kind != "transfer":
        why = "is a purchase order; use cancel_expected for it"
        raise InvalidInput("transfer_id", transfer_id, why)
    g = st.grid
    data: dict[str, Any] = {"from": None if item.src is None else g.locs[item.src]}
    if item.res is not None:
        data["res"] = item.res
    row = item_row(st, cx, Kind.TRANSFER_LOST, item, data=data)
    if moved is not None:  # backorders waiting on the lost units
        note_waiters(item, moved)
    lost.clear()
    lost.update(res=item.res, sku=item.sku, loc=item.loc, qty=item.qty, tid=transfer_id)
    return Plan([row], [data], lambda s: Applied(s.head))


def in_transit(st: LedgerState) -> list[Transfer]:
    """Transfers in transit, soonest first."""
    g = st.grid
    out = [
        Transfer(
            i.id,
            g.skus[i.sku],
            g.locs[i.src] if i.src is not None else "?",
            g.locs[i.loc],
            i.qty,
            from_micros(i.eta_us),
            i.res,
        )
        for i in st.supply.by_id.values()
        if i.kind == "transfer"
    ]
    return sorted(out, key=lambda t: (t.eta, t.id))


def item_row(
    st: LedgerState,
    cx: Context,
    kind: Kind,
    item: Incoming,
    qty: int | None = None,
    data: dict[str, Any] | None = None,
) -> NewRow:
    """One ``kind`` row about supply item ``item`` (a purchase order line
    or a transfer): at its SKU and location, ``qty`` units (all it has
    left by default), its id as the ref."""
    g = st.grid
    q = item.qty if qty is None else qty
    text = json.dumps(data) if data else None
    return make(
        kind, cx.ts, sku=g.skus[item.sku], location=g.locs[item.loc], qty=q, ref=item.id,
        key=cx.key, data=text,
    )  # fmt: skip
