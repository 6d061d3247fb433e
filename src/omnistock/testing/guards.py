"""The contract's guard tests: two inventories on one journal, one of them
behind, and what a command relied on must still hold when it lands.

A store checks the guards either itself (a guarded store, against its
counters) or by checking the head the plan saw under its write lock (a
stronger condition): either way, a command planned on a stale ledger never
lands on changed facts, is planned again, and ends with the truth.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from ..storage.base import Store
from .hooks import StoreHooks

__all__ = ["GuardTests"]


class GuardTests(StoreHooks):
    """What a command's guards guarantee across two writers."""

    @contextmanager
    def _two(self, store: Store, tmp_path: Path) -> Iterator[tuple[object, object]]:
        from .. import Inventory, Location

        peer = self.open_peer(store, tmp_path)
        a, b = Inventory(store), Inventory(peer)
        try:
            a.add_location(Location("L1"))
            a.add_location(Location("L2"))
            yield a, b
            assert a.check().ok, a.check().problems
            assert b.check().ok, b.check().problems
            assert a.digest() == b.digest()
        finally:
            if peer is not store:
                peer.close()

    def test_a_stale_hold_never_takes_more_than_is_free(self, store: Store, tmp_path: Path) -> None:
        from .. import Inventory, Line, Order, errors

        with self._two(store, tmp_path) as (a, b):
            assert isinstance(a, Inventory) and isinstance(b, Inventory)
            a.receive("A", "L1", 5)
            assert b.available("A") == 5  # b is current now, then falls behind
            a.hold(Order("o1", lines=[Line("A", 4, "L1")]))
            with pytest.raises(errors.InsufficientStock) as e:
                b.hold(Order("o2", lines=[Line("A", 3, "L1")]))
            assert e.value.available == 1
            b.hold(Order("o3", lines=[Line("A", 1, "L1")]))
            assert a.available("A") == b.available("A") == 0

    def test_a_stale_command_on_a_changed_reservation_is_refused(
        self, store: Store, tmp_path: Path
    ) -> None:
        from .. import Inventory, Line, Order, errors

        with self._two(store, tmp_path) as (a, b):
            assert isinstance(a, Inventory) and isinstance(b, Inventory)
            a.receive("A", "L1", 5)
            r = a.hold(Order("o1", lines=[Line("A", 2, "L1")]))
            assert b.available("A") == 3  # b has seen the hold
            a.release(r.id)
            with pytest.raises(errors.InvalidTransition):
                b.commit(r.id)  # b planned on "held"; it was released meanwhile
            assert a.available("A") == b.available("A") == 5

    def test_a_stale_count_sets_the_count_not_a_difference(
        self, store: Store, tmp_path: Path
    ) -> None:
        from .. import Inventory

        with self._two(store, tmp_path) as (a, b):
            assert isinstance(a, Inventory) and isinstance(b, Inventory)
            a.receive("A", "L1", 5)
            assert b.available("A") == 5
            a.receive("A", "L1", 3)  # b does not know: a count from it must not add 3
            b.count("A", "L1", 10)
            assert a.available("A") == b.available("A") == 10

    def test_a_refusal_is_true_after_another_writer_received(
        self, store: Store, tmp_path: Path
    ) -> None:
        from .. import Inventory, Line, Order, errors

        with self._two(store, tmp_path) as (a, b):
            assert isinstance(a, Inventory) and isinstance(b, Inventory)
            a.receive("Z", "L2", 1)
            assert b.available("Z") == 1
            a.receive("Z", "L2", 2)  # b is behind: its refusal would be stale
            r = b.hold(Order("o1", lines=[Line("Z", 3, "L2")]))
            assert [ln.qty for ln in r.lines] == [3]
            a.receive("X", "L1", 9)  # writes to another SKU
            with pytest.raises(errors.InsufficientStock):
                b.hold(Order("o2", lines=[Line("Z", 1, "L2")]))

    def test_supply_ids_are_minted_once_and_reusable_once_closed(
        self, store: Store, tmp_path: Path
    ) -> None:
        from datetime import UTC, datetime, timedelta

        from .. import Inventory

        with self._two(store, tmp_path) as (a, b):
            assert isinstance(a, Inventory) and isinstance(b, Inventory)
            eta = datetime.now(UTC) + timedelta(days=2)
            a.receive("A", "L1", 4)
            assert b.available("A") == 4
            t1 = a.transfer("A", "L1", "L2", 1)
            t2 = b.transfer("A", "L1", "L2", 1)  # b is behind: it must not mint t1's id
            assert t1.id != t2.id
            a.receive_transfer(t1.id)
            b.receive_transfer(t2.id)
            a.expect("A", "L1", 5, eta=eta, ref="PO-1")
            a.receive("A", "L1", 5, ref="PO-1")  # PO-1 is closed now
            b.expect("A", "L1", 3, eta=eta, ref="PO-1")  # a new PO under the same number
            assert a.available("A") == b.available("A") == 9
