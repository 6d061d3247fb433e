"""SQLite conditional UPDATE: what an embedded backend does today.

    UPDATE stock SET reserved = reserved + ?
     WHERE sku = ? AND loc = ? AND on_hand - reserved >= ?

``rowcount`` is the per-reservation result. The database runs in WAL mode
with ``synchronous=NORMAL``, omnistock's SQLite default, so both sides make
the same durability promise (survives a process crash, not a power loss).
The table is ``WITHOUT ROWID`` on an integer primary key, the statement is
cached by the driver, and autocommit makes each statement its own
transaction (no extra BEGIN/COMMIT round trips).

- ``reserve_each``: one transaction per reservation.
- ``reserve_batched``: many reservations in one transaction, still one
  statement and one result each.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from collections.abc import Callable

from ..workloads import Workload

SQL = (
    "UPDATE stock SET reserved = reserved + ? WHERE sku = ? AND loc = ? AND on_hand - reserved >= ?"
)


class SQLiteUpdate:
    def __init__(self, path: str) -> None:
        self.path = path
        self.conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        c = self.conn
        c.execute("PRAGMA journal_mode = WAL")
        c.execute("PRAGMA synchronous = NORMAL")
        c.execute("DROP TABLE IF EXISTS stock")
        c.execute(
            "CREATE TABLE stock (sku INTEGER NOT NULL, loc INTEGER NOT NULL, "
            "on_hand INTEGER NOT NULL, reserved INTEGER NOT NULL DEFAULT 0, "
            "PRIMARY KEY (sku, loc)) WITHOUT ROWID"
        )

    def load(self, w: Workload) -> None:
        """The positions the stream touches (the others never change the
        outcome; a B-tree of 10M rows would only slow the baseline a little)."""
        ts, tl = w.touched()
        vals = w.stock[ts, tl]
        c = self.conn
        c.execute("BEGIN")
        c.executemany(
            "INSERT INTO stock (sku, loc, on_hand) VALUES (?, ?, ?)",
            zip(ts.tolist(), tl.tolist(), vals.tolist(), strict=True),
        )
        c.execute("COMMIT")

    def reserve_each(self, s: list[int], l: list[int], qty: list[int]) -> int:
        ex = self.conn.execute
        n = 0
        for a, b, q in zip(s, l, qty, strict=True):
            n += ex(SQL, (q, a, b, q)).rowcount
        return n

    def reserve_batched(
        self, s: list[int], l: list[int], qty: list[int], batch: int = 10_000
    ) -> int:
        c = self.conn
        ex = c.execute
        n = 0
        for lo in range(0, len(s), batch):
            ex("BEGIN")
            for a, b, q in zip(
                s[lo : lo + batch], l[lo : lo + batch], qty[lo : lo + batch], strict=True
            ):
                n += ex(SQL, (q, a, b, q)).rowcount
            ex("COMMIT")
        return n

    def reserved_total(self) -> int:
        return int(self.conn.execute("SELECT COALESCE(SUM(reserved), 0) FROM stock").fetchone()[0])

    def close(self) -> None:
        self.conn.close()
        for suffix in ("", "-wal", "-shm"):
            with contextlib.suppress(FileNotFoundError):
                os.remove(self.path + suffix)


def _lists(w: Workload) -> tuple[list[int], list[int], list[int]]:
    return w.s.tolist(), w.l.tolist(), w.qty.tolist()


def prepare(
    w: Workload, path: str, batched: bool, cleanup: list[Callable[[], None]]
) -> Callable[[], int]:
    """A loaded table at ``path``; the callable runs the stream. The close is
    appended to ``cleanup``."""
    db = SQLiteUpdate(path)
    db.load(w)
    cleanup.append(db.close)
    s, l, q = _lists(w)
    if batched:
        return lambda: db.reserve_batched(s, l, q)
    return lambda: db.reserve_each(s, l, q)


__all__ = ["SQL", "SQLiteUpdate", "prepare"]
