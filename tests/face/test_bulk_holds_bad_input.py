"""Bulk holds and bad input, one table each for ``HoldBatch`` and ``hold_many``.

A malformed ``HoldBatch`` is refused at construction naming the field; SKU
and location names only need to be strings (an unknown one gets a status). A
bad ``hold_many`` call raises the named error and changes nothing (head,
digest, history, reservations); a list with a non-order refuses only that
entry; an empty batch holds nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import numpy as np
import pytest

from bulk_holds_support import (
    SIX,
    Make,
    batch_of,
    order_of,
    reservations_seen,
    two_stores,
)
from omnistock import (
    HoldBatch,
    Inventory,
    Reservation,
    errors,
)


@pytest.fixture
def inv(make_inventory: Make) -> Inventory:
    return two_stores(make_inventory())


LONG = "x" * 201


G = ["o1", "o2"]


S2 = ["A", "A"]


L2 = ["s1", "s1"]


Q2 = [1, 1]


def _hb(**kw: Any) -> Callable[[], Any]:
    """A ``HoldBatch`` of two good orders with ``kw`` overriding columns."""
    args: dict[str, Any] = {"order_ids": G, "skus": S2, "locations": L2, "qty": Q2}
    args.update(kw)
    return lambda: HoldBatch(**args)


# (id, builds the batch, error class, the field the message must name)
BATCH_CASES: list[tuple[str, Callable[[], Any], type[Exception], str]] = [
    ("order-ids-int", _hb(order_ids=7), errors.InvalidInput, "order_ids=7"),
    ("order-ids-none", _hb(order_ids=None), errors.InvalidInput, "order_ids=None"),
    ("order-ids-str", _hb(order_ids="o1"), errors.InvalidInput, "order_ids='o1'"),
    ("order-ids-bytes", _hb(order_ids=b"o1"), errors.InvalidInput, "order_ids=b'o1'"),
    ("order-id-int", _hb(order_ids=["o1", 2]), errors.InvalidInput, "order_ids[1]=2"),
    ("order-id-none", _hb(order_ids=[None, "o2"]), errors.InvalidInput, "order_ids[0]=None"),
    ("order-id-empty", _hb(order_ids=["o1", ""]), errors.InvalidInput, "order_ids[1]=''"),
    ("order-id-long", _hb(order_ids=[LONG, "o2"]), errors.InvalidInput, "order_ids[0]="),
    (
        "order-id-control",
        _hb(order_ids=["o1", "o\n2"]),
        errors.InvalidInput,
        "order_ids[1]='o\\n2'",
    ),
    (
        "order-id-unit-separator",
        _hb(order_ids=["o\x1f1", "o2"]),
        errors.InvalidInput,
        "order_ids[0]=",
    ),
    ("order-ids-duplicate", _hb(order_ids=["o1", "o1"]), errors.InvalidInput, "order_ids[1]='o1'"),
    ("skus-str", _hb(skus="AA"), errors.InvalidInput, "skus='AA'"),
    ("skus-non-str", _hb(skus=["A", 3]), errors.InvalidInput, "skus[1]=3"),
    ("locations-non-str", _hb(locations=[None, "s1"]), errors.InvalidInput, "locations[0]=None"),
    ("locations-int", _hb(locations=5), errors.InvalidInput, "locations=5"),
    ("locations-short", _hb(locations=["s1"]), errors.InvalidInput, "locations=1"),
    ("qty-long", _hb(qty=[1, 1, 1]), errors.InvalidInput, "qty=3"),
    (
        "skus-vs-orders",
        _hb(skus=["A", "A", "A"], locations=["s1"] * 3, qty=[1] * 3),
        errors.InvalidInput,
        "skus=3",
    ),
    ("qty-zero", _hb(qty=[1, 0]), errors.InvalidQuantity, "qty[1]=0"),
    ("qty-negative", _hb(qty=[-2, 1]), errors.InvalidQuantity, "qty[0]=-2"),
    ("qty-too-big", _hb(qty=[1, 2**62 + 1]), errors.InvalidQuantity, f"qty[1]={2**62 + 1}"),
    ("qty-float", _hb(qty=[1.0, 2.0]), errors.InvalidQuantity, "qty="),
    ("qty-float-array", _hb(qty=np.array([1.5, 1.0])), errors.InvalidQuantity, "qty="),
    ("qty-bool", _hb(qty=[True, True]), errors.InvalidQuantity, "qty="),
    ("qty-2d", _hb(qty=[[1], [1]]), errors.InvalidQuantity, "qty=(2, 1)"),
    ("qty-scalar", _hb(qty=1), errors.InvalidQuantity, "qty="),
    ("qty-str", _hb(qty=["1", "1"]), errors.InvalidQuantity, "qty="),
    ("qty-object", _hb(qty=[2**70, 1]), errors.InvalidQuantity, "qty="),
    ("start-not-zero", _hb(start=[1, 2, 3]), errors.InvalidInput, "start=[1, 2, 3]"),
    ("start-flat", _hb(start=[0, 1, 1, 2]), errors.InvalidInput, "start=[0, 1, 1, 2]"),
    ("start-decreasing", _hb(start=[0, 2, 1]), errors.InvalidInput, "start=[0, 2, 1]"),
    ("start-short", _hb(start=[0, 2]), errors.InvalidInput, "start=2"),
    ("start-wrong-end", _hb(start=[0, 1, 3]), errors.InvalidInput, "start=3"),
    ("start-float", _hb(start=[0.0, 1.0, 2.0]), errors.InvalidInput, "start="),
    ("start-empty", _hb(start=[]), errors.InvalidInput, "start=[]"),
    ("start-2d", _hb(start=[[0, 1, 2]]), errors.InvalidInput, "start="),
    ("start-str", _hb(start="012"), errors.InvalidInput, "start='012'"),
    ("channel-empty", _hb(channel=""), errors.InvalidInput, "channel=''"),
    ("channel-int", _hb(channel=3), errors.InvalidInput, "channel=3"),
]


@pytest.mark.parametrize(
    ("build", "cls", "text"), [pytest.param(b, c, t, id=i) for i, b, c, t in BATCH_CASES]
)
def test_a_malformed_batch_is_refused_naming_the_field(
    build: Callable[[], Any], cls: type[Exception], text: str
) -> None:
    with pytest.raises(errors.InvalidInput) as info:
        build()
    assert type(info.value) is cls
    assert text in str(info.value)
    assert str(info.value).startswith(info.value.field + "=")


def test_names_only_need_to_be_strings() -> None:
    """SKU and location names are not id-checked: an unknown one gets a status."""
    b = HoldBatch(["o1", "o2"], ["", "A"], ["s1", "x" * 300], [1, 1])
    assert (len(b), b.skus, b.offsets().tolist()) == (2, ("", "A"), [0, 1, 2])
    assert HoldBatch([], [], [], []).offsets().tolist() == [0]


BT = batch_of([("o1", [("A", 1, "s1")])])


# (id, the call, error class, text the message must contain)
# (the calls are deliberately ill-typed: ``i`` is Any so the type checker lets them be)
CALL_CASES: list[tuple[str, Callable[[Any], Any], type[Exception], str]] = [
    ("ttl-zero", lambda i: i.hold_many(BT, ttl=0), errors.InvalidInput, "ttl=0"),
    ("ttl-negative", lambda i: i.hold_many(BT, ttl=-5), errors.InvalidInput, "ttl=-5"),
    ("ttl-nan", lambda i: i.hold_many(BT, ttl=float("nan")), errors.InvalidInput, "ttl=nan"),
    ("ttl-str", lambda i: i.hold_many(BT, ttl="15m"), errors.InvalidInput, "ttl='15m'"),
    (
        "ttl-too-long",
        lambda i: i.hold_many(BT, ttl=timedelta(days=4000)),
        errors.InvalidInput,
        "ttl=",
    ),
    ("keys-with-batch", lambda i: i.hold_many(BT, keys=["a"]), errors.InvalidInput, "keys=['a']"),
    (
        "key-and-keys-with-list",
        lambda i: i.hold_many([order_of(("o1", [("A", 1, "s1")]))], keys=["a"], key="k"),
        errors.InvalidInput,
        "key='k'",
    ),
    (
        "a-non-order-in-a-list",
        lambda i: i.hold_many([order_of(("o1", [("A", 1, "s1")])), "o2"]),
        errors.InvalidInput,
        "orders[1]='o2'",
    ),
    ("key-empty", lambda i: i.hold_many(BT, key=""), errors.InvalidInput, "key=''"),
    ("key-control", lambda i: i.hold_many(BT, key="k\x00"), errors.InvalidInput, "key="),
    ("key-long", lambda i: i.hold_many(BT, key=LONG), errors.InvalidInput, "key="),
    ("key-int", lambda i: i.hold_many(BT, key=5), errors.InvalidInput, "key=5"),
    ("orders-str", lambda i: i.hold_many("o1"), errors.InvalidInput, "orders='o1'"),
    ("orders-int", lambda i: i.hold_many(42), errors.InvalidInput, "orders=42"),
    ("orders-dict", lambda i: i.hold_many({"o1": 1}), errors.InvalidInput, "orders="),
    ("orders-none", lambda i: i.hold_many(None), errors.InvalidInput, "orders=None"),
    (
        "unknown-channel",
        lambda i: i.hold_many(batch_of([("o1", [("A", 1, "s1")])], channel="tv")),
        errors.UnknownChannel,
        "channel='tv'",
    ),
]


@pytest.mark.parametrize(
    ("call", "cls", "text"), [pytest.param(c, k, t, id=i) for i, c, k, t in CALL_CASES]
)
def test_bad_hold_many_calls_change_nothing(
    inv: Inventory, call: Callable[[Inventory], Any], cls: type[Exception], text: str
) -> None:
    inv.hold_many(batch_of(SIX[:2]))
    head, digest, hist = inv.head, inv.digest(), inv.history()
    live = reservations_seen(inv)  # the batch's members, as readers see them
    with pytest.raises(errors.OmnistockError) as info:
        call(inv)
    assert type(info.value) is cls
    assert text in str(info.value)
    assert (inv.head, inv.digest(), inv.history()) == (head, digest, hist)
    assert reservations_seen(inv) == live


def test_a_list_takes_one_key_for_the_call(inv: Inventory) -> None:
    orders = [order_of(("o1", [("A", 1, "s1")])), order_of(("o2", [("A", 1, "s1")]))]
    first = inv.hold_many(orders, key="call-1")
    head = inv.head
    assert inv.hold_many(orders, key="call-1") == first  # a retried call changes nothing
    assert inv.head == head
    assert all(isinstance(r, Reservation) for r in first)


def test_an_empty_batch_holds_nothing(inv: Inventory) -> None:
    head, digest = inv.head, inv.digest()
    r = inv.hold_many(HoldBatch([], [], [], []))
    assert (len(r), r.held, r.token, r.reservation_ids()) == (0, 0, None, [])
    # no block: the digest hashes every block, and no reservation appeared
    assert inv.head == head and inv.digest() == digest and inv.reservations() == []
