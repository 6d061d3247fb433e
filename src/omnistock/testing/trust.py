"""The contract tests of a journal's trust guarantees: every row carries a
hash chained to the row before it (``storage.chain``), and time never goes
backwards along the journal, whatever the writers' clocks say."""

from __future__ import annotations

from pathlib import Path

import pytest

from ..storage.base import Commit, Row, Store
from ..storage.chain import GENESIS, HASH_SIZE, ChainFault, row_hash, verify
from .hooks import StoreHooks
from .rows import T0, new_row, new_rows

__all__ = ["TrustTests"]


def _chain(store: Store, since: int = 0, until: int | None = None) -> list[tuple[Row, bytes]]:
    out = []
    for row, h in store.read_chain(since, until):
        assert h is not None, f"row {row[0]} has no chain hash"
        out.append((row, h))
    return out


def assert_chain_verifies(store: Store) -> list[tuple[Row, bytes]]:
    """Every row read back carries a hash that links it to the row before,
    recomputed independently; returns the chain."""
    chained = _chain(store)
    prev = GENESIS
    for row, h in chained:
        assert type(h) is bytes and len(h) == HASH_SIZE
        assert h == row_hash(prev, row), f"row {row[0]} does not link to the row before"
        prev = h
    faults: list[ChainFault] = []
    assert [r for r, _ in chained] == list(verify(iter(chained), faults))
    assert faults == []
    assert [r for r, _ in chained] == list(store.read())
    return chained


class TrustTests(StoreHooks):
    """What a journal guarantees so that ``check()`` can trust it."""

    # -- the hash chain --------------------------------------------------------

    def test_rows_carry_a_chain_that_verifies(self, store: Store) -> None:
        assert store.hash_at(0) == GENESIS
        assert store.hash_at(1) is None
        assert list(store.read_chain()) == []
        rows = (
            new_row(),
            new_row(ts=T0 + 1, kind="counted", sku=None, location=None, qty=0),
            new_row(
                ts=T0 + 2,
                sku="Ärmel-👕",
                location="магазин",
                qty=-(2**62),
                ref="r|1:2",
                channel="pos",
                key="k",
                data='{"a": "|-:"}',
            ),
            new_row(ts=T0 + 3, sku="", location="", ref="", channel="", key="", data=""),
            new_row(ts=T0 + 4, data="d" * 50_000),
        )
        head = store.append([Commit(rows[:2]), Commit(rows[2:3])], 0)
        store.append([Commit(rows[3:], key="k1", fingerprint="f")], head)
        chained = assert_chain_verifies(store)
        assert len(chained) == 5
        assert len({h for _, h in chained}) == 5
        for row, h in chained:
            assert store.hash_at(row[0]) == h
        assert store.hash_at(6) is None
        assert _chain(store, 2, 4) == chained[2:4]

    def test_equal_rows_at_other_seqs_hash_differently(self, store: Store) -> None:
        store.append([Commit((new_row(), new_row()))], 0)
        (_, a), (_, b) = _chain(store)
        assert a != b

    def test_chain_continues_across_store_objects(self, store: Store, tmp_path: Path) -> None:
        store.append([Commit(new_rows(3))], 0)
        peer = self.open_peer(store, tmp_path)
        try:
            peer.append([Commit(new_rows(2, T0 + 3, sku="B"))], 3)
            store.append([Commit(new_rows(1, T0 + 5))], 5)
            assert_chain_verifies(store)
            assert _chain(peer) == _chain(store)
        finally:
            if peer is not store:
                peer.close()

    def test_chain_survives_reopening(self, store: Store, tmp_path: Path) -> None:
        if not self.durable:
            pytest.skip("store is not durable")
        store.append([Commit(new_rows(4))], 0)
        before = _chain(store)
        again = self.reopen(store, tmp_path)
        try:
            assert _chain(again) == before
            again.append([Commit(new_rows(2, T0 + 4))], 4)
            assert assert_chain_verifies(again)[:4] == before
        finally:
            again.close()

    def test_refused_append_leaves_the_chain_alone(self, store: Store) -> None:
        store.append([Commit(new_rows(2), key="k", fingerprint="f")], 0)
        before = _chain(store)
        with pytest.raises(Exception):  # noqa: B017 - ConcurrencyConflict, per the contract
            store.append([Commit(new_rows(1, T0 + 2), key="k", fingerprint="f")], 2)
        assert _chain(store) == before
        store.append([Commit(new_rows(1, T0 + 2))], 2)
        assert_chain_verifies(store)

    # -- monotonic time ---------------------------------------------------------

    def test_time_never_goes_backwards(self, store: Store) -> None:
        ts = [500, 300, 700, 100, 700, 900, 800]
        store.append([Commit(tuple(new_row(ts=t) for t in ts[:4]))], 0)
        store.append(
            [Commit((new_row(ts=ts[4]),)), Commit(tuple(new_row(ts=t) for t in ts[5:]))], 4
        )
        got = [r[1] for r in store.read()]
        assert got == [500, 500, 700, 700, 700, 900, 900]
        assert store.seq_at(499) == 0
        assert store.seq_at(500) == 2
        assert store.seq_at(699) == 2
        assert store.seq_at(700) == 5
        assert store.seq_at(899) == 5
        assert store.seq_at(900) == 7
        assert_chain_verifies(store)

    def test_time_never_goes_backwards_between_skewed_writers(
        self, store: Store, tmp_path: Path
    ) -> None:
        """Two writers, the second's clock an hour behind: its rows are
        dated no earlier than the rows before them, so ``seq_at`` of a time
        between never includes a row from the future."""
        hour = 3_600_000_000
        store.append([Commit(new_rows(2, T0 + hour))], 0)
        peer = self.open_peer(store, tmp_path)
        try:
            peer.append([Commit(new_rows(2, T0, sku="B"))], 2)
            store.append([Commit(new_rows(1, T0 + hour + 5))], 4)
            peer.append([Commit(new_rows(1, T0 + 1, sku="B"))], 5)
        finally:
            if peer is not store:
                peer.close()
        times = [r[1] for r in store.read()]
        assert times == sorted(times)
        assert (
            times == [T0 + hour, T0 + hour + 1, T0 + hour + 1, T0 + hour + 1] + [T0 + hour + 5] * 2
        )
        assert store.seq_at(T0 + 10) == 0  # nothing was journaled that early
        assert store.seq_at(T0 + hour + 1) == 4
        assert store.seq_at(T0 + hour + 4) == 4
        assert store.seq_at(T0 + hour + 5) == 6
        assert_chain_verifies(store)
