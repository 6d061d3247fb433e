"""BOPIS end to end: buy online, pick up in store.

A small London network with an injected clock. Three pickup orders show the
three outcomes of a short pickup store: a transfer in (ready on a date), a
list of nearby stores that can serve the order now, and a refusal with the
reason. Then the transferred units arrive reserved, the shopper collects,
and a no-show's pickup window expires back to stock.

Run: ``python examples/bopis_flow.py``
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from omnistock import Inventory, Location, Order, Point
from omnistock.fulfilment import Policy


def main() -> None:
    now = [datetime(2026, 11, 23, 9, 0, tzinfo=UTC)]

    def clock() -> datetime:
        return now[0]

    inv = Inventory.open("memory://", clock=clock)
    inv.add_location(Location("soho", point=Point(51.513, -0.136)))
    inv.add_location(Location("camden", point=Point(51.539, -0.142)))
    inv.add_location(Location("greenwich", point=Point(51.482, -0.008)))
    inv.add_location(Location("dc-east", kind="dc", point=Point(51.560, 0.120)))
    inv.receive("jacket-m", "soho", 1)
    inv.receive("jacket-m", "camden", 4)
    inv.receive("jacket-m", "dc-east", 50)
    inv.receive("boots-42", "greenwich", 2)
    inv.receive("boots-42", "camden", 1)
    inv.set_policy(
        Policy(bopis_fallback=["transfer", "suggest"], transfer_hours=18, transfer_radius_km=25)
    )

    print("== 1. the pickup store has it: reserved there, now")
    a = inv.allocate(
        Order("web-1", method="pickup", pickup_at="camden", lines=[("jacket-m", 2)]),
        ttl=timedelta(hours=48),
    )
    print(
        a.status,
        [(x.location, x.qty) for x in a.lines],
        "window until",
        a.reservation.expires_at if a.reservation else None,
    )

    print("\n== 2. soho is short (1 of 3): transfer in")
    b = inv.allocate(
        Order("web-2", method="pickup", pickup_at="soho", lines=[("jacket-m", 3)]),
        ttl=timedelta(hours=48),
    )
    print(b.status, "reserved now:", [(x.location, x.qty) for x in b.lines])
    for t in b.transfers:
        print(f"transfer {t.id}: {t.qty} x {t.sku} {t.source} -> {t.destination}, eta {t.eta}")
    print("ready on", b.ready_at)
    print("trace of the transfer source:")
    assert b.trace is not None
    print(b.trace.text())

    print("\n== 3. boots at soho with suggest first: nearby stores that have it")
    inv.set_policy(Policy(bopis_fallback=["suggest"]))
    c = inv.allocate(Order("web-3", method="pickup", pickup_at="soho", lines=[("boots-42", 2)]))
    print(c.status, [(s.location, s.distance_km) for s in c.suggestions])
    print("reason:", c.reason)

    print("\n== 4. nothing anywhere: refused with the reason")
    inv.set_policy(Policy(bopis_fallback=[]))
    d = inv.allocate(Order("web-4", method="pickup", pickup_at="soho", lines=[("boots-42", 5)]))
    print(d.status, "-", d.reason)

    print("\n== 5. the transfer arrives reserved, the shopper collects")
    now[0] = b.ready_at or now[0]
    for t in b.transfers:
        inv.receive_transfer(t.id)
    res = inv.reservation(b.reservation.id if b.reservation else "")
    print("reservation", res.id, res.state, [(x.location, x.qty) for x in res.lines])
    done = inv.collect(res.id)
    print("collected:", done.state, [(x.location, x.qty) for x in done.shipped])
    print("soho on hand:", inv.on_hand("jacket-m", "soho"))

    print("\n== 6. web-1 is a no-show: its 48 h window expires back to stock")
    print("camden available before:", inv.available("jacket-m", "camden"))
    now[0] = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
    print(
        "reservation",
        a.reservation.id if a.reservation else None,
        inv.reservation(a.reservation.id).state if a.reservation else None,
    )
    print("camden available after:", inv.available("jacket-m", "camden"))
    report = inv.check()
    print("\nreconciler:", "ok" if report.ok else report)
    assert report.ok


if __name__ == "__main__":
    main()
