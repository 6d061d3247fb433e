"""Backordered holds per second through the face, beside plain holds
(issue 15, item 2).

Each round opens a fresh store (memory, or a SQLite file), stocks 200 SKUs
at 4 locations and expects a large purchase order of 200 other SKUs there
(not timed), then times two phases over ``n`` orders of one pinned line of
two units: ``hold`` of stocked SKUs (on hand), and ``backorder`` of the
PO's SKUs with ``Order(backorder=True)`` (the units wait on the PO: a
``backordered`` row, the supply item booked). Rounds are interleaved phase
by phase on the same store; the table gives the median holds/s per phase
and the backorder's cost as a ratio to ``hold`` in the same run (the
target is at most 1.5x).

    python -m benchmarks.backorders               # n=2000, 5 rounds
    python -m benchmarks.backorders 500 3 --json out.json

Figures depend on the machine (a shared 2-core VM in development); compare
the ratios, not the absolute numbers, across machines.
"""

from __future__ import annotations

import gc
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from omnistock import Inventory, Line, Location, Order

from .side_by_side import phases_main

SKUS = 200
LOCS = ("L1", "L2", "L3", "L4")
PHASES = ("hold", "backorder")


def _stock(inv: Inventory) -> None:
    for loc in LOCS:
        inv.add_location(Location(loc, kind="warehouse"))
    eta = datetime.now(UTC) + timedelta(days=365)
    for i in range(SKUS):
        inv.receive(f"sku-{i}", LOCS[i % len(LOCS)], 10**9)
        inv.expect(f"pre-{i}", LOCS[i % len(LOCS)], 10**9, eta=eta)


def _orders(tag: str, prefix: str, n: int, back: bool) -> list[Order]:
    out = []
    for i in range(n):
        a = (i * 7 + 3) % SKUS
        line = Line(f"{prefix}-{a}", 2, LOCS[a % len(LOCS)])
        out.append(Order(f"{tag}-{prefix}-{i}", lines=[line], backorder=back))
    return out


def one_round(inv: Inventory, tag: str, n: int) -> dict[str, float]:
    """Seconds per phase for ``n`` orders; checks every call's outcome."""
    phases = {"hold": _orders(tag, "sku", n, False), "backorder": _orders(tag, "pre", n, True)}
    out: dict[str, float] = {}
    order = ["hold", "backorder"]
    if sum(map(ord, tag)) % 2:  # alternate which phase goes first, round by round
        order.reverse()
    for phase in order:
        gc.collect()  # neither phase pays for collecting the other's garbage
        t = time.perf_counter()
        for o in phases[phase]:
            r = inv.hold(o, ttl=3600)
        out[phase] = time.perf_counter() - t
        if phase == "backorder":
            assert r.lines[0].eta is not None, r  # it waits on the PO
    return out


def measure(n: int = 2000, rounds: int = 5, stores: tuple[str, ...] = ("memory", "sqlite")) -> Any:
    """Median holds/s per store and phase, and each phase's ratio of time
    per hold to ``hold``'s (>1: slower)."""
    result: dict[str, Any] = {"n": n, "rounds": rounds, "stores": {}}
    with tempfile.TemporaryDirectory(prefix="omnistock-bench-backorders-") as d:
        opened: dict[str, Inventory] = {}
        for s in stores:
            url = "memory://" if s == "memory" else f"sqlite:///{d}/backorders.db"
            opened[s] = Inventory.open(url)
            _stock(opened[s])
        samples: dict[str, dict[str, list[float]]] = {s: {p: [] for p in PHASES} for s in stores}
        for r in range(rounds):
            for s, inv in opened.items():  # interleaved: each store's round in turn
                for p, secs in one_round(inv, f"r{r}", n).items():
                    samples[s][p].append(n / secs)
        for inv in opened.values():
            assert inv.check().ok
            inv.close()
    for s in stores:
        med = {p: statistics.median(samples[s][p]) for p in PHASES}
        result["stores"][s] = {
            "ops_per_s": med,
            "cost_vs_hold": {p: med["hold"] / med[p] for p in PHASES},
        }
    return result


def table(result: Any) -> str:
    rows = [
        f"n={result['n']} holds x {result['rounds']} rounds "
        "(median holds/s; time per hold as a ratio to a plain hold)"
    ]
    for s, r in result["stores"].items():
        cells = ", ".join(
            f"{p} {r['ops_per_s'][p]:,.0f}/s ({r['cost_vs_hold'][p]:.2f}x)" for p in PHASES
        )
        rows.append(f"{s:7} {cells}")
    return "\n".join(rows)


def main(argv: list[str]) -> None:
    phases_main(argv, measure, table)


if __name__ == "__main__":
    main(sys.argv[1:])
