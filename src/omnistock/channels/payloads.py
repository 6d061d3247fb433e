"""The built-in adapters' payload schemas, as msgspec structs.

What a type can say is said here (field names, types, lengths, ranges,
enumerations, which fields are required, no unknown fields); msgspec checks
it in C. The few rules a JSON Schema cannot state (ids are printable without
edge whitespace, a pickup order names its store, a sale has no returned
units) stay in the adapters, after decoding. :func:`schemas` gives the
structs as JSON Schema; ``python -m omnistock.channels.payloads docs/schemas``
writes the published copies (a test checks they are current).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any, Literal

import msgspec
from msgspec import UNSET, Meta, Struct, UnsetType

__all__ = [
    "CONDITIONS",
    "MAX_ID",
    "MAX_LINES",
    "MAX_QTY",
    "MAX_TTL",
    "UNSET",
    "MarketMessage",
    "PosReceipt",
    "WebEvent",
    "render",
    "schemas",
    "write_schemas",
]

MAX_ID = 128
MAX_LINES = 500
MAX_QTY = 1_000_000
"""Largest quantity one payload line may carry: channels move units, not
ledgers' worth of stock; anything bigger is a bug or an attack."""
MAX_TTL = 30 * 86400

EVENT_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.:\-]{0,127}$"

Condition = Literal["sellable", "damaged", "inspection", "quarantine", "display", "write_off"]
CONDITIONS: tuple[str, ...] = Condition.__args__  # type: ignore[attr-defined]

Ident = Annotated[
    str,
    Meta(
        min_length=1,
        max_length=MAX_ID,
        description="An opaque id: 1-128 printable characters, no leading or trailing space.",
    ),
]
EventId = Annotated[
    str,
    Meta(
        pattern=EVENT_ID_PATTERN,
        description="1-128 of A-Z a-z 0-9 _ . : - starting with a letter or digit.",
    ),
]
ReceiptId = Annotated[
    str,
    Meta(
        pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:\-]{0,63}$",
        description="1-64 of A-Z a-z 0-9 _ . : - starting with a letter or digit.",
    ),
]
Qty = Annotated[int, Meta(ge=1, le=MAX_QTY)]


class _Obj(Struct, forbid_unknown_fields=True, kw_only=True, omit_defaults=True):
    """A JSON object with no fields beyond the declared ones. (Encoding
    omits defaults: :func:`omnistock.channels._schema.decode` counts keys.)"""


class Line(_Obj):
    """An order line; ``location`` pins it (absent or null: the sourcing
    policy places it)."""

    sku: Ident
    qty: Qty
    location: Ident | None = None


class PinnedLine(_Obj):
    """An order line at a named location."""

    sku: Ident
    qty: Qty
    location: Ident


class Item(_Obj):
    """Units of one SKU at the adapter's own location (no ``location``)."""

    sku: Ident
    qty: Qty


Lines = Annotated[list[Line], Meta(min_length=1, max_length=MAX_LINES)]
PinnedLines = Annotated[list[PinnedLine], Meta(min_length=1, max_length=MAX_LINES)]
Items = Annotated[list[Item], Meta(min_length=1, max_length=MAX_LINES)]


# -- web shop ---------------------------------------------------------------------------
class ShipTo(_Obj):
    lat: Annotated[float, Meta(ge=-90.0, le=90.0)]
    lon: Annotated[float, Meta(ge=-180.0, le=180.0)]


class PlacedData(_Obj):
    """``pickup_at`` is required for (and only allowed on) a pickup order,
    ``ship_to`` only on a ship order."""

    order_id: Ident
    lines: Lines
    method: Literal["ship", "pickup"] = "ship"
    pickup_at: Ident | UnsetType = UNSET
    hold_seconds: Annotated[int, Meta(ge=1, le=MAX_TTL)] | UnsetType = UNSET
    commit: bool = False
    ship_to: ShipTo | UnsetType = UNSET


class OrderRef(_Obj):
    order_id: Ident


class ReturnData(_Obj):
    order_id: Ident
    location: Ident
    lines: Items
    condition: Condition = "sellable"


CreatedAt = Annotated[int, Meta(ge=0, le=2**40)]


class _Event(_Obj, tag_field="type"):
    id: EventId
    created_at: CreatedAt | UnsetType = UNSET


class OrderPlaced(_Event, tag="order.placed", kw_only=True):
    data: PlacedData


class OrderCancelled(_Event, tag="order.cancelled", kw_only=True):
    data: OrderRef


class PickupCollected(_Event, tag="pickup.collected", kw_only=True):
    data: OrderRef


class ReturnRequested(_Event, tag="return.requested", kw_only=True):
    data: ReturnData


WebEvent = OrderPlaced | OrderCancelled | PickupCollected | ReturnRequested
"""A web-shop webhook body; ``type`` selects the shape of ``data``."""


# -- POS ----------------------------------------------------------------------------------
class PosReceipt(_Obj):
    """A till receipt. ``returned`` only on an exchange (and required
    there); ``condition`` and ``order_id`` not on a sale."""

    receipt_id: ReceiptId
    type: Literal["sale", "return", "exchange"]
    items: Items
    returned: Items | UnsetType = UNSET
    condition: Condition | UnsetType = UNSET
    order_id: Ident | None = None
    terminal: str | UnsetType = UNSET


# -- marketplace --------------------------------------------------------------------------
class MarketMessage(_Obj):
    """A marketplace order (``lines`` required, each pinned) or cancel (no
    ``lines``)."""

    message_id: EventId
    type: Literal["order", "cancel"]
    order_id: Ident
    lines: PinnedLines | UnsetType = UNSET


PAYLOADS: dict[str, Any] = {"web": WebEvent, "pos": PosReceipt, "marketplace": MarketMessage}


def schemas() -> dict[str, dict[str, Any]]:
    """The built-in adapters' payloads as JSON Schema (draft 2020-12), by
    adapter name. Deterministic: the published files under ``docs/schemas/``
    are exactly these dicts."""
    out: dict[str, dict[str, Any]] = {}
    for name, tp in PAYLOADS.items():
        doc = msgspec.json.schema(tp)
        out[name] = {
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "title": f"omnistock {name} payload",
            **doc,
        }
    return out


def write_schemas(folder: Path) -> list[Path]:
    """Write :func:`schemas` as ``<folder>/<adapter>.json`` (sorted keys,
    two-space indent, final newline); returns the paths written."""
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for name, doc in schemas().items():
        path = folder / f"{name}.json"
        path.write_text(render(doc))
        out.append(path)
    return out


def render(doc: dict[str, Any]) -> str:
    """The published text of one schema."""
    return json.dumps(doc, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


if __name__ == "__main__":  # python -m omnistock.channels.payloads docs/schemas
    import sys

    for p in write_schemas(Path(sys.argv[1] if len(sys.argv) > 1 else "docs/schemas")):
        print(p)
