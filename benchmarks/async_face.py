"""The async face beside the sync face under 50 concurrent requests (issue 17).

Per store (memory, SQLite, PostgreSQL), in one process and one run, rounds
of 50 single-line holds with distinct order ids, interleaved round by round:

- ``sync x50 threads``: the sync ``Inventory`` driven by 50 threads that
  start together (a barrier) and each make one hold;
- ``async (workers=W)``: ``AsyncInventory`` with W worker threads (the
  default, or each of ``--workers``) awaited by 50 coroutines
  (``asyncio.gather``);
- ``sync sequential``: one thread making the 50 holds one after another
  (what group commit is measured against).

Each variant has its own inventory on its own fresh store. Reported per
variant: the median milliseconds for a round of 50 requests, holds per
second at that median, the mean number of commands per store transaction
(the group commit's size; counted by wrapping the store's ``append``), and
the ratio of each median to ``sync x50 threads``. Nothing is asserted.

    python benchmarks/async_face.py [--rounds 30] [--workers 16,64]

PostgreSQL comes from ``OMNISTOCK_PG_DSN`` (default
``postgresql://postgres@127.0.0.1:5432/test``; a private schema, dropped
afterwards; "skipped" if no server answers).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from omnistock import AsyncInventory, Inventory, Line, Location, Order
from omnistock.aio import DEFAULT_WORKERS

DSN = os.environ.get("OMNISTOCK_PG_DSN", "postgresql://postgres@127.0.0.1:5432/test")
REQUESTS = 50
SKUS = 500


@dataclass
class Variant:
    name: str
    round: Callable[[list[Order]], float]
    """Runs one round (holds every order, concurrently or not); its seconds."""
    inv: Inventory
    appends: list[int] = field(default_factory=lambda: [0])
    times: list[float] = field(default_factory=list)
    holds: int = 0


def _stock(inv: Inventory) -> None:
    inv.add_location(Location("L1"))
    for i in range(SKUS):
        inv.receive(f"sku-{i}", "L1", 10**9)


def _count_appends(inv: Inventory, counter: list[int]) -> None:
    """Count the store's transactions (a group commit is one)."""
    store: Any = inv.store
    for name in ("append", "append_guarded"):
        inner = getattr(store, name)

        def counted(*args: Any, _inner: Any = inner, **kwargs: Any) -> Any:
            counter[0] += 1
            return _inner(*args, **kwargs)

        setattr(store, name, counted)


def threaded_round(inv: Inventory) -> Callable[[list[Order]], float]:
    """Threads already running (as a threaded server's are) hold together:
    timed from the barrier that releases them to the last one's end."""

    def go(orders: list[Order]) -> float:
        start = threading.Barrier(len(orders) + 1)

        def one(order: Order) -> None:
            start.wait()
            inv.hold(order)

        threads = [threading.Thread(target=one, args=(o,)) for o in orders]
        for t in threads:
            t.start()
        start.wait()
        t0 = time.perf_counter()
        for t in threads:
            t.join()
        return time.perf_counter() - t0

    return go


def sequential_round(inv: Inventory) -> Callable[[list[Order]], float]:
    def go(orders: list[Order]) -> float:
        t0 = time.perf_counter()
        for o in orders:
            inv.hold(o)
        return time.perf_counter() - t0

    return go


def async_round(
    ainv: AsyncInventory, loop: asyncio.AbstractEventLoop
) -> Callable[[list[Order]], float]:
    """50 coroutines on a running loop: timed from the gather to its end."""

    def go(orders: list[Order]) -> float:
        async def all_of() -> float:
            t0 = time.perf_counter()
            await asyncio.gather(*(ainv.hold(o) for o in orders))
            return time.perf_counter() - t0

        return loop.run_until_complete(all_of())

    return go


@contextmanager
def store_urls(kind: str) -> Iterator[Callable[[], str]]:
    """Fresh store URLs of one kind; PostgreSQL schemas are dropped after."""
    if kind == "memory":
        yield lambda: "memory://"
        return
    if kind == "sqlite":
        with tempfile.TemporaryDirectory() as tmp:
            yield lambda: f"sqlite:///{tmp}/{uuid.uuid4().hex[:8]}.db"
        return
    import psycopg
    from psycopg import sql

    psycopg.connect(DSN, connect_timeout=3).close()  # raises when no server answers
    schemas: list[str] = []

    def url() -> str:
        schemas.append(f"async_face_{uuid.uuid4().hex[:8]}")
        return f"{DSN}{'&' if '?' in DSN else '?'}schema={schemas[-1]}"

    try:
        yield url
    finally:
        with psycopg.connect(DSN, autocommit=True) as conn:
            for s in schemas:
                conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(s)))


def bench_store(kind: str, rounds: int, workers: list[int]) -> list[Variant]:
    with store_urls(kind) as fresh:
        loop = asyncio.new_event_loop()
        ainvs = [loop.run_until_complete(AsyncInventory.open(fresh(), workers=w)) for w in workers]
        threaded, sequential = Inventory.open(fresh()), Inventory.open(fresh())
        variants = [
            Variant(f"sync x{REQUESTS} threads", threaded_round(threaded), threaded),
            *(
                Variant(f"async (workers={w})", async_round(a, loop), a.inventory)
                for w, a in zip(workers, ainvs, strict=True)
            ),
            Variant("sync sequential", sequential_round(sequential), sequential),
        ]
        try:
            for v in variants:
                _stock(v.inv)
            n = 0
            for r in range(rounds + 2):  # the first two rounds warm up
                for v in variants:
                    orders = [
                        Order(f"{kind}-{n + i}", lines=[Line(f"sku-{(n + i) % SKUS}", 1, "L1")])
                        for i in range(REQUESTS)
                    ]
                    n += REQUESTS
                    if r == 2:
                        _count_appends(v.inv, v.appends)
                    took = v.round(orders)
                    if r >= 2:
                        v.times.append(took)
                        v.holds += REQUESTS
        finally:
            threaded.close()
            sequential.close()
            for a in ainvs:
                loop.run_until_complete(a.aclose())
            loop.close()
        return variants


def report(kind: str, variants: list[Variant]) -> None:
    base = statistics.median(variants[0].times)
    print(f"\n{kind}: {REQUESTS} concurrent holds per round, {len(variants[0].times)} rounds")
    print(f"  {'variant':<22} {'median ms':>10} {'holds/s':>9} {'cmds/txn':>9} {'vs threads':>11}")
    for v in variants:
        med = statistics.median(v.times)
        per_txn = v.holds / v.appends[0] if v.appends[0] else float("nan")
        print(
            f"  {v.name:<22} {med * 1e3:>10.2f} {REQUESTS / med:>9.0f} "
            f"{per_txn:>9.1f} {med / base:>10.2f}x"
        )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=30)
    ap.add_argument("--stores", default="memory,sqlite,postgresql")
    ap.add_argument("--workers", default=f"{DEFAULT_WORKERS}", help="async face sizes, e.g. 16,64")
    args = ap.parse_args()
    workers = [int(w) for w in args.workers.split(",")]
    print(f"cpus: {os.cpu_count()}  (timings are medians; the ratio is median / threads' median)")
    for kind in args.stores.split(","):
        try:
            variants = bench_store(kind, args.rounds, workers)
        except Exception as exc:  # a store that cannot be reached is reported, not fatal
            if kind != "postgresql":
                raise
            print(f"\n{kind}: skipped ({type(exc).__name__}: {exc})")
            continue
        report(kind, variants)


if __name__ == "__main__":
    main()
