"""A marketplace connector that keeps a stock feed file current.

The connector is a consumer of ``availability()``: after each batch of
changes it rewrites the marketplace's feed file (atomically: write, then
rename) and only then acknowledges the batch, so a crash between the two
sends the same figures again (at-least-once), never loses one. Orders,
walk-in sales and cart expiries all reach the file; a cart's expiry gets
there without anyone querying it, because ``sweep()`` (what
``omnistock worker`` runs on an interval) journals it. A restart resumes
from the store's cursor: nothing acknowledged is sent again.

    python examples/marketplace_connector.py
"""

from __future__ import annotations

import json
import os
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

from omnistock import Channel, Inventory, Line, Location, Order

CONSUMER, CHANNEL = "amazon-connector", "amazon"


class Clock:
    """The ledger's clock, moved by the demo to expire a cart."""

    def __init__(self) -> None:
        self.now = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


class Connector:
    """Publishes ``CHANNEL``'s availability to ``path`` as JSON
    ``{"sku": units}``, from the changes omnistock reports."""

    def __init__(self, inv: Inventory, path: Path) -> None:
        self.inv, self.path = inv, path
        self.figures: dict[str, int] = json.loads(path.read_text()) if path.exists() else {}

    def sync(self) -> list[str]:
        """Publish the changes since the last ack; returns what changed."""
        changes = self.inv.availability(CONSUMER, CHANNEL)
        if not changes:
            return []
        for c in changes:
            self.figures[c.sku] = c.available
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.figures, sort_keys=True))
        os.replace(tmp, self.path)  # readers see the old file or the new one, never half
        self.inv.ack_availability(CONSUMER, CHANNEL, changes[0].seq)  # after the write
        return [f"{c.sku}={c.available}" for c in changes]


def main() -> None:
    work = Path(tempfile.mkdtemp(prefix="omnistock-connector-"))
    url, feed = f"sqlite:///{work / 'shop.db'}", work / "amazon-stock.json"
    clock = Clock()
    inv = Inventory.open(url, clock=clock)
    inv.add_location(Location("store-1", kind="store"))
    inv.add_location(Location("dc-1", kind="dc"))
    inv.add_channel(Channel("pos", locations=["store-1"]))
    inv.add_channel(Channel("web"))
    inv.add_channel(Channel(CHANNEL, buffer=1))
    inv.receive("mug", "dc-1", 10)
    inv.receive("tee", "store-1", 5)

    conn = Connector(inv, feed)
    print("first publish:", conn.sync(), "->", feed.read_text())
    assert json.loads(feed.read_text()) == {"mug": 9, "tee": 4}

    cart = inv.hold(
        Order("web-1", channel="web", lines=[Line("mug", 3, "dc-1")]), ttl=timedelta(minutes=15)
    )
    print("a web cart holds 3 mugs:", conn.sync())
    inv.sell("store-1", [("tee", 2)], channel="pos")
    print("a walk-in sale of 2 tees:", conn.sync())
    assert json.loads(feed.read_text()) == {"mug": 6, "tee": 2}

    clock.now += timedelta(minutes=20)  # the cart is abandoned
    swept = inv.sweep()
    print(f"sweep journaled {swept.count} expiry; cart {cart.id} is", end=" ")
    print(inv.reservation(cart.id).state, "->", conn.sync())
    assert json.loads(feed.read_text())["mug"] == 9

    print("nothing new:", conn.sync())
    inv.close()

    # A restart (a new process): the cursor is in the store, so nothing
    # acknowledged is sent again, and what happened meanwhile is.
    inv = Inventory.open(url, clock=clock)
    inv.receive("tee", "store-1", 6)
    conn = Connector(inv, feed)
    print("after a restart and a delivery of 6 tees:", conn.sync(), "->", feed.read_text())
    assert json.loads(feed.read_text()) == {"mug": 9, "tee": 8}
    assert inv.check().ok
    inv.close()


if __name__ == "__main__":
    main()
