"""Ship-from-store end to end: stores ship web orders alongside a DC.

Shows the default policy (fewest splits, then closest, then priority) with
its trace, store safety stock kept for walk-in shoppers, daily pick capacity
spilling to the next store and resetting the next day, a store rejecting a
line (not found, damaged, mismatch) with its inventory effect and the line
re-sourced, and a walk-in sale whose shortage is re-sourced newest first.

Run: ``python examples/ship_from_store.py``
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from omnistock import Inventory, Location, Order, Point

HOME = Point(53.480, -2.243)  # the shopper, central Manchester
DAYS = timedelta(days=3)  # hold long enough to span the example's two days


def figures(inv: Inventory, sku: str, loc: str) -> str:
    p = inv.explain(sku, loc).positions[0]
    bad = sum(p.unsellable.values())
    return (
        f"{loc}: on_hand {p.on_hand}, unsellable {bad}, reserved {p.reserved}, "
        f"safety {p.safety}, available {inv.available(sku, loc)}"
    )


def main() -> None:
    now = [datetime(2026, 11, 23, 9, 0, tzinfo=UTC)]

    def clock() -> datetime:
        return now[0]

    inv = Inventory.open("memory://", clock=clock)
    inv.add_location(Location("mcr-arndale", point=Point(53.483, -2.240), daily_capacity=2))
    inv.add_location(Location("mcr-trafford", point=Point(53.467, -2.348), priority=1))
    inv.add_location(Location("stockport", point=Point(53.408, -2.149)))
    inv.add_location(Location("dc-north", kind="dc", point=Point(53.800, -1.550)))
    for loc, q in (("mcr-arndale", 6), ("mcr-trafford", 5), ("stockport", 5), ("dc-north", 100)):
        inv.receive("mug", loc, q)
    inv.receive("tea", "dc-north", 40)
    inv.receive("tea", "stockport", 3)
    inv.set_safety("mug", "mcr-arndale", 2)  # kept for walk-in shoppers
    print("policy:", inv.policy.preferences)

    print("\n== 1. mug + tea: one parcel from stockport beats two from the nearest store")
    a = inv.allocate(Order("web-1", lines=[("mug", 1), ("tea", 1)], ship_to=HOME))
    print(a.status, [(x.sku, x.location, x.qty) for x in a.lines])
    assert a.trace is not None
    print(a.trace.text())

    print("\n== 2. safety stock: arndale has 6, safety 2, so 4 may ship")
    b = inv.allocate(Order("web-2", lines=[("mug", 5)], ship_to=HOME, allow_split=False))
    print("5 mugs ->", b.status, [(x.location, x.qty) for x in b.lines])
    print(figures(inv, "mug", "mcr-arndale"))

    print("\n== 3. capacity: arndale picks 2 orders a day (web-1 did not use it)")
    for i in (3, 4, 5):
        c = inv.allocate(Order(f"web-{i}", lines=[("mug", 1)], ship_to=HOME), ttl=DAYS)
        print(f"web-{i} ->", [(x.location, x.qty) for x in c.lines])
    assert c.trace is not None
    t = c.trace.get("mcr-arndale")
    print("web-5 trace for arndale:", t.reason, "-", t.detail)
    now[0] = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
    d = inv.allocate(Order("web-6", lines=[("mug", 1)], ship_to=HOME), ttl=DAYS)
    print("next day, web-6 ->", [(x.location, x.qty) for x in d.lines])

    print("\n== 4. rejections: each has its effect, then the line is re-sourced")
    for rid, reason in (("web-3#1", "not_found"), ("web-4#1", "damaged"), ("web-6#1", "mismatch")):
        before = inv.reservation(rid).lines[0]
        r = inv.reject(rid, "mug", reason)
        print(
            f"{rid} rejected at {before.location} ({reason}) -> {r.status}, now at",
            [(x.location, x.qty) for x in r.lines],
        )
        print("   ", figures(inv, "mug", before.location))
    assert r.trace is not None
    print("trace of the last re-sourcing:")
    print(r.trace.text())

    print("\n== 5. a walk-in sale at stockport leaves reservations uncovered")
    print("before:", figures(inv, "mug", "stockport"))
    held = [
        x.id
        for x in inv.reservations("held")
        if any(ln.location == "stockport" and ln.sku == "mug" for ln in x.lines)
    ]
    print("held there:", held)
    sale = inv.sell("stockport", [("mug", inv.on_hand("mug", "stockport"))])
    for s in sale.shortages:
        print(f"shortage: {s.qty} x {s.sku} at {s.location}, newest first {s.reservations}")
    for x in sale.resourced:
        print(f"  {x.reservation}: {x.qty} re-sourced to {x.to}, missing {x.missing}")
    print("after:", figures(inv, "mug", "stockport"))
    report = inv.check()
    print("\nreconciler:", "ok" if report.ok else report)
    assert report.ok


if __name__ == "__main__":
    main()
