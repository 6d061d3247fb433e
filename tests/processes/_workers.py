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
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from omnistock import HoldBatch, HoldBatchResult, Inventory, Line, Location, Order, codec, errors
from omnistock.ledger import heldbatches

SKUS = ("hot-a", "hot-b", "hot-c")
LOCS = ("L1", "L2")
POSITIONS = tuple((s, loc) for s in SKUS for loc in LOCS)
CRASH_TTL = 3600  # seconds; part of a keyed hold's fingerprint, so fixed
SHORT_TTL = (0.05, 0.5)  # seconds: contention holds that expire during the run
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


def _report(out: Any, k: int, barrier: Any, work: Callable[[], dict[str, Any]]) -> None:
    """Put ``work()``'s report on ``out``; if it raises, a crash report
    naming the cause (so the test fails with it) and the barrier broken."""
    try:
        out.put(work())
    except BaseException as e:
        import traceback

        out.put({"k": k, "crash": "".join(traceback.format_exception(e))})
        barrier.abort()


def contention_worker(
    url: str, k: int, seed: int, ops: int, barrier: Any, out: Any, worker: bool = False
) -> None:
    """Hammer the hot positions with ``ops`` random commands, record every
    acknowledged one, then (once every worker is done) report this process's
    ledger. Runs in a spawned process. ``worker``: without a replica
    (``replica=False``), making only the commands such a worker plans on
    counters (no walk-in sales, no bulk holds)."""
    _report(out, k, barrier, lambda: _contend(url, k, seed, ops, barrier, worker))


def _contend(
    url: str, k: int, seed: int, ops: int, barrier: Any, worker: bool = False
) -> dict[str, Any]:
    rng = random.Random(seed)
    inv = Inventory.open(url, replica=not worker)
    holds: dict[str, list[list[Any]]] = {}  # rid -> sorted [sku, loc, qty]
    open_ids: list[str] = []  # my reservations that are held or committed
    held_ids: set[str] = set()  # of those, the ones still HELD (long expiry)
    short_ids: set[str] = set()  # holds and bulk members with a short TTL, maybe expired
    commits: dict[str, str] = {}  # key -> rid
    releases: dict[str, str] = {}
    receives: dict[str, list[Any]] = {}  # key -> [sku, loc, qty]
    sells: dict[str, list[Any]] = {}
    # token -> what the acknowledged bulk hold sent and was told (see below)
    batches: dict[str, dict[str, Any]] = {}
    refused_keys: list[str] = []  # keyed bulk holds that held nothing
    allocs: dict[str, list[Any]] = {}  # key -> [rid, status] of an acknowledged allocation
    unfillable_keys: list[str] = []  # keyed allocations answered unfillable
    short_holds: list[str] = []  # holds and allocations acknowledged with a short TTL
    last_short = 0  # latest expiry (us) of my short holds and bulk holds
    refused = conflicts = late = 0

    def order(i: int, j: int = 0) -> Order:
        n = rng.choice((1, 1, 2))
        picks = rng.sample(POSITIONS, n)
        return Order(f"w{k}-{i}-{j}", lines=[Line(s, rng.randint(1, 3), loc) for s, loc in picks])

    def pick_ttl() -> tuple[float | None, bool]:
        """Now and then a short TTL, so that holds expire by the clock mid-run."""
        if rng.random() < 0.2:
            return rng.uniform(*SHORT_TTL), True
        return None, False

    def took(r: Any, short: bool = False) -> None:
        nonlocal last_short
        holds[r.id] = sorted([ln.sku, ln.location, ln.qty] for ln in r.lines)
        if short:
            short_ids.add(r.id)
            short_holds.append(r.id)
            last_short = max(last_short, int(r.expires_at.timestamp() * 1e6) + 1)
        else:
            open_ids.append(r.id)
            held_ids.add(r.id)

    def allocate(i: int) -> None:
        """Unpinned lines sourced by the policy (split over both locations
        when one is short); sometimes a partial order, sometimes short-lived.
        ``unfillable`` is a refusal: nothing written, not even the key."""
        nonlocal refused
        skus = rng.sample(SKUS, rng.choice((1, 1, 2)))
        partial = rng.random() < 0.3
        lines = [Line(s, rng.randint(1, 5)) for s in skus]
        o = Order(f"w{k}-A{i}", lines=lines, allow_partial=partial)
        t, short = pick_ttl()
        key = f"w{k}-a{i}"
        a = inv.allocate(o, ttl=t, key=key)
        if a.status == "unfillable":
            assert a.reservation is None and not a.lines, a
            unfillable_keys.append(key)
            refused += 1
            return
        r = a.reservation
        assert r is not None and r.id.startswith(o.id + "#"), a
        assert sorted(a.lines, key=str) == sorted(r.lines, key=str), a
        asked, got = sum(ln.qty for ln in lines), sum(x.qty for x in a.lines)
        assert 0 < got <= asked and a.status == ("allocated" if got == asked else "partial"), a
        assert partial or got == asked, a
        took(r, short)
        allocs[key] = [r.id, a.status]

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
        """A held reservation of mine to commit or release; True if it has a
        short TTL (a hold, an allocation or a bulk member: it may have expired
        meanwhile)."""
        if short_ids and (not held_ids or rng.random() < 0.3):
            return rng.choice(sorted(short_ids)), True
        return rng.choice(sorted(held_ids)), False

    ops_names = (
        "hold", "hold_many", "hold_batch", "allocate", "commit", "release", "sell", "receive",
    )  # fmt: skip
    weights = (18, 8, 0 if worker else 10, 12, 15, 15, 0 if worker else 10, 15)
    for i in range(ops):
        op = rng.choices(ops_names, weights)[0]
        try:
            if op == "hold":
                t, short = pick_ttl()
                o = order(i)
                took(inv.hold(o) if t is None else inv.hold(o, ttl=t), short)
            elif op == "allocate":
                allocate(i)
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
    scoped = inv._runner.scoped
    stayed = scoped is not None and not scoped.replica  # no replica loaded by the commands
    barrier.wait(timeout=120)  # every worker has stopped writing commands
    # Let my short holds and bulk holds come due and expire them (any worker may win
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
        "allocs": allocs,
        "unfillable_keys": unfillable_keys,
        "short_holds": short_holds,
        "refused": refused,
        "conflicts": conflicts,
        "late": late,
        "stayed_scoped": stayed,
        "head": head,
        "digest": digest,
        "check_ok": report.ok,
        "problems": list(report.problems),
    }


# -- refusals ----------------------------------------------------------------------------

COLD = "cold-z"  # a SKU with too little stock for any request a refuser makes
COLD_FREE = {"L1": 1, "L2": 1}  # its ATP once setup_refusals has run
SCARCE = "scarce-y"  # a SKU with none available until the receiver receives some


def setup_refusals(url: str, stock: int) -> None:
    """The hot positions with ``stock`` each; ``COLD`` with 3 on hand at L1
    (2 of them held) and 1 at L2; ``SCARCE`` with 1 on hand at L1, held."""
    setup_network(url, stock)
    with Inventory.open(url) as inv:
        inv.receive(COLD, "L1", 3)
        inv.receive(COLD, "L2", 1)
        inv.hold(Order("cold-held", lines=[Line(COLD, 2, "L1")]))
        inv.receive(SCARCE, "L1", 1)
        inv.hold(Order("scarce-held", lines=[Line(SCARCE, 1, "L1")]))
        for loc, n in COLD_FREE.items():
            assert inv.available(COLD, loc) == n
        assert inv.available(SCARCE) == 0


def background_writer(url: str, k: int, stop: Any, barrier: Any, out: Any) -> None:
    """Hold, release, commit, receive and sell on the hot positions (never
    ``COLD`` or ``SCARCE``) as fast as it can until ``stop`` is set."""
    _report(out, k, barrier, lambda: _background(url, k, stop, barrier))


def _background(url: str, k: int, stop: Any, barrier: Any) -> dict[str, Any]:
    rng = random.Random(k)
    inv = Inventory.open(url)
    mine: list[str] = []
    done = refused = conflicts = 0
    barrier.wait(timeout=120)
    deadline = time.monotonic() + 120  # a runaway guard: the test stops it long before
    while not stop.is_set() and time.monotonic() < deadline:
        u = rng.random()
        sku, loc = rng.choice(POSITIONS)
        try:
            if u < 0.4 or not mine:
                key = f"bg{k}-{done}" if rng.random() < 0.5 else None
                r = inv.hold(Order(f"bg{k}-{done}", lines=[Line(sku, 1, loc)]), key=key)
                mine.append(r.id)
            elif u < 0.6:
                inv.release(mine.pop(rng.randrange(len(mine))))
            elif u < 0.7:
                inv.commit(mine[rng.randrange(len(mine))])
            elif u < 0.9:
                inv.receive(sku, loc, rng.randint(1, 3))
            else:
                inv.sell(loc, [Line(sku, 1)])
        except errors.InsufficientStock:
            refused += 1
        except errors.ConcurrencyConflict:
            conflicts += 1
        done += 1
    inv.close()
    return {"k": k, "done": done, "refused": refused, "conflicts": conflicts}


def refuser(url: str, k: int, rounds: int, barrier: Any, out: Any) -> None:
    """Ask for more ``COLD`` than there is, ``rounds`` times, each time with
    a ledger that is behind the journal (others committed since it last
    caught up), by hold, allocate, ``hold_many`` and a bulk hold, keyed and
    not; report how each call ended."""
    _report(out, k, barrier, lambda: _refuse(url, k, rounds, barrier))


def _refuse(url: str, k: int, rounds: int, barrier: Any) -> dict[str, Any]:
    inv = Inventory.open(url)
    refusals: Counter[str] = Counter()
    wrong: list[str] = []  # calls that ended other than in a refusal
    keys: list[str] = []  # the keys of refused calls (none may be recorded)
    raced = 0  # calls during which other processes committed
    barrier.wait(timeout=120)
    for i in range(rounds):
        # The ledger is behind: another process committed since it caught up
        # (it writes nothing itself, so it only catches up inside a call).
        deadline = time.monotonic() + 60
        while inv.store.head() <= inv._state.head:
            if time.monotonic() > deadline:
                raise AssertionError("the background writers stopped writing")
            time.sleep(0.0002)
        before = inv.store.head()
        mode = ("hold", "allocate", "hold_many", "hold_batch")[i % 4]
        key = f"z{k}-{i}" if (i // 4) % 2 else None
        oid = f"z{k}-{i}"
        try:
            if mode == "hold":  # one more than L1 has
                got: Any = inv.hold(Order(oid, lines=[Line(COLD, 2, "L1")]), key=key)
            elif mode == "allocate":  # one more than both locations have
                got = inv.allocate(Order(oid, lines=[Line(COLD, 3)]), key=key)
                if got.status == "unfillable" and got.reservation is None and not got.lines:
                    refusals["unfillable"] += 1
                    got = None
            elif mode == "hold_many":
                orders = [
                    Order(f"{oid}.{j}", lines=[Line(COLD, 2, loc)]) for j, loc in enumerate(LOCS)
                ]
                outs = inv.hold_many(orders, key=key)
                bad = [x for x in outs if not isinstance(x, errors.InsufficientStock)]
                got = bad or None
                if got is None:
                    refusals["hold_many"] += 1
            else:
                batch = HoldBatch([f"{oid}.1", f"{oid}.2"], [COLD, COLD], list(LOCS), [2, 2])
                res = inv.hold_many(batch, key=key)
                got = None if res.token is None and res.status.tolist() == [0, 0] else res
                if got is None:
                    refusals["hold_batch"] += 1
            if got is not None:
                wrong.append(f"{mode} {oid}: {got!r}")
        except errors.InsufficientStock:
            refusals[mode] += 1
        except errors.OmnistockError as e:  # ConcurrencyConflict above all
            wrong.append(f"{mode} {oid}: {e!r}")
        if key is not None:  # a list's order j has the key <key>#<j>
            keys.extend([f"{key}#{j}" for j in range(len(LOCS))] if mode == "hold_many" else [key])
        if inv.store.head() > before:
            raced += 1
    report = inv.check()
    inv.close()
    return {
        "k": k,
        "refusals": dict(refusals),
        "wrong": wrong,
        "keys": keys,
        "raced": raced,
        "check_ok": report.ok,
        "problems": list(report.problems),
    }


def receiver(url: str, rounds: int, conn: Any, barrier: Any) -> None:
    """Round ``i``: receive ``i % 3 + 1`` of ``SCARCE`` at one location, send
    the receipt's seq, location and quantity on ``conn`` and wait for the
    holder's answer before the next."""
    try:
        inv = Inventory.open(url)
        barrier.wait(timeout=120)
        for i in range(rounds):
            loc, q = LOCS[i % 2], i % 3 + 1
            applied = inv.receive(SCARCE, loc, q, key=f"recv-{i}")
            conn.send((applied.seq, loc, q))
            if not conn.poll(60) or conn.recv() != "next":
                raise AssertionError(f"the holder did not answer round {i}")
        inv.close()
        conn.send("done")
    except BaseException as e:
        import traceback

        conn.send({"crash": "".join(traceback.format_exception(e))})
        barrier.abort()


def stale_holder(url: str, rounds: int, conn: Any, barrier: Any, out: Any) -> None:
    """Round ``i``: once the receiver's receipt is committed, and with a
    ledger that has not read it, take exactly what it received (hold,
    allocate, ``hold_many``, bulk hold in turn), then ask for one more and
    be refused. Reports each round's outcome."""
    try:
        out.put(_hold_stale(url, rounds, conn, barrier))
    except BaseException as e:
        import traceback

        out.put({"crash": "".join(traceback.format_exception(e))})
        barrier.abort()


def _hold_stale(url: str, rounds: int, conn: Any, barrier: Any) -> dict[str, Any]:
    inv = Inventory.open(url)
    rounds_out: list[dict[str, Any]] = []
    barrier.wait(timeout=120)
    for i in range(rounds):
        if not conn.poll(60):
            raise AssertionError(f"no receipt for round {i}")
        msg = conn.recv()
        if isinstance(msg, dict):
            raise AssertionError(f"the receiver crashed:\n{msg['crash']}")
        seq, loc, q = msg
        stale = inv._state.head < seq  # it has not folded the receipt
        mode = ("hold", "allocate", "hold_many", "hold_batch")[i % 4]
        key = f"y-{i}" if (i // 4) % 2 else None
        oid = f"y-{i}"
        got: Any
        held: list[list[Any]] | None
        rid: str | None
        try:
            if mode == "hold":
                got = inv.hold(Order(oid, lines=[Line(SCARCE, q, loc)]), key=key)
                held = sorted([x.sku, x.location, x.qty] for x in got.lines)
                rid = got.id
            elif mode == "allocate":
                got = inv.allocate(Order(oid, lines=[Line(SCARCE, q)]), key=key)
                res = got.reservation
                held = (
                    None if res is None else sorted([x.sku, x.location, x.qty] for x in res.lines)
                )
                rid = None if res is None else res.id
            elif mode == "hold_many":
                (got,) = inv.hold_many([Order(oid, lines=[Line(SCARCE, q, loc)])], key=key)
                held = sorted([x.sku, x.location, x.qty] for x in getattr(got, "lines", ()))
                rid = getattr(got, "id", None)
            else:
                got = inv.hold_many(HoldBatch([oid], [SCARCE], [loc], [q]), key=key)
                rid = got.reservation_id(0)
                held = [[SCARCE, loc, q]] if rid is not None else None
            outcome = repr(got)[:300]
        except errors.OmnistockError as e:
            held, rid, outcome = None, None, repr(e)
        try:  # nothing is left: one more is refused, not a conflict
            inv.hold(Order(f"{oid}.more", lines=[Line(SCARCE, 1, loc)]))
            more = "held"
        except errors.OmnistockError as e:
            more = type(e).__name__
        rounds_out.append(
            {"i": i, "mode": mode, "stale": stale, "rid": rid, "held": held, "outcome": outcome,
             "more": more, "want": [[SCARCE, loc, q]]}
        )  # fmt: skip
        conn.send("next")
    if not conn.poll(60) or conn.recv() != "done":
        raise AssertionError("the receiver did not finish")
    report = inv.check()
    inv.close()
    return {"rounds": rounds_out, "check_ok": report.ok, "problems": list(report.problems)}


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
