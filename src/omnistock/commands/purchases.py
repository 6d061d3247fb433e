"""Purchase-order plans: cancel what is still expected, move its ETA, and
the check a receipt against a PO relies on.

A purchase order line is an open supply item (``ledger.supply``) of kind
``po``, made by ``expect()``. Receipts draw it down (``received`` rows whose
``ref`` is the PO: partial or over; it closes at zero). ``cancel_expected``
journals the units still expected as ``expected-cancelled``; ``redate``
journals the new ETA as ``redated``. Both refuse a PO that is not open
(never expected, fully received, cancelled) with ``UnknownSupply``.
"""

from __future__ import annotations

from typing import Any

from .._validate import check_id
from ..errors import InvalidInput, UnknownSupply
from ..fulfilment.backorders import note_waiters
from ..ledger.rows import Kind
from ..ledger.state import LedgerState
from ..ledger.supply import Incoming
from ..planning import Context, Plan
from ..values import Applied
from .transfers import item_row


def open_po(st: LedgerState, ref: str, action: str, field: str = "po_id") -> Incoming:
    """The open purchase order line ``ref``. Raises ``UnknownSupply`` when
    no such supply is open, ``InvalidInput`` when ``ref`` is a transfer
    (it has its own commands); both name ``field``. O(1)."""
    check_id(field, ref)
    item = st.supply.by_id.get(ref)
    if item is None:
        raise UnknownSupply(ref, field)
    if item.kind != "po":
        what = "receive_transfer" if action == "receive" else "close_transfer"
        raise InvalidInput(field, ref, f"is a transfer; use {what} for it, not {action}")
    return item


def check_receipt(st: LedgerState, ref: str, sku: str, location: str) -> None:
    """A receipt of ``sku`` at ``location`` may name PO ``ref`` only if it
    is an open PO line of that SKU and location."""
    item = open_po(st, ref, "receive", "ref")
    g = st.grid
    have_sku, have_loc = g.skus[item.sku], g.locs[item.loc]
    if (have_sku, have_loc) != (sku, location):
        why = f"is supply of {have_sku!r} at {have_loc!r}, not {sku!r} at {location!r}"
        raise InvalidInput("ref", ref, why)


def cancel_expected(
    st: LedgerState, cx: Context, po_id: str, moved: dict[str, Any] | None = None
) -> Plan[Applied]:
    """The units still expected on PO line ``po_id`` will not come: they
    leave ``promise()``. Units already received stay. ``moved`` receives
    the backorders waiting on it, for ``backorders.resupply_after``."""
    item = open_po(st, po_id, "cancel_expected")
    if moved is not None:
        note_waiters(item, moved)
    row = item_row(st, cx, Kind.EXPECTED_CANCELLED, item)
    return Plan([row], [None], lambda s: Applied(s.head))


def redate(
    st: LedgerState, cx: Context, po_id: str, eta_us: int, moved: dict[str, Any] | None = None
) -> Plan[Applied]:
    """PO line ``po_id`` is now due at ``eta_us``: ``promise()`` dates its
    units by it (and promises it again if it was overdue). Later than it
    was: ``moved`` receives the backorders waiting on it, which may move
    to sooner supply (``backorders.resupply_after``)."""
    item = open_po(st, po_id, "redate")
    if moved is not None and eta_us > item.eta_us:
        note_waiters(item, moved, eta_us)
    data = {"eta": eta_us, "was": item.eta_us}
    row = item_row(st, cx, Kind.REDATED, item, data=data)
    return Plan([row], [data], lambda s: Applied(s.head))
