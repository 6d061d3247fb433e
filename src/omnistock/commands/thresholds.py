"""Low-stock threshold plans (``ledger/thresholds.py`` holds the state).

A mark is catalogue data: it may be set for a SKU before any stock of it
is journaled. Setting it is journaled and guarded like the network (the
last writer wins, so concurrent writers may not both rely on the old
mark); the crossing it causes, if any, joins the same commit
(``omnistock.alerting``).
"""

from __future__ import annotations

import json
from typing import Any

from ..errors import UnknownLocation
from ..ledger.rows import Kind, make
from ..ledger.state import LedgerState
from ..planning import Context, Plan
from ..values import Applied


def set_threshold(
    st: LedgerState, cx: Context, sku: str, location: str | None, low: int | None
) -> Plan[Applied]:
    """Set the low mark of ``sku`` at ``location`` (None: network-wide) to
    ``low``, or clear it (``low`` None). Unchanged: nothing is journaled.
    ``UnknownLocation`` for a location the network does not have."""
    if location is not None and location not in st.locations:
        raise UnknownLocation(location, "location")
    if st.thresholds.get(sku, location) == low:
        return Plan([], [], lambda s: Applied(s.head))
    data: dict[str, Any] | None = {"clear": True} if low is None else None
    row = make(
        Kind.THRESHOLD_SET,
        cx.ts,
        sku=sku,
        location=location,
        qty=0 if low is None else low,
        key=cx.key,
        data=None if data is None else json.dumps(data),
    )
    return Plan([row], [data], lambda s: Applied(s.head))
