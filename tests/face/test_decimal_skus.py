"""SKUs with units: decimal quantities (a deli counter sold by weight) and
pack units (cases), converted at the face; the ledger keeps scaled ints."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from omnistock import Channel, Inventory, Line, Location, Order, Sku, errors

HAM = Sku("ham", unit="kg", decimals=3, units={"half": Decimal("0.5")})
COLA = Sku("cola", units={"case": 12})


def _deli(inv: Inventory) -> Inventory:
    inv.add_location(Location("s1"))
    inv.add_location(Location("w1", kind="warehouse"))
    inv.add_channel(Channel("web", buffer=0))
    inv.add_sku(HAM)
    inv.add_sku(COLA)
    return inv


def test_main_flow_on_every_store(make_inventory: Callable[..., Inventory], store_url: str) -> None:
    inv = _deli(make_inventory(store_url))
    inv.receive("ham", "s1", "10.250")
    inv.receive("ham", "w1", Decimal("2"))
    inv.receive("cola", "s1", 5, key="r-cola")
    inv.receive("plain", "s1", 7)
    r = inv.hold(
        Order("o1", channel="web", lines=[Line("ham", Decimal("1.5"), "s1"), Line("cola", 2, "s1")])
    )
    assert [x.qty for x in r.lines] == [Decimal("1.500"), 2]
    assert inv.available("ham", "s1") == Decimal("8.750")
    assert isinstance(inv.available("cola"), int) and inv.available("cola") == 3
    assert inv.available("plain") == 7 and type(inv.available("plain")) is int
    inv.sell("s1", [("ham", "0.125")])
    assert inv.on_hand("ham", "s1") == Decimal("10.125")
    inv.commit(r.id)
    shipped = inv.ship(r.id, lines=[("ham", Decimal("0.5"))])
    assert shipped.shipped[0].qty == Decimal("0.500")
    assert inv.reservation(r.id).lines[0].qty == Decimal("1.000")
    t = inv.transfer("ham", "w1", "s1", "0.750")
    assert t.qty == Decimal("0.750")
    inv.receive_transfer(t.id, "0.250")
    assert inv.on_hand("ham", "s1") == Decimal("9.875")
    inv.set_safety("ham", "s1", "0.5")
    ex = inv.explain("ham", channel="web")
    # s1: 9.875 on hand - 1.000 reserved - 0.500 safety; w1: 1.250 left
    assert ex.available == inv.available("ham", channel="web") == Decimal("9.625")
    assert ex.positions[0].safety == Decimal("0.500")
    assert [e.qty for e in inv.history(sku="ham", kind="sold")] == [Decimal("0.125")]
    assert inv.catalogue == {"ham": HAM, "cola": COLA}
    assert inv.check().ok


def test_deli_counter_by_weight_and_pack_units(make_inventory: Callable[..., Inventory]) -> None:
    inv = _deli(make_inventory())
    inv.receive("ham", "s1", "5.000")
    inv.sell("s1", [Line("ham", 2, unit="half")])  # two halves: 1 kg
    assert inv.available("ham") == Decimal("4.000")
    inv.receive("cola", "s1", 1)
    inv.receive("cola", "s1", 24)
    held = inv.hold(Order("c", lines=[Line("cola", 2, "s1", unit="case")]))
    assert held.lines[0].qty == 24  # 2 cases of 12, in base units
    assert inv.available("cola") == 1
    ret = inv.return_items("s1", [Line("ham", "0.25")])
    assert ret.seq == inv.head
    assert inv.available("ham") == Decimal("4.250")
    inv.count("ham", "s1", "3.5")
    assert inv.on_hand("ham", "s1") == Decimal("3.500")
    assert inv.promise("ham", "1.2").from_stock == Decimal("1.200")
    assert inv.check().ok


def test_amend_release_and_thresholds_take_decimals(
    make_inventory: Callable[..., Inventory], clock: Callable[[], datetime]
) -> None:
    inv = _deli(make_inventory())
    inv.receive("ham", "s1", "10")
    r = inv.hold(Order("o", lines=[Line("ham", "2.5", "s1")]))
    a = inv.amend(r.id, [Line("ham", "3.25", "s1")])
    assert a.reservation is not None and a.reservation.lines[0].qty == Decimal("3.250")
    after = inv.release(r.id, lines=[("ham", "0.25")])
    assert after.lines[0].qty == Decimal("3.000")
    inv.resize(r.id, [Line("ham", "1", "s1")])
    assert inv.available("ham") == Decimal("9.000")
    inv.set_threshold("ham", low="9.5")
    assert inv.thresholds() == {("ham", None): Decimal("9.500")}
    [alert] = inv.alerts()
    assert (alert.low, alert.atp) == (Decimal("9.500"), Decimal("9.000"))
    po = inv.expect("ham", "s1", "1.5", eta=clock() + timedelta(days=2))
    assert po
    p = inv.promise("ham", "10")  # 9 kg from stock, the last 1 kg from the PO
    assert (p.from_stock, p.supply[0].qty) == (Decimal("9.000"), Decimal("1.000"))
    assert inv.check().ok


def test_decimal_figures_only_for_decimal_skus(make_inventory: Callable[..., Inventory]) -> None:
    inv = _deli(make_inventory())
    inv.receive("cola", "s1", 3)
    inv.receive("ham", "s1", 3)  # an int for a SKU with decimals is whole kg
    assert inv.available("ham") == Decimal("3.000")
    assert type(inv.available("cola")) is int
    assert type(inv.history(sku="cola")[-1].qty) is int
    assert inv.history(sku="ham")[-1].qty == Decimal("3.000")


def test_redeclaring_and_changing_a_sku(make_inventory: Callable[..., Inventory]) -> None:
    inv = _deli(make_inventory())
    head = inv.head
    assert inv.add_sku(Sku("ham", unit="kg", decimals=3, units={"half": "0.500"})) == HAM
    assert inv.head == head  # the same entry: nothing journaled
    inv.receive("ham", "s1", "1")
    more = Sku("ham", unit="kg", decimals=3, units={"half": "0.5", "slice": "0.025"})
    inv.add_sku(more)  # units may be added after stock moved
    inv.sell("s1", [Line("ham", 4, unit="slice")])
    assert inv.available("ham") == Decimal("0.900")
    with pytest.raises(errors.InvalidInput, match="decimals=2"):
        inv.add_sku(Sku("ham", unit="kg", decimals=2))
    inv.receive("plain", "s1", 1)  # an undeclared SKU with rows counts as 0 decimals
    with pytest.raises(errors.InvalidInput, match="decimals=1"):
        inv.add_sku(Sku("plain", decimals=1))
    inv.add_sku(Sku("plain", units={"pack": 6}))  # same decimals: allowed
    inv.add_sku(Sku("new", decimals=2))  # no rows yet: decimals may still change
    inv.add_sku(Sku("new", decimals=1))
    assert inv.catalogue["new"].decimals == 1
    assert inv.check().ok


def test_reopened_sqlite_and_a_second_process_see_the_sku(
    make_inventory: Callable[..., Inventory], tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'deli.db'}"
    one = _deli(make_inventory(url))
    other = make_inventory(url)
    one.receive("ham", "s1", "1.250")
    assert other.available("ham") == Decimal("1.250")
    other.sell("s1", [("ham", "0.250")])  # a string: the catalogue is looked up again
    one.snapshot()
    one.close()
    again = make_inventory(url)
    assert again.catalogue["ham"] == HAM
    assert again.available("ham") == Decimal("1.000")
    assert again.check().ok


def test_undeclared_skus_and_batches_stay_integer(make_inventory: Callable[..., Inventory]) -> None:
    from omnistock import HoldBatch

    inv = _deli(make_inventory())
    inv.receive("ham", "s1", 5)
    with pytest.raises(errors.InvalidQuantity):
        inv.receive("plain", "s1", Decimal("1"))  # undeclared: ints only, as ever
    with pytest.raises(errors.InvalidInput, match="sku='ham'"):
        inv.hold_many(HoldBatch(["b"], ["ham"], ["s1"], [1]))


@st.composite
def _steps(draw: st.DrawFn) -> list[tuple[str, Decimal]]:
    amount = st.integers(1, 5000).map(lambda n: Decimal(n).scaleb(-3))
    ops = st.tuples(st.sampled_from(["receive", "sell", "hold", "release"]), amount)
    return draw(st.lists(ops, max_size=25))


@settings(max_examples=60, deadline=None)
@given(steps=_steps())
def test_decimal_arithmetic_equals_decimal_model(steps: list[tuple[str, Decimal]]) -> None:
    inv = Inventory.open("memory://")
    inv.add_location(Location("s1"))
    inv.add_sku(HAM)
    inv.receive("ham", "s1", "0.001")  # the SKU is known (selling an unknown SKU is refused)
    on_hand, reserved = Decimal("0.001"), Decimal(0)
    holds: list[tuple[str, Decimal]] = []
    for i, (op, q) in enumerate(steps):
        if op == "receive":
            inv.receive("ham", "s1", q)
            on_hand += q
        elif op == "sell":
            inv.sell("s1", [("ham", str(q))])
            on_hand -= q
        elif op == "hold":
            if on_hand - reserved >= q:
                r = inv.hold(Order(f"o{i}", lines=[Line("ham", q, "s1")]))
                holds.append((r.id, q))
                reserved += q
            else:
                with pytest.raises(errors.InsufficientStock):
                    inv.hold(Order(f"o{i}", lines=[Line("ham", q, "s1")]))
        elif holds:
            rid, hq = holds.pop(0)
            inv.release(rid)
            reserved -= hq
        assert inv.on_hand("ham", "s1") == on_hand
        assert inv.available("ham", "s1") == max(Decimal(0), on_hand - reserved)
    assert inv.check().ok


def test_channel_feeds_carry_decimal_figures(make_inventory: Callable[..., Inventory]) -> None:
    import json

    from omnistock.channels.marketplace import MarketplaceAdapter

    inv = _deli(make_inventory())
    inv.add_channel(Channel("marketplace", buffer=0))
    inv.receive("ham", "s1", "1.250")
    inv.receive("cola", "s1", 4)
    feed = MarketplaceAdapter().full(inv)
    assert feed.as_dict() == {"ham": Decimal("1.250"), "cola": 4}
    items = {i["sku"]: i["quantity"] for i in json.loads(feed.to_json())["items"]}
    assert items == {"ham": "1.250", "cola": 4}
    [*changes] = inv.availability("c1", "web")
    assert {c.sku: c.available for c in changes} == {"ham": Decimal("1.250"), "cola": 4}


def test_allocate_and_hold_many_take_decimal_lines(
    make_inventory: Callable[..., Inventory],
) -> None:
    inv = _deli(make_inventory())
    inv.receive("ham", "w1", "0.400")
    inv.receive("ham", "s1", "3")
    a = inv.allocate(Order("a1", channel="web", lines=[("ham", "2.5")]))
    assert a.status == "allocated" and a.reservation is not None
    assert sum(x.qty for x in a.lines) == Decimal("2.500")
    assert all(isinstance(x.qty, Decimal) for x in a.reservation.lines)
    got = inv.hold_many(
        [Order("m1", lines=[Line("ham", "0.4", "w1")]), Order("m2", lines=[("ham", 1, "s1")])]
    )
    assert [r.lines[0].qty for r in got if not isinstance(r, Exception)] == [
        Decimal("0.400")
    ]  # m2: 1 kg more than s1 has left (0.5 kg): refused
    assert isinstance(got[1], errors.InsufficientStock)
    [w] = inv.allocate_many([Order("w", channel="web", lines=[("ham", "0.5")])])
    assert w.status == "allocated" and w.lines[0].qty == Decimal("0.500")
    assert inv.available("ham") == Decimal("0")
    assert inv.check().ok


def test_a_declaration_another_process_made_meanwhile_is_never_misread(
    make_inventory: Callable[..., Inventory], tmp_path: Path
) -> None:
    """B converts a plain int for ham as whole units of an undeclared SKU;
    A declared ham with 3 decimals meanwhile. B's command is refused
    (nothing written) when it plans on a ledger holding the declaration;
    the retry converts by it."""
    url = f"sqlite:///{tmp_path / 'race.db'}"
    a, b = make_inventory(url), make_inventory(url)
    a.add_location(Location("s1"))
    b.refresh()
    a.add_sku(HAM)
    head = a.head
    with pytest.raises(errors.ConcurrencyConflict, match="sku='ham'"):
        b.receive("ham", "s1", 5)
    assert a.refresh() == head
    b.receive("ham", "s1", 5)
    assert a.available("ham") == b.available("ham") == Decimal("5.000")
    assert a.check().ok
