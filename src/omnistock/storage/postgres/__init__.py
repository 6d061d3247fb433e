"""``postgresql://...``: a shared journal in PostgreSQL for many processes and machines.

URL and options
    Any libpq URL (``postgresql://user@host:5432/db?sslmode=require``;
    ``postgres://`` too). Two options may be given as keywords or as query
    parameters (keywords win); they are stripped before connecting:

    ``schema``      the PostgreSQL schema holding the store (default ``omnistock``);
                    several stores can live in one database under different schemas.
    ``partitions``  how many SKU-hash partitions the journal has (default 16). It
                    is fixed when the schema is created and recorded in its
                    ``meta`` table; opening it with another number is a
                    ``StorageError``.

    Needs psycopg 3 (``pip install omnistock[postgres]``).

Schema (version 2), created idempotently under ``pg_advisory_xact_lock`` so
that two processes opening a fresh database at once are safe:

    meta(name, value)                     schema version, partition count
    global_head(id, head, hash, ts_us)    one row: the journal head, its chain hash and time
    part_heads(part, head)                one row per partition: its last seq
    journal(seq PK, part, ts_us, kind, sku, location, qty, ref, channel, key, data, hash)
    keys(key PK, fingerprint, result, seq)
    snapshots(seq PK, blob, saved_at)     the newest ``KEEP_SNAPSHOTS`` are kept
    append(...)                           a PL/pgSQL function doing one append

Partitions
    ``part = zlib.crc32(sku.encode("utf-8")) % partitions`` (stable across
    processes and Python versions). A row with no SKU (network changes: None)
    or the empty SKU (a bulk hold's one row, which spans SKUs) belongs to every
    partition. The journal is ONE table with a ``part`` column, not a
    declaratively partitioned table: concurrency is decided by the tiny
    ``part_heads`` rows, not by table-level locks, so physical partitions would
    buy nothing on one primary, would turn every catch-up read (ordered by the
    global ``seq``) into a Merge Append over N partitions, and would forbid a
    primary key on ``seq`` alone. ``part`` is the natural distribution column
    if the journal is moved onto Citus (see DESIGN.md); that path is documented,
    not built here.

Append: one round trip
    ``append`` is one ``SELECT schema.append(...)`` in autocommit mode, the rows
    passed as column arrays. Inside that single transaction, in this order:

    1. ``SELECT ... FROM part_heads WHERE part = ANY(touched) ORDER BY part FOR
       UPDATE`` locks the touched partitions' rows in ascending order (a row
       with no SKU touches all of them), so writers cannot deadlock. If any of
       those heads is past ``expected_head`` -> ``ConcurrencyConflict``.
    2. ``SELECT head, hash, ts_us FROM global_head ... FOR UPDATE`` takes the
       single global row lock; the rows get seqs ``head+1 .. head+n``.
    3. Under that lock each row's time is clamped to at least the previous
       row's (``global_head.ts_us``), so journal time never goes backwards
       whatever the writers' clocks say, and the hash chain is extended:
       ``h = sha256(prev || int8send(seq) || int8send(ts) || leaf)[:16]``,
       the leaves (the rows' content hashes, ``storage.chain``) computed by
       the client before the call.
    4. keys and rows are inserted, ``global_head`` and ``part_heads`` get
       their new values, ``pg_notify('omnistock_<schema>', head)`` is
       queued, and COMMIT.

    What contends: writers touching a common partition serialise for their
    whole (short, server-side) transaction; the global row serialises every
    writer, but only for steps 2-3 (a few index inserts and the commit), which
    is what makes seqs gap-free and in commit order: the next writer can only
    read ``global_head`` after the previous one committed, so a reader that
    has seen ``seq <= h`` never later finds a new row ``<= h``. A plain
    SEQUENCE is not used because its numbers can commit out of order. What
    does not contend: writers on different partitions never conflict
    (``ConcurrencyConflict``) and never wait for each other's validation;
    readers take no locks at all. Keys are inserted after step 2, so only the
    global-lock holder inserts keys and a duplicate key never blocks: it fails
    at once as ``ConcurrencyConflict`` and rolls everything back.

Catch-up
    ``wait`` LISTENs on a dedicated autocommit connection, checks the head once
    (so a commit between the caller's read and the LISTEN is not lost), then
    blocks in psycopg's ``notifies()`` until a notification carries a head past
    the caller's, or the timeout. It never polls the table.

Reads stream in batches with keyset pagination on ``seq`` (no transaction
held open between batches, so an abandoned iterator costs nothing). SQL is
parameterised throughout; identifiers go through ``psycopg.sql.Identifier``.
Every driver error is raised as ``omnistock.errors.StorageError`` except the
conflicts, which are ``ConcurrencyConflict``. The store is thread-safe: each of
its connections (writes, reads, LISTEN) is used under its own lock.

``seq_at`` relies on what the port guarantees: row times do not decrease along
the journal. Times come from the writers' clocks, clamped by ``append`` to the
head's time; a writer whose clock runs behind writes its rows at the head's
time, so keep clocks in sync for times to be exact. A version-1 schema is
migrated when opened (``schema``); rows written before keep their times.

Layout: ``options`` (URL, options, driver), ``schema`` (DDL, the ``append``
function, creation and migration), ``store`` (the ``PostgresStore`` class).
"""

from __future__ import annotations

from .options import partition_of
from .schema import SCHEMA_VERSION
from .store import PostgresStore

__all__ = ["SCHEMA_VERSION", "PostgresStore", "partition_of"]
