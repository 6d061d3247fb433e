"""The SQLite store's tables, and creating, checking and migrating them.

Version 2 added ``entries.hash``, the row's chain hash (see
``storage.chain``). A version-1 file is migrated when it is opened: the
column is added and the chain computed for every existing row, once, in
one ``BEGIN IMMEDIATE`` transaction (a crash leaves version 1 intact).

Version 3 (this one) adds ``cursors``: each feed consumer's acknowledged
seq and state (``Store.cursor``). A version-2 file gains the table when it
is opened (a version-1 file is taken through both steps).
"""

from __future__ import annotations

import sqlite3
import time
from typing import Final

from ...errors import StorageError
from ..chain import GENESIS, row_hash

__all__ = ["SCHEMA_VERSION", "enable_wal", "ensure_schema"]

SCHEMA_VERSION: Final = 3
"""Version of the table layout this module writes and reads."""
MIGRATES: Final = (1, 2)
"""Older versions opened by migrating them to ``SCHEMA_VERSION``."""

APPLICATION_ID: Final = 0x4F4D4E49  # "OMNI": marks a file as an omnistock journal
_MIGRATE_PAGE: Final = 10_000

_CURSORS: Final = """CREATE TABLE IF NOT EXISTS cursors (
        consumer TEXT NOT NULL,
        stream   TEXT NOT NULL,
        seq      INTEGER NOT NULL,
        state    TEXT,
        PRIMARY KEY (consumer, stream)
    ) WITHOUT ROWID"""

SCHEMA: Final = (
    """CREATE TABLE IF NOT EXISTS meta (
        name  TEXT PRIMARY KEY,
        value
    )""",
    """CREATE TABLE IF NOT EXISTS entries (
        seq      INTEGER PRIMARY KEY,
        ts       INTEGER NOT NULL,
        kind     TEXT NOT NULL,
        sku      TEXT,
        location TEXT,
        qty      INTEGER NOT NULL,
        ref      TEXT,
        channel  TEXT,
        key      TEXT,
        data     TEXT,
        hash     BLOB
    )""",
    # Secondary indexes of the journal, maintained in batches (see store._INDEXED).
    "CREATE TABLE IF NOT EXISTS ix_sku (v TEXT, seq INTEGER, PRIMARY KEY (v, seq)) WITHOUT ROWID",
    "CREATE TABLE IF NOT EXISTS ix_ref (v TEXT, seq INTEGER, PRIMARY KEY (v, seq)) WITHOUT ROWID",
    "CREATE TABLE IF NOT EXISTS ix_ts (v INTEGER, seq INTEGER, PRIMARY KEY (v, seq)) WITHOUT ROWID",
    """CREATE TABLE IF NOT EXISTS keys (
        key         TEXT PRIMARY KEY,
        fingerprint TEXT NOT NULL,
        result      TEXT,
        seq         INTEGER NOT NULL
    ) WITHOUT ROWID""",
    """CREATE TABLE IF NOT EXISTS snapshots (
        seq  INTEGER PRIMARY KEY,
        blob BLOB NOT NULL
    )""",
    _CURSORS,
    "INSERT OR IGNORE INTO meta (name, value) VALUES ('indexed_upto', 0)",
)
_SET_VERSION: Final = "INSERT OR REPLACE INTO meta (name, value) VALUES ('schema_version', ?)"
_ROWS: Final = (
    "SELECT seq, ts, kind, sku, location, qty, ref, channel, key, data FROM entries "
    "WHERE seq > ? ORDER BY seq LIMIT ?"
)


def enable_wal(conn: sqlite3.Connection, busy_timeout: float) -> str:
    """Switch the file to WAL and return the journal mode. Switching needs
    an exclusive lock and SQLite does not always run the busy handler for
    it (several processes opening a fresh file at once), so retry until
    ``busy_timeout``."""
    deadline = time.monotonic() + busy_timeout
    delay = 0.001
    while True:
        try:
            return str(conn.execute("PRAGMA journal_mode = WAL").fetchone()[0])
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() >= deadline:
                raise
        time.sleep(delay)
        delay = min(delay * 2, 0.05)


def schema_version(conn: sqlite3.Connection, path: str) -> int | None:
    """The file's schema version; None for a fresh, empty database.
    Raises ``StorageError`` for a foreign file, or a version this module
    neither reads nor migrates."""
    app = conn.execute("PRAGMA application_id").fetchone()[0]
    if app == 0:
        tables = conn.execute(
            "SELECT count(*) FROM sqlite_master WHERE name NOT LIKE 'sqlite_%'"
        ).fetchone()[0]
        if tables == 0:
            return None
        raise StorageError(
            f"sqlite store {path!r}: the database holds other tables and is not an "
            "omnistock journal"
        )
    if app != APPLICATION_ID:
        raise StorageError(
            f"sqlite store {path!r}: not an omnistock journal (application_id={app})"
        )
    found = conn.execute("SELECT value FROM meta WHERE name = 'schema_version'").fetchone()
    try:
        version = int(found[0]) if found is not None else -1
    except ValueError:
        version = -1
    if version != SCHEMA_VERSION and version not in MIGRATES:
        raise StorageError(
            f"sqlite store {path!r}: schema version {found[0] if found else None!r} "
            f"is not supported (this omnistock reads version {SCHEMA_VERSION})"
        )
    return version


def ensure_schema(conn: sqlite3.Connection, path: str) -> None:
    """Create the schema of a fresh file, or migrate an older one, so that
    the file is at ``SCHEMA_VERSION``.

    Safe to race: several processes opening a fresh file at once all end
    with the same schema (the creation runs under the write lock and every
    statement is idempotent; the version is read again under the lock)."""
    conn.execute("BEGIN")  # one read snapshot: another process may be creating it
    try:
        version = schema_version(conn, path)
    finally:
        conn.execute("COMMIT")
    if version == SCHEMA_VERSION:
        return
    conn.execute("BEGIN IMMEDIATE")
    try:
        version = schema_version(conn, path)
        if version is None:
            for stmt in SCHEMA:
                conn.execute(stmt)
            conn.execute(_SET_VERSION, (str(SCHEMA_VERSION),))
            conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
        else:
            if version == 1:
                _migrate_v1(conn)
            _migrate_v2(conn)
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise


def _migrate_v1(conn: sqlite3.Connection) -> None:
    """Version 1 -> 2, inside the caller's write transaction: add
    ``entries.hash`` and chain every existing row, in seq order. Row times
    are left as they were written."""
    conn.execute("ALTER TABLE entries ADD COLUMN hash BLOB")
    prev, last = GENESIS, 0
    while True:
        page = conn.execute(_ROWS, (last, _MIGRATE_PAGE)).fetchall()
        if not page:
            break
        hashes = []
        for row in page:
            prev = row_hash(prev, row)
            hashes.append((prev, row[0]))
        conn.executemany("UPDATE entries SET hash = ? WHERE seq = ?", hashes)
        last = page[-1][0]


def _migrate_v2(conn: sqlite3.Connection) -> None:
    """Version 2 -> 3, inside the caller's write transaction: add the
    ``cursors`` table (the journal is untouched)."""
    conn.execute(_CURSORS)
    conn.execute(_SET_VERSION, (str(SCHEMA_VERSION),))
