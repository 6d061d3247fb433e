"""Quickstart: the core ledger as a new user meets it.

Runs on a SQLite file in a temporary directory with an injected clock:
receive, hold with a TTL and watch it expire, hold-commit-ship, replay a key,
reopen the file, and run the reconciler.
"""

from __future__ import annotations

import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

from omnistock import Inventory, Line, Location, Order


def main() -> None:
    now = [datetime(2026, 11, 23, 9, 0, tzinfo=UTC)]

    def clock() -> datetime:
        return now[0]

    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'shop.db'}"
        inv = Inventory.open(url, clock=clock)
        inv.add_location(Location("store-1", kind="store"))
        inv.add_location(Location("dc-1", kind="dc"))
        inv.receive("sku-42", "store-1", 10, key="asn-1")
        inv.receive("sku-42", "dc-1", 100, key="asn-2")
        print("available everywhere:", inv.available("sku-42"))

        cart = inv.hold(Order("cart-1", lines=[Line("sku-42", 3, "store-1")]), ttl=600)
        print("held", cart.id, "until", cart.expires_at)
        now[0] += timedelta(minutes=11)
        print(
            "after 11 minutes:",
            inv.reservation(cart.id).state,
            [e.kind for e in inv.history(ref=cart.id)],
        )

        order = inv.hold(Order("order-7", lines=[Line("sku-42", 2, "store-1")]))
        inv.commit(order.id)
        shipped = inv.ship(order.id)
        print("order-7 is", shipped.state)

        again = inv.receive("sku-42", "store-1", 10, key="asn-1")  # a retried webhook
        print(
            "replayed key asn-1 -> seq",
            again.seq,
            "store-1 on hand:",
            inv.on_hand("sku-42", "store-1"),
        )

        figures = inv.available("sku-42", "store-1"), inv.available("sku-42")
        inv.close()
        reopened = Inventory.open(url, clock=clock)
        assert (reopened.available("sku-42", "store-1"), reopened.available("sku-42")) == figures
        print("reopened: same figures", figures)
        print(reopened.check())
        reopened.close()


if __name__ == "__main__":
    main()
