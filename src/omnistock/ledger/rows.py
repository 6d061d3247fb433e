"""Journal row kinds: each kind's name, fields and meaning, in one table.

A journal row is a plain tuple (the layout is ``storage/base.py``'s):

    Row    = (seq, ts, kind, sku, location, qty, ref, channel, key, data)
    NewRow = (ts, kind, sku, location, qty, ref, channel, key, data)

``SEQ`` .. ``DATA`` index a ``Row``; ``NEW_TS`` .. ``NEW_DATA`` a ``NewRow``.
``make`` builds a ``NewRow`` (one tuple, no checks: it is on the hot path of
every command) and ``numbered`` gives it its sequence number.

``Kind`` names every kind the journal holds; its values are the strings on
disk. ``INFO`` says, per kind, what its ``ref`` names, whether its data
names a reservation (``"res"``), what replay may fold as a bare delta on
``holdable``, how ``history`` shows it, and its fields. The fold
(``fold.py``) keys its handlers by ``Kind``; the savepoint
(``savepoint.py``), replay (``replay.py``) and history
(``omnistock/history.py``) read a kind's meaning from ``INFO``, through the
sets and maps derived below; none spells out its own list of kinds.

Adding a kind: a ``Kind`` member and its ``INFO`` entry here (import fails
without one), its handler in ``fold.FOLD`` (import of ``fold`` fails
without one), and the command that writes it.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import Any, Final, Literal

import attrs

from ..storage.base import NewRow, Row

__all__ = [
    "BATCH_KINDS",
    "CHANNEL",
    "DATA",
    "HOLDABLE_SIGN",
    "INFO",
    "KEY",
    "KIND",
    "LOC",
    "NEW_CHANNEL",
    "NEW_DATA",
    "NEW_KEY",
    "NEW_KIND",
    "NEW_LOC",
    "NEW_QTY",
    "NEW_REF",
    "NEW_SKU",
    "NEW_TS",
    "QTY",
    "REF",
    "RESERVATION_REF_KINDS",
    "RES_DATA_KINDS",
    "SELLABLE",
    "SEQ",
    "SID_DATA_KINDS",
    "SKU",
    "SUPPLY_REF_KINDS",
    "TS",
    "Kind",
    "KindInfo",
    "NewRow",
    "Row",
    "make",
    "numbered",
]

# Field indexes of a ``Row`` (seq first) ...
SEQ, TS, KIND, SKU, LOC, QTY, REF, CHANNEL, KEY, DATA = range(10)
# ... and of a ``NewRow`` (no seq yet).
NEW_TS, NEW_KIND, NEW_SKU, NEW_LOC, NEW_QTY, NEW_REF, NEW_CHANNEL, NEW_KEY, NEW_DATA = range(9)

SELLABLE: Final = "sellable"
"""The stock state of units that are neither unsellable nor written off: the
default ``data["state"]`` of counted, returned and written-off rows."""


class Kind(StrEnum):
    """Every journal row kind. ``Kind.HELD == "held"``: the values are the
    strings stored in the journal."""

    LOCATION_ADDED = "location-added"
    CHANNEL_ADDED = "channel-added"
    POLICY_SET = "policy-set"
    RECEIVED = "received"
    COUNTED = "counted"
    SOLD = "sold"
    RETURNED = "returned"
    WRITTEN_OFF = "written-off"
    STATE_CHANGED = "state-changed"
    SAFETY_SET = "safety-set"
    HELD = "held"
    COMMITTED = "committed"
    EXTENDED = "extended"
    RELEASED = "released"
    EXPIRED = "expired"
    FULFILLED = "fulfilled"
    EXPECTED = "expected"
    EXPECTED_CANCELLED = "expected-cancelled"
    REDATED = "redated"
    TRANSFER_OUT = "transfer-out"
    TRANSFER_IN = "transfer-in"
    TRANSFER_LOST = "transfer-lost"
    PICKED = "picked"
    CLAIMED = "claimed"
    HELD_BATCH = "held-batch"
    EXPIRED_BATCH = "expired-batch"
    THRESHOLD_SET = "threshold-set"
    THRESHOLD_CROSSED = "threshold-crossed"
    NO_SHOW = "no-show"
    SKU_ADDED = "sku-added"
    BACKORDERED = "backordered"
    BACKORDER_FILLED = "backorder-filled"
    BACKORDER_RELEASED = "backorder-released"
    KIT_ADDED = "kit-added"
    KIT_HELD = "kit-held"
    LOT_EXPIRED = "lot-expired"


def make(
    kind: Kind,
    ts: int,
    *,
    sku: str | None = None,
    location: str | None = None,
    qty: int = 0,
    ref: str | None = None,
    channel: str | None = None,
    key: str | None = None,
    data: str | None = None,
) -> NewRow:
    """A new journal row; ``data`` is JSON text or None. The kind is stored
    as its plain string, as the journal keeps it. O(1), no checks."""
    return (ts, kind._value_, sku, location, qty, ref, channel, key, data)


def numbered(seq: int, row: NewRow) -> Row:
    """``row`` as the journal row it becomes at ``seq``."""
    return (seq, *row)


RefNames = Literal["reservation", "supply", "batch"]


@attrs.frozen
class KindInfo:
    """What one row kind means, beyond its handler in ``fold.py``.

    ``ref``: what the fold reads the row's ``ref`` as: a reservation id (the
    row changes that reservation), a supply item (an expected delivery or a
    transfer in transit, which the row adds or takes from) or a block token
    (``heldbatches.py``). None: a ``ref`` there is only recorded (an order
    returned, the reservation a store rejected). ``res_in_data``:
    ``data["res"]``, when present, names the reservation the row's units are
    earmarked for (a transfer for an order).
    ``holdable_sign``: non-zero when the row's whole effect is ``holdable
    += sign * qty`` at its position (also ranging it when positive), unless
    its ``ref`` names a supply item; replay folds such rows in bulk.
    ``expands_to``: ``history`` shows the row as one entry of this kind per
    reservation line (block rows). ``fields``: what the row carries.
    ``sid_in_data``: ``data["sid"]`` names the supply item a backorder row
    books or frees (``fulfilment/backorders.py``).
    """

    ref: RefNames | None
    fields: str
    res_in_data: bool = False
    holdable_sign: int = 0
    expands_to: Kind | None = None
    sid_in_data: bool = False


_RES_DATA = '{"order"?, "exp"?, "to"?: [lat, lon], "pickup"?}'
_LOTS = ' "lots"?: [[lot, units], ...] (at a lotted position: lots.py)'

_TABLE: dict[Kind, KindInfo] = {
    Kind.LOCATION_ADDED: KindInfo(None, 'location; data {"location": Location.to_dict()}'),
    Kind.CHANNEL_ADDED: KindInfo(None, 'channel; data {"channel": Channel.to_dict()}'),
    Kind.POLICY_SET: KindInfo(None, 'data {"policy": Policy as a dict}'),
    Kind.RECEIVED: KindInfo(
        "supply",
        'sku, location, qty; ref: the purchase order received, if any; data {"lot"?, "exp"?}',
        holdable_sign=1,
    ),
    Kind.COUNTED: KindInfo(
        None, f'sku, location, qty (the change); data {{"state"?, "to"?,{_LOTS}}}'
    ),
    Kind.SOLD: KindInfo(None, f"sku, location, qty, channel; data {{{_LOTS}}}", holdable_sign=-1),
    Kind.RETURNED: KindInfo(
        None,
        'sku, location, qty, ref: the order; data {"state"?, "lot"?} ("write_off": never on hand)',
    ),
    Kind.WRITTEN_OFF: KindInfo(None, 'sku, location, qty; data {"state"?, "reason"?}'),
    Kind.STATE_CHANGED: KindInfo(None, 'sku, location, qty; data {"from", "to", "lot"?}'),
    Kind.SAFETY_SET: KindInfo(None, "sku, location, qty (the change of safety stock)"),
    Kind.HELD: KindInfo(
        "reservation",
        f"sku, location, qty, channel; data {_RES_DATA}; a kit hold's last row also"
        ' "kits": [[kit, location, kits], ...] (what kit-held rows record: kits.py)',
    ),
    Kind.COMMITTED: KindInfo(
        "reservation", 'ref only; data {"exp"?}: a paid pickup\'s no-show due time'
    ),
    Kind.EXTENDED: KindInfo("reservation", 'data {"exp"}'),
    Kind.RELEASED: KindInfo(
        "reservation",
        'sku, location, qty; data {"resize"?} (stays open), {"part"?} (closes when no line'
        " is left: fulfilled if some shipped, else released)",
    ),
    Kind.EXPIRED: KindInfo("reservation", "sku, location, qty"),
    Kind.FULFILLED: KindInfo(
        "reservation", f"sku, location, qty (shipped: leaves on hand); data {{{_LOTS}}}"
    ),
    Kind.EXPECTED: KindInfo("supply", 'sku, location, qty; data {"eta"}'),
    Kind.EXPECTED_CANCELLED: KindInfo(
        "supply", "sku, location, qty: the units of the PO line that will not come"
    ),
    Kind.REDATED: KindInfo(
        "supply", 'sku, location, qty (still expected); data {"eta", "was"}: the new ETA'
    ),
    Kind.TRANSFER_OUT: KindInfo(
        "supply",
        'sku, source location, qty, channel; data {"to": destination, "eta", "res"?,'
        ' "order"?, "pickup"?, "exp"?,'
        + _LOTS
        + '} (order, pickup and exp open the reservation "res")',
        res_in_data=True,
    ),
    Kind.TRANSFER_IN: KindInfo(
        "supply",
        'sku, destination location, qty; data {"res"?, "exp"? (the paid pickup "res" is'
        " now due later)," + _LOTS + "}",
        res_in_data=True,
    ),
    Kind.TRANSFER_LOST: KindInfo(
        "supply",
        'sku, destination location, qty (never arrived: lost in transit); data {"from", "res"?}',
    ),
    Kind.PICKED: KindInfo(
        "reservation",
        "location, qty (orders picked: 1, or -1 given back), ref: the reservation, if"
        ' any; data {"day"} (the location\'s local day)',
    ),
    Kind.CLAIMED: KindInfo(None, 'sku: "~" + the scope of a new id (a partition); no state'),
    Kind.HELD_BATCH: KindInfo(
        "batch", "channel, qty (units); data: see heldbatches.py", expands_to=Kind.HELD
    ),
    Kind.EXPIRED_BATCH: KindInfo(
        "batch", "qty (units); data: see heldbatches.py", expands_to=Kind.EXPIRED
    ),
    Kind.THRESHOLD_SET: KindInfo(
        None, 'sku, location (None: network-wide), qty (the low mark); data {"clear"?}'
    ),
    Kind.THRESHOLD_CROSSED: KindInfo(
        None,
        'sku, location (None: network-wide), qty (the ATP seen); data {"low", "below",'
        ' "step"} (see ledger/thresholds.py)',
    ),
    Kind.NO_SHOW: KindInfo(
        "reservation",
        "sku, location, qty: a paid pickup not collected by its due time, released (qty 0"
        " at its pickup store when all its units were still in transit)",
    ),
    Kind.SKU_ADDED: KindInfo(None, 'sku; data {"sku": Sku.to_dict()} (units, decimals)'),
    Kind.BACKORDERED: KindInfo(
        "reservation",
        'sku, location (where the supply arrives), qty, channel; data {"sid": the supply'
        f' item the units wait for, "eta"}} and {_RES_DATA}',
        sid_in_data=True,
    ),
    Kind.BACKORDER_FILLED: KindInfo(
        "reservation",
        'sku, location, qty: backordered units now on hand, reserved there; data {"sid"}',
        sid_in_data=True,
    ),
    Kind.BACKORDER_RELEASED: KindInfo(
        "reservation",
        'sku, location, qty: backordered units no longer waiting on supply; data {"sid",'
        ' "close"?: the state the reservation closes in if nothing is left, "reason"?}',
        sid_in_data=True,
    ),
    Kind.KIT_ADDED: KindInfo(
        None, 'sku: the kit, ref: "kit:" + the kit; data {"components": {sku: qty}} (kits.py)'
    ),
    Kind.KIT_HELD: KindInfo(
        "reservation",
        "sku: the kit, location, qty (kits the reservation's component lines there"
        " make up, added; negative from an amendment; no stock moves: kits.py)",
    ),
    Kind.LOT_EXPIRED: KindInfo(
        None,
        'sku, location, qty: the sellable units of lot data {"lot"} whose expiry passed; they'
        ' go to the "expired" state (ledger/lots.py)',
    ),
}
INFO: Mapping[str, KindInfo] = {k._value_: i for k, i in _TABLE.items()}
"""Each kind's meaning, keyed by its journal string (a ``Kind`` finds the same)."""

if set(INFO) != set(Kind):  # pragma: no cover - a kind added without its meaning
    raise ImportError(f"rows.INFO does not cover {set(Kind) ^ set(INFO)}")


def _kinds(pred: Any) -> frozenset[str]:
    return frozenset(k._value_ for k in Kind if pred(INFO[k]))


RESERVATION_REF_KINDS = _kinds(lambda i: i.ref == "reservation")
"""Kinds whose ``ref`` is the reservation they change."""
RES_DATA_KINDS = _kinds(lambda i: i.res_in_data)
"""Kinds whose ``data["res"]`` may name the reservation their units are for."""
SUPPLY_REF_KINDS = _kinds(lambda i: i.ref == "supply")
"""Kinds whose ``ref`` names a supply item (expected delivery, transfer)."""
SID_DATA_KINDS = _kinds(lambda i: i.sid_in_data)
"""Kinds whose ``data["sid"]`` names the supply item a backorder waits on."""
BATCH_KINDS = _kinds(lambda i: i.ref == "batch")
"""Block rows (``heldbatches.py``): no SKU or location of their own."""
HOLDABLE_SIGN: Mapping[str, int] = {
    k._value_: INFO[k].holdable_sign for k in Kind if INFO[k].holdable_sign
}
"""Replay's fast path: kind -> sign of its ``holdable`` delta (see ``KindInfo``)."""
