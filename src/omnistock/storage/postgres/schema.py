"""The PostgreSQL store's schema: tables, the guarded ``append`` function,
creating, checking and migrating them.

Version 3 (this one) has no row that every writer updates. A command's
rows get their seqs from a SEQUENCE and their times from a clock kept in a
second sequence, both taken together in a critical section of a few
microseconds (a session advisory lock released at once, not at commit), so
``(seq, ts)`` never goes backwards along the journal, yet commits are never
serialised. What a command relies on is checked by the database against
counter tables updated in the same transaction (``append``):

    positions(sku, location)   holdable, reserved, safety, unsellable units
    reservations(id)           state, lines digest and expiry of each reservation,
                               and of each open supply item (units left, ETA)
    usage(k)                   a channel's reserved units of a SKU, a store's
                               picks on a day (caps and daily capacity)
    claims(id)                 ids a plan claims beyond its reservations and
                               supply items (kept with the reservations)
    network                    a digest of the network (locations, channels, policy)

``cursors(consumer, stream)`` keeps each feed consumer's acknowledged seq
(``Store.cursor``); appends never touch it. A schema made by an older DDL
text gains it when opened (the DDL is idempotent and re-run when its
text changes, ``DDL_ID``).

The hash chain is not extended by the writer (that would serialise every
writer on the previous row's hash): each row stores its leaf, and readers
link leaves in seq order behind the safe horizon, checking themselves
against ``marks`` (chain hashes recorded at some seqs). A seq that was
taken by a transaction that never committed is recorded in ``holes`` once
every transaction that could have held it has ended.

Versions 1 and 2 (a global head row) are migrated when opened: the
journal keeps its rows, the counters are computed by replaying it
(``migrate``), once, in one transaction under the creation lock.
"""

from __future__ import annotations

import zlib
from typing import TYPE_CHECKING, Any, Final

from ..chain import GENESIS
from .options import driver

if TYPE_CHECKING:
    import psycopg

__all__ = ["CONFLICT", "DDL", "DDL_ID", "OUTDATED", "SCHEMA_VERSION", "Spec", "create_tables"]

SCHEMA_VERSION: Final = 3
LOCK_NAMESPACE: Final = 0x6F6D6E69  # "omni": the advisory-lock class for schema creation
CLOCK_NAMESPACE: Final = 0x6F6D6E6A  # the advisory-lock class of the seq/time section
SEQ_NAMESPACE: Final = 0x6F6D6E6B  # per-append locks on a first seq, held to commit
CONFLICT: Final = "OS001"  # a guard does not hold
OUTDATED: Final = "OS003"  # a client older than the schema

DDL: Final = """
CREATE SEQUENCE IF NOT EXISTS {s}.seq MINVALUE 1 START 1 CACHE 1;
CREATE SEQUENCE IF NOT EXISTS {s}.clock MINVALUE 0 START 0 CACHE 1;
CREATE TABLE IF NOT EXISTS {s}.journal (
    seq bigint PRIMARY KEY,
    ts_us bigint NOT NULL,
    kind text NOT NULL,
    sku text,
    location text,
    qty bigint NOT NULL,
    ref text,
    channel text,
    key text,
    data text,
    leaf bytea NOT NULL
);
-- Every index is written by every append: only the two history lookups a
-- command needs (a SKU's, a reservation's) have one. Times follow seqs,
-- so seq_at() searches the primary key; history by location scans. The
-- ref index is in the "C" collation: an order's reservations are a prefix
-- range of refs, which only byte order keeps together (history(order=)).
CREATE INDEX IF NOT EXISTS journal_sku_seq ON {s}.journal (sku, seq);
CREATE INDEX IF NOT EXISTS journal_refc_seq ON {s}.journal ((ref COLLATE "C"), seq);
DROP INDEX IF EXISTS {s}.journal_ref_seq;
-- Supply rows (purchase orders, transfers sent) by SKU, for promise() on a
-- worker without a replica: written by those commands only.
CREATE INDEX IF NOT EXISTS journal_supply ON {s}.journal (sku, seq)
    WHERE kind IN ('expected', 'transfer-out');
-- The network's rows (a worker without a replica loads only those at start):
-- written by network commands only (and SKU declarations: a worker converts
-- quantities by them).
DROP INDEX IF EXISTS {s}.journal_network;
CREATE INDEX IF NOT EXISTS journal_network2 ON {s}.journal (seq)
    WHERE kind IN ('location-added', 'channel-added', 'policy-set', 'sku-added');
DROP INDEX IF EXISTS {s}.journal_location_seq;
DROP INDEX IF EXISTS {s}.journal_ts_seq;
CREATE TABLE IF NOT EXISTS {s}.positions (
    sku text NOT NULL,
    location text NOT NULL,
    holdable bigint NOT NULL,
    reserved bigint NOT NULL,
    safety bigint NOT NULL,
    unsellable bigint NOT NULL,
    PRIMARY KEY (sku, location)
) WITH (fillfactor = 70);
CREATE TABLE IF NOT EXISTS {s}.reservations (
    id text PRIMARY KEY,
    state text NOT NULL,
    lines text NOT NULL,
    expires_us bigint
) WITH (fillfactor = 70);
DROP INDEX IF EXISTS {s}.reservations_due;
-- Holds due by the clock, for workers without a replica (Store.counted).
CREATE INDEX IF NOT EXISTS reservations_held_due ON {s}.reservations (expires_us)
    WHERE state = 'held';
-- Paid pickups due for release as no-shows, read with the holds due.
CREATE INDEX IF NOT EXISTS reservations_paid_due ON {s}.reservations (expires_us)
    WHERE state = 'committed' AND expires_us IS NOT NULL;
CREATE TABLE IF NOT EXISTS {s}.usage (
    k text PRIMARY KEY,
    n bigint NOT NULL
) WITH (fillfactor = 70);
CREATE TABLE IF NOT EXISTS {s}.claims (id text PRIMARY KEY);
CREATE TABLE IF NOT EXISTS {s}.network (
    id boolean PRIMARY KEY DEFAULT true CHECK (id),
    digest text NOT NULL
);
INSERT INTO {s}.network (id, digest) VALUES (true, '') ON CONFLICT DO NOTHING;
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
CREATE TABLE IF NOT EXISTS {s}.marks (seq bigint PRIMARY KEY, hash bytea NOT NULL);
CREATE TABLE IF NOT EXISTS {s}.holes (seq bigint PRIMARY KEY);
-- Feed consumers' acknowledged seqs (Store.cursor); no append touches it.
CREATE TABLE IF NOT EXISTS {s}.cursors (
    consumer text NOT NULL,
    stream text NOT NULL,
    seq bigint NOT NULL,
    state text,
    PRIMARY KEY (consumer, stream)
);
CREATE OR REPLACE FUNCTION {s}.append(p jsonb)
RETURNS bigint[] LANGUAGE plpgsql AS $fn$
DECLARE
    n integer := jsonb_array_length(p -> 'r');
    e jsonb;
    i integer;
    bad_sku text;
    bad_loc text;
    bulk boolean;
    f integer;
    h bigint;
    r bigint;
    sf bigint;
    u bigint;
    t bigint;
    last_ts bigint;
    seqs bigint[];
    tss bigint[];
BEGIN
    IF n > 0 AND jsonb_array_length(coalesce(p -> 'h', '[]'::jsonb)) <> n THEN
        RAISE EXCEPTION 'this journal is schema version 3: '
            'upgrade omnistock in every process that writes to it'
            USING ERRCODE = {outdated};
    END IF;
    -- The guards, in one fixed order (network, reservations, positions,
    -- usage, each sorted by the client), so two writers never deadlock.
    IF p ? 'net' THEN
        UPDATE {s}.network SET digest = p -> 'net' ->> 1
            WHERE id AND digest = p -> 'net' ->> 0;
        IF NOT FOUND THEN
            RAISE EXCEPTION 'the network changed since the command was planned'
                USING ERRCODE = {conflict};
        END IF;
    END IF;
    -- [id, before, after]; before/after: null (none) or [state, lines digest, expires]
    -- Loops index the arrays: a FOR over jsonb_array_elements() would run a
    -- query per loop.
    FOR i IN 0 .. jsonb_array_length(p -> 'res') - 1 LOOP
        e := p -> 'res' -> i;
        IF jsonb_typeof(e -> 1) = 'null' THEN
            -- A plain INSERT: a taken id is a unique violation, which the
            -- client reports as a conflict (ON CONFLICT would cost a
            -- speculative insertion on every new reservation).
            INSERT INTO {s}.reservations (id, state, lines, expires_us)
            VALUES (e ->> 0, e -> 2 ->> 0, e -> 2 ->> 1, (e -> 2 ->> 2)::bigint);
        ELSIF jsonb_typeof(e -> 2) = 'null' THEN
            DELETE FROM {s}.reservations WHERE id = e ->> 0 AND state = e -> 1 ->> 0
                AND lines = e -> 1 ->> 1
                AND expires_us IS NOT DISTINCT FROM (e -> 1 ->> 2)::bigint;
        ELSE
            UPDATE {s}.reservations SET state = e -> 2 ->> 0, lines = e -> 2 ->> 1,
                expires_us = (e -> 2 ->> 2)::bigint
            WHERE id = e ->> 0 AND state = e -> 1 ->> 0 AND lines = e -> 1 ->> 1
                AND expires_us IS NOT DISTINCT FROM (e -> 1 ->> 2)::bigint;
        END IF;
        IF NOT FOUND THEN
            RAISE EXCEPTION 'reservation % changed since the command was planned', e ->> 0
                USING ERRCODE = {conflict};
        END IF;
    END LOOP;
    -- [sku, location, d_holdable, d_reserved, d_safety, d_unsellable, flags,
    --  free offset, and with flag 2 the four values the plan saw]
    -- Simple expressions where they do (plpgsql evaluates those without
    -- the executor): a one-line hold must not pay for the bulk test's query.
    bulk := jsonb_array_length(p -> 'pos') > 16;
    IF bulk THEN
        bulk := NOT EXISTS (SELECT 1 FROM jsonb_array_elements(p -> 'pos') x
                            WHERE (x ->> 6)::integer & 2 <> 0);
    END IF;
    IF bulk THEN
        -- A bulk hold: one set-based upsert in (sku, location) order, then
        -- one check of every position it must keep within free stock.
        WITH d AS (
            SELECT x ->> 0 AS sku, x ->> 1 AS location, (x ->> 2)::bigint AS dh,
                   (x ->> 3)::bigint AS dr, (x ->> 4)::bigint AS ds, (x ->> 5)::bigint AS du,
                   (x ->> 6)::integer AS f, (x ->> 7)::bigint AS off
            FROM jsonb_array_elements(p -> 'pos') x
        ), u AS (
            INSERT INTO {s}.positions AS x (sku, location, holdable, reserved, safety, unsellable)
            SELECT sku, location, dh, dr, ds, du FROM d ORDER BY sku, location
            ON CONFLICT (sku, location) DO UPDATE SET
                holdable = x.holdable + EXCLUDED.holdable,
                reserved = x.reserved + EXCLUDED.reserved,
                safety = x.safety + EXCLUDED.safety,
                unsellable = x.unsellable + EXCLUDED.unsellable
            RETURNING x.sku, x.location, x.holdable, x.reserved
        )
        SELECT u.sku, u.location INTO bad_sku, bad_loc FROM u JOIN d USING (sku, location)
            WHERE d.f & 1 <> 0 AND u.holdable - u.reserved + d.off < 0 LIMIT 1;
        IF FOUND THEN
            RAISE EXCEPTION 'reserved would exceed free stock at (%, %)', bad_sku, bad_loc
                USING ERRCODE = {conflict};
        END IF;
    ELSE
        FOR i IN 0 .. jsonb_array_length(p -> 'pos') - 1 LOOP
            e := p -> 'pos' -> i;
            f := (e ->> 6)::integer;
            IF f & 2 <> 0 THEN
                SELECT holdable, reserved, safety, unsellable INTO h, r, sf, u
                    FROM {s}.positions WHERE sku = e ->> 0 AND location = e ->> 1 FOR UPDATE;
                IF NOT FOUND THEN
                    h := 0; r := 0; sf := 0; u := 0;
                END IF;
                IF h <> (e ->> 8)::bigint OR r <> (e ->> 9)::bigint
                        OR sf <> (e ->> 10)::bigint OR u <> (e ->> 11)::bigint THEN
                    RAISE EXCEPTION 'position (%, %) changed since the command was planned',
                        e ->> 0, e ->> 1 USING ERRCODE = {conflict};
                END IF;
            END IF;
            -- An UPDATE first: the usual position exists, and an upsert
            -- would lock its row with a WAL record of its own first.
            UPDATE {s}.positions SET
                holdable = holdable + (e ->> 2)::bigint,
                reserved = reserved + (e ->> 3)::bigint,
                safety = safety + (e ->> 4)::bigint,
                unsellable = unsellable + (e ->> 5)::bigint
            WHERE sku = e ->> 0 AND location = e ->> 1
            RETURNING holdable, reserved INTO h, r;
            IF NOT FOUND THEN  -- a new position (perhaps another writer's too)
                INSERT INTO {s}.positions AS x
                    (sku, location, holdable, reserved, safety, unsellable)
                VALUES (e ->> 0, e ->> 1, (e ->> 2)::bigint, (e ->> 3)::bigint,
                        (e ->> 4)::bigint, (e ->> 5)::bigint)
                ON CONFLICT (sku, location) DO UPDATE SET
                    holdable = x.holdable + EXCLUDED.holdable,
                    reserved = x.reserved + EXCLUDED.reserved,
                    safety = x.safety + EXCLUDED.safety,
                    unsellable = x.unsellable + EXCLUDED.unsellable
                RETURNING x.holdable, x.reserved INTO h, r;
            END IF;
            IF f & 1 <> 0 AND h - r + (e ->> 7)::bigint < 0 THEN
                RAISE EXCEPTION 'reserved would exceed free stock at (%, %)', e ->> 0, e ->> 1
                    USING ERRCODE = {conflict};
            END IF;
        END LOOP;
    END IF;
    -- [key, delta, limit or null]
    FOR i IN 0 .. jsonb_array_length(p -> 'use') - 1 LOOP
        e := p -> 'use' -> i;
        INSERT INTO {s}.usage AS x (k, n) VALUES (e ->> 0, (e ->> 1)::bigint)
        ON CONFLICT (k) DO UPDATE SET n = x.n + EXCLUDED.n
        RETURNING x.n INTO u;
        IF jsonb_typeof(e -> 2) = 'number' AND u > (e ->> 2)::bigint THEN
            RAISE EXCEPTION '% would pass its limit %', e ->> 0, e ->> 2
                USING ERRCODE = {conflict};
        END IF;
    END LOOP;
    IF jsonb_array_length(p -> 'c') > 0 THEN
        INSERT INTO {s}.claims (id) SELECT value ->> 0 FROM jsonb_array_elements(p -> 'c');
    END IF;
    IF jsonb_array_length(p -> 'k') > 0 THEN
        INSERT INTO {s}.keys (key, fingerprint, result, seq)
        SELECT x.v ->> 0, x.v ->> 1, x.v ->> 2, 0 FROM jsonb_array_elements(p -> 'k') AS x(v);
    END IF;
    IF n = 0 THEN
        RETURN '{{}}'::bigint[];
    END IF;
    -- Seqs and times together, in a section of microseconds: (seq, ts) never
    -- goes backwards along the journal, and nothing is held until commit but
    -- a lock on the first seq, which tells readers the append is in flight.
    -- No EXCEPTION block here (a subtransaction per append costs more than
    -- the rest of this section): nothing below can fail but a cancel, and
    -- the client unlocks its session's advisory locks after any error.
    -- Every call below is a simple expression (IF, :=), not a PERFORM or
    -- a SELECT: each of those would run the executor.
    IF pg_advisory_lock({clock_ns}, {clock_key}) IS NULL THEN END IF;
    last_ts := coalesce(pg_sequence_last_value('{s}.clock'), 0);
    FOR i IN 1 .. n LOOP
        t := greatest((p -> 'r' -> (i - 1) ->> 0)::bigint, last_ts);
        last_ts := t;
        tss[i] := t;
        seqs[i] := nextval('{s}.seq');
    END LOOP;
    IF pg_advisory_xact_lock({seq_ns}, (seqs[1] % 2147483647)::integer) IS NULL THEN END IF;
    last_ts := setval('{s}.clock', last_ts);
    IF pg_advisory_unlock({clock_ns}, {clock_key}) THEN END IF;
    FOR i IN 1 .. n LOOP
        e := p -> 'r' -> (i - 1);
        INSERT INTO {s}.journal
            (seq, ts_us, kind, sku, location, qty, ref, channel, key, data, leaf)
        VALUES (seqs[i], tss[i], e ->> 1, e ->> 2, e ->> 3, (e ->> 4)::bigint, e ->> 5,
                e ->> 6, e ->> 7, e ->> 8, decode(p -> 'h' ->> (i - 1), 'hex'));
    END LOOP;
    IF jsonb_array_length(p -> 'k') > 0 THEN
        -- A result that names a planned seq (an "applied" result's first
        -- value) names the seq that row took, as the caller's result does.
        UPDATE {s}.keys k SET seq = seqs[(x.v ->> 3)::integer],
            result = CASE WHEN left(k.result, 20) = '{{"t":"applied","v":['
                    AND coalesce((p ->> 'p0')::bigint, 0) > 0 THEN
                {s}.planned_seq(k.result, (p ->> 'p0')::bigint, seqs)
                ELSE k.result END
        FROM jsonb_array_elements(p -> 'k') AS x(v) WHERE k.key = x.v ->> 0;
    END IF;
    RETURN seqs;
END
$fn$;
-- An applied result's seq, planned as p0 + i - 1, as the seq row i took.
CREATE OR REPLACE FUNCTION {s}.planned_seq(result text, p0 bigint, seqs bigint[])
RETURNS text LANGUAGE sql IMMUTABLE AS $fn$
    SELECT CASE WHEN o BETWEEN 1 AND cardinality(seqs)
        THEN jsonb_set(result::jsonb, '{{v,0}}', to_jsonb(seqs[o]))::text ELSE result END
    FROM (SELECT ((result::jsonb -> 'v' ->> 0)::bigint - p0 + 1)::integer AS o) z
$fn$;
-- The last seq whose time is at or before t: (seq, ts) never goes
-- backwards, so a binary search over the primary key, O(log rows).
CREATE OR REPLACE FUNCTION {s}.seq_at(t bigint)
RETURNS bigint LANGUAGE plpgsql STABLE AS $fn$
DECLARE
    lo bigint := 0;
    hi bigint;
    mid bigint;
    found_seq bigint;
    found_ts bigint;
BEGIN
    SELECT max(seq) INTO hi FROM {s}.journal;
    IF hi IS NULL THEN
        RETURN 0;
    END IF;
    -- lo: a seq known at or before t (0: none); hi: the last seq to search.
    WHILE lo < hi LOOP
        mid := lo + (hi - lo + 1) / 2;
        SELECT j.seq, j.ts_us INTO found_seq, found_ts FROM {s}.journal j
            WHERE j.seq >= mid ORDER BY j.seq LIMIT 1;
        IF found_seq IS NOT NULL AND found_ts <= t THEN
            lo := found_seq;
        ELSE
            hi := mid - 1;
        END IF;
    END LOOP;
    RETURN lo;
END
$fn$;
-- True once seq g can no longer commit: taken by an append that ended
-- without committing (a hole, then recorded), or never taken. Under the
-- seq/time lock every taken seq's append holds its lock if still running.
CREATE OR REPLACE FUNCTION {s}.settled(g bigint)
RETURNS boolean LANGUAGE plpgsql AS $fn$
BEGIN
    IF g > (SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM {s}.seq) THEN
        RETURN false;  -- not taken yet
    END IF;
    PERFORM pg_advisory_xact_lock({clock_ns}, {clock_key});
    IF NOT pg_try_advisory_xact_lock({seq_ns}, (g % 2147483647)::integer) THEN
        RETURN false;  -- its append is still running
    END IF;
    IF EXISTS (SELECT 1 FROM {s}.journal WHERE seq = g) THEN
        RETURN false;  -- it committed: read it
    END IF;
    INSERT INTO {s}.holes (seq) VALUES (g) ON CONFLICT DO NOTHING;
    RETURN true;
END
$fn$;
"""


DDL_ID: Final = f"{zlib.crc32(DDL.encode('utf-8')):08x}"
"""Which text of the DDL made a schema: a schema made by another text of
the same version gets this one's functions when opened."""


class Spec:
    """What the schema is made from: its name, partition count (kept in
    ``meta`` for older clients' messages; version 3 has no partitions),
    and where it lives (for messages)."""

    __slots__ = ("name", "partitions", "where")

    def __init__(self, name: str, partitions: int, where: str) -> None:
        self.name, self.partitions, self.where = name, partitions, where

    @property
    def clock_key(self) -> int:
        """The advisory-lock key of this schema's seq/time section."""
        return zlib.crc32(self.name.encode("utf-8")) - 2**31

    def sql(self, text: str) -> Any:
        """``text`` with ``{s}`` and the other placeholders filled in."""
        from psycopg import sql

        return sql.SQL(text).format(
            s=sql.Identifier(self.name),
            conflict=sql.Literal(CONFLICT),
            outdated=sql.Literal(OUTDATED),
            genesis=sql.Literal(GENESIS),
            clock_ns=sql.Literal(CLOCK_NAMESPACE),
            clock_key=sql.Literal(self.clock_key),
            seq_ns=sql.Literal(SEQ_NAMESPACE),
        )


def create_tables(conn: psycopg.Connection[Any], spec: Spec) -> None:
    """The version-3 tables and function (idempotent), inside the caller's
    transaction."""
    from psycopg import sql

    conn.execute(spec.sql(DDL))
    # A bulk hold's row is tens of KB: pglz costs ~0.4 ms to compress
    # 18 KB, lz4 (PostgreSQL 14+ built with it) a tenth of that. Only
    # speed depends on it, so a server without lz4 keeps the default.
    try:
        with conn.transaction():
            conn.execute(
                sql.SQL("ALTER TABLE {}.journal ALTER COLUMN data SET COMPRESSION lz4").format(
                    sql.Identifier(spec.name)
                )
            )
    except driver().Error:
        pass
