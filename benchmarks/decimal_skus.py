"""What decimal quantities cost a hold through the face (issue 16, item 1).

In one process and one run, rounds of single-line holds (``Inventory.hold``,
one command each, distinct order ids) on ``memory://``, interleaved round
by round, each variant on its own fresh inventory:

- ``plain``: an undeclared SKU, int quantities (the path every ledger had);
- ``decimal``: a SKU declared with 3 decimals (kg), each hold a
  ``Decimal("0.250")`` line: converted to the scaled int 250 at the face,
  and the reservation's figures converted back to Decimals on the way out;
- ``case``: a whole-unit SKU with a ``case`` of 12, each hold one case.

Each round holds ``--holds`` lines spread over 4 locations (stock received
before timing, not timed). Reported: the median milliseconds per round,
holds per second at that median and the ratio of each variant's median to
``plain`` (the target: within 1.5x). Nothing is asserted; the machine may
be shared, so compare ratios of one run, not figures across runs.

    python -m benchmarks.decimal_skus [--rounds 15] [--holds 400]
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from functools import partial
from typing import Any

from omnistock import Inventory, Line, Location, Order, Sku

from .side_by_side import LOCS, Prepared, holding, interleave, medians, parser, ratio_table

VARIANTS = ("plain", "decimal", "case")


def prepare(variant: str, round_no: int, holds: int) -> Prepared:
    """A fresh inventory for one round of ``variant`` and the timed call."""
    inv = Inventory.open("memory://")
    if variant == "decimal":
        inv.add_sku(Sku("sku", unit="kg", decimals=3))
    elif variant == "case":
        inv.add_sku(Sku("sku", units={"case": 12}))
    for loc in LOCS:
        inv.add_location(Location(loc))
        inv.receive("sku", loc, holds * 12)  # each location can take every hold
    line: Callable[[int], Line] = {
        "plain": lambda i: Line("sku", 1, LOCS[i % len(LOCS)]),
        "decimal": lambda i: Line("sku", Decimal("0.250"), LOCS[i % len(LOCS)]),
        "case": lambda i: Line("sku", 1, LOCS[i % len(LOCS)], unit="case"),
    }[variant]
    return inv, holding(inv, [Order(f"r{round_no}-{i}", lines=[line(i)]) for i in range(holds)])


def measure(rounds: int = 15, holds: int = 400) -> dict[str, Any]:
    """Median seconds per round of each variant, interleaved in one run,
    and each one's ratio to ``plain``."""
    med = medians(interleave(VARIANTS, partial(prepare, holds=holds), rounds))
    return {
        "holds": holds,
        "rounds": rounds,
        "median_s": med,
        "vs_plain": {v: med[v] / med["plain"] for v in VARIANTS},
    }


def table(result: dict[str, Any]) -> str:
    title = f"{result['holds']} holds a round, {result['rounds']} rounds, store memory"
    return ratio_table(title, result["holds"], result["median_s"])


def main(argv: list[str] | None = None) -> None:
    args = parser(__doc__).parse_args(argv)
    print(table(measure(args.rounds, args.holds)))


if __name__ == "__main__":
    main()
