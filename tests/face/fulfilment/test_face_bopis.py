"""BOPIS through the face: reserve at the pickup store, or transfer in, or
suggest nearby stores, or refuse with the reason; pickup windows expire."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from conftest import Clock
from omnistock import Inventory, Location, Order, Point
from omnistock.errors import InvalidInput, OmnistockError
from omnistock.fulfilment import Policy, haversine_km
from omnistock.fulfilment.results import Suggestion
from omnistock.values import ReservationLine, Transfer

MakeInv = Callable[..., Inventory]
T0 = datetime(2024, 1, 1, 12, 0, tzinfo=UTC)
S1 = Point(51.5, -0.1)
S2 = Point(51.6, -0.1)  # 11.1 km north of s1
S3 = Point(51.8, -0.1)  # 33.4 km north of s1
WH = Point(52.0, 0.0)  # 56.0 km from s1


def network(inv: Inventory) -> None:
    """Stores s1, s2, s3 (pickup), warehouse wh and a ship-only locker ``lock``
    at s1's very point (no pickup)."""
    inv.add_location(Location("s1", point=S1))
    inv.add_location(Location("s2", point=S2))
    inv.add_location(Location("s3", point=S3))
    inv.add_location(Location("wh", kind="warehouse", point=WH))
    inv.add_location(Location("lock", kind="warehouse", point=S1, pickup=False))


def pickup(oid: str, *lines: tuple[str, int], at: str = "s1") -> Order:
    return Order(oid, method="pickup", pickup_at=at, lines=list(lines))


def test_pickup_store_has_it_reserved_there(make_inventory: MakeInv) -> None:
    inv = make_inventory()
    network(inv)
    inv.receive("A", "s1", 3)
    inv.receive("A", "s2", 9)
    a = inv.allocate(pickup("p1", ("A", 2)), ttl=3600)
    assert a.status == "allocated"
    assert a.lines == (ReservationLine("A", "s1", 2),)
    assert a.transfers == () and a.ready_at is None
    assert a.reservation is not None
    assert a.reservation.expires_at == T0 + timedelta(hours=1)
    assert inv.available("A", "s1") == 1
    assert inv.available("A", "s2") == 9
    done = inv.collect(a.reservation.id)
    assert done.state == "fulfilled"
    assert inv.on_hand("A", "s1") == 1


def test_short_pickup_store_transfers_in_ready_after_transfer_hours(
    make_inventory: MakeInv, clock: Clock
) -> None:
    # s1 holds 1 of 3; the nearest source is the locker at s1's point (0 km).
    inv = make_inventory()
    network(inv)
    inv.set_policy(Policy(transfer_hours=6))
    inv.receive("A", "s1", 1)
    inv.receive("A", "s3", 5)
    inv.receive("A", "lock", 9)
    a = inv.allocate(pickup("p1", ("A", 3)), ttl=600)
    assert a.status == "allocated"
    assert a.lines == (ReservationLine("A", "s1", 1),)  # reserved now
    ready = T0 + timedelta(hours=6)
    assert a.ready_at == ready
    assert a.transfers == (Transfer("p1#1/T1", "A", "lock", "s1", 2, ready, "p1#1"),)
    assert a.reservation is not None
    assert a.reservation.expires_at == ready + timedelta(seconds=600)  # window from ready
    assert a.trace is not None
    assert a.trace.get("s1").reason == "excluded"  # never a source for itself
    assert a.trace.get("lock").take == 2
    assert inv.on_hand("A", "lock") == 7  # gone out, in transit
    assert inv.available("A", "s1") == 0
    assert inv.transfers() == list(a.transfers)

    clock.advance(6 * 3600)
    inv.receive_transfer("p1#1/T1")
    res = inv.reservation("p1#1")
    assert res.lines == (ReservationLine("A", "s1", 3),)  # arrived reserved
    assert inv.on_hand("A", "s1") == 3
    assert inv.available("A", "s1") == 0
    assert inv.transfers() == []
    assert inv.collect("p1#1").shipped == (ReservationLine("A", "s1", 3),)
    assert inv.on_hand("A", "s1") == 0
    assert inv.check().ok


def test_transfer_radius_limits_the_sources(make_inventory: MakeInv) -> None:
    # Only wh (56 km) holds it; with transfer_radius_km=50 it cannot send.
    inv = make_inventory()
    network(inv)
    inv.receive("A", "wh", 5)
    inv.set_policy(Policy(transfer_radius_km=50, bopis_fallback=["transfer"]))
    a = inv.allocate(pickup("p1", ("A", 1)))
    assert a.status == "unfillable"
    assert a.reason == (
        "pickup store 's1' is short of 1 x A; no transfer or nearby store can cover it"
    )
    inv.set_policy(Policy(transfer_radius_km=60, bopis_fallback=["transfer"]))
    b = inv.allocate(pickup("p2", ("A", 1)))
    assert b.status == "allocated"
    assert [(t.source, t.qty) for t in b.transfers] == [("wh", 1)]


def test_suggest_fallback_names_the_nearest_stores_first_with_distances(
    make_inventory: MakeInv,
) -> None:
    inv = make_inventory()
    network(inv)
    inv.set_policy(Policy(bopis_fallback=["suggest"]))
    inv.receive("A", "s1", 1)
    inv.receive("A", "s3", 5)
    inv.receive("A", "s2", 2)
    inv.receive("A", "lock", 9)  # no pickup: never suggested
    inv.receive("A", "wh", 9)  # warehouse: no pickup either
    head = inv.head
    a = inv.allocate(pickup("p1", ("A", 2)))
    assert a.status == "unfillable"
    assert a.reservation is None and a.lines == ()
    assert a.suggestions == (
        Suggestion("s2", round(haversine_km(S1, S2), 3)),
        Suggestion("s3", round(haversine_km(S1, S3), 3)),
    )
    assert [s.distance_km for s in a.suggestions] == [11.12, 33.359]
    assert a.reason == (
        "pickup store 's1' is short of 1 x A; can serve it now: s2 (11.1 km), s3 (33.4 km)"
    )
    assert inv.head == head  # nothing journaled
    assert inv.available("A", "s1") == 1


def test_suggestions_are_stores_that_serve_the_whole_order(make_inventory: MakeInv) -> None:
    # s2 holds A but not B; s3 holds both: only s3 is suggested.
    inv = make_inventory()
    network(inv)
    inv.set_policy(Policy(bopis_fallback=["suggest"], suggestions=1))
    inv.receive("A", "s2", 5)
    inv.receive("A", "s3", 5)
    inv.receive("B", "s3", 5)
    a = inv.allocate(pickup("p1", ("A", 1), ("B", 1)))
    assert [s.location for s in a.suggestions] == ["s3"]


def test_a_zero_stock_pickup_store_is_never_suggested(make_inventory: MakeInv) -> None:
    inv = make_inventory()
    network(inv)
    inv.set_policy(Policy(bopis_fallback=["suggest"]))
    inv.receive("A", "s2", 1)
    inv.sell("s2", [("A", 1)])  # s2 now at 0
    inv.receive("A", "s3", 1)
    inv.count("A", "s3", 0)  # s3 counted to 0
    a = inv.allocate(pickup("p1", ("A", 1)))
    assert a.status == "unfillable"
    assert a.suggestions == ()
    assert a.reason == (
        "pickup store 's1' is short of 1 x A; no transfer or nearby store can cover it"
    )


def test_a_location_without_pickup_is_never_offered(make_inventory: MakeInv) -> None:
    inv = make_inventory()
    network(inv)
    inv.set_policy(Policy(bopis_fallback=["suggest"]))
    inv.receive("A", "lock", 9)
    inv.receive("A", "wh", 9)
    a = inv.allocate(pickup("p1", ("A", 1)))
    assert a.status == "unfillable"
    assert a.suggestions == ()
    head = inv.head
    with pytest.raises(InvalidInput) as exc:
        inv.allocate(pickup("p2", ("A", 1), at="lock"))
    assert exc.value.field == "pickup_at"
    assert inv.head == head


def test_nothing_anywhere_is_unfillable_with_the_reason(make_inventory: MakeInv) -> None:
    inv = make_inventory()
    network(inv)
    inv.receive("A", "s1", 1)
    inv.receive("B", "s2", 1)
    inv.sell("s2", [("B", 1)])  # B is known, with no stock anywhere
    a = inv.allocate(pickup("p1", ("A", 2), ("B", 1)))
    assert a.status == "unfillable"
    assert a.reservation is None
    assert a.reason == (
        "pickup store 's1' is short of 1 x A, 1 x B; no transfer or nearby store can cover it"
    )
    assert inv.available("A", "s1") == 1


def test_transfer_then_suggest_in_policy_order(make_inventory: MakeInv) -> None:
    # ("transfer", "suggest"): when no source can transfer, suggest.
    inv = make_inventory()
    network(inv)
    inv.set_policy(Policy(bopis_fallback=["transfer", "suggest"], transfer_radius_km=5))
    inv.receive("A", "s3", 4)
    a = inv.allocate(pickup("p1", ("A", 4)))
    assert a.status == "unfillable"
    assert [s.location for s in a.suggestions] == ["s3"]
    inv.set_policy(Policy(bopis_fallback=["suggest", "transfer"], transfer_radius_km=50))
    b = inv.allocate(pickup("p2", ("A", 4)))
    assert [s.location for s in b.suggestions] == ["s3"]  # suggest tried first
    inv.set_policy(Policy(bopis_fallback=["transfer", "suggest"], transfer_radius_km=50))
    c = inv.allocate(pickup("p3", ("A", 4)))
    assert c.status == "allocated"
    assert [(t.source, t.qty) for t in c.transfers] == [("s3", 4)]


def test_an_expired_pickup_window_returns_stock(make_inventory: MakeInv, clock: Clock) -> None:
    inv = make_inventory()
    network(inv)
    inv.receive("A", "s1", 3)
    a = inv.allocate(pickup("p1", ("A", 2)), ttl=timedelta(hours=48))
    assert inv.available("A", "s1") == 1
    clock.advance(48 * 3600 - 1)
    assert inv.available("A", "s1") == 1
    assert inv.reservation("p1#1").state == "held"
    clock.advance(1)  # the window closes: a no-show
    assert inv.available("A", "s1") == 3
    assert inv.reservation("p1#1").state == "expired"
    assert inv.on_hand("A", "s1") == 3
    assert [e.kind for e in inv.history() if e.ref == "p1#1"] == ["held", "expired"]
    assert a.reservation is not None
    with pytest.raises(OmnistockError):
        inv.collect(a.reservation.id)


def test_a_transferred_pickup_window_runs_from_ready_at(
    make_inventory: MakeInv, clock: Clock
) -> None:
    inv = make_inventory()
    network(inv)
    inv.set_policy(Policy(transfer_hours=24))
    inv.receive("A", "s2", 2)
    a = inv.allocate(pickup("p1", ("A", 2)), ttl=3600)
    assert a.ready_at == T0 + timedelta(hours=24)
    clock.advance(24 * 3600)
    inv.receive_transfer(a.transfers[0].id)
    assert inv.reservation("p1#1").lines == (ReservationLine("A", "s1", 2),)
    clock.advance(3600)  # no-show: the window (ready_at + 1 h) has passed
    assert inv.reservation("p1#1").state == "expired"
    assert inv.available("A", "s1") == 2
    assert inv.available("A", "s2") == 0


def test_a_pickup_resourced_by_transfer_keeps_its_window_from_arrival() -> None:
    """Rejected at the pickup store, the line comes in by transfer; the hold
    must not expire before the units are ready (regression)."""
    from datetime import UTC, datetime, timedelta

    from omnistock import Inventory, Location, Order, Point

    now = [datetime(2026, 1, 1, 9, tzinfo=UTC)]
    inv = Inventory(clock=lambda: now[0])
    inv.add_location(Location("S1", point=Point(51.5, -0.1)))
    inv.add_location(Location("S2", point=Point(51.6, -0.2)))
    inv.receive("a", "S1", 2)
    inv.receive("a", "S2", 5)
    first = inv.allocate(Order("p", method="pickup", pickup_at="S1", lines=[("a", 2)]))
    assert first.reservation is not None
    moved = inv.reject(first.reservation.id, "a", "not_found")
    assert moved.ready_at == datetime(2026, 1, 2, 9, tzinfo=UTC)
    now[0] = moved.ready_at + timedelta(minutes=5)
    for t in inv.transfers():
        inv.receive_transfer(t.id)
    res = inv.reservation(first.reservation.id)
    assert res.state == "held"
    assert [(x.location, x.qty) for x in res.lines] == [("S1", 2)]
    # earmarked units are not anyone else's supply
    assert inv.promise("a", 1, location="S1").date is None
    inv.collect(res.id)
    assert inv.check().ok


def test_a_pickup_cannot_be_collected_while_units_are_in_transit() -> None:
    from omnistock import Inventory, Location, Order, Point, errors

    inv = Inventory()
    inv.add_location(Location("S1", point=Point(51.5, -0.1)))
    inv.add_location(Location("S2", point=Point(51.6, -0.2)))
    inv.receive("a", "S1", 1)
    inv.receive("a", "S2", 5)
    alloc = inv.allocate(Order("p", method="pickup", pickup_at="S1", lines=[("a", 3)]))
    assert alloc.reservation is not None and len(alloc.transfers) == 1
    before = inv.digest()
    with pytest.raises(errors.InvalidTransition, match="in transit"):
        inv.collect(alloc.reservation.id)
    assert inv.digest() == before
    inv.receive_transfer(alloc.transfers[0].id)
    assert inv.collect(alloc.reservation.id).state == "fulfilled"


def test_a_pickup_transferred_in_again_takes_a_new_transfer_id(
    make_inventory: MakeInv, clock: Clock, store_url: str
) -> None:
    """A transfer id ``<reservation>/T<n>`` counts every transfer the
    reservation ever had, so a second transfer after the first arrived is
    ``/T2``: an id names one transfer for the life of the ledger."""
    inv = make_inventory(store_url)
    network(inv)
    inv.set_policy(Policy(transfer_hours=6))
    inv.receive("A", "lock", 9)
    a = inv.allocate(pickup("p1", ("A", 2)), ttl=600)
    assert [t.id for t in a.transfers] == ["p1#1/T1"]
    clock.advance(6 * 3600)
    inv.receive_transfer("p1#1/T1")
    assert inv.transfers() == []
    r = inv.reject("p1#1", "A", "damaged")  # the store finds the units damaged
    assert [t.id for t in r.transfers] == ["p1#1/T2"]  # transferred in again
    assert inv.transfers() == list(r.transfers)
    assert inv.check().ok
