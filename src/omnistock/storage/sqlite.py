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
"""

from __future__ import annotations

import math
import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any, Final, NoReturn
from urllib.parse import parse_qsl

from ..errors import ConcurrencyConflict, InvalidInput, StorageError
from .base import Commit, KeyRecord, Row, Store

__all__ = ["SCHEMA_VERSION", "SQLiteStore"]

SCHEMA_VERSION: Final = 1
"""Version of the table layout this module writes and reads."""

_APPLICATION_ID: Final = 0x4F4D4E49  # "OMNI": marks a file as an omnistock journal
_SYNCHRONOUS: Final = {"off": 0, "normal": 1, "full": 2, "extra": 3}
_OPTIONS: Final = ("synchronous", "busy_timeout", "keep_snapshots")
MAX_BUSY_TIMEOUT: Final = 86_400.0  # seconds: a day; longer is a typo, not a wait
MAX_KEEP_SNAPSHOTS: Final = 1_000
_PAGE: Final = 2048  # rows fetched per query while streaming a read

_SCHEMA: Final = (
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
        data     TEXT
    )""",
    # Secondary indexes of the journal, maintained in batches (see _INDEXED).
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
    "INSERT OR IGNORE INTO meta (name, value) VALUES ('indexed_upto', 0)",
)

# Batched indexes. An ordinary index on entries costs one more page written to
# the WAL per commit per index, which halves single-row append throughput.
# Instead, ix_sku/ix_ref/ix_ts hold (value, seq) for every row with
# seq <= meta.indexed_upto; the writer brings them up to date inside its own
# append transaction once the unindexed tail reaches _BATCH rows, so each
# index page is written once per batch. Queries use the index up to
# indexed_upto and scan the short tail (< _BATCH rows) by rowid. The index
# tables only ever grow and indexed_upto only ever increases, so a reader that
# saw indexed_upto = u can rely on the index for every seq <= u.
_BATCH: Final = 256
_INDEXED: Final = ("sku", "ref", "ts")
_CATCH_UP: Final = tuple(
    f"INSERT INTO ix_{col} (v, seq) SELECT {col}, seq FROM entries "
    f"WHERE seq > ? AND {col} IS NOT NULL"
    for col in _INDEXED
)
_SET_INDEXED: Final = "UPDATE meta SET value = ? WHERE name = 'indexed_upto'"
_GET_INDEXED: Final = "SELECT value FROM meta WHERE name = 'indexed_upto'"
_HEAD_AND_INDEXED: Final = (
    "SELECT (SELECT max(seq) FROM entries), (SELECT value FROM meta WHERE name = 'indexed_upto')"
)

_COLUMNS: Final = "seq, ts, kind, sku, location, qty, ref, channel, key, data"
_E_COLUMNS: Final = ", ".join(f"e.{c}" for c in _COLUMNS.split(", "))
_HEAD: Final = "SELECT max(seq) FROM entries"
_INSERT_ROW: Final = f"INSERT INTO entries ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
_INSERT_KEY: Final = "INSERT INTO keys (key, fingerprint, result, seq) VALUES (?, ?, ?, ?)"
_KEY_EXISTS: Final = "SELECT 1 FROM keys WHERE key = ?"
_LOOKUP_KEY: Final = "SELECT key, fingerprint, result, seq FROM keys WHERE key = ?"
_SEQ_AT_TAIL: Final = "SELECT max(seq) FROM entries WHERE seq > ? AND ts <= ?"
_SEQ_AT_INDEXED: Final = "SELECT seq FROM ix_ts WHERE v <= ? ORDER BY v DESC, seq DESC LIMIT 1"


def parse_url(url: str) -> tuple[str, dict[str, str]]:
    """Split a ``sqlite:///path?opt=value`` URL into the path and its options.

    Raises ``InvalidInput`` naming the URL if it is not a ``sqlite://`` URL or
    names a host.
    """
    if not isinstance(url, str):
        raise InvalidInput("url", url, "must be a string like 'sqlite:///path.db'")
    scheme, sep, rest = url.partition("://")
    if not sep or scheme.lower() != "sqlite":
        raise InvalidInput("url", url, "must look like 'sqlite:///path.db'")
    rest, _, query = rest.partition("?")
    if rest == "":
        path = ":memory:"
    elif rest.startswith("/"):
        path = rest[1:]  # "/rel.db" -> "rel.db", "//abs.db" -> "/abs.db"
    else:
        raise InvalidInput(
            "url",
            url,
            "a SQLite URL has no host: use 'sqlite:///relative.db' or "
            "'sqlite:////absolute/path.db'",
        )
    if path == "":
        raise InvalidInput("url", url, "names no file: use 'sqlite:///path.db'")
    try:
        pairs = parse_qsl(query, keep_blank_values=True, strict_parsing=bool(query))
    except ValueError as exc:
        raise InvalidInput("url", url, f"malformed query string: {exc}") from None
    options: dict[str, str] = {}
    for name, value in pairs:
        if name in options:
            raise InvalidInput(name, value, f"option given twice in {url!r}")
        options[name] = value
    return path, options


class SQLiteStore(Store):
    """The journal in one SQLite file (see the module docstring for the URL,
    durability and concurrency guarantees).

    Besides the port's guarantees: rows are numbered by the writer under the
    database's write lock, so sequence numbers are gap-free across every
    process sharing the file; ``read`` streams in bounded pages without holding
    a read transaction or the lock between pages, so a consumer may append
    while iterating; ``filtered`` by SKU or ref and ``seq_at`` use indexes
    (maintained in batches of ``_BATCH`` rows inside the appending
    transaction, plus a scan of the short unindexed tail, so an append writes
    one journal page rather than one page per index); only the newest
    ``keep_snapshots`` snapshots are kept.
    """

    def __init__(self, url: str, **options: Any) -> None:
        path, opts = parse_url(url)
        for given in (opts, options):
            unknown = sorted(set(given) - set(_OPTIONS))
            if unknown:
                raise InvalidInput(
                    unknown[0],
                    given[unknown[0]],
                    f"unknown option of a sqlite:// store; known: {', '.join(_OPTIONS)}",
                )
        merged: dict[str, Any] = {**opts, **options}

        raw_sync = merged.get("synchronous", "normal")
        sync = raw_sync.lower() if isinstance(raw_sync, str) else ""
        if sync not in _SYNCHRONOUS:
            raise InvalidInput("synchronous", raw_sync, f"must be one of {', '.join(_SYNCHRONOUS)}")
        busy = _seconds("busy_timeout", merged.get("busy_timeout", 10.0), MAX_BUSY_TIMEOUT)
        keep = _whole("keep_snapshots", merged.get("keep_snapshots", 3), 1, MAX_KEEP_SNAPSHOTS)

        self.url = url
        self.path = path
        self.synchronous = sync
        self.busy_timeout = busy
        self.keep_snapshots = keep
        self._page = _PAGE
        self._indexed = 0  # lower bound of meta.indexed_upto
        self._lock = threading.Lock()
        self._closed = False
        try:
            self._conn = sqlite3.connect(
                path,
                timeout=busy,
                isolation_level=None,
                check_same_thread=False,
            )
        except sqlite3.Error as exc:
            self._fail(exc, "cannot open")
        try:
            self._setup()
        except BaseException:
            self._closed = True
            self._conn.close()
            raise

    # -- setup ---------------------------------------------------------------

    def _setup(self) -> None:
        """Configure the connection and create or check the schema.

        Safe to race: several processes opening a fresh file at once all end
        with the same schema (the creation runs under the write lock and every
        statement is idempotent)."""
        with self._errors("cannot open"):
            c = self._conn
            c.execute(f"PRAGMA busy_timeout = {int(self.busy_timeout * 1000)}")
            # The first statement to read the file: a non-database fails here.
            mode = self._enable_wal()
            if self.path != ":memory:" and str(mode).lower() != "wal":
                raise StorageError(f"sqlite store {self.path!r}: cannot enable WAL (got {mode!r})")
            c.execute(f"PRAGMA synchronous = {_SYNCHRONOUS[self.synchronous]}")
            c.execute("PRAGMA cache_size = -16384")  # KiB: 16 MiB of page cache
            c.execute("BEGIN")  # one read snapshot: another process may be creating it
            try:
                version = self._schema_version()
            finally:
                c.execute("COMMIT")
            if version == SCHEMA_VERSION:
                return
            c.execute("BEGIN IMMEDIATE")
            try:
                version = self._schema_version()
                if version is None:
                    for stmt in _SCHEMA:
                        c.execute(stmt)
                    c.execute(
                        "INSERT OR REPLACE INTO meta (name, value) VALUES (?, ?)",
                        ("schema_version", str(SCHEMA_VERSION)),
                    )
                    c.execute(f"PRAGMA application_id = {_APPLICATION_ID}")
                c.execute("COMMIT")
            except BaseException:
                c.execute("ROLLBACK")
                raise

    def _enable_wal(self) -> str:
        """Switch the file to WAL and return the journal mode. Switching needs
        an exclusive lock and SQLite does not always run the busy handler for
        it (several processes opening a fresh file at once), so retry until
        ``busy_timeout``."""
        deadline = time.monotonic() + self.busy_timeout
        delay = 0.001
        while True:
            try:
                return str(self._conn.execute("PRAGMA journal_mode = WAL").fetchone()[0])
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or time.monotonic() >= deadline:
                    raise
            time.sleep(delay)
            delay = min(delay * 2, 0.05)

    def _schema_version(self) -> int | None:
        """The file's schema version; None for a fresh, empty database.
        Raises ``StorageError`` for a foreign or newer file."""
        c = self._conn
        app = c.execute("PRAGMA application_id").fetchone()[0]
        if app == 0:
            tables = c.execute(
                "SELECT count(*) FROM sqlite_master WHERE name NOT LIKE 'sqlite_%'"
            ).fetchone()[0]
            if tables == 0:
                return None
            raise StorageError(
                f"sqlite store {self.path!r}: the database holds other tables and is not an "
                "omnistock journal"
            )
        if app != _APPLICATION_ID:
            raise StorageError(
                f"sqlite store {self.path!r}: not an omnistock journal (application_id={app})"
            )
        found = c.execute("SELECT value FROM meta WHERE name = 'schema_version'").fetchone()
        try:
            version = int(found[0]) if found is not None else -1
        except ValueError:
            version = -1
        if version != SCHEMA_VERSION:
            raise StorageError(
                f"sqlite store {self.path!r}: schema version {found[0] if found else None!r} "
                f"is not supported (this omnistock reads version {SCHEMA_VERSION})"
            )
        return version

    # -- error translation ---------------------------------------------------

    def _fail(self, exc: BaseException, doing: str) -> NoReturn:
        raise StorageError(f"sqlite store {self.path!r}: {doing}: {exc}") from exc

    @contextmanager
    def _errors(self, doing: str) -> Iterator[None]:
        """Turn driver errors into ``StorageError`` naming the path."""
        try:
            yield
        except (sqlite3.Error, OverflowError) as exc:
            # OverflowError: an int outside int64 cannot be bound.
            self._fail(exc, doing)

    @contextmanager
    def _locked(self, doing: str) -> Iterator[sqlite3.Connection]:
        with self._lock:
            if self._closed:
                raise StorageError(f"sqlite store {self.path!r}: {doing}: the store is closed")
            with self._errors(doing):
                yield self._conn

    # -- the port ------------------------------------------------------------

    def head(self) -> int:
        """The last sequence number, 0 when empty (committed rows of every
        process sharing the file)."""
        with self._locked("head") as c:
            found = c.execute(_HEAD).fetchone()[0]
        return int(found) if found is not None else 0

    def append(self, commits: Sequence[Commit], expected_head: int) -> int:
        """Append every commit's rows atomically, numbered from
        ``expected_head + 1``, and return the new head.

        Under one ``BEGIN IMMEDIATE`` transaction: raises ``ConcurrencyConflict``
        (writing nothing) if the head is not ``expected_head`` or a commit's key
        is already recorded or repeated within ``commits``; otherwise inserts
        the rows and the keys (each key's ``seq`` is the head right after its
        commit's rows) and commits. Any driver failure rolls back, writes
        nothing and raises ``StorageError``."""
        rows: list[tuple[Any, ...]] = []
        keys: list[tuple[str, str | None, str | None, int]] = []
        seq = expected_head
        for commit in commits:
            for r in commit.rows:
                seq += 1
                rows.append((seq, *r))
            if commit.key is not None:
                keys.append((commit.key, commit.fingerprint, commit.result, seq))
        if len(keys) > 1 and len({k[0] for k in keys}) != len(keys):
            raise ConcurrencyConflict("the same key is used twice in one append")

        with self._lock:
            if self._closed:
                raise StorageError(f"sqlite store {self.path!r}: append: the store is closed")
            c = self._conn
            try:
                c.execute("BEGIN IMMEDIATE")
                try:
                    found = c.execute(_HEAD).fetchone()[0]
                    head = 0 if found is None else found
                    if head != expected_head:
                        raise ConcurrencyConflict(
                            f"head moved: expected {expected_head}, store is at {head}"
                        )
                    for k in keys:
                        if c.execute(_KEY_EXISTS, (k[0],)).fetchone() is not None:
                            raise ConcurrencyConflict(
                                f"key={k[0]!r} was recorded by another writer"
                            )
                    if rows:
                        c.executemany(_INSERT_ROW, rows)
                    if keys:
                        c.executemany(_INSERT_KEY, keys)
                    if seq - self._indexed >= _BATCH:
                        self._catch_up(c, seq)
                    c.execute("COMMIT")
                except BaseException:
                    if c.in_transaction:
                        c.execute("ROLLBACK")
                    raise
            except (sqlite3.Error, OverflowError) as exc:
                self._fail(exc, "append")
        return seq

    def _catch_up(self, c: sqlite3.Connection, head: int) -> None:
        """Inside a write transaction: index every row up to ``head`` if the
        unindexed tail has reached ``_BATCH`` rows."""
        upto = int(c.execute(_GET_INDEXED).fetchone()[0])
        self._indexed = upto  # another process may have indexed meanwhile
        if head - upto < _BATCH:
            return
        for stmt in _CATCH_UP:
            c.execute(stmt, (upto,))
        c.execute(_SET_INDEXED, (head,))
        # If the commit then fails, this over-estimate only delays the next
        # catch-up; readers trust meta.indexed_upto, never this cache.
        self._indexed = head

    def read(self, since: int = 0, until: int | None = None) -> Iterator[Row]:
        """Rows with ``since < seq <= until`` in sequence order, streamed in
        pages. ``until=None`` means the head when iteration starts; rows
        appended later (by anyone) are not included."""
        return self.filtered(since, until)

    def filtered(
        self,
        since: int = 0,
        until: int | None = None,
        sku: str | None = None,
        location: str | None = None,
        ref: str | None = None,
    ) -> Iterator[Row]:
        """Rows matching every given filter, in sequence order, streamed in
        pages; by index when ``sku`` or ``ref`` is given (a ``location``-only
        filter scans the range)."""
        conds: list[tuple[str, str]] = [
            (column, value)
            for column, value in (("sku", sku), ("ref", ref), ("location", location))
            if value is not None
        ]
        return self._filtered(since, until, conds)

    def _filtered(
        self, since: int, until: int | None, conds: list[tuple[str, str]]
    ) -> Iterator[Row]:
        with self._locked("read") as c:
            head, upto = c.execute(_HEAD_AND_INDEXED).fetchone()
        head = 0 if head is None else head
        until = head if until is None else min(until, head)
        since = max(0, since)
        if since >= until:
            return
        # Column names come from the fixed tuple above, never from user data.
        where = "".join(f" AND {{t}}{column} = ?" for column, _ in conds)
        values = tuple(v for _, v in conds)
        if conds and conds[0][0] in _INDEXED and since < upto:
            column = conds[0][0]
            sql = (
                f"SELECT {_E_COLUMNS} FROM ix_{column} i JOIN entries e ON e.seq = i.seq "
                f"WHERE i.v = ? AND i.seq > ? AND i.seq <= ?{where.format(t='e.')} "
                "ORDER BY i.seq LIMIT ?"
            )
            yield from self._pages(sql, values[:1], since, min(until, upto), values)
            since = max(since, upto)
        sql = (
            f"SELECT {_COLUMNS} FROM entries WHERE seq > ? AND seq <= ?"
            f"{where.format(t='')} ORDER BY seq LIMIT ?"
        )
        yield from self._pages(sql, (), since, until, values)

    def _pages(
        self, sql: str, before: tuple[Any, ...], lo: int, hi: int, after: tuple[Any, ...]
    ) -> Iterator[Row]:
        """Keyset pagination over ``lo < seq <= hi``: each page is its own short
        query under the lock, so no cursor, lock or read transaction is held
        while the caller consumes rows (it may even append meanwhile)."""
        size = self._page
        while lo < hi:
            with self._locked("read") as c:
                page: list[Row] = c.execute(sql, (*before, lo, hi, *after, size)).fetchall()
            yield from page
            if len(page) < size:
                return
            lo = page[-1][0]

    def seq_at(self, ts_us: int) -> int:
        """The last sequence number whose time is at or before ``ts_us``
        (0 if none), by index."""
        with self._locked("seq_at") as c:
            c.execute("BEGIN")  # one read snapshot for both queries
            try:
                upto = c.execute(_GET_INDEXED).fetchone()[0]
                found = c.execute(_SEQ_AT_TAIL, (upto, ts_us)).fetchone()[0]
                if found is None:
                    row = c.execute(_SEQ_AT_INDEXED, (ts_us,)).fetchone()
                    found = None if row is None else row[0]
            finally:
                c.execute("COMMIT")
        return 0 if found is None else int(found)

    def lookup_key(self, key: str) -> KeyRecord | None:
        """The record of an idempotency key, or None if it was never used."""
        with self._locked("lookup_key") as c:
            found = c.execute(_LOOKUP_KEY, (key,)).fetchone()
        if found is None:
            return None
        return KeyRecord(found[0], found[1], found[2], int(found[3]))

    def save_snapshot(self, seq: int, blob: bytes) -> None:
        """Keep ``blob`` as the ledger at ``seq`` (replacing one at the same
        seq) and prune all but the newest ``keep_snapshots`` snapshots, in one
        transaction."""
        with self._locked("save_snapshot") as c:
            c.execute("BEGIN IMMEDIATE")
            try:
                c.execute(
                    "INSERT OR REPLACE INTO snapshots (seq, blob) VALUES (?, ?)", (seq, bytes(blob))
                )
                c.execute(
                    "DELETE FROM snapshots WHERE seq NOT IN "
                    "(SELECT seq FROM snapshots ORDER BY seq DESC LIMIT ?)",
                    (self.keep_snapshots,),
                )
                c.execute("COMMIT")
            except BaseException:
                if c.in_transaction:
                    c.execute("ROLLBACK")
                raise

    def load_snapshot(self, max_seq: int | None = None) -> tuple[int, bytes] | None:
        """The newest kept snapshot with ``seq <= max_seq`` (any if None)."""
        with self._locked("load_snapshot") as c:
            if max_seq is None:
                found = c.execute(
                    "SELECT seq, blob FROM snapshots ORDER BY seq DESC LIMIT 1"
                ).fetchone()
            else:
                found = c.execute(
                    "SELECT seq, blob FROM snapshots WHERE seq <= ? ORDER BY seq DESC LIMIT 1",
                    (max_seq,),
                ).fetchone()
        if found is None:
            return None
        return int(found[0]), bytes(found[1])

    def close(self) -> None:
        """Close the connection. Idempotent; later calls raise ``StorageError``."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            with self._errors("close"):
                self._conn.close()

    def __repr__(self) -> str:
        return f"SQLiteStore({self.url!r})"


def _seconds(field: str, value: Any, hi: float) -> float:
    """``value`` (a URL string or a keyword) as seconds in ``[0, hi]``, or
    ``InvalidInput`` naming the option and the value (NaN, infinities and
    non-numbers included)."""
    if isinstance(value, bool):
        raise InvalidInput(field, value, "must be a number of seconds, not a bool")
    if isinstance(value, str):
        try:
            f = float(value.strip())
        except ValueError:
            raise InvalidInput(field, value, "must be a number of seconds") from None
    elif isinstance(value, int | float):
        try:
            f = float(value)
        except OverflowError:
            raise InvalidInput(field, value, f"must be from 0 to {hi:g} seconds") from None
    else:
        raise InvalidInput(field, value, "must be a number of seconds")
    if not math.isfinite(f) or not 0 <= f <= hi:
        raise InvalidInput(field, value, f"must be a finite number from 0 to {hi:g} seconds")
    return f


def _whole(field: str, value: Any, lo: int, hi: int) -> int:
    """``value`` (a URL string or a keyword) as a whole number in ``[lo, hi]``,
    or ``InvalidInput`` naming the option and the value."""
    if isinstance(value, str):
        text = value.strip()
        if not (text.isascii() and text.isdigit()):
            raise InvalidInput(field, value, f"must be a whole number from {lo} to {hi}")
        v = int(text) if len(text) <= 18 else hi + 1
    elif isinstance(value, int) and not isinstance(value, bool):
        v = value
    else:
        raise InvalidInput(field, value, f"must be a whole number from {lo} to {hi}")
    if not lo <= v <= hi:
        raise InvalidInput(field, value, f"must be a whole number from {lo} to {hi}")
    return v
