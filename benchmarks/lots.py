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

    python -m benchmarks.lots [--rounds 15] [--holds 400]
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from functools import partial

from omnistock import Inventory, Location

from .side_by_side import (
    LOCS,
    Prepared,
    holding,
    interleave,
    medians,
    one_line_orders,
    parser,
    ratio_table,
)

VARIANTS = ["plain", "plain beside lots", "lotted"]


def prepare(variant: str, round_no: int, holds: int) -> Prepared:
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
    return inv, holding(inv, one_line_orders(round_no, holds))


def main(argv: list[str] | None = None) -> None:
    args = parser(__doc__).parse_args(argv)
    med = medians(interleave(VARIANTS, partial(prepare, holds=args.holds), args.rounds))
    title = f"{args.holds} holds a round, {args.rounds} rounds, store memory"
    print(ratio_table(title, args.holds, med))


if __name__ == "__main__":
    main()
