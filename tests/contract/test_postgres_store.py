"""The PostgreSQL store: partitioned optimistic concurrency, gap-free seqs,
LISTEN/NOTIFY catch-up, error translation, and the shared store contract.

Needs a server: the DSN comes from ``OMNISTOCK_PG_DSN`` (default
``postgresql://postgres@127.0.0.1:5432/test``). Every store lives in a fresh
random schema that is dropped afterwards. Without a reachable server the whole
module is skipped, saying why.
"""

from __future__ import annotations

import hashlib
import multiprocessing
import os
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

psycopg = pytest.importorskip("psycopg", reason="psycopg 3 is not installed (omnistock[postgres])")

from omnistock.errors import ConcurrencyConflict, InvalidInput, StorageError  # noqa: E402
from omnistock.storage import open_store  # noqa: E402
from omnistock.storage.base import Commit, NewRow, Store  # noqa: E402
from omnistock.storage.postgres import PostgresStore, partition_of  # noqa: E402

DSN = os.environ.get("OMNISTOCK_PG_DSN", "postgresql://postgres@127.0.0.1:5432/test")


def _unreachable() -> str | None:
    try:
        with psycopg.connect(DSN, connect_timeout=3) as conn:
            conn.execute("SELECT 1")
    except Exception as e:  # any failure means "cannot test here"
        return f"{type(e).__name__}: {str(e).strip().splitlines()[0] if str(e) else ''}"
    return None


_WHY = _unreachable()
pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(
        _WHY is not None,
        reason=f"no PostgreSQL server reachable via OMNISTOCK_PG_DSN ({_WHY})",
    ),
]


_RUN = uuid.uuid4().hex[:8]  # this test run; keeps schemas apart across runs


def _schema() -> str:
    return f"omnistock_test_{uuid.uuid4().hex[:12]}"


def _drop_schemas(schemas: list[str]) -> None:
    if not schemas:
        return
    with psycopg.connect(DSN, autocommit=True) as conn:
        for s in schemas:
            ident = psycopg.sql.Identifier(s)
            conn.execute(psycopg.sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(ident))


@pytest.fixture
def open_pg() -> Iterator[Callable[..., PostgresStore]]:
    """Factory opening PostgresStores; each new call without ``schema`` gets a
    fresh random schema. Everything is closed and dropped afterwards."""
    stores: list[PostgresStore] = []
    schemas: list[str] = []

    def make(**options: Any) -> PostgresStore:
        if "schema" not in options:
            options["schema"] = _schema()
        if options["schema"] not in schemas:
            schemas.append(options["schema"])
        store = PostgresStore(DSN, **options)
        stores.append(store)
        return store

    yield make
    for store in stores:
        store.close()
    _drop_schemas(schemas)


def row(sku: str | None, qty: int = 1, ref: str | None = None, ts: int = 1) -> NewRow:
    return (ts, "received" if sku else "location-added", sku, "L1", qty, ref, None, None, None)


def c(*rows: NewRow, key: str | None = None) -> Commit:
    return Commit(
        tuple(rows),
        key=key,
        fingerprint=None if key is None else f"fp-{key}",
        result=None if key is None else '{"ok":true}',
    )


def skus_on_distinct_partitions(partitions: int = 16) -> tuple[str, str]:
    first = "sku-0"
    for i in range(1, 1000):
        other = f"sku-{i}"
        if partition_of(other, partitions) != partition_of(first, partitions):
            return first, other
    raise AssertionError("unreachable")


def skus_on_same_partition(partitions: int = 16) -> tuple[str, str]:
    first = "sku-0"
    for i in range(1, 1000):
        other = f"sku-{i}"
        if partition_of(other, partitions) == partition_of(first, partitions):
            return first, other
    raise AssertionError("unreachable")


# -- basics ------------------------------------------------------------------------------------


def test_partition_hash_is_stable() -> None:
    # CRC-32 of UTF-8, not Python's salted hash(): the same in every process.
    assert partition_of("A", 16) == 11
    assert partition_of("B", 16) == 1
    assert all(0 <= partition_of(f"x{i}", 7) < 7 for i in range(100))


def test_round_trip(open_pg: Callable[..., PostgresStore]) -> None:
    s = open_pg()
    assert s.head() == 0
    assert list(s.read()) == []
    rows = [
        (10, "received", "A", "L1", 5, "r1", "web", "k", '{"x": 1}'),
        (11, "held", "B", "L2", 2, "r2", None, None, None),
        (12, "location-added", None, "L3", 0, None, None, None, "{}"),
    ]
    head = s.append([Commit(tuple(rows), key="k", fingerprint="fp", result='"res"')], 0)
    assert head == 3
    assert s.head() == 3
    assert list(s.read()) == [(i + 1, *r) for i, r in enumerate(rows)]
    assert all(type(r) is tuple for r in s.read())
    assert list(s.read(1, 2)) == [(2, *rows[1])]
    rec = s.lookup_key("k")
    assert rec is not None
    assert (rec.fingerprint, rec.result, rec.seq) == ("fp", '"res"', 3)
    assert s.lookup_key("nope") is None
    assert [r[0] for r in s.filtered(sku="A")] == [1]
    assert [r[0] for r in s.filtered(location="L2")] == [2]
    assert [r[0] for r in s.filtered(ref="r2", since=1)] == [2]
    assert [r[0] for r in s.filtered(since=1, until=2)] == [2]
    assert s.seq_at(9) == 0
    assert s.seq_at(11) == 2
    assert s.seq_at(99) == 3


def test_key_seq_is_head_after_its_commit(open_pg: Callable[..., PostgresStore]) -> None:
    s = open_pg()
    s.append([c(row("A"))], 0)
    head = s.append([c(row("A"), row("A"), key="k1"), c(key="k2"), c(row("B"), key="k3")], 1)
    assert head == 4
    assert [s.lookup_key(k).seq for k in ("k1", "k2", "k3")] == [3, 3, 4]  # type: ignore[union-attr]


def test_read_streams_in_batches(open_pg: Callable[..., PostgresStore]) -> None:
    s = open_pg()
    s.READ_BATCH = 7
    head = 0
    for i in range(5):
        head = s.append([c(*(row(f"s{j}", ts=i) for j in range(10)))], head)
    assert [r[0] for r in s.read()] == list(range(1, 51))
    assert [r[0] for r in s.read(3, 40)] == list(range(4, 41))
    assert [r[0] for r in s.filtered(sku="s3")] == [4, 14, 24, 34, 44]


def test_snapshots_keep_the_newest(open_pg: Callable[..., PostgresStore]) -> None:
    s = open_pg()
    assert s.load_snapshot() is None
    for seq in (1, 2, 3, 4, 5):
        s.save_snapshot(seq, f"blob{seq}".encode())
    s.save_snapshot(5, b"blob5b")
    assert s.load_snapshot() == (5, b"blob5b")
    assert s.load_snapshot(4) == (4, b"blob4")
    assert s.load_snapshot(2) is None  # pruned: only the newest KEEP_SNAPSHOTS stay


def test_url_query_options_and_open_store(open_pg: Callable[..., PostgresStore]) -> None:
    schema = _schema()
    s = open_pg(schema=schema, partitions=4)  # creates it, and registers it for dropping
    s.close()
    sep = "&" if "?" in DSN else "?"
    for url in (
        f"{DSN}{sep}schema={schema}&partitions=4",
        f"{DSN}{sep}schema={schema}".replace("postgresql://", "postgres://", 1),
    ):
        if "partitions" not in url:
            with pytest.raises(StorageError, match="partitions=4"):
                open_store(url)
            continue
        store = open_store(url)
        assert isinstance(store, PostgresStore)
        assert (store.schema, store.partitions) == (schema, 4)
        store.close()


def test_reopen_is_durable(open_pg: Callable[..., PostgresStore]) -> None:
    s = open_pg()
    s.append([c(row("A"), key="k")], 0)
    s.save_snapshot(1, b"x")
    s.close()
    t = open_pg(schema=s.schema)
    assert [r[0] for r in t.read()] == [1]
    assert t.lookup_key("k") is not None
    assert t.load_snapshot() == (1, b"x")


# -- partitioned optimistic concurrency ---------------------------------------------------------


def test_different_partitions_do_not_conflict(open_pg: Callable[..., PostgresStore]) -> None:
    a, b = skus_on_distinct_partitions()
    s = open_pg()
    t = open_pg(schema=s.schema)  # a second writer on its own connections
    assert s.append([c(row(a))], 0) == 1
    assert t.append([c(row(b))], 0) == 2  # same stale expected_head: no conflict
    assert s.append([c(row(a))], 1) == 3  # stale, but its partition is at 1
    assert [r[0] for r in s.read()] == [1, 2, 3]
    assert [r[3] for r in s.read()] == [a, b, a]


def test_same_partition_conflicts(open_pg: Callable[..., PostgresStore]) -> None:
    a, a2 = skus_on_same_partition()
    s = open_pg()
    s.append([c(row(a))], 0)
    with pytest.raises(ConcurrencyConflict):
        s.append([c(row(a2))], 0)
    with pytest.raises(ConcurrencyConflict):
        s.append([c(row(a))], 0)
    assert s.head() == 1
    assert s.append([c(row(a2))], 1) == 2


def test_null_sku_conflicts_with_everything(open_pg: Callable[..., PostgresStore]) -> None:
    a, b = skus_on_distinct_partitions()
    s = open_pg()
    s.append([c(row(None))], 0)  # a network change: every partition moved
    for sku in (a, b, None):
        with pytest.raises(ConcurrencyConflict):
            s.append([c(row(sku))], 0)
    # ...and it is refused when any partition moved since its head.
    s.append([c(row(a))], 1)
    with pytest.raises(ConcurrencyConflict):
        s.append([c(row(None))], 1)
    assert s.append([c(row(None))], 2) == 3
    assert s.head() == 3


def test_multi_partition_commit_is_atomic(open_pg: Callable[..., PostgresStore]) -> None:
    a, b = skus_on_distinct_partitions()
    s = open_pg()
    s.append([c(key="taken")], 0)
    with pytest.raises(ConcurrencyConflict, match="taken"):
        s.append([c(row(a)), c(row(b), key="taken")], 0)
    assert s.head() == 0
    assert list(s.read()) == []
    # The partition heads did not move either: the same stale head still works.
    assert s.append([c(row(a), row(b))], 0) == 2
    with pytest.raises(ConcurrencyConflict):  # both partitions moved together
        s.append([c(row(b))], 1)


def test_duplicate_key_in_one_append_conflicts(open_pg: Callable[..., PostgresStore]) -> None:
    s = open_pg()
    with pytest.raises(ConcurrencyConflict):
        s.append([c(row("A"), key="k"), c(row("B"), key="k")], 0)
    assert s.head() == 0


def test_expected_head_past_the_store_conflicts(open_pg: Callable[..., PostgresStore]) -> None:
    s = open_pg()
    with pytest.raises(ConcurrencyConflict, match="past the store head"):
        s.append([c(row("A"))], 5)
    assert s.head() == 0


def test_threads_on_distinct_partitions_all_land(open_pg: Callable[..., PostgresStore]) -> None:
    s = open_pg()
    skus = [f"sku-{i}" for i in range(200)]
    by_part: dict[int, str] = {}
    for sku in skus:
        by_part.setdefault(partition_of(sku, 16), sku)
    chosen = list(by_part.values())[:4]
    n = 25
    errors: list[BaseException] = []

    def writer(sku: str) -> None:
        try:
            store = PostgresStore(DSN, schema=s.schema)
            seen = 0
            for _ in range(n):
                seen = store.append([c(row(sku))], seen)  # never conflicts: own partition
            store.close()
        except BaseException as e:
            errors.append(e)

    threads = [threading.Thread(target=writer, args=(sku,)) for sku in chosen]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert not errors
    seqs = [r[0] for r in s.read()]
    assert seqs == list(range(1, n * len(chosen) + 1))


def test_one_store_is_thread_safe(open_pg: Callable[..., PostgresStore]) -> None:
    s = open_pg()
    errors: list[BaseException] = []

    def writer(w: int) -> None:
        try:
            for i in range(20):
                while True:
                    try:
                        s.append([c(row("A", ref=f"{w}-{i}"))], s.head())
                        break
                    except ConcurrencyConflict:
                        continue
                list(s.read(max(0, s.head() - 5)))
        except BaseException as e:
            errors.append(e)

    threads = [threading.Thread(target=writer, args=(w,)) for w in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert not errors
    assert sorted(r[6] for r in s.read()) == sorted(f"{w}-{i}" for w in range(4) for i in range(20))
    assert [r[0] for r in s.read()] == list(range(1, 81))


# -- catch-up by LISTEN/NOTIFY ------------------------------------------------------------------


def test_wait_wakes_on_notify_from_another_connection(
    open_pg: Callable[..., PostgresStore],
) -> None:
    s = open_pg()
    other = open_pg(schema=s.schema)
    assert s.wait(0, 0.05) is False

    def later() -> None:
        time.sleep(0.3)
        other.append([c(row("A"))], 0)

    th = threading.Thread(target=later)
    t0 = time.monotonic()
    th.start()
    assert s.wait(0, timeout=30) is True  # a long timeout: the notification ends it
    elapsed = time.monotonic() - t0
    th.join()
    assert 0.25 <= elapsed < 2.0
    # Already past: returns at once. Not past: honours the timeout.
    t0 = time.monotonic()
    assert s.wait(0, timeout=30) is True
    assert time.monotonic() - t0 < 1.0
    t0 = time.monotonic()
    assert s.wait(1, timeout=0.3) is False
    assert 0.25 <= time.monotonic() - t0 < 2.0


def test_wait_ignores_notifications_not_past_head(open_pg: Callable[..., PostgresStore]) -> None:
    a, b = skus_on_distinct_partitions()
    s = open_pg()
    other = open_pg(schema=s.schema)
    other.append([c(row(a))], 0)
    done: list[bool] = []
    th = threading.Thread(target=lambda: done.append(s.wait(2, timeout=5)))
    th.start()
    time.sleep(0.2)
    other.append([c(row(b))], 0)  # head 2: not past 2
    time.sleep(0.3)
    assert done == []
    other.append([c(row(b))], 2)  # head 3: wakes
    th.join(5)
    assert done == [True]


def test_wait_does_not_poll(
    open_pg: Callable[..., PostgresStore], monkeypatch: pytest.MonkeyPatch
) -> None:
    s = open_pg()
    assert s.wait(0, 0) is False  # opens the LISTEN connection
    conn = s._lconn
    assert conn is not None
    calls: list[Any] = []
    real = conn.execute

    def counting(*args: Any, **kwargs: Any) -> Any:
        calls.append(args[0])
        return real(*args, **kwargs)

    monkeypatch.setattr(conn, "execute", counting)
    monkeypatch.setattr(s, "head", lambda: pytest.fail("wait() must not poll head()"))
    t0 = time.monotonic()
    assert s.wait(0, timeout=1.0) is False
    assert 0.9 <= time.monotonic() - t0 < 3.0
    # LISTEN, one head check (against a lost wakeup), UNLISTEN: nothing in a loop.
    assert len(calls) <= 3, calls


def test_close_ends_a_wait(open_pg: Callable[..., PostgresStore]) -> None:
    s = open_pg()
    done: list[bool] = []
    th = threading.Thread(target=lambda: done.append(s.wait(0, timeout=30)))
    th.start()
    time.sleep(0.3)
    t0 = time.monotonic()
    s.close()
    th.join(5)
    assert done == [False]
    assert time.monotonic() - t0 < 2.0


# -- errors ------------------------------------------------------------------------------------


def test_partitions_mismatch_is_a_storage_error(open_pg: Callable[..., PostgresStore]) -> None:
    s = open_pg(partitions=8)
    with pytest.raises(StorageError, match="partitions=8"):
        open_pg(schema=s.schema, partitions=16)
    assert open_pg(schema=s.schema, partitions=8).partitions == 8


def test_bad_dsn_is_a_storage_error_without_password() -> None:
    url = "postgresql://someone:s3cret-pw@127.0.0.1:1/nodb"
    with pytest.raises(StorageError) as info:
        PostgresStore(url, schema=_schema())
    text = str(info.value)
    assert "127.0.0.1" in text and "nodb" in text
    assert "s3cret-pw" not in text


def test_bad_options_are_invalid_input() -> None:
    with pytest.raises(InvalidInput, match="partitions"):
        PostgresStore(DSN, partitions=0)
    with pytest.raises(InvalidInput, match="partitions"):
        PostgresStore(f"{DSN}?partitions=many")
    with pytest.raises(InvalidInput, match="schema"):
        PostgresStore(DSN, schema="")
    with pytest.raises(InvalidInput, match="options"):
        PostgresStore(DSN, colour="blue")


def test_driver_errors_become_storage_errors(open_pg: Callable[..., PostgresStore]) -> None:
    s = open_pg()
    s.append([c(row("A"))], 0)
    _drop_schemas([s.schema])
    for call in (
        s.head,
        lambda: list(s.read()),
        lambda: s.append([c(row("A"))], 1),
        lambda: s.lookup_key("k"),
        lambda: s.save_snapshot(1, b"x"),
    ):
        with pytest.raises(StorageError, match="does not exist"):
            call()


def test_close_is_idempotent_and_final(open_pg: Callable[..., PostgresStore]) -> None:
    s = open_pg()
    s.close()
    s.close()
    with pytest.raises(StorageError, match="closed"):
        s.head()
    with pytest.raises(StorageError, match="closed"):
        s.append([c(row("A"))], 0)
    s.drop()  # works on a closed store
    s.drop()


@pytest.mark.parametrize("attempt", range(3))
def test_concurrent_first_open_is_safe(open_pg: Callable[..., PostgresStore], attempt: int) -> None:
    schema = _schema()
    n = 6
    barrier = threading.Barrier(n)
    errors: list[BaseException] = []

    def opener() -> None:
        try:
            barrier.wait()
            open_pg(schema=schema)
        except BaseException as e:
            errors.append(e)

    threads = [threading.Thread(target=opener) for _ in range(n)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert not errors
    assert open_pg(schema=schema).head() == 0


# -- two processes -----------------------------------------------------------------------------


def _race_worker(dsn: str, schema: str, worker: int, n: int) -> int:
    """Append ``n`` one-row commits, retrying on conflict; return the retries."""
    store = PostgresStore(dsn, schema=schema)
    retries = 0
    skus = ["A", "B", "C", None]
    for i in range(n):
        sku = skus[i % len(skus)]
        while True:
            try:
                store.append(
                    [c(row(sku, ref=f"w{worker}-{i}"), key=f"w{worker}-{i}")], store.head()
                )
                break
            except ConcurrencyConflict:
                retries += 1
    store.close()
    return retries


@pytest.mark.slow
def test_two_process_race_is_gap_free(open_pg: Callable[..., PostgresStore]) -> None:
    s = open_pg()
    n = 120
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(2) as pool:
        pending = [pool.apply_async(_race_worker, (DSN, s.schema, w, n)) for w in range(2)]
        # Meanwhile a reader checks it never finds a row below what it has seen.
        seen = 0
        while not all(p.ready() for p in pending):
            for r in s.read(seen):
                assert r[0] == seen + 1, f"gap: saw {seen}, then {r[0]}"
                seen = r[0]
            s.wait(seen, 0.2)
        retries = [p.get(timeout=60) for p in pending]
    rows = list(s.read())
    assert [r[0] for r in rows] == list(range(1, 2 * n + 1))
    assert sorted(r[6] for r in rows) == sorted(f"w{w}-{i}" for w in range(2) for i in range(n))
    for w in range(2):
        for i in (0, n - 1):
            rec = s.lookup_key(f"w{w}-{i}")
            assert rec is not None and rows[rec.seq - 1][6] == f"w{w}-{i}"
    assert sum(retries) >= 0


# -- the shared store contract ------------------------------------------------------------------

try:
    from omnistock.testing import StoreContract
except ImportError:  # pragma: no cover - written alongside; runs once it exists
    StoreContract = None


if StoreContract is not None:

    class TestPostgresStore(StoreContract):  # type: ignore[misc, valid-type]
        """The shared contract. ``make_store(tmp_path)`` derives the schema from
        ``tmp_path`` (and this run), so a second call opens the same journal."""

        durable = True

        @pytest.fixture(autouse=True)
        def _pg_schemas(self) -> Iterator[None]:
            self._stores: list[PostgresStore] = []
            yield
            for store in self._stores:
                store.close()
            _drop_schemas(sorted({st.schema for st in self._stores}))

        def make_store(self, tmp_path: Path) -> Store:
            digest = hashlib.sha1(str(tmp_path).encode("utf-8")).hexdigest()[:12]
            store = PostgresStore(DSN, schema=f"omnistock_test_{_RUN}_{digest}")
            self._stores.append(store)
            return store


# -- ids minted by two writers on different partitions -----------------------------------------
def test_two_stale_writers_never_mint_the_same_reservation_id(
    open_pg: Callable[..., PostgresStore],
) -> None:
    """Both writers derive ``o1#1`` from the same head, for SKUs on different
    partitions; the claim rows make them conflict, so the second catches up
    and sees ``o1`` open (the order id is a natural key: other lines are an
    ``IdempotencyConflict``). Once ``o1#1`` is released, the stale writer's
    refusal is re-decided on the caught-up ledger and mints ``o1#2``; a
    release of one never touches the other (regression)."""
    from omnistock import Inventory, Line, Location, Order
    from omnistock.errors import IdempotencyConflict

    x, y = skus_on_distinct_partitions()
    a_store = open_pg()
    a = Inventory(store=a_store)
    a.add_location(Location("S"))
    a.receive(x, "S", 5)
    a.receive(y, "S", 5)
    b = Inventory(store=open_pg(schema=a_store.schema))
    assert b.head == a.head  # b is now as current as a, then falls behind
    first = a.hold(Order("o1", lines=[Line(x, 1, "S")]))
    with pytest.raises(IdempotencyConflict):
        b.hold(Order("o1", lines=[Line(y, 1, "S")]))
    a.release(first.id)  # b has not seen this: it still thinks o1#1 is open
    second = b.hold(Order("o1", lines=[Line(y, 1, "S")]))
    assert (first.id, second.id) == ("o1#1", "o1#2")
    b.release(second.id)
    assert a.reservation(first.id).state == "released"
    assert a.available(x, "S") == 5 and a.available(y, "S") == 5
    assert a.check().ok and b.check().ok
    assert a.digest() == b.digest()


def test_two_stale_writers_never_mint_the_same_transfer_id(
    open_pg: Callable[..., PostgresStore],
) -> None:
    from omnistock import Inventory, Location

    x, y = skus_on_distinct_partitions()
    a_store = open_pg()
    a = Inventory(store=a_store)
    a.add_location(Location("S"))
    a.add_location(Location("D"))
    a.receive(x, "S", 5)
    a.receive(y, "S", 5)
    b = Inventory(store=open_pg(schema=a_store.schema))
    t1 = a.transfer(x, "S", "D", 1)
    t2 = b.transfer(y, "S", "D", 1)
    assert t1.id != t2.id
    assert {t.id for t in b.transfers()} == {t1.id, t2.id}
    assert b.check().ok
