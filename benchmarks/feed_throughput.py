"""Feed throughput and ``wait=`` wake latency (issue 17).

1. **Throughput**: a journal of ``--rows`` rows (50,000 by default,
   ``received`` rows appended in commits of 1,000), then one consumer
   drains it with ``feed(limit=L)`` + ``ack`` for a few limits L. Reported
   as entries/s, beside the baseline measured in the same run: a bare
   ``Store.read`` of the whole journal (no cursor, no Entry values).
2. **Wake latency** (``--tries`` tries, 50 by default): another *process*
   appends one row while this one is blocked in ``feed(wait=5)``; the
   latency is the time from that process's commit returning to ``feed``
   returning with the row (``time.monotonic`` is system-wide on Linux, so
   the two processes' readings compare). Median and p99.

Both on SQLite (a temporary file) and PostgreSQL (``OMNISTOCK_PG_DSN``,
default ``postgresql://postgres@127.0.0.1:5432/test``; a fresh schema,
dropped after; skipped with a note when no server answers).

    python benchmarks/feed_throughput.py [--rows 50000] [--tries 50]

Figures depend on the machine and its load: compare the ratios and run it
twice before drawing conclusions. Nothing here is asserted by a test.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import random
import statistics
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from multiprocessing.connection import Connection

from omnistock import Inventory
from omnistock.storage import Commit, NewRow, open_store

DSN = os.environ.get("OMNISTOCK_PG_DSN", "postgresql://postgres@127.0.0.1:5432/test")
LIMITS = (100, 1000, 10_000)


def rows(n: int, start: int) -> list[NewRow]:
    return [
        (0, "received", f"sku-{(start + i) % 5000}", "L1", 1, None, None, None, None)
        for i in range(n)
    ]


def fill(url: str, n: int) -> None:
    store = open_store(url)
    try:
        head = store.head()
        for at in range(0, n, 1000):
            k = min(1000, n - at)
            head = store.append([Commit(tuple(rows(k, at)))], head)
    finally:
        store.close()


def throughput(url: str, n: int) -> None:
    fill(url, n)
    inv = Inventory.open(url)
    try:
        t = time.perf_counter()
        got = sum(1 for _ in inv.store.read(0))
        base = got / (time.perf_counter() - t)
        print(f"  Store.read (baseline)   {base:>12,.0f} rows/s   ({got} rows)")
        for limit in LIMITS:
            name = f"bench-{limit}-{uuid.uuid4().hex[:6]}"
            t = time.perf_counter()
            total = 0
            while batch := inv.feed(name, limit=limit):
                total += len(batch)
                inv.ack(name, batch[-1].seq)
            rate = total / (time.perf_counter() - t)
            print(
                f"  feed+ack limit={limit:<6}  {rate:>12,.0f} entries/s "
                f"({total} entries, {rate / base:.2f} x baseline)"
            )
    finally:
        inv.close()


def _writer(url: str, conn: Connection) -> None:
    """Child process: on each message, pause a little (so the parent is
    blocked in feed by then), append one row, send when the commit returned."""
    store = open_store(url)
    rng = random.Random(7)
    try:
        while conn.recv() is not None:
            time.sleep(0.02 + rng.random() * 0.03)
            store.append([Commit(tuple(rows(1, 0)))], store.head())
            conn.send(time.monotonic())
    finally:
        store.close()


def wake_latency(url: str, tries: int) -> None:
    inv = Inventory.open(url)
    parent, child = mp.get_context("spawn").Pipe()
    proc = mp.get_context("spawn").Process(target=_writer, args=(url, child))
    proc.start()
    lat: list[float] = []
    try:
        inv.ack("wake", inv.store.head())
        for _ in range(tries):
            parent.send(1)
            got = inv.feed("wake", wait=5.0)
            back = time.monotonic()
            committed = parent.recv()
            if not got:
                print("  (a try saw nothing within 5 s)")
                continue
            lat.append(back - committed)
            inv.ack("wake", got[-1].seq)
    finally:
        parent.send(None)
        proc.join(30)
        inv.close()
    lat.sort()
    p99 = lat[min(len(lat) - 1, round(0.99 * (len(lat) - 1)))]
    print(
        f"  wait= wake latency       median {statistics.median(lat) * 1000:.1f} ms, "
        f"p99 {p99 * 1000:.1f} ms, max {lat[-1] * 1000:.1f} ms ({len(lat)} tries)"
    )


@contextmanager
def pg_url() -> Iterator[str | None]:
    try:
        import psycopg

        with psycopg.connect(DSN, connect_timeout=3) as c:
            c.execute("SELECT 1")
    except Exception as exc:  # no server: say so and skip
        print(f"PostgreSQL: skipped ({type(exc).__name__}: {exc})")
        yield None
        return
    schema = f"feed_bench_{uuid.uuid4().hex[:8]}"
    try:
        yield f"{DSN}{'&' if '?' in DSN else '?'}schema={schema}"
    finally:
        with psycopg.connect(DSN, autocommit=True) as c:
            c.execute(
                psycopg.sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(
                    psycopg.sql.Identifier(schema)
                )
            )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rows", type=int, default=50_000)
    ap.add_argument("--tries", type=int, default=50)
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        url = f"sqlite:///{d}/feed.db"
        print(f"SQLite ({a.rows} rows)")
        throughput(url, a.rows)
        wake_latency(url, a.tries)
    with pg_url() as pg:
        if pg is not None:
            print(f"PostgreSQL ({a.rows} rows)")
            throughput(pg, a.rows)
            wake_latency(pg, a.tries)


if __name__ == "__main__":
    main()
