"""POS receipts and offline sync, including the issue's scenario."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from omnistock import Channel, Inventory, Line, Location, Order
from omnistock.channels.pos import PosAdapter, PosTerminal
from omnistock.errors import InvalidInput, PayloadError, StorageError, UnknownSku


def receipt(rid: str, kind: str = "sale", **fields: Any) -> bytes:
    return json.dumps({"receipt_id": rid, "type": kind, **fields}).encode()


def items(*pairs: tuple[str, int]) -> list[dict[str, Any]]:
    return [{"sku": s, "qty": q} for s, q in pairs]


@pytest.fixture
def central(make_inventory: Any) -> Inventory:
    inv: Inventory = make_inventory()
    inv.add_location(Location("S", kind="store"))
    inv.add_location(Location("W", kind="warehouse"))
    inv.add_channel(Channel("web"))
    inv.add_channel(Channel("pos", locations=["S"]))
    inv.receive("A", "S", 5)
    inv.receive("A", "W", 10)
    inv.receive("B", "S", 2)
    return inv


def local_store(tmp_path: Path, clock: Any) -> Inventory:
    try:
        return Inventory.open(f"sqlite:///{tmp_path / 'till.db'}", clock=clock)
    except (ImportError, StorageError):  # the SQLite store not available yet
        return Inventory.open("memory://", clock=clock)


def test_online_receipts(central: Inventory) -> None:
    pos = PosAdapter("t1", "S", channel="pos")
    pos.handle(central, receipt("r1", items=items(("A", 2))))
    assert central.on_hand("A", "S") == 3
    pos.handle(
        central, receipt("r2", "return", items=items(("A", 1)), condition="damaged", order_id="o-7")
    )
    assert central.on_hand("A", "S", "damaged") == 1
    pos.handle(central, receipt("r3", "exchange", returned=items(("A", 1)), items=items(("B", 1))))
    assert (central.on_hand("A", "S"), central.on_hand("B", "S")) == (5, 1)
    head = central.head
    pos.handle(
        central, receipt("r3", "exchange", returned=items(("A", 1)), items=items(("B", 1)))
    )  # printed twice
    assert central.head == head


def test_exchange_is_all_or_nothing(central: Inventory) -> None:
    pos = PosAdapter("t1", "S")
    head = central.head
    with pytest.raises(UnknownSku):
        pos.handle(
            central, receipt("r9", "exchange", returned=items(("A", 1)), items=items(("NOPE", 1)))
        )
    assert central.head == head


@pytest.mark.parametrize(
    "doc, field",
    [
        ({"receipt_id": "r1", "type": "sale"}, "items"),
        ({"receipt_id": "r1", "type": "refund", "items": items(("A", 1))}, "type"),
        ({"receipt_id": "r 1", "type": "sale", "items": items(("A", 1))}, "receipt_id"),
        (
            {"receipt_id": "r1", "type": "sale", "items": items(("A", 1)), "condition": "damaged"},
            "condition",
        ),
        ({"receipt_id": "r1", "type": "exchange", "items": items(("A", 1))}, "returned"),
        (
            {"receipt_id": "r1", "type": "sale", "items": items(("A", 1)), "terminal": "t2"},
            "terminal",
        ),
        ({"receipt_id": "r1", "type": "sale", "items": [{"sku": "A", "qty": "1"}]}, "items[0].qty"),
        (
            {
                "receipt_id": "r1",
                "type": "sale",
                "items": [{"sku": "A", "qty": 1, "location": "W"}],
            },
            "items[0].location",
        ),
    ],
)
def test_receipt_schema(central: Inventory, doc: dict[str, Any], field: str) -> None:
    with pytest.raises(PayloadError) as e:
        PosAdapter("t1", "S").handle(central, json.dumps(doc).encode())
    assert e.value.field == field


def test_offline_scenario(central: Inventory, tmp_path: Path, clock: Any) -> None:
    """Receive 5 at S; the web holds 3 at S; the POS goes offline and sells 4;
    sync; the web reservation is reported for re-sourcing; a second sync
    changes nothing."""
    web_res = central.hold(Order("web-1", channel="web", lines=[Line("A", 3, "S")]), ttl=3600)
    assert central.available("A", "S") == 2
    till = PosTerminal(PosAdapter("t1", "S", channel="pos"), local_store(tmp_path, clock))
    till.seed(central)
    assert till.local.on_hand("A", "S") == 5  # the till knows physical stock, not web holds

    # offline: the central ledger is not touched
    head = central.head
    for i in range(4):
        till.ring(receipt(f"r{i}", items=items(("A", 1))))
    assert central.head == head
    assert till.local.on_hand("A", "S") == 1

    report = till.sync(central)
    assert len(report.applied) == 4 and report.error is None
    assert central.on_hand("A", "S") == 1  # the sales applied as physical truth
    # the ledger names the uncovered reservation (4 sold + 3 held > 5) and the
    # policy re-sources the 2 uncovered units to W in the same commit
    named = {r for s in report.shortages for r in s.reservations}
    assert web_res.id in named
    # the sales sync one receipt at a time: the 3rd and 4th each uncover 1 unit
    assert [(s.sku, s.location, s.qty) for s in report.shortages] == [("A", "S", 1)] * 2
    assert [(m.reservation, m.source, m.qty, m.to, m.missing) for m in report.resourced] == [
        (web_res.id, "S", 1, (("W", 1),), 0)
    ] * 2
    assert report.to_resource == ()
    assert sorted((x.location, x.qty) for x in central.reservation(web_res.id).lines) == [
        ("S", 1),
        ("W", 2),
    ]
    # sold + reserved never exceeds physical stock anywhere now
    for loc in ("S", "W"):
        f = central.explain("A", loc).positions[0]
        assert f.reserved <= f.on_hand

    # a second sync (from the cursor, or from scratch) changes nothing
    digest, head = central.digest(), central.head
    again = till.sync(central)
    assert again.applied == () and again.replayed == ()
    from_zero = till.sync(central, since=0)
    assert from_zero.applied == () and len(from_zero.replayed) == 4
    assert (central.digest(), central.head) == (digest, head)

    assert central.check().ok


class Flaky:
    """A central ledger whose link drops after ``n`` commands."""

    def __init__(self, inv: Inventory, n: int) -> None:
        self._inv, self._n = inv, n

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._inv, name)
        if name not in ("sell", "return_items"):
            return attr

        def call(*a: Any, **k: Any) -> Any:
            if self._n <= 0:
                raise StorageError("network down")
            self._n -= 1
            return attr(*a, **k)

        return call


def test_interrupted_sync_resumes_to_the_same_state(
    make_inventory: Any, tmp_path: Path, clock: Any
) -> None:
    def world() -> Inventory:
        inv: Inventory = make_inventory()
        inv.add_location(Location("S", kind="store"))
        inv.receive("A", "S", 50)
        inv.receive("B", "S", 50)
        return inv

    def till_for(central: Inventory, sub: str) -> PosTerminal:
        (tmp_path / sub).mkdir()
        t = PosTerminal(PosAdapter("t9", "S"), local_store(tmp_path / sub, clock))
        t.seed(central)
        t.ring(receipt("s1", items=items(("A", 2), ("B", 1))))
        t.ring(receipt("s2", "return", items=items(("A", 1)), condition="inspection"))
        t.ring(receipt("s3", "exchange", returned=items(("B", 1)), items=items(("A", 3))))
        t.ring(receipt("s4", items=items(("B", 4))))
        return t

    a, b = world(), world()
    t_a, t_b = till_for(a, "a"), till_for(b, "b")
    full = t_a.sync(a)
    assert full.error is None and len(full.applied) == 5

    first = t_b.sync(Flaky(b, 2))  # type: ignore[arg-type]
    assert first.error is not None and "network down" in first.error
    assert len(first.applied) == 2
    rest = t_b.sync(b)
    assert len(rest.applied) == 3 and rest.replayed == ()
    assert b.digest() == a.digest()
    t_b.sync(b, since=0)  # a full re-run is harmless too
    assert b.digest() == a.digest()


def test_sync_stops_on_a_refused_command(central: Inventory, tmp_path: Path, clock: Any) -> None:
    till = PosTerminal(PosAdapter("t1", "S"), local_store(tmp_path, clock))
    till.seed(central)
    till.local.receive("LOCAL-ONLY", "S", 3)  # a SKU the central ledger has never seen
    till.ring(receipt("x1", items=items(("A", 1))))
    till.ring(receipt("x2", items=items(("LOCAL-ONLY", 1))))
    rep = till.sync(central)
    assert rep.applied == ("pos:t1@S:x1:sale",)
    assert rep.error is not None and "LOCAL-ONLY" in rep.error
    cursor = till.cursor
    assert till.sync(central).cursor == cursor  # it resumes at the refused command


def test_bad_terminal_config() -> None:
    with pytest.raises(InvalidInput):
        PosAdapter("t/1", "S")
