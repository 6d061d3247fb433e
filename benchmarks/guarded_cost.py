"""What one process pays per order on PostgreSQL: single holds and wide bulk holds.

A fresh schema, 2,000 SKUs stocked at 2 locations, then 3 x 1,000 single
``hold()`` calls and 7 ``hold_many(HoldBatch)`` calls of 1,000 one-line
orders on (mostly) distinct positions. Prints microseconds per order for
each round. Compare two commits by running it alternately from each
(``PYTHONPATH=<worktree>/src python benchmarks/guarded_cost.py before``).

    python benchmarks/guarded_cost.py after

PostgreSQL comes from ``OMNISTOCK_PG_DSN`` (default
``postgresql://postgres@127.0.0.1:5432/test``); the schema is dropped after.
"""

from __future__ import annotations

import os
import random
import sys
import time
import uuid

from omnistock import HoldBatch, Inventory, Line, Location, Order
from omnistock.storage.postgres import PostgresStore

DSN = os.environ.get("OMNISTOCK_PG_DSN", "postgresql://postgres@127.0.0.1:5432/test")
SKUS = 2000
LOCS = ("L1", "L2")


def main(label: str) -> None:
    sep = "&" if "?" in DSN else "?"
    url = f"{DSN}{sep}schema=guarded_cost_{uuid.uuid4().hex[:8]}"
    inv = Inventory.open(url)
    try:
        for loc in LOCS:
            inv.add_location(Location(loc))
        for i in range(SKUS):
            inv.receive(f"sku-{i}", LOCS[i % 2], 10**9)
        rng = random.Random(1)

        def order(i: int) -> Order:
            s = rng.randrange(SKUS)
            return Order(f"p-{i}", lines=[Line(f"sku-{s}", 1, LOCS[s % 2])])

        orders = [order(i) for i in range(3300)]
        for o in orders[:300]:  # warm up: connection, prepared statements
            inv.hold(o)
        single = []
        for r in range(3):
            t = time.perf_counter()
            for o in orders[300 + r * 1000 : 1300 + r * 1000]:
                inv.hold(o)
            single.append((time.perf_counter() - t) / 1000 * 1e6)
        bulk = []
        for k in range(8):
            ss = [rng.randrange(SKUS) for _ in range(1000)]
            b = HoldBatch(
                [f"b{k}-{j}" for j in range(1000)],
                [f"sku-{s}" for s in ss],
                [LOCS[s % 2] for s in ss],
                [1] * 1000,
            )
            t = time.perf_counter()
            inv.hold_many(b)
            bulk.append((time.perf_counter() - t) / 1000 * 1e6)
        print(
            f"{label}: hold() us/order {[round(x) for x in single]}; "
            f"HoldBatch of 1000 us/order {[round(x, 1) for x in bulk[1:]]}"
        )
    finally:
        inv.close()
        PostgresStore(url).drop()


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "this commit")
