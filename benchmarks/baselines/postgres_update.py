"""PostgreSQL the way backends reserve stock today, three ways:

- ``reserve_autocommit``: one conditional UPDATE per reservation, each its own
  transaction (autocommit); ``rowcount`` is the result. Server-side prepared
  after a few executions (psycopg's default ``prepare_threshold``).
- ``reserve_unnest``: set-based. Reservations go in batches (one transaction
  each); a batch is cut into runs with no repeated position, and each run is
  one ``UPDATE ... FROM unnest(...) ... RETURNING r.i`` that says exactly
  which reservations succeeded. One statement cannot update a row twice,
  hence the runs; they keep the sequential "reserve if available" meaning
  exact, so results agree with every other ledger.
- ``reserve_for_update``: ``SELECT ... FOR UPDATE``, check in the application,
  then ``UPDATE``, one transaction per reservation (the ORM way).

Tables live in a private schema that ``close()`` drops. The DSN comes from
``OMNISTOCK_PG_DSN`` (default ``postgresql://postgres@127.0.0.1:5432/test``).
``synchronous_commit`` is left at the server's setting.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable
from typing import Any

from ..workloads import Workload
from . import ServiceDown

DEFAULT_DSN = "postgresql://postgres@127.0.0.1:5432/test"

UPDATE_ONE = (
    "UPDATE stock SET reserved = reserved + %s "
    "WHERE sku = %s AND loc = %s AND on_hand - reserved >= %s"
)
UPDATE_SET = (
    "UPDATE stock AS t SET reserved = t.reserved + r.qty "
    "FROM unnest(%s::int[], %s::int[], %s::bigint[], %s::int[]) AS r(sku, loc, qty, i) "
    "WHERE t.sku = r.sku AND t.loc = r.loc AND t.on_hand - t.reserved >= r.qty "
    "RETURNING r.i"
)
SELECT_FOR_UPDATE = "SELECT on_hand - reserved FROM stock WHERE sku = %s AND loc = %s FOR UPDATE"
UPDATE_BY_KEY = "UPDATE stock SET reserved = reserved + %s WHERE sku = %s AND loc = %s"


def dsn() -> str:
    return os.environ.get("OMNISTOCK_PG_DSN", DEFAULT_DSN)


def connect(autocommit: bool = True) -> Any:
    try:
        import psycopg
    except ImportError as exc:  # pragma: no cover - psycopg is a dev dependency
        raise ServiceDown(f"psycopg is not installed: {exc}") from exc
    try:
        return psycopg.connect(dsn(), autocommit=autocommit, connect_timeout=3)
    except psycopg.OperationalError as exc:
        raise ServiceDown(f"PostgreSQL at {dsn()} is not reachable: {exc}") from exc


def runs(s: list[int], l: list[int], start: int, stop: int) -> list[tuple[int, int]]:
    """Cut ``[start, stop)`` into consecutive runs with no repeated position."""
    out = []
    seen: set[tuple[int, int]] = set()
    lo = start
    for i in range(start, stop):
        p = (s[i], l[i])
        if p in seen:
            out.append((lo, i))
            seen = set()
            lo = i
        seen.add(p)
    if lo < stop:
        out.append((lo, stop))
    return out


class PostgresUpdate:
    def __init__(self) -> None:
        self.conn = connect()
        self.schema = f"omnistock_bench_{os.getpid()}_{uuid.uuid4().hex[:8]}"
        c = self.conn
        c.execute(f'CREATE SCHEMA "{self.schema}"')
        c.execute(f'SET search_path TO "{self.schema}"')
        c.execute(
            "CREATE TABLE stock (sku int NOT NULL, loc int NOT NULL, "
            "on_hand bigint NOT NULL, reserved bigint NOT NULL DEFAULT 0, "
            "PRIMARY KEY (sku, loc))"
        )

    def load(self, w: Workload) -> None:
        ts, tl = w.touched()
        vals = w.stock[ts, tl]
        with self.conn.cursor() as cur, cur.copy("COPY stock (sku, loc, on_hand) FROM STDIN") as cp:
            for row in zip(ts.tolist(), tl.tolist(), vals.tolist(), strict=True):
                cp.write_row(row)
        self.conn.execute("ANALYZE stock")

    def reserve_autocommit(self, s: list[int], l: list[int], qty: list[int]) -> int:
        cur = self.conn.cursor()
        n = 0
        for a, b, q in zip(s, l, qty, strict=True):
            cur.execute(UPDATE_ONE, (q, a, b, q))
            n += cur.rowcount
        return n

    def reserve_unnest(self, s: list[int], l: list[int], qty: list[int], batch: int = 1_000) -> int:
        cur = self.conn.cursor()
        n = 0
        idx = list(range(len(s)))
        for lo in range(0, len(s), batch):
            hi = min(len(s), lo + batch)
            with self.conn.transaction():
                for a, b in runs(s, l, lo, hi):
                    cur.execute(UPDATE_SET, (s[a:b], l[a:b], qty[a:b], idx[a:b]))
                    n += len(cur.fetchall())  # the indexes that succeeded
        return n

    def reserve_for_update(self, s: list[int], l: list[int], qty: list[int]) -> int:
        cur = self.conn.cursor()
        n = 0
        for a, b, q in zip(s, l, qty, strict=True):
            with self.conn.transaction():
                cur.execute(SELECT_FOR_UPDATE, (a, b))
                row = cur.fetchone()
                if row is not None and row[0] >= q:
                    cur.execute(UPDATE_BY_KEY, (q, a, b))
                    n += 1
        return n

    def reserved_total(self) -> int:
        return int(self.conn.execute("SELECT COALESCE(SUM(reserved), 0) FROM stock").fetchone()[0])

    def close(self) -> None:
        try:
            self.conn.execute(f'DROP SCHEMA IF EXISTS "{self.schema}" CASCADE')
        finally:
            self.conn.close()


def prepare(w: Workload, how: str, cleanup: list[Callable[[], None]]) -> Callable[[], int]:
    """``how``: ``autocommit``, ``unnest`` or ``for_update``."""
    db = PostgresUpdate()
    cleanup.append(db.close)
    db.load(w)
    s, l, q = w.s.tolist(), w.l.tolist(), w.qty.tolist()
    fn = {
        "autocommit": db.reserve_autocommit,
        "unnest": db.reserve_unnest,
        "for_update": db.reserve_for_update,
    }[how]
    return lambda: fn(s, l, q)
