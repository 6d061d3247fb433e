"""What a kit line costs a hold through the face (issue 16, kits and bundles).

In one process and one run, rounds of single-line holds (``Inventory.hold``,
one command each, distinct order ids) on ``memory://`` or a SQLite file,
interleaved round by round, each variant on its own fresh inventory:

- ``plain``: a plain SKU (the ledger declares no kit at all);
- ``plain, kits declared``: the same plain SKU in a ledger that declares a
  kit (the plain path then pays one dict miss per line);
- ``3 plain lines``: an order of the kit's three components, as plain
  lines at one location (what a kit line reserves, without the kit);
- ``kit of 3``: one unit of a kit of three components (1, 2 and 1 per
  kit): three component lines reserved at one location and a ``kit-held``
  row, in one command.

Each round holds ``--holds`` lines spread over 4 locations (stock received
before timing, not timed). Reported: the median milliseconds per round,
holds per second at that median and the ratio of each variant's median to
``plain``. Nothing is asserted; the machine may be shared, so compare
ratios of one run, not figures across runs.

    python benchmarks/kits.py [--rounds 15] [--holds 400] [--store memory|sqlite]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from omnistock import Inventory, Line, Location, Order

LOCS = ["L0", "L1", "L2", "L3"]
BOX = {"mug": 1, "tea": 2, "card": 1}
VARIANTS = ["plain", "plain, kits declared", "3 plain lines", "kit of 3"]


def _open(store: str, tmp: Path, name: str) -> Inventory:
    if store == "memory":
        return Inventory.open("memory://")
    return Inventory.open(f"sqlite:///{tmp / name}.db")


def prepare(
    variant: str, store: str, tmp: Path, round_no: int, holds: int
) -> tuple[Inventory, Callable[[], int]]:
    """A fresh inventory for one round of ``variant`` and the timed call."""
    inv = _open(store, tmp, f"{variant.replace(' ', '-').replace(',', '')}-{round_no}")
    for loc in LOCS:
        inv.add_location(Location(loc))
        inv.receive("sku", loc, holds)  # each location can take every hold
        for c, q in BOX.items():
            inv.receive(c, loc, holds * q)
    if variant not in ("plain", "3 plain lines"):
        inv.add_kit("giftbox", BOX)
    sku = "giftbox" if variant == "kit of 3" else "sku"
    orders = [
        Order(f"r{round_no}-{i}", lines=[Line(sku, 1, LOCS[i % len(LOCS)])]) for i in range(holds)
    ]
    if variant == "3 plain lines":  # what the kit reserves, as an order of its components
        orders = [
            Order(
                f"r{round_no}-{i}", lines=[Line(c, q, LOCS[i % len(LOCS)]) for c, q in BOX.items()]
            )
            for i in range(holds)
        ]

    def run() -> int:
        hold = inv.hold
        for o in orders:
            hold(o, ttl=3600)
        return len(orders)

    return inv, run


def measure(rounds: int = 15, holds: int = 400, store: str = "memory") -> dict[str, Any]:
    """Median seconds per round of each variant, interleaved round by round."""
    times: dict[str, list[float]] = {v: [] for v in VARIANTS}
    with tempfile.TemporaryDirectory(prefix="omnistock-bench-") as d:
        for r in range(rounds):
            for v in VARIANTS:
                inv, run = prepare(v, store, Path(d), r, holds)
                try:
                    t0 = time.perf_counter()
                    run()
                    times[v].append(time.perf_counter() - t0)
                finally:
                    inv.close()
    med = {v: statistics.median(t) for v, t in times.items()}
    return {
        "rounds": rounds,
        "holds": holds,
        "store": store,
        "median_s": med,
        "vs_plain": {v: med[v] / med["plain"] for v in VARIANTS},
    }


def table(result: dict[str, Any]) -> str:
    lines = [
        f"{result['holds']} holds a round, {result['rounds']} rounds, store {result['store']}",
        f"{'variant':<22} {'median ms':>10} {'holds/s':>10} {'vs plain':>9}",
    ]
    for v in VARIANTS:
        m = result["median_s"][v]
        lines.append(
            f"{v:<22} {m * 1e3:>10.1f} {result['holds'] / m:>10.0f} {result['vs_plain'][v]:>8.2f}x"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=15)
    ap.add_argument("--holds", type=int, default=400)
    ap.add_argument("--store", choices=("memory", "sqlite"), default="memory")
    args = ap.parse_args(argv)
    print(table(measure(args.rounds, args.holds, args.store)))


if __name__ == "__main__":
    main()
