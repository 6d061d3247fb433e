"""``inv.sweep()``: the expiries due now reach the journal without any
other command or query, bounded per call, once each however many
processes sweep one store; correctness never depends on it."""

from __future__ import annotations

import logging
import threading
from collections import Counter
from collections.abc import Callable
from typing import Any

import attrs
import pytest

from bulk_holds_support import EXPIRED_BATCH, batch_of
from omnistock import Inventory, Line, Location, Order, errors
from omnistock.expiry import Swept

Make = Callable[..., Inventory]


def _journal(inv: Inventory) -> list[tuple[Any, ...]]:
    """The store's rows, read without the face (no lazy expiry on the way)."""
    return list(inv.store.read(0))


def _expired_refs(inv: Inventory) -> Counter[str]:
    return Counter(r[6] for r in _journal(inv) if r[2] in ("expired", EXPIRED_BATCH))


def _stocked(inv: Inventory) -> None:
    inv.add_location(Location("s1"))
    inv.add_location(Location("s2"))
    inv.receive("A", "s1", 100)
    inv.receive("B", "s1", 100)
    inv.receive("A", "s2", 100)


def _carts(inv: Inventory, n: int, ttl: int = 60) -> list[str]:
    """``n`` two-line holds; the i-th expires ``ttl + i`` seconds from now."""
    return [
        inv.hold(Order(f"c{i}", lines=[Line("A", 1, "s1"), Line("B", 2, "s1")]), ttl=ttl + i).id
        for i in range(n)
    ]


def test_an_expired_cart_reaches_the_journal_with_no_other_call(
    store_url: str, make_inventory: Make, clock: Any
) -> None:
    inv = make_inventory(store_url)
    _stocked(inv)
    (rid,) = _carts(inv, 1)
    clock.advance(61)
    assert _expired_refs(inv) == Counter()  # the clock alone journals nothing
    swept = inv.sweep()
    assert swept.reservations == (rid,) and swept.batches == () and not swept.more
    assert swept.at == clock.now
    (e,) = swept.expired
    assert (e.what, e.ref) == ("hold", rid) and e.due_at < clock.now
    rows = [r for r in _journal(inv) if r[2] == "expired"]
    assert sorted((r[3], r[4], r[5], r[6]) for r in rows) == [
        ("A", "s1", 1, rid),
        ("B", "s1", 2, rid),
    ]
    written = _journal(inv)
    assert inv.sweep() == Swept((), False, clock.now)  # nothing due: nothing written
    assert _journal(inv) == written
    assert inv.available("A", "s1") == 100
    assert inv.check().ok


def test_an_expired_cart_appears_in_the_feed_after_a_sweep_and_no_other_call(
    store_url: str, make_inventory: Make, clock: Any
) -> None:
    inv = make_inventory(store_url)
    _stocked(inv)
    (rid,) = _carts(inv, 1)
    inv.ack("mkt", inv.head)  # the consumer starts from now
    clock.advance(61)
    assert inv.feed("mkt") == []  # the feed only reads: nothing expired by the clock alone
    inv.sweep()
    got = inv.feed("mkt")
    assert [(e.kind, e.ref, e.sku, e.qty) for e in got] == [
        ("expired", rid, "A", 1),
        ("expired", rid, "B", 2),
    ]


def test_sweep_is_bounded_oldest_first_and_says_when_more_is_due(
    make_inventory: Make, clock: Any
) -> None:
    inv = make_inventory()
    _stocked(inv)
    ids = _carts(inv, 7)
    clock.advance(120)
    got: list[tuple[str, ...]] = []
    more = []
    while True:
        swept = inv.sweep(limit=3)
        got.append(swept.reservations)
        more.append(swept.more)
        if not swept.more:
            break
    assert got == [tuple(ids[0:3]), tuple(ids[3:6]), tuple(ids[6:])]
    assert more == [True, True, False]
    assert _expired_refs(inv) == Counter({rid: 2 for rid in ids})  # two lines each
    assert inv.check().ok


def test_only_what_is_due_expires(make_inventory: Make, clock: Any) -> None:
    inv = make_inventory()
    _stocked(inv)
    early, late, kept = _carts(inv, 3, ttl=60)
    inv.extend(late, 600)
    inv.commit(kept)
    clock.advance(300)
    assert inv.sweep().reservations == (early,)
    assert {r.state for r in inv.reservations()} == {"expired", "held", "committed"}
    clock.advance(600)
    assert inv.sweep().reservations == (late,)
    assert inv.sweep().count == 0


def test_held_batches_expire_as_one_row_each_in_due_order(
    store_url: str, make_inventory: Make, clock: Any
) -> None:
    inv = make_inventory(store_url)
    _stocked(inv)
    first = inv.hold_many(batch_of([("m0", [("A", 1, "s2")]), ("m1", [("A", 2, "s2")])]), ttl=60)
    (cart,) = _carts(inv, 1, ttl=90)
    second = inv.hold_many(batch_of([("m2", [("A", 3, "s2")])]), ttl=120)
    clock.advance(200)
    swept = inv.sweep(limit=2)
    assert [(e.what, e.ref) for e in swept.expired] == [("batch", first.token), ("hold", cart)]
    assert swept.more
    swept = inv.sweep(limit=2)
    assert swept.batches == (second.token,) and not swept.more
    rows = [r for r in _journal(inv) if r[2] == EXPIRED_BATCH]
    assert [(r[6], r[5]) for r in rows] == [(first.token, 3), (second.token, 3)]
    assert inv.available("A", "s2") == 100
    assert inv.check().ok


def test_correctness_never_depends_on_sweep(make_inventory: Make, clock: Any) -> None:
    """A bounded sweep leaves the rest due; the next command expires it
    lazily, and nothing is journaled twice."""
    inv = make_inventory()
    _stocked(inv)
    ids = _carts(inv, 5)
    clock.advance(120)
    assert inv.sweep(limit=2).more
    assert inv.hold(Order("big", lines=[Line("A", 100, "s1")])).state == "held"
    assert _expired_refs(inv) == Counter({rid: 2 for rid in ids})
    assert inv.sweep().count == 0
    assert inv.check().ok


def test_swept_is_a_frozen_value(make_inventory: Make) -> None:
    swept = make_inventory().sweep()
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        swept.more = True  # type: ignore[misc]


@pytest.mark.parametrize(
    "limit", [0, -1, True, False, 1.5, float("nan"), "10", None, 2**70], ids=repr
)
def test_bad_limit_is_refused_naming_it_and_writes_nothing(
    make_inventory: Make, clock: Any, limit: Any
) -> None:
    inv = make_inventory()
    _stocked(inv)
    _carts(inv, 2)
    clock.advance(120)
    before = _journal(inv)
    with pytest.raises(errors.InvalidInput) as caught:
        inv.sweep(limit=limit)
    assert "limit=" in str(caught.value)
    assert _journal(inv) == before


# -- many processes on one store ------------------------------------------------
@pytest.mark.parametrize("store_url", ["sqlite", "postgresql"], indirect=True)
def test_a_stale_second_sweeper_does_not_journal_an_expiry_twice(
    store_url: str, make_inventory: Make, clock: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """B plans the expiry on a ledger that has not seen A's sweep (it does
    not catch up first): the store refuses B's append (SQLite: the head
    moved; PostgreSQL: the reservation is no longer held as B saw it), B
    catches up and finds nothing left to expire."""
    a = make_inventory(store_url)
    _stocked(a)
    (rid,) = _carts(a, 1)
    b = make_inventory(store_url)
    assert b.refresh() == a.refresh()
    clock.advance(61)
    b._runner.shared = False  # B skips its catch-up before planning
    assert a.sweep().reservations == (rid,)
    with caplog.at_level(logging.DEBUG, "omnistock.runner"):
        assert b.sweep() == Swept((), False, clock.now)
    conflicts = [r for r in caplog.records if "catching up to plan again" in r.getMessage()]
    assert len(conflicts) == 1, "B's expiry row was refused by the store once"
    assert _expired_refs(a) == Counter({rid: 2})
    assert a.check().ok and b.check().ok
    assert b.digest() == a.digest()


@pytest.mark.parametrize("store_url", ["sqlite", "postgresql"], indirect=True)
def test_a_stale_second_sweeper_does_not_journal_a_batch_expiry_twice(
    store_url: str, make_inventory: Make, clock: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """As above for a held batch (PostgreSQL checks the batch's block as B saw it)."""
    a = make_inventory(store_url)
    _stocked(a)
    held = a.hold_many(batch_of([("m0", [("A", 1, "s2")]), ("m1", [("A", 2, "s2")])]), ttl=60)
    b = make_inventory(store_url)
    assert b.refresh() == a.refresh()
    clock.advance(61)
    b._runner.shared = False
    assert a.sweep().batches == (held.token,)
    with caplog.at_level(logging.DEBUG, "omnistock.runner"):
        assert b.sweep() == Swept((), False, clock.now)
    conflicts = [r for r in caplog.records if "catching up to plan again" in r.getMessage()]
    assert len(conflicts) == 1, "B's expiry row was refused by the store once"
    assert _expired_refs(a) == Counter({held.token: 1})
    assert a.check().ok and b.check().ok
    assert b.digest() == a.digest()


@pytest.mark.parametrize("store_url", ["sqlite", "postgresql"], indirect=True)
def test_two_inventories_sweeping_at_once_expire_each_hold_once(
    store_url: str, make_inventory: Make, clock: Any
) -> None:
    a = make_inventory(store_url)
    _stocked(a)
    ids = _carts(a, 30)
    b = make_inventory(store_url)
    clock.advance(300)
    seen: list[Swept] = []
    failures: list[BaseException] = []

    def sweeper(inv: Inventory) -> None:
        try:
            while True:
                swept = inv.sweep(limit=1)
                seen.append(swept)
                if not swept.more:
                    return
        except BaseException as exc:  # reported below
            failures.append(exc)

    threads = [threading.Thread(target=sweeper, args=(inv,)) for inv in (a, b)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not failures
    reported = Counter(rid for s in seen for rid in s.reservations)
    assert reported == Counter(ids)  # each expiry reported by exactly one sweeper
    assert _expired_refs(a) == Counter({rid: 2 for rid in ids})
    assert a.check().ok and b.check().ok
