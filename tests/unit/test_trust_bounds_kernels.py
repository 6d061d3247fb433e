"""The kernels keep the ledger's bounds (issue 13, item 6).

``decide_batch``/``reserve_lines`` never take ``reserved`` past 2**62;
``allocate_wave_single`` never lets a sum of candidate ATP wrap int64. The
last two tests drive a ``HoldBatch`` and an ``OrderBatch`` near the bounds
through the face.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import numpy as np
import pytest

from omnistock import HoldBatch, Inventory, Location, OrderBatch, Policy
from omnistock.fulfilment.kernels import (
    ALLOCATED,
    ALLOW_SPLIT,
    PREF_CODE,
    UNFILLABLE,
    UNLIMITED,
    allocate_wave_single,
)
from omnistock.ledger import kernels
from omnistock.ledger.kernels import HELD, REFUSED

B = 2**62
I64 = np.int64


def _i64(*xs: int) -> np.ndarray:
    return np.array(xs, dtype=I64)


def _decide(free: list[int], reserved: list[int], orders: list[list[tuple[int, int]]]) -> Any:
    """``decide_batch`` over one SKU row; orders are lists of (location, qty)."""
    f = np.array([free], dtype=I64)
    r = np.array([reserved], dtype=I64)
    flat = [x for o in orders for x in o]
    start = np.array([0, *np.cumsum([len(o) for o in orders])], dtype=I64)
    s = np.zeros(len(flat), dtype=I64)
    loc = np.array([a for a, _ in flat], dtype=I64)
    qty = np.array([q for _, q in flat], dtype=I64)
    status = np.full(len(orders), 9, dtype=np.int8)
    held = np.zeros(len(flat), dtype=np.uint8)
    served = np.ones(len(free), dtype=np.uint8)
    n = kernels.decide_batch(start, s, loc, qty, served, f, r, status, held)
    return n, status.tolist(), r[0].tolist()


# (id, free, reserved, orders, statuses, reserved after)
DECIDE = [
    ("whole-bound-then-short", [B], [0], [[(0, B)], [(0, 1)]], [HELD, REFUSED], [B]),
    ("two-lines-one-position", [B], [0], [[(0, B), (0, B)]], [REFUSED], [0]),
    ("atp-at-minus-bound", [-B], [0], [[(0, 1)]], [REFUSED], [0]),
    ("reserved-at-bound", [B], [B], [[(0, 1)]], [REFUSED], [B]),
    # a grid out of bounds (an old journal): within ATP, yet past 2**62 reserved
    ("out-of-bounds-grid", [B + 8], [B - 2], [[(0, 5)], [(0, 2)]], [REFUSED, HELD], [B]),
]


@pytest.mark.parametrize(
    ("free", "reserved", "orders", "statuses", "after"),
    [c[1:] for c in DECIDE],
    ids=[c[0] for c in DECIDE],
)
def test_decide_batch_keeps_reserved_within_the_bound(
    free: list[int],
    reserved: list[int],
    orders: list[list[tuple[int, int]]],
    statuses: list[int],
    after: list[int],
) -> None:
    n, status, res = _decide(free, reserved, orders)
    assert status == statuses
    assert n == statuses.count(HELD)
    assert res == after
    assert all(0 <= x <= B for x in res)


def test_reserve_lines_keeps_reserved_within_the_bound() -> None:
    free = np.array([[B + 8, B]], dtype=I64)
    reserved = np.array([[B - 2, 0]], dtype=I64)
    ok = np.zeros(4, dtype=np.uint8)
    n = kernels.reserve_lines(
        _i64(0, 0, 0, 0), _i64(0, 0, 1, 1), _i64(5, 2, B, 1), free, reserved, ok
    )
    assert ok.tolist() == [0, 1, 1, 0]
    assert n == 2
    assert reserved.tolist() == [[B, B]]


@pytest.mark.parametrize("pref", ["fewest_splits", "closest"])
def test_wave_total_of_candidates_does_not_wrap(pref: str) -> None:
    """Two candidates at 2**62 each: their total is 2**63. Before, it wrapped
    to -2**63 and a splittable order of 2**62 was unfillable."""
    atp = np.array([[B, B]], dtype=I64)
    take = np.zeros(2, dtype=I64)
    status = np.full(1, 9, dtype=np.int8)
    done = allocate_wave_single(
        _i64(0, 2),
        _i64(0, 1),
        np.array([1.0, 2.0]),
        _i64(0),
        _i64(B),
        np.array([ALLOW_SPLIT], dtype=np.uint8),
        _i64(0, 0),
        _i64(UNLIMITED, UNLIMITED),
        atp,
        _i64(PREF_CODE[pref]),
        -1.0,
        0.0,
        0.0,
        take,
        status,
    )
    assert (done, status.tolist()) == (1, [ALLOCATED])
    assert sorted(take.tolist()) == [0, B]
    assert sorted(atp[0].tolist()) == [0, B]


def _inv() -> Inventory:
    inv = Inventory.open("memory://")
    for loc in ("s1", "s2"):
        inv.add_location(Location(loc))
        inv.receive("A", loc, B)
    return inv


def test_hold_batch_near_the_bounds() -> None:
    inv = _inv()
    batch = HoldBatch(
        ["o1", "o2", "o3", "o4"],
        ["A", "A", "A", "A", "A"],
        ["s1", "s1", "s2", "s2", "s1"],
        [B, 1, B - 1, 2, 1],
        start=[0, 1, 2, 4, 5],
    )
    r = inv.hold_many(batch)
    assert r.status.tolist() == [HELD, REFUSED, REFUSED, REFUSED]
    assert inv.available("A") == B
    r = inv.hold_many(HoldBatch(["o5", "o6"], ["A", "A"], ["s2", "s2"], [B, 1]))
    assert r.status.tolist() == [HELD, REFUSED]
    assert inv.available("A") == 0
    assert sum(ln.qty for x in inv.reservations() for ln in x.lines) == 2 * B
    assert inv.check().ok


def test_order_batch_near_the_bounds() -> None:
    """A wave over two locations at 2**62 each (a total of 2**63): each
    order of 2**62 is served whole, then nothing is left. Before, the first
    order was unfillable."""
    inv = _inv()
    pol = Policy(preferences=("fewest_splits", "priority"))
    nan = float("nan")
    wave = OrderBatch(["w1", "w2", "w3"], ["A"] * 3, [B, B, 1], [nan] * 3, [nan] * 3)
    r = inv.allocate_many(wave, policy=pol)
    assert r.status.tolist() == [ALLOCATED, ALLOCATED, UNFILLABLE]
    assert [q for j in range(2) for _, q in r.takes(j)] == [B, B]
    assert inv.available("A") == 0
    assert inv.check().ok


def test_promise_over_two_full_locations_is_now() -> None:
    inv = _inv()
    p = inv.promise("A", B)
    assert p.date is not None and p.date <= datetime.now(UTC)
