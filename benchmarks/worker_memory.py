"""Memory of one worker process without a replica (``replica=False``), on
PostgreSQL, beside a replica of the same journal: a script.

    python -m benchmarks.worker_memory                 # 200 locations, 20,000 SKUs
    python -m benchmarks.worker_memory --skus 5000     # quicker

A network of ``--locs`` locations is made and ``--skus`` SKUs are stocked
at ``--stocked`` locations each (one ``receive`` per position). Then, each
in a fresh interpreter (``--case``), so one cannot reuse another's memory:

- ``worker``: ``Inventory.open(url, replica=False)``, then ``--holds``
  single holds, each on a SKU not held before (the worst case for a worker:
  every command reads new counters), then one ``available()`` per SKU of a
  sample. Reports the resident set (``/proc/self/statm``, after
  ``gc.collect()``) after importing omnistock, after opening, and at the end;
  a worker's ledger is bounded by ``scoped.MAX_SKUS`` SKUs and
  ``scoped.MAX_HOLDS`` reservations, so the end figure does not grow with the
  catalogue.
- ``replica``: ``Inventory.open(url)`` (replays the journal), then the same
  holds. Its growth is the replica's, about 21-30 B a stocked position
  (``benchmarks/memory.py``; a replayed replica of 100k SKUs x 200
  locations measured 606 MB there).

PostgreSQL comes from ``OMNISTOCK_PG_DSN``; the schema is dropped after.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import random
import subprocess
import sys
import uuid
from typing import Any

DSN = os.environ.get("OMNISTOCK_PG_DSN", "postgresql://postgres@127.0.0.1:5432/test")


def _rss() -> int:
    gc.collect()
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def _setup(url: str, locs: int, skus: int, stocked: int) -> None:
    from omnistock import Inventory, Location

    with Inventory.open(url, snapshot_every=10**9) as inv:
        for j in range(locs):
            inv.add_location(Location(f"L{j}"))
        rng = random.Random(1)
        for i in range(skus):
            for j in rng.sample(range(locs), stocked):
                inv.receive(f"sku-{i}", f"L{j}", 10)


def _case(case: str, url: str, locs: int, skus: int, stocked: int, holds: int) -> dict[str, Any]:
    before = _rss()
    from omnistock import Inventory, Line, Order

    imported = _rss()
    inv = Inventory.open(url, replica=case != "worker", snapshot_every=10**9)
    opened = _rss()
    rng = random.Random(2)
    order = list(range(skus))
    rng.shuffle(order)
    loc_of: dict[int, str] = {}
    rng2 = random.Random(1)
    for i in range(skus):  # where _setup stocked each SKU (same draws)
        loc_of[i] = f"L{rng2.sample(range(locs), stocked)[0]}"
    for n in range(holds):
        i = order[n % skus]
        inv.hold(Order(f"m{n}", lines=[Line(f"sku-{i}", 1, loc_of[i])]), ttl=3600)
    for i in order[:200]:
        inv.available(f"sku-{i}")
    end = _rss()
    sc = inv._runner.scoped
    out = {
        "case": case,
        "python_and_imports_mb": imported / 2**20,
        "import_growth_mb": (imported - before) / 2**20,
        "after_open_mb": opened / 2**20,
        "end_mb": end / 2**20,
        "growth_after_open_mb": (end - opened) / 2**20,
        "stayed_without_replica": sc is not None and not sc.replica,
    }
    inv.close()
    return out


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    ap.add_argument("--locs", type=int, default=200)
    ap.add_argument("--skus", type=int, default=20_000)
    ap.add_argument("--stocked", type=int, default=2, help="locations stocked per SKU")
    ap.add_argument("--holds", type=int, default=20_000)
    ap.add_argument("--case", choices=("worker", "replica"), help=argparse.SUPPRESS)
    ap.add_argument("--url", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.case:
        out = _case(args.case, args.url, args.locs, args.skus, args.stocked, args.holds)
        print(json.dumps(out))
        return
    schema = f"omnistock_wmem_{uuid.uuid4().hex[:8]}"
    sep = "&" if "?" in DSN else "?"
    url = f"{DSN}{sep}schema={schema}"
    try:
        _setup(url, args.locs, args.skus, args.stocked)
        print(
            f"# {args.locs} locations, {args.skus:,} SKUs x {args.stocked} stocked, "
            f"{args.holds:,} holds on distinct SKUs"
        )
        print("| mode | RSS after imports | after open | at the end | growth after open |")
        print("|---|---|---|---|---|")
        for case in ("worker", "replica"):
            cmd = [sys.executable, "-m", "benchmarks.worker_memory", "--case", case]
            cmd += ["--url", url, "--skus", str(args.skus)]
            cmd += ["--stocked", str(args.stocked), "--holds", str(args.holds)]
            cmd += ["--locs", str(args.locs)]
            got = json.loads(subprocess.run(cmd, check=True, capture_output=True).stdout)
            print(
                f"| {case} | {got['python_and_imports_mb']:.0f} MB | {got['after_open_mb']:.0f} MB"
                f" | {got['end_mb']:.0f} MB | {got['growth_after_open_mb']:.1f} MB |"
            )
    finally:
        import psycopg

        with psycopg.connect(DSN, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")


if __name__ == "__main__":
    main()
