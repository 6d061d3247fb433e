"""Sweep and feed together (issue 17): an expired cart reaches a consumer's
feed with no other query or command, from another process's sweep, and a
feed never journals anything itself."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from omnistock import Channel, Inventory, Line, Location, Order

Make = Callable[..., Inventory]


@pytest.fixture
def shared_url(store_url: str) -> str:
    if store_url == "memory://":
        pytest.skip("three processes need a durable store")
    return store_url


def test_an_expired_cart_appears_in_the_feed_with_no_other_query(
    shared_url: str, make_inventory: Make, clock: Any
) -> None:
    shop = make_inventory(shared_url)  # the web shop's worker
    shop.add_location(Location("s1"))
    shop.receive("A", "s1", 10)
    cart = shop.hold(Order("c1", lines=[Line("A", 3, "s1")]), ttl=60).id
    reader = make_inventory(shared_url)  # the connector
    first = reader.feed("erp")
    reader.ack("erp", first[-1].seq)
    clock.advance(61)

    assert reader.feed("erp") == []  # due by the clock, but nobody journaled it
    assert reader.feed("erp") == []  # ... and the feed itself journals nothing
    swept = make_inventory(shared_url).sweep()  # omnistock worker, in a third process
    assert swept.reservations == (cart,)

    (entry,) = reader.feed("erp")
    assert (entry.kind, entry.ref, entry.sku, entry.qty) == ("expired", cart, "A", 3)
    assert entry.seq > first[-1].seq


def test_a_swept_expiry_moves_the_channel_figure(make_inventory: Make, clock: Any) -> None:
    inv = make_inventory()
    inv.add_location(Location("s1"))
    inv.receive("A", "s1", 10)
    inv.add_channel(Channel("amazon", buffer=2))
    (c,) = inv.availability("conn", "amazon")
    inv.ack_availability("conn", "amazon", c.seq)
    inv.hold(Order("c1", lines=[Line("A", 3, "s1")]), ttl=60)
    (held,) = inv.availability("conn", "amazon")
    assert (held.sku, held.available) == ("A", 5)
    inv.ack_availability("conn", "amazon", held.seq)
    clock.advance(61)
    assert inv.sweep().count == 1
    (freed,) = inv.availability("conn", "amazon")
    assert (freed.sku, freed.available) == ("A", 8)
