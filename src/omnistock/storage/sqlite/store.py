"""The SQLite store's class: the port on one connection under a lock (see
the package docstring for the URL, durability and concurrency guarantees)."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any, Final, NoReturn

from ...errors import ConcurrencyConflict, StorageError
from .. import forks
from ..base import Commit, KeyRecord, Row, Store
from ..chain import GENESIS, leaves, link
from .options import SYNCHRONOUS, Options
from .schema import enable_wal, ensure_schema

__all__ = ["SQLiteStore"]

_PAGE: Final = 2048  # rows fetched per query while streaming a read

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
_INSERT_ROW: Final = (
    f"INSERT INTO entries ({_COLUMNS}, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
_LAST: Final = "SELECT seq, ts, hash FROM entries ORDER BY seq DESC LIMIT 1"
_HASH_AT: Final = "SELECT hash FROM entries WHERE seq = ?"
_INSERT_KEY: Final = "INSERT INTO keys (key, fingerprint, result, seq) VALUES (?, ?, ?, ?)"
_KEY_EXISTS: Final = "SELECT 1 FROM keys WHERE key = ?"
_LOOKUP_KEY: Final = "SELECT key, fingerprint, result, seq FROM keys WHERE key = ?"
_SEQ_AT_TAIL: Final = "SELECT max(seq) FROM entries WHERE seq > ? AND ts <= ?"
_CURSOR: Final = "SELECT seq, state FROM cursors WHERE consumer = ? AND stream = ?"
_SET_CURSOR: Final = (
    "INSERT INTO cursors (consumer, stream, seq, state) VALUES (?, ?, ?, ?) "
    "ON CONFLICT (consumer, stream) DO UPDATE SET seq = excluded.seq, state = excluded.state "
    "WHERE excluded.seq >= cursors.seq"
)
_SEQ_AT_INDEXED: Final = "SELECT seq FROM ix_ts WHERE v <= ? ORDER BY v DESC, seq DESC LIMIT 1"


def _chained(
    last: tuple[int, int, bytes | None] | None, news: list[Any], hashes: list[bytes]
) -> Iterator[tuple[Any, ...]]:
    """The rows to insert after ``last`` (the head row's seq, time and hash,
    or None when empty): numbered, times clamped, chained."""
    if last is None:
        seq, prev_ts, prev = 0, None, GENESIS
    else:
        seq, prev_ts, prev = last[0], last[1], last[2] or GENESIS
    for r, h in zip(news, hashes, strict=True):
        seq += 1
        ts = r[0]
        if prev_ts is not None and ts < prev_ts:
            ts = prev_ts  # time never goes backwards along the journal
        prev_ts = ts
        prev = link(prev, seq, ts, h)
        yield (seq, ts, *r[1:], prev)


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
        opts = Options(url, options)
        self.url = url
        self.path = opts.path
        self.synchronous = opts.synchronous
        self.busy_timeout = opts.busy_timeout
        self.keep_snapshots = opts.keep_snapshots
        self._page = _PAGE
        self._indexed = 0  # lower bound of meta.indexed_upto
        self._lock = threading.Lock()
        self._closed = False
        self._conn = self._open()
        forks.track(self)

    def _open(self) -> sqlite3.Connection:
        """A configured connection to the file (its schema created, checked
        or migrated). Closed again if that fails."""
        try:
            self._conn = sqlite3.connect(
                self.path,
                timeout=self.busy_timeout,
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
        return self._conn

    def _after_fork(self) -> None:
        """In a forked child (``forks``): a fresh lock and, for a file, a
        connection of the child's own; the parent's is kept open, never
        used nor closed (``forks.keep``). A ``:memory:`` database lives in
        the process's memory, so the child's copy is its own. The new
        connection is opened (and the schema checked) here; if that fails,
        ``forks`` logs it and the store refuses later calls as closed."""
        self._lock = threading.Lock()
        if self._closed or self.path == ":memory:":
            return
        forks.keep(self._conn)
        try:
            self._conn = self._open()
        except BaseException:
            self._closed = True
            raise

    def _setup(self) -> None:
        """Configure the connection and create, check or migrate the schema
        (``schema.ensure_schema``)."""
        with self._errors("cannot open"):
            c = self._conn
            c.execute(f"PRAGMA busy_timeout = {int(self.busy_timeout * 1000)}")
            # The first statement to read the file: a non-database fails here.
            mode = enable_wal(c, self.busy_timeout)
            if self.path != ":memory:" and str(mode).lower() != "wal":
                raise StorageError(f"sqlite store {self.path!r}: cannot enable WAL (got {mode!r})")
            c.execute(f"PRAGMA synchronous = {SYNCHRONOUS[self.synchronous]}")
            c.execute("PRAGMA cache_size = -16384")  # KiB: 16 MiB of page cache
            ensure_schema(c, self.path)

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
        is already recorded or repeated within ``commits``; otherwise clamps
        each row's time to at least its predecessor's, chains it to the row
        before (``storage.chain``: the leaves are hashed before the lock,
        only the 40-byte links inside it), inserts the rows and the keys
        (each key's ``seq`` is the head right after its commit's rows) and
        commits. Any driver failure rolls back, writes nothing and raises
        ``StorageError``."""
        news: list[Any] = []
        keys: list[tuple[str, str | None, str | None, int]] = []
        for commit in commits:
            news.extend(commit.rows)
            if commit.key is not None:
                keys.append(
                    (commit.key, commit.fingerprint, commit.result, expected_head + len(news))
                )
        if len(keys) > 1 and len({k[0] for k in keys}) != len(keys):
            raise ConcurrencyConflict("the same key is used twice in one append")
        hashes = leaves(news)
        seq = expected_head + len(news)

        with self._lock:
            if self._closed:
                raise StorageError(f"sqlite store {self.path!r}: append: the store is closed")
            c = self._conn
            try:
                c.execute("BEGIN IMMEDIATE")
                try:
                    last = c.execute(_LAST).fetchone()
                    head = 0 if last is None else last[0]
                    if head != expected_head:
                        raise ConcurrencyConflict(
                            f"head moved: expected {expected_head}, store is at {head}"
                        )
                    for k in keys:
                        if c.execute(_KEY_EXISTS, (k[0],)).fetchone() is not None:
                            raise ConcurrencyConflict(
                                f"key={k[0]!r} was recorded by another writer"
                            )
                    if news:
                        c.executemany(_INSERT_ROW, _chained(last, news, hashes))
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

    def ref_between(
        self, lo: str, hi: str, since: int = 0, until: int | None = None
    ) -> Iterator[Row]:
        """Rows with ``lo <= ref < hi`` in sequence order: a range of the
        ``ref`` index (SQLite compares text as UTF-8 bytes, which is code
        point order), then the unindexed tail. O(log n + rows found)."""
        with self._locked("read") as c:
            head, upto = c.execute(_HEAD_AND_INDEXED).fetchone()
        head = 0 if head is None else head
        until = head if until is None else min(until, head)
        since = max(0, since)
        if since >= until:
            return
        if since < upto:
            sql = (
                f"SELECT {_E_COLUMNS} FROM ix_ref i JOIN entries e ON e.seq = i.seq "
                "WHERE i.v >= ? AND i.v < ? AND i.seq > ? AND i.seq <= ? ORDER BY i.seq LIMIT ?"
            )
            yield from self._pages(sql, (lo, hi), since, min(until, upto), ())
            since = max(since, upto)
        sql = (
            f"SELECT {_COLUMNS} FROM entries WHERE seq > ? AND seq <= ? "
            "AND ref >= ? AND ref < ? ORDER BY seq LIMIT ?"
        )
        yield from self._pages(sql, (), since, until, (lo, hi))

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

    def read_chain(
        self, since: int = 0, until: int | None = None
    ) -> Iterator[tuple[Row, bytes | None]]:
        """Rows with ``since < seq <= until`` and their chain hashes, in
        sequence order, streamed in pages."""
        with self._locked("read") as c:
            head = c.execute(_HEAD).fetchone()[0] or 0
        until = head if until is None else min(until, head)
        sql = (
            f"SELECT {_COLUMNS}, hash FROM entries WHERE seq > ? AND seq <= ? ORDER BY seq LIMIT ?"
        )
        for r in self._pages(sql, (), max(0, since), until, ()):
            yield r[:10], r[10]  # type: ignore[misc]

    def hash_at(self, seq: int) -> bytes | None:
        """The chain hash of row ``seq`` (``GENESIS`` for 0, None if absent)."""
        if seq == 0:
            return GENESIS
        with self._locked("hash_at") as c:
            found = c.execute(_HASH_AT, (seq,)).fetchone()
        return None if found is None or found[0] is None else bytes(found[0])

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

    def cursor(self, consumer: str, stream: str = "") -> tuple[int, str | None]:
        """The consumer's cursor (``(0, None)`` if never set)."""
        with self._locked("read a cursor") as c:
            found = c.execute(_CURSOR, (consumer, stream)).fetchone()
        return (0, None) if found is None else (int(found[0]), found[1])

    def cursors(self) -> list[tuple[str, str, int]]:
        """Every cursor, sorted. One query."""
        with self._locked("read the cursors") as c:
            q = "SELECT consumer, stream, seq FROM cursors ORDER BY consumer, stream"
            return [(str(a), str(b), int(n)) for a, b, n in c.execute(q)]

    def set_cursor(
        self, consumer: str, seq: int, state: str | None = None, stream: str = ""
    ) -> int:
        """One upsert that keeps the greater seq, and a read of it, in one
        ``BEGIN IMMEDIATE`` transaction (another process may ack too)."""
        with self._locked("set a cursor") as c:
            c.execute("BEGIN IMMEDIATE")
            try:
                c.execute(_SET_CURSOR, (consumer, stream, seq, state))
                found = c.execute(_CURSOR, (consumer, stream)).fetchone()
                c.execute("COMMIT")
            except BaseException:
                if c.in_transaction:
                    c.execute("ROLLBACK")
                raise
        return int(found[0])

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
