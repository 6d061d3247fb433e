"""A till that keeps selling offline, then syncs with the central ledger.

The issue's scenario: receive 5 at store S, the web holds 3 at S, the POS
goes offline and sells 4, then syncs. The sales apply as physical truth, the
uncovered web reservation is reported for re-sourcing, an interrupted sync
resumes, and a second sync changes nothing.
"""

from __future__ import annotations

import json
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from omnistock import Channel, Inventory, Line, Location, Order
from omnistock.channels.pos import PosAdapter, PosTerminal


def receipt(rid: str, kind: str = "sale", **fields: object) -> bytes:
    return json.dumps({"receipt_id": rid, "type": kind, **fields}).encode()


def main() -> None:
    clock = lambda: datetime(2026, 11, 27, 9, 0, tzinfo=UTC)  # noqa: E731
    central = Inventory.open("memory://", clock=clock)
    central.add_location(Location("S", kind="store"))
    central.add_location(Location("W", kind="warehouse"))
    central.add_channel(Channel("web"))
    central.add_channel(Channel("pos", locations=["S"]))
    central.receive("A", "S", 5)
    central.receive("A", "W", 10)
    web = central.hold(Order("web-1", channel="web", lines=[Line("A", 3, "S")]), ttl=3600)
    print(
        f"central: on hand at S 5, web holds 3 ({web.id}); available at S:",
        central.available("A", "S"),
    )

    with tempfile.TemporaryDirectory() as tmp:
        local = Inventory.open(f"sqlite:///{Path(tmp) / 'till.db'}", clock=clock)
        till = PosTerminal(PosAdapter("till-1", "S", channel="pos"), local)
        till.seed(central)
        print("till seeded; local on hand:", local.on_hand("A", "S"))

        print("-- network down --")
        for i in range(4):
            till.ring(receipt(f"r{i}", items=[{"sku": "A", "qty": 1}]))
        till.ring(receipt("r4", "return", items=[{"sku": "A", "qty": 1}], condition="damaged"))
        print(
            "sold 4 and took 1 damaged return offline; local on hand:",
            local.on_hand("A", "S"),
            "- central head unchanged:",
            central.head,
        )

        print("-- network back --")
        report = till.sync(central)
        print("synced:", len(report.applied), "commands", list(report.applied))
        for s in report.shortages:
            print(f"shortage: {s.qty} x {s.sku} at {s.location} uncovers {list(s.reservations)}")
        print("to re-source (fulfilment):", list(report.to_resource))
        f = central.explain("A", "S").positions[0]
        print(
            f"central at S: on_hand {f.on_hand} (damaged {f.unsellable['damaged']}), "
            f"reserved {f.reserved}, available {central.available('A', 'S')}"
        )

        digest = central.digest()
        again = till.sync(central, since=0)
        print(
            "second sync from scratch: applied",
            len(again.applied),
            "replayed",
            len(again.replayed),
            "- digest unchanged:",
            central.digest() == digest,
        )

        # what the fulfilment module will do with the report: re-source elsewhere
        for rid in report.to_resource:
            central.release(rid)
            moved = central.hold(Order("web-1", channel="web", lines=[Line("A", 3, "W")]), ttl=3600)
            print(f"re-sourced {rid} -> {moved.id} at W")
        f = central.explain("A", "S").positions[0]
        print(
            f"after re-sourcing at S: reserved {f.reserved} <= sellable "
            f"{f.on_hand - f.unsellable['damaged']}; reconciler:",
            "ok" if central.check().ok else "PROBLEMS",
        )
        local.close()


if __name__ == "__main__":
    main()
