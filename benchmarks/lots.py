"""What lots cost a hold through the face (issue 16, item 3).

In one process and one run, rounds of single-line holds (``Inventory.hold``,
one command each, distinct order ids) on ``memory://``, interleaved round
by round, each variant on its own fresh inventory:

- ``plain``: a ledger without lots (the path every ledger had before);
- ``plain beside lots``: the SKU held has no lots, 50 other SKUs do;
- ``lotted``: the SKU held has three lots with expiries at every location
  (a hold reserves at the position, as for any SKU: lots are taken at
  ship/sell/transfer time, first-expiry-first-out).

Each round holds ``--holds`` units of one SKU spread over 4 locations
(stock received before timing, not timed). Reported: the median
milliseconds per round, holds per second at that median and the ratio of
each variant's median to ``plain``. Nothing is asserted; the machine may be
shared, so compare ratios of one run, not figures across runs.

    python benchmarks/lots.py [--rounds 15] [--holds 400]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from omnistock import Inventory, Line, Location, Order

LOCS = ["L0", "L1", "L2", "L3"]
VARIANTS = ["plain", "plain beside lots", "lotted"]


def prepare(variant: str, round_no: int, holds: int) -> tuple[Inventory, Callable[[], int]]:
    """A fresh memory inventory for one round of ``variant`` and the timed call."""
    inv = Inventory.open("memory://")
    soon = datetime.now(UTC) + timedelta(days=30)
    for loc in LOCS:
        inv.add_location(Location(loc))
        if variant == "lotted":  # three lots, each can take a third of the holds
            for k in range(3):
                q = holds // 3 + 1
                inv.receive("sku", loc, q, lot=f"lot{k}", expires=soon + timedelta(days=k))
        else:
            inv.receive("sku", loc, holds)
    if variant == "plain beside lots":
        for k in range(50):
            inv.receive(f"other{k}", LOCS[k % len(LOCS)], 5, lot="x", expires=soon)
    orders = [
        Order(f"r{round_no}-{i}", lines=[Line("sku", 1, LOCS[i % len(LOCS)])]) for i in range(holds)
    ]

    def run() -> int:
        hold = inv.hold
        for o in orders:
            hold(o, ttl=3600)
        return len(orders)

    return inv, run


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=15)
    ap.add_argument("--holds", type=int, default=400)
    args = ap.parse_args(argv)
    times: dict[str, list[float]] = {v: [] for v in VARIANTS}
    for r in range(args.rounds):
        for v in VARIANTS:
            inv, run = prepare(v, r, args.holds)
            try:
                t0 = time.perf_counter()
                run()
                times[v].append(time.perf_counter() - t0)
            finally:
                inv.close()
    base = statistics.median(times["plain"])
    print(f"{args.holds} holds a round, {args.rounds} rounds, store memory")
    print(f"{'variant':<18} {'median ms':>10} {'holds/s':>10} {'vs plain':>9}")
    for v in VARIANTS:
        m = statistics.median(times[v])
        print(f"{v:<18} {m * 1e3:>10.1f} {args.holds / m:>10.0f} {m / base:>8.2f}x")


if __name__ == "__main__":
    main()
