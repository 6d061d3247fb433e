"""A columnar wave through the kernel decides exactly as sequential allocate."""

from __future__ import annotations

from typing import Any

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import Clock
from omnistock import Inventory, Location, Order, OrderBatch, Point, Policy

POLICIES = [
    Policy(),
    Policy(preferences=("closest", "priority")),
    Policy(preferences=("fewest_splits", "priority", "closest"), candidates=3),
    Policy(preferences=("lowest_cost",), per_parcel=4.0, per_km=0.1, radius_km=400.0),
    Policy(preferences=("highest_stock", "closest")),
]


def _network(stock: list[list[int]], caps: list[int | None], prio: list[int]) -> Inventory:
    inv = Inventory(clock=Clock())
    pts = [(51.5, -0.1), (53.5, -2.2), (52.5, -1.9), (55.9, -3.2), (50.4, -4.1)]
    for j, (cap, p) in enumerate(zip(caps, prio, strict=True)):
        inv.add_location(Location(f"L{j}", point=Point(*pts[j]), daily_capacity=cap, priority=p))
    for i, row in enumerate(stock):
        for j, q in enumerate(row):
            inv.count(f"S{i}", f"L{j}", q)  # a count registers the SKU even at 0
    return inv


orders_st = st.lists(
    st.tuples(
        st.integers(0, 2),
        st.integers(1, 6),
        st.sampled_from([(51.4, -0.2), (53.4, -2.3), (54.0, -1.5), None]),
    ),
    min_size=1,
    max_size=25,
)


@settings(max_examples=80, deadline=None)
@given(
    stock=st.lists(st.lists(st.integers(0, 8), min_size=5, max_size=5), min_size=3, max_size=3),
    caps=st.lists(st.none() | st.integers(0, 4), min_size=5, max_size=5),
    prio=st.lists(st.integers(0, 2), min_size=5, max_size=5),
    orders=orders_st,
    pol=st.sampled_from(POLICIES),
    split=st.booleans(),
    partial=st.booleans(),
)
def test_wave_equals_sequential(
    stock: Any, caps: Any, prio: Any, orders: Any, pol: Policy, split: bool, partial: bool
) -> None:
    a = _network(stock, caps, prio)
    b = _network(stock, caps, prio)
    ids = [f"o{k}" for k in range(len(orders))]
    seq = [
        a.allocate(
            Order(
                ids[k],
                lines=[(f"S{s}", q)],
                ship_to=None if pt is None else Point(*pt),
                allow_split=split,
                allow_partial=partial,
            ),
            policy=pol,
        )
        for k, (s, q, pt) in enumerate(orders)
    ]
    batch = OrderBatch(
        ids,
        [f"S{s}" for s, _, _ in orders],
        [q for _, q, _ in orders],
        [np.nan if pt is None else pt[0] for _, _, pt in orders],
        [np.nan if pt is None else pt[1] for _, _, pt in orders],
        allow_split=split,
        allow_partial=partial,
    )
    wave = b.allocate_many(batch, policy=pol)
    codes = {"unfillable": 0, "allocated": 1, "partial": 2}
    assert [codes[x.status] for x in seq] == wave.status.tolist()
    for k, x in enumerate(seq):
        assert sorted((ln.location, ln.qty) for ln in x.lines) == sorted(wave.takes(k))
    for s in a.skus:
        for loc in a.locations:
            assert a.available(s, loc) == b.available(s, loc)
    assert b.check().ok


def _cost(inv: Inventory, batch: OrderBatch, res: Any) -> float:
    from omnistock.fulfilment import haversine_km

    locs = inv.locations
    total = 0.0
    for j in range(len(batch)):
        for loc, _q in res.takes(j):
            total += haversine_km(Point(batch.lat[j], batch.lon[j]), locs[loc].point)
    return total


@settings(max_examples=40, deadline=None)
@given(
    stock=st.lists(st.lists(st.integers(0, 3), min_size=5, max_size=5), min_size=3, max_size=3),
    caps=st.lists(st.none() | st.integers(0, 3), min_size=5, max_size=5),
    orders=st.lists(
        st.tuples(
            st.integers(0, 2),
            st.just(1),
            st.sampled_from([(51.4, -0.2), (53.4, -2.3), (54.0, -1.5), (55.0, -3.0)]),
        ),
        min_size=1,
        max_size=25,
    ),
)
def test_optimized_wave_serves_no_fewer_and_costs_no_more(
    stock: Any, caps: Any, orders: Any
) -> None:
    greedy_inv = _network(stock, caps, [0] * 5)
    best_inv = _network(stock, caps, [0] * 5)
    batch = OrderBatch(
        [f"o{k}" for k in range(len(orders))],
        [f"S{s}" for s, _, _ in orders],
        [q for _, q, _ in orders],
        [pt[0] for *_, pt in orders],
        [pt[1] for *_, pt in orders],
    )
    pol = Policy(preferences=("closest",))
    greedy = greedy_inv.allocate_many(batch, policy=pol)
    best = best_inv.allocate_many(batch, policy=pol, optimize=True)
    assert best.allocated >= greedy.allocated
    if best.allocated == greedy.allocated:
        assert _cost(best_inv, batch, best) <= _cost(greedy_inv, batch, greedy) + 1e-6
    for sku in best_inv.skus:  # no position reserves more than its free stock
        for p in best_inv.explain(sku).positions:
            free = p.on_hand - sum(p.unsellable.values()) - p.safety
            assert p.reserved <= max(free, 0), p
    assert best_inv.check().ok
