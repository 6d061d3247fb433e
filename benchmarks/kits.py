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

    python -m benchmarks.kits [--rounds 15] [--holds 400] [--store memory|sqlite]
"""

from __future__ import annotations

import tempfile
from functools import partial
from pathlib import Path
from typing import Any

from omnistock import Line, Location, Order

from .side_by_side import (
    LOCS,
    Prepared,
    holding,
    interleave,
    medians,
    one_line_orders,
    open_store,
    parser,
    ratio_table,
)

BOX = {"mug": 1, "tea": 2, "card": 1}
VARIANTS = ["plain", "plain, kits declared", "3 plain lines", "kit of 3"]


def prepare(variant: str, store: str, tmp: Path | None, round_no: int, holds: int) -> Prepared:
    """A fresh inventory for one round of ``variant`` and the timed call."""
    inv = open_store(store, tmp, f"{variant.replace(' ', '-').replace(',', '')}-{round_no}")
    for loc in LOCS:
        inv.add_location(Location(loc))
        inv.receive("sku", loc, holds)  # each location can take every hold
        for c, q in BOX.items():
            inv.receive(c, loc, holds * q)
    if variant not in ("plain", "3 plain lines"):
        inv.add_kit("giftbox", BOX)
    sku = "giftbox" if variant == "kit of 3" else "sku"
    orders = one_line_orders(round_no, holds, sku)
    if variant == "3 plain lines":  # what the kit reserves, as an order of its components
        orders = [
            Order(
                f"r{round_no}-{i}", lines=[Line(c, q, LOCS[i % len(LOCS)]) for c, q in BOX.items()]
            )
            for i in range(holds)
        ]
    return inv, holding(inv, orders)


def measure(rounds: int = 15, holds: int = 400, store: str = "memory") -> dict[str, Any]:
    """Median seconds per round of each variant, interleaved round by round
    (``side_by_side.interleave``)."""
    with tempfile.TemporaryDirectory(prefix="omnistock-bench-") as d:
        prep = partial(prepare, store=store, tmp=Path(d), holds=holds)
        med = medians(interleave(VARIANTS, lambda v, r: prep(v, round_no=r), rounds))
    return {
        "rounds": rounds,
        "holds": holds,
        "store": store,
        "median_s": med,
        "vs_plain": {v: med[v] / med["plain"] for v in VARIANTS},
    }


def table(result: dict[str, Any]) -> str:
    title = f"{result['holds']} holds a round, {result['rounds']} rounds, store {result['store']}"
    return ratio_table(title, result["holds"], result["median_s"])


def main(argv: list[str] | None = None) -> None:
    args = parser(__doc__, stores=True).parse_args(argv)
    print(table(measure(args.rounds, args.holds, args.store)))


if __name__ == "__main__":
    main()
