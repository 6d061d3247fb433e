"""The PostgreSQL store's consumer cursors (``Store.cursor``): one row per
(consumer, stream) in ``cursors``, apart from the journal and the append
function, so an ack never touches a table a writer uses.

A mixin of ``PostgresStore``: it uses the store's connections.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import psycopg
    from psycopg import sql

__all__ = ["Cursors"]


class Cursors:
    """``cursor``/``set_cursor`` of a ``PostgresStore``."""

    _reading: Callable[[str], AbstractContextManager[psycopg.Connection[Any]]]
    _writing: Callable[[str], AbstractContextManager[psycopg.Connection[Any]]]
    _ident: Callable[[], sql.Identifier]

    def cursor(self, consumer: str, stream: str = "") -> tuple[int, str | None]:
        """The consumer's cursor (``(0, None)`` if never set). One query."""
        from psycopg import sql

        q = sql.SQL("SELECT seq, state FROM {}.cursors WHERE consumer = %s AND stream = %s")
        with self._reading("read a cursor") as conn:
            row = conn.execute(q.format(self._ident()), (consumer, stream)).fetchone()
        return (0, None) if row is None else (int(row[0]), row[1])

    def cursors(self) -> list[tuple[str, str, int]]:
        """Every cursor, sorted. One query."""
        from psycopg import sql

        q = sql.SQL("SELECT consumer, stream, seq FROM {}.cursors ORDER BY consumer, stream")
        with self._reading("read the cursors") as conn:
            return [(str(a), str(b), int(n)) for a, b, n in conn.execute(q.format(self._ident()))]

    def set_cursor(
        self, consumer: str, seq: int, state: str | None = None, stream: str = ""
    ) -> int:
        """One upsert that keeps the greater seq (the row lock orders two
        acks of one consumer), then the stored seq. Autocommit: it is one
        statement, atomic on its own."""
        from psycopg import sql

        q = sql.SQL(
            "WITH up AS (INSERT INTO {0}.cursors AS c (consumer, stream, seq, state)"
            " VALUES (%s, %s, %s, %s) ON CONFLICT (consumer, stream) DO UPDATE"
            " SET seq = EXCLUDED.seq, state = EXCLUDED.state WHERE EXCLUDED.seq >= c.seq"
            " RETURNING c.seq)"
            " SELECT seq FROM up UNION ALL"
            " SELECT seq FROM {0}.cursors WHERE consumer = %s AND stream = %s"
            " AND NOT EXISTS (SELECT 1 FROM up)"
        ).format(self._ident())
        with self._writing("set a cursor") as conn:
            row = conn.execute(q, (consumer, stream, seq, state, consumer, stream)).fetchone()
        assert row is not None
        return int(row[0])
