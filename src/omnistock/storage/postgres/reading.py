"""The PostgreSQL store's reads: rows behind the safe horizon, holes,
filtered history and the hash chain linked by readers (see ``tail.py``).

A mixin of ``PostgresStore``: it uses the store's read and write
connections (``_reading``/``_writing``), its prepared queries and its
``Horizon``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any, cast

from ..base import Row
from ..chain import GENESIS, link
from .tail import MARK_EVERY, Horizon

if TYPE_CHECKING:
    import threading

    import psycopg
    from psycopg import sql

__all__ = ["Reading"]

_MAX_SEQ = 2**63 - 1


class Reading:
    """Reading the journal of a ``PostgresStore``."""

    READ_BATCH = 5000
    """Rows fetched per round trip by ``read`` and ``filtered``."""

    _rlock: threading.RLock
    _horizon: Horizon
    _cols: sql.Composable
    _q_tail: bytes
    _q_holes: bytes
    _q_settled: bytes
    _q_mark_below: bytes
    _q_marks: bytes
    _q_add_marks: bytes

    # The store's (``PostgresStore``): its connections under their locks.
    _reading: Callable[[str], AbstractContextManager[psycopg.Connection[Any]]]
    _writing: Callable[[str], AbstractContextManager[psycopg.Connection[Any]]]
    _ident: Callable[[], sql.Identifier]

    # -- reading behind the safe horizon (tail.py) -------------------------------------------

    def _tail_batch(self, since: int, until: int) -> tuple[list[Any], int, bool]:
        """Safe rows (with their leaves) after ``since``, up to ``until``,
        one batch: ``(rows, horizon, more)``."""
        with self._rlock:  # the horizon's gap records are this reader's
            return self._tail_locked(since, until)

    def _tail_locked(self, since: int, until: int) -> tuple[list[Any], int, bool]:
        limit = self.READ_BATCH
        hz = self._horizon
        since = max(0, since)
        while True:
            with self._reading("read the journal") as conn:
                got = conn.execute(self._q_tail, (since, until, limit)).fetchall()
            top = int(got[0][0])
            rows = [r[1:] for r in got if r[1] is not None]
            full = len(rows) == limit
            safe, horizon, gap = hz.walk(since, rows, None if full else min(top, until))
            if gap is None:
                return safe, horizon, full
            if gap not in hz.checked:  # another reader may have proven it a hole
                hz.checked.add(gap)
                with self._reading("read the holes") as conn:
                    if conn.execute(self._q_holes, (gap - 1, gap)).fetchone() is not None:
                        hz.holes.add(gap)
                        continue
            if not (hz.due(gap) and self._settled(gap)):
                return safe, horizon, False

    def _settled(self, seq: int) -> bool:
        """True if ``seq`` is a hole (now recorded): its append ended
        without committing. See ``tail.py``."""
        with self._writing("settle a missing seq") as conn:
            row = conn.execute(self._q_settled, (seq,)).fetchone()
        if row is not None and row[0]:
            self._horizon.holes.add(seq)
            return True
        return False

    def _tail(self, since: int, until: int | None) -> Iterator[Any]:
        hi = _MAX_SEQ if until is None else until
        lo = max(0, since)
        while lo < hi:
            rows, horizon, more = self._tail_batch(lo, hi)
            yield from rows
            if not more:
                return
            lo = horizon

    def tail(self, since: int) -> tuple[list[Row], int]:
        out: list[Row] = []
        lo = since
        while True:
            rows, horizon, more = self._tail_batch(lo, _MAX_SEQ)
            out.extend(cast(Row, tuple(r[:10])) for r in rows)
            lo = horizon
            if not more:
                return out, lo

    def read(self, since: int = 0, until: int | None = None) -> Iterator[Row]:
        """Rows after ``since`` up to ``until`` and the safe horizon."""
        for r in self._tail(since, until):
            yield cast(Row, tuple(r[:10]))

    def holes(self, since: int = 0, until: int | None = None) -> set[int]:
        hi = _MAX_SEQ if until is None else until
        with self._reading("read the holes") as conn:
            return {int(r[0]) for r in conn.execute(self._q_holes, (since, hi))}

    def filtered(
        self,
        since: int = 0,
        until: int | None = None,
        sku: str | None = None,
        location: str | None = None,
        ref: str | None = None,
    ) -> Iterator[Row]:
        from psycopg import sql

        conds: list[sql.Composable] = [sql.SQL("seq > %s"), sql.SQL("seq <= %s")]
        args: list[Any] = []
        for name, value in (("sku", sku), ("location", location)):
            if value is not None:
                conds.append(sql.SQL("{} = %s").format(sql.Identifier(name)))
                args.append(value)
        if ref is not None:  # the ref index is in the "C" collation (see ref_between)
            conds.append(sql.SQL('ref COLLATE "C" = %s'))
            args.append(ref)
        yield from self._select(conds, args, since, until)

    def ref_between(
        self, lo: str, hi: str, since: int = 0, until: int | None = None
    ) -> Iterator[Row]:
        """Rows with ``lo <= ref < hi`` in sequence order. The ``ref`` index
        is built in the "C" collation, so the range is byte (code point)
        order whatever the database's collation, and uses the index.
        O(log n + rows found)."""
        from psycopg import sql

        conds: list[sql.Composable] = [
            sql.SQL("seq > %s"),
            sql.SQL("seq <= %s"),
            sql.SQL('ref COLLATE "C" >= %s'),
            sql.SQL('ref COLLATE "C" < %s'),
        ]
        yield from self._select(conds, [lo, hi], since, until)

    def _select(
        self, conds: list[Any], args: list[Any], since: int, until: int | None
    ) -> Iterator[Row]:
        """Rows matching ``conds`` (the first two bound the seq), paged by seq."""
        from psycopg import sql

        with self._reading("filter the journal") as conn:
            q = (
                sql.SQL("SELECT {} FROM {}.journal WHERE {} ORDER BY seq LIMIT %s")
                .format(self._cols, self._ident(), sql.SQL(" AND ").join(conds))
                .as_bytes(conn)
            )
        hi = _MAX_SEQ if until is None else until
        lo = since
        batch_size = self.READ_BATCH
        while lo < hi:
            with self._reading("filter the journal") as conn:
                batch = conn.execute(q, (lo, hi, *args, batch_size)).fetchall()
            yield from cast(list[Row], batch)
            if len(batch) < batch_size:
                return
            lo = batch[-1][0]

    def read_chain(
        self, since: int = 0, until: int | None = None
    ) -> Iterator[tuple[Row, bytes | None]]:
        """Rows after ``since`` with their chain hashes, linked here over
        the leaves the writers stored, from the nearest mark at or before
        ``since``; at a mark, the mark's hash is given (so ``verify`` sees a
        chain that no longer reaches it). Leaves new marks behind."""
        with self._reading("read a chain mark") as conn:
            m = conn.execute(self._q_mark_below, (since,)).fetchone()
        start, prev = (0, bytes(GENESIS)) if m is None else (int(m[0]), bytes(m[1]))
        hi = _MAX_SEQ if until is None else until
        with self._reading("read chain marks") as conn:
            marks = {int(r[0]): bytes(r[1]) for r in conn.execute(self._q_marks, (start, hi))}
        new: list[tuple[int, bytes]] = []
        try:
            for r in self._tail(start, until):
                seq = r[0]
                h = link(prev, seq, r[1], bytes(r[10]))
                mark = marks.get(seq)
                if mark is not None:
                    h = mark
                elif seq % MARK_EVERY == 0:
                    new.append((seq, h))
                prev = h
                if seq > since:
                    yield cast(Row, tuple(r[:10])), h
        finally:
            if new:
                self._add_marks(new)

    def _add_marks(self, marks: list[tuple[int, bytes]]) -> None:
        with self._writing("record chain marks") as conn:
            conn.execute(self._q_add_marks, ([m[0] for m in marks], [m[1] for m in marks]))

    def hash_at(self, seq: int) -> bytes | None:
        """The chain hash of row ``seq`` (kept as a mark, so the next call
        links from here); None for no such row behind the horizon."""
        if seq == 0:
            return bytes(GENESIS)
        for row, h in self.read_chain(seq - 1, seq):
            if row[0] == seq and h is not None:
                self._add_marks([(seq, h)])
                return h
        return None
