"""Backorders and preorders: sell what is coming, keep every promise once.

A console launches next month: the web channel takes preorders against
the purchase order (capped at 3 per SKU on the app). A headphone order is
split between the units on the shelf and a PO. The headphone PO is late
(re-dated): its backorder moves to a sooner PO. The console PO is then
cancelled: its preorders move to a replacement delivery, oldest first, and
the one nothing can serve is reported short. The replacement arrives in
two receipts, each converting backorders in the order they were taken.

Run: ``python examples/backorders.py``
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from omnistock import Channel, Inventory, Line, Location, Order, errors


def show(inv: Inventory, rid: str) -> list[tuple[str, int, str]]:
    """A reservation's lines: sku, units, and on hand or the ETA awaited."""
    return [
        (x.sku, x.qty, "on hand" if x.eta is None else f"due {x.eta:%b %d}")
        for x in inv.reservation(rid).lines
    ]


def main() -> None:
    now = [datetime(2026, 3, 2, 9, 0, tzinfo=UTC)]
    inv = Inventory.open("memory://", clock=lambda: now[0])
    inv.add_location(Location("dc", kind="dc"))
    inv.add_channel(Channel("web"))
    inv.add_channel(Channel("app", preorder_cap=3))
    day = timedelta(days=1)

    # 1. A preorder on a SKU with no stock yet.
    console_po = inv.expect("CONSOLE", "dc", 6, eta=now[0] + 30 * day, ref="PO-100/1")
    pre1 = inv.hold(Order("pre-1", "web", [Line("CONSOLE", 2, "dc")], backorder=True))
    inv.commit(pre1.id)  # paid: it waits past its hold's TTL
    pre2 = inv.hold(Order("pre-2", "app", [Line("CONSOLE", 2, "dc")], backorder=True))
    inv.commit(pre2.id)
    print("preorder 1:", show(inv, pre1.id))
    print("2 more consoles by:", inv.promise("CONSOLE", 2).date)  # what is left of the PO
    print("3 more consoles by:", inv.promise("CONSOLE", 3).date)  # never a promised unit
    try:
        inv.hold(Order("pre-3", "app", [Line("CONSOLE", 2, "dc")], backorder=True))
    except errors.InsufficientStock as exc:
        print("app preorder over its cap refused; available:", exc.available)

    # 2. A backordered line split between stock and a PO.
    inv.receive("HEADPHONES", "dc", 1)
    late_po = inv.expect("HEADPHONES", "dc", 5, eta=now[0] + 5 * day)
    order = Order("web-7", "web", [("HEADPHONES", 3)], backorder=True)
    alloc = inv.allocate(order, key="checkout-7")
    assert alloc.reservation is not None
    rid = inv.commit(alloc.reservation.id).id
    print("split order:", show(inv, rid))

    # 3. The PO is late; a sooner delivery takes the backorder.
    inv.expect("HEADPHONES", "dc", 2, eta=now[0] + 8 * day)
    moved = inv.redate(late_po, now[0] + 20 * day)
    print("late PO re-dated, moved:", [(r.reservation, r.backorders) for r in moved.resourced])
    print("split order now:", show(inv, rid))
    try:
        inv.ship(rid)
    except errors.AwaitingSupply as exc:
        print("ship refused:", exc.reason)
    inv.ship(rid, lines=[("HEADPHONES", 1)])  # what is on the shelf goes now

    # 4. The console PO is cancelled; a smaller replacement is booked.
    replacement = inv.expect("CONSOLE", "dc", 3, eta=now[0] + 40 * day, ref="PO-120/1")
    out = inv.cancel_expected(console_po)
    for r in out.resourced:  # newest first
        print(f"  {r.reservation}: {r.qty} moved {r.backorders}, short {r.missing}")
    print("preorder 1:", show(inv, pre1.id), "| preorder 2:", show(inv, pre2.id))

    # 5. The replacement arrives in two receipts, converting in order.
    now[0] += 41 * day
    inv.receive("CONSOLE", "dc", 2, ref=replacement)
    print("after 2 arrive:", show(inv, pre1.id), show(inv, pre2.id))
    inv.receive("CONSOLE", "dc", 1, ref=replacement)
    print("after 1 more:  ", show(inv, pre1.id), show(inv, pre2.id))
    print("converted:", [(e.ref, e.qty) for e in inv.history(kind="backorder-filled")])
    report = inv.check()
    assert report.ok, report
    print(report)


if __name__ == "__main__":
    main()
