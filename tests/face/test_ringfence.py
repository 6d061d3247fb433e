"""Ring-fencing through the face: a marketplace cannot drain the store
floor's guaranteed minimum; a cap bounds what a channel has promised at once."""

from __future__ import annotations

import pytest

from conftest import Clock
from omnistock import Channel, Inventory, Line, Location, Order, errors


@pytest.fixture
def inv() -> Inventory:
    inv = Inventory(clock=Clock())
    inv.add_location(Location("S", kind="store"))
    inv.add_location(Location("W", kind="warehouse"))
    inv.add_channel(Channel("pos", locations=["S"], minimum=3))
    inv.add_channel(Channel("marketplace", buffer=1))
    inv.add_channel(Channel("web", cap=4))
    inv.receive("A", "S", 10)
    return inv


def hold(inv: Inventory, oid: str, ch: str, qty: int, loc: str = "S") -> str:
    return inv.hold(Order(oid, channel=ch, lines=[Line("A", qty, loc)])).id


def test_a_marketplace_cannot_drain_the_store_floor(inv: Inventory) -> None:
    # 10 on hand; 3 fenced for pos; the marketplace sees 10 - 3 - buffer 1 = 6
    assert inv.available("A", channel="marketplace") == 6
    assert inv.available("A", channel="pos") == 10
    hold(inv, "m1", "marketplace", 6)
    with pytest.raises(errors.InsufficientStock) as exc:
        hold(inv, "m2", "marketplace", 1)
    assert exc.value.available == 0
    assert exc.value.channel == "marketplace"
    # the store floor still has its 3, plus the 1 unit of shared overflow left
    assert inv.available("A", channel="pos") == 4
    hold(inv, "p1", "pos", 4)
    assert inv.available("A", "S") == 0
    assert inv.check().ok


def test_a_consumed_minimum_no_longer_holds_stock_back(inv: Inventory) -> None:
    hold(inv, "p1", "pos", 3)  # pos used its fence
    assert inv.available("A", channel="marketplace") == 7 - 1
    assert inv.available("A", channel="pos") == 7


def test_a_cap_bounds_open_promises_and_frees_on_release(inv: Inventory) -> None:
    first = hold(inv, "w1", "web", 4)
    assert inv.available("A", channel="web") == 0
    with pytest.raises(errors.InsufficientStock):
        hold(inv, "w2", "web", 1)
    inv.release(first)
    assert inv.available("A", channel="web") == 4
    hold(inv, "w3", "web", 2)
    assert inv.available("A", channel="web") == 2


def test_fences_survive_reopen_and_replay(inv: Inventory) -> None:
    hold(inv, "m1", "marketplace", 2)
    hold(inv, "w1", "web", 1)
    again = Inventory(store=inv.store, clock=Clock())
    for ch in ("pos", "marketplace", "web"):
        assert again.available("A", channel=ch) == inv.available("A", channel=ch)
    assert again.check().ok
