"""Web-shop webhooks: signatures, replay window, schema, idempotency."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest

from omnistock import Channel, Inventory, Location
from omnistock.channels.web import WebShopAdapter, sign
from omnistock.errors import (
    InsufficientStock,
    InvalidTransition,
    PayloadError,
    SignatureError,
    UnknownReservation,
)

SECRET = b"0123456789abcdef-secret"


@pytest.fixture
def inv(make_inventory: Any) -> Inventory:
    inv: Inventory = make_inventory()
    inv.add_location(Location("S", kind="store"))
    inv.add_location(Location("W", kind="warehouse"))
    inv.add_channel(Channel("web"))
    inv.receive("A", "S", 10)
    inv.receive("A", "W", 5)
    return inv


@pytest.fixture
def web(clock: Any) -> WebShopAdapter:
    return WebShopAdapter(SECRET, "web", clock=clock, tolerance=300)


def body(event: dict[str, Any]) -> bytes:
    return json.dumps(event).encode()


def send(
    web: WebShopAdapter, inv: Inventory, clock: Any, event: dict[str, Any], ts_shift: int = 0
) -> list[Any]:
    b = body(event)
    return web.handle(inv, b, sign(SECRET, b, int(clock().timestamp()) + ts_shift))


def placed(eid: str = "evt-1", order: str = "o-1", qty: int = 3, **extra: Any) -> dict[str, Any]:
    data = {"order_id": order, "lines": [{"sku": "A", "qty": qty, "location": "S"}], **extra}
    return {"id": eid, "type": "order.placed", "data": data}


def test_order_placed_then_cancelled(web: WebShopAdapter, inv: Inventory, clock: Any) -> None:
    (res,) = send(web, inv, clock, placed())
    assert res.state == "held" and res.channel == "web"
    assert inv.available("A", "S") == 7
    (rel,) = send(
        web, inv, clock, {"id": "evt-2", "type": "order.cancelled", "data": {"order_id": "o-1"}}
    )
    assert rel.state == "released"
    assert inv.available("A", "S") == 10


def test_redelivered_event_moves_stock_once(
    web: WebShopAdapter, inv: Inventory, clock: Any
) -> None:
    first = send(web, inv, clock, placed())
    head, digest = inv.head, inv.digest()
    clock.advance(30)
    again = send(web, inv, clock, placed())
    assert again == first
    assert (inv.head, inv.digest()) == (head, digest)
    # the cancel is idempotent too, even after it took effect
    cancel = {"id": "evt-2", "type": "order.cancelled", "data": {"order_id": "o-1"}}
    send(web, inv, clock, cancel)
    head, digest = inv.head, inv.digest()
    assert send(web, inv, clock, cancel)[0].state == "released"
    assert (inv.head, inv.digest()) == (head, digest)


def test_pickup_order_and_collection(web: WebShopAdapter, inv: Inventory, clock: Any) -> None:
    ev = {
        "id": "evt-p",
        "type": "order.placed",
        "data": {
            "order_id": "o-p",
            "method": "pickup",
            "pickup_at": "S",
            "commit": True,
            "lines": [{"sku": "A", "qty": 2}],
        },
    }
    res = send(web, inv, clock, ev)
    assert [r.state for r in res] == ["held", "committed"]
    (done,) = send(
        web, inv, clock, {"id": "evt-c", "type": "pickup.collected", "data": {"order_id": "o-p"}}
    )
    assert done.state == "fulfilled"
    assert inv.on_hand("A", "S") == 8


def test_return_requested(web: WebShopAdapter, inv: Inventory, clock: Any) -> None:
    ev = {
        "id": "evt-r",
        "type": "return.requested",
        "data": {
            "order_id": "o-9",
            "location": "S",
            "condition": "damaged",
            "lines": [{"sku": "A", "qty": 1}],
        },
    }
    send(web, inv, clock, ev)
    assert inv.on_hand("A", "S") == 11
    assert inv.on_hand("A", "S", "damaged") == 1
    assert inv.available("A", "S") == 10


def test_unpinned_ship_lines_are_sourced_by_the_policy(
    web: WebShopAdapter, inv: Inventory, clock: Any
) -> None:
    ev = placed(qty=12, ship_to={"lat": 51.5, "lon": -0.1})
    del ev["data"]["lines"][0]["location"]
    (alloc,) = send(web, inv, clock, ev)
    assert alloc.status == "allocated" and alloc.reservation.channel == "web"
    assert sum(x.qty for x in alloc.lines) == 12  # 10 at S is not enough: split over S and W
    assert {x.location for x in alloc.lines} == {"S", "W"}
    head, digest = inv.head, inv.digest()
    (again,) = send(web, inv, clock, ev)  # a redelivered webhook changes nothing
    assert again.lines == alloc.lines and (inv.head, inv.digest()) == (head, digest)


@pytest.mark.parametrize(
    "ship_to, field",
    [
        ({"lat": 91, "lon": 0}, "data.ship_to.lat"),
        ({"lat": "51", "lon": 0}, "data.ship_to.lat"),
        ({"lat": 51, "lon": True}, "data.ship_to.lon"),
        ({"lat": 51}, "data.ship_to.lon"),
        ([51, 0], "data.ship_to"),
    ],
)
def test_bad_ship_to(
    web: WebShopAdapter, inv: Inventory, clock: Any, ship_to: Any, field: str
) -> None:
    before = (inv.head, inv.digest())
    with pytest.raises(PayloadError) as e:
        send(web, inv, clock, placed(ship_to=ship_to))
    assert e.value.field == field
    assert (inv.head, inv.digest()) == before


@pytest.mark.parametrize(
    "mutate, field",
    [
        (lambda e: e.pop("id"), "id"),
        (lambda e: e.update(id="../../etc/passwd"), "id"),
        (lambda e: e.update(type="order.exploded"), "type"),
        (lambda e: e.update(extra=1), "extra"),
        (lambda e: e["data"].update(order_id=7), "data.order_id"),
        (lambda e: e["data"]["lines"][0].update(qty=1.0), "data.lines[0].qty"),
        (lambda e: e["data"]["lines"][0].update(qty=True), "data.lines[0].qty"),
        (lambda e: e["data"]["lines"][0].update(qty=0), "data.lines[0].qty"),
        (lambda e: e["data"]["lines"][0].update(sku="x" * 129), "data.lines[0].sku"),
        (lambda e: e["data"]["lines"][0].update(sku="A\x00"), "data.lines[0].sku"),
        (lambda e: e["data"]["lines"][0].update(colour="red"), "data.lines[0].colour"),
        (lambda e: e["data"].update(lines=[]), "data.lines"),
        (lambda e: e["data"].update(hold_seconds=-1), "data.hold_seconds"),
        (lambda e: e["data"].update(pickup_at="S"), "data.pickup_at"),
    ],
)
def test_schema_errors_name_the_field(
    web: WebShopAdapter, inv: Inventory, clock: Any, mutate: Any, field: str
) -> None:
    ev = placed()
    mutate(ev)
    head, digest = inv.head, inv.digest()
    with pytest.raises(PayloadError) as e:
        send(web, inv, clock, ev)
    assert e.value.field == field
    assert (inv.head, inv.digest()) == (head, digest)


def test_json_bounds(web: WebShopAdapter) -> None:
    for raw, why in [
        (b"[" * 10_000 + b"]" * 10_000, "nested"),
        (b'{"id": "a", "id": "b", "type": "order.placed", "data": {}}', "twice"),
        (b'{"id": NaN}', "NaN"),
        (b"\xff\xfe", "UTF-8"),
        (b'{"id": "a"', "JSON"),
        (b"x" * 70_000, "larger"),
        (b'{"id": 1' + b"0" * 5000 + b"}", "JSON"),
    ]:
        with pytest.raises(PayloadError, match=why):
            web.parse_unsigned(raw)


def test_signature_and_replay_window(web: WebShopAdapter, inv: Inventory, clock: Any) -> None:
    b = body(placed())
    now = int(clock().timestamp())
    good = sign(SECRET, b, now)
    head = inv.head
    bad_cases = [
        None,
        {},
        {**good, "X-Omnistock-Signature": "v1=" + "0" * 64},
        {**good, "X-Omnistock-Signature": good["X-Omnistock-Signature"][3:]},
        sign(b"another-secret-of-16+", b, now),
        sign(SECRET, b, now - 301),  # replayed after the window
        sign(SECRET, b, now + 301),
        {**sign(SECRET, b, now), "X-Omnistock-Timestamp": "-5"},
    ]
    for headers in bad_cases:
        with pytest.raises(SignatureError):
            web.handle(inv, b, headers)
    with pytest.raises(SignatureError):  # body changed after signing
        web.handle(inv, b.replace(b'"qty": 3', b'"qty": 4'), good)
    assert inv.head == head
    lower = {k.lower(): v for k, v in good.items()}  # header names are case-insensitive
    assert web.handle(inv, b, lower)[0].state == "held"


def test_ledger_errors_apply_nothing(web: WebShopAdapter, inv: Inventory, clock: Any) -> None:
    head = inv.head
    with pytest.raises(InsufficientStock):
        send(web, inv, clock, placed(qty=11))
    with pytest.raises(UnknownReservation):
        send(web, inv, clock, {"id": "e3", "type": "order.cancelled", "data": {"order_id": "nope"}})
    send(web, inv, clock, placed(eid="e4", order="o-4", qty=1))
    send(web, inv, clock, {"id": "e5", "type": "order.cancelled", "data": {"order_id": "o-4"}})
    head = inv.head
    with pytest.raises(InvalidTransition):
        send(web, inv, clock, {"id": "e6", "type": "order.cancelled", "data": {"order_id": "o-4"}})
    assert inv.head == head


def test_hold_ttl_from_payload(web: WebShopAdapter, inv: Inventory, clock: Any) -> None:
    (res,) = send(web, inv, clock, placed(hold_seconds=60))
    assert res.expires_at == clock() + timedelta(seconds=60)
    clock.advance(61)
    assert inv.available("A", "S") == 10


def test_short_secret_refused() -> None:
    with pytest.raises(PayloadError):
        WebShopAdapter(b"short")
