"""The contract tests on one store object: reading, appending, optimistic
concurrency, idempotency keys, snapshots and queries."""

from __future__ import annotations

from typing import Any

import pytest

from ..errors import ConcurrencyConflict
from ..storage.base import Commit, KeyRecord, Row, Store
from .hooks import StoreHooks
from .rows import T0, as_read, new_row, new_rows

__all__ = ["JournalTests"]


class JournalTests(StoreHooks):
    """What one store object guarantees on its own."""

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
        assert store.append([Commit(new_rows(1))], 0) == 1
        assert store.head() == 1
        assert store.append([Commit(new_rows(3, T0 + 10))], 1) == 4
        assert store.head() == 4
        # An append of nothing is allowed and moves nothing.
        assert store.append([], 4) == 4
        assert store.append([Commit(())], 4) == 4
        assert store.head() == 4

    def test_rows_numbered_consecutively_in_order_given(self, store: Store) -> None:
        a, b, c = new_rows(2), new_rows(3, T0 + 2), new_rows(1, T0 + 5)
        head = store.append([Commit(a), Commit(b)], 0)
        head = store.append([Commit(c)], head)
        assert head == 6
        got = list(store.read())
        assert [r[0] for r in got] == [1, 2, 3, 4, 5, 6]
        assert got == as_read(1, a + b + c)

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
        assert got == as_read(1, rows)
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
        store.append([Commit(new_rows(5))], 0)
        assert [r[0] for r in store.read(since, until)] == expected

    def test_read_is_lazy_and_survives_appends_while_iterating(self, store: Store) -> None:
        before = as_read(1, new_rows(50))
        store.append([Commit(new_rows(50))], 0)
        it = store.read()
        first = next(it)
        store.append([Commit(new_rows(5, T0 + 50))], 50)  # must not deadlock
        got = [first, *it]
        assert got[:50] == before
        assert [r[0] for r in got] == list(range(1, len(got) + 1))

    # -- optimistic concurrency ---------------------------------------------------

    def test_stale_expected_head_conflicts_and_writes_nothing(self, store: Store) -> None:
        store.append([Commit(new_rows(2))], 0)
        before = list(store.read())
        stale = Commit(new_rows(1, T0 + 9), key="k-stale", fingerprint="f", result="r")
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
        store.append([Commit(new_rows(1), key="k0", fingerprint="f0")], 0)
        before = list(store.read())
        # A key repeated within one call fails the whole call.
        with pytest.raises(ConcurrencyConflict):
            store.append(
                [
                    Commit(new_rows(2, T0 + 1), key="k1", fingerprint="f1"),
                    Commit(new_rows(1, T0 + 3), key="k1", fingerprint="f1b"),
                ],
                1,
            )
        # A key already recorded in the second commit fails the first too.
        with pytest.raises(ConcurrencyConflict):
            store.append(
                [
                    Commit(new_rows(2, T0 + 1), key="k2", fingerprint="f2"),
                    Commit(new_rows(1, T0 + 3), key="k0", fingerprint="f0"),
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
                Commit(new_rows(2), key="k-a", fingerprint="fp-a", result='{"id": "r1"}'),
                Commit(new_rows(1, T0 + 2)),
                Commit(new_rows(3, T0 + 3), key="k-b", fingerprint="fp-b", result=None),
            ],
            0,
        )
        assert head == 6
        assert store.lookup_key("k-a") == KeyRecord("k-a", "fp-a", '{"id": "r1"}', 2)
        assert store.lookup_key("k-b") == KeyRecord("k-b", "fp-b", None, 6)
        assert store.lookup_key("k-") is None
        assert store.lookup_key("K-A") is None
        uni = "ключ-🔑"
        store.append([Commit(new_rows(1, T0 + 6), key=uni, fingerprint="ƒ", result="✓")], 6)
        assert store.lookup_key(uni) == KeyRecord(uni, "ƒ", "✓", 7)

    def test_reused_key_conflicts_and_writes_nothing(self, store: Store) -> None:
        store.append([Commit(new_rows(1), key="k", fingerprint="f", result="1")], 0)
        before = list(store.read())
        with pytest.raises(ConcurrencyConflict):
            store.append([Commit(new_rows(1, T0 + 1), key="k", fingerprint="f", result="2")], 1)
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
                Commit(new_rows(2), key="k1", fingerprint="f1"),
                Commit((), key="k-empty", fingerprint="f2", result="nothing moved"),
            ],
            0,
        )
        assert head == 2
        assert store.lookup_key("k-empty") == KeyRecord("k-empty", "f2", "nothing moved", 2)
        assert list(store.read()) == as_read(1, new_rows(2))

    # -- snapshots -----------------------------------------------------------------

    def test_snapshots(self, store: Store) -> None:
        store.append([Commit(new_rows(12))], 0)
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
