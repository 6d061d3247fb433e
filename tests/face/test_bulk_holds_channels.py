"""Bulk holds with channels, fences and the marketplace feed.

- a location outside the batch's channel is "not served";
- a fenced channel (buffer, cap, another channel's minimum) is decided order
  by order, exactly as sequential holds, and journals ordinary holds;
- a fenced batch gives a name that cannot be an id its unknown-name status,
  and one key covers the whole fenced batch;
- the marketplace delta after a bulk hold, and after its expiry, lists only
  the SKUs whose channel figure changed.

(The name-by-name lookup path is tested in
``tests/unit/test_bulk_holds_blocks.py``.) Tests whose docstring says
"Regression" pin down bugs found in the first version of the feature
(8f6ac05), since fixed.
"""

from __future__ import annotations

from typing import Any

import pytest

from bulk_holds_support import (
    EXPIRED_BATCH,
    HELD_BATCH,
    Make,
    Spec,
    assert_sound,
    batch_of,
    figures,
    journal_kinds,
    lines_of,
    member,
    order_of,
    status_of_hold,
    two_stores,
)
from conftest import Clock
from omnistock import (
    Channel,
    HoldBatch,
    HoldBatchResult,
    Inventory,
    Location,
    errors,
)
from omnistock.channels.marketplace import MarketplaceAdapter
from omnistock.holdbatch import HELD, NOT_SERVED, REFUSED, UNKNOWN_LOCATION, UNKNOWN_SKU


@pytest.fixture
def inv(make_inventory: Make) -> Inventory:
    return two_stores(make_inventory())


def test_a_location_outside_the_channel_is_not_served(make_inventory: Make) -> None:
    def build() -> Inventory:
        i = two_stores(make_inventory())
        i.add_channel(Channel("web", locations=["s1"]))
        return i

    bulk, seq = build(), build()
    orders: list[Spec] = [
        ("w1", [("A", 1, "s1")]),
        ("w2", [("A", 1, "s2")]),
        ("w3", [("A", 1, "s1"), ("A", 1, "s2")]),
        ("w4", [("ZZ", 1, "s2")]),
        ("w5", [("A", 1, "s2"), ("A", 1, "nowhere")]),
        ("w6", [("A", 1, "nowhere"), ("A", 1, "s2")]),
        ("w7", [("B", 9, "s1")]),
    ]
    r = bulk.hold_many(batch_of(orders, channel="web"))
    want = [status_of_hold(seq, order_of(o, "web"))[0] for o in orders]
    assert (
        r.status.tolist()
        == want
        == [HELD, NOT_SERVED, NOT_SERVED, UNKNOWN_SKU, NOT_SERVED, UNKNOWN_LOCATION, REFUSED]
    )
    assert r.reason(1) == "location does not serve the channel"
    assert bulk.reservation(member(r, 0)).channel == "web"
    assert figures(bulk, ["A", "B"], ["s1", "s2"]) == figures(seq, ["A", "B"], ["s1", "s2"])
    assert bulk.available("A", channel="web") == seq.available("A", channel="web") == 5
    assert_sound(bulk, seq)


@pytest.mark.parametrize(
    "fence",
    [
        pytest.param(Channel("amz", buffer=2), id="buffer"),
        pytest.param(Channel("amz", cap=8), id="cap"),
        pytest.param(Channel("amz", locations=["s1"], buffer=1), id="buffer-and-locations"),
    ],
)
def test_a_fenced_channel_is_decided_order_by_order(make_inventory: Make, fence: Channel) -> None:
    def build() -> Inventory:
        i = two_stores(make_inventory())
        i.add_channel(fence)
        return i

    bulk, seq = build(), build()
    orders: list[Spec] = [
        ("f1", [("A", 5, "s1")]),
        ("f2", [("A", 6, "s2")]),  # buffer: room 14 - 5; cap: 8 - 5 = 3
        ("f3", [("A", 4, "s2")]),  # position ATP 4, channel room 3
        ("f4", [("ZZ", 1, "s1")]),
        ("f5", [("A", 1, "nowhere")]),
        ("f6", [("B", 2, "s1")]),
        ("f7", [("A", 1, "s1")]),
    ]
    r = bulk.hold_many(batch_of(orders, channel="amz"), ttl=120)
    assert isinstance(r, HoldBatchResult)
    assert r.token is None and r.ids is not None
    assert HELD_BATCH not in journal_kinds(bulk)  # no block: ordinary holds, order by order
    want = [status_of_hold(seq, order_of(o, "amz"), 120) for o in orders]
    assert r.status.tolist() == [w for w, _ in want]
    assert REFUSED in r.status.tolist() and HELD in r.status.tolist()
    assert (NOT_SERVED in r.status.tolist()) == (fence.locations is not None)
    for j, (w, got) in enumerate(want):
        if w == HELD:
            assert r.reservation_id(j) == got.id == f"{orders[j][0]}#1"
            assert lines_of(bulk.reservation(got.id)) == lines_of(got)
            assert r.expires_at == got.expires_at
        else:
            assert r.reservation_id(j) is None
    assert figures(bulk, ["A", "B"], ["s1", "s2"]) == figures(seq, ["A", "B"], ["s1", "s2"])
    assert bulk.available("A", channel="amz") == seq.available("A", channel="amz")
    assert_sound(bulk, seq)


def test_another_channels_minimum_fences_the_batch(make_inventory: Make) -> None:
    def build() -> Inventory:
        i = two_stores(make_inventory())
        i.add_channel(Channel("pos", locations=["s1"], minimum=4))
        i.add_channel(Channel("web"))
        return i

    bulk, seq = build(), build()
    orders: list[Spec] = [
        ("g1", [("A", 10, "s2")]),
        ("g2", [("A", 3, "s1")]),
        ("g3", [("A", 2, "s1")]),
    ]
    r = bulk.hold_many(batch_of(orders, channel="web"))
    want = [status_of_hold(seq, order_of(o, "web"))[0] for o in orders]
    # after g1 only s1's 6 are left, 4 of them fenced for pos: web may take 2
    assert r.status.tolist() == want == [HELD, REFUSED, HELD]
    assert r.token is None and r.ids == ("g1#1", None, "g3#1")
    assert figures(bulk, ["A"], ["s1", "s2"]) == figures(seq, ["A"], ["s1", "s2"])
    assert_sound(bulk, seq)


def test_a_fenced_batch_gives_an_unknown_name_its_status(inv: Inventory) -> None:
    """A batch takes any string as a name; order by order, a name that cannot
    be an id gets its unknown-name status, as in the kernel path.
    Regression: 8f6ac05 raised InvalidInput building a Line from it."""
    inv.add_channel(Channel("amz", buffer=1))
    names = ["", "x" * 201, "A\n", "A"]
    bt = HoldBatch(
        ["u1", "u2", "u3", "u4", "u5"],
        [*names, "A"],
        ["s1", "s1", "s1", "s1", "s\t1"],
        [1] * 5,
        channel="amz",
    )
    head = inv.head
    r = inv.hold_many(bt)
    assert r.status.tolist() == [UNKNOWN_SKU, UNKNOWN_SKU, UNKNOWN_SKU, HELD, UNKNOWN_LOCATION]
    # the same batch without the fence takes the kernel path: the same statuses
    other = inv.hold_many(
        HoldBatch(
            ["v1", "v2", "v3", "v4", "v5"], [*names, "A"], ["s1", "s1", "s1", "s1", "s\t1"], [1] * 5
        )
    )
    assert other.token is not None and other.status.tolist() == r.status.tolist()
    assert inv.head == head + 2
    assert_sound(inv)


def test_a_fenced_batch_key_covers_the_whole_batch(inv: Inventory) -> None:
    """One key covers the whole fenced batch: a different batch under it is
    refused and changes nothing. Regression: 8f6ac05 used per-order keys
    key/0, key/1, ..., so new orders were held before a changed one raised."""
    inv.add_channel(Channel("amz", buffer=1))
    bt = batch_of([("c1", [("A", 1, "s1")]), ("c2", [("A", 99, "s1")])], channel="amz")
    first = inv.hold_many(bt, key="kk")
    assert first.status.tolist() == [HELD, REFUSED] and first.ids == ("c1#1", None)
    head, digest = inv.head, inv.digest()
    for other in (
        batch_of(
            [("c1", [("A", 1, "s1")]), ("c2", [("A", 99, "s1")]), ("c3", [("A", 1, "s2")])],
            channel="amz",
        ),
        batch_of([("c1", [("A", 2, "s1")]), ("c2", [("A", 1, "s2")])], channel="amz"),
    ):
        with pytest.raises(errors.IdempotencyConflict, match="key='kk'"):
            inv.hold_many(other, key="kk")
        assert (inv.head, inv.digest()) == (head, digest)
    again = inv.hold_many(bt, key="kk")
    assert (again.status.tolist(), again.ids, again.expires_at) == (
        first.status.tolist(),
        first.ids,
        first.expires_at,
    )
    assert (inv.head, inv.digest()) == (head, digest)


# -- the marketplace delta ----------------------------------------------------------


@pytest.fixture
def market(make_inventory: Make) -> Inventory:
    inv: Inventory = make_inventory()
    inv.add_location(Location("S", kind="store"))
    inv.add_location(Location("W", kind="warehouse"))
    inv.add_channel(Channel("mkt", locations=["W"]))
    for i in range(10):
        inv.receive(f"K{i:02d}", "W", 5)
    inv.receive("A", "S", 6)
    inv.receive("A", "W", 30)
    return inv


def test_the_delta_after_a_bulk_hold_lists_only_changed_skus(
    market: Inventory, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    mk = MarketplaceAdapter("mkt")
    base = mk.full(market)

    def no_full(_inv: Any) -> Any:
        raise AssertionError("the delta fell back to a full feed")

    monkeypatch.setattr(mk, "full", no_full)
    r = market.hold_many(
        batch_of(
            [
                ("p1", [("K03", 2, "W")]),
                ("p2", [("K05", 9, "W")]),  # refused
                ("p3", [("A", 3, "S")]),  # S does not feed mkt: its figure is unchanged
                ("p4", [("K07", 5, "W"), ("A", 1, "S")]),
            ]
        ),
        ttl=60,
    )
    assert r.status.tolist() == [HELD, REFUSED, HELD, HELD]
    d = mk.delta(market, base.cursor)
    assert (d.kind, d.since, d.cursor) == ("delta", base.cursor, market.head)
    assert d.as_dict() == {"K03": 3, "K07": 0}
    fresh = MarketplaceAdapter("mkt").delta(market, base.cursor)  # from a replay
    assert fresh.kind == "delta" and fresh.as_dict() == d.as_dict()

    market.commit(member(r, 0))
    d2 = mk.delta(market, d.cursor)
    assert d2.kind == "delta" and d2.items == ()
    clock.advance(61)  # p3 and p4 expire with the block; p1 is committed
    d3 = mk.delta(market, d2.cursor)
    assert d3.kind == "delta" and d3.as_dict() == {"K07": 5}
    assert market.store.read(d2.cursor, d3.cursor).__next__()[2] == EXPIRED_BATCH
