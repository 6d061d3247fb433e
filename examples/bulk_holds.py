"""Bulk holds: a flash sale's checkouts as columns, durable on SQLite.

    python examples/bulk_holds.py            # 100,000 orders
    python examples/bulk_holds.py 1000000    # a million

Stock is 2,000 SKUs at 10 stores. Orders arrive in batches of 10,000 pinned,
one-line orders; each batch is one ``hold_many(HoldBatch)`` call: one kernel
call, one journal row, a status and a reservation id per order. Then one
reservation is committed (it leaves its block and becomes an ordinary one),
the rest expire together, ``check()`` replays the journal and proves the
ledger, and the store is snapshotted and reopened. Times are printed; they
are this machine's, not a promise (the first batch also imports numba and
loads the kernels, about 0.4 s).
"""

from __future__ import annotations

import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

from omnistock import HoldBatch, Inventory, Location

N = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
BATCH = 10_000
SKUS = [f"sku-{i}" for i in range(2000)]
STORES = [f"store-{j}" for j in range(10)]


class Clock:
    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now


def main() -> None:
    clock = Clock()
    path = Path(tempfile.mkdtemp(prefix="omnistock-bulk-")) / "stock.db"
    inv = Inventory.open(f"sqlite:///{path}", clock=clock)
    for store in STORES:
        inv.add_location(Location(store, kind="store"))
    for i, sku in enumerate(SKUS):
        inv.receive(sku, STORES[i % 10], N // 2000 + 1)  # about one unit an order
    rng = np.random.default_rng(7)
    batches = []
    for lo in range(0, N, BATCH):
        n = min(BATCH, N - lo)
        pick = rng.integers(0, len(SKUS), n).tolist()
        batches.append(
            HoldBatch(
                [f"web-{lo + k}" for k in range(n)],
                [SKUS[p] for p in pick],
                [STORES[p % 10] for p in pick],
                np.ones(n, dtype=np.int64),
            )
        )

    t = time.perf_counter()
    results = [inv.hold_many(b, ttl=timedelta(minutes=10)) for b in batches]
    took = time.perf_counter() - t
    held = sum(r.held for r in results)
    print(
        f"{N:,} orders in {len(batches)} batches: {held:,} held, {N - held:,} refused "
        f"(short), {took:.2f} s ({N / took:,.0f} orders/s), journal head {inv.head:,}"
    )

    first = results[0]
    j = int(np.flatnonzero(first.ok)[0])
    rid = first.reservation_id(j)
    assert rid is not None
    print(
        f"order {first.order_ids[j]} is reservation {rid}: "
        f"{inv.reservation(rid).state}, commit -> {inv.commit(rid).state}"
    )

    t = time.perf_counter()
    report = inv.check()
    print(
        f"check(): ok={report.ok}, {report.rows_replayed:,} rows replayed, "
        f"{time.perf_counter() - t:.2f} s"
    )
    assert report.ok, report

    before = sum(inv.available(s) for s in SKUS[:50])
    clock.now += timedelta(minutes=11)  # the other holds expire together
    after = sum(inv.available(s) for s in SKUS[:50])
    print(
        f"after the window: {rid} stays {inv.reservation(rid).state}; available "
        f"on 50 SKUs {before:,} -> {after:,} (the expiry is one journal row a batch)"
    )
    print(f"history of {rid}: {[e.kind for e in inv.history(ref=rid)]}")
    assert inv.check().ok
    t = time.perf_counter()
    inv.snapshot()  # blocks are saved as arrays
    took_snap = time.perf_counter() - t
    digest = inv.digest()
    inv.close()
    t = time.perf_counter()
    again = Inventory.open(f"sqlite:///{path}", clock=clock)
    print(
        f"snapshot {took_snap:.2f} s, reopen from it {time.perf_counter() - t:.2f} s, "
        f"same ledger: {again.digest() == digest}"
    )
    assert again.digest() == digest
    again.close()


if __name__ == "__main__":
    main()
