"""The web-shop payload schema in pydantic v2, the candidate issue 17 weighed
against msgspec (``benchmarks/validation.py``).

The models mirror :mod:`omnistock.channels.payloads` field for field (strict
types, no unknown fields, the same lengths, ranges and enumerations, a
discriminated union on ``type``); the rules a schema cannot state run
through the production adapter's own code (``WebShopAdapter._placed`` and
:func:`omnistock.channels._schema.printable`), so the three candidates
differ only in how the schema is checked. Absent optional fields default to
``msgspec.UNSET``, as in the msgspec structs, so that code reads them alike.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from msgspec import UNSET
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from omnistock.channels import _schema as S
from omnistock.channels.base import Command
from omnistock.channels.payloads import EVENT_ID_PATTERN, MAX_ID, MAX_LINES, MAX_QTY, MAX_TTL
from omnistock.channels.web import WebShopAdapter
from omnistock.errors import PayloadError

Ident = Annotated[str, Field(min_length=1, max_length=MAX_ID)]
EventId = Annotated[str, Field(pattern=EVENT_ID_PATTERN)]
Qty = Annotated[int, Field(ge=1, le=MAX_QTY)]
Condition = Literal["sellable", "damaged", "inspection", "quarantine", "display", "write_off"]


class _Obj(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class Line(_Obj):
    sku: Ident
    qty: Qty
    location: Ident | None = None


class Item(_Obj):
    sku: Ident
    qty: Qty


class ShipTo(_Obj):
    lat: Annotated[float, Field(ge=-90.0, le=90.0)]
    lon: Annotated[float, Field(ge=-180.0, le=180.0)]


class PlacedData(_Obj):
    order_id: Ident
    lines: Annotated[list[Line], Field(min_length=1, max_length=MAX_LINES)]
    method: Literal["ship", "pickup"] = "ship"
    pickup_at: Ident = UNSET  # type: ignore[assignment]
    hold_seconds: Annotated[int, Field(ge=1, le=MAX_TTL)] = UNSET  # type: ignore[assignment]
    commit: bool = False
    ship_to: ShipTo = UNSET  # type: ignore[assignment]


class OrderRef(_Obj):
    order_id: Ident


class ReturnData(_Obj):
    order_id: Ident
    location: Ident
    lines: Annotated[list[Item], Field(min_length=1, max_length=MAX_LINES)]
    condition: Condition = "sellable"


CreatedAt = Annotated[int, Field(ge=0, le=2**40)]


class OrderPlaced(_Obj):
    type: Literal["order.placed"]
    id: EventId
    created_at: CreatedAt = UNSET  # type: ignore[assignment]
    data: PlacedData


class OrderCancelled(_Obj):
    type: Literal["order.cancelled"]
    id: EventId
    created_at: CreatedAt = UNSET  # type: ignore[assignment]
    data: OrderRef


class PickupCollected(_Obj):
    type: Literal["pickup.collected"]
    id: EventId
    created_at: CreatedAt = UNSET  # type: ignore[assignment]
    data: OrderRef


class ReturnRequested(_Obj):
    type: Literal["return.requested"]
    id: EventId
    created_at: CreatedAt = UNSET  # type: ignore[assignment]
    data: ReturnData


WebEvent = TypeAdapter(
    Annotated[
        OrderPlaced | OrderCancelled | PickupCollected | ReturnRequested,
        Field(discriminator="type"),
    ]
)

_TAGS = ("order.placed", "order.cancelled", "pickup.collected", "return.requested")


def payload_error(exc: ValidationError) -> PayloadError:
    """Pydantic's first error as a PayloadError naming the field."""
    err = exc.errors(include_url=False)[0]
    loc = list(err["loc"])
    if loc and loc[0] in _TAGS:  # the union's branch, not a field
        loc = loc[1:]
    path = ""
    for part in loc:
        path = f"{path}[{part}]" if isinstance(part, int) else S._join(path, str(part))
    kind = err["type"]
    if kind == "missing":
        return PayloadError(path, None, "is required")
    if kind == "extra_forbidden":
        return PayloadError(path, err.get("input"), "is not a known field")
    if kind in ("union_tag_invalid", "union_tag_not_found"):
        return PayloadError("type", err.get("input"), err["msg"].lower())
    if not path and kind == "model_attributes_type":
        return PayloadError("body", err.get("input"), "must be a JSON object")
    return PayloadError(path or "body", err.get("input"), err["msg"].lower())


class PydanticWebAdapter(WebShopAdapter):
    """The web-shop adapter with the schema checked by pydantic.

    ``fast=True``: production's design (``_schema.decode``) in pydantic:
    ``validate_json`` on the bytes, the colon count against the value
    re-dumped with ``exclude_unset``, and the bounded loader plus
    ``validate_python`` when either refuses. ``fast=False``: always the
    loader, then ``validate_python``."""

    def __init__(self, *args: Any, fast: bool = True, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fast = fast

    def _event(self, payload: bytes) -> Any:
        if self.fast and isinstance(payload, bytes) and len(payload) <= self.max_bytes:
            try:
                ev = WebEvent.validate_json(payload)
            except ValidationError:
                pass
            else:
                again = ev.model_dump_json(exclude_unset=True).encode()
                if payload.count(b":") == again.count(b":") and b"\\u003" not in payload:
                    return ev
        doc = S.load_json(payload, self.max_bytes, self.max_depth)
        try:
            return WebEvent.validate_python(doc)
        except ValidationError as exc:
            raise payload_error(exc) from None

    def parse_unsigned(self, payload: bytes) -> list[Command]:
        ev = self._event(payload)
        key = self.prefix + ev.id
        if isinstance(ev, OrderPlaced):
            return self._placed(ev.data, key)  # type: ignore[arg-type]
        if isinstance(ev, ReturnRequested):
            r = ev.data
            S.printable(r.order_id, "data.order_id")
            S.printable(r.location, "data.location")
            S.printable_lines(r.lines, "data.lines")
            return [
                Command(
                    "return_items",
                    {
                        "location": r.location,
                        "lines": [(x.sku, x.qty) for x in r.lines],
                        "condition": r.condition,
                        "order_id": r.order_id,
                    },
                    key,
                )
            ]
        order_id = S.printable(ev.data.order_id, "data.order_id")
        op = "release_order" if isinstance(ev, OrderCancelled) else "collect_order"
        return [Command(op, {"order_id": order_id}, key)]
