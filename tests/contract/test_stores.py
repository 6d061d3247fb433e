"""The store contract for the memory and SQLite stores, and SQLite specifics."""

from __future__ import annotations

import multiprocessing
import os
import sqlite3
import threading
from contextlib import closing
from pathlib import Path

import pytest

from omnistock.errors import ConcurrencyConflict, InvalidInput, StorageError
from omnistock.storage import Store, open_store
from omnistock.storage.base import Commit, NewRow, Row
from omnistock.storage.memory import MemoryStore
from omnistock.storage.sqlite import _BATCH, SQLiteStore, parse_url
from omnistock.testing import T0, StoreContract, new_row


class TestMemoryStore(StoreContract):
    durable = False

    def make_store(self, tmp_path: Path) -> Store:
        return MemoryStore()


class TestSQLiteStore(StoreContract):
    def make_store(self, tmp_path: Path) -> Store:
        return SQLiteStore(f"sqlite:///{tmp_path}/journal.db")


def _sqlite(tmp_path: Path, name: str = "journal.db", query: str = "") -> SQLiteStore:
    return SQLiteStore(f"sqlite:///{tmp_path / name}{query}")


# -- opening, URLs, options -------------------------------------------------------


def test_corrupt_file_raises_storage_error_at_open(tmp_path: Path) -> None:
    bad = tmp_path / "bad.db"
    bad.write_bytes(b"this is not a database, just some text\n" * 200)
    with pytest.raises(StorageError) as info:
        SQLiteStore(f"sqlite:///{bad}")
    assert str(bad) in str(info.value)
    assert isinstance(info.value.__cause__, sqlite3.DatabaseError)


def test_foreign_sqlite_database_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "other.db"
    con = sqlite3.connect(path)
    con.execute("CREATE TABLE customers (id INTEGER)")
    con.commit()
    con.close()
    with pytest.raises(StorageError, match="not an omnistock journal") as info:
        SQLiteStore(f"sqlite:///{path}")
    assert str(path) in str(info.value)


def test_newer_schema_version_is_refused(tmp_path: Path) -> None:
    _sqlite(tmp_path).close()
    con = sqlite3.connect(tmp_path / "journal.db")
    con.execute("UPDATE meta SET value = 999 WHERE name = 'schema_version'")
    con.commit()
    con.close()
    with pytest.raises(StorageError, match="schema version"):
        _sqlite(tmp_path)


def test_missing_directory_raises_storage_error(tmp_path: Path) -> None:
    path = tmp_path / "no" / "such" / "dir" / "j.db"
    with pytest.raises(StorageError) as info:
        SQLiteStore(f"sqlite:///{path}")
    assert str(path) in str(info.value)


def test_opening_twice_is_idempotent_and_uses_wal(tmp_path: Path) -> None:
    with closing(_sqlite(tmp_path)) as a:
        a.append([Commit((new_row(),))], 0)
    with closing(_sqlite(tmp_path)) as b, closing(_sqlite(tmp_path)) as c:
        assert b.head() == c.head() == 1
    con = sqlite3.connect(tmp_path / "journal.db")
    assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    con.close()


def test_synchronous_option(tmp_path: Path) -> None:
    with closing(_sqlite(tmp_path, "a.db")) as s:
        assert s.synchronous == "normal"
        assert s._conn.execute("PRAGMA synchronous").fetchone()[0] == 1
    with closing(_sqlite(tmp_path, "b.db", "?synchronous=full")) as s:
        assert s.synchronous == "full"
        assert s._conn.execute("PRAGMA synchronous").fetchone()[0] == 2
        assert s.append([Commit((new_row(),))], 0) == 1
    with closing(
        SQLiteStore(
            f"sqlite:///{tmp_path / 'c.db'}?synchronous=full",
            synchronous="extra",
            busy_timeout=2,
            keep_snapshots=5,
        )
    ) as s:
        assert s._conn.execute("PRAGMA synchronous").fetchone()[0] == 3
        assert s._conn.execute("PRAGMA busy_timeout").fetchone()[0] == 2000
        assert s.keep_snapshots == 5


@pytest.mark.parametrize(
    ("url", "kwargs"),
    [
        ("sqlite:///x.db?synchronous=sometimes", {}),
        ("sqlite:///x.db?colour=blue", {}),
        ("sqlite:///x.db?synchronous", {}),
        ("sqlite:///x.db", {"colour": "blue"}),
        ("sqlite:///x.db", {"busy_timeout": "soon"}),
        ("sqlite:///x.db", {"busy_timeout": -1}),
        ("sqlite:///x.db", {"keep_snapshots": 0}),
        ("sqlite://host/x.db", {}),
        ("sqlite:///", {}),
        ("postgresql:///x.db", {}),
        ("x.db", {}),
    ],
)
def test_bad_urls_and_options(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, url: str, kwargs: dict[str, object]
) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(InvalidInput):
        SQLiteStore(url, **kwargs)
    assert not (tmp_path / "x.db").exists()


def test_url_parsing() -> None:
    assert parse_url("sqlite:///shop.db") == ("shop.db", {})
    assert parse_url("sqlite:///data/shop.db") == ("data/shop.db", {})
    assert parse_url("sqlite:////var/lib/shop.db") == ("/var/lib/shop.db", {})
    assert parse_url("SQLite:////abs.db?synchronous=full") == ("/abs.db", {"synchronous": "full"})
    assert parse_url("sqlite:///C:/shop.db") == ("C:/shop.db", {})
    assert parse_url("sqlite://") == (":memory:", {})
    assert parse_url("sqlite:///:memory:") == (":memory:", {})


def test_relative_and_absolute_paths(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "sub").mkdir()
    with SQLiteStore("sqlite:///rel.db") as s, SQLiteStore("sqlite:///sub/rel2.db") as s2:
        s.append([Commit((new_row(),))], 0)
        s2.append([Commit((new_row(),))], 0)
    assert (tmp_path / "rel.db").is_file()
    assert (tmp_path / "sub" / "rel2.db").is_file()
    absolute = tmp_path / "abs.db"
    url = f"sqlite:///{absolute}"
    assert url.startswith("sqlite:////")
    with closing(SQLiteStore(url)) as s:
        assert s.path == str(absolute)
        s.append([Commit((new_row(),))], 0)
    assert absolute.is_file()


def test_open_store_by_url(tmp_path: Path) -> None:
    with closing(open_store(f"sqlite:///{tmp_path}/j.db?synchronous=full")) as s:
        assert isinstance(s, SQLiteStore)
        assert s.synchronous == "full"
        assert s.url.endswith("j.db?synchronous=full")


def test_in_memory_url() -> None:
    with SQLiteStore("sqlite://") as s:
        assert s.append([Commit((new_row(),))], 0) == 1
        assert [r[0] for r in s.read()] == [1]


# -- errors --------------------------------------------------------------------------


def test_closed_store_raises_storage_error(tmp_path: Path) -> None:
    s = _sqlite(tmp_path)
    s.close()
    s.close()
    with pytest.raises(StorageError, match="closed"):
        s.head()
    with pytest.raises(StorageError, match="closed"):
        s.append([Commit((new_row(),))], 0)
    with pytest.raises(StorageError, match="closed"):
        list(s.read())


def test_driver_errors_become_storage_errors_and_write_nothing(tmp_path: Path) -> None:
    with closing(_sqlite(tmp_path)) as s:
        s.append([Commit((new_row(),))], 0)
        with pytest.raises(StorageError) as info:  # int64 overflow while binding
            s.append([Commit((new_row(ts=T0 + 1), new_row(qty=2**63)))], 1)
        assert str(tmp_path / "journal.db") in str(info.value)
        with pytest.raises(StorageError):  # NOT NULL: a keyed commit needs a fingerprint
            s.append([Commit((new_row(),), key="k")], 1)
        assert s.head() == 1
        assert s.lookup_key("k") is None
        assert s.append([Commit((new_row(),))], 1) == 2  # still usable


def test_stale_head_ahead_of_store_conflicts(tmp_path: Path) -> None:
    with closing(_sqlite(tmp_path)) as s:
        s.append([Commit((new_row(),))], 0)
        with pytest.raises(ConcurrencyConflict):
            s.append([Commit((new_row(),))], 5)
        assert s.head() == 1


def test_busy_database_raises_storage_error(tmp_path: Path) -> None:
    with closing(_sqlite(tmp_path)) as s:
        s.append([Commit((new_row(),))], 0)
    blocker = sqlite3.connect(tmp_path / "journal.db", isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")
    try:
        with closing(SQLiteStore(f"sqlite:///{tmp_path}/journal.db", busy_timeout=0.05)) as s:
            assert s.head() == 1  # readers are not blocked by a writer (WAL)
            with pytest.raises(StorageError, match="locked"):
                s.append([Commit((new_row(),))], 1)
            assert s.head() == 1
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()


# -- snapshots, indexes, streaming -------------------------------------------------------


def test_snapshots_are_pruned_to_the_newest(tmp_path: Path) -> None:
    with closing(_sqlite(tmp_path)) as s:
        for seq in (1, 2, 3, 4, 5):
            s.save_snapshot(seq, f"snap{seq}".encode())
        assert s.load_snapshot() == (5, b"snap5")
        assert s.load_snapshot(3) == (3, b"snap3")
        assert s.load_snapshot(2) is None
        s.save_snapshot(5, b"again")  # same seq replaces
        assert s.load_snapshot() == (5, b"again")
        count = s._conn.execute("SELECT count(*) FROM snapshots").fetchone()[0]
        assert count == 3


def _many_rows(n: int, start: int = 0) -> tuple[NewRow, ...]:
    return tuple(
        new_row(
            ts=T0 + (start + i) // 3,
            sku=f"S{(start + i) % 7}" if i % 11 else None,
            location=("s1", "w1", "d1")[(start + i) % 3],
            ref=f"r{(start + i) % 5}" if (start + i) % 4 else None,
            qty=start + i + 1,
        )
        for i in range(n)
    )


def test_filtered_and_seq_at_across_the_index_batches(tmp_path: Path) -> None:
    """Indexes are maintained in batches: queries must merge the indexed part
    and the unindexed tail exactly, at every head."""
    with closing(_sqlite(tmp_path)) as s:
        s._page = 17  # many pages per query
        head = 0
        sizes = [1, _BATCH - 3, 5, 1, 2 * _BATCH + 7, 40, _BATCH, 3]
        for n in sizes:
            head = s.append([Commit(_many_rows(n, head))], head)
            everything = list(s.read())
            assert [r[0] for r in everything] == list(range(1, head + 1))
            for f in (
                {"sku": "S3"},
                {"ref": "r2"},
                {"sku": "S1", "location": "w1"},
                {"ref": "r1", "location": "d1", "sku": "S5"},
                {"location": "s1"},
            ):
                for since, until in ((0, None), (head // 2, None), (3, head - 2), (head, None)):
                    cols = {"sku": 3, "location": 4, "ref": 6}
                    want = [
                        r
                        for r in everything
                        if r[0] > since
                        and (until is None or r[0] <= until)
                        and all(r[cols[k]] == v for k, v in f.items())
                    ]
                    assert list(s.filtered(since, until, **f)) == want, (head, f, since)
            for ts in (T0 - 1, T0, T0 + head // 6, T0 + head // 3, T0 + head):
                want_seq = max((r[0] for r in everything if r[1] <= ts), default=0)
                assert s.seq_at(ts) == want_seq
        indexed = s._conn.execute("SELECT value FROM meta WHERE name='indexed_upto'").fetchone()[0]
        assert 0 < indexed <= head and head - indexed < _BATCH


def test_queries_use_indexes(tmp_path: Path) -> None:
    with closing(_sqlite(tmp_path)) as s:
        c = s._conn
        plan = " ".join(
            str(r)
            for r in c.execute(
                "EXPLAIN QUERY PLAN SELECT e.seq FROM ix_sku i JOIN entries e ON e.seq = i.seq "
                "WHERE i.v = ? AND i.seq > ? AND i.seq <= ? ORDER BY i.seq LIMIT ?",
                ("A", 0, 9, 5),
            )
        )
        assert "SEARCH i USING PRIMARY KEY" in plan and "TEMP B-TREE" not in plan
        plan = " ".join(
            str(r)
            for r in c.execute(
                "EXPLAIN QUERY PLAN SELECT seq FROM ix_ts WHERE v <= ? "
                "ORDER BY v DESC, seq DESC LIMIT 1",
                (5,),
            )
        )
        assert "SEARCH ix_ts USING PRIMARY KEY" in plan and "TEMP B-TREE" not in plan


def test_read_streams_while_the_reader_appends(tmp_path: Path) -> None:
    with closing(_sqlite(tmp_path)) as s:
        s._page = 10
        s.append([Commit(_rows_a(95))], 0)
        seen: list[Row] = []
        head = 95
        for row in s.read():
            seen.append(row)
            if row[0] % 10 == 0:  # between pages, and mid-page
                head = s.append([Commit(_rows_a(1))], head)
        assert [r[0] for r in seen] == list(range(1, 96))
        assert s.head() == head > 95


def _rows_a(n: int) -> tuple[NewRow, ...]:
    return tuple(new_row(ts=T0, qty=i + 1) for i in range(n))


def test_one_store_shared_by_threads(tmp_path: Path) -> None:
    per_thread, threads_n = 100, 4
    errors: list[BaseException] = []
    with closing(_sqlite(tmp_path)) as s:

        def work(me: int) -> None:
            try:
                for i in range(per_thread):
                    while True:
                        try:
                            s.append(
                                [
                                    Commit(
                                        (new_row(ref=f"t{me}", qty=i + 1),),
                                        key=f"t{me}-{i}",
                                        fingerprint="f",
                                    )
                                ],
                                s.head(),
                            )
                            break
                        except ConcurrencyConflict:
                            pass
                    list(s.filtered(ref=f"t{me}", since=max(0, s.head() - 20)))
            except BaseException as exc:  # pragma: no cover - reported below
                errors.append(exc)

        threads = [threading.Thread(target=work, args=(m,)) for m in range(threads_n)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        assert not errors, errors
        assert [r[0] for r in s.read()] == list(range(1, per_thread * threads_n + 1))
        for m in range(threads_n):
            assert [r[5] for r in s.filtered(ref=f"t{m}")] == list(range(1, per_thread + 1))


# -- several processes ------------------------------------------------------------------


def _process_writer(url: str, tag: str, n: int, start: multiprocessing.synchronize.Event) -> None:
    start.wait(30)
    store = SQLiteStore(url)  # the processes race to create the fresh file
    try:
        for i in range(n):
            while True:
                head = store.head()
                row = new_row(ts=T0 + i, sku="A", ref=tag, qty=i + 1, data=str(os.getpid()))
                try:
                    store.append([Commit((row,), key=f"{tag}-{i}", fingerprint=tag)], head)
                    break
                except ConcurrencyConflict:
                    continue
    finally:
        store.close()


def test_two_processes_append_without_gaps(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/shared.db"
    ctx = multiprocessing.get_context("spawn")
    start = ctx.Event()
    counts = {"p1": 300, "p2": 200}
    procs = [
        ctx.Process(target=_process_writer, args=(url, tag, n, start)) for tag, n in counts.items()
    ]
    for p in procs:
        p.start()
    start.set()
    reader = SQLiteStore(url)
    try:
        # Read while the other processes write: always a gap-free prefix.
        while any(p.is_alive() for p in procs):
            seqs = [r[0] for r in reader.read()]
            assert seqs == list(range(1, len(seqs) + 1))
        for p in procs:
            p.join(60)
            assert p.exitcode == 0
        rows = list(reader.read())
        total = sum(counts.values())
        assert len(rows) == total
        assert [r[0] for r in rows] == list(range(1, total + 1))
        for tag, n in counts.items():
            assert [r[5] for r in reader.filtered(ref=tag)] == list(range(1, n + 1))
            assert len({r[9] for r in reader.filtered(ref=tag)}) == 1  # one pid per tag
            assert all(reader.lookup_key(f"{tag}-{i}") is not None for i in range(n))
    finally:
        reader.close()
        for p in procs:
            if p.is_alive():  # pragma: no cover
                p.kill()
