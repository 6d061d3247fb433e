"""The omnistock side of each comparison: the batch kernels, and the face
(``Inventory``) on memory, SQLite and PostgreSQL, one command at a time or
group-committed with ``hold_many``.

Every ``prepare_*`` loads the workload's stock (not timed) and returns a
callable that runs the stream (timed) and returns the number of successful
reservations (orders for W4). Resources to free are appended to ``cleanup``.
"""

from __future__ import annotations

import itertools
import os
import tempfile
import uuid
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import numpy as np

from .baselines import ServiceDown
from .workloads import Workload, loc_name, sku_name

TTL = timedelta(hours=1)
GROUP = 1_000  # orders per hold_many call (one store transaction)
# Orders per hold_many(HoldBatch) call: the same transaction size as the
# batched baseline on that store (SQLite's 10,000, PostgreSQL unnest's 1,000).
BULK = {"memory": 10_000, "sqlite": 10_000, "postgres": 1_000}


def warm() -> None:
    import omnistock

    omnistock.warmup()


# -- kernels ---------------------------------------------------------------------


def _grids(w: Workload) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Fresh ``free``/``reserved`` grids and the ``ok`` output, every page
    written before timing (a live ledger's arrays are resident; a calloc'd
    array would fault its pages in inside the timed region)."""
    free = np.ascontiguousarray(w.stock, dtype=np.int64).copy()
    reserved = np.empty_like(free)
    reserved.fill(0)
    ok = np.empty(w.n, dtype=np.uint8)
    ok.fill(0)
    return free, reserved, ok


def prepare_kernel_lines(w: Workload) -> Callable[[], int]:
    """``ledger.kernels.reserve_lines`` over fresh ``free``/``reserved`` grids."""
    from omnistock.ledger.kernels import reserve_lines

    free, reserved, ok = _grids(w)
    s, l, q = w.s, w.l, w.qty
    return lambda: int(reserve_lines(s, l, q, free, reserved, ok))


def prepare_kernel_orders(w: Workload) -> Callable[[], int]:
    """``decide_batch``, the kernel bulk holds run: orders all-or-nothing,
    every location served, a status per order."""
    from omnistock.ledger.kernels import decide_batch

    assert w.start is not None
    free, reserved, _ok = _grids(w)
    start, s, l, q = w.start, w.s, w.l, w.qty
    served = np.ones(free.shape[1], dtype=np.uint8)
    status = np.empty(len(start) - 1, dtype=np.int8)
    line_held = np.empty(len(s), dtype=np.uint8)
    return lambda: int(decide_batch(start, s, l, q, served, free, reserved, status, line_held))


# -- the face --------------------------------------------------------------------


def pg_url(schema: str) -> str:
    from .baselines.postgres_update import dsn

    base = dsn()
    return base + ("&" if "?" in base else "?") + f"schema={schema}"


def open_face(store: str, cleanup: list[Callable[[], None]]) -> Any:
    """An empty Inventory on ``store``: ``memory``, ``sqlite`` or ``postgres``."""
    from omnistock import Inventory

    if store == "memory":
        inv = Inventory.open("memory://")
    elif store == "sqlite":
        d = tempfile.mkdtemp(prefix="omnistock-bench-")
        inv = Inventory.open(f"sqlite:///{d}/face.db")

        def rm() -> None:
            import shutil

            shutil.rmtree(d, ignore_errors=True)

        cleanup.append(rm)
    elif store == "postgres":
        from .baselines.postgres_update import connect

        conn = connect()  # raises ServiceDown when the server is down
        schema = f"omnistock_bench_face_{os.getpid()}_{uuid.uuid4().hex[:8]}"

        def drop() -> None:
            try:
                conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
            finally:
                conn.close()

        cleanup.append(drop)
        try:
            inv = Inventory.open(pg_url(schema))
        except ImportError as exc:
            raise ServiceDown(f"omnistock's PostgreSQL store is not importable: {exc}") from exc
    else:
        raise ValueError(store)
    cleanup.append(inv.close)
    return inv


def load_face(inv: Any, w: Workload) -> None:
    """Locations, then the stock of every position the stream touches
    (``count(..., 0)`` makes an empty position known)."""
    from omnistock import Location

    for j in range(w.n_locs):
        inv.add_location(Location(loc_name(j)))
    ts, tl = w.touched()
    vals = w.stock[ts, tl].tolist()
    for a, b, v in zip(ts.tolist(), tl.tolist(), vals, strict=True):
        if v > 0:
            inv.receive(sku_name(a), loc_name(b), v)
        else:
            inv.count(sku_name(a), loc_name(b), 0)


def face_orders(w: Workload) -> list[Any]:
    """One ``Order`` a reservation (or a multi-line order for W4), built
    before timing."""
    from omnistock import Line, Order

    sk = [sku_name(i) for i in range(int(w.s.max()) + 1)] if w.n else []
    lc = [loc_name(j) for j in range(w.n_locs)]
    s, l, q = w.s.tolist(), w.l.tolist(), w.qty.tolist()
    if w.start is None:
        return [Order(f"o{i}", lines=[Line(sk[s[i]], q[i], lc[l[i]])]) for i in range(len(s))]
    st = w.start.tolist()
    return [
        Order(f"o{j}", lines=[Line(sk[s[k]], q[k], lc[l[k]]) for k in range(a, b)])
        for j, (a, b) in enumerate(itertools.pairwise(st))
    ]


def prepare_face(
    w: Workload, store: str, cleanup: list[Callable[[], None]], group: bool = False
) -> Callable[[], int]:
    """Holds through ``Inventory.hold`` (one command, one transaction each)
    or, with ``group``, ``Inventory.hold_many`` in groups of ``GROUP``
    orders (group commit, one result per order)."""
    from omnistock import Reservation
    from omnistock.errors import InsufficientStock

    inv = open_face(store, cleanup)
    load_face(inv, w)
    orders = face_orders(w)
    if group:

        def run_group() -> int:
            n = 0
            hold_many = inv.hold_many
            for lo in range(0, len(orders), GROUP):
                for r in hold_many(orders[lo : lo + GROUP], ttl=TTL):
                    if isinstance(r, Reservation):
                        n += 1
                    elif not isinstance(r, InsufficientStock):
                        raise r
            return n

        return run_group

    def run_each() -> int:
        n = 0
        hold = inv.hold
        for o in orders:
            try:
                hold(o, ttl=TTL)
                n += 1
            except InsufficientStock:
                pass
        return n

    return run_each


def face_columns(w: Workload) -> tuple[list[str], list[str], list[str], np.ndarray]:
    """Order ids, SKU and location names and quantities of a single-line
    stream, built before timing (as the baselines' int lists are)."""
    assert w.start is None
    sk = [sku_name(i) for i in range(int(w.s.max()) + 1)] if w.n else []
    lc = [loc_name(j) for j in range(w.n_locs)]
    ids = [f"o{i}" for i in range(w.n)]
    return (
        ids,
        [sk[i] for i in w.s.tolist()],
        [lc[j] for j in w.l.tolist()],
        np.ascontiguousarray(w.qty, dtype=np.int64),
    )


def prepare_face_bulk(
    w: Workload, store: str, cleanup: list[Callable[[], None]]
) -> Callable[[], int]:
    """Holds through ``Inventory.hold_many(HoldBatch)`` in batches of
    ``BULK[store]`` orders: one kernel call and one journal row per batch, a status
    and a reservation id per order. Building each ``HoldBatch`` (its column
    checks) is timed."""
    from omnistock import HoldBatch

    inv = open_face(store, cleanup)
    load_face(inv, w)
    ids, skus, locs, qty = face_columns(w)
    k = BULK[store]
    chunks = [
        (ids[lo : lo + k], skus[lo : lo + k], locs[lo : lo + k], qty[lo : lo + k])
        for lo in range(0, len(ids), k)
    ]

    def run_bulk() -> int:
        n = 0
        hold_many = inv.hold_many
        for c in chunks:
            n += hold_many(HoldBatch(*c), ttl=TTL).held
        return n

    return run_bulk
