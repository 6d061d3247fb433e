"""Returns-to-store and transfers end to end.

Returns at a store are dispositioned: sellable units restock there (or go on
to the store's ``returns_to`` location when it does not range the SKU),
damaged and inspection units go to unsellable states, write-offs are only
journaled, and a later inspection moves units back to sellable. A transfer
leaves its source now, is in transit (counted by ``promise()``, never in
today's ATP) and arrives with ``receive_transfer``.

Run: ``python examples/returns_and_transfers.py``
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from omnistock import Inventory, Location, Order, Point
from omnistock.fulfilment import Policy


def figures(inv: Inventory, sku: str, loc: str) -> str:
    p = inv.explain(sku, loc).positions[0]
    bad = {k: v for k, v in p.unsellable.items() if v}
    return (
        f"{sku} @ {loc}: on_hand {p.on_hand}, unsellable {bad or 0}, "
        f"available {inv.available(sku, loc)}"
    )


def main() -> None:
    now = [datetime(2026, 11, 23, 9, 0, tzinfo=UTC)]

    def clock() -> datetime:
        return now[0]

    inv = Inventory.open("memory://", clock=clock)
    inv.add_location(Location("dc", kind="dc", point=Point(52.41, -1.51)))
    inv.add_location(Location("bath", point=Point(51.38, -2.36), returns_to="dc"))
    inv.add_location(Location("bristol", point=Point(51.45, -2.59)))
    inv.set_policy(Policy(transfer_hours=36))
    inv.receive("scarf", "bath", 4)
    inv.receive("scarf", "dc", 20)
    inv.receive("lamp", "dc", 10)

    print("== returns at bath")
    inv.return_items("bath", [("scarf", 2)], condition="sellable", order_id="w-100")
    print("sellable  ->", figures(inv, "scarf", "bath"))
    inv.return_items("bath", [("scarf", 1)], condition="damaged", order_id="w-101")
    print("damaged   ->", figures(inv, "scarf", "bath"))
    inv.return_items("bath", [("scarf", 2)], condition="inspection", order_id="w-102")
    print("inspection->", figures(inv, "scarf", "bath"))
    inv.return_items("bath", [("scarf", 1)], condition="write_off", order_id="w-103")
    print("write_off ->", figures(inv, "scarf", "bath"), "(journaled only)")
    inv.change_state("scarf", "bath", 1, to="sellable", from_="inspection")
    inv.change_state("scarf", "bath", 1, to="damaged", from_="inspection")
    print("inspected: 1 back to sellable, 1 damaged ->", figures(inv, "scarf", "bath"))

    print("\n== a sellable lamp returned at bath, which does not range lamps")
    r = inv.return_items("bath", [("lamp", 1)], condition="sellable", order_id="w-104")
    for t in r.transfers:
        print(f"sent on: {t.id} {t.qty} x {t.sku} {t.source} -> {t.destination}, eta {t.eta}")
    print(figures(inv, "lamp", "bath"))

    print("\n== a transfer dc -> bristol")
    t = inv.transfer("scarf", "dc", "bristol", 6, key="xfer-1")
    print(f"{t.id}: {t.qty} x {t.sku} {t.source} -> {t.destination}, eta {t.eta}")
    print(figures(inv, "scarf", "dc"))
    print(figures(inv, "scarf", "bristol"), "(in transit is not in today's ATP)")
    p = inv.promise("scarf", 3, location="bristol")
    print(
        f"promise 3 at bristol: {p.date} (from stock {p.from_stock}, supply "
        f"{[(s.ref, s.qty, s.kind) for s in p.supply]})"
    )
    o = inv.allocate(
        Order("w-200", lines=[("scarf", 3)], ship_to=Point(51.45, -2.59), allow_split=False),
        policy=Policy(exclude=["dc", "bath"]),
    )
    print("ship 3 from bristol today:", o.status, "-", o.reason)
    assert o.trace is not None
    print(o.trace.text())
    print("in transit:", [(x.id, x.destination, x.qty) for x in inv.transfers()])

    now[0] = t.eta + timedelta(hours=1)
    inv.receive_transfer(t.id, qty=5)
    print("\nafter 5 of 6 arrive:", figures(inv, "scarf", "bristol"))
    print("still in transit:", [(x.id, x.qty) for x in inv.transfers()])
    inv.receive_transfer(t.id)
    for x in inv.transfers():
        inv.receive_transfer(x.id)
    print("all in:", figures(inv, "scarf", "bristol"), "|", figures(inv, "lamp", "dc"))
    print(
        "journal of the transfer:",
        [(e.kind, e.location, e.qty) for e in inv.history() if e.ref == t.id],
    )
    report = inv.check()
    print("\nreconciler:", "ok" if report.ok else report)
    assert report.ok


if __name__ == "__main__":
    main()
