"""An exact optimum of a wave's allocation, for measuring greedy and
``optimize_wave`` against (issue 3 and issue 6, W7).

The problem is :func:`omnistock.fulfilment.optimize.optimize_wave`'s: serve
the most units, then at the least cost, within ATP per (SKU, location) and
daily picks per location. :func:`solve` uses OR-tools ``SimpleMinCostFlow``
(:mod:`.ortools_flow`) when ``ortools`` is importable, else scipy's
``milp`` (HiGHS) on the same transportation problem, else raises
ImportError. Neither is a dependency of omnistock; the benchmarks skip the
exact column when neither is installed.

The shared :func:`network` builds the flow network both use:

    source -> order j (cap qty[j]) -> position (sku, loc) (cap qty[j], cost)
           -> [location (cap atp) ->] sink (cap atp, or cap[loc])

Exact for unit orders and for ``split=True``; unsplittable orders with
``qty > 1`` are relaxed to a split flow at ``cost / qty`` a unit (a lower
bound).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass
class ExactPlan:
    take: np.ndarray  # units per candidate entry, aligned with ``cand``
    served: int  # orders served in full
    units: int
    cost: float
    build_s: float = 0.0
    solve_s: float = 0.0
    solver: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def seconds(self) -> float:
        return self.build_s + self.solve_s


@dataclass
class Network:
    n_orders: int
    source: int
    sink: int
    tail: np.ndarray
    head: np.ndarray
    cap: np.ndarray
    cost: np.ndarray  # per unit
    first_pair: int  # arc index of the first order -> position arc
    ent: np.ndarray  # candidate entry of each order -> position arc
    n_entries: int
    order_of: np.ndarray
    qty: np.ndarray
    unit_cost: np.ndarray  # per candidate entry, per unit
    pos_of_pair: np.ndarray  # position index of each pair arc
    loc_of_pos: np.ndarray
    atp_of_pos: np.ndarray
    cap_loc: np.ndarray | None

    def plan(self, flows: np.ndarray, split: bool) -> ExactPlan:
        take = np.zeros(self.n_entries, dtype=np.int64)
        take[self.ent] = flows
        got = np.bincount(self.order_of, weights=take, minlength=self.n_orders)
        cost = float(np.sum(np.where(take > 0, self.unit_cost, 0.0) * take))
        return ExactPlan(take, int(np.sum(got >= self.qty)), int(take.sum()), cost)


def network(
    start: Any,
    cand: Any,
    cost: Any,
    sku: Any,
    qty: Any,
    atp: Any,
    cap: Any = None,
    *,
    split: bool = False,
) -> Network:
    st = np.asarray(start, dtype=np.int64)
    cd = np.asarray(cand, dtype=np.int64)
    cs = np.asarray(cost, dtype=np.float64)
    sk = np.asarray(sku, dtype=np.int64)
    q = np.asarray(qty, dtype=np.int64)
    A = np.maximum(np.asarray(atp, dtype=np.int64), 0)
    n = st.shape[0] - 1
    n_locs = A.shape[1]
    order_of = np.repeat(np.arange(n, dtype=np.int64), np.diff(st))
    unit_cost = cs if split else cs / q[order_of]
    keep = np.isfinite(cs) & (A[sk[order_of], cd] > 0)
    C = None if cap is None else np.maximum(np.asarray(cap, dtype=np.int64), 0)
    if C is not None:
        keep &= C[cd] > 0
    ent = np.nonzero(keep)[0]
    ej = order_of[ent]
    pkeys, pidx = np.unique(sk[ej] * n_locs + cd[ent], return_inverse=True)
    n_pos = pkeys.shape[0]
    ploc = pkeys % n_locs
    patp = A[pkeys // n_locs, ploc]
    source = 0
    o0, p0 = 1, 1 + n
    tails = [np.full(n, source), o0 + ej]
    heads = [o0 + np.arange(n), p0 + pidx]
    caps = [q, q[ej]]
    costs = [np.zeros(n), unit_cost[ent]]
    if C is None:
        sink = p0 + n_pos
        tails.append(p0 + np.arange(n_pos))
        heads.append(np.full(n_pos, sink))
        caps.append(patp)
        costs.append(np.zeros(n_pos))
    else:
        lids, linv = np.unique(ploc, return_inverse=True)
        l0 = p0 + n_pos
        sink = l0 + lids.shape[0]
        tails += [p0 + np.arange(n_pos), l0 + np.arange(lids.shape[0])]
        heads += [l0 + linv, np.full(lids.shape[0], sink)]
        caps += [patp, np.minimum(C[lids], int(q.sum()))]
        costs += [np.zeros(n_pos), np.zeros(lids.shape[0])]
    return Network(
        n,
        source,
        sink,
        np.concatenate(tails).astype(np.int64),
        np.concatenate(heads).astype(np.int64),
        np.concatenate(caps).astype(np.int64),
        np.concatenate(costs).astype(np.float64),
        n,
        ent,
        int(st[-1]),
        order_of,
        q,
        unit_cost,
        pidx,
        ploc,
        patp,
        C,
    )


def solve_scipy(
    start: Any,
    cand: Any,
    cost: Any,
    sku: Any,
    qty: Any,
    atp: Any,
    cap: Any = None,
    *,
    split: bool = False,
) -> ExactPlan:
    """The same optimum with scipy ``milp`` (HiGHS): one variable per
    (order, candidate) pair, rows for order demand, position ATP and location
    capacity; the objective ``cost - M`` a unit puts units served first (the
    constraint matrix is totally unimodular, so the LP is already integral)."""
    from scipy.optimize import Bounds, LinearConstraint, milp
    from scipy.sparse import coo_matrix, vstack

    t0 = time.perf_counter()
    net = network(start, cand, cost, sku, qty, atp, cap, split=split)
    k = net.ent.shape[0]
    ej = net.order_of[net.ent]
    c = net.unit_cost[net.ent]
    M = 1.0 + 2.0 * float(np.sum(net.qty * _max_by(ej, c, net.n_orders)))
    cols = np.arange(k)
    ones = np.ones(k)
    rows = [coo_matrix((ones, (ej, cols)), shape=(net.n_orders, k))]
    ub = [net.qty.astype(np.float64)]
    n_pos = net.atp_of_pos.shape[0]
    rows.append(coo_matrix((ones, (net.pos_of_pair, cols)), shape=(n_pos, k)))
    ub.append(net.atp_of_pos.astype(np.float64))
    if net.cap_loc is not None:
        lids, linv = np.unique(net.loc_of_pos, return_inverse=True)
        rows.append(coo_matrix((ones, (linv[net.pos_of_pair], cols)), shape=(lids.shape[0], k)))
        ub.append(net.cap_loc[lids].astype(np.float64))
    t1 = time.perf_counter()
    if k == 0:
        x = np.zeros(0)
    else:
        res = milp(
            c - M,
            constraints=LinearConstraint(vstack(rows).tocsr(), -np.inf, np.concatenate(ub)),
            integrality=np.ones(k),
            bounds=Bounds(0, net.qty[ej].astype(np.float64)),
        )
        if res.x is None:
            raise RuntimeError(f"scipy milp failed: {res.message}")
        x = res.x
    t2 = time.perf_counter()
    plan = net.plan(np.rint(x).astype(np.int64), split=split)
    plan.build_s, plan.solve_s, plan.solver = t1 - t0, t2 - t1, "scipy.milp"
    return plan


def _max_by(group: np.ndarray, v: np.ndarray, n: int) -> np.ndarray:
    out = np.zeros(n)
    np.maximum.at(out, group, v)
    return out


def solver() -> str | None:
    """The exact solver :func:`solve` will use, or None when none is installed."""
    from . import ortools_flow

    if ortools_flow.available():
        return "ortools"
    try:
        import scipy.optimize  # noqa: F401
    except ImportError:
        return None
    return "scipy"


def solve(
    start: Any,
    cand: Any,
    cost: Any,
    sku: Any,
    qty: Any,
    atp: Any,
    cap: Any = None,
    *,
    split: bool = False,
    which: str | None = None,
) -> ExactPlan:
    """The exact optimum (see module doc); ``which`` forces "ortools" or "scipy"."""
    which = which or solver()
    if which == "ortools":
        from . import ortools_flow

        return ortools_flow.solve(start, cand, cost, sku, qty, atp, cap, split=split)
    if which == "scipy":
        return solve_scipy(start, cand, cost, sku, qty, atp, cap, split=split)
    raise ImportError("no exact min-cost flow solver: install ortools (or scipy)")
