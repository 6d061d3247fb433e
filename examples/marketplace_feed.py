"""Marketplace availability feeds: full and delta, CSV and JSON, ring-fenced.

The store floor (channel ``pos``) is guaranteed 4 units per SKU; the
marketplace has a buffer of 1 and a cap of 20. The feed shows what the
marketplace may sell, a delta after a few movements holds only the SKUs whose
figure changed, and an order message is held to the fence.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

from omnistock import Channel, Inventory, Line, Location, Order
from omnistock.channels.marketplace import MarketplaceAdapter
from omnistock.errors import InsufficientStock


def main() -> None:
    clock = lambda: datetime(2026, 11, 27, 9, 0, tzinfo=UTC)  # noqa: E731
    inv = Inventory.open("memory://", clock=clock)
    inv.add_location(Location("store-1", kind="store"))
    inv.add_location(Location("dc-1", kind="dc"))
    inv.add_channel(Channel("pos", locations=["store-1"], minimum=4))
    inv.add_channel(Channel("amazon", buffer=1, cap=20))
    inv.receive("mug", "store-1", 6)
    inv.receive("mug", "dc-1", 40)
    inv.receive("tee", "store-1", 5)
    for i in range(8):
        inv.receive(f"sock-{i}", "dc-1", 10)

    mk = MarketplaceAdapter("amazon")
    full = mk.full(inv)
    print(f"full feed at cursor {full.cursor} (CSV):")
    print(full.to_csv(), end="")
    print("tee: 5 at the store, 4 fenced for the floor, buffer 1 ->", full.as_dict()["tee"])

    inv.receive("sock-3", "dc-1", 5)
    inv.sell("store-1", [("tee", 2)])
    r = inv.hold(Order("x", channel="amazon", lines=[Line("sock-5", 1, "dc-1")]), ttl=60)
    inv.release(r.id)  # touched but unchanged: not in the delta
    delta = mk.delta(inv, full.cursor)
    print(f"delta since {delta.since} (JSON):", delta.to_json())

    order = {
        "message_id": "m-1",
        "type": "order",
        "order_id": "AMZ-1",
        "lines": [{"sku": "tee", "qty": 1, "location": "store-1"}],
    }
    try:
        mk.handle(inv, json.dumps(order).encode())
    except InsufficientStock as exc:
        print("marketplace order refused by the fence:", exc)
    order["lines"] = [{"sku": "mug", "qty": 3, "location": "dc-1"}]
    (res,) = mk.handle(inv, json.dumps(order).encode())
    print("marketplace order AMZ-1 ->", res.id, res.state)
    print("next delta:", mk.delta(inv, delta.cursor).to_json())


if __name__ == "__main__":
    main()
