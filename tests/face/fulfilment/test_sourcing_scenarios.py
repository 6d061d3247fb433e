"""Sourcing facts, each with exact inputs and outputs."""

from __future__ import annotations

import pytest

from omnistock import Channel, Location, Point
from omnistock.errors import InvalidInput
from omnistock.fulfilment import DEFAULT_POLICY, Policy, haversine_km, source

HOME = Point(51.5, -0.1)


def store(id: str, lat: float, lon: float, **kw: object) -> Location:
    return Location(id, point=Point(lat, lon), **kw)


def test_fewest_splits_beats_closest() -> None:
    # near holds A only, far holds A and B: one parcel from far beats two.
    cands = [store("near", 51.5, -0.1), store("far", 53.0, -2.0)]
    plan = source([("A", 1), ("B", 1)], cands, [[5, 5], [0, 5]], ship_to=HOME)
    assert plan.status == "allocated"
    assert plan.assignments == {0: [("far", 1)], 1: [("far", 1)]}
    assert plan.splits == 0
    assert plan.trace.get("near").rank == 0  # nearer, yet not chosen
    assert plan.trace.get("far").rank == 1


def test_closest_breaks_the_tie() -> None:
    cands = [store("far", 53.0, -2.0), store("near", 51.6, -0.1)]
    plan = source([("A", 2)], cands, [[5, 5]], ship_to=HOME)
    assert plan.locations == ("near",)
    assert plan.trace.get("near").keys[0] == ("closest", haversine_km(HOME, Point(51.6, -0.1)))


def test_priority_breaks_a_distance_tie() -> None:
    # Same point, so the same distance: priority 1 beats priority 5.
    cands = [store("p5", 52.0, 0.0, priority=5), store("p1", 52.0, 0.0, priority=1)]
    plan = source([("A", 1)], cands, [[3, 3]], ship_to=HOME)
    assert plan.locations == ("p1",)
    assert [c.rank for c in plan.trace.candidates] == [1, 0]


def test_zero_stock_pickup_store_is_never_chosen() -> None:
    cands = [store("empty", 51.5, -0.1), store("other", 51.7, -0.1)]
    plan = source([("A", 1)], cands, [[0, 2]], method="pickup", ship_to=HOME)
    assert plan.locations == ("other",)
    t = plan.trace.get("empty")
    assert (t.kept, t.reason) == (False, "no_stock")
    only = source([("A", 1)], cands[:1], [[0]], method="pickup", ship_to=HOME)
    assert only.status == "unfillable"
    assert only.reason == "no candidate location passed the filters"


def test_capacity_spills_to_the_next_store() -> None:
    cands = [store("s1", 51.5, -0.1), store("s2", 51.6, -0.1)]
    plan = source([("A", 1)], cands, [[5, 5]], ship_to=HOME, capacity_left={"s1": 0, "s2": 3})
    assert plan.locations == ("s2",)
    t = plan.trace.get("s1")
    assert (t.reason, t.detail) == ("capacity", "no picks left today")


def test_location_without_capability_is_filtered_with_that_reason() -> None:
    cands = [Location("wh", kind="warehouse", point=HOME), store("s", 51.6, -0.1)]
    plan = source([("A", 1)], cands, [[9, 1]], method="pickup", ship_to=HOME)
    assert plan.locations == ("s",)
    t = plan.trace.get("wh")
    assert (t.kept, t.reason, t.detail) == (False, "capability", "does not offer pickup")
    noship = Location("shop", point=HOME, ships=False)
    p2 = source([("A", 1)], [noship], [[9]], ship_to=HOME)
    assert p2.status == "unfillable"
    assert p2.trace.get("shop").detail == "does not ship"


def test_filters_channel_radius_excluded_in_policy_order() -> None:
    cands = [
        store("a", 51.5, -0.1),
        store("b", 55.0, -3.0),
        store("c", 51.5, -0.1),
        store("d", 51.6, -0.1),
    ]
    pol = Policy(radius_km=50, exclude=["c"])
    plan = source(
        [("A", 1)],
        cands,
        [[1, 1, 1, 1]],
        pol,
        ship_to=HOME,
        channel=Channel("web", locations=["b", "c", "d"]),
    )
    reasons = {c.location: c.reason for c in plan.trace.candidates}
    assert reasons == {"a": "channel", "b": "radius", "c": "excluded", "d": None}
    assert plan.locations == ("d",)


def test_every_trace_names_every_candidate_in_order() -> None:
    cands = [store(f"s{i}", 51 + i / 10, 0) for i in range(6)]
    plan = source([("A", 3)], cands, [[0, 1, 1, 1, 0, 5]], ship_to=HOME)
    assert [c.location for c in plan.trace.candidates] == [f"s{i}" for i in range(6)]
    assert plan.locations == ("s5",)
    assert "s5" in plan.trace.text()


def test_split_when_no_single_location_covers() -> None:
    cands = [store("s1", 51.5, -0.1), store("s2", 51.6, -0.1), store("s3", 51.7, -0.1)]
    plan = source([("A", 5)], cands, [[2, 4, 3]], ship_to=HOME)
    # two locations are needed; the best-ranked pair that covers is (s1, s2)
    assert plan.assignments == {0: [("s1", 2), ("s2", 3)]}
    assert plan.splits == 1
    assert plan.search == "exact"


def test_no_split_and_partial() -> None:
    cands = [store("s1", 51.5, -0.1), store("s2", 51.6, -0.1)]
    p = source([("A", 5)], cands, [[2, 4]], ship_to=HOME, allow_split=False)
    assert p.status == "unfillable"
    assert p.reason == "no single location holds the whole order and split is not allowed"
    p = source([("A", 5)], cands, [[2, 4]], ship_to=HOME, allow_split=False, allow_partial=True)
    assert (p.status, p.assignments) == ("partial", {0: [("s2", 4)]})
    p = source([("A", 9)], cands, [[2, 4]], ship_to=HOME, allow_partial=True)
    assert (p.status, p.assignments) == ("partial", {0: [("s1", 2), ("s2", 4)]})
    p = source([("A", 9)], cands, [[2, 4]], ship_to=HOME)
    assert (p.status, p.reason) == ("unfillable", "the kept locations hold 6 of 9 units")


def test_lowest_cost_and_highest_stock() -> None:
    cands = [store("s1", 51.5, -0.1), store("s2", 52.5, -0.1)]
    pol = Policy(preferences=["highest_stock"])
    assert source([("A", 1)], cands, [[2, 4]], pol, ship_to=HOME).locations == ("s2",)
    pol = Policy(preferences=["fewest_splits", "lowest_cost"], per_parcel=3, per_km=0.5)
    p = source([("A", 1)], cands, [[2, 4]], pol, ship_to=HOME)
    assert p.locations == ("s1",)
    assert p.cost == pytest.approx(3.0)


def test_safety_used_only_when_not_protected() -> None:
    cands = [store("s1", 51.5, -0.1)]
    p = source([("A", 3)], cands, [[1]], ship_to=HOME, safety=[[2]])
    assert p.status == "unfillable"
    p = source([("A", 3)], cands, [[1]], Policy(protect_safety=False), ship_to=HOME, safety=[[2]])
    assert p.assignments == {0: [("s1", 3)]}


def test_same_sku_lines_share_atp() -> None:
    cands = [store("s1", 51.5, -0.1), store("s2", 51.6, -0.1)]
    p = source([("A", 2), ("A", 2)], cands, [[3, 3], [3, 3]], ship_to=HOME)
    assert p.assignments == {0: [("s1", 2)], 1: [("s2", 2)]}  # whole line where it fits
    with pytest.raises(InvalidInput, match="atp"):
        source([("A", 2), ("A", 2)], cands, [[3, 3], [3, 2]], ship_to=HOME)


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"atp": [[1]]}, "atp"),
        ({"lines": [("A", 1, "s1")]}, "lines"),
        ({"lines": []}, "lines"),
        ({"distances_km": [1.0]}, "distances_km"),
        ({"method": "drone"}, "method"),
    ],
)
def test_bad_source_arguments(kwargs: dict[str, object], field: str) -> None:
    args: dict[str, object] = {"lines": [("A", 1)], "atp": [[1, 1]]}
    args.update(kwargs)
    cands = [store("s1", 51.5, -0.1), store("s2", 51.6, -0.1)]
    with pytest.raises(InvalidInput) as ei:
        source(
            args.pop("lines"),
            cands,
            args.pop("atp"),
            DEFAULT_POLICY,  # type: ignore[arg-type]
            **args,
        )  # type: ignore[arg-type]
    assert ei.value.field == field


def test_exact_search_bound_falls_back_to_greedy() -> None:
    # 60 candidates x 100 SKUs: sets of 2 fit EXACT_WORK (177,000 tests), 3 do not.
    import numpy as np

    rng = np.random.default_rng(0)
    cands = [store(f"L{i}", 50 + rng.random(), rng.random()) for i in range(60)]
    atp = rng.integers(0, 3, (100, 60))
    lines = [(f"S{i}", 2) for i in range(100)]
    plan = source(lines, cands, atp, ship_to=HOME)
    assert (plan.status, plan.search) == ("allocated", "greedy")
    assert "work bound 200000" in plan.trace.explanation[-1]
    small = source(lines[:10], cands[:20], atp[:10, :20], ship_to=HOME, allow_partial=True)
    assert small.search == "exact"


def test_source_order_uses_the_pickup_store_as_origin() -> None:
    from omnistock import Order
    from omnistock.fulfilment import source_order

    cands = [store("far", 53.0, -2.0), store("home", 51.5, -0.1), store("next", 51.52, -0.1)]
    order = Order("o1", lines=[("A", 2)], method="pickup", pickup_at="home")
    plan = source_order(order, cands, [[5, 1, 5]])
    assert plan.locations == ("next",)
    assert plan.trace.get("home").reason is None  # kept, but short for a single parcel
