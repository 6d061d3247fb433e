"""``postgresql://...``: a shared journal in PostgreSQL for many processes and machines.

URL and options
    Any libpq URL (``postgresql://user@host:5432/db?sslmode=require``;
    ``postgres://`` too). Options may be given as keywords or as query
    parameters (keywords win); they are stripped before connecting:

    ``schema``      the PostgreSQL schema holding the store (default ``omnistock``);
                    several stores can live in one database under different schemas.
    ``partitions``  accepted for older URLs and recorded in ``meta``; schema
                    version 3 has no partitions.
    ``lock_timeout`` seconds a statement waits for a lock another session
                    holds (a row left locked by an open transaction) before
                    it fails as ``StorageError``, writing nothing (default
                    10; 0: no limit). Not applied while the schema is
                    created or migrated, nor to ``drop``.

    Needs psycopg 3 (``pip install omnistock[postgres]``).

Schema (version 3), created idempotently under ``pg_advisory_xact_lock`` so
that two processes opening a fresh database at once are safe:

    meta(name, value)                 schema version, DDL text id
    journal(seq PK, ts_us, kind, sku, location, qty, ref, channel, key, data, leaf)
    positions(sku, location, ...)     holdable, reserved, safety, unsellable units
    reservations(id, state, lines, expires_us)   reservations and open supply items
    usage(k, n)                       channel units per SKU, picks per store and day
    claims(id)                        ids claimed beyond reservations and supply
    network(digest)                   the network's digest
    keys(key PK, fingerprint, result, seq)
    snapshots(seq PK, blob, saved_at) the newest ``KEEP_SNAPSHOTS`` are kept
    marks(seq, hash), holes(seq)      chain hashes kept, seqs that never committed
    seq, clock                        sequences: row numbers, the journal's clock
    append(p), settled(g)             PL/pgSQL: one guarded append; is a missing seq final

Append: one round trip, guards checked by the database
    ``append`` is one ``SELECT schema.append(payload)`` in autocommit mode,
    prepared once per connection as ``omnistock_append`` and called by name
    at the protocol level (``calling.py``: no cursor, the payload as JSON
    text, by orjson when installed). Being a named prepared statement, it
    needs a session of its own: behind PgBouncer use session pooling (or
    transaction pooling with ``max_prepared_statements`` set, PgBouncer
    1.21+). The payload holds the rows, their leaves (``storage.chain``,
    computed by the client before the call), the keys and the command's conditions
    (``storage.Conditions``). In the function, in a fixed order so writers
    never deadlock: the network digest, then each reservation (it must be
    as the command saw it; it becomes what the command made it), each
    position (deltas applied; free stock and figures-as-seen checked), each
    usage (deltas applied; limits checked), claims and keys inserted. A
    failed condition raises SQLSTATE ``OS001``, which the store raises as
    ``ConcurrencyConflict`` naming it; nothing is written. Then the seqs and
    times are taken in a microsecond section under a session advisory lock
    (released before the rows are inserted, not at commit), the append locks
    its first seq until it ends, and the rows are inserted.

    What contends: two appends touching one position (or reservation, or
    usage key) serialise on its row for their short transactions; the
    section serialises only the taking of numbers. Nothing is notified per
    commit: NOTIFY takes a global lock at commit time.

Reading: the safe horizon
    Seqs commit out of order, so ``read``/``tail`` return rows only up to the
    first missing seq that may still commit (``tail.py``), and a missing seq
    whose append ended without committing is proven a hole by ``settled()``
    and recorded. ``wait`` polls the sequence with back-off. ``read_chain``
    links the chain over the stored leaves from the nearest mark.

Reads stream in batches with keyset pagination on ``seq`` (no transaction
held open between batches, so an abandoned iterator costs nothing). SQL is
parameterised throughout; identifiers go through ``psycopg.sql.Identifier``.
Every driver error is raised as ``omnistock.errors.StorageError`` except the
conflicts, which are ``ConcurrencyConflict``. The store is thread-safe: each of
its connections (writes, reads) is used under its own lock.

Layout: ``options`` (URL, options, driver), ``schema`` (DDL, functions,
creation), ``payload`` and ``calling`` (the append's argument and its
protocol-level call), ``migrate`` (versions 1-2 to 3), ``counters``
(counter tables), ``tail`` (the horizon), ``store`` (the ``PostgresStore``
class).
"""

from __future__ import annotations

from .options import partition_of
from .schema import SCHEMA_VERSION
from .store import PostgresStore

__all__ = ["SCHEMA_VERSION", "PostgresStore", "partition_of"]
