"""Backorders and preorders (issue 15, item 2): ``Order(backorder=True)``
waits for dated supply (on hand first, then the earliest ETA), receipts
convert backorders in the order they were taken, a cancelled or late PO
re-sources them, a channel caps preorders, and supply is never promised
twice. The main flow runs on every store; every scenario ends with a
clean ``check()``."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from conftest import Clock
from omnistock import Channel, Inventory, Line, Location, Order, ReservationLine, errors
from omnistock.ledger.snapshot import digest, load, to_bytes
from omnistock.ledger.state import LedgerState
from omnistock.values import Resourced

Make = Callable[..., Inventory]
DAY = timedelta(days=1)


def lines(inv: Inventory, rid: str) -> list[tuple[str, str, int, datetime | None]]:
    return [(x.sku, x.location, x.qty, x.eta) for x in inv.reservation(rid).lines]


def supply(inv: Inventory, sku: str, qty: int) -> list[tuple[str, int]]:
    return [(s.ref, s.qty) for s in inv.promise(sku, qty).supply]


def bo(oid: str, sku: str, qty: int, loc: str = "w1", channel: str | None = "web") -> Order:
    return Order(oid, channel, [Line(sku, qty, loc)], backorder=True)


def network(inv: Inventory) -> Inventory:
    inv.add_location(Location("w1", kind="warehouse"))
    inv.add_location(Location("s1"))
    inv.add_channel(Channel("web"))
    return inv


@pytest.fixture
def inv(make_inventory: Make) -> Inventory:
    return network(make_inventory())


def test_main_flow_on_every_store(make_inventory: Make, store_url: str, clock: Clock) -> None:
    inv = network(make_inventory(store_url))
    inv.receive("A", "w1", 2)
    eta1, eta2 = clock() + 3 * DAY, clock() + 5 * DAY
    po1 = inv.expect("A", "w1", 5, eta=eta1)
    po2 = inv.expect("A", "w1", 5, eta=eta2)
    r1 = inv.hold(bo("o1", "A", 4))
    # On hand first, then the earliest ETA.
    assert lines(inv, r1.id) == [("A", "w1", 2, None), ("A", "w1", 2, eta1)]
    assert r1.qty == 4
    assert supply(inv, "A", 5) == [(po1, 3), (po2, 2)]
    r2 = inv.hold(bo("o2", "A", 6))  # split across both POs
    assert lines(inv, r2.id) == [("A", "w1", 3, eta1), ("A", "w1", 3, eta2)]
    assert supply(inv, "A", 2) == [(po2, 2)]  # only what is left of the POs
    assert inv.promise("A", 3).date is None
    with pytest.raises(errors.InsufficientStock) as exc:
        inv.hold(bo("o3", "A", 3))
    assert exc.value.available == 2
    # A partial receipt converts in the order the backorders were taken.
    inv.receive("A", "w1", 3, ref=po1)
    assert lines(inv, r1.id) == [("A", "w1", 4, None)]
    assert lines(inv, r2.id) == [("A", "w1", 1, None), ("A", "w1", 2, eta1), ("A", "w1", 3, eta2)]
    filled = [(e.ref, e.qty, e.data) for e in inv.history(kind="backorder-filled")]
    assert filled == [(r1.id, 2, {"sid": po1}), (r2.id, 1, {"sid": po1})]
    assert inv.available("A", location="w1") == 0
    # The second PO is cancelled: nothing else can serve its backorder.
    applied = inv.cancel_expected(po2)
    assert applied.resourced == (Resourced(r2.id, "A", "w1", 3, (), 3),)
    assert lines(inv, r2.id) == [("A", "w1", 1, None), ("A", "w1", 2, eta1)]
    assert inv.check().ok
    inv.receive("A", "w1", 2, ref=po1)
    assert lines(inv, r2.id) == [("A", "w1", 3, None)]
    assert inv.reservation(r2.id).state == "held"
    assert inv.check().ok


def test_a_preorder_waits_on_a_sku_with_no_stock(inv: Inventory, clock: Clock) -> None:
    eta = clock() + 10 * DAY
    po = inv.expect("N", "w1", 10, eta=eta)
    r = inv.hold(bo("p1", "N", 3))
    assert lines(inv, r.id) == [("N", "w1", 3, eta)]
    assert inv.available("N") == 0
    assert supply(inv, "N", 7) == [(po, 7)]
    assert inv.promise("N", 8).date is None
    with pytest.raises(errors.InsufficientStock):  # without backorder: refused as before
        inv.hold(Order("p2", "web", [Line("N", 1, "w1")]))
    assert inv.check().ok


def test_a_refusal_carries_what_was_available_and_writes_nothing(
    inv: Inventory, clock: Clock
) -> None:
    inv.receive("A", "w1", 2)
    inv.expect("A", "w1", 3, eta=clock() + DAY)
    head = inv.head
    with pytest.raises(errors.InsufficientStock) as exc:
        inv.hold(bo("o1", "A", 6))
    assert (exc.value.requested, exc.value.available, exc.value.location) == (6, 5, "w1")
    assert inv.head == head


def test_earliest_eta_first_whatever_the_order_expected(inv: Inventory, clock: Clock) -> None:
    late = inv.expect("A", "w1", 2, eta=clock() + 5 * DAY)
    early = inv.expect("A", "w1", 2, eta=clock() + 2 * DAY)
    r = inv.hold(bo("o1", "A", 3))
    assert lines(inv, r.id) == [
        ("A", "w1", 2, clock() + 2 * DAY),
        ("A", "w1", 1, clock() + 5 * DAY),
    ]
    assert supply(inv, "A", 1) == [(late, 1)]
    assert early not in dict(supply(inv, "A", 1))


def test_overdue_po_and_other_locations_are_not_waited_for(inv: Inventory, clock: Clock) -> None:
    inv.expect("A", "w1", 5, eta=clock() + timedelta(hours=1))
    inv.expect("A", "s1", 5, eta=clock() + DAY)
    clock.advance(7200)  # the w1 PO is overdue: its date is unknown
    with pytest.raises(errors.InsufficientStock) as exc:
        inv.hold(bo("o1", "A", 1))
    assert exc.value.available == 0


def test_preorder_cap_per_sku_and_channel(inv: Inventory, clock: Clock) -> None:
    inv.add_channel(Channel("app", preorder_cap=3))
    inv.expect("N", "w1", 10, eta=clock() + DAY)
    inv.expect("M", "w1", 10, eta=clock() + DAY)
    r1 = inv.hold(bo("p1", "N", 2, channel="app"))
    with pytest.raises(errors.InsufficientStock) as exc:
        inv.hold(bo("p2", "N", 2, channel="app"))
    assert (exc.value.available, exc.value.channel) == (1, "app")
    inv.hold(bo("p3", "N", 1, channel="app"))
    inv.hold(bo("p4", "M", 3, channel="app"))  # the cap is per SKU
    inv.hold(bo("p5", "N", 5, channel="web"))  # and per channel
    inv.release(r1.id)
    inv.hold(bo("p2", "N", 2, channel="app"))  # released backorders free the cap
    assert inv.channels["app"].preorder_cap == 3
    assert inv.check().ok


def test_commit_keeps_a_preorder_past_its_ttl_and_a_hold_expires(
    inv: Inventory, clock: Clock
) -> None:
    po = inv.expect("N", "w1", 4, eta=clock() + 10 * DAY)
    paid = inv.hold(bo("p1", "N", 2))
    inv.commit(paid.id)
    cart = inv.hold(bo("p2", "N", 2), ttl=60)
    assert supply(inv, "N", 4) == []  # wait: all promised
    clock.advance(120)
    assert inv.reservation(cart.id).state == "expired"
    assert inv.reservation(paid.id).state == "committed"
    assert supply(inv, "N", 2) == [(po, 2)]  # the expired hold's supply is free again
    assert [e.data for e in inv.history(kind="backorder-released")] == [
        {"sid": po, "close": "expired"}
    ]
    assert inv.check().ok


def test_release_and_order_changes_free_the_supply(inv: Inventory, clock: Clock) -> None:
    eta = clock() + 2 * DAY
    po = inv.expect("D", "w1", 10, eta=eta)
    inv.receive("D", "w1", 2)
    r = inv.hold(bo("q1", "D", 5))
    assert inv.release(r.id, lines=[("D", 1)]).lines == (
        ReservationLine("D", "w1", 2),
        ReservationLine("D", "w1", 2, eta),
    )
    assert supply(inv, "D", 10) == [(po, 8)]
    got = inv.amend(r.id, [Line("D", 3, "w1")]).reservation
    assert got is not None and got.lines == (
        ReservationLine("D", "w1", 2),
        ReservationLine("D", "w1", 1, eta),
    )
    got = inv.amend(r.id, [Line("D", 1, "w1")]).reservation
    assert got is not None and got.lines == (ReservationLine("D", "w1", 1),)
    assert supply(inv, "D", 11) == [(po, 10)]
    assert inv.release(r.id).state == "released"
    assert inv.check().ok


def test_ship_refuses_a_line_still_waiting(inv: Inventory, clock: Clock) -> None:
    po = inv.expect("A", "w1", 5, eta=clock() + DAY)
    inv.receive("A", "w1", 1)
    r = inv.hold(bo("o1", "A", 3))
    inv.commit(r.id)
    with pytest.raises(errors.AwaitingSupply, match="waits for 2 of sku 'A'") as exc:
        inv.ship(r.id)
    assert exc.value.line == ReservationLine("A", "w1", 2, clock() + DAY)
    with pytest.raises(errors.AwaitingSupply):
        inv.ship(r.id, lines=[("A", 2)])
    inv.ship(r.id, lines=[("A", 1)])  # what is on hand ships
    assert inv.reservation(r.id).state == "committed"
    inv.receive("A", "w1", 5, ref=po)
    assert inv.ship(r.id).state == "fulfilled"
    assert inv.check().ok


def test_redate_later_moves_to_sooner_supply_or_keeps_waiting(inv: Inventory, clock: Clock) -> None:
    po1 = inv.expect("A", "w1", 2, eta=clock() + 3 * DAY)
    r = inv.hold(bo("o1", "A", 2))
    assert inv.redate(po1, clock() + 10 * DAY).resourced == ()  # nothing sooner: it waits
    assert lines(inv, r.id) == [("A", "w1", 2, clock() + 10 * DAY)]
    po2 = inv.expect("A", "w1", 2, eta=clock() + 4 * DAY)
    applied = inv.redate(po1, clock() + 11 * DAY)
    assert applied.resourced == (Resourced(r.id, "A", "w1", 2, backorders=((po2, 2),)),)
    assert lines(inv, r.id) == [("A", "w1", 2, clock() + 4 * DAY)]
    assert supply(inv, "A", 2) == [(po1, 2)]
    assert inv.check().ok


def test_cancel_moves_oldest_first_to_stock_then_next_supply(inv: Inventory, clock: Clock) -> None:
    po1 = inv.expect("A", "w1", 6, eta=clock() + 3 * DAY)
    po2 = inv.expect("A", "w1", 2, eta=clock() + 6 * DAY)
    r1 = inv.hold(bo("o1", "A", 2))
    r2 = inv.hold(bo("o2", "A", 2))
    r3 = inv.hold(bo("o3", "A", 2))
    inv.receive("A", "w1", 1)  # stock arrived since, not against the PO
    applied = inv.cancel_expected(po1)
    # Oldest first: o1 gets the unit on hand and one of po2, o2 the other,
    # o3 nothing; reported newest first.
    assert applied.resourced == (
        Resourced(r3.id, "A", "w1", 2, (), 2),
        Resourced(r2.id, "A", "w1", 2, (), 1, backorders=((po2, 1),)),
        Resourced(r1.id, "A", "w1", 2, (("w1", 1),), 0, backorders=((po2, 1),)),
    )
    assert lines(inv, r1.id) == [("A", "w1", 1, None), ("A", "w1", 1, clock() + 6 * DAY)]
    assert lines(inv, r2.id) == [("A", "w1", 1, clock() + 6 * DAY)]
    assert inv.reservation(r3.id).state == "released"
    assert inv.check().ok


def test_a_transfer_in_transit_serves_backorders(inv: Inventory, clock: Clock) -> None:
    inv.receive("A", "s1", 3)
    t = inv.transfer("A", "s1", "w1", 3, eta=clock() + DAY)
    r1 = inv.hold(bo("o1", "A", 2))
    r2 = inv.hold(bo("o2", "A", 1))
    assert lines(inv, r1.id) == [("A", "w1", 2, clock() + DAY)]
    inv.receive_transfer(t.id, 1)
    assert lines(inv, r1.id) == [("A", "w1", 1, None), ("A", "w1", 1, clock() + DAY)]
    applied = inv.close_transfer(t.id)  # the other 2 are lost in transit
    assert applied.resourced == (
        Resourced(r2.id, "A", "w1", 1, (), 1),
        Resourced(r1.id, "A", "w1", 1, (), 1),
    )
    assert lines(inv, r1.id) == [("A", "w1", 1, None)]
    assert inv.reservation(r2.id).state == "released"
    assert inv.check().ok


def test_allocate_sources_on_hand_then_supply_the_channel_may_serve(
    inv: Inventory, clock: Clock
) -> None:
    inv.add_location(Location("w2", kind="warehouse"))
    inv.add_channel(Channel("shop", locations=["w1", "s1"]))
    inv.receive("A", "s1", 1)
    inv.expect("A", "w2", 5, eta=clock() + DAY)  # w2 does not serve the channel
    po = inv.expect("A", "w1", 5, eta=clock() + 2 * DAY)
    a = inv.allocate(Order("o1", "shop", [("A", 3)], backorder=True))
    assert a.status == "allocated"
    assert [(x.location, x.qty, x.eta) for x in a.lines] == [
        ("s1", 1, None),
        ("w1", 2, clock() + 2 * DAY),
    ]
    too_many = inv.allocate(Order("o2", "shop", [("A", 4)], backorder=True))
    assert too_many.status == "unfillable"
    p = inv.promise("A", 3, channel="shop")
    assert [(x.ref, x.qty) for x in p.supply] == [(po, 3)]
    assert inv.check().ok


def test_repeats_return_the_backordered_reservation(inv: Inventory, clock: Clock) -> None:
    inv.expect("A", "w1", 5, eta=clock() + DAY)
    first = inv.hold(bo("o1", "A", 2), key="k1")
    assert inv.hold(bo("o1", "A", 2), key="k1") == first
    assert inv.hold(bo("o1", "A", 2)).lines == first.lines  # the order id is a natural key
    again = inv.hold(bo("o1", "A", 2), key="k1")
    assert again.lines[0].eta == clock() + DAY
    assert inv.check().ok


def test_snapshots_keep_backorders(make_inventory: Make, tmp_path: Path, clock: Clock) -> None:
    url = f"sqlite:///{tmp_path / 'bo.db'}"
    inv = network(make_inventory(url))
    po = inv.expect("A", "w1", 5, eta=clock() + DAY)
    r = inv.hold(bo("o1", "A", 2))
    inv.hold(bo("o2", "A", 1))
    live = inv._state
    st = load(LedgerState(), to_bytes(live))
    assert digest(st) == digest(live)
    assert st.supply.by_id[po].booked == {r.id: 2, "o2#1": 1}
    inv.snapshot()
    inv.close()
    again = make_inventory(url)
    assert lines(again, r.id) == [("A", "w1", 2, clock() + DAY)]
    assert supply(again, "A", 2) == [(po, 2)]
    assert again.check().ok


def test_releasing_a_whole_preorder_by_lines_closes_it(inv: Inventory, clock: Clock) -> None:
    po = inv.expect("N", "w1", 5, eta=clock() + DAY)
    r = inv.hold(bo("p1", "N", 3))
    assert inv.release(r.id, lines=[("N", 3)]).state == "released"
    assert supply(inv, "N", 5) == [(po, 5)]
    assert inv.check().ok


def test_a_pickup_order_waits_at_its_store_and_is_not_collected_early(
    inv: Inventory, clock: Clock
) -> None:
    po = inv.expect("A", "s1", 4, eta=clock() + DAY)
    order = Order("c1", "web", [("A", 2)], method="pickup", pickup_at="s1", backorder=True)
    r = inv.hold(order)
    assert lines(inv, r.id) == [("A", "s1", 2, clock() + DAY)]
    with pytest.raises(errors.AwaitingSupply):
        inv.collect(r.id)
    inv.receive("A", "s1", 4, ref=po)
    assert inv.collect(r.id).state == "fulfilled"
    assert inv.check().ok


def test_a_committed_preorder_waits_past_a_late_po(inv: Inventory, clock: Clock) -> None:
    po = inv.expect("N", "w1", 2, eta=clock() + DAY)
    r = inv.hold(bo("p1", "N", 2))
    inv.commit(r.id)
    clock.advance(3 * 86400)  # the PO is overdue: it still waits (and is not promised)
    assert inv.reservation(r.id).state == "committed"
    assert inv.promise("N", 1).date is None
    inv.redate(po, clock() + DAY)
    assert lines(inv, r.id) == [("N", "w1", 2, clock() + DAY)]
    assert inv.check().ok
