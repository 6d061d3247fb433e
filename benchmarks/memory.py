"""Bytes per stocked position in omnistock's replica (issue 14): a script.

    python -m benchmarks.memory                    # the three cases, about 90 s
    python -m benchmarks.memory --skus 20000       # smaller, for a quick look
    python -m benchmarks.memory --replay-skus 100000   # the 20M-position replica, measured

Each case runs in a fresh interpreter (``--case``), so memory freed by one
cannot be reused by the next, and reports the growth of its resident set
(``/proc/self/statm``, after ``gc.collect()``) across the part measured,
divided by the positions stocked there. The growth includes everything the
process keeps: the ledger's grids (``holdable`` and ``reserved``, 16 B a
position plus their doubling slack), the ranged marks, SKU names, and
whatever the store keeps (SQLite's page cache is bounded, about 2 MB).

- ``new-skus``: ``sqlite:///``, one location; ``--skus`` SKUs never seen
  before are received (one unit each, ``Inventory.receive``; there is no
  bulk receipt). A new SKU's name is interned too, so this is SKU plus
  position.
- ``known-skus``: the same SKUs received at one location first, then a
  second location is added and the SKUs are received there: new positions
  of known SKUs, the issue's case (target: at most 32 B a position).
  Measured from before the location is added, so the grid's new column is
  counted.
- ``replica``: a ``LedgerState`` built by ``ledger.replay`` of a generated
  journal (``workloads.journal_rows``: the locations, then one receipt per
  position), ``--replay-skus`` x ``--replay-locs`` positions. By default
  10,000 x 200 (2M positions) are measured and 100,000 x 200 is
  extrapolated: the grid's bytes at the larger size are exact (its capacity
  follows from the doubling rule, ``Grid``), everything else is scaled from
  the measured point per position. Pass ``--replay-skus 100000`` to measure
  the 20M positions instead (several minutes and several GB).

The receive cases open the store with periodic snapshots off, so the
window measures the replica, then take one snapshot (``Inventory.snapshot``)
and report the growth again ("after a snapshot"): writing one leaves freed
buffers that the C allocator keeps, which RSS counts too.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import subprocess
import sys
import tempfile
import time
from typing import Any

PAGE = os.sysconf("SC_PAGE_SIZE")
TARGET = 32  # bytes per stocked position of a known SKU (issue 14)


def rss() -> int:
    """Resident bytes of this process, after a full collection."""
    gc.collect()
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * PAGE


def sizes(inv_or_state: Any) -> tuple[int, int]:
    """Bytes of the grid's figures and of its ranged marks (0 before they
    were an array)."""
    st = getattr(inv_or_state, "_state", inv_or_state)
    marks = getattr(st.grid, "ranged", None)
    return int(st.grid.nbytes()), int(getattr(marks, "nbytes", 0))


def grid_capacity(n: int, start: int) -> int:
    """Capacity a dimension reaches by doubling from ``start`` to hold ``n``."""
    c = max(1, start)
    while c < n:
        c *= 2
    return c


# -- the cases, each in its own process ------------------------------------------------
def case_receive(skus: int, known: bool, workdir: str) -> dict[str, Any]:
    from omnistock import Inventory, Location

    inv = Inventory.open(f"sqlite:///{workdir}/m.db", snapshot_every=10**12)
    inv.add_location(Location("L0"))
    warm = 2_000  # statements, caches and the grid's first rows, before measuring
    for i in range(warm):
        inv.receive(f"W{i:07d}", "L0", 1)
    names = [f"S{i:07d}" for i in range(skus)]
    if known:
        for name in names:
            inv.receive(name, "L0", 1)
    r0, (g0, m0), t0 = rss(), sizes(inv), time.perf_counter()
    loc = "L0"
    if known:
        inv.add_location(Location("L1"))
        loc = "L1"
    for name in names:
        inv.receive(name, loc, 1)
    r1, (g1, m1), t1 = rss(), sizes(inv), time.perf_counter()
    assert inv.on_hand(names[-1], loc) == 1
    inv.snapshot()
    r2 = rss()
    inv.close()
    return {
        "positions": skus,
        "rss": r1 - r0,
        "grid": g1 - g0,
        "ranged": m1 - m0,
        "rss_snap": r2 - r0,
        "seconds": t1 - t0,
    }


def case_replica(skus: int, locs: int) -> dict[str, Any]:
    import itertools

    import numpy as np

    from omnistock.ledger.replay import replay
    from omnistock.ledger.state import LedgerState

    from .workloads import journal_rows

    def rows(skus: int, locs: int) -> Any:  # the locations and the receipts only
        return itertools.islice(
            journal_rows(locs + 2 * skus * locs, skus, locs), locs + skus * locs
        )

    # Loads the replay kernel before measuring: a flush of 64 rows or more
    # calls it, and a new SKU flushes, so 100 locations a SKU.
    replay(LedgerState(), rows(4, 100))
    positions = skus * locs
    r0, t0 = rss(), time.perf_counter()
    st = LedgerState()
    n = replay(st, rows(skus, locs))
    assert n == locs + positions and st.grid.shape == (skus, locs)
    assert int(np.asarray(st.grid.used()[0]).sum()) == 1_000 * positions
    r1, t1 = rss(), time.perf_counter()
    grid, ranged = sizes(st)
    return {
        "positions": positions,
        "rss": r1 - r0,
        "grid": grid,
        "ranged": ranged,
        "grid_cap": list(st.grid.holdable.shape),
        "seconds": t1 - t0,
    }


# -- the driver -----------------------------------------------------------------------
def run_case(args: list[str]) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, "-m", "benchmarks.memory", *args],
        capture_output=True,
        text=True,
        check=True,
        timeout=900,
    )
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def row(label: str, r: dict[str, Any], note: str = "") -> str:
    p = r["positions"]
    other = r["rss"] - r["grid"] - r["ranged"]
    snap = f"{r['rss_snap'] / p:.1f}" if "rss_snap" in r else "-"
    return (
        f"| {label} | {p:,} | {r['rss'] / 2**20:.1f} MiB | **{r['rss'] / p:.1f}** "
        f"| {r['grid'] / p:.1f} | {r['ranged'] / p:.1f} | {other / p:.1f} | {snap} | {note} |"
    )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--skus", type=int, default=200_000, help="positions of the receive cases")
    ap.add_argument("--replay-skus", type=int, default=10_000)
    ap.add_argument("--replay-locs", type=int, default=200)
    ap.add_argument("--case", choices=("new-skus", "known-skus", "replica"), help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    if a.case == "replica":
        print(json.dumps(case_replica(a.replay_skus, a.replay_locs)))
        return 0
    if a.case is not None:
        with tempfile.TemporaryDirectory(prefix="omnistock-memory-") as d:
            print(json.dumps(case_receive(a.skus, a.case == "known-skus", d)))
        return 0

    n = str(a.skus)
    new = run_case(["--case", "new-skus", "--skus", n])
    known = run_case(["--case", "known-skus", "--skus", n])
    rep_args = ["--replay-skus", str(a.replay_skus), "--replay-locs", str(a.replay_locs)]
    rep = run_case(["--case", "replica", *rep_args])
    print(
        "| case | positions | RSS growth | B/position | grid | ranged | other "
        "| B/position after a snapshot | |"
    )
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |")
    print(row("receive, new SKUs, 1 location (SQLite)", new, "SKU name interned too"))
    ok = "met" if known["rss"] / known["positions"] <= TARGET else "missed"
    print(row("receive, known SKUs, new location (SQLite)", known, f"target <= {TARGET}: {ok}"))
    label = f"replay, {a.replay_skus:,} SKUs x {a.replay_locs} locations"
    print(row(label, rep, f"measured, grid capacity {rep['grid_cap'][0]}x{rep['grid_cap'][1]}"))
    big_skus, big_locs = 100_000, 200
    if (a.replay_skus, a.replay_locs) != (big_skus, big_locs):
        # Extrapolated: the grid's capacity follows from the doubling rule,
        # the ranged marks take what they took per cell, and the rest (SKU
        # names and the like) what it took per position at the measured size.
        from omnistock.ledger.grid import Grid

        g = Grid()
        rows0, cols0 = g.holdable.shape
        del g
        big = big_skus * big_locs
        cap = grid_capacity(big_skus, rows0) * grid_capacity(big_locs, cols0)
        other = (rep["rss"] - rep["grid"] - rep["ranged"]) / rep["positions"]
        marks = cap * rep["ranged"] / (rep["grid_cap"][0] * rep["grid_cap"][1])  # per cell
        est = {
            "positions": big,
            "grid": 16 * cap,
            "ranged": marks,
            "rss": 16 * cap + marks + other * big,
        }
        print(row(f"replay, {big_skus:,} SKUs x {big_locs} locations", est, "extrapolated"))
    secs = new["seconds"] + known["seconds"] + rep["seconds"]
    print(f"\nmeasured parts took {secs:.0f} s; grid, ranged: the arrays' bytes; other: the rest")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
