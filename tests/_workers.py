"""Helper processes for the contention, crash and catch-up tests, and the
PostgreSQL plumbing those tests share.

Run as a script (``python tests/_workers.py crash URL LOG RUN SEED`` or
``... wait URL TIMEOUT``) or imported by a ``multiprocessing`` spawn child.
It imports only omnistock and the standard library (never numba or pytest),
so a helper process starts in well under a second.
"""

from __future__ import annotations

import json
import os
import random
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from omnistock import Inventory, Line, Location, Order, codec, errors

SKUS = ("hot-a", "hot-b", "hot-c")
LOCS = ("L1", "L2")
POSITIONS = tuple((s, loc) for s in SKUS for loc in LOCS)
CRASH_TTL = 3600  # seconds; part of a keyed hold's fingerprint, so fixed

DSN = os.environ.get("OMNISTOCK_PG_DSN", "postgresql://postgres@127.0.0.1:5432/test")
REQUIRE_PG = os.environ.get("OMNISTOCK_REQUIRE_PG") == "1"


# -- PostgreSQL plumbing (used by the tests, not by the helper processes) ----------


def pg_unreachable() -> str | None:
    """Why PostgreSQL cannot be used here, or None if it can."""
    try:
        import psycopg
    except ImportError:
        return "psycopg 3 is not installed (pip install 'omnistock[postgres]')"
    try:
        with psycopg.connect(DSN, connect_timeout=3) as conn:
            conn.execute("SELECT 1")
    except Exception as e:  # any failure means "cannot test here"
        first = str(e).strip().splitlines()[0] if str(e).strip() else ""
        return f"{type(e).__name__}: {first}"
    return None


def pg_schema_url(tag: str) -> str:
    """The DSN with a fresh ``?schema=`` for one test."""
    schema = f"omnistock_{tag}_{uuid.uuid4().hex[:10]}"
    sep = "&" if "?" in DSN else "?"
    return f"{DSN}{sep}schema={schema}"


def pg_drop(url: str) -> None:
    """Drop the schema named in ``url`` (tolerates a schema that was never made)."""
    import psycopg
    from psycopg import sql

    schema = url.rsplit("schema=", 1)[1].split("&", 1)[0]
    with psycopg.connect(DSN, autocommit=True, connect_timeout=10) as conn:
        conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))


@contextmanager
def store_url(kind: str, tmp_path: Any, tag: str) -> Iterator[str]:
    """A fresh store URL of ``kind`` (``sqlite`` or ``postgresql``), removed
    afterwards. Without a reachable PostgreSQL the test is skipped, saying
    why -- unless ``OMNISTOCK_REQUIRE_PG=1`` (CI), where it fails."""
    import pytest

    if kind == "sqlite":
        yield f"sqlite:///{tmp_path / (tag + '.db')}"
        return
    why = pg_unreachable()
    if why is not None:
        msg = f"no PostgreSQL server reachable via OMNISTOCK_PG_DSN={DSN} ({why})"
        if REQUIRE_PG:
            pytest.fail(f"OMNISTOCK_REQUIRE_PG=1 but {msg}")
        pytest.skip(msg)
    url = pg_schema_url(tag)
    try:
        yield url
    finally:
        pg_drop(url)


# -- shared set-up -------------------------------------------------------------------


def setup_network(url: str, stock: int) -> int:
    """Two locations and ``stock`` units of each hot SKU at each; returns the head."""
    with Inventory.open(url) as inv:
        for loc in LOCS:
            inv.add_location(Location(loc))
        for sku, loc in POSITIONS:
            inv.receive(sku, loc, stock)
        return inv.refresh()


# -- contention ------------------------------------------------------------------------


def contention_worker(url: str, k: int, seed: int, ops: int, barrier: Any, out: Any) -> None:
    """Hammer the hot positions with ``ops`` random commands, record every
    acknowledged one, then (once every worker is done) report this process's
    ledger. Runs in a spawned process."""
    try:
        out.put(_contend(url, k, seed, ops, barrier))
    except BaseException as e:  # report, so the test fails with the cause
        import traceback

        out.put({"k": k, "crash": "".join(traceback.format_exception(e))})
        barrier.abort()


def _contend(url: str, k: int, seed: int, ops: int, barrier: Any) -> dict[str, Any]:
    rng = random.Random(seed)
    inv = Inventory.open(url)
    holds: dict[str, list[list[Any]]] = {}  # rid -> sorted [sku, loc, qty]
    open_ids: list[str] = []  # my reservations that are held or committed
    held_ids: set[str] = set()  # of those, the ones still HELD
    commits: dict[str, str] = {}  # key -> rid
    releases: dict[str, str] = {}
    receives: dict[str, list[Any]] = {}  # key -> [sku, loc, qty]
    sells: dict[str, list[Any]] = {}
    refused = conflicts = 0

    def order(i: int, j: int = 0) -> Order:
        n = rng.choice((1, 1, 2))
        picks = rng.sample(POSITIONS, n)
        return Order(f"w{k}-{i}-{j}", lines=[Line(s, rng.randint(1, 3), loc) for s, loc in picks])

    def took(r: Any) -> None:
        holds[r.id] = sorted([ln.sku, ln.location, ln.qty] for ln in r.lines)
        open_ids.append(r.id)
        held_ids.add(r.id)

    ops_names = ("hold", "hold_many", "commit", "release", "sell", "receive")
    weights = (30, 10, 15, 15, 12, 18)
    for i in range(ops):
        op = rng.choices(ops_names, weights)[0]
        try:
            if op == "hold":
                took(inv.hold(order(i)))
            elif op == "hold_many":
                for r in inv.hold_many([order(i, j) for j in range(3)]):
                    if isinstance(r, errors.InsufficientStock):
                        refused += 1
                    elif isinstance(r, errors.ConcurrencyConflict):
                        conflicts += 1
                    elif isinstance(r, errors.OmnistockError):
                        raise r
                    else:
                        took(r)
            elif op == "commit" and held_ids:
                rid = rng.choice(sorted(held_ids))
                inv.commit(rid, key=f"w{k}-c{i}")
                held_ids.discard(rid)
                commits[f"w{k}-c{i}"] = rid
            elif op == "release" and open_ids:
                rid = open_ids[rng.randrange(len(open_ids))]
                inv.release(rid, key=f"w{k}-x{i}")
                open_ids.remove(rid)
                held_ids.discard(rid)
                releases[f"w{k}-x{i}"] = rid
            elif op == "sell":
                sku, loc = rng.choice(POSITIONS)
                q = rng.randint(1, 2)
                key = f"w{k}-s{i}"
                inv.sell(loc, [Line(sku, q)], key=key)
                sells[key] = [sku, loc, q]
            elif op == "receive":
                sku, loc = rng.choice(POSITIONS)
                q = rng.randint(1, 4)
                key = f"w{k}-r{i}"
                inv.receive(sku, loc, q, key=key)
                receives[key] = [sku, loc, q]
        except errors.InsufficientStock:
            refused += 1
        except errors.ConcurrencyConflict:
            conflicts += 1  # gave up after bounded retries: definitely not applied
    barrier.wait(timeout=120)  # every worker has stopped writing
    head = inv.refresh()
    digest = inv.digest()
    report = inv.check()
    inv.close()
    return {
        "k": k, "holds": holds, "commits": commits, "releases": releases,
        "receives": receives, "sells": sells, "refused": refused, "conflicts": conflicts,
        "head": head, "digest": digest, "check_ok": report.ok,
        "problems": list(report.problems),
    }


# -- crash -------------------------------------------------------------------------------


def crash_order(key: str) -> Order:
    """The order a crash-test key always stands for (so a retry has the same
    fingerprint): 1 to 3 lines over distinct positions, derived from the key."""
    rng = random.Random(key)
    picks = rng.sample(POSITIONS, rng.randint(1, 3))
    return Order(key, lines=[Line(s, rng.randint(1, 5), loc) for s, loc in picks])


def crash_lines(key: str) -> list[tuple[str, str, int]]:
    return sorted((ln.sku, ln.location, ln.qty) for ln in crash_order(key).lines)


def crash_writer(url: str, log_path: str, run: int, seed: int, threads: int = 4) -> None:
    """Keyed holds and keyed ``hold_many`` batches from several threads until
    killed. Before a call it logs the keys it is about to send (an intent,
    flushed); after the call returns it logs each key with its result and
    fsyncs. Prints ``ready`` once the first acknowledgement is on disk."""
    inv = Inventory.open(url)
    log = open(log_path, "a", encoding="utf-8")  # noqa: SIM115 - lives until the kill
    lock = threading.Lock()
    ready = threading.Event()

    def write(lines: list[dict[str, Any]], sync: bool) -> None:
        with lock:
            log.write("".join(json.dumps(x) + "\n" for x in lines))
            log.flush()
            if sync:
                os.fsync(log.fileno())

    def loop(t: int) -> None:
        try:
            commands(t)
        except BaseException:  # a writer that stops must not look like a kill
            import traceback

            traceback.print_exc()
            os._exit(3)

    def commands(t: int) -> None:
        rng = random.Random(seed * 100 + t)
        for i in range(10**9):
            base = f"r{run}-t{t}-{i}"
            keys = [base] if rng.random() < 0.5 else [f"{base}-{j}" for j in range(4)]
            write([{"intent": keys}], sync=False)
            if len(keys) == 1:
                results: list[Any] = [inv.hold(crash_order(keys[0]), ttl=CRASH_TTL, key=keys[0])]
            else:
                results = inv.hold_many([crash_order(x) for x in keys], ttl=CRASH_TTL, keys=keys)
            acks = []
            for key, r in zip(keys, results, strict=True):
                if isinstance(r, Exception):
                    acks.append({"refused": key, "error": repr(r)})
                else:
                    acks.append({"ack": key, "result": codec.encode(r)})
            write(acks, sync=True)
            ready.set()

    for t in range(threads):
        threading.Thread(target=loop, args=(t,), daemon=True).start()
    ready.wait()
    print("ready", flush=True)
    while True:
        time.sleep(60)


# -- catch-up ----------------------------------------------------------------------------


def waiter(url: str, timeout: float) -> None:
    """Open the inventory, report the head, block in ``store.wait`` and report
    what happened: whether the head moved, when (wall clock) the wait returned,
    the statements this process ran during the wait and the head afterwards."""
    executed = [0]
    if url.startswith("postgres"):
        import psycopg

        original = psycopg.Connection.execute

        def counting(self: Any, *a: Any, **kw: Any) -> Any:
            executed[0] += 1
            return original(self, *a, **kw)

        psycopg.Connection.execute = counting  # type: ignore[method-assign]
    else:
        # sqlite3.Connection.execute cannot be patched: count the store's head reads.
        from omnistock.storage.sqlite import SQLiteStore

        head_of = SQLiteStore.head

        def counting_head(self: Any) -> int:
            executed[0] += 1
            return head_of(self)

        SQLiteStore.head = counting_head  # type: ignore[method-assign]
    inv = Inventory.open(url)
    head = inv.refresh()
    print(json.dumps({"waiting": head}), flush=True)
    executed[0] = 0
    t0 = time.monotonic()
    moved = inv.store.wait(head, timeout=timeout)
    returned = time.time()
    elapsed = time.monotonic() - t0
    during = executed[0]
    new_head = inv.refresh()
    print(json.dumps({
        "moved": moved, "returned": returned, "elapsed": elapsed, "statements": during,
        "head": new_head, "available": inv.available(SKUS[0], LOCS[0]),
    }), flush=True)
    inv.close()


def main(argv: list[str]) -> None:
    what = argv[1]
    if what == "crash":
        crash_writer(argv[2], argv[3], int(argv[4]), int(argv[5]))
    elif what == "wait":
        waiter(argv[2], float(argv[3]))
    else:
        raise SystemExit(f"unknown helper {what!r}")


if __name__ == "__main__":
    main(sys.argv)
