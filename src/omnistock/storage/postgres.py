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

Schema (version 1), created idempotently under ``pg_advisory_xact_lock`` so
that two processes opening a fresh database at once are safe:

    meta(name, value)                     schema version, partition count
    global_head(id, head)                 one row: the journal head
    part_heads(part, head)                one row per partition: its last seq
    journal(seq PK, part, ts_us, kind, sku, location, qty, ref, channel, key, data)
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
    2. ``UPDATE global_head SET head = head + n RETURNING head`` takes the
       single global row lock and reserves seqs ``head-n+1 .. head``.
    3. keys and rows are inserted, ``part_heads`` get their new values,
       ``pg_notify('omnistock_<schema>', head)`` is queued, and COMMIT.

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

``seq_at`` assumes what the port assumes: row times do not decrease along the
journal. Times come from the writers' clocks, so keep those in sync.
"""

from __future__ import annotations

import json
import threading
import time
import zlib
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from typing import TYPE_CHECKING, Any, cast
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from ..errors import ConcurrencyConflict, InvalidInput, OmnistockError, StorageError
from .base import Commit, KeyRecord, Row, Store

if TYPE_CHECKING:
    import psycopg
    from psycopg import sql

__all__ = ["SCHEMA_VERSION", "PostgresStore", "partition_of"]

SCHEMA_VERSION = 1
_MAX_SEQ = 2**63 - 1
_OPTIONS = ("schema", "partitions")
_LOCK_NAMESPACE = 0x6F6D6E69  # "omni": the advisory-lock class for schema creation
_CONFLICT = "OS001"  # a touched partition moved past expected_head
_AHEAD = "OS002"  # expected_head is past the store's head
_dumps = json.JSONEncoder(ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode


def partition_of(sku: str, partitions: int) -> int:
    """The journal partition of ``sku``: CRC-32 of its UTF-8 bytes mod ``partitions``."""
    return zlib.crc32(sku.encode("utf-8")) % partitions


def _driver() -> Any:
    try:
        import psycopg
    except ImportError as e:  # pragma: no cover - depends on the environment
        raise StorageError(
            "the PostgreSQL store needs psycopg 3: pip install 'omnistock[postgres]'"
        ) from e
    return psycopg


def _redact(url: str) -> str:
    """``url`` with any password (user-info or ``password=``) replaced by ``***``."""
    from . import redact

    return redact(url)


_SECRETS = frozenset({"password", "passwd", "pwd", "sslpassword"})
_PORT_RULE = "must be a whole number from 1 to 65535"
# libpq's numeric URL parameters, checked here so that a typo is a typed error
# naming the parameter rather than a driver message at connect time.
_LIBPQ_SECONDS = frozenset({"connect_timeout", "keepalives_idle", "keepalives_interval"})
_LIBPQ_INTS = {"keepalives": (0, 1), "keepalives_count": (0, 1000), "port": (1, 65535)}


def _check_libpq_int(name: str, value: str, lo: int, hi: int) -> None:
    text = value.strip()
    if not (text.isascii() and text.isdigit() and len(text) <= 9 and lo <= int(text) <= hi):
        raise InvalidInput(name, value, f"must be a whole number from {lo} to {hi}")


_DDL = """
CREATE TABLE IF NOT EXISTS {s}.global_head (
    id boolean PRIMARY KEY DEFAULT true CHECK (id),
    head bigint NOT NULL
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
    data text
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
    newhead bigint;
    base bigint;
BEGIN
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
    UPDATE {s}.global_head SET head = head + n WHERE id RETURNING head INTO newhead;
    base := newhead - n;
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
        INSERT INTO {s}.journal
            (seq, part, ts_us, kind, sku, location, qty, ref, channel, key, data)
        SELECT base + r.i, (r.e ->> 0)::integer, (r.e ->> 1)::bigint, r.e ->> 2, r.e ->> 3,
               r.e ->> 4, (r.e ->> 5)::bigint, r.e ->> 6, r.e ->> 7, r.e ->> 8, r.e ->> 9
        FROM jsonb_array_elements(p -> 'r') WITH ORDINALITY AS r(e, i);
        UPDATE {s}.part_heads h SET head = base + (e ->> 1)::bigint
        FROM jsonb_array_elements(p -> 'u') AS e WHERE h.part = (e ->> 0)::integer;
        PERFORM pg_notify({channel}, newhead::text);
    END IF;
    RETURN newhead;
END
$fn$;
"""


class PostgresStore(Store):
    """The journal in a PostgreSQL schema; see the module docstring."""

    KEEP_SNAPSHOTS = 3
    """How many snapshots (the newest) are kept."""
    READ_BATCH = 5000
    """Rows fetched per round trip by ``read`` and ``filtered``."""

    def __init__(self, url: str, **options: Any) -> None:
        unknown = sorted(set(options) - set(_OPTIONS))
        if unknown:
            raise InvalidInput(
                unknown[0],
                options[unknown[0]],
                f"unknown option of a postgresql:// store; known: {', '.join(_OPTIONS)}",
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

        conninfo, from_url = self._split_url(url)
        merged = {**from_url, **options}
        self.schema = self._check_schema(merged.get("schema", "omnistock"))
        self.partitions = self._check_partitions(merged.get("partitions", 16))
        self.partitioned = self.partitions > 1
        ch = f"omnistock_{self.schema}"
        if len(ch.encode("utf-8")) > 63:
            ch = f"omnistock_{zlib.crc32(self.schema.encode('utf-8')):08x}"
        self.channel = ch
        """The NOTIFY channel of this store."""

        pg = _driver()
        from psycopg import conninfo as ci

        try:
            self._info = ci.conninfo_to_dict(conninfo)
        except pg.Error as e:
            raise StorageError(f"invalid PostgreSQL URL {_redact(url)}: {e}") from e
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

    @staticmethod
    def _split_url(url: str) -> tuple[str, dict[str, str]]:
        try:
            parts = urlsplit(url)
        except ValueError as e:
            raise InvalidInput("url", _redact(url), f"not a URL: {e}") from e
        if parts.scheme.lower() not in ("postgresql", "postgres"):
            raise InvalidInput("url", _redact(url), "must start with postgresql:// or postgres://")
        try:
            query = parse_qsl(parts.query, keep_blank_values=True, strict_parsing=bool(parts.query))
        except ValueError as e:
            raise InvalidInput("url", _redact(url), f"malformed query string: {e}") from None
        seen: set[str] = set()
        for k, v in query:
            if k in seen:
                shown = "***" if k.lower() in _SECRETS else v
                raise InvalidInput(k, shown, "option given twice in the URL")
            seen.add(k)
            if k in _LIBPQ_SECONDS:
                _check_libpq_int(k, v, 0, 86_400)
            elif k in _LIBPQ_INTS:
                _check_libpq_int(k, v, *_LIBPQ_INTS[k])
        hostport = parts.netloc.rpartition("@")[2]
        if "," not in hostport:  # libpq's multi-host form is libpq's to check
            try:
                port = parts.port
            except ValueError:
                raise InvalidInput("port", hostport.rpartition(":")[2], _PORT_RULE) from None
            if port == 0:
                raise InvalidInput("port", port, _PORT_RULE)
        ours = {k: v for k, v in query if k in _OPTIONS}
        rest = [(k, v) for k, v in query if k not in _OPTIONS]
        return urlunsplit(parts._replace(query=urlencode(rest))), ours

    @staticmethod
    def _check_schema(value: Any) -> str:
        if not isinstance(value, str) or not value:
            raise InvalidInput("schema", value, "must be a non-empty string")
        if "\x00" in value or len(value.encode("utf-8")) > 63:
            raise InvalidInput("schema", value, "must be at most 63 bytes, without NUL")
        return value

    @staticmethod
    def _check_partitions(value: Any) -> int:
        if isinstance(value, str):
            try:
                value = int(value)
            except ValueError:
                raise InvalidInput("partitions", value, "must be a whole number") from None
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 4096:
            raise InvalidInput("partitions", value, "must be a whole number from 1 to 4096")
        return value

    def _connect(self) -> psycopg.Connection[Any]:
        pg = _driver()
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
        from psycopg import sql

        conn = self._wconn
        assert conn is not None
        s = self._ident()
        lock_key = zlib.crc32(self.schema.encode("utf-8")) - 2**31
        meta_name = sql.SQL("{}.meta").format(s).as_string(conn)

        def read_meta() -> dict[str, str] | None:
            found = conn.execute("SELECT to_regclass(%s) IS NOT NULL", (meta_name,)).fetchone()
            if not found or not found[0]:
                return None
            return dict(conn.execute(sql.SQL("SELECT name, value FROM {}.meta").format(s)))

        with self._errors("open the schema"), self._wlock:
            # Fast path: an existing store is opened without DDL or locks (and
            # without needing the CREATE privilege).
            meta = read_meta()
            if not meta:
                with conn.transaction():
                    # Serialise creators: two processes opening a fresh database.
                    conn.execute(
                        "SELECT pg_advisory_xact_lock(%s::integer, %s::integer)",
                        (_LOCK_NAMESPACE, lock_key),
                    )
                    # Not read_meta(): this backend's catalog cache may still
                    # say "no such table" after the other creator committed.
                    conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(s))
                    conn.execute(
                        sql.SQL(
                            "CREATE TABLE IF NOT EXISTS {}.meta"
                            " (name text PRIMARY KEY, value text NOT NULL)"
                        ).format(s)
                    )
                    meta = dict(conn.execute(sql.SQL("SELECT name, value FROM {}.meta").format(s)))
                    if not meta:
                        self._create(conn)
                        return
        try:
            version = int(meta.get("version", ""))
            parts = int(meta.get("partitions", ""))
        except ValueError:
            raise StorageError(
                f"schema {self.schema!r} at {self._where} has an unreadable meta table: {meta}"
            ) from None
        if version > SCHEMA_VERSION:
            raise StorageError(
                f"schema {self.schema!r} at {self._where} has version {version}; this omnistock "
                f"reads up to version {SCHEMA_VERSION}; upgrade omnistock"
            )
        if parts != self.partitions:
            raise StorageError(
                f"schema {self.schema!r} at {self._where} was created with partitions={parts}; "
                f"it cannot be opened with partitions={self.partitions}"
            )

    def _create(self, conn: psycopg.Connection[Any]) -> None:
        """Create schema version ``SCHEMA_VERSION`` (inside the caller's transaction)."""
        from psycopg import sql

        s = self._ident()
        conn.execute(
            sql.SQL(_DDL).format(
                s=s,
                nparts=sql.Literal(self.partitions),
                conflict=sql.Literal(_CONFLICT),
                ahead=sql.Literal(_AHEAD),
                channel=sql.Literal(self.channel),
            )
        )
        conn.execute(
            sql.SQL("INSERT INTO {}.meta (name, value) VALUES (%s, %s), (%s, %s)").format(s),
            ("version", str(SCHEMA_VERSION), "partitions", str(self.partitions)),
        )
        # A bulk hold's row is tens of KB: pglz costs ~0.4 ms to compress
        # 18 KB, lz4 (PostgreSQL 14+ built with it) a tenth of that. Only
        # speed depends on it, so a server without lz4 keeps the default.
        try:
            with conn.transaction():
                conn.execute(
                    sql.SQL("ALTER TABLE {}.journal ALTER COLUMN data SET COMPRESSION lz4").format(
                        s
                    )
                )
        except _driver().Error:
            pass

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
        pg = _driver()
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
        if null_last:
            touched = [[p, max(last.get(p, 0), null_last)] for p in range(nparts)]
        else:
            touched = [[p, last[p]] for p in sorted(last)]
        try:
            payload = _dumps({"u": touched, "r": jrows, "k": keys})
        except (TypeError, ValueError) as e:
            raise InvalidInput("commits", commits, f"cannot be stored: {e}") from None
        params = (expected_head, payload)
        pg = _driver()
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
                if e.sqlstate in (_CONFLICT, _AHEAD):
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
        return f"PostgresStore({_redact(self.url)!r}, schema={self.schema!r})"
