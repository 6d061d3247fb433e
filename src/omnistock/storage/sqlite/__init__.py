"""``sqlite:///path.db``: an embedded, durable journal in one SQLite file.

URL
    ``sqlite:///relative/path.db`` (three slashes, path relative to the current
    directory), ``sqlite:////abs/path.db`` or ``sqlite:///C:/path.db`` (absolute),
    following SQLAlchemy. ``sqlite://`` or ``sqlite:///:memory:`` opens a private,
    volatile in-memory database (useful in tests only). The path is used
    verbatim (no percent-decoding). Options may be given in the query string or
    as keyword arguments (keywords win):

    - ``synchronous``: ``normal`` (default), ``full``, ``extra`` or ``off``.
    - ``busy_timeout``: seconds a writer waits for another connection's write
      lock before failing with ``StorageError`` (default 10; 0 to 86400).
    - ``keep_snapshots``: how many of the newest snapshots to keep (default 3;
      1 to 1000).

    An unknown option, an option given twice, or a value that is not a
    number, is NaN, infinite or out of range raises ``InvalidInput`` naming
    the option and the value.

Durability
    The database runs in WAL mode. With ``synchronous=normal`` a commit is
    durable once ``append`` returns *as far as the process is concerned*: it
    survives the process being killed (``kill -9``, a crash, an exception), but
    an operating-system crash or a power loss may lose the last few commits
    (never corrupt the file, never leave a partial commit). Use
    ``?synchronous=full`` (or ``extra``) when commits must survive power loss;
    each commit then waits for an fsync and appends are much slower. ``off``
    risks corruption on an OS crash and is meant for throw-away benchmarks.

Concurrency
    One store object may be shared by the threads of one process (a single
    connection, guarded by a lock). Several processes on one machine may open
    the same file: every append runs in a ``BEGIN IMMEDIATE`` transaction, so
    the head check, the key check and the inserts are atomic across processes,
    and readers never block writers (WAL). WAL needs shared memory, so the file
    must live on a local file system, not a network share.

Errors
    Every ``sqlite3`` error (a missing directory, a file that is not a
    database, a lock held past ``busy_timeout``, a full disk, ...) is raised as
    ``omnistock.errors.StorageError`` naming the path. A file that is not an
    omnistock journal, or was written by a newer schema version, is refused at
    open time.

Journal time and the hash chain
    Each appended row's time is clamped to at least the previous row's,
    inside the transaction that numbers it, so times never go backwards
    along the journal whatever the writers' clocks say. Each row carries its
    chain hash (``entries.hash``, see ``storage.chain``). A file of schema
    version 1 is migrated when first opened: the column is added and the
    chain computed for the existing rows, once, in one transaction. Upgrade
    every process sharing a file together: an older omnistock refuses a
    version-2 file, and one that kept a version-1 file open while it was
    migrated writes rows with no hash, which ``check()`` reports.

Layout
    ``options`` (the URL and its options), ``schema`` (tables, creation,
    migration) and ``store`` (the ``SQLiteStore`` class).
"""

from __future__ import annotations

from .options import MAX_BUSY_TIMEOUT, MAX_KEEP_SNAPSHOTS, parse_url
from .schema import SCHEMA_VERSION
from .store import _BATCH, SQLiteStore

__all__ = [
    "MAX_BUSY_TIMEOUT",
    "MAX_KEEP_SNAPSHOTS",
    "SCHEMA_VERSION",
    "_BATCH",
    "SQLiteStore",
    "parse_url",
]
