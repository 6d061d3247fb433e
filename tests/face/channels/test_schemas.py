"""The published payload schemas, and the msgspec decoding behind them:
docs/schemas/*.json are exactly what the code generates, the schemas state
the adapters' rules, and the decoder's fast path (bytes straight into the
structs, duplicate keys caught by a colon count) refuses what the bounded
loader refuses and accepts what it accepts."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from omnistock import channels
from omnistock.channels import _schema as S
from omnistock.channels import payloads as P
from omnistock.channels.pos import PosAdapter
from omnistock.channels.web import EVENT_TYPES, WebShopAdapter
from omnistock.errors import PayloadError

DOCS = Path(__file__).resolve().parents[3] / "docs" / "schemas"
WEB = WebShopAdapter(b"schema-secret-0123456789")


def test_published_schemas_are_current(tmp_path: Path) -> None:
    """Regenerate with ``python -m omnistock.channels.payloads docs/schemas``."""
    written = P.write_schemas(tmp_path)
    assert sorted(p.name for p in DOCS.glob("*.json")) == sorted(p.name for p in written)
    for p in written:
        assert (DOCS / p.name).read_text() == p.read_text(), f"docs/schemas/{p.name} is stale"
    assert channels.schemas() == {p.stem: json.loads(p.read_text()) for p in written}


def objects(doc: Any) -> list[dict[str, Any]]:
    """Every object schema (``"type": "object"``) inside ``doc``."""
    out = []
    if isinstance(doc, dict):
        if doc.get("type") == "object":
            out.append(doc)
        for v in doc.values():
            out += objects(v)
    elif isinstance(doc, list):
        for v in doc:
            out += objects(v)
    return out


@pytest.mark.parametrize("name", ["web", "pos", "marketplace"])
def test_every_object_refuses_unknown_fields(name: str) -> None:
    found = objects(channels.schemas()[name])
    assert found
    assert all(o.get("additionalProperties") is False for o in found)


@pytest.mark.parametrize(
    "name, definition, required",
    [
        ("web", "OrderPlaced", ["type", "id", "data"]),
        ("web", "PlacedData", ["order_id", "lines"]),
        ("web", "Line", ["sku", "qty"]),
        ("pos", "PosReceipt", ["receipt_id", "type", "items"]),
        ("marketplace", "MarketMessage", ["message_id", "type", "order_id"]),
        ("marketplace", "PinnedLine", ["sku", "qty", "location"]),
    ],
)
def test_schemas_state_the_required_fields(name: str, definition: str, required: list[str]) -> None:
    assert channels.schemas()[name]["$defs"][definition]["required"] == required


def test_web_schema_names_every_event_type() -> None:
    mapping = channels.schemas()["web"]["discriminator"]["mapping"]
    assert tuple(mapping) == EVENT_TYPES


def placed(**data: Any) -> dict[str, Any]:
    return {
        "id": "e1",
        "type": "order.placed",
        "data": {"order_id": "o1", "lines": [{"sku": "A", "qty": 1}], **data},
    }


CANCEL = b'{"id": "e1", "type": "order.cancelled", "data": '


@pytest.mark.parametrize(
    "raw, field",
    [
        # a repeated key, however the colons are spelt, is refused naming it
        (b'{"id": "e1", "id": "e2", "type": "order.cancelled", "data": {"order_id": "o"}}', "id"),
        (CANCEL + b'{"order_id": "o\\u003a"}, "id": "e2"}', "id"),
        (CANCEL + b'{"order_id": "a:b", "order_id": "c"}}', "order_id"),
        (
            b'{"id": "e1", "type": "order.placed", "data": {"order_id": "o", '
            b'"lines": [{"sku": "A", "qty": 1, "qty": 2}]}}',
            "qty",
        ),
        # a tag or key msgspec cannot quote (a lone surrogate) is named
        (b'{"id": "e1", "type": "\\ud800", "data": {}}', "type"),
        (
            b'{"id": "e1", "type": "order.cancelled", "data": {"order_id": "\\udfff"}}',
            "data.order_id",
        ),
        # schema refusals name the path
        (
            json.dumps(placed(lines=[{"sku": "A", "qty": 1, "bin": 4}])).encode(),
            "data.lines[0].bin",
        ),
        (json.dumps(placed(hold_seconds=0)).encode(), "data.hold_seconds"),
        (json.dumps(placed(ship_to={"lat": 0})).encode(), "data.ship_to.lon"),
        (json.dumps({**placed(), "created_at": -1}).encode(), "created_at"),
        (b'{"type": "order.placed"}', "id"),
        (b"[1]", "body"),
    ],
)
def test_refusals_name_the_field(raw: bytes, field: str) -> None:
    with pytest.raises(PayloadError) as e:
        WEB.parse_unsigned(raw)
    assert e.value.field == field


@pytest.mark.parametrize(
    "data",
    [
        {"commit": False},  # defaults spelt out: the exact path accepts them
        {"method": "ship"},
        {"lines": [{"sku": "A", "qty": 1, "location": None}]},
        {"lines": [{"sku": "A:B", "qty": 1}]},  # colons inside strings
        {"order_id": "o\\u003a1"},  # a backslash, then u003a: not an escape
    ],
)
def test_valid_variants_are_accepted(data: dict[str, Any]) -> None:
    body = json.dumps(placed(**data)).encode()
    fast = WEB.parse_unsigned(body)
    assert fast == WEB.parse_unsigned(json.dumps(placed(**data), indent=3).encode())
    event = S._exact(body, P.WebEvent, S.MAX_BODY, S.MAX_DEPTH)
    assert isinstance(event, P.OrderPlaced)
    assert fast[0].kwargs["order"].id == event.data.order_id


def test_an_escaped_colon_is_a_colon() -> None:
    raw = json.dumps(placed()).replace('"o1"', '"o\\u003a1"').encode()
    assert b"\\u003a" in raw
    (cmd,) = WEB.parse_unsigned(raw)
    assert cmd.kwargs["order"].id == "o:1"


@pytest.mark.parametrize(
    "doc, field",
    [
        ({"receipt_id": "r1", "type": "sale", "items": [{"sku": "A", "qty": 1}], "x": 1}, "x"),
        ({"receipt_id": "r" * 65, "type": "sale", "items": [{"sku": "A", "qty": 1}]}, "receipt_id"),
        ({"receipt_id": "r1", "type": "sale", "items": [{"sku": " A", "qty": 1}]}, "items[0].sku"),
        ({"receipt_id": "r1", "type": "sale", "items": []}, "items"),
        ({"receipt_id": "r1", "type": "sale", "items": [{"sku": "A", "qty": 1}], "terminal": 3},
         "terminal"),
    ],
)  # fmt: skip
def test_pos_refusals_name_the_field(doc: dict[str, Any], field: str) -> None:
    with pytest.raises(PayloadError) as e:
        PosAdapter("t1", "S").parse(json.dumps(doc).encode())
    assert e.value.field == field
