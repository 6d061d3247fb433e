"""Issue 13 item 12: an offline POS never loses a sale.

- ``PosTerminal.seed()`` never moves the sync cursor past unsynced sales,
  and a re-seed keeps what the till sold since in its local figures;
- a till rings a SKU it was never seeded with (a sale is physical truth):
  it is recorded offline, sent on sync, and the central ledger reports what
  it leaves short;
- a POS sale at a location with ``sells=False`` is refused with a typed
  error naming the location, and nothing is written.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from omnistock import Channel, Inventory, Line, Location, Order
from omnistock.channels.pos import PosAdapter, PosTerminal
from omnistock.errors import InvalidInput, UnknownLocation
from omnistock.values import Shortage


def receipt(rid: str, kind: str = "sale", **fields: Any) -> bytes:
    return json.dumps({"receipt_id": rid, "type": kind, **fields}).encode()


def items(*pairs: tuple[str, int]) -> list[dict[str, Any]]:
    return [{"sku": s, "qty": q} for s, q in pairs]


@pytest.fixture(params=["memory", "sqlite"])
def central(request: pytest.FixtureRequest, make_inventory: Any, tmp_path: Path) -> Inventory:
    url = "memory://" if request.param == "memory" else f"sqlite:///{tmp_path / 'central.db'}"
    inv: Inventory = make_inventory(url)
    inv.add_location(Location("W", kind="warehouse"))
    inv.add_location(Location("S", kind="store", returns_to="W"))
    inv.add_location(Location("SHOWROOM", kind="store", sells=False))
    inv.add_location(Location("NORETURNS", kind="store", accepts_returns=False))
    inv.add_channel(Channel("web"))
    inv.add_channel(Channel("pos", locations=["S"]))
    inv.receive("A", "S", 5)
    inv.receive("B", "S", 2)
    inv.receive("B", "W", 10)
    inv.receive("A", "SHOWROOM", 3)
    inv.receive("A", "NORETURNS", 3)
    return inv


@pytest.fixture
def till(make_inventory: Any, tmp_path: Path) -> PosTerminal:
    local: Inventory = make_inventory(f"sqlite:///{tmp_path / 'till.db'}")
    return PosTerminal(PosAdapter("t1", "S", channel="pos"), local)


def test_seed_keeps_unsynced_sales_for_the_next_sync(central: Inventory, till: PosTerminal) -> None:
    """The issue's case: sales rung offline, then a (re-)seed, then a sync.
    The seed used to move the cursor past the sales, so the sync sent
    nothing and the central ledger stayed overstated for ever."""
    till.seed(central)
    till.ring(receipt("r1", items=items(("A", 2))))
    till.ring(receipt("r2", items=items(("A", 1), ("B", 1))))
    assert central.on_hand("A", "S") == 5  # offline: nothing sent yet

    till.seed(central)  # e.g. the morning refresh, network still flaky
    # the till's figures still count its own unsynced sales
    assert (till.local.on_hand("A", "S"), till.local.on_hand("B", "S")) == (2, 1)

    report = till.sync(central)
    assert report.error is None and len(report.applied) == 2
    assert (central.on_hand("A", "S"), central.on_hand("B", "S")) == (2, 1)
    # a second sync and a sync from scratch change nothing
    digest = central.digest()
    assert till.sync(central).applied == ()
    assert len(till.sync(central, since=0).replayed) == 2
    assert central.digest() == digest
    assert central.check().ok


def test_seed_counts_unsynced_sellable_returns(central: Inventory, till: PosTerminal) -> None:
    till.seed(central)
    till.ring(receipt("r1", "return", items=items(("A", 2))))
    till.ring(receipt("r2", "return", items=items(("A", 1)), condition="damaged"))
    till.seed(central)
    assert till.local.on_hand("A", "S", "sellable") == 7  # 5 central + 2 sellable back
    till.sync(central)
    assert central.on_hand("A", "S") + central.on_hand("A", "W") >= 7


def test_seed_advances_the_cursor_when_nothing_is_unsynced(
    central: Inventory, till: PosTerminal
) -> None:
    till.seed(central)
    first = till.cursor
    assert first == till.local.head
    till.ring(receipt("r1", items=items(("A", 1))))
    till.sync(central)
    till.seed(central)
    assert till.cursor == till.local.head  # caught up: the seed rows are skipped


def test_a_till_rings_a_sku_it_was_never_seeded_with(central: Inventory, till: PosTerminal) -> None:
    till.seed(central, skus=["A"])  # B was not seeded (or arrived later)
    till.ring(receipt("r1", items=items(("B", 3))))  # the customer is at the till with 3
    assert till.local.on_hand("B", "S") == -3  # recorded: the till learnt B below zero
    report = till.sync(central)
    assert report.error is None and report.applied == ("pos:t1@S:r1:sale",)
    assert central.on_hand("B", "S") == -1  # 2 known there, 3 sold
    assert report.negative_stock == (Shortage("B", "S", 1, ()),)


def test_an_unseeded_sale_reports_the_reservations_it_uncovers(
    central: Inventory, till: PosTerminal
) -> None:
    web = central.hold(Order("w-1", channel="web", lines=[Line("B", 2, "S")]), ttl=3600)
    till.seed(central, skus=["A"])
    till.ring(receipt("r1", items=items(("B", 1))))
    report = till.sync(central)
    assert report.error is None
    assert web.id in {r for s in report.shortages for r in s.reservations}
    assert central.check().ok


def test_a_sku_received_centrally_after_the_seed(central: Inventory, till: PosTerminal) -> None:
    till.seed(central)
    central.receive("NEW", "S", 4)  # arrives on the shelf; the till was not re-seeded
    till.ring(receipt("r1", items=items(("NEW", 1))))
    assert till.sync(central).negative_stock == ()
    assert central.on_hand("NEW", "S") == 3


def test_a_sku_the_central_ledger_never_heard_of_waits_and_is_not_lost(
    central: Inventory, till: PosTerminal
) -> None:
    till.seed(central)
    till.ring(receipt("r1", items=items(("GHOST", 1))))
    till.ring(receipt("r2", items=items(("A", 1))))
    first = till.sync(central)
    assert first.error is not None and "GHOST" in first.error
    assert central.on_hand("A", "S") == 5  # it stops in order, at the refused sale
    central.receive("GHOST", "W", 1)  # the catalogue learns it
    second = till.sync(central)
    assert second.error is None and len(second.applied) == 2
    assert (central.on_hand("GHOST", "S"), central.on_hand("A", "S")) == (-1, 4)
    assert second.negative_stock == (Shortage("GHOST", "S", 1, ()),)


def test_a_store_with_returns_to_can_be_seeded(central: Inventory, till: PosTerminal) -> None:
    """S sends returns to W; the till holds only S, so its copy keeps the
    returns local and the central ledger routes them on sync."""
    assert till.seed(central) == len(central.skus)
    till.ring(receipt("r1", "return", items=items(("A", 1))))
    assert till.sync(central).error is None


@pytest.mark.parametrize(
    ("location", "doc"),
    [
        ("SHOWROOM", {"type": "sale", "items": items(("A", 1))}),
        ("SHOWROOM", {"type": "exchange", "returned": items(("A", 1)), "items": items(("A", 1))}),
        ("NORETURNS", {"type": "return", "items": items(("A", 1))}),
        ("NORETURNS", {"type": "exchange", "returned": items(("A", 1)), "items": items(("A", 1))}),
    ],
)
def test_a_location_that_does_not_sell_or_take_returns_refuses(
    central: Inventory, location: str, doc: dict[str, Any]
) -> None:
    pos = PosAdapter("t1", location)
    digest, head = central.digest(), central.head
    with pytest.raises(InvalidInput) as e:
        pos.handle(central, json.dumps({"receipt_id": "r1", **doc}).encode())
    assert e.value.field == "location" and location in str(e.value)
    assert (central.digest(), central.head) == (digest, head)


def test_an_offline_till_at_a_showroom_refuses_sales(
    central: Inventory, make_inventory: Any, tmp_path: Path
) -> None:
    t = PosTerminal(PosAdapter("t1", "SHOWROOM"), make_inventory())
    t.seed(central)
    head = t.local.head
    with pytest.raises(InvalidInput) as e:
        t.ring(receipt("r1", items=items(("A", 1))))
    assert "sells=False" in str(e.value)
    with pytest.raises(InvalidInput):  # nor a SKU it never saw
        t.ring(receipt("r2", items=items(("NEVER", 1))))
    assert t.local.head == head


def test_seeding_an_unknown_location_is_typed(central: Inventory, make_inventory: Any) -> None:
    t = PosTerminal(PosAdapter("t1", "NOWHERE"), make_inventory())
    with pytest.raises(UnknownLocation):
        t.seed(central)
