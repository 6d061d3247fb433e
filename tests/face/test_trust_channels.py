"""Issue 13 item 13: channels never step on each other.

- A web ``order.cancelled`` for order "123" releases only the web channel's
  reservation, never the marketplace's reservation for its own order "123",
  and a marketplace ``cancel`` never releases the web's.
- Two adapter instances (two web shops, two stores' tills named alike) that
  share an event id do not collide: keys are scoped by adapter instance.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from omnistock import Channel, Inventory, Location
from omnistock.channels.marketplace import MarketplaceAdapter
from omnistock.channels.pos import PosAdapter
from omnistock.channels.web import WebShopAdapter, sign
from omnistock.errors import InvalidInput, UnknownReservation

SECRET = b"trust-channels-secret-0123"


@pytest.fixture(params=["memory", "sqlite"])
def inv(request: pytest.FixtureRequest, make_inventory: Any, tmp_path: Path) -> Inventory:
    url = "memory://" if request.param == "memory" else f"sqlite:///{tmp_path / 'c.db'}"
    inv: Inventory = make_inventory(url)
    inv.add_location(Location("S", kind="store"))
    inv.add_location(Location("S2", kind="store"))
    inv.add_location(Location("W", kind="warehouse"))
    inv.add_channel(Channel("web"))
    inv.add_channel(Channel("web-de"))
    inv.add_channel(Channel("marketplace"))
    inv.receive("A", "S", 50)
    inv.receive("A", "S2", 50)
    inv.receive("A", "W", 50)
    return inv


def web_sender(adapter: WebShopAdapter, clock: Any) -> Callable[[Inventory, dict[str, Any]], Any]:
    def send(inv: Inventory, event: dict[str, Any]) -> Any:
        body = json.dumps(event).encode()
        return adapter.handle(inv, body, sign(SECRET, body, int(clock().timestamp())))

    return send


def placed(eid: str, order: str, qty: int, loc: str = "S") -> dict[str, Any]:
    return {
        "id": eid,
        "type": "order.placed",
        "data": {"order_id": order, "lines": [{"sku": "A", "qty": qty, "location": loc}]},
    }


def cancelled(eid: str, order: str) -> dict[str, Any]:
    return {"id": eid, "type": "order.cancelled", "data": {"order_id": order}}


def mk_order(mid: str, order: str, qty: int) -> bytes:
    return json.dumps(
        {
            "message_id": mid,
            "type": "order",
            "order_id": order,
            "lines": [{"sku": "A", "qty": qty, "location": "W"}],
        }
    ).encode()


def mk_cancel(mid: str, order: str) -> bytes:
    return json.dumps({"message_id": mid, "type": "cancel", "order_id": order}).encode()


def states(inv: Inventory) -> dict[tuple[str | None, str | None], str]:
    return {(r.channel, r.order_id): r.state for r in inv.reservations()}


@pytest.mark.parametrize("first", ["web", "marketplace"])
def test_web_cancel_never_releases_the_marketplace_order(
    inv: Inventory, clock: Any, first: str
) -> None:
    web = web_sender(WebShopAdapter(SECRET, "web", clock=clock), clock)
    mk = MarketplaceAdapter("marketplace")
    if first == "web":
        web(inv, placed("e1", "123", 2))
        mk.handle(inv, mk_order("m1", "123", 3))
    else:
        mk.handle(inv, mk_order("m1", "123", 3))
        web(inv, placed("e1", "123", 2))
    web(inv, cancelled("e2", "123"))
    assert states(inv) == {("web", "123"): "released", ("marketplace", "123"): "held"}
    assert inv.available("A", "W") == 47  # the marketplace still holds its 3
    # and a redelivered cancel is harmless
    head = inv.head
    web(inv, cancelled("e2", "123"))
    assert inv.head == head


@pytest.mark.parametrize("first", ["web", "marketplace"])
def test_marketplace_cancel_never_releases_the_web_order(
    inv: Inventory, clock: Any, first: str
) -> None:
    web = web_sender(WebShopAdapter(SECRET, "web", clock=clock), clock)
    mk = MarketplaceAdapter("marketplace")
    if first == "web":
        web(inv, placed("e1", "123", 2))
        mk.handle(inv, mk_order("m1", "123", 3))
    else:
        mk.handle(inv, mk_order("m1", "123", 3))
        web(inv, placed("e1", "123", 2))
    mk.handle(inv, mk_cancel("m2", "123"))
    assert states(inv) == {("web", "123"): "held", ("marketplace", "123"): "released"}
    assert inv.available("A", "S") == 48


def test_a_cancel_for_another_channels_order_only_is_unknown(inv: Inventory, clock: Any) -> None:
    web = web_sender(WebShopAdapter(SECRET, "web", clock=clock), clock)
    MarketplaceAdapter("marketplace").handle(inv, mk_order("m1", "777", 1))
    digest, head = inv.digest(), inv.head
    with pytest.raises(UnknownReservation):
        web(inv, cancelled("e9", "777"))
    assert (inv.digest(), inv.head) == (digest, head)
    with pytest.raises(UnknownReservation):
        MarketplaceAdapter("marketplace").handle(inv, mk_cancel("m9", "nope"))


def test_collect_and_commit_act_on_the_own_channel_only(inv: Inventory, clock: Any) -> None:
    web = web_sender(WebShopAdapter(SECRET, "web", clock=clock), clock)
    MarketplaceAdapter("marketplace").handle(inv, mk_order("m1", "55", 1))
    body = placed("e1", "55", 2)
    body["data"]["commit"] = True
    web(inv, body)
    assert states(inv) == {("web", "55"): "committed", ("marketplace", "55"): "held"}


def test_two_web_shops_sharing_event_ids_do_not_collide(inv: Inventory, clock: Any) -> None:
    uk = web_sender(WebShopAdapter(SECRET, "web", clock=clock), clock)
    de = web_sender(WebShopAdapter(SECRET, "web-de", clock=clock), clock)
    uk(inv, placed("1", "uk-1", 2))
    de(inv, placed("1", "de-1", 3, "S2"))  # the same event id "1", another shop
    assert states(inv) == {("web", "uk-1"): "held", ("web-de", "de-1"): "held"}
    assert (inv.available("A", "S"), inv.available("A", "S2")) == (48, 47)
    # each shop's redelivery is still a no-op
    head = inv.head
    uk(inv, placed("1", "uk-1", 2))
    de(inv, placed("1", "de-1", 3, "S2"))
    assert inv.head == head


def test_two_shops_on_one_channel_are_told_apart_by_instance(inv: Inventory, clock: Any) -> None:
    a = WebShopAdapter(SECRET, "web", clock=clock, instance="shop-a")
    b = WebShopAdapter(SECRET, "web", clock=clock, instance="shop-b")
    assert a.prefix != b.prefix
    web_sender(a, clock)(inv, placed("1", "a-1", 1))
    web_sender(b, clock)(inv, placed("1", "b-1", 1))
    assert {o for _, o in states(inv)} == {"a-1", "b-1"}
    assert inv.available("A", "S") == 48


def test_two_stores_tills_named_alike_do_not_collide(inv: Inventory) -> None:
    t1_s = PosAdapter("t1", "S")
    t1_s2 = PosAdapter("t1", "S2")
    sale = json.dumps(
        {"receipt_id": "r-1", "type": "sale", "items": [{"sku": "A", "qty": 4}]}
    ).encode()
    t1_s.handle(inv, sale)
    t1_s2.handle(inv, sale)  # receipt r-1 of the other store's till t1
    assert (inv.on_hand("A", "S"), inv.on_hand("A", "S2")) == (46, 46)
    t1_s.handle(inv, sale)  # printed twice: still once
    assert inv.on_hand("A", "S") == 46


def test_two_marketplace_instances_on_one_channel(inv: Inventory) -> None:
    a = MarketplaceAdapter("marketplace", instance="amazon-uk")
    b = MarketplaceAdapter("marketplace", instance="amazon-de")
    a.handle(inv, mk_order("1", "x-1", 1))
    b.handle(inv, mk_order("1", "x-2", 1))
    assert inv.available("A", "W") == 48


@pytest.mark.parametrize(
    ("instance_a", "instance_b"),
    [("a:b", "a"), ("a", "a:b"), ("x%3Ay", "x:y"), ("S/1", "S%2F1")],
)
def test_instance_names_cannot_forge_each_others_keys(instance_a: str, instance_b: str) -> None:
    """``web:<instance>:<event>``: an instance holding ':' must not produce
    the key of another instance's event."""
    a = WebShopAdapter(SECRET, instance=instance_a)
    b = WebShopAdapter(SECRET, instance=instance_b)
    ka = a.parse_unsigned(json.dumps(placed("b:1", "o", 1)).encode())[0].key
    kb = b.parse_unsigned(json.dumps(placed("1", "o", 1)).encode())[0].key
    kc = b.parse_unsigned(json.dumps(placed("b:1", "o", 1)).encode())[0].key
    assert len({ka, kb, kc}) == 3


@pytest.mark.parametrize("bad", ["", " x", "x\n", "a" * 300, 5, None.__class__])
def test_bad_instance_names_are_refused(bad: Any) -> None:
    with pytest.raises(InvalidInput) as e:
        WebShopAdapter(SECRET, instance=bad)
    assert e.value.field == "instance"
    with pytest.raises(InvalidInput):
        MarketplaceAdapter(instance=bad)
    with pytest.raises(InvalidInput):
        PosAdapter("t1", "S", instance=bad)


def test_an_event_id_cannot_forge_another_events_commit_key(inv: Inventory, clock: Any) -> None:
    """Event ids may hold ':'; event "e1:commit" must not collide with the
    commit of event "e1"."""
    web = web_sender(WebShopAdapter(SECRET, "web", clock=clock), clock)
    paid = placed("e1", "o-1", 1)
    paid["data"]["commit"] = True
    web(inv, paid)
    web(inv, placed("e1:commit", "o-2", 2))
    assert states(inv) == {("web", "o-1"): "committed", ("web", "o-2"): "held"}
