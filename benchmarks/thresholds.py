"""What low-stock thresholds cost a hold through the face (issue 16).

In one process and one run, rounds of single-line holds (``Inventory.hold``,
one command each, distinct order ids) on ``memory://`` or a SQLite file,
interleaved round by round, each variant on its own fresh inventory:

- ``plain``: no thresholds anywhere (the path every ledger had before);
- ``marks elsewhere``: a network-wide and a per-location mark on 50 other
  SKUs, none on the SKU held: every command takes the group-commit path
  and checks the SKUs it touched;
- ``marks on the SKU``: a network-wide mark and one per location on the
  SKU held, set so each round's holds cross them once (a
  ``threshold-crossed`` row joins that hold's commit).

Each round holds ``--holds`` units of one SKU spread over 4 locations
(stock received and marks set before timing, not timed). Reported: the
median milliseconds per round, holds per second at that median, the ratio
of each variant's median to ``plain`` and the crossings journaled by a
round's holds. Nothing is asserted; the machine may
be shared, so compare ratios of one run, not figures across runs.

    python benchmarks/thresholds.py [--rounds 15] [--holds 400] [--store memory|sqlite]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from omnistock import Inventory, Line, Location, Order

LOCS = ["L0", "L1", "L2", "L3"]


def _open(store: str, tmp: Path, name: str) -> Inventory:
    if store == "memory":
        return Inventory.open("memory://")
    return Inventory.open(f"sqlite:///{tmp / name}.db")


def prepare(
    variant: str, store: str, tmp: Path, round_no: int, holds: int
) -> tuple[Inventory, Callable[[], int]]:
    """A fresh inventory for one round of ``variant`` and the timed call."""
    inv = _open(store, tmp, f"{variant.replace(' ', '-')}-{round_no}")
    for loc in LOCS:
        inv.add_location(Location(loc))
        inv.receive("sku", loc, holds)  # each location can take every hold
    if variant == "marks elsewhere":
        for k in range(50):
            inv.set_threshold(f"other{k}", low=5)
            inv.set_threshold(f"other{k}", LOCS[k % len(LOCS)], low=1)
    elif variant == "marks on the SKU":
        total = holds * len(LOCS)
        inv.set_threshold("sku", low=total - holds // 2)  # crossed half way through
        for loc in LOCS:
            inv.set_threshold("sku", loc, low=holds - 1)  # crossed by its first hold
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
    ap.add_argument("--store", choices=("memory", "sqlite"), default="memory")
    args = ap.parse_args(argv)
    variants = ["plain", "marks elsewhere", "marks on the SKU"]
    times: dict[str, list[float]] = {v: [] for v in variants}
    crossings: dict[str, int] = dict.fromkeys(variants, 0)
    with tempfile.TemporaryDirectory(prefix="omnistock-bench-") as d:
        for r in range(args.rounds):
            for v in variants:
                inv, run = prepare(v, args.store, Path(d), r, args.holds)
                try:
                    head = inv.head
                    t0 = time.perf_counter()
                    run()
                    times[v].append(time.perf_counter() - t0)
                    crossings[v] += len(inv.history(kind="threshold-crossed", since=head))
                finally:
                    inv.close()
    base = statistics.median(times["plain"])
    print(f"{args.holds} holds a round, {args.rounds} rounds, store {args.store}")
    print(f"{'variant':<18} {'median ms':>10} {'holds/s':>10} {'vs plain':>9} {'crossings':>10}")
    for v in variants:
        m = statistics.median(times[v])
        n = crossings[v] // args.rounds
        print(f"{v:<18} {m * 1e3:>10.1f} {args.holds / m:>10.0f} {m / base:>8.2f}x {n:>10}")


if __name__ == "__main__":
    main()
