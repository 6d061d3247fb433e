"""``optimize_wave``: on small random waves its plan is an exact optimum
(most orders, then least cost) found by brute force; it never exceeds ATP or
capacity; it serves at least as many orders as the greedy wave kernel, and
greedy never costs less when it serves as many."""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from omnistock.errors import InvalidInput
from omnistock.fulfilment import Policy
from omnistock.fulfilment.kernels import UNLIMITED, allocate_wave_single, wave_policy
from omnistock.fulfilment.optimize import WavePlan, optimize_wave

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

EPS = 1e-9


@st.composite
def waves(draw: Any, max_orders: int = 6, max_qty: int = 1) -> dict[str, Any]:
    n_locs = draw(st.integers(1, 4))
    n_skus = draw(st.integers(1, 2))
    n = draw(st.integers(0, max_orders))
    cands: list[list[int]] = [
        draw(st.lists(st.integers(0, n_locs - 1), max_size=3, unique=True)) for _ in range(n)
    ]
    start = np.zeros(n + 1, dtype=np.int64)
    np.cumsum([len(c) for c in cands], out=start[1:])
    ne = int(start[-1])
    return {
        "start": start,
        "cand": np.array([x for c in cands for x in c], dtype=np.int64),
        # small integer costs make ties (and so several optima) common
        "cost": np.array(
            draw(st.lists(st.integers(0, 6), min_size=ne, max_size=ne)), dtype=np.float64
        ),
        "sku": np.array(
            draw(st.lists(st.integers(0, n_skus - 1), min_size=n, max_size=n)), dtype=np.int64
        ),
        "qty": np.array(
            draw(st.lists(st.integers(1, max_qty), min_size=n, max_size=n)), dtype=np.int64
        ),
        "atp": np.array(
            draw(
                st.lists(
                    st.lists(st.integers(-1, 3), min_size=n_locs, max_size=n_locs),
                    min_size=n_skus,
                    max_size=n_skus,
                )
            ),
            dtype=np.int64,
        ),
        "cap": draw(
            st.one_of(
                st.none(),
                st.lists(st.integers(0, 3), min_size=n_locs, max_size=n_locs).map(np.array),
            )
        ),
    }


def _order_of(w: dict[str, Any]) -> np.ndarray:
    return np.repeat(np.arange(len(w["sku"])), np.diff(w["start"]))


def _usage(w: dict[str, Any], take: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Units taken per (sku, loc) and parcels per location."""
    oo = _order_of(w)
    units = np.zeros_like(w["atp"])
    np.add.at(units, (w["sku"][oo], w["cand"]), take)
    parcels = np.zeros(w["atp"].shape[1], dtype=np.int64)
    np.add.at(parcels, w["cand"], (take > 0).astype(np.int64))
    return units, parcels


def _check_limits(w: dict[str, Any], take: np.ndarray) -> None:
    assert (take >= 0).all()
    units, parcels = _usage(w, take)
    assert (units <= np.maximum(w["atp"], 0)).all()
    if w["cap"] is not None:
        assert (parcels <= np.maximum(w["cap"], 0)).all()
    got = np.bincount(_order_of(w), weights=take, minlength=len(w["sku"]))
    assert (got <= w["qty"]).all()


def brute_unit(w: dict[str, Any]) -> tuple[int, float]:
    """(most orders served, least cost among those) by enumeration."""
    st_, cand, cost = w["start"], w["cand"], w["cost"]
    atp = np.maximum(w["atp"], 0)
    cap = None if w["cap"] is None else np.maximum(w["cap"], 0)
    choices = [[-1, *range(st_[j], st_[j + 1])] for j in range(len(w["sku"]))]
    best = (0, 0.0)
    for pick in itertools.product(*choices):
        units = np.zeros_like(atp)
        parcels = np.zeros(atp.shape[1], dtype=np.int64)
        served, total = 0, 0.0
        for j, e in enumerate(pick):
            if e < 0:
                continue
            units[w["sku"][j], cand[e]] += 1
            parcels[cand[e]] += 1
            served += 1
            total += cost[e]
        if (units > atp).any() or (cap is not None and (parcels > cap).any()):
            continue
        if served > best[0] or (served == best[0] and total < best[1]):
            best = (served, total)
    return best


def brute_split(w: dict[str, Any]) -> tuple[int, float]:
    """(most units served, least per-unit cost among those), split allowed."""
    st_, cand, cost = w["start"], w["cand"], w["cost"]
    atp = np.maximum(w["atp"], 0)
    per_order = []
    for j in range(len(w["sku"])):
        k = int(st_[j + 1] - st_[j])
        per_order.append(
            [
                t
                for t in itertools.product(range(int(w["qty"][j]) + 1), repeat=k)
                if sum(t) <= w["qty"][j]
            ]
        )
    best = (0, 0.0)
    for pick in itertools.product(*per_order):
        take = np.array([x for t in pick for x in t], dtype=np.int64)
        units = np.zeros_like(atp)
        np.add.at(units, (w["sku"][_order_of(w)], cand), take)
        if (units > atp).any():
            continue
        u, total = int(take.sum()), float(np.sum(take * cost))
        if u > best[0] or (u == best[0] and total < best[1]):
            best = (u, total)
    return best


def greedy(w: dict[str, Any], split: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """The greedy wave kernel with ``dist = cost`` and ``per_km = 1``, so
    "closest" is "cheapest": returns ``(take, status)``."""
    n = len(w["sku"])
    prefs, radius, pp, pk = wave_policy(Policy(per_parcel=0.0, per_km=1.0))
    n_locs = w["atp"].shape[1]
    cap = (
        np.full(n_locs, UNLIMITED, dtype=np.int64)
        if w["cap"] is None
        else np.array(w["cap"], dtype=np.int64)
    )
    take = np.zeros(len(w["cand"]), dtype=np.int64)
    status = np.zeros(n, dtype=np.int8)
    flags = np.full(n, 1 if split else 0, dtype=np.uint8)
    allocate_wave_single(
        w["start"],
        w["cand"],
        w["cost"].copy(),
        w["sku"],
        w["qty"],
        flags,
        np.zeros(n_locs, dtype=np.int64),
        cap,
        w["atp"].copy(),
        prefs,
        radius,
        pp,
        pk,
        take,
        status,
    )
    return take, status


def _plan_cost(w: dict[str, Any], take: np.ndarray, per_unit: bool = False) -> float:
    return float(np.sum(w["cost"] * (take if per_unit else (take > 0))))


def _consistent(w: dict[str, Any], p: WavePlan, split: bool = False) -> None:
    got = np.bincount(_order_of(w), weights=p.take, minlength=len(w["sku"]))
    assert (p.qty == got).all()
    assert p.units == int(p.take.sum())
    assert p.served == int(np.sum(got >= w["qty"]))
    assert p.cost == pytest.approx(_plan_cost(w, p.take, split), abs=EPS)
    for j in range(len(w["sku"])):
        lo, hi = w["start"][j], w["start"][j + 1]
        if got[j] == 0:
            assert p.loc[j] == -1
        else:
            assert p.loc[j] in w["cand"][lo:hi][p.take[lo:hi] > 0]


@settings(max_examples=300, deadline=None)
@given(waves())
def test_unit_orders_exact(w: dict[str, Any]) -> None:
    atp0 = w["atp"].copy()
    p = optimize_wave(w["start"], w["cand"], w["cost"], w["sku"], w["qty"], w["atp"], w["cap"])
    assert (w["atp"] == atp0).all()  # inputs untouched
    _check_limits(w, p.take)
    _consistent(w, p)
    assert (p.take <= 1).all()
    served, cost = brute_unit(w)
    assert p.served == served
    assert p.cost == pytest.approx(cost, abs=EPS)
    g_take, g_status = greedy(w)
    _check_limits(w, g_take)
    g_served = int(np.sum(g_status == 1))
    assert p.served >= g_served
    if g_served == p.served:
        assert _plan_cost(w, g_take) >= p.cost - EPS


@settings(max_examples=150, deadline=None)
@given(waves(max_orders=4, max_qty=2).map(lambda w: {**w, "cap": None}))
def test_split_exact(w: dict[str, Any]) -> None:
    p = optimize_wave(w["start"], w["cand"], w["cost"], w["sku"], w["qty"], w["atp"], split=True)
    _check_limits(w, p.take)
    _consistent(w, p, split=True)
    units, cost = brute_split(w)
    assert p.units == units
    assert p.cost == pytest.approx(cost, abs=EPS)
    g_take, _ = greedy(w, split=True)
    assert p.units >= int(g_take.sum())


@settings(max_examples=150, deadline=None)
@given(waves(max_orders=6, max_qty=3))
def test_pinned_orders_keep_greedy(w: dict[str, Any]) -> None:
    g_take, g_status = greedy(w)
    p = optimize_wave(
        w["start"], w["cand"], w["cost"], w["sku"], w["qty"], w["atp"], w["cap"], greedy_take=g_take
    )
    _check_limits(w, p.take)
    _consistent(w, p)
    oo = _order_of(w)
    big = w["qty"][oo] > 1
    assert (p.take[big] == g_take[big]).all()
    assert p.served >= int(np.sum(g_status == 1))


def test_optimum_moves_an_earlier_order() -> None:
    # order 0 can go to L0 (1) or L1 (5); order 1 only to L0 (2); one unit each.
    # Greedy gives L0 to order 0 and strands order 1; the optimum moves order 0.
    w = {
        "start": np.array([0, 2, 3]),
        "cand": np.array([0, 1, 0]),
        "cost": np.array([1.0, 5.0, 2.0]),
        "sku": np.array([0, 0]),
        "qty": np.array([1, 1]),
        "atp": np.array([[1, 1]]),
        "cap": None,
    }
    p = optimize_wave(w["start"], w["cand"], w["cost"], w["sku"], w["qty"], w["atp"])
    assert (p.loc.tolist(), p.served, p.cost) == ([1, 0], 2, 7.0)
    _, g_status = greedy(w)
    assert g_status.tolist() == [1, 0]
    # with L1 out of picks, fill is 1 whoever is served: the cheaper one wins
    p = optimize_wave(w["start"], w["cand"], w["cost"], w["sku"], w["qty"], w["atp"], cap=[1, 0])
    assert (p.loc.tolist(), p.served, p.cost) == ([0, -1], 1, 1.0)


def test_fill_beats_cost() -> None:
    # two orders, one unit at L0: serving the expensive order is never chosen
    # over serving the cheap one, and serving one beats serving none
    p = optimize_wave([0, 1, 2], [0, 0], [10.0, 1.0], [0, 0], [1, 1], [[1]])
    assert (p.loc.tolist(), p.cost) == ([-1, 0], 1.0)


def test_skus_compete_only_for_capacity() -> None:
    # SKU 0 and SKU 1 both want L0 (cheap); L0 has one pick left
    args = ([0, 2, 4], [0, 1, 0, 1], [1.0, 3.0, 1.0, 9.0], [0, 1], [1, 1], [[1, 1], [1, 1]])
    assert optimize_wave(*args).cost == 2.0
    p = optimize_wave(*args, cap=[1, 5])
    assert (p.loc.tolist(), p.cost) == ([1, 0], 4.0)


def test_infinite_cost_pairs_are_never_used() -> None:
    p = optimize_wave([0, 2], [0, 1], [np.inf, 4.0], [0], [1], [[1, 1]])
    assert (p.loc.tolist(), p.cost) == ([1], 4.0)
    p = optimize_wave([0, 1], [0], [np.inf], [0], [1], [[1]])
    assert (p.loc.tolist(), p.served, p.cost) == ([-1], 0, 0.0)


def test_empty_wave() -> None:
    p = optimize_wave([0], [], [], [], [], np.zeros((1, 1), dtype=np.int64))
    assert (p.served, p.units, p.cost, p.take.shape, p.loc.shape) == (0, 0, 0.0, (0,), (0,))


@pytest.mark.parametrize(
    ("kw", "field"),
    [
        ({"start": [1, 2]}, "start"),
        ({"cand": [0, 5]}, "cand"),
        ({"cost": [1.0, -1.0]}, "cost"),
        ({"cost": [1.0, np.nan]}, "cost"),
        ({"sku": [3]}, "sku"),
        ({"qty": [0]}, "qty"),
        ({"qty": [2]}, "qty"),  # unsplittable qty > 1 without greedy_take
        ({"atp": [1, 1]}, "atp"),
        ({"cap": [1]}, "cap"),
        ({"cap": [1, 1], "split": True}, "cap"),
        ({"qty": [2], "greedy_take": [2, 2]}, "greedy_take"),  # more than ATP
    ],
)
def test_bad_input(kw: dict[str, Any], field: str) -> None:
    args: dict[str, Any] = {
        "start": [0, 2],
        "cand": [0, 1],
        "cost": [1.0, 2.0],
        "sku": [0],
        "qty": [1],
        "atp": [[1, 1]],
    }
    args.update(kw)
    with pytest.raises(InvalidInput) as exc:
        optimize_wave(**args)
    assert exc.value.field == field
