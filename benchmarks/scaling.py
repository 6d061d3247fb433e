"""Write scaling: durable holds/s for W writer processes, omnistock against raw SQL.

For each W of ``--procs`` (default 1, 2, 4, 8), W worker processes are
started, each opens its own connection, and all wait on one barrier before
the clock starts; each then makes holds for ``--seconds`` (default 4). Orders
are one line of 1 unit on a random SKU of ``--skus`` (64) at one of two
locations; stock is ample (10**12 per position), so no hold fails for want
of stock. The approaches (``--only``, default all three):

- ``omnistock``: each worker opens its own ``Inventory.open(url)`` on one
  shared store and calls ``inv.hold(Order(id, lines=[Line(sku, 1, loc)]))``
  (one call = one durable store transaction). "gave up" counts calls that
  raised ``errors.ConcurrencyConflict`` after the bounded retries. Other
  modes (``--modes``): ``batch``, ``hold_many`` of ``--batch`` orders (one
  transaction per call); ``bulk``, ``hold_many(HoldBatch)`` of ``--bulk``
  orders (one kernel call and one journal row each), cycling through 16
  batches built before timing.
- ``bare`` (PostgreSQL only): each worker has its own psycopg autocommit
  connection and runs one prepared
  ``UPDATE stock SET reserved = reserved + 1 WHERE sku = %s AND location = %s
  AND on_hand - reserved >= 1`` per hold: the fastest way to reserve in SQL.
- ``lock`` (PostgreSQL only): the Django/Saleor way, one transaction per hold:
  ``SELECT ... FOR UPDATE`` of the stock row, check in the application,
  ``UPDATE stock SET reserved = reserved + 1``, ``INSERT INTO allocation``,
  ``COMMIT`` (prepared statements, 5 round trips).

Worker k of every approach draws the same SKU/location sequence
(``random.Random(k)``). The baselines' tables (``stock``, ``allocation``) live
in a private schema created for the run and dropped afterwards; they are
re-created empty before each cell, as omnistock gets a fresh store per cell.
After each cell the stores are checked: omnistock's ``check()`` passes, and a
baseline's ``sum(reserved)`` (and ``count(*)`` of allocations) equals the
holds its workers counted. A baseline statement that fails with a
serialization failure, deadlock, lock timeout or cancel is counted in "gave
up", not raised. A cell that fails (e.g. the store is broken) is reported as
an error row and the run goes on.

Cells run per W in the order omnistock, bare, lock; with ``--repeats N`` that
sequence is repeated N times (ABAB order) and the table gives the median
holds/s, the p50/p99 of all calls of all repeats, and the gave-up total.
The ratio column is omnistock's ``hold`` holds/s divided by the row's, at
the same W. After the table come the targets at the largest W: omnistock
>= 1.0x lock, >= 0.5x bare, 0 gave up, and omnistock(W max)/omnistock(W min)
>= 2.0, each marked met or missed. ``--json PATH`` writes the raw figures
(every repeat of every cell).

Defaults: ``--stores postgresql --modes single``, i.e. one invocation is the
PostgreSQL comparison (12 cells). The baselines are PostgreSQL-only, so the
default leaves SQLite out rather than spending half the run on cells with
nothing to compare against; SQLite and the other modes run on request:

    python benchmarks/scaling.py                            # the comparison
    python benchmarks/scaling.py --procs 1,2 --seconds 0.5  # smoke test
    python benchmarks/scaling.py --repeats 3 --json out.json
    python benchmarks/scaling.py --only bare,lock           # baselines only
    python benchmarks/scaling.py --stores sqlite,postgresql --only omnistock \\
        --modes single,batch,bulk --procs 1,2,4 --sqlite-sync normal,full

PostgreSQL comes from ``OMNISTOCK_PG_DSN`` (default
``postgresql://postgres@127.0.0.1:5432/test``); omnistock gets a fresh
schema per cell, dropped afterwards. It prints a Markdown table (pasted into
docs/scaling.md).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import queue
import random
import statistics
import sys
import tempfile
import time
import traceback
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from omnistock import HoldBatch, Inventory, Line, Location, Order, errors

if TYPE_CHECKING:
    import psycopg
    from psycopg import sql

DSN = os.environ.get("OMNISTOCK_PG_DSN", "postgresql://postgres@127.0.0.1:5432/test")
LOCS = ("L1", "L2")
ON_HAND = 10**12
APPROACHES = ("omnistock", "bare", "lock")
BASELINES = ("bare", "lock")
LABELS = {
    "bare": "bare UPDATE (autocommit)",
    "lock": "SELECT FOR UPDATE + UPDATE + INSERT",
}
BARRIER_TIMEOUT = 300.0  # s: spawning, imports, opening (and JIT) before timing

# The raw-SQL baselines; ``{s}`` is the run's schema (a psycopg Identifier).
SQL_BARE = (
    "UPDATE {s}.stock SET reserved = reserved + 1 "
    "WHERE sku = %s AND location = %s AND on_hand - reserved >= 1"
)
SQL_LOCK = "SELECT on_hand, reserved FROM {s}.stock WHERE sku = %s AND location = %s FOR UPDATE"
SQL_UPDATE = "UPDATE {s}.stock SET reserved = reserved + 1 WHERE sku = %s AND location = %s"
SQL_INSERT = "INSERT INTO {s}.allocation (order_id, sku, location, qty) VALUES (%s, %s, %s, %s)"
SQL_TABLES = (
    "DROP TABLE IF EXISTS {s}.allocation, {s}.stock",
    "CREATE TABLE {s}.stock (sku text NOT NULL, location text NOT NULL, "
    "on_hand bigint NOT NULL, reserved bigint NOT NULL DEFAULT 0, "
    "PRIMARY KEY (sku, location))",
    "CREATE TABLE {s}.allocation (id bigserial PRIMARY KEY, order_id text NOT NULL, "
    "sku text NOT NULL, location text NOT NULL, qty int NOT NULL, "
    "created timestamptz NOT NULL DEFAULT now())",
)

# What one worker reports: (warm-up holds that succeeded, timed holds that
# succeeded, gave up, refused, elapsed s, per-call latencies s).
Result = tuple[int, int, int, int, float, list[float]]
Writer = Callable[[int, dict[str, Any], Any], Result]


# -- omnistock ---------------------------------------------------------------


def _setup(url: str, skus: int) -> None:
    with Inventory.open(url) as inv:
        for loc in LOCS:
            inv.add_location(Location(loc))
        for i in range(skus):
            for loc in LOCS:
                inv.receive(f"sku-{i}", loc, ON_HAND)


def _bulk(k: int, i: int, n: int, rng: random.Random, skus: int) -> HoldBatch:
    return HoldBatch(
        [f"p{k}-{i}-{j}" for j in range(n)],
        [f"sku-{rng.randrange(skus)}" for _ in range(n)],
        [rng.choice(LOCS) for _ in range(n)],
        [1] * n,
    )


def warm_counters(inv: Inventory, skus: int) -> None:
    """A worker without a replica reads each SKU's counters the first time
    a command names it (one round trip; a replica was loaded whole at
    open). Read them all before timing, as a worker that has served a
    while holds them: the timed window then measures holds, as it does
    for replicas, not 64 first reads. Without a replica, ``available``
    reads the SKU's counters and keeps them; with one, it answers from
    the replica (after catching up with the journal's tail)."""
    for j in range(skus):
        inv.available(f"sku-{j}")


def _omni_writer(k: int, cfg: dict[str, Any], barrier: Any) -> Result:
    mode: str = cfg["mode"]
    batch: int = cfg["size"]
    skus: int = cfg["skus"]
    rng = random.Random(k)
    inv = Inventory.open(cfg["url"], replica=mode != "worker")
    n = conflicts = i = 0
    lat: list[float] = []

    def order() -> Order:
        nonlocal i
        i += 1
        return Order(f"p{k}-{i}", lines=[Line(f"sku-{rng.randrange(skus)}", 1, rng.choice(LOCS))])

    inv.hold(order())  # warm up: connection, statement preparation
    warm_counters(inv, skus)
    # Bulk mode cycles through prebuilt batches: a reused order id gets a
    # new reservation id (its batch token) each time.
    pool = [_bulk(k, j, batch, rng, skus) for j in range(16)] if mode == "bulk" else []
    if pool:
        inv.hold_many(pool[0])  # warm up the kernels
    barrier.wait(BARRIER_TIMEOUT)
    t0 = time.perf_counter()
    end = t0 + cfg["seconds"]
    while (now := time.perf_counter()) < end:
        if mode in ("single", "worker"):
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
    return (1, n, conflicts, 0, elapsed, lat)


def _pg_schema(tag: str) -> str:
    return f"omnistock_bench_{tag}_{uuid.uuid4().hex[:8]}"


def _url(store: str, tmp: Path, tag: str, sync: str) -> str:
    if store == "sqlite":
        return f"sqlite:///{tmp / (tag + '.db')}?synchronous={sync}"
    sep = "&" if "?" in DSN else "?"
    return f"{DSN}{sep}schema={_pg_schema(tag)}"


def _drop(url: str) -> None:
    if not url.startswith("postgres"):
        return
    schema = url.rpartition("schema=")[2]
    try:
        from omnistock.storage.postgres import PostgresStore

        PostgresStore(url).drop()
    finally:  # the store's own drop may be broken: make sure the schema goes
        _drop_schema(schema)


def _omni_cell(
    store: str, procs: int, mode: str, args: argparse.Namespace, tmp: Path, sync: str
) -> list[Result]:
    tag = f"{store}_{procs}_{mode}_{sync}"
    url = _url(store, tmp, tag, sync)
    try:
        _setup(url, args.skus)
        cfg = {
            "url": url,
            "mode": mode,
            "size": args.bulk if mode == "bulk" else args.batch,
            "skus": args.skus,
            "seconds": args.seconds,
        }
        res = _run_workers(_omni_writer, procs, cfg, args.seconds)
        with Inventory.open(url) as inv:
            report = inv.check()
            if not report.ok:
                raise RuntimeError(f"check() failed after the cell: {report}")
    finally:
        _drop(url)
    return res


# -- raw-SQL baselines (PostgreSQL) --------------------------------------------


def _connect() -> psycopg.Connection[Any]:
    import psycopg

    return psycopg.connect(DSN, autocommit=True, connect_timeout=10)


def _q(schema: str, text: str) -> sql.Composed:
    from psycopg import sql

    return sql.SQL(text).format(s=sql.Identifier(schema))


def _drop_schema(schema: str) -> None:
    from psycopg import sql

    with _connect() as conn:
        conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))


def _sql_reset(schema: str, skus: int) -> None:
    """Fresh, analysed baseline tables with ample stock in ``schema``."""
    with _connect() as conn:
        for text in SQL_TABLES:
            conn.execute(_q(schema, text))
        with conn.cursor() as cur:
            cur.executemany(
                _q(schema, "INSERT INTO {s}.stock (sku, location, on_hand) VALUES (%s, %s, %s)"),
                [(f"sku-{i}", loc, ON_HAND) for i in range(skus) for loc in LOCS],
            )
        conn.execute(_q(schema, "ANALYZE {s}.stock"))


def _sql_verify(schema: str, kind: str, expected: int) -> None:
    """The tables hold exactly the holds the workers counted."""
    with _connect() as conn:
        row = conn.execute(
            _q(schema, "SELECT COALESCE(sum(reserved), 0) FROM {s}.stock")
        ).fetchone()
        reserved = int(row[0]) if row else -1
        row = conn.execute(_q(schema, "SELECT count(*) FROM {s}.allocation")).fetchone()
        allocations = int(row[0]) if row else -1
    want = expected if kind == "lock" else 0
    if reserved != expected or allocations != want:
        raise RuntimeError(
            f"{kind}: workers counted {expected} holds, the tables have reserved={reserved}, "
            f"{allocations} allocations"
        )


def _sql_writer(k: int, cfg: dict[str, Any], barrier: Any) -> Result:
    from psycopg import errors as pgerr

    gave_up_on = (
        pgerr.SerializationFailure,
        pgerr.DeadlockDetected,
        pgerr.LockNotAvailable,
        pgerr.QueryCanceled,
    )
    kind: str = cfg["kind"]
    skus: int = cfg["skus"]
    schema: str = cfg["schema"]
    rng = random.Random(k)  # the same SKU/location draws as omnistock's worker k
    i = 0
    with _connect() as conn:
        # Rendered once: the per-call cost is the driver's, not the composing.
        bare = _q(schema, SQL_BARE).as_bytes(conn)
        lock = _q(schema, SQL_LOCK).as_bytes(conn)
        update = _q(schema, SQL_UPDATE).as_bytes(conn)
        insert = _q(schema, SQL_INSERT).as_bytes(conn)
        cur = conn.cursor()

        def hold_bare() -> bool:
            cur.execute(bare, (f"sku-{rng.randrange(skus)}", rng.choice(LOCS)), prepare=True)
            return cur.rowcount == 1

        def hold_lock() -> bool:
            nonlocal i
            i += 1
            sku, loc = f"sku-{rng.randrange(skus)}", rng.choice(LOCS)
            with conn.transaction():
                cur.execute(lock, (sku, loc), prepare=True)
                row = cur.fetchone()
                if row is None or row[0] - row[1] < 1:
                    return False
                cur.execute(update, (sku, loc), prepare=True)
                cur.execute(insert, (f"p{k}-{i}", sku, loc, 1), prepare=True)
            return True

        hold = hold_bare if kind == "bare" else hold_lock
        warm = int(hold())  # warm up: connection, statement preparation
        n = gave_up = refused = 0
        lat: list[float] = []
        barrier.wait(BARRIER_TIMEOUT)
        t0 = time.perf_counter()
        end = t0 + cfg["seconds"]
        while (now := time.perf_counter()) < end:
            try:
                if hold():
                    n += 1
                else:
                    refused += 1
            except gave_up_on:
                gave_up += 1
            lat.append(time.perf_counter() - now)
        elapsed = time.perf_counter() - t0
    return (warm, n, gave_up, refused, elapsed, lat)


def _sql_cell(kind: str, procs: int, args: argparse.Namespace, schema: str) -> list[Result]:
    _sql_reset(schema, args.skus)
    cfg = {"kind": kind, "schema": schema, "skus": args.skus, "seconds": args.seconds}
    res = _run_workers(_sql_writer, procs, cfg, args.seconds)
    _sql_verify(schema, kind, sum(r[0] + r[1] for r in res))
    return res


def _pg_info() -> dict[str, str]:
    names = ("server_version", "synchronous_commit")
    with _connect() as conn:
        row = conn.execute(
            "SELECT current_setting('server_version'), current_setting('synchronous_commit')"
        ).fetchone()
    return dict(zip(names, (str(x) for x in row), strict=True)) if row else {}


# -- processes and figures ---------------------------------------------------


def _child(fn: Writer, k: int, cfg: dict[str, Any], barrier: Any, out: Any) -> None:
    try:
        res = fn(k, cfg, barrier)
    except BaseException as exc:
        barrier.abort()  # the others stop waiting at once
        traceback.print_exc()
        out.put((k, None, f"{type(exc).__name__}: {exc}"))
    else:
        out.put((k, res, None))


def _run_workers(fn: Writer, procs: int, cfg: dict[str, Any], seconds: float) -> list[Result]:
    """Start ``procs`` processes running ``fn``, released together by a barrier."""
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(procs)
    out = ctx.Queue()
    ps = [ctx.Process(target=_child, args=(fn, k, cfg, barrier, out)) for k in range(procs)]
    for p in ps:
        p.start()
    got: list[tuple[int, Result | None, str | None]] = []
    limit = BARRIER_TIMEOUT + seconds + 60
    deadline = time.monotonic() + limit
    try:
        while len(got) < procs:
            try:
                got.append(out.get(timeout=0.5))
            except queue.Empty:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"workers did not report within {limit:g} s") from None
                if not any(p.is_alive() for p in ps):
                    try:
                        got.append(out.get(timeout=2))
                    except queue.Empty:
                        raise RuntimeError("a worker process died without reporting") from None
    finally:
        for p in ps:
            p.join(timeout=10)
            if p.is_alive():
                p.terminate()
                p.join()
    failed = [e for _, _, e in got if e is not None]
    if failed:
        raise RuntimeError(f"{len(failed)} of {procs} workers failed; first: {failed[0]}")
    return [r for _, r, _ in got if r is not None]


def _sample(res: list[Result]) -> dict[str, Any]:
    held = sum(r[1] for r in res)
    elapsed = max(r[4] for r in res)
    lat = sorted(x for r in res for x in r[5])
    return {
        "holds_s": held / elapsed,
        "held": held,
        "gave_up": sum(r[2] for r in res),
        "refused": sum(r[3] for r in res),
        "elapsed_s": elapsed,
        "calls": len(lat),
        **_pcts(lat),
        "lat": lat,
    }


def _pcts(lat: Sequence[float]) -> dict[str, float]:
    if not lat:
        return {"p50_ms": float("nan"), "p99_ms": float("nan")}
    return {
        "p50_ms": statistics.median(lat) * 1000,
        "p99_ms": lat[min(len(lat) - 1, int(len(lat) * 0.99))] * 1000,
    }


def _summary(cell: dict[str, Any], runs: list[dict[str, Any]]) -> dict[str, Any]:
    """One table row: median holds/s, latencies of all calls, gave-up total."""
    row = dict(cell)
    errs = [r["error"] for r in runs if "error" in r]
    row["runs"] = [{k: v for k, v in r.items() if k != "lat"} for r in runs]
    if errs:
        row["error"] = errs[0]
        return row
    lat = sorted(x for r in runs for x in r["lat"])
    row.update(
        holds_s=statistics.median(r["holds_s"] for r in runs),
        gave_up=sum(r["gave_up"] for r in runs),
        refused=sum(r["refused"] for r in runs),
        **_pcts(lat),
    )
    return row


def _label(row: dict[str, Any], args: argparse.Namespace) -> str:
    if row["approach"] != "omnistock":
        return LABELS[str(row["approach"])]
    return (
        "omnistock "
        + {
            "single": "hold",
            "worker": "hold, replica=False",
            "batch": f"hold_many x{args.batch}",
            "bulk": f"hold_many(HoldBatch) x{args.bulk}",
        }[str(row["mode"])]
    )


def _find(rows: list[dict[str, Any]], **want: Any) -> dict[str, Any] | None:
    for r in rows:
        if "error" not in r and all(r.get(k) == v for k, v in want.items()):
            return r
    return None


def _ratio(a: dict[str, Any] | None, b: dict[str, Any] | None) -> float | None:
    if a is None or b is None or not b["holds_s"]:
        return None
    return float(a["holds_s"]) / float(b["holds_s"])


def _print_row(row: dict[str, Any], rows: list[dict[str, Any]], args: argparse.Namespace) -> None:
    head = f"| {row['store_label']} | {row['procs']} | {_label(row, args)} "
    if "error" in row:
        print(f"{head}| error: {row['error'][:80]} | | | | |", flush=True)
        return
    ratio = ""
    if row["approach"] in BASELINES:
        want = {"store_label": row["store_label"], "procs": row["procs"]}
        x = _ratio(_find(rows, **want, approach="omnistock", mode="single"), row)
        ratio = f"{x:.2f}x" if x is not None else "n/a"
    print(
        f"{head}| {row['holds_s']:,.0f} | {row['p50_ms']:.2f} | {row['p99_ms']:.2f} "
        f"| {row['gave_up']:,} | {ratio} |",
        flush=True,
    )


def _targets(
    rows: list[dict[str, Any]], procs: list[int], label: str, mode: str = "single"
) -> list[dict[str, Any]]:
    """The targets at the largest W for one PostgreSQL store and one
    omnistock mode (``single``: replicas, ``worker``: no replica)."""
    hi, lo = max(procs), min(procs)

    def at(w: int, approach: str) -> dict[str, Any] | None:
        want = {"store_label": label, "procs": w, "approach": approach}
        return _find(rows, **want, **({"mode": mode} if approach == "omnistock" else {}))

    omni = at(hi, "omnistock")
    scale = _ratio(omni, at(lo, "omnistock")) if hi != lo else None
    out: list[dict[str, Any]] = [
        {"target": f"omnistock / {LABELS['lock']} >= 1.0x", "value": _ratio(omni, at(hi, "lock"))},
        {"target": f"omnistock / {LABELS['bare']} >= 0.5x", "value": _ratio(omni, at(hi, "bare"))},
        {"target": "omnistock gave up = 0", "value": None if omni is None else omni["gave_up"]},
        {"target": f"omnistock W={hi} / W={lo} >= 2.0x", "value": scale},
    ]
    for t, need in zip(out, (1.0, 0.5, None, 2.0), strict=True):
        v = t["value"]
        if v is None:
            t["verdict"] = "n/a"
        elif need is None:
            t["verdict"] = "met" if v == 0 else "missed"
        else:
            t["verdict"] = "met" if v >= need else "missed"
    return out


def _csv(text: str, allowed: Sequence[str] | None = None) -> list[str]:
    items = [x.strip() for x in text.split(",") if x.strip()]
    if allowed is not None:
        bad = [x for x in items if x not in allowed]
        if bad:
            raise SystemExit(f"unknown {bad}; choose from {', '.join(allowed)}")
    return items


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    ap.add_argument("--stores", default="postgresql", help="sqlite, postgresql (comma list)")
    ap.add_argument("--procs", default="1,2,4,8", help="writer process counts W")
    ap.add_argument("--seconds", type=float, default=4.0, help="timed seconds per cell")
    ap.add_argument("--repeats", type=int, default=1, help="repeats per cell (median holds/s)")
    ap.add_argument(
        "--only",
        default=",".join(APPROACHES),
        help="approaches: omnistock, bare, lock (the last two PostgreSQL only)",
    )
    ap.add_argument(
        "--modes",
        default="single",
        help="omnistock modes: single, worker (single holds, replica=False), batch, bulk",
    )
    ap.add_argument("--batch", type=int, default=100)
    ap.add_argument("--bulk", type=int, default=1000)
    ap.add_argument("--skus", type=int, default=64)
    ap.add_argument(
        "--sqlite-sync",
        default="normal",
        help="comma list of SQLite synchronous modes (normal, full)",
    )
    ap.add_argument("--json", metavar="PATH", help="write the raw figures here")
    args = ap.parse_args(argv)
    stores = _csv(args.stores, ("sqlite", "postgresql"))
    only = _csv(args.only, APPROACHES)
    modes = _csv(args.modes, ("single", "worker", "batch", "bulk")) if "omnistock" in only else []
    baselines = [b for b in BASELINES if b in only]
    procs_list = [int(x) for x in _csv(args.procs)]
    if not procs_list or min(procs_list) < 1 or args.repeats < 1:
        raise SystemExit("--procs and --repeats must be positive")

    pg = _pg_info() if "postgresql" in stores else {}
    print(
        f"# {os.cpu_count()} CPUs, python {sys.version.split()[0]}, "
        + (f"PostgreSQL {pg['server_version']}, " if pg else "")
        + f"{args.seconds:g} s per cell x {args.repeats} repeat(s) (median holds/s), "
        f"{args.skus} SKUs x 2 locations, batch {args.batch}, bulk {args.bulk}"
    )
    print(
        "| store | writer processes | approach | holds/s (total) | call p50 ms | call p99 ms "
        "| gave up | omnistock hold / this |"
    )
    print("|---|---|---|---|---|---|---|---|")
    rows: list[dict[str, Any]] = []
    labels: list[str] = []
    sql_schema = _pg_schema("sql") if "postgresql" in stores and baselines else None
    try:
        if sql_schema is not None:
            from psycopg import sql

            with _connect() as conn:
                conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(sql_schema)))
        with tempfile.TemporaryDirectory() as d:
            tmp = Path(d)
            for store in stores:
                for sync in args.sqlite_sync.split(",") if store == "sqlite" else ["on"]:
                    label = (
                        f"sqlite (synchronous={sync})"
                        if store == "sqlite"
                        else f"postgresql (synchronous_commit={pg['synchronous_commit']})"
                    )
                    labels.append(label)
                    for procs in procs_list:
                        # Each W: omnistock's modes, then the baselines, N times over.
                        # A worker without a replica is PostgreSQL's (it
                        # reads the database's counter tables).
                        cells: list[dict[str, Any]] = [
                            {"approach": "omnistock", "mode": m}
                            for m in modes
                            if m != "worker" or store == "postgresql"
                        ]
                        if store == "postgresql":
                            cells += [{"approach": b, "mode": "single"} for b in baselines]
                        runs: list[list[dict[str, Any]]] = [[] for _ in cells]
                        for _ in range(args.repeats):
                            for cell, got in zip(cells, runs, strict=True):
                                try:
                                    if cell["approach"] == "omnistock":
                                        res = _omni_cell(
                                            store, procs, cell["mode"], args, tmp, sync
                                        )
                                    else:
                                        assert sql_schema is not None
                                        res = _sql_cell(cell["approach"], procs, args, sql_schema)
                                    got.append(_sample(res))
                                except Exception as exc:
                                    print(f"{label} W={procs} {cell}: {exc}", file=sys.stderr)
                                    got.append({"error": f"{type(exc).__name__}: {exc}"})
                        for cell, got in zip(cells, runs, strict=True):
                            base = {"store": store, "store_label": label, "sync": sync}
                            row = _summary({**base, "procs": procs, **cell}, got)
                            rows.append(row)
                            _print_row(row, rows, args)
    finally:
        if sql_schema is not None:
            _drop_schema(sql_schema)

    targets: dict[str, list[dict[str, Any]]] = {}
    for mode in (m for m in ("single", "worker") if m in modes and baselines):
        for label in (x for x in labels if x.startswith("postgresql")):
            targets[f"{label} {mode}"] = ts = _targets(rows, procs_list, label, mode)
            what = "`hold`" if mode == "single" else "`hold`, workers without a replica"
            print(f"\nTargets at W={max(procs_list)}, {label}, omnistock {what}:\n")
            print("| target | measured | |\n|---|---|---|")
            for t in ts:
                v = t["value"]
                shown = "n/a" if v is None else f"{v:,}" if isinstance(v, int) else f"{v:.2f}x"
                print(f"| {t['target']} | {shown} | {t['verdict']} |")
    if args.json:
        doc = {
            "cpus": os.cpu_count(),
            "python": sys.version.split()[0],
            "postgresql": pg,
            "args": vars(args),
            "rows": rows,
            "targets": targets,
        }
        Path(args.json).write_text(json.dumps(doc, indent=2, default=str) + "\n")


if __name__ == "__main__":
    main()
