"""Returns-to-store dispositions and transfers through the face."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from conftest import Clock
from omnistock import Inventory, Location, Order, Point
from omnistock.errors import InsufficientStock, InvalidInput
from omnistock.fulfilment import Policy
from omnistock.values import Transfer

MakeInv = Callable[..., Inventory]
T0 = datetime(2024, 1, 1, 12, 0, tzinfo=UTC)


def network(inv: Inventory) -> None:
    """Store s1 (returns go on to dc), store s2, and dc (takes no returns).
    s1 ranges A (2 units), dc holds B (5)."""
    inv.add_location(Location("dc", kind="dc", point=Point(52.0, 0.0)))
    inv.add_location(Location("s1", point=Point(51.5, -0.1), returns_to="dc"))
    inv.add_location(Location("s2", point=Point(51.6, -0.1)))
    inv.receive("A", "s1", 2)
    inv.receive("B", "dc", 5)


def states(inv: Inventory, sku: str, loc: str) -> tuple[int, dict[str, int], int]:
    p = inv.explain(sku, loc).positions[0]
    return p.on_hand, {k: v for k, v in p.unsellable.items() if v}, inv.available(sku, loc)


# -- returns --------------------------------------------------------------------------
def test_a_sellable_return_restocks_here(make_inventory: MakeInv) -> None:
    inv = make_inventory()
    network(inv)
    r = inv.return_items("s1", [("A", 2)], condition="sellable", order_id="w-9")
    assert r.transfers == ()
    assert states(inv, "A", "s1") == (4, {}, 4)
    e = inv.history()[-1]
    assert (e.kind, e.sku, e.location, e.qty, e.ref) == ("returned", "A", "s1", 2, "w-9")


@pytest.mark.parametrize("condition", ["damaged", "inspection"])
def test_damaged_and_inspection_returns_are_unsellable(
    make_inventory: MakeInv, condition: str
) -> None:
    inv = make_inventory()
    network(inv)
    inv.return_items("s1", [("A", 3)], condition=condition)
    assert states(inv, "A", "s1") == (5, {condition: 3}, 2)
    assert inv.on_hand("A", "s1", condition) == 3


def test_a_write_off_is_journaled_and_leaves_on_hand_unchanged(make_inventory: MakeInv) -> None:
    inv = make_inventory()
    network(inv)
    head = inv.head
    inv.return_items("s1", [("A", 3)], condition="write_off", key="rt-1")
    assert inv.head == head + 1
    assert states(inv, "A", "s1") == (2, {}, 2)
    e = inv.history()[-1]
    assert (e.kind, e.qty, e.key, e.data) == ("returned", 3, "rt-1", {"state": "write_off"})


def test_a_later_inspection_moves_units_back_to_sellable(make_inventory: MakeInv) -> None:
    inv = make_inventory()
    network(inv)
    inv.return_items("s1", [("A", 3)], condition="inspection")
    inv.change_state("A", "s1", 2, to="sellable", from_="inspection")  # passed
    inv.change_state("A", "s1", 1, to="damaged", from_="inspection")  # failed
    assert states(inv, "A", "s1") == (5, {"damaged": 1}, 4)
    with pytest.raises(InsufficientStock):
        inv.change_state("A", "s1", 1, to="sellable", from_="inspection")


def test_a_sellable_return_not_ranged_here_goes_to_returns_to(
    make_inventory: MakeInv, clock: Clock
) -> None:
    # s1 never stocked B: the returned unit is sent on to dc (s1.returns_to).
    inv = make_inventory()
    network(inv)
    inv.set_policy(Policy(transfer_hours=12))
    r = inv.return_items("s1", [("B", 1)], condition="sellable")
    eta = T0 + timedelta(hours=12)
    assert len(r.transfers) == 1
    t = r.transfers[0]
    assert (t.sku, t.source, t.destination, t.qty, t.eta) == ("B", "s1", "dc", 1, eta)
    assert inv.on_hand("B", "s1") == 0
    assert inv.available("B") == 5  # in transit: not in today's ATP
    assert inv.transfers() == [t]
    clock.advance(12 * 3600)
    inv.receive_transfer(t.id)
    assert states(inv, "B", "dc") == (6, {}, 6)
    assert inv.check().ok


def test_a_location_that_does_not_accept_returns_refuses_them(make_inventory: MakeInv) -> None:
    inv = make_inventory()
    network(inv)
    head = inv.head
    with pytest.raises(InvalidInput) as exc:
        inv.return_items("dc", [("B", 1)])
    assert exc.value.field == "location"
    with pytest.raises(InvalidInput) as exc2:
        inv.return_items("s1", [("A", 1)], condition="lost")
    assert exc2.value.field == "condition"
    assert inv.head == head


# -- transfers ------------------------------------------------------------------------
def test_a_transfer_shows_in_promise_at_its_eta_never_in_todays_atp(
    make_inventory: MakeInv, clock: Clock
) -> None:
    inv = make_inventory()
    network(inv)
    eta = T0 + timedelta(days=2)
    t = inv.transfer("B", "dc", "s2", 3, eta=eta)
    assert t == Transfer(t.id, "B", "dc", "s2", 3, eta)
    assert inv.on_hand("B", "dc") == 2
    assert inv.available("B", "s2") == 0  # not in today's ATP
    assert inv.available("B") == 2
    assert inv.transfers() == [t]

    p_now = inv.promise("B", 2)
    assert (p_now.date, p_now.from_stock) == (T0, 2)
    p = inv.promise("B", 5)
    assert p.date == eta
    assert p.from_stock == 2
    assert [(x.location, x.qty, x.eta, x.kind, x.ref) for x in p.supply] == [
        ("s2", 3, eta, "transfer", t.id)
    ]
    at_s2 = inv.promise("B", 3, location="s2")
    assert (at_s2.date, at_s2.from_stock) == (eta, 0)
    assert inv.promise("B", 6).date is None  # more than stock + transit

    # a ship order cannot take in-transit units either
    a = inv.allocate(Order("o1", lines=[("B", 3)], ship_to=Point(51.6, -0.1)))
    assert a.status == "unfillable"

    clock.advance(2 * 86400)
    inv.receive_transfer(t.id, qty=2)  # a short delivery first
    assert inv.available("B", "s2") == 2
    assert [x.qty for x in inv.transfers()] == [1]
    inv.receive_transfer(t.id)
    assert inv.available("B", "s2") == 3
    assert inv.transfers() == []
    kinds = [(e.kind, e.location, e.qty) for e in inv.history() if e.ref == t.id]
    assert kinds == [("transfer-out", "dc", 3), ("transfer-in", "s2", 2), ("transfer-in", "s2", 1)]
    assert inv.check().ok


def test_a_transfer_eta_defaults_to_the_policy_lead_time(make_inventory: MakeInv) -> None:
    inv = make_inventory()
    network(inv)
    inv.set_policy(Policy(transfer_hours=30))
    t = inv.transfer("B", "dc", "s2", 1)
    assert t.eta == T0 + timedelta(hours=30)
    assert inv.promise("B", 5).date == T0 + timedelta(hours=30)


def test_a_transfer_only_sends_free_stock(make_inventory: MakeInv) -> None:
    inv = make_inventory()
    network(inv)
    inv.allocate(Order("o1", lines=[("B", 4)], ship_to=Point(52.0, 0.0)))
    head = inv.head
    with pytest.raises(InsufficientStock):
        inv.transfer("B", "dc", "s2", 2)
    with pytest.raises(InvalidInput):
        inv.transfer("B", "dc", "dc", 1)
    assert inv.head == head
    assert inv.transfer("B", "dc", "s2", 1).qty == 1
