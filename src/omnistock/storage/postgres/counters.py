"""The counter tables: filled from a replay (migration), read for ``check()``.

The counters are what the ``append`` function checks guards against; they
must equal what the journal implies. ``write_counters`` computes them by
folding the journal through the ledger (imported here, lazily, so the
storage layer needs the ledger only to migrate); ``read_counters`` reads
them with the journal's extent in one REPEATABLE READ snapshot, where
counters and journal rows come from the same committed appends.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from ..base import Row, StoreCounters

if TYPE_CHECKING:
    import psycopg


def write_counters(conn: psycopg.Connection[Any], schema: str, rows: Sequence[Row]) -> None:
    """Replace the counters by those ``rows`` (the whole journal) imply."""
    from psycopg import sql

    from ...ledger.deltas import counters_of
    from ...ledger.state import LedgerState

    st = LedgerState()
    st.apply_all(rows)
    c = counters_of(st)
    s = sql.Identifier(schema)
    conn.execute(
        sql.SQL(
            "DELETE FROM {0}.positions; DELETE FROM {0}.reservations; DELETE FROM {0}.usage"
        ).format(s)
    )
    with conn.cursor() as cur:
        cur.executemany(
            sql.SQL(
                "INSERT INTO {}.positions (sku, location, holdable, reserved, safety, unsellable)"
                " VALUES (%s, %s, %s, %s, %s, %s)"
            ).format(s),
            [(k[0], k[1], *v) for k, v in c.positions.items()],
        )
        cur.executemany(
            sql.SQL(
                "INSERT INTO {}.reservations (id, state, lines, expires_us) VALUES (%s, %s, %s, %s)"
            ).format(s),
            [(k, *v) for k, v in c.reservations.items()],
        )
        cur.executemany(
            sql.SQL("INSERT INTO {}.usage (k, n) VALUES (%s, %s)").format(s),
            list(c.usage.items()),
        )
    conn.execute(sql.SQL("UPDATE {}.network SET digest = %s").format(s), (c.network,))


def read_counters(conn: psycopg.Connection[Any], schema: str) -> StoreCounters | None:
    """The counters and the last seq, from one snapshot in which every seq
    up to it is a visible row or a known hole (so a replay to that seq
    must equal them); None if an append was in flight."""
    from psycopg import sql

    s = sql.Identifier(schema)
    with conn.transaction():
        conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        top = conn.execute(
            sql.SQL("SELECT coalesce(max(seq), 0), count(*) FROM {0}.journal").format(s)
        ).fetchone()
        assert top is not None
        last, n = int(top[0]), int(top[1])
        got = conn.execute(
            sql.SQL("SELECT count(*) FROM {}.holes WHERE seq <= %s").format(s), (last,)
        ).fetchone()
        assert got is not None
        if n + int(got[0]) != last:
            return None  # a seq below the last is in flight (or an unproven hole)
        positions = {
            (r[0], r[1]): (int(r[2]), int(r[3]), int(r[4]), int(r[5]))
            for r in conn.execute(
                sql.SQL(
                    "SELECT sku, location, holdable, reserved, safety, unsellable FROM {}.positions"
                ).format(s)
            )
            if any(r[2:])
        }
        res = {
            r[0]: (r[1], r[2], None if r[3] is None else int(r[3]))
            for r in conn.execute(
                sql.SQL("SELECT id, state, lines, expires_us FROM {}.reservations").format(s)
            )
        }
        usage = {
            r[0]: int(r[1])
            for r in conn.execute(sql.SQL("SELECT k, n FROM {}.usage").format(s))
            if r[1]
        }
        net = conn.execute(sql.SQL("SELECT digest FROM {}.network").format(s)).fetchone()
        return StoreCounters(last, positions, res, usage, "" if net is None else net[0])
