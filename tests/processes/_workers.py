"""Helper processes for the contention, crash and catch-up tests, and the
PostgreSQL plumbing those tests share.

Run as a script (``python tests/processes/_workers.py crash URL LOG RUN SEED`` or
``... wait URL TIMEOUT``) or imported by a ``multiprocessing`` child.
It imports only omnistock and the standard library (never pytest, and numba
only once a bulk hold needs its kernels), so a helper process starts in well
under a second.
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

from omnistock import HoldBatch, HoldBatchResult, Inventory, Line, Location, Order, codec, errors
from omnistock.ledger import heldbatches

SKUS = ("hot-a", "hot-b", "hot-c")
LOCS = ("L1", "L2")
POSITIONS = tuple((s, loc) for s in SKUS for loc in LOCS)
CRASH_TTL = 3600  # seconds; part of a keyed hold's fingerprint, so fixed
SHORT_TTL = (0.05, 0.5)  # seconds: contention bulk holds that expire during the run
HELD = 1  # HoldBatchResult.status of a held order

# A bulk hold's orders as plain data: (order id, its lines as sorted [sku, loc, qty]).
BulkOrders = list[tuple[str, list[list[Any]]]]

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


# -- warm processes --------------------------------------------------------------------


def warm_context() -> Any:
    """A ``multiprocessing`` context whose processes fork from a server that
    has imported omnistock and these helpers and loaded every kernel once
    (``tests/processes/_warm.py``): each starts in milliseconds, clean (nothing of
    pytest's), and does its first bulk hold without importing numba.

    The server is started here, with this directory on its ``PYTHONPATH``
    (Python 3.11's forkserver does not pass ``sys.path`` on to it), and
    checked: a server that could not preload fails here, not slowly."""
    import multiprocessing
    from multiprocessing import forkserver

    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(["_warm"])
    here = os.path.dirname(os.path.abspath(__file__))
    old = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (here, old) if p)
    try:
        forkserver.ensure_running()
    finally:
        if old is None:
            del os.environ["PYTHONPATH"]
        else:
            os.environ["PYTHONPATH"] = old
    recv, send = ctx.Pipe(duplex=False)
    probe = ctx.Process(target=_report_warm, args=(send,))
    probe.start()
    send.close()
    warm = recv.recv() if recv.poll(60) else None
    recv.close()
    probe.join(30)
    if warm is not True:
        raise RuntimeError(
            f"the forkserver did not preload tests/processes/_warm.py ({warm!r}); "
            "was it started earlier without it?"
        )
    return ctx


def warm_kernels() -> None:
    """Compile (or load from numba's cache) the kernels a bulk hold and a
    replay use; the others (sourcing) are not needed here."""
    from omnistock.ledger import kernels, names

    for k in (
        kernels.decide_batch,
        kernels.compact_held,
        kernels.apply_deltas,
        names._offsets,
        names._append,
        names._find,
    ):
        k.compiled()


def _report_warm(conn: Any) -> None:
    from omnistock.ledger import kernels

    conn.send(kernels.decide_batch._fn is not None and "_warm" in sys.modules)


# -- shared set-up -------------------------------------------------------------------


def setup_network(url: str, stock: int) -> int:
    """Two locations and ``stock`` units of each hot SKU at each; returns the head."""
    with Inventory.open(url) as inv:
        for loc in LOCS:
            inv.add_location(Location(loc))
        for sku, loc in POSITIONS:
            inv.receive(sku, loc, stock)
        return inv.refresh()


def bulk_batch(
    rng: random.Random, prefix: str, n: int, max_qty: int, max_lines: int
) -> tuple[HoldBatch, BulkOrders]:
    """A ``HoldBatch`` of ``n`` orders ``<prefix>.<j>`` over the hot positions
    (distinct positions within an order), and the same orders as plain data.
    Now and then every order has one line and ``start`` is left out (the
    single-line kernel and row layout)."""
    one_line = rng.random() < 0.3
    orders: BulkOrders = []
    for j in range(n):
        picks = rng.sample(POSITIONS, 1 if one_line else rng.randint(1, max_lines))
        orders.append(
            (f"{prefix}.{j}", sorted([s, loc, rng.randint(1, max_qty)] for s, loc in picks))
        )
    lines = [ln for _, ls in orders for ln in ls]
    start = None
    if not one_line:
        start = [0]
        for _, ls in orders:
            start.append(start[-1] + len(ls))
    batch = HoldBatch(
        [o for o, _ in orders],
        [ln[0] for ln in lines],
        [ln[1] for ln in lines],
        [ln[2] for ln in lines],
        start=start,
    )
    return batch, orders


def decode_held_batch(data: str | None) -> BulkOrders:
    """A ``held-batch`` row's orders and their lines, by name (the layout of
    ``omnistock.ledger.heldbatches``)."""
    assert data is not None
    d = json.loads(data)
    orders, start, skus, locs, q = heldbatches.columns(d)  # skus, locs, q: one per line
    qty = q.tolist()
    bounds = start.tolist()
    return [
        (o, sorted([skus[k], locs[k], qty[k]] for k in range(bounds[j], bounds[j + 1])))
        for j, o in enumerate(orders)
    ]


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
    held_ids: set[str] = set()  # of those, the ones still HELD (long expiry)
    short_ids: set[str] = set()  # bulk members with a short TTL, maybe expired by now
    commits: dict[str, str] = {}  # key -> rid
    releases: dict[str, str] = {}
    receives: dict[str, list[Any]] = {}  # key -> [sku, loc, qty]
    sells: dict[str, list[Any]] = {}
    # token -> what the acknowledged bulk hold sent and was told (see below)
    batches: dict[str, dict[str, Any]] = {}
    refused_keys: list[str] = []  # keyed bulk holds that held nothing
    last_short = 0  # latest expiry (us) of my short bulk holds
    refused = conflicts = late = 0

    def order(i: int, j: int = 0) -> Order:
        n = rng.choice((1, 1, 2))
        picks = rng.sample(POSITIONS, n)
        return Order(f"w{k}-{i}-{j}", lines=[Line(s, rng.randint(1, 3), loc) for s, loc in picks])

    def took(r: Any) -> None:
        holds[r.id] = sorted([ln.sku, ln.location, ln.qty] for ln in r.lines)
        open_ids.append(r.id)
        held_ids.add(r.id)

    def hold_batch(i: int) -> None:
        nonlocal refused, last_short
        n = rng.choice((2, 3, 5, 8, 12, 20))
        batch, orders = bulk_batch(rng, f"w{k}-B{i}", n, 2, 3)
        short = rng.random() < 0.4
        ttl = rng.uniform(*SHORT_TTL) if short else 900
        key = f"w{k}-b{i}" if rng.random() < 0.5 else None
        res = inv.hold_many(batch, ttl=ttl, key=key)
        assert isinstance(res, HoldBatchResult) and len(res) == n
        status = res.status.tolist()
        assert set(status) <= {0, HELD}, status
        refused += status.count(0)
        if res.token is None:
            assert not res.held
            if key is not None:
                refused_keys.append(key)
            return
        exp = res.to_jsonable()["exp"]
        batches[res.token] = {
            "key": key,
            "orders": orders,
            "status": status,
            "exp": exp,
            "short": short,
        }
        for j in range(n):
            rid = res.reservation_id(j)
            if rid is None:
                continue
            if short:
                short_ids.add(rid)
            else:
                open_ids.append(rid)
                held_ids.add(rid)
        if short:
            last_short = max(last_short, exp)

    def pick_held() -> tuple[str, bool]:
        """A held reservation of mine to commit or release; True if it is a
        short-TTL bulk member (which may have expired meanwhile)."""
        if short_ids and (not held_ids or rng.random() < 0.3):
            return rng.choice(sorted(short_ids)), True
        return rng.choice(sorted(held_ids)), False

    ops_names = ("hold", "hold_many", "hold_batch", "commit", "release", "sell", "receive")
    weights = (26, 8, 10, 15, 15, 11, 15)
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
            elif op == "hold_batch":
                hold_batch(i)
            elif op == "commit" and (held_ids or short_ids):
                rid, short = pick_held()
                try:
                    inv.commit(rid, key=f"w{k}-c{i}")
                except errors.InvalidTransition:
                    if not short:
                        raise
                    short_ids.discard(rid)  # expired before the commit: not applied
                    late += 1
                    continue
                held_ids.discard(rid)
                if short:  # committed: it no longer expires
                    short_ids.discard(rid)
                    open_ids.append(rid)
                commits[f"w{k}-c{i}"] = rid
            elif op == "release" and (open_ids or short_ids):
                short = bool(short_ids) and (not open_ids or rng.random() < 0.3)
                rid = (
                    rng.choice(sorted(short_ids))
                    if short
                    else open_ids[rng.randrange(len(open_ids))]
                )
                try:
                    inv.release(rid, key=f"w{k}-x{i}")
                except errors.InvalidTransition:
                    if not short:
                        raise
                    short_ids.discard(rid)
                    late += 1
                    continue
                if short:
                    short_ids.discard(rid)
                else:
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
    barrier.wait(timeout=120)  # every worker has stopped writing commands
    # Let my short bulk holds come due and expire them (any worker may win
    # that race), so that nothing is due once every worker is past the next
    # barrier: the reports below then append nothing.
    wait = last_short / 1e6 - time.time()
    if wait > 0:
        time.sleep(wait + 0.01)
    inv.digest()
    barrier.wait(timeout=120)
    head = inv.refresh()
    digest = inv.digest()
    report = inv.check()
    inv.close()
    return {
        "k": k,
        "holds": holds,
        "commits": commits,
        "releases": releases,
        "receives": receives,
        "sells": sells,
        "batches": batches,
        "refused_keys": refused_keys,
        "refused": refused,
        "conflicts": conflicts,
        "late": late,
        "head": head,
        "digest": digest,
        "check_ok": report.ok,
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


def is_batch_key(key: str) -> bool:
    """A crash-test key that stands for a bulk hold (``crash_batch``)."""
    return key.endswith("-B")


def crash_batch(key: str) -> tuple[HoldBatch, BulkOrders]:
    """The bulk hold a crash-test batch key always stands for: 2 to 8 orders
    ``<key>.<j>`` of 1 to 3 lines, derived from the key (so a retry has the
    same fingerprint), and the same orders as plain data."""
    rng = random.Random(key)
    return bulk_batch(rng, key, rng.randint(2, 8), 5, 3)


def crash_writer(
    url: str,
    log_path: str,
    run: int,
    seed: int,
    threads: int = 4,
    err_path: str | None = None,
    notify: Any = None,
) -> None:
    """Keyed holds, keyed ``hold_many`` lists and keyed bulk holds
    (``hold_many(HoldBatch)``) from several threads until killed.

    Before a call it logs the keys it is about to send (an intent, flushed);
    after the call returns it logs each key with its result and fsyncs. Once
    the first acknowledgement is on disk it sends ``ready`` on ``notify`` (a
    ``multiprocessing`` connection), or prints it. ``err_path``: where its
    stderr goes (a forked writer's own stderr is not the test's)."""
    if err_path is not None:
        fd = os.open(err_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        os.dup2(fd, 2)
        os.close(fd)
    warm_kernels()  # a kill should land in a bulk commit, not in numba's import
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
            u = rng.random()
            if u < 0.4:
                keys = [base]
            elif u < 0.8:
                keys = [f"{base}-{j}" for j in range(4)]
            else:
                keys = [f"{base}-B"]
            write([{"intent": keys}], sync=False)
            if is_batch_key(keys[0]):
                res = inv.hold_many(crash_batch(keys[0])[0], ttl=CRASH_TTL, key=keys[0])
                # Stock is unlimited: every order of the batch must be held.
                results: list[Any] = [
                    res if res.held == len(res) else ValueError(f"status {res.status.tolist()}")
                ]
            elif len(keys) == 1:
                results = [inv.hold(crash_order(keys[0]), ttl=CRASH_TTL, key=keys[0])]
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
    if notify is None:
        print("ready", flush=True)
    else:
        notify.send("ready")
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
    print(
        json.dumps(
            {
                "moved": moved,
                "returned": returned,
                "elapsed": elapsed,
                "statements": during,
                "head": new_head,
                "available": inv.available(SKUS[0], LOCS[0]),
            }
        ),
        flush=True,
    )
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
