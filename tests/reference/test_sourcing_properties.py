"""Properties: plans never exceed ATP, the wave kernel equals sequential
``source`` calls, and exact search never splits more than greedy."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from omnistock import Location, Point
from omnistock.fulfilment import Policy, haversine_km_array, source
from omnistock.fulfilment.kernels import UNLIMITED, allocate_wave_single, wave_policy

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

PREF_LISTS = [
    ("fewest_splits", "closest", "priority"),
    ("closest", "priority"),
    ("fewest_splits", "highest_stock"),
    ("fewest_splits", "lowest_cost", "priority"),
    ("priority",),
    (),
]
HOME = Point(51.5, -0.1)


def _locs(n: int, prio: list[int], pts: list[tuple[float, float]]) -> list[Location]:
    return [Location(f"L{i}", point=pts[i], priority=prio[i]) for i in range(n)]


@st.composite
def orders(draw: Any) -> dict[str, Any]:
    n = draw(st.integers(1, 7))
    lines = draw(
        st.lists(st.tuples(st.sampled_from("ABC"), st.integers(1, 6)), min_size=1, max_size=4)
    )
    skus = sorted({s for s, _ in lines})
    stock = {s: draw(st.lists(st.integers(-2, 5), min_size=n, max_size=n)) for s in skus}
    pts = draw(
        st.lists(
            st.tuples(st.sampled_from([51.5, 51.6, 52.0]), st.sampled_from([-0.1, 0.0])),
            min_size=n,
            max_size=n,
        )
    )
    return {
        "lines": lines,
        "atp": np.array([stock[s] for s, _ in lines], dtype=np.int64),
        "cands": _locs(n, draw(st.lists(st.integers(0, 2), min_size=n, max_size=n)), pts),
        "prefs": draw(st.sampled_from(PREF_LISTS)),
        "split": draw(st.booleans()),
        "partial": draw(st.booleans()),
        "cap": {f"L{i}": draw(st.integers(0, 2)) for i in range(n) if draw(st.booleans())},
        "radius": draw(st.sampled_from([None, 30.0])),
    }


def _run(o: dict[str, Any], search: Any = "auto") -> Any:
    pol = Policy(preferences=o["prefs"], radius_km=o["radius"], per_parcel=1.0, per_km=0.1)
    return source(
        o["lines"],
        o["cands"],
        o["atp"],
        pol,
        ship_to=HOME,
        capacity_left=o["cap"],
        allow_split=o["split"],
        allow_partial=o["partial"],
        search=search,
    )


@settings(max_examples=300, deadline=None)
@given(orders())
def test_a_plan_never_exceeds_atp(o: dict[str, Any]) -> None:
    plan = _run(o)
    taken: dict[tuple[str, str], int] = {}
    for lp in plan.lines:
        assert lp.served <= lp.qty
        for loc, q in lp.sources:
            assert q > 0
            taken[lp.sku, loc] = taken.get((lp.sku, loc), 0) + q
    col = {c.id: j for j, c in enumerate(o["cands"])}
    row = {s: i for i, (s, _) in enumerate(o["lines"])}
    for (s, loc), q in taken.items():
        assert q <= o["atp"][row[s], col[loc]]
    # the trace names every candidate, in order, once
    assert [c.location for c in plan.trace.candidates] == [c.id for c in o["cands"]]
    assert set(plan.locations) <= {c.location for c in plan.trace.candidates if c.kept}
    if plan.status == "allocated":
        assert all(lp.served == lp.qty for lp in plan.lines)
    if not o["split"]:
        assert len(plan.locations) <= 1


@settings(max_examples=300, deadline=None)
@given(orders())
def test_exact_never_splits_more_than_greedy(o: dict[str, Any]) -> None:
    o = dict(o, prefs=("fewest_splits", "closest"), split=True, partial=False)
    exact, greedy = _run(o), _run(o, "greedy")
    assert exact.status == greedy.status
    if exact.status == "allocated":
        assert exact.splits <= greedy.splits


@st.composite
def waves(draw: Any) -> dict[str, Any]:
    n_loc = draw(st.integers(1, 6))
    n_sku = draw(st.integers(1, 3))
    n_ord = draw(st.integers(1, 25))
    atp = np.array(
        draw(
            st.lists(
                st.lists(st.integers(-1, 6), min_size=n_loc, max_size=n_loc),
                min_size=n_sku,
                max_size=n_sku,
            )
        ),
        dtype=np.int64,
    )
    cap = [draw(st.sampled_from([0, 1, 2, 3, UNLIMITED])) for _ in range(n_loc)]
    lats = draw(st.lists(st.sampled_from([51.5, 51.6, 51.9, 53.0]), min_size=n_loc, max_size=n_loc))
    ords = []
    for _ in range(n_ord):
        cs = draw(st.lists(st.integers(0, n_loc - 1), unique=True, min_size=1, max_size=n_loc))
        ords.append(
            (
                draw(st.integers(0, n_sku - 1)),
                draw(st.integers(1, 8)),
                cs,
                draw(st.integers(0, 3)),
                draw(st.sampled_from([51.5, 52.0])),
            )
        )
    return {
        "atp": atp,
        "cap": cap,
        "lats": lats,
        "orders": ords,
        "prio": draw(st.lists(st.integers(0, 2), min_size=n_loc, max_size=n_loc)),
        "prefs": draw(st.sampled_from(PREF_LISTS)),
        "radius": draw(st.sampled_from([None, 40.0])),
    }


@settings(max_examples=300, deadline=None)
@given(waves())
def test_wave_kernel_equals_sequential_source(w: dict[str, Any]) -> None:
    pol = Policy(preferences=w["prefs"], radius_km=w["radius"], per_parcel=2.0, per_km=0.5)
    n_loc = len(w["cap"])
    locs = [
        Location(f"L{i}", point=(w["lats"][i], 0.0), priority=w["prio"][i]) for i in range(n_loc)
    ]
    start = np.zeros(len(w["orders"]) + 1, dtype=np.int64)
    cand_l: list[int] = []
    dist_l: list[float] = []
    for j, (_, _, cs, _, lat) in enumerate(w["orders"]):
        cand_l += cs
        dist_l += list(haversine_km_array(lat, 0.0, [w["lats"][c] for c in cs], 0.0))
        start[j + 1] = len(cand_l)
    cand = np.array(cand_l, dtype=np.int64)
    dist = np.array(dist_l, dtype=np.float64)
    sku = np.array([o[0] for o in w["orders"]], dtype=np.int64)
    qty = np.array([o[1] for o in w["orders"]], dtype=np.int64)
    flags = np.array([o[3] for o in w["orders"]], dtype=np.uint8)
    prio = np.array(w["prio"], dtype=np.int64)
    cap = np.array(w["cap"], dtype=np.int64)
    atp = w["atp"].copy()
    take = np.full(len(cand_l), -1, dtype=np.int64)
    status = np.full(len(w["orders"]), -1, dtype=np.int8)
    prefs, radius, pp, pk = wave_policy(pol)
    done = allocate_wave_single(
        start, cand, dist, sku, qty, flags, prio, cap, atp, prefs, radius, pp, pk, take, status
    )

    # the same orders, one at a time, through source()
    ref_atp = w["atp"].copy()
    ref_cap = list(w["cap"])
    codes = {"allocated": 1, "partial": 2, "unfillable": 0}
    n_done = 0
    for j, (s, q, cs, fl, _) in enumerate(w["orders"]):
        plan = source(
            [(f"S{s}", int(q))],
            [locs[c] for c in cs],
            ref_atp[s, cs][None, :],
            pol,
            capacity_left={f"L{c}": ref_cap[c] for c in cs},
            allow_split=bool(fl & 1),
            allow_partial=bool(fl & 2),
            distances_km=dist[start[j] : start[j + 1]],
        )
        got = {cs[e - start[j]]: int(take[e]) for e in range(start[j], start[j + 1]) if take[e]}
        want = {int(loc[1:]): qq for loc, qq in plan.lines[0].sources} if plan.lines else {}
        assert got == want, (j, plan.trace.text())
        assert status[j] == codes[plan.status]
        n_done += plan.status == "allocated"
        for c, qq in want.items():
            ref_atp[s, c] -= qq
            ref_cap[c] -= 1
    assert done == n_done
    assert atp.tolist() == ref_atp.tolist()
    assert cap.tolist() == ref_cap
