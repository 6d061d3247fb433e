"""The PostgreSQL store's class: the port over three connections (writes,
reads, LISTEN), each under its own lock. See the package docstring."""

from __future__ import annotations

import json
import threading
import time
import zlib
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from typing import TYPE_CHECKING, Any, cast

from ...errors import ConcurrencyConflict, InvalidInput, OmnistockError, StorageError
from ..base import Commit, KeyRecord, Row, Store
from ..chain import GENESIS, leaves
from .options import OPTIONS, check_partitions, check_schema, driver, redact, split_url
from .schema import AHEAD, CONFLICT, OUTDATED, Spec, open_schema

if TYPE_CHECKING:
    import psycopg
    from psycopg import sql

__all__ = ["PostgresStore"]

_MAX_SEQ = 2**63 - 1
_dumps = json.JSONEncoder(ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode


class PostgresStore(Store):
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
        self._lconn: psycopg.Connection[Any] | None = None
        self._wlock = threading.RLock()
        self._rlock = threading.RLock()
        self._llock = threading.Lock()

        conninfo, from_url = split_url(url)
        merged = {**from_url, **options}
        self.schema = check_schema(merged.get("schema", "omnistock"))
        self.partitions = check_partitions(merged.get("partitions", 16))
        self.partitioned = self.partitions > 1
        ch = f"omnistock_{self.schema}"
        if len(ch.encode("utf-8")) > 63:
            ch = f"omnistock_{zlib.crc32(self.schema.encode('utf-8')):08x}"
        self.channel = ch
        """The NOTIFY channel of this store."""

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
            self._wconn = self._connect()
            self._create_schema()
            self._rconn = self._connect()
        except BaseException:
            self.close()
            raise
        self._prepare_queries()

    # -- setup -------------------------------------------------------------------------------

    def _connect(self) -> psycopg.Connection[Any]:
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
        return conn

    def _ident(self) -> sql.Identifier:
        from psycopg import sql

        return sql.Identifier(self.schema)

    def _create_schema(self) -> None:
        conn = self._wconn
        assert conn is not None
        spec = Spec(self.schema, self.partitions, self.channel, self._where)
        with self._errors("open the schema"), self._wlock:
            open_schema(conn, spec)

    def _prepare_queries(self) -> None:
        from psycopg import sql

        conn = self._wconn
        assert conn is not None
        s = self._ident()
        self._q_append = sql.SQL("SELECT {}.append(%s::bigint, %s::jsonb)").format(s).as_bytes(conn)
        cols = sql.SQL("seq, ts_us, kind, sku, location, qty, ref, channel, key, data")
        self._cols = cols
        self._q_head = sql.SQL("SELECT head FROM {}.global_head").format(s).as_bytes(conn)
        self._q_read = (
            sql.SQL("SELECT {} FROM {}.journal WHERE seq > %s AND seq <= %s ORDER BY seq LIMIT %s")
            .format(cols, s)
            .as_bytes(conn)
        )
        self._q_key = (
            sql.SQL("SELECT fingerprint, result, seq FROM {}.keys WHERE key = %s")
            .format(s)
            .as_bytes(conn)
        )
        self._q_read_chain = (
            sql.SQL(
                "SELECT {}, hash FROM {}.journal WHERE seq > %s AND seq <= %s ORDER BY seq LIMIT %s"
            )
            .format(cols, s)
            .as_bytes(conn)
        )
        self._q_hash_at = (
            sql.SQL("SELECT hash FROM {}.journal WHERE seq = %s").format(s).as_bytes(conn)
        )
        self._q_seq_at = (
            sql.SQL(
                "SELECT seq FROM {}.journal WHERE ts_us <= %s ORDER BY ts_us DESC, seq DESC LIMIT 1"
            )
            .format(s)
            .as_bytes(conn)
        )

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
    def _writing(self, what: str) -> Iterator[psycopg.Connection[Any]]:
        with self._wlock, self._errors(what):
            self._wconn = conn = self._live(self._wconn)
            yield conn

    # -- the port ----------------------------------------------------------------------------

    def head(self) -> int:
        with self._reading("read the head") as conn:
            row = conn.execute(self._q_head).fetchone()
        if row is None:
            raise StorageError(f"schema {self.schema!r} at {self._where} has no head row")
        return int(row[0])

    def append(self, commits: Sequence[Commit], expected_head: int) -> int:
        rows: list[Any] = []
        keys: list[tuple[str, str, str | None, int]] = []
        for c in commits:
            rows.extend(c.rows)
            if c.key is not None:
                if c.fingerprint is None:
                    raise InvalidInput("fingerprint", None, f"is required with key={c.key!r}")
                keys.append((c.key, c.fingerprint, c.result, len(rows)))
        nparts = self.partitions
        last: dict[int, int] = {}
        null_last = 0
        jrows: list[list[Any]] = []
        for i, r in enumerate(rows, 1):
            if len(r) != 9:
                raise InvalidInput(
                    "row", r, "must be (ts_us, kind, sku, location, qty, ref, channel, key, data)"
                )
            sku = r[2]
            if not isinstance(sku, str | None):
                raise InvalidInput("sku", sku, "must be a string or None")
            if not sku:  # no SKU (network changes) or "" (bulk holds): every partition
                null_last = i
                jrows.append([None, *r])
            else:
                p = zlib.crc32(sku.encode("utf-8")) % nparts
                last[p] = i
                jrows.append([p, *r])
        # The leaves, before any lock; the database links them (schema.DDL).
        hashes = [h.hex() for h in leaves(rows)]
        if null_last:
            touched = [[p, max(last.get(p, 0), null_last)] for p in range(nparts)]
        else:
            touched = [[p, last[p]] for p in sorted(last)]
        try:
            payload = _dumps({"u": touched, "r": jrows, "k": keys, "h": hashes})
        except (TypeError, ValueError) as e:
            raise InvalidInput("commits", commits, f"cannot be stored: {e}") from None
        params = (expected_head, payload)
        pg = driver()
        with self._writing("append") as conn:
            try:
                row = conn.execute(self._q_append, params).fetchone()
            except pg.errors.UniqueViolation as e:
                if e.diag.table_name == "keys":
                    raise ConcurrencyConflict(
                        f"idempotency key already recorded by another writer "
                        f"({e.diag.message_detail})"
                    ) from None
                raise
            except pg.Error as e:
                if e.sqlstate == OUTDATED:
                    raise StorageError(
                        f"PostgreSQL store (schema {self.schema!r}): {e.diag.message_primary}"
                    ) from None
                if e.sqlstate in (CONFLICT, AHEAD):
                    raise ConcurrencyConflict(
                        e.diag.message_primary or "concurrent append"
                    ) from None
                raise
        assert row is not None
        return int(row[0])

    def read(self, since: int = 0, until: int | None = None) -> Iterator[Row]:
        hi = _MAX_SEQ if until is None else until
        lo = since
        batch_size = self.READ_BATCH
        while lo < hi:
            with self._reading("read the journal") as conn:
                batch = conn.execute(self._q_read, (lo, hi, batch_size)).fetchall()
            yield from cast(list[Row], batch)
            if len(batch) < batch_size:
                return
            lo = batch[-1][0]

    def filtered(
        self,
        since: int = 0,
        until: int | None = None,
        sku: str | None = None,
        location: str | None = None,
        ref: str | None = None,
    ) -> Iterator[Row]:
        from psycopg import sql

        conds: list[sql.Composable] = [sql.SQL("seq > %s"), sql.SQL("seq <= %s")]
        args: list[Any] = []
        for name, value in (("sku", sku), ("location", location), ("ref", ref)):
            if value is not None:
                conds.append(sql.SQL("{} = %s").format(sql.Identifier(name)))
                args.append(value)
        with self._reading("filter the journal") as conn:
            q = (
                sql.SQL("SELECT {} FROM {}.journal WHERE {} ORDER BY seq LIMIT %s")
                .format(self._cols, self._ident(), sql.SQL(" AND ").join(conds))
                .as_bytes(conn)
            )
        hi = _MAX_SEQ if until is None else until
        lo = since
        batch_size = self.READ_BATCH
        while lo < hi:
            with self._reading("filter the journal") as conn:
                batch = conn.execute(q, (lo, hi, *args, batch_size)).fetchall()
            yield from cast(list[Row], batch)
            if len(batch) < batch_size:
                return
            lo = batch[-1][0]

    def read_chain(
        self, since: int = 0, until: int | None = None
    ) -> Iterator[tuple[Row, bytes | None]]:
        hi = _MAX_SEQ if until is None else until
        lo = since
        batch_size = self.READ_BATCH
        while lo < hi:
            with self._reading("read the journal") as conn:
                batch = conn.execute(self._q_read_chain, (lo, hi, batch_size)).fetchall()
            for r in batch:
                yield cast(Row, tuple(r[:10])), None if r[10] is None else bytes(r[10])
            if len(batch) < batch_size:
                return
            lo = batch[-1][0]

    def hash_at(self, seq: int) -> bytes | None:
        if seq == 0:
            return bytes(GENESIS)
        with self._reading("read a chain hash") as conn:
            row = conn.execute(self._q_hash_at, (seq,)).fetchone()
        return None if row is None or row[0] is None else bytes(row[0])

    def seq_at(self, ts_us: int) -> int:
        with self._reading("find a time in the journal") as conn:
            row = conn.execute(self._q_seq_at, (ts_us,)).fetchone()
        return 0 if row is None else int(row[0])

    def lookup_key(self, key: str) -> KeyRecord | None:
        with self._reading("look up a key") as conn:
            row = conn.execute(self._q_key, (key,)).fetchone()
        if row is None:
            return None
        return KeyRecord(key, row[0], row[1], int(row[2]))

    def save_snapshot(self, seq: int, blob: bytes) -> None:
        from psycopg import sql

        s = self._ident()
        with self._writing("save a snapshot") as conn, conn.transaction():
            conn.execute(
                sql.SQL(
                    "INSERT INTO {}.snapshots (seq, blob) VALUES (%s, %s) ON CONFLICT (seq)"
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
        with self._reading("load a snapshot") as conn:
            row = conn.execute(q, (_MAX_SEQ if max_seq is None else max_seq,)).fetchone()
        return None if row is None else (int(row[0]), bytes(row[1]))

    def wait(self, head: int, timeout: float) -> bool:
        """HeldBatch until the head passes ``head`` (True) or ``timeout`` seconds
        pass (False), woken by NOTIFY; the table is read once, never polled."""
        deadline = time.monotonic() + max(0.0, timeout)
        if not self._llock.acquire(timeout=max(0.0, timeout)):
            return self.head() > head
        try:
            return self._wait(head, deadline)
        except StorageError:
            if self._closed:  # closed by another thread while waiting
                return False
            raise
        finally:
            self._llock.release()

    def _wait(self, head: int, deadline: float) -> bool:
        from psycopg import sql

        listen = sql.SQL("LISTEN {}").format(sql.Identifier(self.channel))
        with self._errors("wait for new rows"):
            self._lconn = conn = self._live(self._lconn)
            conn.execute(listen)
            try:
                # Once, after LISTEN: a commit before it would otherwise be lost.
                row = conn.execute(self._q_head).fetchone()
                if row is not None and int(row[0]) > head:
                    return True
                while (remaining := deadline - time.monotonic()) > 0:
                    for note in conn.notifies(timeout=remaining):
                        try:
                            if int(note.payload) > head:
                                return True
                        except ValueError:
                            continue
                return False
            finally:
                if not conn.closed:
                    conn.execute(sql.SQL("UNLISTEN {}").format(sql.Identifier(self.channel)))

    # -- lifecycle ---------------------------------------------------------------------------

    def close(self) -> None:
        """Close every connection. Idempotent; the store is unusable afterwards."""
        self._closed = True
        for lock, attr in (
            (self._wlock, "_wconn"),
            (self._rlock, "_rconn"),
            (self._llock, "_lconn"),
        ):
            # The listen lock may be held by a waiter for up to its timeout; do
            # not block close on it (closing the socket ends the wait).
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
                conn = self._connect()
                conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(self._ident()))
        finally:
            if conn is not None:
                conn.close()

    def __repr__(self) -> str:
        return f"PostgresStore({redact(self.url)!r}, schema={self.schema!r})"
