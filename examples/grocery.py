"""A grocer: ham sold by weight, a gift box kit, milk lots that expire and a recall.

Two stores, North and South, sell over the counter and ship web orders.

1. The deli counter sells ham by the kilogram to the gram (a SKU with
   ``decimals=3`` and a ``tray`` pack of 250 g): 12.500 kg arrive, a
   walk-in customer buys 0.742 kg, a web order holds two trays, and ATP
   answers in exact Decimal kilograms.
2. A gift box is a kit of jam, two teas and a card. It has no stock of its
   own: its ATP is what the scarcest component allows (``explain`` names
   it), and a gift box order reserves and ships all components at one store.
3. Milk comes in lots. A sale takes the lot that expires first (FEFO). When
   the clock passes a lot's expiry, the ledger journals ``lot-expired`` and
   ATP drops, with no cron job; a waste report reads it from the feed. A
   supplier then recalls a lot: it is quarantined at every store, and the
   web order it left uncovered is re-sourced to good milk at the other
   store.

The clock is injected, so every expiry happens at a known moment.
Run: ``python examples/grocery.py``
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from omnistock import Channel, Inventory, Line, Location, Order, Point, Sku


def main() -> None:
    now = [datetime(2026, 3, 2, 8, 0, tzinfo=UTC)]  # Monday, 08:00
    inv = Inventory.open("memory://", clock=lambda: now[0])
    inv.add_location(Location("north", point=Point(53.48, -2.24), ships=True))
    inv.add_location(Location("south", point=Point(51.45, -2.59), ships=True))
    inv.add_channel(Channel("web"))
    day = timedelta(days=1)

    # 1. The deli counter: ham by weight.
    print("== Deli counter: ham by the kilogram ==")
    inv.add_sku(Sku("ham", unit="kg", decimals=3, units={"tray": Decimal("0.250")}))
    inv.receive("ham", "north", "12.500")
    print("received 12.500 kg; on hand:", inv.on_hand("ham", "north"), "kg")
    inv.sell("north", [("ham", Decimal("0.742"))])
    print("counter sale of 0.742 kg; on hand:", inv.on_hand("ham", "north"), "kg")
    trays = inv.hold(Order("web-101", "web", [Line("ham", 2, "north", unit="tray")]))
    print("web order web-101 holds 2 trays =", trays.lines[0].qty, "kg")
    ham_atp = inv.available("ham", "north")
    print("ham ATP at north:", ham_atp, "kg  (12.500 - 0.742 sold - 0.500 held)")
    assert ham_atp == Decimal("11.258") and isinstance(ham_atp, Decimal)
    assert trays.lines[0].qty == Decimal("0.500")

    # 2. A gift box kit: jam + 2 teas + a card.
    print("\n== Gift box kit ==")
    for sku, qty in (("jam", 10), ("tea", 7), ("card", 20)):
        inv.receive(sku, "north", qty)
    inv.add_kit("giftbox", {"jam": 1, "tea": 2, "card": 1})
    ex = inv.explain("giftbox", "north")
    print("stock at north: jam 10, tea 7, card 20")
    print("gift boxes we can sell at north:", ex.available)
    print(ex.kit[0])  # each component's ATP and the kits it allows
    assert ex.available == 3 and ex.limiting == "tea"
    box = inv.hold(Order("web-102", "web", [Line("giftbox", 2, "north")]))
    print("web-102 holds gift boxes:", [(k.sku, k.location, k.qty) for k in box.kits])
    print("  as components:", sorted((x.sku, x.location, x.qty) for x in box.lines))
    inv.commit(box.id)
    shipped = inv.ship(box.id)
    print("shipped:", sorted((x.sku, x.qty) for x in shipped.shipped), "->", shipped.state)
    left = inv.explain("giftbox")
    print(f"gift boxes left: {left.available} (limited by {left.limiting})")
    assert {x.location for x in box.lines} == {"north"}
    assert inv.available("giftbox") == 1 and inv.on_hand("tea", "north") == 3

    # 3. Milk lots: first expiry first out, then expiry by the clock.
    print("\n== Milk lots ==")
    m0308 = now[0] + 6 * day
    inv.receive("milk", "north", 12, lot="M-0308", expires=m0308)
    inv.receive("milk", "north", 6, lot="M-0305", expires=now[0] + 3 * day)
    for x in inv.lots("milk"):
        print(f"  lot {x.lot} at {x.location}: {x.qty} units, expires {x.expires:%a %d %b}")
    sale = inv.sell("north", [("milk", 4)])
    print("sold 4 pints, taken from:", [(x.lot, x.qty) for x in sale.lots])
    assert [(x.lot, x.qty) for x in sale.lots] == [("M-0305", 4)]
    print("milk ATP at north:", inv.available("milk", "north"))

    inv.ack("waste-report", inv.head)  # a waste report reads the journal's feed from here
    now[0] += 3 * day + timedelta(hours=1)  # Thursday 09:00: M-0305 is past its date
    atp = inv.available("milk", "north")  # any read or command expires due lots
    print(f"\n{now[0]:%a %H:%M}: milk ATP at north:", atp)
    feed = inv.feed("waste-report")  # what happened since the last ack
    for e in feed:  # the ham hold's TTL ran out too: the clock expires both
        lot = f" lot {e.data['lot']}" if e.data and "lot" in e.data else ""
        print(f"  feed #{e.seq} {e.kind}: {e.sku} {e.qty}{lot} at {e.location}")
    inv.ack("waste-report", feed[-1].seq)
    waste = [e for e in feed if e.kind == "lot-expired"]
    print("  still on the shelf (to write off):", inv.on_hand("milk", "north", "expired"))
    assert atp == 12 and inv.on_hand("milk", "north", lot="M-0305") == 2
    assert [(e.kind, e.data["lot"]) for e in waste] == [("lot-expired", "M-0305")]
    assert inv.reservation(trays.id).state == "expired"  # the ham hold lapsed meanwhile
    assert [e.data["lot"] for e in inv.history(kind="lot-expired")] == ["M-0305"]

    # 4. A recall: lot M-0308 is recalled by the dairy.
    print("\n== Recall of lot M-0308 ==")
    inv.receive("milk", "south", 5, lot="M-0308", expires=m0308)  # a lot has one expiry
    inv.receive("milk", "north", 8, lot="M-0311", expires=now[0] + 6 * day)
    order = inv.hold(Order("web-103", "web", [Line("milk", 3, "south")]))
    inv.commit(order.id)
    print("web-103 holds 3 pints at south (lot M-0308 is all south has)")
    out = inv.recall("milk", "M-0308")
    for x in out.quarantined:
        print(f"  quarantined {x.qty} of {x.lot} at {x.location}")
    for s in out.shortages:
        print(f"  uncovered: {s.qty} at {s.location}, reservations {list(s.reservations)}")
    for r in out.resourced:
        print(f"  re-sourced {r.reservation}: {r.qty} from {r.source} -> {list(r.to)}")
    after = inv.reservation(order.id)
    print("web-103 now:", [(x.sku, x.location, x.qty) for x in after.lines])
    north, south = inv.available("milk", "north"), inv.available("milk", "south")
    print(f"milk ATP: north {north} (M-0311 8, 3 held) | south {south}")
    assert sorted((x.location, x.qty) for x in out.quarantined) == [("north", 12), ("south", 5)]
    assert [s.reservations for s in out.shortages] == [(order.id,)]
    assert [(x.location, x.qty) for x in after.lines] == [("north", 3)]
    assert inv.on_hand("milk", "north", "quarantine") == 12
    assert inv.available("milk", "south") == 0 and inv.available("milk", "north") == 5

    report = inv.check()
    print("\ncheck:", report)
    assert report.ok, report.problems


if __name__ == "__main__":
    main()
