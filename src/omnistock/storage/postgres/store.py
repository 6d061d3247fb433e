"""The PostgreSQL store's class: the port over two connections (writes,
reads), each under its own lock. See the package docstring."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from typing import TYPE_CHECKING, Any

from ...errors import ConcurrencyConflict, InvalidInput, OmnistockError, StorageError
from .. import forks
from ..base import Commit, Conditions, KeyRecord, Store, StoreCounters
from .calling import Prepared
from .cursors import Cursors
from .opening import open_schema
from .options import (
    LOCK_TIMEOUT,
    OPTIONS,
    check_lock_timeout,
    check_partitions,
    check_schema,
    driver,
    redact,
    split_url,
)
from .payload import append_payload
from .reading import Reading
from .schema import CONFLICT, OUTDATED, Spec
from .scoping import Scoping
from .tail import Horizon

if TYPE_CHECKING:
    import psycopg
    from psycopg import sql

__all__ = ["PostgresStore"]

_MAX_SEQ = 2**63 - 1


class PostgresStore(Reading, Cursors, Scoping, Store):
    """The journal in a PostgreSQL schema; see the module docstring."""

    KEEP_SNAPSHOTS = 3
    """How many snapshots (the newest) are kept."""
    READ_BATCH = 5000
    """Rows fetched per round trip by ``read`` and ``filtered``."""

    def __init__(self, url: str, **options: Any) -> None:
        unknown = sorted(set(options) - set(OPTIONS))
        if unknown:
            raise InvalidInput(
                unknown[0],
                options[unknown[0]],
                f"unknown option of a postgresql:// store; known options: {', '.join(OPTIONS)}",
            )
        if not isinstance(url, str):
            raise InvalidInput("url", url, "must be a postgresql:// URL string")
        self.url = url
        self._closed = True
        self._wconn: psycopg.Connection[Any] | None = None
        self._rconn: psycopg.Connection[Any] | None = None
        self._wlock = threading.RLock()
        self._rlock = threading.RLock()
        self._horizon = Horizon()

        conninfo, from_url = split_url(url)
        merged = {**from_url, **options}
        self.schema = check_schema(merged.get("schema", "omnistock"))
        self.partitions = check_partitions(merged.get("partitions", 16))
        self.lock_timeout = check_lock_timeout(merged.get("lock_timeout", LOCK_TIMEOUT))
        """Seconds a statement waits for a lock another session holds (a row
        left locked by an open transaction) before it fails: a checkout
        never hangs on a stuck session. 0: no limit. Not applied while the
        schema is created or migrated, nor to ``drop``."""
        # Guards are checked against counters, not partitions or a head: a
        # minted reservation or supply id is checked as new by the database.
        self.partitioned = False
        self.guarded = True

        pg = driver()
        from psycopg import conninfo as ci

        try:
            self._info = ci.conninfo_to_dict(conninfo)
        except pg.Error as e:
            raise StorageError(f"invalid PostgreSQL URL {redact(url)}: {e}") from e
        self._conninfo = conninfo
        self._where = "host={} port={} dbname={} user={}".format(
            self._info.get("host") or "(default socket)",
            self._info.get("port") or 5432,
            self._info.get("dbname") or "(default)",
            self._info.get("user") or "(default)",
        )
        self._closed = False
        try:
            self._wconn = self._connect(bounded=False)  # opening may wait on a migration
            self._create_schema()
            self._bound(self._wconn)
            self._rconn = self._connect()
        except BaseException:
            self.close()
            raise
        self._prepare_queries()
        forks.track(self)

    def _after_fork(self) -> None:
        """In a forked child (``forks``): let go of the parent's
        connections without a byte on their sockets, and take fresh locks;
        the next call connects afresh. O(1)."""
        self._wlock, self._rlock = threading.RLock(), threading.RLock()
        for attr in ("_wconn", "_rconn"):
            conn = getattr(self, attr)
            setattr(self, attr, None)
            if conn is None or conn.closed:
                continue
            try:
                forks.silence(conn.pgconn.socket)
            except Exception:
                forks.keep(conn)  # never finished here: its goodbye would end the parent's session
                continue
            with suppress(Exception):
                conn.close()  # libpq's goodbye goes to /dev/null

    # -- setup -------------------------------------------------------------------------------

    def _connect(self, bounded: bool = True) -> psycopg.Connection[Any]:
        """A new autocommit connection (``bounded``: with the store's
        ``lock_timeout``)."""
        pg = driver()
        kwargs: dict[str, Any] = {"autocommit": True}
        if "connect_timeout" not in self._info:
            kwargs["connect_timeout"] = 10
        if "application_name" not in self._info:
            kwargs["application_name"] = "omnistock"
        try:
            conn: psycopg.Connection[Any] = pg.connect(self._conninfo, **kwargs)
        except pg.Error as e:
            raise StorageError(f"cannot connect to PostgreSQL at {self._where}: {e}") from e
        if bounded:
            try:
                self._bound(conn)
            except BaseException:
                conn.close()
                raise
        return conn

    def _bound(self, conn: psycopg.Connection[Any]) -> None:
        if self.lock_timeout > 0:
            ms = max(1, round(self.lock_timeout * 1000))
            with self._errors("set lock_timeout"):
                conn.execute("SELECT set_config('lock_timeout', %s, false)", (f"{ms}ms",))

    def _ident(self) -> sql.Identifier:
        from psycopg import sql

        return sql.Identifier(self.schema)

    def _create_schema(self) -> None:
        conn = self._wconn
        assert conn is not None
        spec = Spec(self.schema, self.partitions, self._where)
        with self._errors("open the schema"), self._wlock:
            open_schema(conn, spec)

    def _prepare_queries(self) -> None:
        from psycopg import sql

        conn = self._wconn
        assert conn is not None
        s = self._ident()
        q_append = sql.SQL("SELECT {}.append($1::jsonb)").format(s).as_bytes(conn)
        self._append_call = Prepared("omnistock_append", q_append)
        cols = sql.SQL("seq, ts_us, kind, sku, location, qty, ref, channel, key, data")
        self._cols = cols
        self._q_head = (
            sql.SQL("SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM {}.seq")
            .format(s)
            .as_bytes(conn)
        )
        self._q_tail = (
            # One round trip: the last seq taken (so a missing tail is seen)
            # and the rows after ``since``.
            sql.SQL(
                "SELECT q.top, j.seq, j.ts_us, j.kind, j.sku, j.location, j.qty, j.ref,"
                " j.channel, j.key, j.data, j.leaf FROM (SELECT CASE WHEN is_called"
                " THEN last_value ELSE 0 END AS top FROM {0}.seq) q LEFT JOIN LATERAL"
                " (SELECT * FROM {0}.journal WHERE seq > %s AND seq <= %s ORDER BY seq"
                " LIMIT %s) j ON true"
            )
            .format(s)
            .as_bytes(conn)
        )
        self._q_holes = (
            sql.SQL("SELECT seq FROM {}.holes WHERE seq > %s AND seq <= %s")
            .format(s)
            .as_bytes(conn)
        )
        self._q_settled = sql.SQL("SELECT {}.settled(%s)").format(s).as_bytes(conn)
        self._q_key = (
            sql.SQL("SELECT fingerprint, result, seq FROM {}.keys WHERE key = %s")
            .format(s)
            .as_bytes(conn)
        )
        self._q_mark_below = (
            sql.SQL("SELECT seq, hash FROM {}.marks WHERE seq <= %s ORDER BY seq DESC LIMIT 1")
            .format(s)
            .as_bytes(conn)
        )
        self._q_marks = (
            sql.SQL("SELECT seq, hash FROM {}.marks WHERE seq > %s AND seq <= %s")
            .format(s)
            .as_bytes(conn)
        )
        self._q_add_marks = (
            sql.SQL(
                "INSERT INTO {}.marks (seq, hash) SELECT * FROM unnest(%s::bigint[], %s::bytea[])"
                " ON CONFLICT DO NOTHING"
            )
            .format(s)
            .as_bytes(conn)
        )
        self._q_seq_at = sql.SQL("SELECT {}.seq_at(%s)").format(s).as_bytes(conn)

    # -- plumbing ----------------------------------------------------------------------------

    @contextmanager
    def _errors(self, what: str) -> Iterator[None]:
        """Translate driver errors raised inside into ``StorageError``."""
        pg = driver()
        try:
            yield
        except OmnistockError:
            raise
        except pg.Error as e:
            raise StorageError(
                f"PostgreSQL store (schema {self.schema!r} at {self._where}) could not "
                f"{what}: {type(e).__name__}: {e}"
            ) from e

    def _live(self, conn: psycopg.Connection[Any] | None) -> psycopg.Connection[Any]:
        """``conn``, or a new connection if it was lost (server restart, network)."""
        if self._closed:
            raise StorageError(f"the PostgreSQL store (schema {self.schema!r}) is closed")
        if conn is None or conn.closed:
            conn = self._connect()
        return conn

    @contextmanager
    def _reading(self, what: str) -> Iterator[psycopg.Connection[Any]]:
        with self._rlock, self._errors(what):
            self._rconn = conn = self._live(self._rconn)
            yield conn

    @contextmanager
    def _oneshot(self, what: str) -> Iterator[psycopg.Connection[Any]]:
        """A connection of its own for one big transfer (a snapshot), closed
        after it: libpq grows a connection's buffers to the largest message
        and never shrinks them, so a snapshot read on the reading connection
        kept twice its size resident for the life of the process."""
        with self._errors(what):
            conn = self._live(None)  # refused once the store is closed
            try:
                yield conn
            finally:
                conn.close()

    @contextmanager
    def _writing(self, what: str) -> Iterator[psycopg.Connection[Any]]:
        with self._wlock, self._errors(what):
            self._wconn = conn = self._live(self._wconn)
            yield conn

    # -- the port ----------------------------------------------------------------------------

    def head(self) -> int:
        """The last seq taken (committed, in flight or a hole): an upper
        bound of what readers will see. O(1), reads no table."""
        with self._reading("read the head") as conn:
            row = conn.execute(self._q_head).fetchone()
        return 0 if row is None else int(row[0])

    def append(self, commits: Sequence[Commit], expected_head: int) -> int:
        """A raw append (no conditions, no head check: this store checks
        guards, see ``append_guarded``); returns the last seq it took."""
        seqs = self.append_guarded(commits, Conditions())
        return seqs[-1] if seqs else self.head()

    def append_guarded(self, commits: Sequence[Commit], conditions: Conditions) -> list[int]:
        payload = append_payload(commits, conditions)
        # The hot path: no context managers, the statement called by name.
        with self._wlock:
            conn = self._wconn
            if conn is None or conn.closed or self._closed:
                with self._errors("append"):
                    self._wconn = conn = self._live(conn)
            try:
                seqs = self._append_call(conn, payload)
            except BaseException as e:
                self._unlock_after_error(conn)
                err = self._translate(e, conn)
                if isinstance(err, driver().Error):
                    with self._errors("append"):
                        raise err from None
                raise err from None
        # bigint[] as text: "{7,8}", "{}"
        return [int(x) for x in seqs[1:-1].split(b",")] if seqs and seqs != b"{}" else []

    def _unlock_after_error(self, conn: psycopg.Connection[Any]) -> None:
        """The append takes a session advisory lock for microseconds; an
        error inside it (a cancel) would leave it held by this session and
        every writer waiting: release all of this session's. Best effort: a
        broken connection has lost its locks with its session."""
        with suppress(Exception):
            conn.execute("SELECT pg_advisory_unlock_all()")

    def _translate(self, e: BaseException, conn: psycopg.Connection[Any]) -> BaseException:
        """A failed append's error as the port's: a guard, key or id taken
        (or a deadlock) is ``ConcurrencyConflict``; a connection lost with
        the append sent is a ``StorageError`` saying its outcome is unknown;
        the rest as raised."""
        pg = driver()
        if isinstance(e, pg.OperationalError) and (conn.broken or conn.closed):
            # The server may have committed it before the connection went.
            return StorageError(
                f"PostgreSQL store (schema {self.schema!r} at {self._where}): the connection "
                f"was lost during an append, which may or may not have been written ({e}). "
                "Retry with the same idempotency key to apply it exactly once (hold and "
                "hold_many with a list of orders need no key: their order ids are enough; a "
                "HoldBatch needs its key)"
            )
        if isinstance(e, UnicodeEncodeError):  # a client encoding other than UTF-8
            return InvalidInput("commits", e.object[e.start : e.end], f"cannot be sent: {e}")
        if isinstance(e, pg.errors.UniqueViolation):
            table = e.diag.table_name or ""
            what = {
                "keys": "idempotency key",
                "claims": "id",
                "reservations": "reservation id",
            }.get(table, "row")
            return ConcurrencyConflict(
                f"{what} already recorded by another writer ({e.diag.message_detail})"
            )
        if isinstance(e, pg.errors.LockNotAvailable):  # nothing was written
            return StorageError(
                f"PostgreSQL store (schema {self.schema!r} at {self._where}): waited lock_timeout="
                f"{self.lock_timeout:g} s for a row another session holds (a transaction "
                "left open?); nothing was written"
            )
        if isinstance(e, pg.errors.DeadlockDetected):
            return ConcurrencyConflict("deadlock with another writer")
        if isinstance(e, pg.Error) and e.sqlstate == OUTDATED:
            return StorageError(
                f"PostgreSQL store (schema {self.schema!r}): {e.diag.message_primary}"
            )
        if isinstance(e, pg.Error) and e.sqlstate == CONFLICT:
            return ConcurrencyConflict(e.diag.message_primary or "a guard failed")
        return e

    def seq_at(self, ts_us: int) -> int:
        with self._reading("find a time in the journal") as conn:
            row = conn.execute(self._q_seq_at, (ts_us,)).fetchone()
        return 0 if row is None else int(row[0])

    def counters(self) -> StoreCounters | None:
        """The counter tables and the journal, read in one snapshot; None
        when appends were in flight in each of a few tries."""
        from .counters import read_counters

        horizon = 0
        for _ in range(50):
            with self._reading("read the counters") as conn:
                got = read_counters(conn, self.schema)
            if got is not None:
                return got
            horizon = self.tail(horizon)[1]  # proves holes that are past doubt, once
            time.sleep(0.01)
        return None

    def lookup_key(self, key: str) -> KeyRecord | None:
        with self._reading("look up a key") as conn:
            row = conn.execute(self._q_key, (key,)).fetchone()
        if row is None:
            return None
        return KeyRecord(key, row[0], row[1], int(row[2]))

    def save_snapshot(self, seq: int, blob: bytes) -> None:
        from psycopg import sql

        s = self._ident()
        with self._oneshot("save a snapshot") as conn, conn.transaction():
            conn.execute(
                sql.SQL(
                    "INSERT INTO {}.snapshots (seq, blob) VALUES (%s, %b) ON CONFLICT (seq)"
                    " DO UPDATE SET blob = EXCLUDED.blob, saved_at = now()"
                ).format(s),
                (seq, bytes(blob)),
            )
            conn.execute(
                sql.SQL(
                    "DELETE FROM {0}.snapshots WHERE seq < ALL"
                    " (SELECT seq FROM {0}.snapshots ORDER BY seq DESC LIMIT %s)"
                ).format(s),
                (self.KEEP_SNAPSHOTS,),
            )

    def load_snapshot(self, max_seq: int | None = None) -> tuple[int, bytes] | None:
        from psycopg import sql

        q = sql.SQL(
            "SELECT seq, blob FROM {}.snapshots WHERE seq <= %s ORDER BY seq DESC LIMIT 1"
        ).format(self._ident())
        with self._oneshot("load a snapshot") as conn:
            cur = conn.cursor(binary=True)  # the blob as is, not as hex text twice its size
            row = cur.execute(q, (_MAX_SEQ if max_seq is None else max_seq,)).fetchone()
        return None if row is None else (int(row[0]), bytes(row[1]))

    def wait(self, head: int, timeout: float) -> bool:
        """Until the safe horizon passes ``head`` (True) or ``timeout``
        seconds pass (False). Polls the sequence (no NOTIFY: a notification
        per commit takes a global lock at commit time, which would
        serialise writers again), backing off from 1 ms to 50 ms."""
        deadline = time.monotonic() + max(0.0, timeout)
        pause = 0.001
        while True:
            if self.head() > head and self._tail_batch(head, head + 64)[1] > head:
                return True
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            time.sleep(min(pause, left))
            pause = min(0.05, pause * 2)

    # -- lifecycle ---------------------------------------------------------------------------

    def close(self) -> None:
        """Close every connection. Idempotent; the store is unusable afterwards."""
        self._closed = True
        for lock, attr in (
            (self._wlock, "_wconn"),
            (self._rlock, "_rconn"),
        ):
            # A lock held by a long read must not block close (closing the
            # socket ends the read).
            got = lock.acquire(timeout=0.1)
            try:
                conn = getattr(self, attr)
                setattr(self, attr, None)
                if conn is not None:
                    with suppress(Exception):  # closing is best effort
                        conn.close()
            finally:
                if got:
                    lock.release()

    def drop(self) -> None:
        """DESTRUCTIVE: drop the whole schema -- journal, keys, snapshots -- for
        every process using it, then close this store. Meant for tests and
        teardown; works on a closed store too."""
        from psycopg import sql

        self.close()
        conn = None
        try:
            with self._errors(f"drop schema {self.schema!r}"):
                conn = self._connect(bounded=False)  # waits for appends in flight
                conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(self._ident()))
        finally:
            if conn is not None:
                conn.close()

    def __repr__(self) -> str:
        return f"PostgresStore({redact(self.url)!r}, schema={self.schema!r})"
