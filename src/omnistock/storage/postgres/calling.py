"""One statement called by name at the protocol level: the store's hot
path (``append``), without psycopg's cursor machinery.

``cursor.execute(prepare=True)`` converts the query, adapts the parameters
and builds cursor and row objects on every call: about 20 us of client CPU
per hold on 8 busy workers sharing two cores with the server
(``benchmarks/hold_cpu.py`` run alternately against the cursor version,
docs/performance.md), which is CPU the server does not get. A
``Prepared`` sends the statement's name and one text parameter (in the
connection's encoding), waits through the connection's own ``wait`` (so
Ctrl-C still cancels the statement on the server), and raises the
server's error as psycopg would (its ``Error`` subclass for the SQLSTATE,
with ``diag``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import psycopg

__all__ = ["Prepared"]

DUPLICATE_PREPARED = "42P05"
NO_SUCH_PREPARED = "26000"  # invalid_sql_statement_name


class Prepared:
    """``query`` (one ``$1`` parameter, text) prepared as ``name`` on each
    connection it is first called on, then called by name.

    Not thread-safe on its own: the caller serialises calls on a
    connection (the store's write lock), as psycopg requires."""

    __slots__ = ("_encoding", "_execute", "_idle", "_name", "_on", "_query", "_rows")

    def __init__(self, name: str, query: bytes) -> None:
        # Imported here, not per call (the hot path), nor at module level
        # (the package imports without psycopg; opening says how to get it).
        from psycopg import generators
        from psycopg.pq import ExecStatus, TransactionStatus

        self._execute = generators.execute
        self._rows = ExecStatus.TUPLES_OK
        self._idle = TransactionStatus.IDLE
        self._name = name.encode()
        self._query = query
        self._on: psycopg.Connection[Any] | None = None  # the connection it is prepared on
        self._encoding = "utf-8"  # that connection's client encoding

    def __call__(self, conn: psycopg.Connection[Any], param: str) -> bytes | None:
        """The first column of the first row as the server's text, or None
        (no row, or NULL). Raises ``psycopg.Error`` (the SQLSTATE's class)
        for a failed statement, ``OperationalError`` for a lost connection.
        A statement deallocated behind the store's back (``DISCARD ALL``
        from a pooler, an operator) is prepared again and sent once more:
        it failed before it ran. One round trip (two on a connection's
        first call)."""
        for again in (False, True):
            if self._on is not conn:
                self._prepare(conn)
            pg = conn.pgconn
            with conn.lock:
                pg.send_query_prepared(self._name, (param.encode(self._encoding),))
                results = conn.wait(self._execute(pg))
            res = results[-1]
            if res.status == self._rows:
                return res.get_value(0, 0) if res.ntuples else None
            err = _error(conn, res)
            idle = pg.transaction_status == self._idle  # not inside a failed block
            if err.sqlstate != NO_SUCH_PREPARED or not idle or again:
                raise err
            self._on = None
        raise AssertionError("unreachable")  # pragma: no cover

    def _prepare(self, conn: psycopg.Connection[Any]) -> None:
        from psycopg.pq import ExecStatus

        pg = conn.pgconn
        with conn.lock:
            pg.send_prepare(self._name, self._query)
            (res,) = conn.wait(self._execute(pg))
        if res.status != ExecStatus.COMMAND_OK:
            err = _error(conn, res)
            # Prepared by an earlier call that was interrupted before it
            # read the server's answer: the statement is there.
            if err.sqlstate != DUPLICATE_PREPARED:
                raise err
        self._on, self._encoding = conn, conn.info.encoding


def _error(conn: psycopg.Connection[Any], res: Any) -> psycopg.Error:
    from psycopg import errors

    return errors.error_from_result(res, encoding=conn.info.encoding)
