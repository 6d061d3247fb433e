"""Write scaling: durable holds per second for 1, 2 and 4 writer processes.

Each writer process opens its own ``Inventory`` on one shared store and, for
a fixed time, either makes single holds (one ``hold()`` = one durable store
transaction, unless its own threads batch them -- here there is one thread) or
``hold_many`` batches of ``--batch`` orders (one transaction per batch). The
stock is ample, so every hold succeeds unless it gives up after the bounded
conflict retries (counted). Orders are one line on a random SKU of
``--skus`` at one of two locations. A third mode, ``bulk``, sends
``hold_many(HoldBatch)`` calls of ``--bulk`` orders (one kernel call and
one journal row each), cycling through 16 batches built before timing.

    python benchmarks/scaling.py                       # both stores, 1/2/4 procs
    python benchmarks/scaling.py --stores sqlite --seconds 3

PostgreSQL comes from ``OMNISTOCK_PG_DSN`` (default
``postgresql://postgres@127.0.0.1:5432/test``), in a fresh schema dropped
afterwards. It prints a Markdown table (pasted into docs/scaling.md).
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import random
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from omnistock import HoldBatch, Inventory, Line, Location, Order, errors

DSN = os.environ.get("OMNISTOCK_PG_DSN", "postgresql://postgres@127.0.0.1:5432/test")
LOCS = ("L1", "L2")


def _setup(url: str, skus: int) -> None:
    with Inventory.open(url) as inv:
        for loc in LOCS:
            inv.add_location(Location(loc))
        for i in range(skus):
            for loc in LOCS:
                inv.receive(f"sku-{i}", loc, 10**12)


def _bulk(k: int, i: int, n: int, rng: random.Random, skus: int) -> HoldBatch:
    return HoldBatch(
        [f"p{k}-{i}-{j}" for j in range(n)],
        [f"sku-{rng.randrange(skus)}" for _ in range(n)],
        [rng.choice(LOCS) for _ in range(n)],
        [1] * n,
    )


def _writer(
    url: str, k: int, mode: str, batch: int, skus: int, seconds: float, barrier: Any, out: Any
) -> None:
    rng = random.Random(k)
    inv = Inventory.open(url)
    n = conflicts = i = 0
    lat: list[float] = []

    def order() -> Order:
        nonlocal i
        i += 1
        return Order(f"p{k}-{i}", lines=[Line(f"sku-{rng.randrange(skus)}", 1, rng.choice(LOCS))])

    inv.hold(order())  # warm up: connection, statement preparation
    # Bulk mode cycles through prebuilt batches: a reused order id gets a
    # new reservation id (its batch token) each time.
    pool = [_bulk(k, j, batch, rng, skus) for j in range(16)] if mode == "bulk" else []
    if pool:
        inv.hold_many(pool[0])  # warm up the kernels
    barrier.wait()
    t0 = time.perf_counter()
    end = t0 + seconds
    while (now := time.perf_counter()) < end:
        if mode == "single":
            try:
                inv.hold(order())
                n += 1
            except errors.ConcurrencyConflict:
                conflicts += 1
            lat.append(time.perf_counter() - now)
        elif mode == "bulk":
            i += 1
            b = pool[i % len(pool)]  # built before timing: the caller's work
            try:
                n += inv.hold_many(b).held
            except errors.ConcurrencyConflict:
                conflicts += batch
            lat.append(time.perf_counter() - now)
        else:
            for r in inv.hold_many([order() for _ in range(batch)]):
                if isinstance(r, errors.ConcurrencyConflict):
                    conflicts += 1
                elif isinstance(r, Exception):
                    raise r
                else:
                    n += 1
            lat.append(time.perf_counter() - now)
    elapsed = time.perf_counter() - t0
    inv.close()
    out.put((n, conflicts, elapsed, lat))


def _url(store: str, tmp: Path, tag: str, sync: str) -> str:
    if store == "sqlite":
        return f"sqlite:///{tmp / (tag + '.db')}?synchronous={sync}"
    sep = "&" if "?" in DSN else "?"
    return f"{DSN}{sep}schema=omnistock_bench_{tag}_{uuid.uuid4().hex[:8]}"


def _drop(url: str) -> None:
    if url.startswith("postgres"):
        from omnistock.storage.postgres import PostgresStore

        PostgresStore(url).drop()


def run_one(
    store: str, procs: int, mode: str, args: argparse.Namespace, tmp: Path, sync: str
) -> dict[str, Any]:
    tag = f"{store}_{procs}_{mode}_{sync}"
    url = _url(store, tmp, tag, sync)
    try:
        _setup(url, args.skus)
        ctx = multiprocessing.get_context("spawn")
        barrier = ctx.Barrier(procs)
        out = ctx.Queue()
        size = args.bulk if mode == "bulk" else args.batch
        ps = [
            ctx.Process(
                target=_writer, args=(url, k, mode, size, args.skus, args.seconds, barrier, out)
            )
            for k in range(procs)
        ]
        for p in ps:
            p.start()
        res = [out.get(timeout=args.seconds + 120) for _ in ps]
        for p in ps:
            p.join()
        with Inventory.open(url) as inv:
            assert inv.check().ok
    finally:
        _drop(url)
    holds = sum(r[0] for r in res)
    conflicts = sum(r[1] for r in res)
    elapsed = max(r[2] for r in res)
    lat = sorted(x for r in res for x in r[3])
    return {
        "store": store,
        "sync": sync,
        "procs": procs,
        "mode": mode,
        "holds_s": holds / elapsed,
        "gave_up": conflicts,
        "p50_ms": statistics.median(lat) * 1000 if lat else float("nan"),
        "p99_ms": lat[int(len(lat) * 0.99)] * 1000 if lat else float("nan"),
    }


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--stores", default="sqlite,postgresql")
    ap.add_argument("--procs", default="1,2,4")
    ap.add_argument("--seconds", type=float, default=4.0)
    ap.add_argument("--batch", type=int, default=100)
    ap.add_argument("--bulk", type=int, default=1000)
    ap.add_argument("--modes", default="single,batch,bulk")
    ap.add_argument("--skus", type=int, default=64)
    ap.add_argument(
        "--sqlite-sync",
        default="normal",
        help="comma list of SQLite synchronous modes (normal, full)",
    )
    args = ap.parse_args(argv)
    print(
        f"# {os.cpu_count()} CPUs, python {sys.version.split()[0]}, "
        f"{args.seconds:g} s per cell, {args.skus} SKUs x 2 locations, batch {args.batch}, "
        f"bulk {args.bulk}"
    )
    print(
        "| store | writer processes | mode | holds/s (total) | call p50 ms | call p99 ms "
        "| gave up |"
    )
    print("|---|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        for store in args.stores.split(","):
            syncs = args.sqlite_sync.split(",") if store == "sqlite" else ["on"]
            for sync in syncs:
                name = (
                    f"sqlite (synchronous={sync})"
                    if store == "sqlite"
                    else "postgresql (synchronous_commit=on)"
                )
                for mode in args.modes.split(","):
                    for procs in (int(x) for x in args.procs.split(",")):
                        r = run_one(store, procs, mode, args, tmp, sync)
                        label = {
                            "single": "hold",
                            "batch": f"hold_many x{args.batch}",
                            "bulk": f"hold_many(HoldBatch) x{args.bulk}",
                        }[mode]
                        print(
                            f"| {name} | {procs} | {label} | {r['holds_s']:,.0f} "
                            f"| {r['p50_ms']:.2f} | {r['p99_ms']:.2f} | {r['gave_up']} |",
                            flush=True,
                        )


if __name__ == "__main__":
    main()
