"""Returns-to-store: where a returned unit goes.

A return at any store that accepts returns is dispositioned: sellable
units restock there when the store ranges the SKU (it has stocked it
before), otherwise they are transferred on to its ``returns_to``; damaged,
inspection, quarantine and display units go to that unsellable state; a
write-off is journaled and never enters on_hand.
"""

from __future__ import annotations

import json
from typing import Any

from .._validate import from_micros
from ..ledger.rows import Kind, make
from ..ledger.state import SELLABLE, LedgerState
from ..planning import Context, Datas
from ..storage import NewRow
from ..values import Line, Transfer

CONDITIONS = ("sellable", "damaged", "inspection", "quarantine", "display", "write_off")


def plan_return(
    st: LedgerState,
    cx: Context,
    location: str,
    ls: tuple[Line, ...],
    condition: str,
    order_id: str | None,
    transfer_hours: float,
) -> tuple[list[NewRow], Datas, tuple[Transfer, ...]]:
    """The rows of a return at a known ``location`` that accepts returns,
    and the onward transfers it starts. O(lines)."""
    g = st.grid
    data = {"state": condition}
    text = json.dumps(data)
    rows: list[NewRow] = []
    datas: Datas = []
    onward: list[tuple[str, int]] = []
    back_to = st.locations[location].returns_to
    l = g.loc_ix[location]
    for ln in ls:
        rows.append(
            make(
                Kind.RETURNED,
                cx.ts,
                sku=ln.sku,
                location=location,
                qty=ln.qty,
                ref=order_id,
                key=cx.key,
                data=text,
            )
        )
        datas.append(data)
        ranged = (g.sku_ix[ln.sku], l) in st.ranged
        if condition == SELLABLE and back_to is not None and not ranged and back_to != location:
            onward.append((ln.sku, ln.qty))
    transfers = []
    if back_to is not None and onward:  # not ranged here: send it on
        claim = cx.claim(f"head:T{st.head + 1}")
        rows, datas = claim + rows, [*([None] * len(claim)), *datas]
        eta = cx.until("transfer_hours", int(transfer_hours * 3600 * 1_000_000))
        for sku, q in onward:
            tid = f"T{st.head + len(rows) + 1}"
            d: dict[str, Any] = {"to": back_to, "eta": eta}
            rows.append(
                make(
                    Kind.TRANSFER_OUT,
                    cx.ts,
                    sku=sku,
                    location=location,
                    qty=q,
                    ref=tid,
                    key=cx.key,
                    data=json.dumps(d),
                )
            )
            datas.append(d)
            transfers.append(Transfer(tid, sku, location, back_to, q, from_micros(eta)))
    return rows, datas, tuple(transfers)
