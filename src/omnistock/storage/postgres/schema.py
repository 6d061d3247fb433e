"""The PostgreSQL store's schema: tables, the ``append`` function, creating,
checking and migrating them.

Version 2 (this one) adds the hash chain and one clock per store: the
journal's ``hash`` column, and ``global_head.hash``/``global_head.ts_us``
(the head row's hash and time). The ``append`` function clamps each row's
time to at least the head's and extends the chain with PostgreSQL's
``sha256()``, under the global-head row lock that assigns the seqs, so
neither can go wrong between two writers whatever their clocks say. A
version-1 schema is migrated when it is opened: the columns are added, the
chain computed for the existing rows (times are left as written) and the
function replaced, once, in one transaction under the creation lock.
"""

from __future__ import annotations

import zlib
from typing import TYPE_CHECKING, Any, Final

from ...errors import StorageError
from ..chain import GENESIS, row_hash
from .options import driver

if TYPE_CHECKING:
    import psycopg

__all__ = ["AHEAD", "CONFLICT", "OUTDATED", "SCHEMA_VERSION", "open_schema"]

SCHEMA_VERSION: Final = 2
LOCK_NAMESPACE: Final = 0x6F6D6E69  # "omni": the advisory-lock class for schema creation
CONFLICT: Final = "OS001"  # a touched partition moved past expected_head
AHEAD: Final = "OS002"  # expected_head is past the store's head
OUTDATED: Final = "OS003"  # an append without leaf hashes: an omnistock older than the schema
_MIGRATE_BATCH: Final = 10_000

DDL: Final = """
CREATE TABLE IF NOT EXISTS {s}.global_head (
    id boolean PRIMARY KEY DEFAULT true CHECK (id),
    head bigint NOT NULL,
    hash bytea NOT NULL DEFAULT {genesis},
    ts_us bigint
) WITH (fillfactor = 20);
CREATE TABLE IF NOT EXISTS {s}.part_heads (
    part integer PRIMARY KEY,
    head bigint NOT NULL
) WITH (fillfactor = 20);
CREATE TABLE IF NOT EXISTS {s}.journal (
    seq bigint PRIMARY KEY,
    part integer,
    ts_us bigint NOT NULL,
    kind text NOT NULL,
    sku text,
    location text,
    qty bigint NOT NULL,
    ref text,
    channel text,
    key text,
    data text,
    hash bytea
);
CREATE INDEX IF NOT EXISTS journal_sku_seq ON {s}.journal (sku, seq);
CREATE INDEX IF NOT EXISTS journal_location_seq ON {s}.journal (location, seq);
CREATE INDEX IF NOT EXISTS journal_ref_seq ON {s}.journal (ref, seq);
CREATE INDEX IF NOT EXISTS journal_ts_seq ON {s}.journal (ts_us, seq);
CREATE TABLE IF NOT EXISTS {s}.keys (
    key text PRIMARY KEY,
    fingerprint text NOT NULL,
    result text,
    seq bigint NOT NULL
);
CREATE TABLE IF NOT EXISTS {s}.snapshots (
    seq bigint PRIMARY KEY,
    blob bytea NOT NULL,
    saved_at timestamptz NOT NULL DEFAULT now()
);
INSERT INTO {s}.global_head (id, head) VALUES (true, 0) ON CONFLICT DO NOTHING;
INSERT INTO {s}.part_heads (part, head)
    SELECT g, 0 FROM generate_series(0, {nparts} - 1) AS g ON CONFLICT DO NOTHING;
CREATE OR REPLACE FUNCTION {s}.append(p_expected bigint, p jsonb)
RETURNS bigint LANGUAGE plpgsql AS $fn$
DECLARE
    n integer := jsonb_array_length(p -> 'r');
    u_part integer[];
    worst bigint;
    base bigint;
    prev bytea;
    last_ts bigint;
    t bigint;
    ts_arr bigint[];
    h_arr bytea[];
BEGIN
    IF n > 0 AND jsonb_array_length(coalesce(p -> 'h', '[]'::jsonb)) <> n THEN
        RAISE EXCEPTION 'this journal keeps a hash chain (schema version 2): '
            'upgrade omnistock in every process that writes to it'
            USING ERRCODE = {outdated};
    END IF;
    IF jsonb_array_length(p -> 'u') > 0 THEN
        u_part := ARRAY(SELECT (e ->> 0)::integer FROM jsonb_array_elements(p -> 'u') AS e);
        SELECT max(t.head) INTO worst FROM (
            SELECT h.head FROM {s}.part_heads h WHERE h.part = ANY (u_part)
            ORDER BY h.part FOR UPDATE
        ) t;
        IF worst > p_expected THEN
            RAISE EXCEPTION 'partition head % is past expected head %', worst, p_expected
                USING ERRCODE = {conflict};
        END IF;
    END IF;
    -- The one global lock: seqs, times and the chain are assigned under it.
    SELECT g.head, g.hash, g.ts_us INTO base, prev, last_ts
        FROM {s}.global_head g WHERE g.id FOR UPDATE;
    IF p_expected > base THEN
        RAISE EXCEPTION 'expected head % is past the store head %', p_expected, base
            USING ERRCODE = {ahead};
    END IF;
    IF jsonb_array_length(p -> 'k') > 0 THEN
        INSERT INTO {s}.keys (key, fingerprint, result, seq)
        SELECT e ->> 0, e ->> 1, e ->> 2, base + (e ->> 3)::bigint
        FROM jsonb_array_elements(p -> 'k') AS e;
    END IF;
    IF n > 0 THEN
        FOR i IN 1 .. n LOOP
            t := greatest((p -> 'r' -> (i - 1) ->> 1)::bigint, last_ts);
            prev := substring(sha256(prev || int8send(base + i) || int8send(t)
                || decode(p -> 'h' ->> (i - 1), 'hex')) FROM 1 FOR 16);
            ts_arr[i] := t;
            h_arr[i] := prev;
            last_ts := t;
        END LOOP;
        INSERT INTO {s}.journal
            (seq, part, ts_us, kind, sku, location, qty, ref, channel, key, data, hash)
        SELECT base + r.i, (r.e ->> 0)::integer, ts_arr[r.i], r.e ->> 2, r.e ->> 3,
               r.e ->> 4, (r.e ->> 5)::bigint, r.e ->> 6, r.e ->> 7, r.e ->> 8, r.e ->> 9,
               h_arr[r.i]
        FROM jsonb_array_elements(p -> 'r') WITH ORDINALITY AS r(e, i);
        UPDATE {s}.global_head SET head = base + n, hash = prev, ts_us = last_ts WHERE id;
        UPDATE {s}.part_heads h SET head = base + (e ->> 1)::bigint
        FROM jsonb_array_elements(p -> 'u') AS e WHERE h.part = (e ->> 0)::integer;
        PERFORM pg_notify({channel}, (base + n)::text);
    END IF;
    RETURN base + n;
END
$fn$;
"""

_MIGRATE_V1: Final = """
ALTER TABLE {s}.journal ADD COLUMN IF NOT EXISTS hash bytea;
ALTER TABLE {s}.global_head
    ADD COLUMN IF NOT EXISTS hash bytea NOT NULL DEFAULT {genesis},
    ADD COLUMN IF NOT EXISTS ts_us bigint;
"""


class Spec:
    """What the schema is made from: its name, partition count, NOTIFY
    channel, and where it lives (for messages)."""

    __slots__ = ("channel", "name", "partitions", "where")

    def __init__(self, name: str, partitions: int, channel: str, where: str) -> None:
        self.name, self.partitions, self.channel, self.where = name, partitions, channel, where

    def sql(self, text: str) -> Any:
        """``text`` with ``{s}`` and the other placeholders filled in."""
        from psycopg import sql

        return sql.SQL(text).format(
            s=sql.Identifier(self.name),
            nparts=sql.Literal(self.partitions),
            conflict=sql.Literal(CONFLICT),
            ahead=sql.Literal(AHEAD),
            outdated=sql.Literal(OUTDATED),
            channel=sql.Literal(self.channel),
            genesis=sql.Literal(GENESIS),
        )


def open_schema(conn: psycopg.Connection[Any], spec: Spec) -> None:
    """Create the schema, migrate it from an older version, or check it.

    An existing, current schema is opened without DDL or locks (and without
    the CREATE privilege). Creators and migrators serialise on an advisory
    lock, so two processes opening a fresh or old schema at once are safe."""
    meta = _read_meta(conn, spec)
    if meta and _version(meta, spec) == SCHEMA_VERSION:
        _check_partitions(meta, spec)
        return
    from psycopg import sql

    s = sql.Identifier(spec.name)
    lock_key = zlib.crc32(spec.name.encode("utf-8")) - 2**31
    with conn.transaction():
        conn.execute(
            "SELECT pg_advisory_xact_lock(%s::integer, %s::integer)", (LOCK_NAMESPACE, lock_key)
        )
        # Not _read_meta(): this backend's catalog cache may still say "no
        # such table" after the other creator committed.
        conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(s))
        conn.execute(
            sql.SQL(
                "CREATE TABLE IF NOT EXISTS {}.meta (name text PRIMARY KEY, value text NOT NULL)"
            ).format(s)
        )
        meta = dict(conn.execute(sql.SQL("SELECT name, value FROM {}.meta").format(s)))
        if not meta:
            _create(conn, spec)
            return
        version = _version(meta, spec)
        _check_partitions(meta, spec)
        if version < SCHEMA_VERSION:
            _migrate_v1(conn, spec)


def _read_meta(conn: psycopg.Connection[Any], spec: Spec) -> dict[str, str] | None:
    from psycopg import sql

    s = sql.Identifier(spec.name)
    meta_name = sql.SQL("{}.meta").format(s).as_string(conn)
    found = conn.execute("SELECT to_regclass(%s) IS NOT NULL", (meta_name,)).fetchone()
    if not found or not found[0]:
        return None
    return dict(conn.execute(sql.SQL("SELECT name, value FROM {}.meta").format(s)))


def _version(meta: dict[str, str], spec: Spec) -> int:
    try:
        version = int(meta.get("version", ""))
        int(meta.get("partitions", ""))
    except ValueError:
        raise StorageError(
            f"schema {spec.name!r} at {spec.where} has an unreadable meta table: {meta}"
        ) from None
    if version > SCHEMA_VERSION:
        raise StorageError(
            f"schema {spec.name!r} at {spec.where} has version {version}; this omnistock "
            f"reads up to version {SCHEMA_VERSION}; upgrade omnistock"
        )
    if version < 1:
        raise StorageError(f"schema {spec.name!r} at {spec.where} has version {version}")
    return version


def _check_partitions(meta: dict[str, str], spec: Spec) -> None:
    parts = int(meta["partitions"])
    if parts != spec.partitions:
        raise StorageError(
            f"schema {spec.name!r} at {spec.where} was created with partitions={parts}; "
            f"it cannot be opened with partitions={spec.partitions}"
        )


def _create(conn: psycopg.Connection[Any], spec: Spec) -> None:
    """Create schema version ``SCHEMA_VERSION`` (inside the caller's transaction)."""
    from psycopg import sql

    s = sql.Identifier(spec.name)
    conn.execute(spec.sql(DDL))
    conn.execute(
        sql.SQL("INSERT INTO {}.meta (name, value) VALUES (%s, %s), (%s, %s)").format(s),
        ("version", str(SCHEMA_VERSION), "partitions", str(spec.partitions)),
    )
    # A bulk hold's row is tens of KB: pglz costs ~0.4 ms to compress
    # 18 KB, lz4 (PostgreSQL 14+ built with it) a tenth of that. Only
    # speed depends on it, so a server without lz4 keeps the default.
    try:
        with conn.transaction():
            conn.execute(
                sql.SQL("ALTER TABLE {}.journal ALTER COLUMN data SET COMPRESSION lz4").format(s)
            )
    except driver().Error:
        pass


def _migrate_v1(conn: psycopg.Connection[Any], spec: Spec) -> None:
    """Version 1 -> 2 inside the caller's transaction (which holds the
    creation lock): add the columns, chain every existing row in seq order,
    record the head's hash and time, replace the function."""
    from psycopg import sql

    s = sql.Identifier(spec.name)
    conn.execute(spec.sql(_MIGRATE_V1))
    cols = "seq, ts_us, kind, sku, location, qty, ref, channel, key, data"
    prev, last_ts = GENESIS, None
    update = sql.SQL(
        "UPDATE {}.journal j SET hash = v.h FROM unnest(%s::bigint[], %s::bytea[]) AS v(seq, h)"
        " WHERE j.seq = v.seq"
    ).format(s)
    with conn.cursor(name="omnistock_migrate") as cur:
        cur.execute(sql.SQL("SELECT " + cols + " FROM {}.journal ORDER BY seq").format(s))
        while batch := cur.fetchmany(_MIGRATE_BATCH):
            seqs, hashes = [], []
            for row in batch:
                prev = row_hash(prev, row)
                seqs.append(row[0])
                hashes.append(prev)
            last_ts = batch[-1][1]
            conn.execute(update, (seqs, hashes))
    conn.execute(
        sql.SQL("UPDATE {}.global_head SET hash = %s, ts_us = %s WHERE id").format(s),
        (prev, last_ts),
    )
    conn.execute(spec.sql(DDL))  # idempotent; replaces the function
    conn.execute(
        sql.SQL("UPDATE {}.meta SET value = %s WHERE name = 'version'").format(s),
        (str(SCHEMA_VERSION),),
    )
