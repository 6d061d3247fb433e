"""Ship-order sourcing through the face (``Inventory.allocate``), each test a
fact with exact inputs and outputs: preferences, independence of locations,
daily capacity, safety stock, policies from TOML/dict, idempotency."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from conftest import Clock
from omnistock import Inventory, Line, Location, Order, Point
from omnistock.errors import IdempotencyConflict
from omnistock.fulfilment import Policy, haversine_km
from omnistock.values import ReservationLine

HOME = Point(51.5, -0.1)
MakeInv = Callable[..., Inventory]


def lines_of(alloc: object) -> set[tuple[str, str, int]]:
    return {(x.sku, x.location, x.qty) for x in alloc.lines}  # type: ignore[attr-defined]


# -- preferences ---------------------------------------------------------------
def test_fewest_splits_beats_closest(make_inventory: MakeInv) -> None:
    # near (0 km) holds A only; far (211 km) holds A and B.
    # Order A x1 + B x1 to HOME -> one parcel from far, not two.
    inv = make_inventory()
    inv.add_location(Location("near", point=HOME))
    inv.add_location(Location("far", point=Point(53.0, -2.0)))
    inv.receive("A", "near", 5)
    inv.receive("A", "far", 5)
    inv.receive("B", "far", 5)
    a = inv.allocate(Order("o1", lines=[("A", 1), ("B", 1)], ship_to=HOME))
    assert a.status == "allocated"
    assert lines_of(a) == {("A", "far", 1), ("B", "far", 1)}
    assert a.splits == 0
    assert a.trace is not None
    assert a.trace.get("near").rank == 0  # the closer one, yet not used
    assert a.trace.get("near").used is False
    assert (a.trace.get("far").rank, a.trace.get("far").take) == (1, 2)
    assert inv.available("A", "far") == 4 and inv.available("B", "far") == 4
    assert inv.available("A", "near") == 5


def test_closest_breaks_the_tie(make_inventory: MakeInv) -> None:
    # Both hold the whole order (one location each): 0 splits either way;
    # "mid" (11.1 km) beats "far" (211 km) though far was added first.
    inv = make_inventory()
    inv.add_location(Location("far", point=Point(53.0, -2.0)))
    inv.add_location(Location("mid", point=Point(51.6, -0.1)))
    inv.receive("A", "far", 5)
    inv.receive("A", "mid", 5)
    a = inv.allocate(Order("o1", lines=[("A", 2)], ship_to=HOME))
    assert lines_of(a) == {("A", "mid", 2)}
    assert a.trace is not None
    (k1, d), k2 = a.trace.get("mid").keys
    assert (k1, k2) == ("closest", ("priority", 0.0))
    assert d == pytest.approx(haversine_km(HOME, Point(51.6, -0.1)), abs=1e-9)
    assert round(a.trace.get("mid").distance_km, 1) == 11.1


def test_priority_breaks_a_distance_tie_lower_number_first(make_inventory: MakeInv) -> None:
    inv = make_inventory()
    inv.add_location(Location("p5", point=Point(52.0, 0.0), priority=5))
    inv.add_location(Location("p1", point=Point(52.0, 0.0), priority=1))
    inv.receive("A", "p5", 3)
    inv.receive("A", "p1", 3)
    a = inv.allocate(Order("o1", lines=[("A", 1)], ship_to=HOME))
    assert lines_of(a) == {("A", "p1", 1)}
    assert a.trace is not None
    assert [(c.location, c.rank) for c in a.trace.candidates] == [("p5", 1), ("p1", 0)]


def test_a_non_shipping_location_is_never_used_for_ship_orders(make_inventory: MakeInv) -> None:
    inv = make_inventory()
    inv.add_location(Location("shop", point=HOME, ships=False))
    inv.add_location(Location("wh", kind="warehouse", point=Point(53.0, -2.0)))
    inv.receive("A", "shop", 9)
    inv.receive("A", "wh", 1)
    a = inv.allocate(Order("o1", lines=[("A", 1)], ship_to=HOME))
    assert lines_of(a) == {("A", "wh", 1)}
    assert a.trace is not None
    t = a.trace.get("shop")
    assert (t.kept, t.reason, t.detail) == (False, "capability", "does not ship")
    b = inv.allocate(Order("o2", lines=[("A", 1)], ship_to=HOME))
    assert b.status == "unfillable"
    assert b.reservation is None
    assert inv.available("A", "shop") == 9


# -- a location never drags another down ---------------------------------------------
def test_negative_stock_at_one_store_does_not_reduce_another(make_inventory: MakeInv) -> None:
    # s1 has 2 and sells 5 (physical truth) -> on_hand -3, ATP -3.
    inv = make_inventory()
    inv.add_location(Location("s1", point=HOME))
    inv.add_location(Location("s2", point=Point(51.6, -0.1)))
    inv.receive("A", "s1", 2)
    inv.receive("A", "s2", 4)
    inv.sell("s1", [("A", 5)])
    assert inv.on_hand("A", "s1") == -3
    assert inv.available("A", "s1") == 0
    assert inv.available("A", "s2") == 4
    assert inv.available("A") == 4  # not 1
    a = inv.allocate(Order("o1", lines=[("A", 4)], ship_to=HOME))
    assert a.status == "allocated"
    assert lines_of(a) == {("A", "s2", 4)}
    assert a.trace is not None
    assert a.trace.get("s1").reason == "no_stock"


def test_short_stock_at_one_store_does_not_reduce_another(make_inventory: MakeInv) -> None:
    # s1 holds 1 of the 3 asked: the order goes whole to s2, and s1 keeps its 1.
    inv = make_inventory()
    inv.add_location(Location("s1", point=HOME))
    inv.add_location(Location("s2", point=Point(51.6, -0.1)))
    inv.receive("A", "s1", 1)
    inv.receive("A", "s2", 3)
    a = inv.allocate(Order("o1", lines=[("A", 3)], ship_to=HOME))
    assert lines_of(a) == {("A", "s2", 3)}
    assert inv.available("A", "s1") == 1
    assert inv.available("A", "s2") == 0


# -- daily capacity ----------------------------------------------------------------
def _capacity_net(inv: Inventory) -> None:
    inv.add_location(Location("s1", point=HOME, daily_capacity=1))
    inv.add_location(Location("s2", point=Point(51.6, -0.1)))
    inv.receive("A", "s1", 10)
    inv.receive("A", "s2", 10)


def test_capacity_spills_to_the_next_store(make_inventory: MakeInv) -> None:
    inv = make_inventory()
    _capacity_net(inv)
    a1 = inv.allocate(Order("o1", lines=[("A", 1)], ship_to=HOME))
    a2 = inv.allocate(Order("o2", lines=[("A", 1)], ship_to=HOME))
    assert lines_of(a1) == {("A", "s1", 1)}
    assert lines_of(a2) == {("A", "s2", 1)}  # s1 picked its 1 order today
    assert a2.trace is not None
    t = a2.trace.get("s1")
    assert (t.kept, t.reason, t.detail) == (False, "capacity", "no picks left today")
    assert [e.location for e in inv.history() if e.kind == "picked"] == ["s1"]


def test_capacity_resets_the_next_day_by_the_injected_clock(
    make_inventory: MakeInv, clock: Clock
) -> None:
    inv = make_inventory()
    _capacity_net(inv)  # clock: 2024-01-01 12:00 UTC
    first = inv.allocate(Order("o1", lines=[("A", 1)], ship_to=HOME)).reservation
    assert first is not None
    inv.commit(first.id)  # paid: it keeps its pick (an expired hold would give it back)
    clock.advance(11 * 3600)  # 23:00, same day
    assert lines_of(inv.allocate(Order("o2", lines=[("A", 1)], ship_to=HOME))) == {("A", "s2", 1)}
    clock.advance(3600)  # 00:00 on 2024-01-02
    assert lines_of(inv.allocate(Order("o3", lines=[("A", 1)], ship_to=HOME))) == {("A", "s1", 1)}


def test_capacity_survives_reopen_on_sqlite(tmp_path: Path, make_inventory: MakeInv) -> None:
    url = f"sqlite:///{tmp_path / 'cap.db'}"
    inv = make_inventory(url)
    _capacity_net(inv)
    inv.allocate(Order("o1", lines=[("A", 1)], ship_to=HOME))
    inv.close()
    again = make_inventory(url)
    a = again.allocate(Order("o2", lines=[("A", 1)], ship_to=HOME))
    assert lines_of(a) == {("A", "s2", 1)}
    assert a.trace is not None
    assert a.trace.get("s1").reason == "capacity"


def test_capacity_counts_orders_not_units(make_inventory: MakeInv) -> None:
    # One order of 5 units is one pick.
    inv = make_inventory()
    inv.add_location(Location("s1", point=HOME, daily_capacity=2))
    inv.receive("A", "s1", 10)
    inv.allocate(Order("o1", lines=[("A", 5)], ship_to=HOME))
    assert lines_of(inv.allocate(Order("o2", lines=[("A", 1)], ship_to=HOME))) == {("A", "s1", 1)}
    assert inv.allocate(Order("o3", lines=[("A", 1)], ship_to=HOME)).status == "unfillable"


# -- safety stock ------------------------------------------------------------------
def test_store_safety_stock_is_never_given_to_ship_orders(make_inventory: MakeInv) -> None:
    # s1: 5 on hand, safety 3 -> 2 may ship; wh holds 10 far away.
    inv = make_inventory()
    inv.add_location(Location("s1", point=HOME))
    inv.add_location(Location("wh", kind="warehouse", point=Point(53.0, -2.0)))
    inv.receive("A", "s1", 5)
    inv.set_safety("A", "s1", 3)
    inv.receive("A", "wh", 10)
    a = inv.allocate(Order("o1", lines=[("A", 3)], ship_to=HOME))
    assert lines_of(a) == {("A", "wh", 3)}
    b = inv.allocate(Order("o2", lines=[("A", 2)], ship_to=HOME))
    assert lines_of(b) == {("A", "s1", 2)}
    c = inv.allocate(
        Order("o3", lines=[("A", 1)], ship_to=HOME, allow_split=False),
        policy=Policy(exclude=["wh"]),
    )
    assert c.status == "unfillable"
    assert inv.on_hand("A", "s1") == 5
    assert inv.explain("A", "s1").positions[0].safety == 3
    assert inv.available("A", "s1") == 0


# -- policies ----------------------------------------------------------------------
TOML = """
[policy]
filters = ["capability", "radius", "excluded"]
preferences = ["priority", "closest"]
radius_km = 150.0
exclude = ["x"]
"""
AS_DICT = {
    "filters": ["capability", "radius", "excluded"],
    "preferences": ["priority", "closest"],
    "radius_km": 150,
    "exclude": ["x"],
}


def _policy_net(inv: Inventory) -> None:
    inv.add_location(Location("near", point=HOME, priority=2))
    inv.add_location(Location("mid", point=Point(52.0, 0.0), priority=1))
    inv.add_location(Location("far", point=Point(55.0, -3.0), priority=0))
    inv.add_location(Location("x", point=HOME, priority=0))
    for loc in ("near", "mid", "far", "x"):
        inv.receive("A", loc, 2)


def test_policies_from_toml_and_dict_give_the_same_decisions(make_inventory: MakeInv) -> None:
    assert Policy.from_toml(TOML) == Policy.from_dict(AS_DICT)
    results = []
    for pol in (Policy.from_toml(TOML), Policy.from_dict(AS_DICT)):
        inv = make_inventory()
        _policy_net(inv)
        inv.set_policy(pol)
        got = [inv.allocate(Order(f"o{i}", lines=[("A", 2)], ship_to=HOME)) for i in range(3)]
        results.append([(a.status, sorted(lines_of(a))) for a in got])
        # far (~420 km) is out of radius, x is excluded: priority first -> mid, then near.
        assert got[0].trace is not None
        assert got[0].trace.get("far").reason == "radius"
        assert got[0].trace.get("x").reason == "excluded"
        assert inv.policy == pol
    assert (
        results[0]
        == results[1]
        == [
            ("allocated", [("A", "mid", 2)]),
            ("allocated", [("A", "near", 2)]),
            ("unfillable", []),
        ]
    )


def test_the_default_policy_is_fewest_splits_closest_priority(make_inventory: MakeInv) -> None:
    inv = make_inventory()
    assert inv.policy.preferences == ("fewest_splits", "closest", "priority")
    _policy_net(inv)
    a = inv.allocate(Order("o1", lines=[("A", 2)], ship_to=HOME))
    # near and x are both 0 km from HOME; x has the lower priority number.
    assert lines_of(a) == {("A", "x", 2)}


# -- idempotency -------------------------------------------------------------------
def test_a_repeated_key_returns_the_identical_allocation(make_inventory: MakeInv) -> None:
    inv = make_inventory()
    inv.add_location(Location("s1", point=HOME))
    inv.add_location(Location("s2", point=Point(51.6, -0.1)))
    inv.receive("A", "s1", 1)
    inv.receive("A", "s2", 5)
    order = Order("o1", lines=[("A", 2)], ship_to=HOME)
    first = inv.allocate(order, key="k1")
    head = inv.head
    again = inv.allocate(order, key="k1")
    assert again == first
    assert again.trace == first.trace
    assert again.trace is not None and first.trace is not None
    assert again.trace.text() == first.trace.text()
    assert inv.head == head
    assert inv.available("A", "s2") == 3
    assert len(inv.reservations()) == 1
    assert first.reservation is not None
    assert first.lines == (ReservationLine("A", "s2", 2),)


def test_a_different_command_under_the_same_key_is_a_conflict(make_inventory: MakeInv) -> None:
    inv = make_inventory()
    inv.add_location(Location("s1", point=HOME))
    inv.receive("A", "s1", 5)
    inv.allocate(Order("o1", lines=[("A", 2)], ship_to=HOME), key="k1")
    head = inv.head
    with pytest.raises(IdempotencyConflict):
        inv.allocate(Order("o1", lines=[("A", 3)], ship_to=HOME), key="k1")
    with pytest.raises(IdempotencyConflict):
        inv.receive("A", "s1", 1, key="k1")
    assert inv.head == head
    assert inv.available("A", "s1") == 3


def test_an_unfillable_allocation_keeps_no_key(make_inventory: MakeInv) -> None:
    """A refusal writes nothing and keeps nothing (DESIGN.md): the same key
    after a restock decides again, and then the allocation is remembered."""
    inv = make_inventory()
    inv.add_location(Location("s1", point=HOME))
    inv.receive("A", "s1", 1)
    order = Order("o1", lines=[("A", 2)], ship_to=HOME)
    head = inv.head
    first = inv.allocate(order, key="k1")
    assert first.status == "unfillable"
    assert first.reason == "the kept locations hold 1 of 2 units"
    assert inv.head == head and inv.store.lookup_key("k1") is None
    inv.receive("A", "s1", 5)
    second = inv.allocate(order, key="k1")
    assert second.status == "allocated"
    assert inv.allocate(order, key="k1") == second  # now the key is used
    assert inv.available("A") == 4


def test_pinned_lines_are_reserved_where_pinned(make_inventory: MakeInv) -> None:
    inv = make_inventory()
    inv.add_location(Location("s1", point=HOME))
    inv.add_location(Location("s2", point=Point(53.0, -2.0)))
    inv.receive("A", "s1", 5)
    inv.receive("A", "s2", 5)
    inv.receive("B", "s1", 5)
    a = inv.allocate(Order("o1", lines=[Line("A", 1, "s2"), ("B", 1)], ship_to=HOME))
    assert lines_of(a) == {("A", "s2", 1), ("B", "s1", 1)}
