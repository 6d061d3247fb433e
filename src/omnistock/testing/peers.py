"""The contract tests with a second store object on the same journal:
waiting for another writer, reopening, and writers racing."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from ..errors import ConcurrencyConflict
from ..storage.base import Commit, Conditions, KeyRecord, Store
from .hooks import StoreHooks
from .rows import T0, new_row, new_rows

__all__ = ["PeerTests"]


class PeerTests(StoreHooks):
    """What a journal guarantees across store objects and threads."""

    # -- waiting ---------------------------------------------------------------------

    def test_wait_returns_true_when_another_writer_appends(
        self, store: Store, tmp_path: Path
    ) -> None:
        store.append([Commit(new_rows(1))], 0)
        peer = self.open_peer(store, tmp_path)
        errors: list[BaseException] = []

        def write() -> None:
            try:
                time.sleep(0.05)
                peer.append([Commit(new_rows(1, T0 + 1))], 1)
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
        store.append([Commit(new_rows(2))], 0)
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
            assert again.append([Commit(new_rows(1, T0 + 3))], 3) == 4
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
                        if s.guarded:  # both claim one id (as two minting one transfer id)
                            s.append_guarded([commit], Conditions(claims=(f"round-{r}",)))
                        else:
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
            assert store.holes() == set()  # a loser takes no seq
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
