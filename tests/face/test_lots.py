"""Lots, expiry, recall and serials (issue 16, item 3): scenario facts.

Milk arrives in lots with expiries; ship, sell, transfer and counts take
them first-expiry-first-out and the journal says which lot went where; a
lot whose expiry passes leaves ATP by the ledger's clock (a journaled
``lot-expired`` row, no cron job); a recall quarantines a lot at every
location; serials are lots of one unit. Every scenario ends with a clean
``check()`` (replay equals live).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from conftest import Clock
from omnistock import Channel, Inventory, Line, Location, Order, Point, errors
from omnistock.ledger.state import LedgerState

Make = Callable[..., Inventory]
HOUR = 3600


def _shop(inv: Inventory) -> Inventory:
    inv.add_location(Location("A", point=Point(52.0, 4.0), ships=True))
    inv.add_location(Location("B", point=Point(52.1, 4.1), ships=True))
    inv.add_channel(Channel("web", locations=["A", "B"]))
    return inv


def _milk(inv: Inventory, clock: Clock) -> None:
    """Two lots at A: L-late (5, in 5 days) received first, L-soon (3, in 2 days)."""
    inv.receive("milk", "A", 5, lot="L-late", expires=clock() + timedelta(days=5))
    inv.receive("milk", "A", 3, lot="L-soon", expires=clock() + timedelta(days=2))


def _lots(inv: Inventory, loc: str | None = None) -> list[tuple[str, str, int]]:
    return [(x.location, x.lot, x.qty) for x in inv.lots("milk", loc)]


def _ok(inv: Inventory) -> None:
    report = inv.check()
    assert report.ok, report.problems


def test_milk_lots_fefo_and_expiry_on_every_store(
    store_url: str, make_inventory: Make, clock: Clock
) -> None:
    inv = _shop(make_inventory(store_url))
    _milk(inv, clock)
    assert inv.on_hand("milk", "A") == 8
    assert (inv.on_hand("milk", "A", lot="L-soon"), inv.on_hand("milk", "A", lot="L-late")) == (
        3,
        5,
    )
    r = inv.hold(Order("o1", channel="web", lines=[Line("milk", 4, "A")]))
    inv.commit(r.id)
    shipped = inv.ship(r.id)
    assert [(x.lot, x.qty) for x in shipped.lots] == [("L-soon", 3), ("L-late", 1)]
    sold = inv.sell("A", [("milk", 1)])
    assert [(x.lot, x.qty) for x in sold.lots] == [("L-late", 1)]
    t = inv.transfer("milk", "A", "B", 2)
    assert [(x.lot, x.qty) for x in t.lots] == [("L-late", 2)]
    inv.receive_transfer(t.id)
    assert _lots(inv) == [("A", "L-late", 1), ("B", "L-late", 2)]
    rows = {e.kind: e.data for e in inv.history()}
    assert rows["fulfilled"]["lots"] == [["L-soon", 3], ["L-late", 1]]
    assert rows["sold"]["lots"] == [["L-late", 1]]
    assert rows["transfer-out"]["lots"] == rows["transfer-in"]["lots"] == [["L-late", 2]]
    clock.advance(6 * 24 * HOUR)  # L-late has expired: by the clock, nothing else
    assert inv.available("milk") == 0
    assert inv.on_hand("milk", "B") == 2 and inv.on_hand("milk", "B", "expired") == 2
    expired = [e for e in inv.history() if e.kind == "lot-expired"]
    assert sorted((e.location, e.qty, e.data["lot"]) for e in expired) == [
        ("A", 1, "L-late"),
        ("B", 2, "L-late"),
    ]
    with pytest.raises(errors.InsufficientStock):
        inv.hold(Order("o2", channel="web", lines=[Line("milk", 1, "B")]))
    _ok(inv)


def test_an_expired_lot_leaves_atp_and_its_reservations_are_resourced(
    make_inventory: Make, clock: Clock
) -> None:
    inv = _shop(make_inventory())
    inv.receive("milk", "A", 4, lot="L1", expires=clock() + timedelta(hours=2))
    inv.receive("milk", "B", 4, lot="L2", expires=clock() + timedelta(days=3))
    r = inv.hold(Order("o1", channel="web", lines=[Line("milk", 3, "A")]), ttl=timedelta(days=1))
    inv.commit(r.id)
    clock.advance(3 * HOUR)
    swept = inv.sweep()
    assert [e.what for e in swept.expired] == ["lot"]
    assert [(x.reservation, x.to) for x in swept.resourced] == [(r.id, (("B", 3),))]
    res = inv.reservation(r.id)
    assert [(x.location, x.qty) for x in res.lines] == [("B", 3)]
    inv.ship(r.id)
    assert inv.on_hand("milk", "A", lot="L1") == 4  # expired units stay on hand
    assert inv.available("milk", "A") == 0
    _ok(inv)


def test_lazy_expiry_resources_without_a_sweep(make_inventory: Make, clock: Clock) -> None:
    inv = _shop(make_inventory())
    inv.receive("milk", "A", 2, lot="L1", expires=clock() + timedelta(hours=1))
    inv.receive("milk", "B", 5)
    r = inv.hold(Order("o1", channel="web", lines=[Line("milk", 2, "A")]), ttl=timedelta(days=1))
    clock.advance(2 * HOUR)
    assert inv.available("milk", "A") == 0  # a query expires the lot
    kinds = [e.kind for e in inv.history()]
    assert "lot-expired" in kinds and kinds.count("held") == 2  # re-held at B
    assert [x.location for x in inv.reservation(r.id).lines] == ["B"]
    _ok(inv)


def test_recall_quarantines_every_location_and_resources(
    make_inventory: Make, clock: Clock
) -> None:
    inv = _shop(make_inventory())
    exp = clock() + timedelta(days=9)
    inv.receive("milk", "A", 4, lot="BAD", expires=exp)
    inv.receive("milk", "B", 2, lot="BAD", expires=exp)
    inv.receive("milk", "B", 6, lot="GOOD", expires=exp + timedelta(days=1))
    r = inv.hold(Order("o1", channel="web", lines=[Line("milk", 3, "A")]))
    out = inv.recall("milk", "BAD")
    assert [(x.location, x.qty) for x in out.quarantined] == [("A", 4), ("B", 2)]
    assert [s.reservations for s in out.shortages] == [(r.id,)]
    assert [(x.reservation, x.to) for x in out.resourced] == [(r.id, (("B", 3),))]
    assert inv.on_hand("milk", "A", "quarantine") == 4 and inv.available("milk", "A") == 0
    assert inv.on_hand("milk", "B", lot="BAD") == 2  # still on hand: quarantined
    assert inv.available("milk", "B") == 3  # GOOD 6, 3 held by o1
    assert inv.recall("milk", "BAD").quarantined == ()  # nothing sellable is left
    _ok(inv)


def test_serials_are_lots_of_one_unit_readable_on_the_shipment(make_inventory: Make) -> None:
    inv = _shop(make_inventory())
    inv.receive("phone", "A", 3, serials=["SN1", "SN2", "SN3"])
    assert inv.on_hand("phone", "A", lot="SN2") == 1
    r = inv.hold(Order("o1", channel="web", lines=[Line("phone", 2, "A")]))
    inv.commit(r.id)
    shipped = inv.ship(r.id, key="ship-o1")
    assert [(x.lot, x.qty) for x in shipped.lots] == [("SN1", 1), ("SN2", 1)]
    assert inv.ship(r.id, key="ship-o1").lots == shipped.lots  # the key's first result
    with pytest.raises(errors.InvalidInput, match="already on hand"):
        inv.receive("phone", "B", 1, serials=["SN3"])
    inv.receive("phone", "B", 1, serials=["SN1"])  # shipped, came back in: fine
    _ok(inv)


def test_count_below_the_lots_takes_them_fefo(make_inventory: Make, clock: Clock) -> None:
    inv = _shop(make_inventory())
    _milk(inv, clock)
    inv.receive("milk", "A", 2)  # no lot
    inv.count("milk", "A", 6)  # 4 gone: the soonest expiry first
    assert _lots(inv) == [("A", "L-late", 4), ("A", "", 2)]
    inv.count("milk", "A", 9)  # 3 found: units without a lot
    assert _lots(inv) == [("A", "L-late", 4), ("A", "", 5)]
    _ok(inv)


def test_a_lot_keeps_one_expiry_and_returns_go_back_into_it(
    make_inventory: Make, clock: Clock
) -> None:
    inv = _shop(make_inventory())
    _milk(inv, clock)
    with pytest.raises(errors.InvalidInput, match="expires"):
        inv.receive("milk", "B", 1, lot="L-soon", expires=clock() + timedelta(days=9))
    inv.receive("milk", "B", 1, lot="L-soon", expires=clock() + timedelta(days=2))
    inv.sell("A", [("milk", 2)])
    inv.return_items("A", [("milk", 1)], lot="L-soon")
    assert inv.on_hand("milk", "A", lot="L-soon") == 2
    with pytest.raises(errors.UnknownLot):
        inv.return_items("A", [("milk", 1)], lot="L-nope")
    _ok(inv)


def test_lots_survive_snapshots_and_replay(make_inventory: Make, clock: Clock) -> None:
    inv = _shop(make_inventory())
    _milk(inv, clock)
    t = inv.transfer("milk", "A", "B", 4)  # 3 L-soon and 1 L-late in transit
    st: LedgerState = inv._state
    back = LedgerState.from_bytes(st.to_bytes())
    assert back.digest() == st.digest() and back.violations() == []
    assert back.lots.transit == st.lots.transit
    assert [(lot, n) for lot, _exp, n in st.lots.transit[t.id]] == [("L-soon", 3), ("L-late", 1)]
    inv.receive_transfer(t.id, 1)
    assert _lots(inv, "B") == [("B", "L-soon", 1)]
    _ok(inv)


def test_skus_without_lots_keep_no_books(make_inventory: Make) -> None:
    inv = _shop(make_inventory())
    inv.receive("soap", "A", 5)
    inv.sell("A", [("soap", 1)])
    assert not inv._state.lots and inv.lots("soap") == []
    assert all(e.data is None for e in inv.history() if e.kind in ("received", "sold"))


def test_a_book_opens_over_units_that_had_no_lot(make_inventory: Make, clock: Clock) -> None:
    """Units at a position before its first lot (even oversold ones) are
    units without a lot: the lot received keeps all of its units."""
    inv = _shop(make_inventory())
    inv.receive("milk", "B", 1)
    inv.sell("A", [("milk", 1)])  # oversold: A is at -1
    inv.receive("milk", "A", 2, lot="L1", expires=clock() + timedelta(days=1))
    inv.receive("milk", "B", 2, lot="L1", expires=clock() + timedelta(days=1))
    assert inv.on_hand("milk", "A", lot="L1") == inv.on_hand("milk", "B", lot="L1") == 2
    assert _lots(inv) == [("A", "L1", 2), ("A", "", -1), ("B", "L1", 2), ("B", "", 1)]
    _ok(inv)


def test_a_lotted_sku_with_decimals_answers_in_its_own_units() -> None:
    """Lots of a SKU sold by weight: every lot figure (a ship's, a sale's,
    ``lots()``, a recall's) is a Decimal in kg, as ``on_hand`` is; never
    the ledger's scaled int."""
    from decimal import Decimal

    from omnistock import Sku

    inv = Inventory.open("memory://", clock=Clock(datetime(2026, 3, 1, 9, 0, tzinfo=UTC)))
    inv.add_location(Location("s1"))
    inv.add_sku(Sku("cheese", unit="kg", decimals=3))
    soon = datetime(2026, 3, 4, tzinfo=UTC)
    inv.receive("cheese", "s1", "2.500", lot="C1", expires=soon)
    inv.receive("cheese", "s1", "1.000", lot="C2", expires=soon + timedelta(days=1))
    r = inv.hold(Order("o", lines=[Line("cheese", "0.250", "s1")]))
    inv.commit(r.id)
    assert [(x.lot, x.qty) for x in inv.ship(r.id).lots] == [("C1", Decimal("0.250"))]
    assert [(x.lot, x.qty) for x in inv.sell("s1", [("cheese", "0.100")]).lots] == [
        ("C1", Decimal("0.100"))
    ]
    assert [(x.lot, x.qty) for x in inv.lots("cheese")] == [
        ("C1", Decimal("2.150")),
        ("C2", Decimal("1.000")),
    ]
    assert inv.on_hand("cheese", "s1", lot="C1") == Decimal("2.150")
    got = inv.recall("cheese", "C1")
    assert [(x.location, x.qty) for x in got.quarantined] == [("s1", Decimal("2.150"))]
    assert inv.available("cheese") == Decimal("1.000")
    assert inv.check().ok
