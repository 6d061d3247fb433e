"""Variants of one face workload measured side by side in one run.

The per-feature scripts (``decimal_skus``, ``lots``, ``kits``,
``thresholds``) each build a fresh inventory per round and variant
(``prepare``, not timed) and time one call that makes ``holds`` single
holds through the face. ``interleave`` runs the variants round by round,
so a machine that drifts during the run drifts for all of them alike, and
``ratio_table`` prints each variant's median against the first one.
Nothing is asserted: compare ratios of one run, not figures across runs.
"""

from __future__ import annotations

import argparse
import gc
import json
import statistics
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from omnistock import Inventory, Line, Order

LOCS = ["L0", "L1", "L2", "L3"]
"""Four locations; rounds spread their holds over them."""

Prepared = tuple[Inventory, Callable[[], int]]
"""A fresh inventory and the timed call (it returns the holds it made)."""


def open_store(store: str, tmp: Path | None, name: str) -> Inventory:
    """``memory://``, or a SQLite file ``name`` under ``tmp``."""
    if store == "memory":
        return Inventory.open("memory://")
    assert tmp is not None, "a SQLite round needs a directory"
    return Inventory.open(f"sqlite:///{tmp / name}.db")


def one_line_orders(round_no: int, holds: int, sku: str = "sku") -> list[Order]:
    """``holds`` orders of one unit of ``sku``, pinned round the locations
    in turn; ids unique to the round."""
    return [
        Order(f"r{round_no}-{i}", lines=[Line(sku, 1, LOCS[i % len(LOCS)])]) for i in range(holds)
    ]


def parser(doc: str | None, stores: bool = False) -> argparse.ArgumentParser:
    """The scripts' options: ``--rounds``, ``--holds`` (and ``--store``)."""
    ap = argparse.ArgumentParser(description=(doc or "").splitlines()[0])
    ap.add_argument("--rounds", type=int, default=15)
    ap.add_argument("--holds", type=int, default=400)
    if stores:
        ap.add_argument("--store", choices=("memory", "sqlite"), default="memory")
    return ap


def holding(inv: Inventory, orders: Sequence[Order], ttl: int = 3600) -> Callable[[], int]:
    """The timed call: ``inv.hold`` of each order, one command each."""

    def run() -> int:
        hold = inv.hold
        for o in orders:
            hold(o, ttl=ttl)
        return len(orders)

    return run


def interleave(
    variants: Sequence[str],
    prepare: Callable[[str, int], Prepared],
    rounds: int,
    after: Callable[[str, Inventory, int], None] | None = None,
) -> dict[str, list[float]]:
    """Seconds of each round of each variant, variants interleaved round by
    round. Each round starts at the next variant (round r at variant r mod
    n), so none always runs right after the same neighbour, and garbage is
    collected before each timed call, so no variant pays for collecting
    the inventories before it. ``after(variant, inv, head_before)`` sees
    each round's inventory before it is closed (to count what the round
    journaled)."""
    times: dict[str, list[float]] = {v: [] for v in variants}
    n = len(variants)
    for r in range(rounds):
        for v in [variants[(r + i) % n] for i in range(n)]:
            inv, run = prepare(v, r)
            try:
                head = inv.head
                gc.collect()
                t0 = time.perf_counter()
                run()
                times[v].append(time.perf_counter() - t0)
                if after is not None:
                    after(v, inv, head)
            finally:
                inv.close()
    return times


def medians(times: dict[str, list[float]]) -> dict[str, float]:
    return {v: statistics.median(t) for v, t in times.items()}


def ratio_table(
    title: str, holds: int, med: dict[str, float], extra: dict[str, str] | None = None
) -> str:
    """One row per variant: median ms a round, holds/s at it, and the ratio
    to the first variant (the baseline); ``extra`` adds a column."""
    base = next(iter(med.values()))
    width = max(9, *(len(v) for v in med))
    head = f"{'variant':<{width}} {'median ms':>10} {'holds/s':>10} {'vs ' + next(iter(med)):>12}"
    out = [title, head + ("  " + extra.pop("", "") if extra else "")]
    for v, m in med.items():
        row = f"{v:<{width}} {m * 1e3:>10.1f} {holds / m:>10.0f} {m / base:>11.2f}x"
        out.append(row + (f"  {extra[v]}" if extra else ""))
    return "\n".join(out)


def phases_main(
    argv: list[str], measure: Callable[[int, int], Any], table: Callable[[Any], str]
) -> None:
    """The command line of the phase benchmarks (``backorders``,
    ``order_changes``): ``[n] [rounds] [--json PATH]``; prints ``table`` of
    ``measure(n, rounds)`` and writes the raw figures to PATH if given."""
    path = None
    if "--json" in argv:
        i = argv.index("--json")
        path, argv = argv[i + 1], argv[:i] + argv[i + 2 :]
    n = int(argv[0]) if argv else 2000
    rounds = int(argv[1]) if len(argv) > 1 else 5
    result = measure(n, rounds)
    print(table(result))
    if path is not None:
        with open(path, "w") as f:
            json.dump(result, f, indent=2)
