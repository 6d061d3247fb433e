"""Bulk holds, what a batch decides: ``Inventory.hold_many(HoldBatch)`` against
sequential ``hold`` calls.

- equivalence: a batch decides exactly what sequential ``hold`` calls decide
  (statuses, reservations, figures; a hypothesis property over random stock
  and batches);
- shortages: a sale or count names uncovered members newest first, as it
  would ordinary holds, and leaves them uncovered when nothing can take them;
- the result value (``HoldBatchResult``) round-trips through JSON.

Block bookkeeping (which members are still kept in the ledger block) is
tested in ``tests/unit/test_bulk_holds_blocks.py``. Tests whose docstring
says "Regression" pin down bugs found in the first version of the feature
(8f6ac05), since fixed.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from bulk_holds_support import (
    SIX,
    Make,
    Spec,
    assert_sound,
    batch_of,
    figures,
    lines_of,
    member,
    order_of,
    status_of_hold,
    two_stores,
)
from omnistock import (
    HoldBatchResult,
    Inventory,
    Location,
)
from omnistock.holdbatch import HELD


@pytest.fixture
def inv(make_inventory: Make) -> Inventory:
    return two_stores(make_inventory())


SKUS = ("A", "B", "C")


LOCS = ("s1", "s2")


PRE = datetime(2024, 5, 1, 9, 0, tzinfo=UTC)


lines_st = st.lists(
    st.tuples(
        st.sampled_from(SKUS * 4 + ("ZZ",)),
        st.integers(1, 5),
        st.sampled_from(LOCS * 4 + ("nowhere",)),
    ),
    min_size=1,
    max_size=3,
)


@st.composite
def scenarios(draw: st.DrawFn) -> dict[str, Any]:
    stock = draw(
        st.dictionaries(
            st.tuples(st.sampled_from(SKUS), st.sampled_from(LOCS)), st.integers(0, 8), max_size=6
        )
    )
    known = sorted(stock)
    sales = (
        draw(st.lists(st.tuples(st.sampled_from(known), st.integers(1, 4)), max_size=2))
        if known
        else []
    )
    n = draw(st.integers(1, 7))
    names = draw(st.permutations([f"o{i}" for i in range(n)]))
    one_line = draw(st.booleans())
    orders: list[Spec] = []
    for oid in names:
        ls = draw(lines_st)
        orders.append((oid, ls[:1] if one_line else ls))
    single = one_line and draw(st.booleans())
    return {
        "stock": stock,
        "sales": sales,
        "orders": orders,
        "single": single,
        "ttl": draw(st.sampled_from([60, 900])),
    }


def _twin(sc: dict[str, Any]) -> Inventory:
    inv = Inventory(clock=lambda: PRE)
    for x in LOCS:
        inv.add_location(Location(x))
    for (s, x), q in sorted(sc["stock"].items()):
        if q:
            inv.receive(s, x, q)
        else:
            inv.count(s, x, 0)  # the SKU is known, with nothing on hand
    for (s, x), q in sc["sales"]:
        inv.sell(x, [(s, q)])  # may take a position below zero
    return inv


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(sc=scenarios())
@example(
    sc={  # one line per order, start left out, an unknown SKU among refusals
        "stock": {("A", "s1"): 0},
        "sales": [],
        "single": True,
        "ttl": 60,
        "orders": [*((f"o{j}", [("A", 1, "s1")]) for j in range(4)), ("o4", [("B", 1, "s1")])],
    }
)
@example(
    sc={  # repeated positions in one order: the sum is checked, not each line
        "stock": {("A", "s1"): 5, ("B", "s2"): 2},
        "sales": [(("A", "s1"), 1)],
        "single": False,
        "ttl": 900,
        "orders": [
            ("x", [("A", 2, "s1"), ("A", 3, "s1")]),
            ("y", [("A", 2, "s1"), ("B", 2, "s2"), ("A", 2, "s1")]),
            ("z", [("B", 2, "s2"), ("ZZ", 1, "nowhere")]),
            ("w", [("A", 1, "nowhere"), ("ZZ", 1, "s1")]),
        ],
    }
)
def test_a_batch_decides_what_sequential_holds_decide(sc: dict[str, Any]) -> None:
    bulk, seq = _twin(sc), _twin(sc)
    orders: list[Spec] = sc["orders"]
    result = bulk.hold_many(batch_of(orders, single=sc["single"]), ttl=sc["ttl"])
    assert isinstance(result, HoldBatchResult) and len(result) == len(orders)
    assert result.order_ids == tuple(o for o, _ in orders)
    for j, spec in enumerate(orders):
        want, got = status_of_hold(seq, order_of(spec), sc["ttl"])
        assert int(result.status[j]) == want, (j, spec, got)
        rid = result.reservation_id(j)
        if want == HELD:
            assert rid == f"{spec[0]}#{result.token}"
            res = bulk.reservation(rid)
            assert (res.state, res.order_id, lines_of(res), res.expires_at) == (
                "held",
                spec[0],
                lines_of(got),
                got.expires_at,
            )
        else:
            assert rid is None
    assert result.held == sum(1 for j in range(len(orders)) if result.status[j] == HELD)
    assert (result.token is None) == (result.held == 0)
    skus = [s for s in SKUS if s in seq.skus]
    assert figures(bulk, skus, LOCS) == figures(seq, skus, LOCS)
    assert sorted(lines_of(r) for r in bulk.reservations()) == sorted(
        lines_of(r) for r in seq.reservations()
    )
    assert_sound(bulk, seq)


# -- shortages ---------------------------------------------------------------------


def test_a_shortage_with_nowhere_to_go_leaves_members_uncovered(inv: Inventory) -> None:
    r = inv.hold_many(batch_of([("b1", [("B", 2, "s1")]), ("b2", [("B", 2, "s1")])]))
    got = inv.sell("s1", [("B", 1)])
    assert [s.reservations for s in got.shortages] == [(member(r, 1),)]
    assert [(x.reservation, x.to, x.missing) for x in got.resourced] == [(member(r, 1), (), 1)]
    assert inv.reservation(member(r, 1)).state == "held"
    assert_sound(inv)


def test_a_shortage_names_the_last_member_of_the_batch_first(make_inventory: Make) -> None:
    """Members of one batch are as old as their place in it: 'newest first'
    is reverse batch order, as for sequential holds (not id order: o9 < o10).
    Regression: 8f6ac05 ranked them by id string."""
    ten = [(f"o{j}", [("A", 1, "s2")]) for j in range(1, 11)]
    bulk, seq = two_stores(make_inventory()), two_stores(make_inventory())
    r = bulk.hold_many(batch_of(ten))
    plain = [seq.hold(order_of(o)) for o in ten]
    assert r.held == 10
    want = seq.sell("s2", [("A", 1)])
    got = bulk.sell("s2", [("A", 1)])
    assert [s.reservations for s in want.shortages] == [(plain[9].id,)]
    assert [s.reservations for s in got.shortages] == [(member(r, 9),)]


# -- the result value ------------------------------------------------------------------


def test_a_result_round_trips_through_json(inv: Inventory) -> None:
    r = inv.hold_many(batch_of([*SIX[:2], ("zz", [("ZZ", 1, "s1")])]))
    back = HoldBatchResult.from_jsonable(json.loads(json.dumps(r.to_jsonable())))
    assert (back.order_ids, back.status.tolist(), back.token, back.expires_at, back.ids) == (
        r.order_ids,
        r.status.tolist(),
        r.token,
        r.expires_at,
        r.ids,
    )
    assert back.reservation_ids() == r.reservation_ids()
    assert [back.reason(j) for j in range(3)] == ["held", "held", "unknown sku"]
    assert back.ok.tolist() == [True, True, False]
