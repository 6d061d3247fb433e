"""Order changes after checkout: amend a paid order, cancel part of it, ship
the rest.

A web order for two T-shirts and a cap is allocated and paid. The shopper
adds a scarf (sourced by the policy: the trace says where and why), drops
the cap, then cancels one T-shirt; the warehouse ships what is left and the
order is fulfilled. Each change is keyed, so a retried webhook changes
nothing twice.

Run: ``python examples/order_changes.py``
"""

from __future__ import annotations

from omnistock import Channel, Inventory, Location, Order, Point


def main() -> None:
    inv = Inventory.open("memory://")
    inv.add_location(Location("soho", point=Point(51.513, -0.136)))
    inv.add_location(Location("dc-east", kind="dc", point=Point(51.560, 0.120)))
    inv.add_channel(Channel("web", buffer=1))
    inv.receive("TEE", "dc-east", 50)
    inv.receive("CAP", "dc-east", 10)
    inv.receive("SCARF", "soho", 3)

    order = Order(
        "web-1001",
        channel="web",
        lines=[("TEE", 2), ("CAP", 1)],
        ship_to=Point(51.52, -0.10),
    )
    alloc = inv.allocate(order, key="checkout-1001")
    assert alloc.reservation is not None
    rid = inv.commit(alloc.reservation.id, key="paid-1001").id
    print("paid:   ", [(x.sku, x.location, x.qty) for x in inv.reservation(rid).lines])

    changed = inv.amend(rid, [("TEE", 2), ("SCARF", 1)], key="amend-1001-a")
    print("amended:", [(x.sku, x.location, x.qty) for x in changed.lines])
    assert changed.trace is not None
    print("  where the scarf went:")
    for row in changed.trace.text().splitlines():
        print("   ", row)
    again = inv.amend(rid, [("TEE", 2), ("SCARF", 1)], key="amend-1001-a")
    assert again == changed  # a retried webhook: the first result, nothing written

    res = inv.release(rid, lines=[("TEE", 1)], key="cancel-1001-tee")
    print("cancel 1 TEE:", [(x.sku, x.location, x.qty) for x in res.lines], res.state)
    print("CAP free again at dc-east:", inv.available("CAP", location="dc-east"))

    done = inv.ship(rid, key="ship-1001")
    print("shipped:", [(x.sku, x.location, x.qty) for x in done.shipped], done.state)
    print("journal for the order:")
    for e in inv.history(ref=rid):
        print(f"  {e.seq:3} {e.kind:9} {e.sku:6} {e.location:8} {e.qty}")
    assert inv.check().ok


if __name__ == "__main__":
    main()
