"""Bulk holds and idempotency keys.

One key covers a whole ``hold_many`` call: a repeat returns the first result
(same token, statuses, expiry and reservation ids) and appends nothing; a
different batch, ttl or command under the key is refused with
``IdempotencyConflict`` and changes nothing; a keyed batch that held nothing
is remembered, and a key survives reopen. (A fenced batch's key:
``test_bulk_holds_channels.py``.)
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from bulk_holds_support import (
    HELD_BATCH,
    SIX,
    Make,
    batch_of,
    journal_kinds,
    member,
    order_of,
    two_stores,
)
from omnistock import (
    Channel,
    HoldBatch,
    Inventory,
    errors,
)
from omnistock.holdbatch import HELD, REFUSED, UNKNOWN_SKU


@pytest.fixture
def inv(make_inventory: Make) -> Inventory:
    return two_stores(make_inventory())


def test_a_repeated_key_returns_the_first_result_and_appends_nothing(inv: Inventory) -> None:
    bt = batch_of([("k1", [("A", 4, "s1")]), ("k2", [("A", 4, "s1")]), ("k3", [("B", 1, "s1")])])
    first = inv.hold_many(bt, ttl=120, key="k")
    head, digest, hist = inv.head, inv.digest(), inv.history()
    again = inv.hold_many(bt, ttl=120, key="k")
    assert again.status.tolist() == first.status.tolist() == [HELD, REFUSED, HELD]
    assert (again.token, again.expires_at) == (first.token, first.expires_at)
    assert again.reservation_ids() == first.reservation_ids()
    # the same columns in a new HoldBatch are the same batch
    same = inv.hold_many(
        batch_of([("k1", [("A", 4, "s1")]), ("k2", [("A", 4, "s1")]), ("k3", [("B", 1, "s1")])]),
        ttl=120,
        key="k",
    )
    assert same.token == first.token
    assert (inv.head, inv.digest(), inv.history()) == (head, digest, hist)
    assert journal_kinds(inv).count(HELD_BATCH) == 1  # one block, journaled once
    assert [e.key for e in inv.history(ref=member(first, 0))] == ["k"]


@pytest.mark.parametrize(
    "other",
    [
        pytest.param(lambda: batch_of([("k1", [("A", 5, "s1")])]), id="qty"),
        pytest.param(lambda: batch_of([("k9", [("A", 4, "s1")])]), id="order-id"),
        pytest.param(lambda: batch_of([("k1", [("A", 4, "s2")])]), id="location"),
        pytest.param(
            lambda: batch_of([("k1", [("A", 4, "s1")]), ("k2", [("B", 1, "s1")])]), id="more-orders"
        ),
        pytest.param(
            lambda: batch_of([("k1", [("A", 1, "s1"), ("A", 3, "s1")])]), id="split-lines"
        ),
        pytest.param(lambda: batch_of([("k1", [("A", 4, "s1")])], channel="web"), id="channel"),
    ],
)
def test_a_different_batch_under_the_same_key_is_refused(
    inv: Inventory, other: Callable[[], HoldBatch]
) -> None:
    inv.add_channel(Channel("web"))
    inv.hold_many(batch_of([("k1", [("A", 4, "s1")])]), key="k")
    head, digest, hist = inv.head, inv.digest(), inv.history()
    with pytest.raises(errors.IdempotencyConflict, match="key='k'"):
        inv.hold_many(other(), key="k")
    assert (inv.head, inv.digest(), inv.history()) == (head, digest, hist)


def test_key_conflicts_across_commands_and_ttl(inv: Inventory) -> None:
    bt = batch_of([("k1", [("A", 1, "s1")])])
    inv.receive("A", "s1", 1, key="used")
    inv.hold_many(bt, ttl=60, key="t")
    head, digest = inv.head, inv.digest()
    with pytest.raises(errors.IdempotencyConflict, match="receive"):
        inv.hold_many(bt, key="used")
    with pytest.raises(errors.IdempotencyConflict):
        inv.hold_many(bt, ttl=61, key="t")
    with pytest.raises(errors.IdempotencyConflict, match="hold_many"):
        inv.hold(order_of(("k1", [("A", 1, "s1")])), key="t")
    assert (inv.head, inv.digest()) == (head, digest)


def test_a_keyed_batch_that_holds_nothing_keeps_no_key(
    make_inventory: Make, tmp_path: Path
) -> None:
    """A batch that holds nothing is a refusal: it writes nothing, not even
    its key, so the same key after a restock holds (DESIGN.md)."""
    url = f"sqlite:///{tmp_path / 'none.db'}"
    inv = two_stores(make_inventory(url))
    bt = batch_of([("n1", [("A", 99, "s1")]), ("n2", [("ZZ", 1, "s1")])])
    head, digest = inv.head, inv.digest()
    first = inv.hold_many(bt, key="nothing")
    assert first.status.tolist() == [REFUSED, UNKNOWN_SKU] and first.token is None
    assert (inv.head, inv.digest()) == (head, digest)
    assert inv.store.lookup_key("nothing") is None
    inv.close()
    again = make_inventory(url)
    again.receive("A", "s1", 100)
    repeat = again.hold_many(bt, key="nothing")
    assert repeat.status.tolist() == [HELD, UNKNOWN_SKU] and repeat.token is not None
    again_ = again.hold_many(bt, key="nothing")  # now the key is used: the same answer
    assert (again_.status.tolist(), again_.token) == (repeat.status.tolist(), repeat.token)


def test_a_key_survives_reopen_with_the_same_token(make_inventory: Make, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'key.db'}"
    inv = two_stores(make_inventory(url))
    bt = batch_of(SIX[:3])
    first = inv.hold_many(bt, key="burst-1")
    inv.close()
    again = make_inventory(url)
    head = again.head
    repeat = again.hold_many(bt, key="burst-1")
    assert (repeat.token, repeat.status.tolist()) == (first.token, first.status.tolist())
    assert again.head == head
