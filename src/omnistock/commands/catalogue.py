"""Catalogue plans: a SKU's units and decimals (``skus.Sku``). Journaled
and guarded like the network, so every process converts quantities alike."""

from __future__ import annotations

import json

from ..errors import InvalidInput
from ..ledger.rows import Kind, make
from ..ledger.state import LedgerState
from ..planning import Context, Plan, done
from ..skus import Sku


def has_rows(st: LedgerState, sku: str) -> bool:
    """Whether the journal holds a quantity of ``sku`` (a movement, a
    reservation, dated supply or a low-stock mark): its scale is fixed then."""
    if sku in st.grid.sku_ix:  # interned by every row with a quantity of it
        return True
    return any(s == sku for s, _loc, _low in st.thresholds.marks())


def add_sku(st: LedgerState, cx: Context, sku: Sku) -> Plan[Sku]:
    """Declare (or re-declare) ``sku``. The same entry again journals
    nothing. Its base unit and pack units may change at any time (the
    journal keeps scaled base units, so no row changes meaning); its
    ``decimals`` may not once the journal holds a quantity of it (an
    undeclared SKU counts as 0 decimals): ``InvalidInput`` naming
    ``decimals``. O(thresholds)."""
    old = st.catalogue.get(sku.id)
    if old == sku:
        return Plan([], [], done(sku))
    was = 0 if old is None else old.decimals
    if sku.decimals != was and has_rows(st, sku.id):
        why = f"SKU {sku.id!r} already has journal rows at {was} decimals: they cannot change"
        raise InvalidInput("decimals", sku.decimals, why)
    data = {"sku": sku.to_dict()}
    row = make(Kind.SKU_ADDED, cx.ts, sku=sku.id, key=cx.key, data=json.dumps(data))
    return Plan([row], [data], done(sku))
