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

    python -m benchmarks.thresholds [--rounds 15] [--holds 400] [--store memory|sqlite]
"""

from __future__ import annotations

import tempfile
from functools import partial
from pathlib import Path

from omnistock import Inventory, Location

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

VARIANTS = ["plain", "marks elsewhere", "marks on the SKU"]


def prepare(
    variant: str, round_no: int, holds: int, store: str = "memory", tmp: Path | None = None
) -> Prepared:
    """A fresh inventory for one round of ``variant`` and the timed call."""
    inv = open_store(store, tmp, f"{variant.replace(' ', '-')}-{round_no}")
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
    return inv, holding(inv, one_line_orders(round_no, holds))


def main(argv: list[str] | None = None) -> None:
    args = parser(__doc__, stores=True).parse_args(argv)
    crossings = dict.fromkeys(VARIANTS, 0)

    def count(v: str, inv: Inventory, head: int) -> None:
        crossings[v] += len(inv.history(kind="threshold-crossed", since=head))

    with tempfile.TemporaryDirectory(prefix="omnistock-bench-") as d:
        prep = partial(prepare, store=args.store, tmp=Path(d), holds=args.holds)
        med = medians(interleave(VARIANTS, prep, args.rounds, after=count))
    title = f"{args.holds} holds a round, {args.rounds} rounds, store {args.store}"
    extra = {"": "crossings a round", **{v: str(n // args.rounds) for v, n in crossings.items()}}
    print(ratio_table(title, args.holds, med, extra))


if __name__ == "__main__":
    main()
