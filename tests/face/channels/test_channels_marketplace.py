"""Marketplace feeds (full and delta, CSV and JSON, ring-fenced) and orders."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

import pytest

from omnistock import Channel, Inventory, Line, Location, Order
from omnistock.channels.marketplace import MarketplaceAdapter
from omnistock.errors import InsufficientStock, PayloadError


@pytest.fixture
def inv(make_inventory: Any) -> Inventory:
    inv: Inventory = make_inventory()
    inv.add_location(Location("S", kind="store"))
    inv.add_location(Location("W", kind="warehouse"))
    inv.add_channel(Channel("pos", locations=["S"], minimum=4))
    inv.add_channel(Channel("amazon", locations=["S", "W"], buffer=1, cap=20))
    for i in range(20):
        inv.receive(f"K{i:02d}", "W", 5)
    inv.receive("A", "S", 6)
    inv.receive("A", "W", 30)
    return inv


def test_full_feed_applies_buffer_fence_and_cap(inv: Inventory) -> None:
    mk = MarketplaceAdapter("amazon")
    feed = mk.full(inv)
    figs = feed.as_dict()
    # A: sees 36, pos fence 4 set aside, buffer 1 -> 31, capped at 20
    assert figs["A"] == 20
    assert figs["K00"] == 4  # 5 less the buffer; no fence at W
    inv.hold(Order("h1", channel="amazon", lines=[Line("A", 15, "W")]), ttl=60)
    # 21 left, 4 fenced, buffer 1 -> 16, and the cap leaves room for 20 - 15 = 5
    assert mk.full(inv).as_dict()["A"] == 5
    assert feed.kind == "full" and feed.cursor <= inv.head


def test_fence_keeps_store_floor(inv: Inventory) -> None:
    mk = MarketplaceAdapter("amazon")
    inv.count("A", "W", 0)  # only the 6 units at the store remain
    assert mk.full(inv).as_dict()["A"] == 1  # 6 - pos minimum 4 - buffer 1
    with pytest.raises(InsufficientStock):  # its orders are held to the fence too
        mk.handle(
            inv,
            json.dumps(
                {
                    "message_id": "m1",
                    "type": "order",
                    "order_id": "mk-1",
                    "lines": [{"sku": "A", "qty": 3, "location": "S"}],
                }
            ).encode(),
        )


def test_delta_holds_only_changed_skus(inv: Inventory) -> None:
    mk = MarketplaceAdapter("amazon")
    base = mk.full(inv)
    inv.receive("K03", "W", 2)
    inv.receive("K07", "W", 1)
    r = inv.hold(Order("x", channel="amazon", lines=[Line("K09", 1, "W")]), ttl=60)
    inv.release(r.id)  # touched, but back where it was
    d = mk.delta(inv, base.cursor)
    assert d.kind == "delta" and d.since == base.cursor
    assert d.as_dict() == {"K03": 6, "K07": 5}
    # a stateless consumer (fresh adapter) gets the same delta, from a replay
    assert MarketplaceAdapter("amazon").delta(inv, base.cursor).as_dict() == d.as_dict()
    assert mk.delta(inv, d.cursor).items == ()


def test_delta_reads_only_the_journal_tail(inv: Inventory, monkeypatch: Any) -> None:
    mk = MarketplaceAdapter("amazon")
    base = mk.full(inv)
    inv.receive("K05", "W", 1)
    asked: list[str] = []
    real = mk.figures

    def spy(reader: Any, skus: Any) -> dict[str, int]:
        skus = list(skus)
        asked.extend(skus)
        return real(reader, skus)

    monkeypatch.setattr(mk, "figures", spy)
    assert mk.delta(inv, base.cursor).as_dict() == {"K05": 5}
    assert asked == ["K05"]  # not the other 20 SKUs


def test_network_change_falls_back_to_full(inv: Inventory) -> None:
    mk = MarketplaceAdapter("amazon")
    base = mk.full(inv)
    inv.add_channel(Channel("pos", locations=["S"], minimum=6))
    d = mk.delta(inv, base.cursor)
    assert d.kind == "full" and d.since == base.cursor
    assert d.as_dict()["A"] == 20


def test_csv_and_json_rendering(inv: Inventory) -> None:
    inv.receive("=HYPERLINK(1)", "W", 3)
    feed = MarketplaceAdapter("amazon").full(inv)
    rows = list(csv.reader(io.StringIO(feed.to_csv())))
    assert rows[0] == ["sku", "quantity"]
    assert ["'=HYPERLINK(1)", "2"] in rows
    doc = json.loads(feed.to_json())
    assert doc["channel"] == "amazon" and doc["kind"] == "full"
    assert {"sku": "A", "quantity": 20} in doc["items"]


def test_orders_and_cancels(inv: Inventory) -> None:
    mk = MarketplaceAdapter("amazon")
    msg = {
        "message_id": "m1",
        "type": "order",
        "order_id": "mk-1",
        "lines": [{"sku": "A", "qty": 2, "location": "W"}],
    }
    (res,) = mk.handle(inv, json.dumps(msg).encode())
    head = inv.head
    assert mk.handle(inv, json.dumps(msg).encode()) == [res]
    assert inv.head == head
    cancel = {"message_id": "m2", "type": "cancel", "order_id": "mk-1"}
    assert mk.handle(inv, json.dumps(cancel).encode())[0].state == "released"
    bad = {**msg, "message_id": "m3"}
    del bad["lines"][0]["location"]
    with pytest.raises(PayloadError) as e:
        mk.handle(inv, json.dumps(bad).encode())
    assert e.value.field == "lines[0].location"


def test_delta_cursor_checked(inv: Inventory) -> None:
    with pytest.raises(PayloadError):
        MarketplaceAdapter("amazon").delta(inv, inv.head + 5)
    with pytest.raises(PayloadError):
        MarketplaceAdapter("amazon").delta(inv, -1)
