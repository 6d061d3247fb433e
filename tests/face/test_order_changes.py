"""Order changes through the face: partial cancels (``release(res_id,
lines=)``) and amendments (``amend(res_id, lines)``) of held and committed
reservations, on every store. Each test states one fact with exact numbers."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from conftest import Clock
from omnistock import Channel, Inventory, Line, Location, Order, Point, errors

Make = Callable[..., Inventory]


def network(inv: Inventory) -> Inventory:
    """Stores s1 (London) and s2 (near it), warehouse w1 (Midlands), channel
    ``web`` (buffer 2). A: s1 10, w1 20. B: s1 5. C: s2 4, w1 6."""
    inv.add_location(Location("s1", point=Point(51.50, -0.12)))
    inv.add_location(Location("s2", point=Point(51.52, -0.10)))
    inv.add_location(Location("w1", kind="warehouse", point=Point(52.5, -1.9)))
    inv.add_channel(Channel("web", buffer=2))
    inv.receive("A", "s1", 10)
    inv.receive("A", "w1", 20)
    inv.receive("B", "s1", 5)
    inv.receive("C", "s2", 4)
    inv.receive("C", "w1", 6)
    return inv


@pytest.fixture
def inv(make_inventory: Make, store_url: str) -> Inventory:
    return network(make_inventory(store_url))


def lines(res: object) -> list[tuple[str, str, int]]:
    return [(x.sku, x.location, x.qty) for x in res.lines]  # type: ignore[attr-defined]


def committed(inv: Inventory, oid: str = "o1") -> str:
    """A committed ship order: 4 A and 2 B at s1."""
    res = inv.hold(Order(oid, lines=[Line("A", 4, "s1"), Line("B", 2, "s1")]))
    return inv.commit(res.id).id


# -- partial cancels ------------------------------------------------------------
def test_release_some_units_of_a_committed_order(inv: Inventory) -> None:
    rid = committed(inv)
    res = inv.release(rid, lines=[("A", 1)])
    assert res.state == "committed"
    assert lines(res) == [("A", "s1", 3), ("B", "s1", 2)]
    assert inv.available("A", location="s1") == 7
    assert inv.available("B", location="s1") == 3
    rows = inv.history(ref=rid, kind="released")
    assert [(e.sku, e.location, e.qty) for e in rows] == [("A", "s1", 1)]
    assert inv.check().ok


def test_release_a_whole_line_keeps_the_others(inv: Inventory) -> None:
    rid = committed(inv)
    res = inv.release(rid, lines=[Line("B", 2, "s1")])
    assert res.state == "committed"
    assert lines(res) == [("A", "s1", 4)]
    assert inv.available("B", location="s1") == 5


def test_releasing_every_line_of_a_hold_releases_it(inv: Inventory) -> None:
    res = inv.hold(Order("o1", lines=[Line("A", 4, "s1")]), ttl=600)
    out = inv.release(res.id, lines=[("A", 4)])
    assert (out.state, out.lines, out.expires_at) == ("released", (), None)
    assert inv.available("A", location="s1") == 10
    assert inv.check().ok


def test_ship_some_then_cancel_the_rest_is_fulfilled(inv: Inventory) -> None:
    rid = committed(inv)
    inv.ship(rid, [("A", 4)])
    res = inv.release(rid, lines=[("B", 2)])
    assert res.state == "fulfilled"
    assert res.lines == ()
    assert [(x.sku, x.qty) for x in res.shipped] == [("A", 4)]
    assert inv.on_hand("A", "s1") == 6
    assert inv.available("B", location="s1") == 5
    assert inv.check().ok


def test_cancel_some_then_ship_the_rest_is_fulfilled(inv: Inventory) -> None:
    rid = committed(inv)
    inv.release(rid, lines=[("B", 2)])
    res = inv.ship(rid)
    assert res.state == "fulfilled"
    assert [(x.sku, x.qty) for x in res.shipped] == [("A", 4)]
    assert inv.on_hand("B", "s1") == 5
    assert inv.available("B", location="s1") == 5


def test_partial_release_is_idempotent_under_a_key(inv: Inventory) -> None:
    rid = committed(inv)
    first = inv.release(rid, lines=[("A", 1)], key="cancel-1")
    head = inv.head
    again = inv.release(rid, lines=[("A", 1)], key="cancel-1")
    assert again == first and lines(again) == [("A", "s1", 3), ("B", "s1", 2)]
    assert inv.head == head
    assert inv.available("A", location="s1") == 7
    with pytest.raises(errors.IdempotencyConflict):
        inv.release(rid, lines=[("A", 2)], key="cancel-1")


def test_partial_release_refusals_change_nothing(inv: Inventory) -> None:
    rid = committed(inv)
    head, digest = inv.head, inv.digest()
    with pytest.raises(errors.InvalidInput, match="is not held by reservation"):
        inv.release(rid, lines=[("C", 1)])
    with pytest.raises(errors.InvalidQuantity, match="more than reservation"):
        inv.release(rid, lines=[("A", 3), ("A", 2)])
    with pytest.raises(errors.InvalidInput, match="is not held"):
        inv.release(rid, lines=[Line("A", 1, "w1")])
    assert (inv.head, inv.digest()) == (head, digest)


# -- amendments ---------------------------------------------------------------------
def test_amend_a_committed_order_checks_only_the_increase(inv: Inventory) -> None:
    rid = committed(inv)
    # 6 A at s1 is 2 more: ATP there is 6, so it fits; B goes from 2 to 1.
    out = inv.amend(rid, [Line("A", 6, "s1"), Line("B", 1, "s1")])
    assert out.status == "allocated"
    assert out.reservation is not None and out.reservation.state == "committed"
    assert lines(out) == [("A", "s1", 6), ("B", "s1", 1)]
    assert inv.available("A", location="s1") == 4
    assert inv.available("B", location="s1") == 4
    kinds = [(e.kind, e.sku, e.qty) for e in inv.history(ref=rid)][-2:]
    assert kinds == [("released", "B", 1), ("held", "A", 2)]
    assert inv.check().ok


def test_amend_removes_a_sku_it_does_not_name(inv: Inventory) -> None:
    rid = committed(inv)
    out = inv.amend(rid, [("A", 4)])
    assert lines(out) == [("A", "s1", 4)]
    assert inv.available("B", location="s1") == 5


def test_amend_beyond_atp_is_refused_and_changes_nothing(inv: Inventory) -> None:
    rid = committed(inv)
    head, digest = inv.head, inv.digest()
    with pytest.raises(errors.InsufficientStock) as info:
        inv.amend(rid, [Line("A", 11, "s1"), Line("B", 2, "s1")])
    assert (info.value.requested, info.value.available) == (7, 6)
    assert (inv.head, inv.digest()) == (head, digest)


def test_amend_sources_a_new_unpinned_line_by_the_policy(inv: Inventory) -> None:
    alloc = inv.allocate(Order("o1", lines=[("A", 2)], ship_to=Point(51.52, -0.10)))
    assert alloc.reservation is not None and lines(alloc) == [("A", "s1", 2)]
    out = inv.amend(alloc.reservation.id, [("A", 2), ("C", 3)])
    assert lines(out) == [("A", "s1", 2), ("C", "s2", 3)]
    assert out.trace is not None
    assert out.trace.get("s2").used and out.trace.get("s2").take == 3
    assert not out.trace.get("s1").kept  # no C at s1
    assert inv.available("C", location="s2") == 1


def test_amend_grows_an_unpinned_line_where_it_is_held_then_by_policy(
    inv: Inventory,
) -> None:
    alloc = inv.allocate(Order("o1", lines=[("C", 2)], ship_to=Point(51.52, -0.10)))
    assert alloc.reservation is not None and lines(alloc) == [("C", "s2", 2)]
    rid = alloc.reservation.id
    out = inv.amend(rid, [("C", 5)])  # s2 has 2 more, the policy finds 1 at w1
    assert lines(out) == [("C", "s2", 4), ("C", "w1", 1)]
    assert out.trace is not None and out.trace.get("w1").take == 1
    down = inv.amend(rid, [("C", 3)])  # a decrease comes off the last position first
    assert lines(down) == [("C", "s2", 3)]
    assert down.trace is None
    assert inv.check().ok


def test_amend_an_unpinned_line_nowhere_to_be_had(inv: Inventory) -> None:
    alloc = inv.allocate(Order("o1", lines=[("C", 2)]))
    assert alloc.reservation is not None
    with pytest.raises(errors.InsufficientStock) as info:
        inv.amend(alloc.reservation.id, [("C", 11)])
    assert (info.value.sku, info.value.requested, info.value.available) == ("C", 9, 8)


def test_amend_respects_the_channel_buffer(inv: Inventory) -> None:
    res = inv.hold(Order("o1", channel="web", lines=[Line("B", 1, "s1")]))
    # web may sell 5 - 2 (buffer) = 3 of B; it holds 1, so 2 more fit, 3 do not.
    with pytest.raises(errors.InsufficientStock) as info:
        inv.amend(res.id, [Line("B", 4, "s1")])
    assert (info.value.requested, info.value.available, info.value.channel) == (3, 2, "web")
    out = inv.amend(res.id, [Line("B", 3, "s1")])
    assert lines(out) == [("B", "s1", 3)]


def test_amend_respects_a_channel_cap(inv: Inventory) -> None:
    inv.add_channel(Channel("mkt", cap=3))
    res = inv.hold(Order("o1", channel="mkt", lines=[Line("A", 2, "s1")]))
    with pytest.raises(errors.InsufficientStock):
        inv.amend(res.id, [Line("A", 4, "s1")])
    assert lines(inv.amend(res.id, [Line("A", 3, "s1")]).reservation) == [("A", "s1", 3)]


def test_amend_respects_daily_capacity_for_a_new_location(inv: Inventory) -> None:
    inv.add_location(Location("s3", point=Point(51.51, -0.11), daily_capacity=1))
    inv.receive("D", "s3", 5)
    inv.receive("D", "w1", 5)
    inv.allocate(Order("other", lines=[("D", 1)], ship_to=Point(51.51, -0.11)))  # s3's pick
    alloc = inv.allocate(Order("o1", lines=[("A", 1)], ship_to=Point(51.51, -0.11)))
    assert alloc.reservation is not None
    rid = alloc.reservation.id
    with pytest.raises(errors.InsufficientStock):  # pinned to a store with no picks left
        inv.amend(rid, [("A", 1), Line("D", 1, "s3")])
    out = inv.amend(rid, [("A", 1), ("D", 1)])  # unpinned: the policy skips s3
    assert lines(out) == [("A", "s1", 1), ("D", "w1", 1)]
    assert out.trace is not None and out.trace.get("s3").reason == "capacity"


def test_amend_a_pickup_order_stays_at_its_store(inv: Inventory) -> None:
    alloc = inv.allocate(Order("o1", lines=[("A", 1)], method="pickup", pickup_at="s1"))
    res = alloc.reservation
    assert res is not None
    out = inv.amend(res.id, [("A", 2), ("B", 1)])
    assert lines(out) == [("A", "s1", 2), ("B", "s1", 1)]
    with pytest.raises(errors.InvalidInput, match="pickup store"):
        inv.amend(res.id, [Line("A", 2, "w1")])
    with pytest.raises(errors.InsufficientStock):  # no transfer in: only the store's ATP
        inv.amend(res.id, [("A", 11)])


def test_amend_is_idempotent_under_a_key(inv: Inventory, clock: Clock) -> None:
    rid = committed(inv)
    first = inv.amend(rid, [Line("A", 5, "s1")], key="amend-1")
    head = inv.head
    again = inv.amend(rid, [Line("A", 5, "s1")], key="amend-1")
    assert again == first and inv.head == head
    assert inv.available("A", location="s1") == 5


def test_amend_a_held_order_keeps_its_expiry(inv: Inventory, clock: Clock) -> None:
    res = inv.hold(Order("o1", lines=[Line("A", 2, "s1")]), ttl=300)
    out = inv.amend(res.id, [Line("A", 3, "s1")])
    assert out.reservation is not None
    assert out.reservation.expires_at == res.expires_at
    clock.advance(301)
    assert inv.available("A", location="s1") == 10
    assert inv.reservation(res.id).state == "expired"


def test_amend_to_the_same_lines_journals_nothing(inv: Inventory) -> None:
    rid = committed(inv)
    head = inv.head
    out = inv.amend(rid, [Line("B", 2, "s1"), ("A", 4)])
    assert lines(out) == [("A", "s1", 4), ("B", "s1", 2)]
    assert inv.head == head


def test_amend_refusals(inv: Inventory) -> None:
    rid = committed(inv)
    head, digest = inv.head, inv.digest()
    with pytest.raises(errors.InvalidInput, match="both pinned and unpinned"):
        inv.amend(rid, [("A", 1), Line("A", 1, "s1")])
    with pytest.raises(errors.InvalidInput, match="same unpinned sku twice"):
        inv.amend(rid, [("A", 1), ("A", 2)])
    with pytest.raises(errors.UnknownSku):
        inv.amend(rid, [("Z", 1)])
    with pytest.raises(errors.UnknownLocation):
        inv.amend(rid, [Line("A", 1, "nowhere")])
    inv.ship(rid)
    with pytest.raises(errors.InvalidTransition, match="fulfilled"):
        inv.amend(rid, [("A", 1)])
    assert inv.head == head + 2  # only the ship
    assert inv.digest() != digest
