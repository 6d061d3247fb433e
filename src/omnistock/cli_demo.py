"""``omnistock bench`` and ``omnistock demo``."""

from __future__ import annotations

import os
import tempfile
import time
from datetime import UTC, datetime, timedelta

from .inventory import Inventory
from .storage import redact
from .values import Channel, Line, Location, Order, Point

EXIT_OK = 0


def bench(n: int) -> int:
    """Holds per second (one pinned line each) on memory:// and SQLite."""
    if n < 1:
        raise ValueError("-n must be at least 1")
    print(f"{'store':<10} {'holds':>7} {'seconds':>8} {'holds/s':>10}")
    with tempfile.TemporaryDirectory(prefix="omnistock-bench-") as tmp:
        for name, url in (
            ("memory", "memory://"),
            ("sqlite", f"sqlite:///{os.path.join(tmp, 'bench.db')}"),
        ):
            with Inventory.open(url) as inv:
                inv.add_location(Location("S1"))
                skus = [f"SKU-{i}" for i in range(100)]
                for s in skus:
                    inv.receive(s, "S1", 10**9)
                inv.hold(Order("warm", lines=[Line(skus[0], 1, "S1")]))
                t0 = time.perf_counter()
                for i in range(n):
                    inv.hold(Order(f"o{i}", lines=[Line(skus[i % 100], 1, "S1")]))
                dt = time.perf_counter() - t0
                print(f"{name:<10} {n:>7} {dt:>8.3f} {n / dt:>10,.0f}")
    print("the full suite: python -m benchmarks.compare (in a source checkout)")
    return EXIT_OK


def demo(url: str, fresh: bool) -> int:
    """A small omnichannel morning on the store: DC replenishment, a web cart
    that expires, a BOPIS order collected, a POS sale that eats into a web
    reservation (a shortage), a return, and the reconciler's verdict."""
    if fresh and url.startswith("sqlite:///"):
        path = url[len("sqlite:///") :]
        for suffix in ("", "-wal", "-shm"):
            if os.path.exists(path + suffix):
                os.remove(path + suffix)
    now = [datetime.now(UTC).replace(microsecond=0)]
    with Inventory.open(url, clock=lambda: now[0]) as inv:
        run = inv.head
        tag = f"d{run}"
        for loc in (
            Location("DC-LEEDS", kind="dc", point=Point(53.80, -1.55)),
            Location("ST-LONDON", kind="store", point=Point(51.51, -0.13)),
            Location("ST-MANCH", kind="store", point=Point(53.48, -2.24)),
        ):
            inv.add_location(loc)
        inv.add_channel(Channel("web", buffer=1))
        inv.add_channel(Channel("pos"))
        sku = "TEE-BLK-M"
        inv.receive(sku, "DC-LEEDS", 40, key=f"{tag}-po-1")
        inv.receive(sku, "ST-LONDON", 5, key=f"{tag}-asn-1")
        inv.receive(sku, "ST-MANCH", 3, key=f"{tag}-asn-2")
        print(f"store {redact(url)}: journal head {inv.head}")
        print(
            f"received: network available {inv.available(sku)}, "
            f"web {inv.available(sku, channel='web')}"
        )

        cart = inv.hold(
            Order(f"{tag}-cart", channel="web", lines=[Line(sku, 2, "ST-LONDON")]),
            ttl=timedelta(minutes=15),
        )
        print(f"web cart {cart.id} held 2 at ST-LONDON until {cart.expires_at:%H:%M}")
        now[0] += timedelta(minutes=16)
        print(
            f"16 minutes later the cart is {inv.reservation(cart.id).state}; "
            f"ST-LONDON available {inv.available(sku, 'ST-LONDON')}"
        )

        bopis = inv.hold(
            Order(
                f"{tag}-bopis",
                channel="web",
                method="pickup",
                pickup_at="ST-MANCH",
                lines=[(sku, 2)],
            ),
            ttl=timedelta(hours=48),
        )
        inv.collect(bopis.id)
        print(f"BOPIS {bopis.id}: 2 collected at ST-MANCH")

        web = inv.hold(Order(f"{tag}-web", channel="web", lines=[Line(sku, 4, "ST-LONDON")]))
        inv.commit(web.id)
        sale = inv.sell("ST-LONDON", [(sku, 3)], key=f"{tag}-receipt-1")
        for s in sale.shortages:
            print(
                f"POS sale of 3 at ST-LONDON leaves {s.qty} reserved unit(s) uncovered: "
                f"{', '.join(s.reservations)} must be re-sourced"
            )
        inv.return_items("ST-MANCH", [(sku, 1)], condition="damaged", key=f"{tag}-rma-1")
        print("a damaged return at ST-MANCH goes to the damaged state")
        print()
        print(inv.explain(sku))
        print()
        report = inv.check()
        print(report)
        return 0 if report.ok else 1
