"""Ship-from-store rejections and shortages through the face: each store
rejection has its inventory effect, the line is re-sourced in the same
reservation, and every reservation the effect (or a sale, or a count)
leaves uncovered is re-sourced newest first; what cannot be is reported."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import pytest

from omnistock import Inventory, Location, Order, Point
from omnistock.errors import InvalidInput
from omnistock.values import ReservationLine, Resourced, Shortage

MakeInv = Callable[..., Inventory]
HOME = Point(51.5, -0.1)


def network(inv: Inventory, s1: int = 5, s2: int = 3, s3: int = 10) -> None:
    """s1 at HOME, s2 11.1 km and s3 33.4 km away, holding A."""
    inv.add_location(Location("s1", point=HOME))
    inv.add_location(Location("s2", point=Point(51.6, -0.1)))
    inv.add_location(Location("s3", point=Point(51.8, -0.1)))
    for loc, q in (("s1", s1), ("s2", s2), ("s3", s3)):
        if q:
            inv.receive("A", loc, q)


def figures(inv: Inventory, loc: str) -> tuple[int, int, int]:
    p = inv.explain("A", loc).positions[0]
    return p.on_hand, sum(p.unsellable.values()), p.reserved


def ship(oid: str, qty: int = 2) -> Order:
    return Order(oid, lines=[("A", qty)], ship_to=HOME)


def test_reject_not_found_counts_the_position_to_zero_and_resources(
    make_inventory: MakeInv,
) -> None:
    inv = make_inventory()
    network(inv)
    a = inv.allocate(ship("o1"))
    assert a.lines == (ReservationLine("A", "s1", 2),)
    rid = a.reservation.id  # type: ignore[union-attr]
    b = inv.reject(rid, "A", "not_found")
    assert b.status == "allocated"
    assert b.lines == (ReservationLine("A", "s2", 2),)
    assert b.reservation is not None and b.reservation.id == rid  # same reservation
    assert b.reservation.lines == (ReservationLine("A", "s2", 2),)
    assert figures(inv, "s1") == (0, 0, 0)
    assert figures(inv, "s2") == (3, 0, 2)
    assert b.trace is not None
    assert b.trace.get("s1").reason == "excluded"  # the rejecting store is not asked again
    assert b.trace.get("s2").take == 2
    assert inv.check().ok


def test_reject_damaged_moves_the_units_to_damaged(make_inventory: MakeInv) -> None:
    inv = make_inventory()
    network(inv)
    a = inv.allocate(ship("o1"))
    b = inv.reject(a.reservation.id, "A", "damaged")  # type: ignore[union-attr]
    assert b.lines == (ReservationLine("A", "s2", 2),)
    assert inv.on_hand("A", "s1") == 5
    assert inv.on_hand("A", "s1", "damaged") == 2
    assert inv.available("A", "s1") == 3
    assert figures(inv, "s2") == (3, 0, 2)


def test_reject_mismatch_drops_on_hand_by_the_qty(make_inventory: MakeInv) -> None:
    inv = make_inventory()
    network(inv)
    a = inv.allocate(ship("o1"))
    b = inv.reject(a.reservation.id, "A", "mismatch")  # type: ignore[union-attr]
    assert b.lines == (ReservationLine("A", "s2", 2),)
    assert figures(inv, "s1") == (3, 0, 0)
    assert inv.available("A", "s1") == 3
    kinds = [(e.kind, e.location, e.qty) for e in inv.history()[-3:]]
    assert kinds == [("written-off", "s1", 2), ("held", "s2", 2), ("released", "s1", 2)]


def test_reject_trace_is_the_rejected_lines_trace(make_inventory: MakeInv) -> None:
    # not_found at s1 also uncovers o1 there (re-sourced to s3: s2 is then
    # short); the returned trace is the one of o2's line (s2), not o1's.
    inv = make_inventory()
    network(inv)
    inv.allocate(ship("o1"))
    o2 = inv.allocate(ship("o2"))
    b = inv.reject(o2.reservation.id, "A", "not_found")  # type: ignore[union-attr]
    assert b.lines == (ReservationLine("A", "s2", 2),)
    assert b.trace is not None
    assert [c.location for c in b.trace.candidates if c.used] == ["s2"]
    assert inv.reservation("o1#1").lines == (ReservationLine("A", "s3", 2),)


def test_other_reservations_uncovered_by_a_rejection_are_resourced_newest_first(
    make_inventory: MakeInv,
) -> None:
    # s1: 6 units, o1, o2, o3 hold 2 each there; then s2 gets 4, s3 none.
    # o3 is rejected not_found: s1 counted to 0, o3 -> s2. That uncovers o1
    # and o2 at s1: o2 (newer) takes s2's last 2, o1 has nowhere to go.
    inv = make_inventory()
    network(inv, s1=6, s2=0, s3=0)
    for i in (1, 2, 3):
        inv.allocate(ship(f"o{i}"))
    inv.receive("A", "s2", 4)
    b = inv.reject("o3#1", "A", "not_found")
    assert b.lines == (ReservationLine("A", "s2", 2),)
    assert inv.reservation("o2#1").lines == (ReservationLine("A", "s2", 2),)
    assert inv.reservation("o1#1").lines == (ReservationLine("A", "s1", 2),)
    released = [
        (e.ref, (e.data or {}).get("reason")) for e in inv.history() if e.kind == "released"
    ]
    assert released == [("o3#1", "not_found"), ("o2#1", "shortage")]
    assert figures(inv, "s1") == (0, 0, 2)  # o1 still uncovered there
    assert figures(inv, "s2") == (4, 0, 4)


def test_a_rejection_that_cannot_be_resourced_reports_it(make_inventory: MakeInv) -> None:
    inv = make_inventory()
    network(inv, s1=5, s2=1, s3=0)
    a = inv.allocate(ship("o1", 3))
    assert a.lines == (ReservationLine("A", "s1", 3),)
    b = inv.reject("o1#1", "A", "damaged")
    assert b.status == "partial"
    assert b.lines == (ReservationLine("A", "s2", 1),)
    assert b.reason == "2 x A could not be re-sourced"
    assert b.reservation is not None
    assert set(b.reservation.lines) == {
        ReservationLine("A", "s1", 2),
        ReservationLine("A", "s2", 1),
    }
    c = inv.reject("o1#1", "A", "mismatch", location="s1")
    assert c.status == "unfillable"
    assert c.lines == ()
    assert c.reason == "2 x A could not be re-sourced"


def test_rejecting_a_pickup_line_transfers_into_the_pickup_store(make_inventory: MakeInv) -> None:
    inv = make_inventory()
    network(inv, s1=2, s2=0, s3=4)
    a = inv.allocate(Order("p1", method="pickup", pickup_at="s1", lines=[("A", 2)]))
    assert a.lines == (ReservationLine("A", "s1", 2),)
    b = inv.reject("p1#1", "A", "not_found")
    assert [(t.source, t.destination, t.qty, t.reservation) for t in b.transfers] == [
        ("s3", "s1", 2, "p1#1")
    ]
    assert b.ready_at == b.transfers[0].eta == datetime(2024, 1, 2, 12, 0, tzinfo=UTC)
    assert inv.on_hand("A", "s1") == 0
    inv.receive_transfer(b.transfers[0].id)
    assert inv.reservation("p1#1").lines == (ReservationLine("A", "s1", 2),)
    assert inv.collect("p1#1").state == "fulfilled"


def test_reject_validates_its_arguments(make_inventory: MakeInv) -> None:
    inv = make_inventory()
    network(inv)
    inv.allocate(ship("o1"))
    head = inv.head
    with pytest.raises(InvalidInput) as e1:
        inv.reject("o1#1", "A", "lost")
    assert e1.value.field == "reason"
    inv.receive("B", "s1", 1)
    head = inv.head
    with pytest.raises(InvalidInput) as e2:
        inv.reject("o1#1", "B", "damaged")
    assert e2.value.field == "sku"
    assert inv.head == head


def test_a_repeated_reject_key_changes_nothing(make_inventory: MakeInv) -> None:
    inv = make_inventory()
    network(inv)
    inv.allocate(ship("o1"))
    first = inv.reject("o1#1", "A", "damaged", key="r1")
    head = inv.head
    assert inv.reject("o1#1", "A", "damaged", key="r1") == first
    assert inv.head == head
    assert inv.on_hand("A", "s1", "damaged") == 2


# -- shortages from sell and count ------------------------------------------------------
def _three_orders(inv: MakeInv) -> Inventory:
    # s1: 6 units held by o1, o2, o3 (2 each, oldest first); then s2 gets 2.
    i = inv()
    network(i, s1=6, s2=0, s3=0)
    for n in (1, 2, 3):
        i.allocate(ship(f"o{n}"))
    i.receive("A", "s2", 2)
    return i


EXPECTED_SHORTAGE = Shortage("A", "s1", 3, ("o3#1", "o2#1"))
EXPECTED_RESOURCED = (
    Resourced("o3#1", "A", "s1", 2, (("s2", 2),), 0),
    Resourced("o2#1", "A", "s1", 1, (), 1),
)


def test_a_sale_shortage_is_resourced_newest_first_and_the_rest_reported(
    make_inventory: MakeInv,
) -> None:
    inv = _three_orders(make_inventory)
    r = inv.sell("s1", [("A", 3)])  # 3 left for 6 reserved: 3 uncovered
    assert r.shortages == (EXPECTED_SHORTAGE,)
    assert r.resourced == EXPECTED_RESOURCED
    assert r.resourced[1].missing == 1
    assert inv.reservation("o3#1").lines == (ReservationLine("A", "s2", 2),)
    assert inv.reservation("o2#1").lines == (ReservationLine("A", "s1", 2),)
    assert inv.reservation("o1#1").lines == (ReservationLine("A", "s1", 2),)
    assert figures(inv, "s1") == (3, 0, 4)
    assert r.seq == inv.head
    assert inv.check().ok


def test_a_count_shortage_is_resourced_newest_first_and_the_rest_reported(
    make_inventory: MakeInv,
) -> None:
    inv = _three_orders(make_inventory)
    r = inv.count("A", "s1", 3)
    assert r.shortages == (EXPECTED_SHORTAGE,)
    assert r.resourced == EXPECTED_RESOURCED
    held = [(e.kind, e.ref, e.location, e.qty) for e in inv.history()[-2:]]
    assert held == [("held", "o3#1", "s2", 2), ("released", "o3#1", "s1", 2)]


def test_a_shortage_fully_resourced_reports_nothing_missing(make_inventory: MakeInv) -> None:
    inv = make_inventory()
    network(inv, s1=4, s2=0, s3=10)
    inv.allocate(ship("o1"))
    inv.allocate(ship("o2"))
    r = inv.sell("s1", [("A", 4)])
    assert [(x.reservation, x.to, x.missing) for x in r.resourced] == [
        ("o2#1", (("s3", 2),), 0),
        ("o1#1", (("s3", 2),), 0),
    ]
    assert figures(inv, "s1") == (0, 0, 0)
    assert figures(inv, "s3") == (10, 0, 4)


def test_a_sale_within_free_stock_is_no_shortage(make_inventory: MakeInv) -> None:
    inv = make_inventory()
    network(inv)
    inv.allocate(ship("o1"))
    r = inv.sell("s1", [("A", 3)])
    assert r.shortages == () and r.resourced == ()
    assert inv.reservation("o1#1").lines == (ReservationLine("A", "s1", 2),)
