"""Migrating a version-1 or -2 schema (a global head row) to version 3.

Runs once, inside the opener's transaction under the creation lock:

1. every journal row gets its leaf (``storage.chain.leaf``) and times are
   clamped so they never go backwards (version 1 kept the writers' clocks);
2. the head rows, the partition column and the old function go; the
   version-3 tables and function are created, the sequences set past the
   last row and its time;
3. the counter tables are filled from a replay of the journal (the ledger's
   fold, imported here only, so the counters equal what the journal says).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final

from ..chain import leaf

if TYPE_CHECKING:
    import psycopg

    from .schema import Spec

_BATCH: Final = 10_000


def migrate(conn: psycopg.Connection[Any], spec: Spec) -> None:
    """Version 1 or 2 -> 3 in the caller's transaction."""
    from psycopg import sql

    from .counters import write_counters
    from .schema import SCHEMA_VERSION, create_tables

    s = sql.Identifier(spec.name)
    conn.execute(sql.SQL("ALTER TABLE {}.journal ADD COLUMN IF NOT EXISTS leaf bytea").format(s))
    cols = "seq, ts_us, kind, sku, location, qty, ref, channel, key, data"
    update = sql.SQL(
        "UPDATE {}.journal j SET leaf = v.h, ts_us = v.t"
        " FROM unnest(%s::bigint[], %s::bytea[], %s::bigint[]) AS v(seq, h, t)"
        " WHERE j.seq = v.seq"
    ).format(s)
    rows: list[Any] = []
    last_seq = last_ts = 0
    with conn.cursor(name="omnistock_migrate") as cur:
        cur.execute(sql.SQL("SELECT " + cols + " FROM {}.journal ORDER BY seq").format(s))
        while batch := cur.fetchmany(_BATCH):
            seqs, hashes, times = [], [], []
            for row in batch:
                last_ts = max(last_ts, int(row[1]))
                seqs.append(row[0])
                hashes.append(leaf(row, 2))
                times.append(last_ts)
                rows.append((row[0], last_ts, *row[2:]))
            last_seq = int(batch[-1][0])
            conn.execute(update, (seqs, hashes, times))
    conn.execute(
        sql.SQL(
            "ALTER TABLE {0}.journal ALTER COLUMN leaf SET NOT NULL,"
            " DROP COLUMN IF EXISTS part, DROP COLUMN IF EXISTS hash;"
            " DROP TABLE IF EXISTS {0}.global_head; DROP TABLE IF EXISTS {0}.part_heads;"
            " DROP FUNCTION IF EXISTS {0}.append(bigint, jsonb)"
        ).format(s)
    )
    create_tables(conn, spec)
    if last_seq:
        for name, value in (("seq", last_seq), ("clock", last_ts)):
            seq_name = sql.Identifier(spec.name, name).as_string(conn)
            conn.execute("SELECT setval(%s::regclass, %s)", (seq_name, value))
    write_counters(conn, spec.name, rows)
    conn.execute(
        sql.SQL("UPDATE {}.meta SET value = %s WHERE name = 'version'").format(s),
        (str(SCHEMA_VERSION),),
    )
