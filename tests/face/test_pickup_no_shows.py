"""Paid pickups not collected in time are released by the ledger's clock
(issue 15, item 5): the window, the grace, keeping paid pickups, a policy
change, the due time at the last microsecond, sweeps, history by order."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from conftest import Clock
from omnistock import Inventory, Line, Location, Order, Point
from omnistock.errors import InvalidTransition, UnknownSupply
from omnistock.fulfilment import Policy

MakeInv = Callable[..., Inventory]
T0 = datetime(2024, 1, 1, 12, 0, tzinfo=UTC)
WEEK_AND_DAY = timedelta(days=8)  # the default window (7 days) + grace (24 h)


def network(inv: Inventory) -> None:
    inv.add_location(Location("s1", point=Point(51.5, -0.1), daily_capacity=5))
    inv.add_location(Location("s2", point=Point(51.6, -0.1)))
    inv.add_location(Location("wh", kind="warehouse", point=Point(52.0, 0.0), pickup=False))


def pickup(oid: str, qty: int, sku: str = "A", at: str = "s1") -> Order:
    return Order(oid, method="pickup", pickup_at=at, lines=[(sku, qty)])


def paid(inv: Inventory, oid: str, qty: int) -> str:
    a = inv.allocate(pickup(oid, qty), ttl=3600)
    assert a.reservation is not None
    inv.commit(a.reservation.id)
    return a.reservation.id


def test_a_paid_pickup_is_released_after_window_and_grace(
    make_inventory: MakeInv, clock: Clock, store_url: str
) -> None:
    inv = make_inventory(store_url)
    network(inv)
    inv.receive("A", "s1", 5)
    rid = paid(inv, "p1", 3)
    res = inv.reservation(rid)
    assert res.state == "committed"
    assert res.expires_at == T0 + WEEK_AND_DAY  # collect by then
    assert inv.available("A", "s1") == 2
    clock.advance(WEEK_AND_DAY.total_seconds() - 1e-6)  # the last microsecond
    assert inv.reservation(rid).state == "committed"
    assert inv.available("A", "s1") == 2
    clock.advance(1e-6)  # due: a no-show
    assert inv.available("A", "s1") == 5
    assert inv.reservation(rid).state == "released"
    assert inv.on_hand("A", "s1") == 5
    kinds = [(e.kind, e.sku, e.location, e.qty) for e in inv.history(order="p1")]
    assert kinds == [("held", "A", "s1", 3), ("committed", "A", "s1", 3), ("no-show", "A", "s1", 3)]
    with pytest.raises(InvalidTransition):
        inv.collect(rid)
    fed = [(e.kind, e.ref, e.qty) for e in inv.feed("erp") if e.ref == rid]
    assert fed == [("held", rid, 3), ("committed", rid, 3), ("no-show", rid, 3)]
    assert inv.check().ok


def test_collected_at_the_last_microsecond_is_collected(
    make_inventory: MakeInv, clock: Clock
) -> None:
    inv = make_inventory()
    network(inv)
    inv.receive("A", "s1", 5)
    rid = paid(inv, "p1", 3)
    clock.advance(WEEK_AND_DAY.total_seconds() - 1e-6)
    assert inv.collect(rid).state == "fulfilled"
    clock.advance(3600)
    assert inv.on_hand("A", "s1") == 2
    assert [e.kind for e in inv.history(order="p1")] == ["held", "committed", "fulfilled"]
    assert inv.check().ok


def test_window_and_grace_come_from_the_policy(make_inventory: MakeInv, clock: Clock) -> None:
    inv = make_inventory()
    network(inv)
    inv.set_policy(Policy(pickup_window_hours=48, pickup_grace_hours=timedelta(hours=2)))
    inv.receive("A", "s1", 4)
    rid = paid(inv, "p1", 4)
    assert inv.reservation(rid).expires_at == T0 + timedelta(hours=50)
    clock.advance(49 * 3600)
    assert inv.available("A", "s1") == 0
    clock.advance(3600)
    assert inv.available("A", "s1") == 4
    assert inv.check().ok


def test_kept_paid_pickups_are_never_released(make_inventory: MakeInv, clock: Clock) -> None:
    inv = make_inventory()
    network(inv)
    inv.set_policy(Policy(keep_paid_pickups=True))
    inv.receive("A", "s1", 4)
    rid = paid(inv, "p1", 1)
    assert inv.reservation(rid).expires_at is None
    clock.advance(365 * 86400)
    assert inv.reservation(rid).state == "committed"
    assert inv.available("A", "s1") == 3
    assert inv.sweep().count == 0
    assert inv.check().ok


def test_a_policy_change_applies_to_orders_paid_after_it(
    make_inventory: MakeInv, clock: Clock
) -> None:
    """The due time is fixed (and journaled) when the order is paid: the
    customer was told it then. A later policy change dates later orders."""
    inv = make_inventory()
    network(inv)
    inv.receive("A", "s1", 9)
    first = paid(inv, "p1", 1)
    inv.set_policy(Policy(pickup_window_hours=1, pickup_grace_hours=0))
    second = paid(inv, "p2", 1)
    inv.set_policy(Policy(keep_paid_pickups=True))
    third = paid(inv, "p3", 1)
    assert inv.reservation(first).expires_at == T0 + WEEK_AND_DAY
    assert inv.reservation(second).expires_at == T0 + timedelta(hours=1)
    assert inv.reservation(third).expires_at is None
    clock.advance(3600)
    assert [inv.reservation(r).state for r in (first, second, third)] == [
        "committed",
        "released",
        "committed",
    ]
    clock.advance(WEEK_AND_DAY.total_seconds())
    assert [inv.reservation(r).state for r in (first, second, third)] == [
        "released",
        "released",
        "committed",
    ]
    assert inv.available("A", "s1") == 8
    assert inv.check().ok


def test_a_held_pickup_still_expires_by_its_ttl_and_ship_orders_never_no_show(
    make_inventory: MakeInv, clock: Clock
) -> None:
    inv = make_inventory()
    network(inv)
    inv.receive("A", "s1", 9)
    held = inv.allocate(pickup("p1", 1), ttl=600).reservation
    ship = inv.commit(inv.hold(Order("o1", lines=[Line("A", 2, "s1")])).id)
    assert held is not None and ship.expires_at is None
    clock.advance(601)
    assert inv.reservation(held.id).state == "expired"
    assert [e.kind for e in inv.history(order="p1")] == ["held", "expired"]
    clock.advance(400 * 86400)
    assert inv.reservation(ship.id).state == "committed"
    assert inv.check().ok


def test_a_pickup_made_by_hold_no_shows_and_amends_without_a_pick(
    make_inventory: MakeInv, clock: Clock
) -> None:
    """``inv.hold()`` of a pickup order records its store: it is a pickup
    (no-show, no daily pick) like one made by ``allocate``."""
    inv = make_inventory()
    network(inv)
    inv.receive("A", "s1", 9)
    inv.receive("B", "s1", 9)
    res = inv.hold(pickup("h1", 2), ttl=600)
    assert res.lines[0].location == "s1"
    inv.commit(res.id)
    inv.amend(res.id, [Line("A", 2), Line("B", 1)])
    assert inv.history(kind="picked") == []  # a pickup order takes no daily pick
    assert [e.kind for e in inv.history(order="h1")] == ["held", "committed", "held"]
    clock.advance(WEEK_AND_DAY.total_seconds())
    assert inv.reservation(res.id).state == "released"
    assert (inv.available("A", "s1"), inv.available("B", "s1")) == (9, 9)
    assert inv.history(kind="picked") == []
    assert inv.check().ok


def test_sweep_journals_no_shows_once(make_inventory: MakeInv, clock: Clock) -> None:
    inv = make_inventory()
    network(inv)
    inv.set_policy(Policy(pickup_window_hours=1, pickup_grace_hours=0.5))
    inv.receive("A", "s1", 9)
    r1 = paid(inv, "p1", 1)
    clock.advance(60)
    r2 = paid(inv, "p2", 2)
    cart = inv.hold(Order("c1", lines=[Line("A", 1, "s1")]), ttl=5400 + 30)
    clock.advance(5400 + 60)
    swept = inv.sweep(limit=2)
    assert swept.no_shows == (r1, r2) and swept.reservations == ()
    assert [e.due_at for e in swept.expired] == [
        T0 + timedelta(hours=1.5),
        T0 + timedelta(hours=1.5, seconds=60),
    ]
    assert swept.more  # the cart is due too
    again = inv.sweep()
    assert again.reservations == (cart.id,) and again.no_shows == ()
    assert inv.sweep().count == 0
    no_shows = [(e.ref, e.qty) for e in inv.history(kind="no-show")]
    assert no_shows == [(r1, 1), (r2, 2)]
    assert inv.available("A", "s1") == 9
    assert inv.check().ok


def test_a_keyed_commit_is_idempotent_and_keeps_its_due(
    make_inventory: MakeInv, clock: Clock
) -> None:
    inv = make_inventory()
    network(inv)
    inv.receive("A", "s1", 9)
    a = inv.allocate(pickup("p1", 2), ttl=600)
    assert a.reservation is not None
    first = inv.commit(a.reservation.id, key="pay-1")
    clock.advance(3600)
    assert inv.commit(a.reservation.id, key="pay-1") == first  # a retry: same answer
    assert inv.commit(a.reservation.id).expires_at == T0 + WEEK_AND_DAY  # not re-dated
    assert len(inv.history(kind="committed")) == 1
    clock.advance(WEEK_AND_DAY.total_seconds())
    assert inv.reservation(a.reservation.id).state == "released"
    assert len(inv.history(kind="no-show")) == 1
    assert inv.check().ok


def test_the_window_restarts_when_the_last_transfer_arrives(
    make_inventory: MakeInv, clock: Clock
) -> None:
    inv = make_inventory()
    network(inv)
    inv.set_policy(Policy(transfer_hours=10, pickup_window_hours=24, pickup_grace_hours=0))
    inv.receive("A", "s1", 1)
    inv.receive("A", "s2", 5)
    a = inv.allocate(pickup("p1", 3), ttl=3600)
    assert a.reservation is not None and len(a.transfers) == 1
    rid = a.reservation.id
    inv.commit(rid)  # paid while 2 units are on their way: no due time yet
    assert inv.reservation(rid).expires_at is None
    clock.advance(30 * 3600)  # the transfer is late
    assert inv.reservation(rid).state == "committed"
    inv.receive_transfer(a.transfers[0].id)
    assert inv.reservation(rid).expires_at == T0 + timedelta(hours=54)
    clock.advance(24 * 3600)
    assert inv.reservation(rid).state == "released"
    assert inv.available("A", "s1") == 3
    assert [e.kind for e in inv.history(order="p1")] == [
        "held",
        "transfer-out",
        "committed",
        "transfer-in",
        "no-show",
    ]
    assert inv.check().ok


def test_a_pickup_paid_with_every_unit_in_transit_is_committed(
    make_inventory: MakeInv, clock: Clock, store_url: str
) -> None:
    """Nothing at the store yet: the commit is one row naming the
    reservation (it used to write nothing and leave the order held)."""
    inv = make_inventory(store_url)
    network(inv)
    inv.set_policy(Policy(transfer_hours=5, pickup_window_hours=10, pickup_grace_hours=1))
    inv.receive("A", "s2", 4)
    a = inv.allocate(pickup("p1", 2), ttl=600)
    assert a.reservation is not None and a.reservation.lines == ()
    res = inv.commit(a.reservation.id, key="pay")
    assert (res.state, res.expires_at) == ("committed", None)
    (row,) = inv.history(kind="committed")
    assert (row.ref, row.sku, row.location, row.qty) == (a.reservation.id, None, None, 0)
    clock.advance(5 * 3600)
    inv.receive_transfer(a.transfers[0].id)
    assert inv.reservation(a.reservation.id).expires_at == T0 + timedelta(hours=16)
    clock.advance(11 * 3600)
    assert inv.reservation(a.reservation.id).state == "released"
    assert inv.available("A", "s1") == 2
    assert inv.check().ok


def test_a_no_show_with_every_unit_in_transit_closes_and_they_arrive_free(
    make_inventory: MakeInv, clock: Clock
) -> None:
    """Paid, then the store finds its units damaged: they come again by
    transfer, which is later than the due time. The no-show closes the
    order (one row of 0 at the store); the units arrive as free stock."""
    inv = make_inventory()
    network(inv)
    inv.set_policy(Policy(transfer_hours=48, pickup_window_hours=24, pickup_grace_hours=0))
    inv.receive("A", "s1", 2)
    inv.receive("A", "s2", 5)
    rid = paid(inv, "p1", 2)
    r = inv.reject(rid, "A", "damaged")
    assert [t.qty for t in r.transfers] == [2]
    clock.advance(24 * 3600)
    assert inv.reservation(rid).state == "released"
    (row,) = inv.history(kind="no-show")
    assert (row.sku, row.location, row.qty, row.ref) == ("A", "s1", 0, rid)
    clock.advance(24 * 3600)
    inv.receive_transfer(r.transfers[0].id)
    assert inv.available("A", "s1") == 2
    assert inv.check().ok


def test_no_shows_survive_a_reopen_and_snapshot(
    make_inventory: MakeInv, clock: Clock, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    url = f"sqlite:///{tmp_path / 'n.db'}"
    inv = make_inventory(url)
    network(inv)
    inv.set_policy(Policy(pickup_window_hours=2, pickup_grace_hours=0))
    inv.receive("A", "s1", 5)
    rid = paid(inv, "p1", 2)
    inv.snapshot()
    inv.close()
    again = make_inventory(url)
    assert again.reservation(rid).expires_at == T0 + timedelta(hours=2)
    clock.advance(2 * 3600)
    assert again.available("A", "s1") == 5
    assert again.check().ok


# -- known debts --------------------------------------------------------------------
def test_transfer_ids_are_never_reused_for_a_reservation(
    make_inventory: MakeInv, clock: Clock, store_url: str
) -> None:
    inv = make_inventory(store_url)
    network(inv)
    inv.set_policy(Policy(transfer_hours=6))
    inv.receive("A", "s2", 9)
    a = inv.allocate(pickup("p1", 2), ttl=600)
    assert [t.id for t in a.transfers] == ["p1#1/T1"]
    clock.advance(6 * 3600)
    inv.receive_transfer("p1#1/T1")
    r = inv.reject("p1#1", "A", "damaged")
    assert [t.id for t in r.transfers] == ["p1#1/T2"]  # never /T1 again
    assert [e.ref for e in inv.history(order="p1", kind="transfer-out")] == [
        "p1#1/T1",
        "p1#1/T2",
    ]
    assert inv.check().ok


def test_receive_transfer_of_an_unknown_id_is_unknown_supply(make_inventory: MakeInv) -> None:
    inv = make_inventory()
    network(inv)
    before = inv.digest()
    with pytest.raises(UnknownSupply, match="transfer_id='nope'"):
        inv.receive_transfer("nope")
    assert inv.digest() == before


def test_the_pickup_settings_round_trip_and_take_a_timedelta() -> None:
    pol = Policy(pickup_window_hours=timedelta(days=2), pickup_grace_hours=0.5)
    assert (pol.pickup_window_hours, pol.pickup_grace_hours) == (48.0, 0.5)
    assert pol.paid_pickup_us == timedelta(hours=48.5) // timedelta(microseconds=1)
    assert Policy.from_toml(pol.to_toml()) == pol == Policy.from_dict(pol.to_dict())
    assert Policy(keep_paid_pickups=True).paid_pickup_us is None
    assert Policy().paid_pickup_us == WEEK_AND_DAY // timedelta(microseconds=1)
