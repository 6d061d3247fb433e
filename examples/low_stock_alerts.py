"""Low-stock thresholds and alerts: marks from a CSV file, a buyer's alert
list with days of cover, and the crossings a purchasing bot reads from the
event feed.

Runs on a SQLite file in a temporary directory with an injected clock: two
stores sell milk for a week, a network-wide mark and a per-store mark are
imported from CSV (as ``omnistock import`` does), the sales that cross them journal
``threshold-crossed`` entries, and a delivery clears the alerts again.
"""

from __future__ import annotations

import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

from omnistock import Inventory, Location, importer


def main() -> None:
    now = [datetime(2026, 11, 23, 8, 0, tzinfo=UTC)]

    def clock() -> datetime:
        return now[0]

    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'shop.db'}"
        inv = Inventory.open(url, clock=clock)
        inv.add_location(Location("north", kind="store"))
        inv.add_location(Location("south", kind="store"))
        inv.receive("milk-1l", "north", 60)
        inv.receive("milk-1l", "south", 40)

        # What `omnistock import thresholds.csv --store URL` does, on this
        # inventory's clock: every row checked first, then the marks set.
        marks = Path(tmp) / "thresholds.csv"
        marks.write_text("sku,location,low\nmilk-1l,,40\nmilk-1l,south,10\n")
        plan = importer.plan(inv, importer.read_csv(str(marks)))
        done = importer.apply(inv, plan)
        print(f"imported {done.written} threshold(s):", inv.thresholds())
        inv.ack("purchasing-bot", inv.head)  # the bot starts from now
        for _day in range(7):  # a week of walk-in sales
            inv.sell("north", [("milk-1l", 5)])
            inv.sell("south", [("milk-1l", 5)])
            now[0] += timedelta(days=1)

        print("alerts after a week of sales:")
        for alert in inv.alerts():
            print("  ", alert)

        print("what the purchasing bot reads from the feed:")
        entries = inv.feed("purchasing-bot")
        for e in entries:
            if e.kind == "threshold-crossed" and e.data is not None:
                went = "went low" if e.data["below"] else "recovered"
                where = e.location or "network"
                print(f"   seq {e.seq}: {e.sku} @ {where} {went}", end=" ")
                print(f"(ATP {e.qty}, mark {e.data['low']})")
        inv.ack("purchasing-bot", entries[-1].seq)

        inv.receive("milk-1l", "south", 48, key="po-77")  # the reorder arrives
        print("after the delivery:", inv.alerts() or "no alerts")
        for e in inv.feed("purchasing-bot"):
            print(f"   seq {e.seq}: {e.kind} {e.sku} @ {e.location or 'network'} qty {e.qty}")
        print("reconciler:", inv.check())
        inv.close()


if __name__ == "__main__":
    main()
