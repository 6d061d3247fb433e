"""A write never hangs on a session that holds a row (``lock_timeout``).

A transaction left open on a hot position (an operator's ``psql``, a
client that died mid-transaction behind a NAT) would otherwise stall every
checkout of that SKU for as long as it stays open. Every connection of a
``PostgresStore`` but the one that creates or migrates the schema (and
``drop``) waits at most ``lock_timeout`` seconds (10 by default, 0 for no
limit); an append that waited that long fails as ``StorageError`` and
writes nothing. On a real server; waits are bounded by thread joins, and
nothing here asserts on elapsed time.
"""

from __future__ import annotations

import threading
import zlib
from collections.abc import Callable, Iterator
from typing import Any

import pytest

psycopg = pytest.importorskip("psycopg", reason="psycopg 3 is not installed (omnistock[postgres])")

from conftest import PG_DSN as DSN  # noqa: E402
from omnistock import Inventory, Line, Location, Order  # noqa: E402
from omnistock.errors import InvalidInput, StorageError  # noqa: E402
from omnistock.storage.postgres import PostgresStore  # noqa: E402

pytestmark = pytest.mark.postgres  # skipped without a server, failed in CI (conftest)

SEP = "&" if "?" in DSN else "?"


@pytest.fixture
def schema(pg_schema: str) -> str:
    """A fresh schema name, dropped afterwards (conftest's ``pg_schema``)."""
    return pg_schema


@pytest.fixture
def opened(schema: str) -> Iterator[Callable[..., Inventory]]:
    invs: list[Inventory] = []

    def make(lock_timeout: str | None = None) -> Inventory:
        extra = "" if lock_timeout is None else f"&lock_timeout={lock_timeout}"
        inv = Inventory.open(f"{DSN}{SEP}schema={schema}{extra}")
        invs.append(inv)
        return inv

    yield make
    for inv in invs:
        inv.close()


def _exists(schema: str) -> bool:
    with psycopg.connect(DSN, autocommit=True) as conn:
        row = conn.execute(
            "SELECT count(*) FROM pg_namespace WHERE nspname = %s", (schema,)
        ).fetchone()
    return bool(row and row[0])


def _setting(conn: Any) -> str:
    return str(conn.execute("SHOW lock_timeout").fetchone()[0])


BAD: list[tuple[str, Any]] = [
    ("negative", -1),
    ("past an hour", 3601),
    ("text", "soon"),
    ("empty", ""),
    ("NaN text", "nan"),
    ("NaN", float("nan")),
    ("infinity", float("inf")),
    ("a bool", True),
    ("a list", [1]),
]


CASES = [(w, v, "keyword") for w, v in BAD] + [
    (w, v, "url")
    for w, v in BAD
    if isinstance(v, str | int | float)  # a URL carries text
]


@pytest.mark.parametrize(("what", "value", "where"), CASES, ids=[f"{c[2]}-{c[0]}" for c in CASES])
def test_a_bad_lock_timeout_is_invalid_input_and_creates_nothing(
    schema: str, what: str, value: Any, where: str
) -> None:
    with pytest.raises(InvalidInput, match="lock_timeout"):
        if where == "keyword":
            PostgresStore(DSN, schema=schema, lock_timeout=value)
        else:
            PostgresStore(f"{DSN}{SEP}schema={schema}&lock_timeout={value}")
    assert not _exists(schema)


@pytest.mark.parametrize(("given", "shown"), [(None, "10s"), ("2.5", "2500ms"), ("0", "0")])
def test_every_connection_but_the_creators_has_the_lock_timeout(
    schema: str, given: str | None, shown: str
) -> None:
    extra = "" if given is None else f"&lock_timeout={given}"
    s = PostgresStore(f"{DSN}{SEP}schema={schema}{extra}")
    try:
        assert s.lock_timeout == (10.0 if given is None else float(given))
        for conn in (s._wconn, s._rconn):  # type: ignore[attr-defined]
            assert _setting(conn) == shown
    finally:
        s.close()


def _lock_position(schema: str, sku: str, loc: str) -> Any:
    """A raw connection whose open transaction holds the position's row."""
    conn = psycopg.connect(DSN)
    q = psycopg.sql.SQL("SELECT 1 FROM {}.positions WHERE sku = %s AND location = %s FOR UPDATE")
    got = conn.execute(q.format(psycopg.sql.Identifier(schema)), (sku, loc)).fetchall()
    assert got == [(1,)]
    return conn


def _hold_in_thread(inv: Inventory, order_id: str) -> tuple[threading.Thread, list[Any]]:
    out: list[Any] = []

    def run() -> None:
        try:
            out.append(inv.hold(Order(order_id, lines=[Line("X", 1, "S")])))
        except BaseException as e:  # the outcome under test
            out.append(e)

    t = threading.Thread(target=run)
    t.start()
    return t, out


def test_a_hold_on_a_row_held_by_a_stuck_session_fails_after_lock_timeout(
    opened: Callable[..., Inventory], schema: str
) -> None:
    """The hold fails with ``StorageError`` naming ``lock_timeout``; the
    ledger and the journal are as they were; once the session lets go the
    same hold lands."""
    inv = opened("0.3")
    inv.add_location(Location("S"))
    inv.receive("X", "S", 5)
    head = inv.store.head()
    blocker = _lock_position(schema, "X", "S")
    try:
        t, out = _hold_in_thread(inv, "o-1")
        t.join(30)
        assert not t.is_alive(), "the hold still waits past lock_timeout"
    finally:
        blocker.rollback()
        blocker.close()
    (err,) = out
    assert isinstance(err, StorageError) and "lock_timeout=0.3" in str(err), err
    assert inv.available("X", "S") == 5
    assert inv.store.head() == head
    r = inv.hold(Order("o-1", lines=[Line("X", 1, "S")]))
    assert r.qty == 1 and inv.available("X", "S") == 4
    assert inv.check().ok


def test_lock_timeout_zero_waits_for_the_session(
    opened: Callable[..., Inventory], schema: str
) -> None:
    inv = opened("0")
    inv.add_location(Location("S"))
    inv.receive("X", "S", 5)
    blocker = _lock_position(schema, "X", "S")
    try:
        t, out = _hold_in_thread(inv, "o-1")
        t.join(0.8)
        assert t.is_alive() and not out, f"the hold did not wait for the row: {out}"
    finally:
        blocker.rollback()
        blocker.close()
    t.join(30)
    assert len(out) == 1 and out[0].qty == 1, out


def test_opening_waits_for_a_migration_longer_than_lock_timeout(schema: str) -> None:
    """Another process creating or migrating the schema holds its creation
    lock for as long as that takes: an opener waits it out, whatever its
    ``lock_timeout``."""
    from omnistock.storage.postgres.schema import LOCK_NAMESPACE

    key = zlib.crc32(schema.encode("utf-8")) - 2**31
    creator = psycopg.connect(DSN)
    creator.execute("SELECT pg_advisory_xact_lock(%s::integer, %s::integer)", (LOCK_NAMESPACE, key))
    out: list[Any] = []

    def open_it() -> None:
        try:
            out.append(PostgresStore(f"{DSN}{SEP}schema={schema}&lock_timeout=0.2"))
        except BaseException as e:  # the outcome under test
            out.append(e)

    t = threading.Thread(target=open_it)
    t.start()
    t.join(0.8)
    waited = t.is_alive()
    creator.rollback()
    creator.close()
    t.join(30)
    assert waited, f"the opener did not wait for the creation lock: {out}"
    (s,) = out
    assert isinstance(s, PostgresStore), s
    s.close()
