"""Group commit: many commands, one transaction, a result or error each.

The savepoint the batch relies on (rows folded into the live ledger and
rolled back leave it exactly as it was) is tested in
``tests/unit/test_savepoint.py``.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence

import pytest

from conftest import Clock
from omnistock import Inventory, Line, Location, Order, errors
from omnistock.storage import Commit
from omnistock.storage.memory import MemoryStore


def _inv(store: MemoryStore | None = None, stock: int = 10) -> Inventory:
    inv = Inventory(store=store, clock=Clock())
    inv.add_location(Location("S1"))
    inv.add_location(Location("S2"))
    inv.receive("a", "S1", stock)
    inv.receive("b", "S2", stock)
    return inv


def test_threads_never_oversell_and_each_gets_its_own_result() -> None:
    inv = _inv(stock=100)
    wins: list[str] = []
    refusals: list[int] = []
    lock = threading.Lock()

    def worker(k: int) -> None:
        for i in range(60):
            try:
                r = inv.hold(Order(f"t{k}-{i}", lines=[Line("a", 1, "S1")]))
                with lock:
                    wins.append(r.id)
            except errors.InsufficientStock as exc:
                with lock:
                    refusals.append(exc.available)

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(wins) == 100
    assert len(set(wins)) == 100
    assert len(refusals) == 8 * 60 - 100
    assert set(refusals) == {0}
    assert inv.available("a", "S1") == 0
    assert inv.check().ok


def test_one_refused_order_never_fails_its_neighbours() -> None:
    inv = _inv(stock=3)
    out = inv.hold_many(
        [
            Order("o1", lines=[Line("a", 2, "S1")]),
            Order("o2", lines=[Line("a", 2, "S1")]),  # only 1 left
            Order("o4", lines=[Line("a", 1, "S1"), Line("b", 3, "S2")]),
        ]
    )
    assert [type(x).__name__ for x in out] == ["Reservation", "InsufficientStock", "Reservation"]
    assert inv.available("a", "S1") == 0
    assert inv.available("b", "S2") == 0
    assert inv.check().ok


def test_one_bad_order_refuses_the_whole_list_and_changes_nothing() -> None:
    """A batch is validated whole (DESIGN.md): bad input in one order
    refuses the call; nothing of the good orders is written."""
    inv = _inv(stock=3)
    head, digest = inv.head, inv.digest()
    with pytest.raises(errors.UnknownSku):
        inv.hold_many(
            [
                Order("o1", lines=[Line("a", 2, "S1")]),
                Order("o3", lines=[Line("nope", 1, "S1")]),  # unknown SKU
            ]
        )
    assert (inv.head, inv.digest(), inv.reservations()) == (head, digest, [])


def test_keys_repeated_inside_one_batch() -> None:
    inv = _inv()
    same = Order("o1", lines=[Line("a", 1, "S1")])
    other = Order("o2", lines=[Line("a", 1, "S1")])
    first, repeat = inv.hold_many([same, same], keys=["k1", "k1"])
    assert repeat == first
    assert inv.available("a", "S1") == 9
    assert inv.hold(same, key="k1") == first
    head = inv.head
    with pytest.raises(errors.IdempotencyConflict):  # a key reused for another order
        inv.hold_many([Order("o3", lines=[Line("b", 1, "S2")]), other], keys=["k3", "k1"])
    assert inv.head == head and inv.available("b", "S2") == 10


def test_a_conflicting_batch_is_rolled_back_and_replanned() -> None:
    store = MemoryStore()
    a = _inv(store, stock=5)
    b = Inventory(store=store, clock=Clock())
    b.hold(Order("from-b", lines=[Line("a", 4, "S1")]))  # a has not seen this yet
    out = a.hold_many(
        [Order("x", lines=[Line("a", 1, "S1")]), Order("y", lines=[Line("a", 1, "S1")])]
    )
    assert [type(r).__name__ for r in out] == ["Reservation", "InsufficientStock"]
    assert a.digest() == b.digest()
    assert a.check().ok


class FailingStore(MemoryStore):
    def append(self, commits: Sequence[Commit], expected_head: int) -> int:
        raise errors.StorageError("disk full")


def test_a_store_failure_fails_the_batch_and_changes_nothing() -> None:
    store = FailingStore()
    MemoryStore.append(
        store,
        [
            Commit(
                (
                    (
                        1,
                        "location-added",
                        None,
                        "S1",
                        0,
                        None,
                        None,
                        None,
                        '{"location": {"id": "S1", "kind": "store", "point": null, "sells": true, '
                        '"ships": true, "pickup": true, "accepts_returns": true, "priority": 0, '
                        '"daily_capacity": null, "returns_to": null}}',
                    ),
                    (2, "received", "a", "S1", 5, None, None, None, None),
                )
            )
        ],
        0,
    )
    inv = Inventory(store=store, clock=Clock())
    before = inv.digest()
    with pytest.raises(errors.StorageError):  # the transaction failed: so did the call
        inv.hold_many(
            [Order("o1", lines=[Line("a", 1, "S1")]), Order("o2", lines=[Line("a", 9, "S1")])]
        )
    with pytest.raises(errors.StorageError):
        inv.hold(Order("o3", lines=[Line("a", 1, "S1")]))
    assert inv.digest() == before
    assert inv.head == 2
