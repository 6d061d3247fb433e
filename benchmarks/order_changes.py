"""Order changes per second through the face: ``amend`` and
``release(lines=)`` beside ``hold`` (issue 15).

Each round opens a fresh store (memory, or a SQLite file), stocks 200 SKUs
at 4 locations (not timed), then times three phases over ``n`` orders of
two pinned lines each: ``hold`` every order, ``amend`` every reservation
(one line up by one unit, the other down by one, so both a ``held`` and a
``released`` row), and ``release(lines=)`` of one unit of each. Rounds are
interleaved phase by phase on the same store; the table gives the median
ops/s per phase and its ratio to ``hold`` in the same run.

    python -m benchmarks.order_changes               # n=2000, 5 rounds
    python -m benchmarks.order_changes 500 3 --json out.json

Figures depend on the machine (a shared 2-core VM in development); compare
the ratios, not the absolute numbers, across machines.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from typing import Any

from omnistock import Inventory, Line, Location, Order

from .side_by_side import phases_main

SKUS = 200
LOCS = ("L1", "L2", "L3", "L4")
PHASES = ("hold", "amend", "release_lines")


def _stock(inv: Inventory) -> None:
    for loc in LOCS:
        inv.add_location(Location(loc))
    for i in range(SKUS):
        inv.receive(f"sku-{i}", LOCS[i % len(LOCS)], 10**9)


def _orders(tag: str, n: int) -> list[Order]:
    out = []
    for i in range(n):
        a, b = i % SKUS, (i * 7 + 3) % SKUS
        if a == b:
            b = (b + 1) % SKUS
        lines = [Line(f"sku-{a}", 2, LOCS[a % 4]), Line(f"sku-{b}", 2, LOCS[b % 4])]
        out.append(Order(f"{tag}-{i}", lines=lines))
    return out


def one_round(inv: Inventory, tag: str, n: int) -> dict[str, float]:
    """Seconds per phase for ``n`` orders; checks every call's outcome."""
    orders = _orders(tag, n)
    amends = [
        [Line(o.lines[0].sku, 3, o.lines[0].location), Line(o.lines[1].sku, 1, o.lines[1].location)]
        for o in orders
    ]
    cancels = [[(o.lines[0].sku, 1)] for o in orders]
    ids: list[str] = []
    out: dict[str, float] = {}
    t = time.perf_counter()
    for o in orders:
        ids.append(inv.hold(o, ttl=3600).id)
    out["hold"] = time.perf_counter() - t
    t = time.perf_counter()
    for rid, ls in zip(ids, amends, strict=True):
        inv.amend(rid, ls)
    out["amend"] = time.perf_counter() - t
    t = time.perf_counter()
    for rid, c in zip(ids, cancels, strict=True):
        inv.release(rid, lines=c)
    out["release_lines"] = time.perf_counter() - t
    last = inv.reservation(ids[-1])
    assert sorted(x.qty for x in last.lines) == [1, 2], last
    return out


def measure(n: int = 2000, rounds: int = 5, stores: tuple[str, ...] = ("memory", "sqlite")) -> Any:
    """Median ops/s per store and phase, and each phase's ratio to ``hold``."""
    result: dict[str, Any] = {"n": n, "rounds": rounds, "stores": {}}
    with tempfile.TemporaryDirectory(prefix="omnistock-bench-changes-") as d:
        opened: dict[str, Inventory] = {}
        for s in stores:
            url = "memory://" if s == "memory" else f"sqlite:///{d}/changes.db"
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
            "vs_hold": {p: med[p] / med["hold"] for p in PHASES},
        }
    return result


def table(result: Any) -> str:
    rows = [f"n={result['n']} orders x {result['rounds']} rounds (median ops/s; ratio to hold)"]
    for s, r in result["stores"].items():
        cells = ", ".join(
            f"{p} {r['ops_per_s'][p]:,.0f}/s ({r['vs_hold'][p]:.2f}x)" for p in PHASES
        )
        rows.append(f"{s:7} {cells}")
    return "\n".join(rows)


def main(argv: list[str]) -> None:
    phases_main(argv, measure, table)


if __name__ == "__main__":
    main(sys.argv[1:])
