"""Issue 13, items 1 and 3-5: a call's outcome is the truth.

- a snapshot that fails after a commit never becomes the command's outcome;
- a wave with a bad order writes nothing, and waves take keys;
- a refusal keeps no key;
- the order id is a natural key within its channel.
"""

from __future__ import annotations

import logging
from typing import Any

import pytest

from conftest import Clock
from omnistock import Channel, Inventory, Line, Location, Order, OrderBatch, Point, errors
from omnistock.storage.memory import MemoryStore
from omnistock.storage.sqlite import SQLiteStore

HOME = Point(53.48, -2.24)


def _net(inv: Inventory) -> Inventory:
    inv.add_location(Location("S1", point=HOME))
    inv.add_location(Location("S2", point=Point(53.0, -2.0)))
    inv.add_channel(Channel("web"))
    inv.add_channel(Channel("market"))
    inv.receive("A", "S1", 10)
    inv.receive("B", "S2", 10)
    return inv


# -- 1: a failing snapshot after the append -------------------------------------
class _SnapshotFails:
    fail = True

    def save_snapshot(self, seq: int, blob: bytes) -> None:
        if self.fail:
            raise errors.StorageError("disk full")
        super().save_snapshot(seq, blob)  # type: ignore[misc]


class _MemoryFails(_SnapshotFails, MemoryStore):
    pass


class _SQLiteFails(_SnapshotFails, SQLiteStore):
    pass


def _failing_store(url: str) -> Any:
    if url.startswith("memory"):
        return _MemoryFails()
    if url.startswith("sqlite"):
        return _SQLiteFails(url)
    from omnistock.storage.postgres import PostgresStore

    class _PostgresFails(_SnapshotFails, PostgresStore):
        pass

    base, _, opts = url.partition("?")
    return _PostgresFails(base, schema=opts.split("schema=", 1)[1])


def test_a_failing_snapshot_never_fails_the_committed_command(
    store_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    store = _failing_store(store_url)
    inv = Inventory(store, clock=Clock(), snapshot_every=1)
    inv.add_location(Location("S1"))
    with caplog.at_level(logging.WARNING, logger="omnistock"):
        applied = inv.receive("A", "S1", 5, key="asn-1")  # appended, then the snapshot fails
    assert applied.seq == inv.head
    assert inv.available("A") == 5
    assert any("snapshot" in r.getMessage() for r in caplog.records)
    # the caller's retry is a repeat, not a second receipt
    assert inv.receive("A", "S1", 5, key="asn-1") == applied
    assert inv.available("A") == 5
    store.fail = False
    inv.receive("A", "S1", 1)  # the snapshot is retried at the next commit
    snap = store.load_snapshot()
    assert snap is not None and snap[0] == inv.head
    assert inv.check().ok


# -- 3: waves are validated whole and take keys ---------------------------------
def test_a_wave_with_a_bad_order_writes_nothing_however_often_retried(store_url: str) -> None:
    inv = _net(Inventory.open(store_url, clock=Clock()))
    good = Order("good", channel="web", lines=[("A", 1)], ship_to=HOME)
    bads = [
        (Order("bad", lines=[("nope", 1)], ship_to=HOME), errors.UnknownSku),
        (Order("bad", lines=[Line("A", 1, "nowhere")]), errors.UnknownLocation),
        (Order("bad", channel="tv", lines=[("A", 1)]), errors.UnknownChannel),
    ]
    head, digest = inv.head, inv.digest()
    for bad, cls in bads:
        for _ in range(3):  # each retry used to add another reservation
            with pytest.raises(cls):
                inv.allocate_many([good, bad])
    assert (inv.head, inv.digest(), inv.reservations()) == (head, digest, [])
    assert inv.available("A") == 10


def test_a_keyed_list_wave_is_allocated_once(store_url: str) -> None:
    inv = _net(Inventory.open(store_url, clock=Clock()))
    wave = [
        Order("w1", channel="web", lines=[("A", 2)], ship_to=HOME),
        Order("w2", channel="web", lines=[("B", 3)], ship_to=HOME),
    ]
    first = inv.allocate_many(wave, key="wave-7")
    head = inv.head
    assert inv.allocate_many(wave, key="wave-7") == first
    assert inv.head == head
    assert (inv.available("A"), inv.available("B")) == (8, 7)


def test_a_keyed_columnar_wave_is_allocated_once(store_url: str) -> None:
    inv = _net(Inventory.open(store_url, clock=Clock()))
    wave = OrderBatch(["c1", "c2"], ["A", "A"], [1, 2], [HOME.lat, HOME.lat], [HOME.lon, HOME.lon])
    first = inv.allocate_many(wave, key="cols-1")
    head = inv.head
    again = inv.allocate_many(wave, key="cols-1")
    assert inv.head == head
    assert again.reservation == first.reservation
    assert again.status.tolist() == first.status.tolist()
    assert inv.available("A") == 7
    other = OrderBatch(["c3"], ["A"], [1], [HOME.lat], [HOME.lon])
    with pytest.raises(errors.IdempotencyConflict):
        inv.allocate_many(other, key="cols-1")


# -- 4: a refusal keeps no key ------------------------------------------------------
def test_a_refused_hold_keeps_no_key_either(store_url: str) -> None:
    inv = _net(Inventory.open(store_url, clock=Clock()))
    order = Order("o1", lines=[Line("A", 50, "S1")])
    with pytest.raises(errors.InsufficientStock):
        inv.hold(order, key="h-1")
    inv.receive("A", "S1", 40)
    assert inv.hold(order, key="h-1").lines[0].qty == 50


# -- 5: the order id is a natural key within its channel -------------------------
def test_holding_an_order_twice_returns_its_open_reservation(store_url: str) -> None:
    inv = _net(Inventory.open(store_url, clock=Clock()))
    order = Order("o-1", channel="web", lines=[Line("A", 2, "S1")])
    first = inv.hold(order)
    head = inv.head
    assert inv.hold(order) == first  # a retried POST, no key
    assert inv.head == head and inv.available("A") == 8
    with pytest.raises(errors.IdempotencyConflict):
        inv.hold(Order("o-1", channel="web", lines=[Line("A", 3, "S1")]))
    assert inv.head == head
    # another channel's order "o-1" is another order
    other = inv.hold(Order("o-1", channel="market", lines=[Line("A", 1, "S1")]))
    assert other.id != first.id and inv.available("A") == 7


def test_a_released_or_expired_order_may_be_held_again(store_url: str) -> None:
    clock = Clock()
    inv = _net(Inventory.open(store_url, clock=clock))
    order = Order("o-2", lines=[Line("A", 1, "S1")])
    first = inv.hold(order, ttl=60)
    inv.release(first.id)
    second = inv.hold(order, ttl=60)
    assert second.id != first.id
    clock.advance(120)
    third = inv.hold(order, ttl=60)
    assert third.id not in (first.id, second.id)
    assert inv.available("A") == 9


def test_allocating_an_order_twice_returns_its_allocation(store_url: str) -> None:
    inv = _net(Inventory.open(store_url, clock=Clock()))
    order = Order("a-1", channel="web", lines=[("A", 3)], ship_to=HOME)
    first = inv.allocate(order)
    assert first.status == "allocated"
    again = inv.allocate(order)
    assert again.reservation == first.reservation
    assert inv.available("A") == 7
    inv.commit(first.reservation.id)  # committed is still open: still the same order
    assert inv.allocate(order).reservation.id == first.reservation.id
    with pytest.raises(errors.IdempotencyConflict):
        inv.allocate(Order("a-1", channel="web", lines=[("A", 4)], ship_to=HOME))
