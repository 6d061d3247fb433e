"""A reusable contract suite for journal stores (``omnistock.storage.base.Store``).

Every store, built in or third party, proves the port's guarantees by
subclassing :class:`StoreContract` in a test module::

    from omnistock.testing import StoreContract

    class TestMyStore(StoreContract):
        durable = True

        def make_store(self, tmp_path):
            return MyStore(f"my:///{tmp_path}/journal")

``make_store(tmp_path)`` must return a store at a place derived only from
``tmp_path``, so that calling it again opens *the same* journal (that is how
``reopen`` and the multi-writer tests get a second store object). Stores whose
data does not outlive the object (``memory://``) set ``durable = False``: the
reopen tests skip and the "other writer" is the same object used from another
thread.

The suite needs only pytest and the port; it is imported by tests, never by
omnistock itself. It is store-agnostic: every conflict test uses rows of one
SKU so a store partitioned by SKU conflicts too.
"""

from __future__ import annotations

import abc
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from .errors import ConcurrencyConflict
from .storage.base import Commit, KeyRecord, NewRow, Row, Store

__all__ = ["StoreContract", "new_row"]

T0 = 1_700_000_000_000_000  # a plausible ts_us


def new_row(
    ts: int = T0,
    kind: str = "received",
    sku: str | None = "A",
    location: str | None = "s1",
    qty: int = 1,
    ref: str | None = None,
    channel: str | None = None,
    key: str | None = None,
    data: str | None = None,
) -> NewRow:
    """A journal row to append, with defaults for every field."""
    return (ts, kind, sku, location, qty, ref, channel, key, data)


def _rows(n: int, start_ts: int = T0, sku: str = "A") -> tuple[NewRow, ...]:
    return tuple(new_row(ts=start_ts + i, sku=sku, qty=i + 1) for i in range(n))


def _numbered(first: int, rows: tuple[NewRow, ...]) -> list[Row]:
    return [(first + i, *r) for i, r in enumerate(rows)]


class StoreContract(abc.ABC):
    """Pytest base class: the guarantees of ``Store``, for any store.

    Subclass it as ``Test...`` and implement :meth:`make_store`. Override
    :meth:`reopen` or :meth:`open_peer` when a second store object on the same
    journal is made differently; set ``durable = False`` for stores whose data
    dies with the object.
    """

    durable: bool = True
    """Data outlives the store object: reopening shows it, and a second object
    made by ``make_store`` sees the same journal."""

    # -- hooks -----------------------------------------------------------------

    @abc.abstractmethod
    def make_store(self, tmp_path: Path) -> Store:
        """A store at a place derived only from ``tmp_path`` (empty the first
        time)."""

    def reopen(self, store: Store, tmp_path: Path) -> Store:
        """Close ``store`` and open the same journal again."""
        store.close()
        return self.make_store(tmp_path)

    def open_peer(self, store: Store, tmp_path: Path) -> Store:
        """Another store object on the same journal (a second writer); for a
        non-durable store, ``store`` itself (shared between threads)."""
        if not self.durable:
            return store
        return self.make_store(tmp_path)

    @pytest.fixture
    def store(self, tmp_path: Path) -> Iterator[Store]:
        s = self.make_store(tmp_path)
        try:
            yield s
        finally:
            s.close()

    # -- basics ----------------------------------------------------------------

    def test_empty_store(self, store: Store) -> None:
        assert store.head() == 0
        assert list(store.read()) == []
        assert list(store.read(0, 10)) == []
        assert store.lookup_key("nope") is None
        assert store.load_snapshot() is None
        assert store.seq_at(T0) == 0
        assert list(store.filtered(sku="A")) == []

    def test_append_returns_head(self, store: Store) -> None:
        assert store.append([Commit(_rows(1))], 0) == 1
        assert store.head() == 1
        assert store.append([Commit(_rows(3, T0 + 10))], 1) == 4
        assert store.head() == 4
        # An append of nothing is allowed and moves nothing.
        assert store.append([], 4) == 4
        assert store.append([Commit(())], 4) == 4
        assert store.head() == 4

    def test_rows_numbered_consecutively_in_order_given(self, store: Store) -> None:
        a, b, c = _rows(2), _rows(3, T0 + 2), _rows(1, T0 + 5)
        head = store.append([Commit(a), Commit(b)], 0)
        head = store.append([Commit(c)], head)
        assert head == 6
        got = list(store.read())
        assert [r[0] for r in got] == [1, 2, 3, 4, 5, 6]
        assert got == _numbered(1, a + b + c)

    def test_rows_read_back_exactly(self, store: Store) -> None:
        rows = (
            new_row(),
            new_row(ts=T0 + 1, kind="counted", sku=None, location=None, qty=0),
            new_row(
                ts=T0 + 2,
                kind="sold",
                sku="Ärmel-👕-衬衫",
                location="магазин",
                qty=-(2**62),
                ref="ord/1 ' \" ; --",
                channel="pos",
                key="k\u00e9y-1",
                data='{"note": "caf\u00e9 \\u0000 ✓", "n": [1, 2]}',
            ),
            new_row(
                ts=2**62,
                kind="counted",
                sku="",
                location="",
                qty=2**62,
                ref="",
                channel="",
                key="",
                data="",
            ),
            new_row(ts=2**62, kind="x" * 2000, sku="B" * 500, qty=-1, data="d" * 100_000),
        )
        store.append([Commit(rows)], 0)
        got = list(store.read())
        assert got == _numbered(1, rows)
        for row in got:
            assert type(row) is tuple
            assert len(row) == 10
            assert type(row[0]) is int and type(row[1]) is int and type(row[5]) is int
            for i in (2, 3, 4, 6, 7, 8, 9):
                assert row[i] is None or type(row[i]) is str

    @pytest.mark.parametrize(
        ("since", "until", "expected"),
        [
            (0, None, [1, 2, 3, 4, 5]),
            (2, None, [3, 4, 5]),
            (0, 3, [1, 2, 3]),
            (1, 4, [2, 3, 4]),
            (2, 2, []),
            (3, 1, []),
            (0, 0, []),
            (5, None, []),
            (7, None, []),
            (4, 100, [5]),
            (-3, 1, [1]),
        ],
    )
    def test_read_bounds(
        self, store: Store, since: int, until: int | None, expected: list[int]
    ) -> None:
        store.append([Commit(_rows(5))], 0)
        assert [r[0] for r in store.read(since, until)] == expected

    def test_read_is_lazy_and_survives_appends_while_iterating(self, store: Store) -> None:
        before = _numbered(1, _rows(50))
        store.append([Commit(_rows(50))], 0)
        it = store.read()
        first = next(it)
        store.append([Commit(_rows(5, T0 + 50))], 50)  # must not deadlock
        got = [first, *it]
        assert got[:50] == before
        assert [r[0] for r in got] == list(range(1, len(got) + 1))

    # -- optimistic concurrency ---------------------------------------------------

    def test_stale_expected_head_conflicts_and_writes_nothing(self, store: Store) -> None:
        store.append([Commit(_rows(2))], 0)
        before = list(store.read())
        stale = Commit(_rows(1, T0 + 9), key="k-stale", fingerprint="f", result="r")
        with pytest.raises(ConcurrencyConflict):
            store.append([stale], 0)
        with pytest.raises(ConcurrencyConflict):
            store.append([stale], 1)
        assert store.head() == 2
        assert list(store.read()) == before
        assert store.lookup_key("k-stale") is None
        # The correct head still works afterwards.
        assert store.append([stale], 2) == 3

    def test_several_commits_are_atomic(self, store: Store) -> None:
        store.append([Commit(_rows(1), key="k0", fingerprint="f0")], 0)
        before = list(store.read())
        # A key repeated within one call fails the whole call.
        with pytest.raises(ConcurrencyConflict):
            store.append(
                [
                    Commit(_rows(2, T0 + 1), key="k1", fingerprint="f1"),
                    Commit(_rows(1, T0 + 3), key="k1", fingerprint="f1b"),
                ],
                1,
            )
        # A key already recorded in the second commit fails the first too.
        with pytest.raises(ConcurrencyConflict):
            store.append(
                [
                    Commit(_rows(2, T0 + 1), key="k2", fingerprint="f2"),
                    Commit(_rows(1, T0 + 3), key="k0", fingerprint="f0"),
                ],
                1,
            )
        assert store.head() == 1
        assert list(store.read()) == before
        assert store.lookup_key("k1") is None
        assert store.lookup_key("k2") is None
        assert store.lookup_key("k0") == KeyRecord("k0", "f0", None, 1)

    # -- idempotency keys ----------------------------------------------------------

    def test_key_lookup(self, store: Store) -> None:
        head = store.append(
            [
                Commit(_rows(2), key="k-a", fingerprint="fp-a", result='{"id": "r1"}'),
                Commit(_rows(1, T0 + 2)),
                Commit(_rows(3, T0 + 3), key="k-b", fingerprint="fp-b", result=None),
            ],
            0,
        )
        assert head == 6
        assert store.lookup_key("k-a") == KeyRecord("k-a", "fp-a", '{"id": "r1"}', 2)
        assert store.lookup_key("k-b") == KeyRecord("k-b", "fp-b", None, 6)
        assert store.lookup_key("k-") is None
        assert store.lookup_key("K-A") is None
        uni = "ключ-🔑"
        store.append([Commit(_rows(1, T0 + 6), key=uni, fingerprint="ƒ", result="✓")], 6)
        assert store.lookup_key(uni) == KeyRecord(uni, "ƒ", "✓", 7)

    def test_reused_key_conflicts_and_writes_nothing(self, store: Store) -> None:
        store.append([Commit(_rows(1), key="k", fingerprint="f", result="1")], 0)
        before = list(store.read())
        with pytest.raises(ConcurrencyConflict):
            store.append([Commit(_rows(1, T0 + 1), key="k", fingerprint="f", result="2")], 1)
        with pytest.raises(ConcurrencyConflict):
            store.append([Commit((), key="k", fingerprint="other", result="3")], 1)
        assert store.head() == 1
        assert list(store.read()) == before
        assert store.lookup_key("k") == KeyRecord("k", "f", "1", 1)

    def test_keyed_commit_with_zero_rows_records_the_key(self, store: Store) -> None:
        assert store.append([Commit((), key="k-empty0", fingerprint="f", result="r")], 0) == 0
        assert store.lookup_key("k-empty0") == KeyRecord("k-empty0", "f", "r", 0)
        assert store.head() == 0
        head = store.append(
            [
                Commit(_rows(2), key="k1", fingerprint="f1"),
                Commit((), key="k-empty", fingerprint="f2", result="nothing moved"),
            ],
            0,
        )
        assert head == 2
        assert store.lookup_key("k-empty") == KeyRecord("k-empty", "f2", "nothing moved", 2)
        assert list(store.read()) == _numbered(1, _rows(2))

    # -- snapshots -----------------------------------------------------------------

    def test_snapshots(self, store: Store) -> None:
        store.append([Commit(_rows(12))], 0)
        assert store.load_snapshot() is None
        blob = bytes(range(256)) * 4
        store.save_snapshot(10, blob)
        store.save_snapshot(5, b"five")  # saved out of order: 10 stays newest
        got = store.load_snapshot()
        assert got == (10, blob)
        assert got is not None and type(got[1]) is bytes and type(got[0]) is int
        assert store.load_snapshot(max_seq=10) == (10, blob)
        assert store.load_snapshot(max_seq=9) == (5, b"five")
        assert store.load_snapshot(max_seq=5) == (5, b"five")
        assert store.load_snapshot(max_seq=4) is None
        assert store.load_snapshot(max_seq=0) is None
        store.save_snapshot(12, b"")
        assert store.load_snapshot() == (12, b"")
        assert store.load_snapshot(max_seq=11) == (10, blob)

    # -- queries ---------------------------------------------------------------------

    def test_filtered(self, store: Store) -> None:
        rows = tuple(
            new_row(
                ts=T0 + i,
                sku=("A", "B", None)[i % 3],
                location=("s1", "w1")[i % 2],
                ref=(None, "r1", "r2", "r1")[i % 4],
                qty=i + 1,
            )
            for i in range(40)
        )
        store.append([Commit(rows[:25])], 0)
        store.append([Commit(rows[25:])], 25)
        everything = list(store.read())

        def expect(since: int = 0, until: int | None = None, **f: str) -> list[Row]:
            cols = {"sku": 3, "location": 4, "ref": 6}
            return [
                r
                for r in everything
                if r[0] > since
                and (until is None or r[0] <= until)
                and all(r[cols[k]] == v for k, v in f.items())
            ]

        cases: list[dict[str, Any]] = [
            {},
            {"sku": "A"},
            {"sku": "B"},
            {"location": "w1"},
            {"ref": "r1"},
            {"sku": "A", "location": "s1"},
            {"sku": "B", "ref": "r2"},
            {"location": "s1", "ref": "r1"},
            {"sku": "A", "location": "w1", "ref": "r1"},
            {"sku": "Z"},
            {"ref": "nope"},
            {"location": "x"},
        ]
        for f in cases:
            for since, until in ((0, None), (5, 30), (24, 26), (39, None), (10, 3)):
                got = list(store.filtered(since, until, **f))
                assert got == expect(since, until, **f), (f, since, until)
                assert all(type(r) is tuple for r in got)

    def test_seq_at(self, store: Store) -> None:
        assert store.seq_at(T0) == 0
        ts = [100, 100, 200, 300, 300, 300, 400]
        store.append([Commit(tuple(new_row(ts=t) for t in ts))], 0)
        assert store.seq_at(0) == 0
        assert store.seq_at(99) == 0
        assert store.seq_at(100) == 2
        assert store.seq_at(150) == 2
        assert store.seq_at(200) == 3
        assert store.seq_at(300) == 6
        assert store.seq_at(399) == 6
        assert store.seq_at(400) == 7
        assert store.seq_at(2**62) == 7

    # -- waiting ---------------------------------------------------------------------

    def test_wait_returns_true_when_another_writer_appends(
        self, store: Store, tmp_path: Path
    ) -> None:
        store.append([Commit(_rows(1))], 0)
        peer = self.open_peer(store, tmp_path)
        errors: list[BaseException] = []

        def write() -> None:
            try:
                time.sleep(0.05)
                peer.append([Commit(_rows(1, T0 + 1))], 1)
            except BaseException as exc:  # pragma: no cover - reported below
                errors.append(exc)

        t = threading.Thread(target=write)
        try:
            t.start()
            started = time.monotonic()
            assert store.wait(1, timeout=10.0) is True
            assert time.monotonic() - started < 9.0
            t.join(10)
            assert not errors
            assert store.head() == 2
            assert store.wait(1, timeout=0.0) is True
        finally:
            t.join(10)
            if peer is not store:
                peer.close()

    def test_wait_returns_false_on_timeout(self, store: Store) -> None:
        store.append([Commit(_rows(2))], 0)
        started = time.monotonic()
        assert store.wait(2, timeout=0.1) is False
        assert 0.05 <= time.monotonic() - started < 5.0
        assert store.wait(2, timeout=0.0) is False

    # -- durability ------------------------------------------------------------------

    def test_reopen_shows_identical_journal(self, store: Store, tmp_path: Path) -> None:
        if not self.durable:
            pytest.skip("store is not durable")
        rows = (
            new_row(),
            new_row(
                ts=T0 + 1,
                sku="Ärmel",
                location=None,
                qty=-(2**62),
                ref="r",
                channel="web",
                key="k1",
                data='{"a": 1}',
            ),
            new_row(ts=T0 + 2, sku=None, qty=2**62),
        )
        head = store.append(
            [
                Commit(rows[:2], key="k1", fingerprint="f1", result='{"ok": true}'),
                Commit(rows[2:]),
                Commit((), key="k-empty", fingerprint="f2"),
            ],
            0,
        )
        store.save_snapshot(1, b"\x00snap-1\xff")
        store.save_snapshot(3, b"snap-3")
        before = list(store.read())
        again = self.reopen(store, tmp_path)
        try:
            assert again.head() == head == 3
            assert list(again.read()) == before
            assert again.lookup_key("k1") == KeyRecord("k1", "f1", '{"ok": true}', 2)
            assert again.lookup_key("k-empty") == KeyRecord("k-empty", "f2", None, 3)
            assert again.load_snapshot() == (3, b"snap-3")
            assert again.load_snapshot(2) == (1, b"\x00snap-1\xff")
            assert again.seq_at(T0 + 1) == 2
            assert [r[0] for r in again.filtered(sku="Ärmel")] == [2]
            # It is still writable and numbering continues.
            assert again.append([Commit(_rows(1, T0 + 3))], 3) == 4
        finally:
            again.close()

    def test_close_is_idempotent(self, tmp_path: Path) -> None:
        s = self.make_store(tmp_path)
        s.close()
        s.close()
        with self.make_store(tmp_path) as s2:
            assert isinstance(s2, Store)

    # -- several writers ---------------------------------------------------------------

    def test_racing_writers_exactly_one_wins_per_round(self, store: Store, tmp_path: Path) -> None:
        rounds = 30
        peer = self.open_peer(store, tmp_path)
        barrier = threading.Barrier(2, timeout=30)
        outcome: dict[tuple[int, int], str] = {}
        errors: list[BaseException] = []

        def writer(me: int, s: Store) -> None:
            try:
                for r in range(rounds):
                    barrier.wait()
                    commit = Commit(
                        (new_row(ts=T0 + r, qty=me + 1),), key=f"r{r}-w{me}", fingerprint="f"
                    )
                    try:
                        s.append([commit], r)  # both writers saw head == r
                        outcome[r, me] = "won"
                    except ConcurrencyConflict:
                        outcome[r, me] = "lost"
                    barrier.wait()
            except BaseException as exc:  # pragma: no cover - reported below
                errors.append(exc)
                barrier.abort()

        threads = [
            threading.Thread(target=writer, args=(0, store)),
            threading.Thread(target=writer, args=(1, peer)),
        ]
        try:
            for t in threads:
                t.start()
            for t in threads:
                t.join(60)
            assert not errors, errors
            for r in range(rounds):
                assert sorted((outcome[r, 0], outcome[r, 1])) == ["lost", "won"], r
            rows = list(store.read())
            assert [row[0] for row in rows] == list(range(1, rounds + 1))
            for r, row in enumerate(rows):
                winner = 0 if outcome[r, 0] == "won" else 1
                assert row[5] == winner + 1
                assert store.lookup_key(f"r{r}-w{winner}") is not None
                assert store.lookup_key(f"r{r}-w{1 - winner}") is None
            assert list(peer.read()) == rows
        finally:
            for t in threads:
                t.join(10)
            if peer is not store:
                peer.close()

    def test_writers_retrying_on_conflict_leave_no_gaps(self, store: Store, tmp_path: Path) -> None:
        per_writer = 60
        peer = self.open_peer(store, tmp_path)
        errors: list[BaseException] = []

        def writer(me: int, s: Store) -> None:
            try:
                for i in range(per_writer):
                    while True:
                        head = s.head()
                        commit = Commit(
                            (
                                new_row(ts=T0, ref=f"w{me}", qty=i + 1),
                                new_row(ts=T0, ref=f"w{me}", qty=-(i + 1)),
                            ),
                            key=f"w{me}-{i}",
                            fingerprint="f",
                        )
                        try:
                            s.append([commit], head)
                            break
                        except ConcurrencyConflict:
                            continue
            except BaseException as exc:  # pragma: no cover - reported below
                errors.append(exc)

        threads = [
            threading.Thread(target=writer, args=(0, store)),
            threading.Thread(target=writer, args=(1, peer)),
        ]
        try:
            for t in threads:
                t.start()
            for t in threads:
                t.join(60)
            assert not errors, errors
            rows = list(store.read())
            assert len(rows) == 2 * 2 * per_writer
            assert [r[0] for r in rows] == list(range(1, len(rows) + 1))
            for me in (0, 1):
                mine = [r[5] for r in store.filtered(ref=f"w{me}")]
                # Each commit's two rows are adjacent, and commits keep their order.
                assert mine == [q for i in range(per_writer) for q in (i + 1, -(i + 1))]
                for i in range(per_writer):
                    rec = store.lookup_key(f"w{me}-{i}")
                    assert rec is not None
                    pair = list(store.read(rec.seq - 2, rec.seq))
                    assert [r[5] for r in pair] == [i + 1, -(i + 1)]
                    assert all(r[6] == f"w{me}" for r in pair)
        finally:
            for t in threads:
                t.join(10)
            if peer is not store:
                peer.close()
