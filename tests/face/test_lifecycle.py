"""The face as a user drives it: each test states one fact with exact numbers."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest

from conftest import Clock
from omnistock import Channel, Inventory, Line, Location, Order, Point, errors

Make = Callable[..., Inventory]


def network(inv: Inventory) -> Inventory:
    """Store s1 (pickup), store s2, warehouse w1, channel web (buffer 2)."""
    inv.add_location(Location("s1", point=Point(51.50, -0.12)))
    inv.add_location(Location("s2", point=Point(51.52, -0.10)))
    inv.add_location(Location("w1", kind="warehouse", point=Point(52.0, -1.0)))
    inv.add_channel(Channel("web", buffer=2))
    return inv


@pytest.fixture
def inv(make_inventory: Make) -> Inventory:
    return network(make_inventory())


def pinned(oid: str, sku: str, qty: int, loc: str, channel: str | None = None) -> Order:
    return Order(oid, channel=channel, lines=[Line(sku, qty, loc)])


def test_received_units_are_available(inv: Inventory) -> None:
    inv.receive("A", "s1", 7)
    inv.receive("A", "w1", 5)
    assert inv.available("A", location="s1") == 7
    assert inv.available("A") == 12
    assert inv.on_hand("A", "s1") == 7


def test_a_hold_expires_by_the_clock_and_gives_its_units_back(inv: Inventory, clock: Clock) -> None:
    inv.receive("A", "s1", 10)
    res = inv.hold(pinned("o1", "A", 4, "s1"), ttl=300)
    assert res.state == "held"
    assert res.expires_at == clock() + timedelta(seconds=300)
    assert inv.available("A", location="s1") == 6
    clock.advance(299)
    assert inv.available("A", location="s1") == 6
    clock.advance(2)
    assert inv.available("A", location="s1") == 10
    assert [e.kind for e in inv.history(ref=res.id)] == ["held", "expired"]
    assert inv.reservation(res.id).state == "expired"
    assert inv.reservation(res.id).lines == ()


def test_hold_commit_ship_whole(inv: Inventory, clock: Clock) -> None:
    inv.receive("A", "s1", 10)
    res = inv.hold(pinned("o1", "A", 4, "s1"))
    c = inv.commit(res.id)
    assert (c.state, c.expires_at) == ("committed", None)
    clock.advance(86_400)  # a committed reservation never expires
    assert inv.available("A", location="s1") == 6
    done = inv.ship(res.id)
    assert done.state == "fulfilled"
    assert [(x.sku, x.location, x.qty) for x in done.shipped] == [("A", "s1", 4)]
    assert inv.on_hand("A", "s1") == 6
    assert inv.available("A", location="s1") == 6
    assert [e.kind for e in inv.history(ref=res.id)] == ["held", "committed", "fulfilled"]


def test_ship_partial_then_rest(inv: Inventory) -> None:
    inv.receive("A", "s1", 10)
    inv.receive("B", "s1", 3)
    res = inv.hold(Order("o1", lines=[Line("A", 4, "s1"), Line("B", 2, "s1")]))
    inv.commit(res.id)
    part = inv.ship(res.id, [("A", 1)])
    assert part.state == "committed"
    assert part.qty == 5
    assert inv.on_hand("A", "s1") == 9
    assert inv.explain("A", "s1").positions[0].reserved == 3
    rest = inv.ship(res.id)
    assert rest.state == "fulfilled"
    assert (inv.on_hand("A", "s1"), inv.on_hand("B", "s1")) == (6, 1)
    assert inv.available("A", location="s1") == 6


def test_collect_a_pickup_order(inv: Inventory) -> None:
    inv.receive("A", "s1", 5)
    order = Order("bopis-1", lines=[("A", 2)], method="pickup", pickup_at="s1")
    res = inv.hold(order, ttl=timedelta(hours=48))
    assert [(x.sku, x.location, x.qty) for x in res.lines] == [("A", "s1", 2)]
    assert inv.available("A", location="s1") == 3
    got = inv.collect(res.id)
    assert got.state == "fulfilled"
    assert inv.on_hand("A", "s1") == 3
    assert inv.available("A", location="s1") == 3


def test_extend_moves_expiry(inv: Inventory, clock: Clock) -> None:
    inv.receive("A", "s1", 5)
    res = inv.hold(pinned("o1", "A", 1, "s1"), ttl=60)
    clock.advance(50)
    ext = inv.extend(res.id, 600)
    assert ext.expires_at == clock() + timedelta(seconds=600)
    clock.advance(100)  # past the first expiry
    assert inv.reservation(res.id).state == "held"
    assert inv.available("A", location="s1") == 4


def test_resize_checks_only_the_delta(inv: Inventory) -> None:
    inv.receive("A", "s1", 10)
    res = inv.hold(pinned("o1", "A", 6, "s1"))  # atp 4 left
    up = inv.resize(res.id, [("A", 10)])  # +4 fits 4 though 10 > 4
    assert up.qty == 10
    assert inv.available("A", location="s1") == 0
    with pytest.raises(errors.InsufficientStock) as info:
        inv.resize(res.id, [("A", 11)])
    assert (info.value.requested, info.value.available) == (1, 0)
    down = inv.resize(res.id, [("A", 3)])
    assert down.qty == 3
    assert inv.available("A", location="s1") == 7


def test_release_gives_units_back(inv: Inventory) -> None:
    inv.receive("A", "s1", 10)
    res = inv.hold(pinned("o1", "A", 6, "s1"))
    inv.commit(res.id)
    rel = inv.release(res.id)
    assert rel.state == "released"
    assert inv.available("A", location="s1") == 10


def test_a_repeated_key_returns_the_first_result_and_changes_nothing(inv: Inventory) -> None:
    inv.receive("A", "s1", 10)
    first = inv.hold(pinned("o1", "A", 3, "s1"), key="cart-1")
    head, digest = inv.head, inv.digest()
    again = inv.hold(pinned("o1", "A", 3, "s1"), key="cart-1")
    assert again == first
    assert (again.state, again.lines, again.expires_at) == (
        first.state,
        first.lines,
        first.expires_at,
    )
    assert (inv.head, inv.digest()) == (head, digest)
    a1 = inv.receive("A", "s1", 5, key="asn-9")
    head, digest = inv.head, inv.digest()
    assert inv.receive("A", "s1", 5, key="asn-9") == a1
    assert (inv.head, inv.digest()) == (head, digest)
    assert inv.available("A", location="s1") == 12


def test_a_sale_beyond_reservations_names_the_newest_first(inv: Inventory) -> None:
    inv.receive("A", "s1", 10)
    old = inv.hold(pinned("o1", "A", 3, "s1"))
    mid = inv.hold(pinned("o2", "A", 3, "s1"))
    new = inv.hold(pinned("o3", "A", 3, "s1"))
    applied = inv.sell("s1", [("A", 5)])  # 5 left for 9 reserved: 4 uncovered
    assert len(applied.shortages) == 1
    short = applied.shortages[0]
    assert (short.sku, short.location, short.qty) == ("A", "s1", 4)
    assert short.reservations == (new.id, mid.id)
    assert old.id not in short.reservations
    assert inv.on_hand("A", "s1") == 5
    assert inv.available("A", location="s1") == 0


def test_counting_to_zero_reports_the_shortage(inv: Inventory) -> None:
    inv.receive("A", "s1", 10)
    res = inv.hold(pinned("o1", "A", 2, "s1"))
    applied = inv.count("A", "s1", 0)
    assert [(s.qty, s.reservations) for s in applied.shortages] == [(2, (res.id,))]
    assert inv.on_hand("A", "s1") == 0
    assert inv.available("A") == 0
    assert inv.check().ok


def test_safety_stock_lowers_atp_not_on_hand(inv: Inventory) -> None:
    inv.receive("A", "s1", 10)
    inv.set_safety("A", "s1", 3)
    assert inv.on_hand("A", "s1") == 10
    assert inv.available("A", location="s1") == 7
    with pytest.raises(errors.InsufficientStock):
        inv.hold(pinned("o1", "A", 8, "s1"))


def test_unsellable_states_leave_atp_and_come_back(inv: Inventory) -> None:
    inv.receive("A", "s1", 10)
    inv.change_state("A", "s1", 3, to="damaged")
    assert inv.on_hand("A", "s1") == 10
    assert inv.on_hand("A", "s1", state="damaged") == 3
    assert inv.available("A", location="s1") == 7
    inv.change_state("A", "s1", 2, to="sellable", from_="damaged")
    assert inv.on_hand("A", "s1", state="damaged") == 1
    assert inv.available("A", location="s1") == 9


def test_explain_terms_add_up_and_a_short_location_does_not_drag(inv: Inventory) -> None:
    inv.receive("A", "s1", 10)
    inv.receive("A", "s2", 4)
    inv.receive("A", "w1", 6)
    inv.change_state("A", "s1", 1, to="inspection")
    inv.set_safety("A", "s1", 2)
    inv.hold(pinned("o1", "A", 3, "s1"))
    inv.set_safety("A", "s2", 6)  # s2: on_hand 4, safety 6 -> atp -2
    ex = inv.explain("A")
    for p in ex.positions:
        assert p.on_hand - sum(p.unsellable.values()) - p.reserved - p.safety == p.atp
    figures = {p.location: (p.on_hand, p.reserved, p.safety, p.atp) for p in ex.positions}
    assert figures == {"s1": (10, 3, 2, 4), "s2": (4, 0, 6, -2), "w1": (6, 0, 0, 6)}
    assert ex.positive_sum == 10
    assert ex.available == inv.available("A") == 10


def test_channel_buffer_lowers_channel_figure_and_refuses_holds_beyond(inv: Inventory) -> None:
    inv.receive("B", "s1", 5)
    assert inv.available("B") == 5
    assert inv.available("B", channel="web") == 3
    assert inv.explain("B", channel="web").buffer == 2
    with pytest.raises(errors.InsufficientStock) as info:
        inv.hold(pinned("w1", "B", 4, "s1", channel="web"))
    assert (info.value.requested, info.value.available, info.value.channel) == (4, 3, "web")
    res = inv.hold(pinned("w2", "B", 3, "s1", channel="web"))
    assert inv.available("B", channel="web") == 0
    with pytest.raises(errors.InsufficientStock):  # nor can a resize go past it
        inv.resize(res.id, [("B", 4)])
    assert inv.available("B", location="s1") == 2


def test_promise_uses_dated_supply_when_stock_is_short(inv: Inventory, clock: Clock) -> None:
    inv.receive("A", "w1", 3)
    eta = clock() + timedelta(days=3)
    po = inv.expect("A", "w1", 10, eta=eta)
    assert inv.available("A") == 3  # supply is not in today's ATP
    later = inv.promise("A", 8)
    assert later.date == eta
    assert later.from_stock == 3
    assert [(s.ref, s.qty) for s in later.supply] == [(po, 5)]
    clock.advance(60)
    now = inv.promise("A", 3)
    assert now.now
    assert now.date == clock()
    assert inv.promise("A", 14).date is None
    inv.receive("A", "w1", 10, ref=po)
    assert inv.promise("A", 8).now


def test_at_gives_past_figures_by_seq_and_time(inv: Inventory, clock: Clock) -> None:
    inv.receive("A", "s1", 10)
    seq1, t1 = inv.head, clock()
    clock.advance(60)
    inv.sell("s1", [("A", 4)])
    clock.advance(60)
    inv.hold(pinned("o1", "A", 2, "s1"))
    assert inv.available("A", location="s1") == 4
    assert inv.at(seq1).available("A", location="s1") == 10
    assert inv.at(t1).available("A", location="s1") == 10
    assert inv.at(t1 + timedelta(seconds=90)).available("A", location="s1") == 6
    assert inv.at(inv.head).digest() == inv.digest()


def mixed_workload(inv: Inventory, clock: Clock) -> None:
    inv.receive("A", "s1", 10, key="r1")
    inv.receive("A", "w1", 20)
    inv.receive("B", "s2", 5)
    inv.set_safety("A", "w1", 2)
    inv.change_state("B", "s2", 1, to="display")
    h = inv.hold(Order("o1", lines=[Line("A", 3, "s1"), Line("B", 1, "s2")]), ttl=60)
    k = inv.hold(pinned("o2", "A", 5, "w1", channel="web"), ttl=600)
    inv.commit(k.id)
    inv.ship(k.id, [("A", 2)])
    inv.expect("B", "s2", 7, eta=clock() + timedelta(days=1), ref="po-7")
    inv.return_items("s1", [("A", 1)], condition="damaged")
    clock.advance(120)  # h expires
    inv.sell("s2", [("B", 2)], channel="web")
    assert inv.reservation(h.id).state == "expired"


def figures(inv: Inventory) -> dict[tuple[str, str | None], int]:
    out = {}
    for sku in inv.skus:
        out[(sku, None)] = inv.available(sku)
        for loc in inv.locations:
            out[(sku, loc)] = inv.available(sku, location=loc)
    return out


def test_check_passes_after_a_mixed_workload(inv: Inventory, clock: Clock) -> None:
    mixed_workload(inv, clock)
    report = inv.check()
    assert report.ok, report.problems
    assert report.head == inv.head
    assert report.digest == inv.digest()


def test_snapshot_then_reopen_on_the_same_memory_store(inv: Inventory, clock: Clock) -> None:
    mixed_workload(inv, clock)
    seq = inv.snapshot()
    assert seq == inv.head
    again = Inventory(store=inv.store, clock=clock)
    assert again.head == inv.head
    assert again.digest() == inv.digest()
    assert figures(again) == figures(inv)


def test_a_corrupt_snapshot_falls_back_to_a_full_replay(inv: Inventory, clock: Clock) -> None:
    mixed_workload(inv, clock)
    inv.store.save_snapshot(inv.head, b"\x00garbage, not a ledger\xff" * 10)
    again = Inventory(store=inv.store, clock=clock)
    assert again.digest() == inv.digest()
    assert again.check().ok


def sqlite_url(tmp_path: Path) -> str:
    pytest.importorskip("omnistock.storage.sqlite")
    return f"sqlite:///{tmp_path / 'shop.db'}"


def test_sqlite_restart_keeps_everything(tmp_path: Path, clock: Clock) -> None:
    url = sqlite_url(tmp_path)
    inv = network(Inventory.open(url, clock=clock))
    mixed_workload(inv, clock)
    digest, head, hist, figs = inv.digest(), inv.head, inv.history(), figures(inv)
    inv.close()
    again = Inventory.open(url, clock=clock)
    try:
        assert (again.digest(), again.head) == (digest, head)
        assert again.history() == hist
        assert figures(again) == figs
        assert again.check().ok
        # a repeated key still returns the first result after a restart
        (first,) = [e for e in hist if e.key == "r1"]
        assert again.receive("A", "s1", 10, key="r1").seq == first.seq
    finally:
        again.close()


def test_sqlite_reopen_after_snapshot_is_identical(tmp_path: Path, clock: Clock) -> None:
    url = sqlite_url(tmp_path)
    inv = network(Inventory.open(url, clock=clock))
    mixed_workload(inv, clock)
    inv.snapshot()
    inv.receive("A", "s2", 4)  # a row after the snapshot is replayed on top
    digest, hist, figs = inv.digest(), inv.history(), figures(inv)
    inv.close()
    with Inventory.open(url, clock=clock) as again:
        assert again.digest() == digest
        assert again.history() == hist
        assert figures(again) == figs


def test_sqlite_corrupt_snapshot_falls_back_to_replay(tmp_path: Path, clock: Clock) -> None:
    url = sqlite_url(tmp_path)
    inv = network(Inventory.open(url, clock=clock))
    mixed_workload(inv, clock)
    inv.store.save_snapshot(inv.head, b"not a snapshot")
    digest = inv.digest()
    inv.close()
    with Inventory.open(url, clock=clock) as again:
        assert again.digest() == digest
        assert again.check().ok
