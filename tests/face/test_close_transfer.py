"""Closing a transfer short, on every store: the units not received are
journaled as lost in transit and leave ``promise()``; a pickup order that
waited on them is re-sourced by a new transfer, or released when nothing
is left for it; closing twice is a typed error."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from omnistock import Inventory, Location, Order, Point, errors
from omnistock.fulfilment import Policy

Make = Callable[..., Inventory]


@pytest.fixture
def inv(make_inventory: Make, store_url: str) -> Inventory:
    inv = make_inventory(store_url)
    inv.set_policy(Policy(bopis_fallback=["transfer"]))
    inv.add_location(Location("s1", point=Point(51.50, -0.12)))
    inv.add_location(Location("s2", point=Point(51.52, -0.10)))
    inv.add_location(Location("w1", kind="warehouse", point=Point(51.60, -0.20)))
    return inv


def test_closing_short_journals_the_rest_as_lost(inv: Inventory) -> None:
    inv.receive("A", "w1", 10)
    t = inv.transfer("A", "w1", "s1", 6)
    inv.receive_transfer(t.id, 4)
    out = inv.close_transfer(t.id, key="close-1")
    assert out.resourced == ()
    lost = inv.history(ref=t.id, kind="transfer-lost")
    assert [(e.sku, e.location, e.qty, e.data) for e in lost] == [("A", "s1", 2, {"from": "w1"})]
    assert inv.on_hand("A", "s1") == 4 and inv.on_hand("A", "w1") == 4
    assert inv.transfers() == []
    assert inv.promise("A", 9).date is None  # 8 on hand, the 2 lost are not promised
    assert inv.close_transfer(t.id, key="close-1") == out  # a retry: the first result
    with pytest.raises(errors.UnknownSupply, match=f"transfer_id='{t.id}'"):
        inv.close_transfer(t.id)  # closing twice
    with pytest.raises(errors.UnknownSupply, match=f"transfer_id='{t.id}'"):
        inv.receive_transfer(t.id)
    assert inv.check().ok


def test_a_pickup_waiting_on_a_lost_transfer_is_re_sourced(inv: Inventory) -> None:
    inv.receive("A", "w1", 2)
    inv.receive("A", "s2", 5)
    alloc = inv.allocate(Order("p1", lines=[("A", 2)], method="pickup", pickup_at="s1"))
    assert alloc.reservation is not None and len(alloc.transfers) == 1
    rid, first = alloc.reservation.id, alloc.transfers[0]
    assert first.source == "s2"  # the nearest
    out = inv.close_transfer(first.id)
    (r,) = out.resourced
    assert (r.reservation, r.sku, r.source, r.qty, r.missing) == (rid, "A", "s1", 2, 0)
    (t2,) = r.transfers
    assert (t2.id, t2.source, t2.destination, t2.qty) == (f"{first.id}-R1", "s2", "s1", 2)
    inv.receive_transfer(t2.id)
    res = inv.reservation(rid)
    assert res.state == "held" and [(x.location, x.qty) for x in res.lines] == [("s1", 2)]
    assert inv.on_hand("A", "s2") == 1  # 2 left for the lost transfer, 2 for the new one
    assert inv.check().ok


def test_a_pickup_with_nothing_left_to_wait_for_is_released(inv: Inventory) -> None:
    inv.receive("A", "s2", 2)
    alloc = inv.allocate(Order("p1", lines=[("A", 2)], method="pickup", pickup_at="s1"))
    assert alloc.reservation is not None
    rid, (t,) = alloc.reservation.id, alloc.transfers
    out = inv.close_transfer(t.id)
    (r,) = out.resourced
    assert (r.missing, r.transfers) == (2, ())
    assert inv.reservation(rid).state == "released"
    assert [e.kind for e in inv.history(order="p1")][-2:] == ["transfer-lost", "released"]
    assert inv.check().ok


def test_close_transfer_refuses_what_is_no_transfer(inv: Inventory) -> None:
    from datetime import UTC, datetime

    po = inv.expect("A", "w1", 5, eta=datetime(2030, 1, 1, tzinfo=UTC))
    with pytest.raises(errors.InvalidInput, match="is a purchase order"):
        inv.close_transfer(po)
    with pytest.raises(errors.UnknownSupply, match="transfer_id='T-none'"):
        inv.close_transfer("T-none")
