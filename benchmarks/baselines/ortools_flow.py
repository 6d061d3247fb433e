"""The allocation optimum with OR-tools ``SimpleMinCostFlow`` (issue 6, W7).

The same network as :mod:`omnistock.fulfilment.optimize` (an order node per
order, a position node per (SKU, location), a location node when daily
capacity applies), solved with ``solve_max_flow_with_min_cost``: the most
units routed, then the least cost. OR-tools takes integer costs, so costs
are scaled by ``COST_SCALE`` and rounded; the reported cost is recomputed
from the chosen pairs in floating point, so the rounding can only cost up to
``0.5 / COST_SCALE`` per used pair of optimality (about 5e-3 on 10k orders).

Unit orders (``qty == 1``) and ``split=True`` (``qty`` as flow, cost per
unit) are exact. Unsplittable orders with ``qty > 1`` are not a flow
problem; here they are relaxed to a split flow at ``cost / qty`` a unit,
which is a lower bound on the optimum.

The graph is built with vectorised numpy calls (``add_arcs_with_capacity_
and_unit_cost``), so the build time is OR-tools' own, not Python's.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from .exact_flow import ExactPlan, network

COST_SCALE = 1_000_000


def available() -> bool:
    try:
        from ortools.graph.python import min_cost_flow  # noqa: F401
    except ImportError:
        return False
    return True


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
) -> ExactPlan:
    """Min-cost max-flow optimum of a wave (arguments as ``optimize_wave``)."""
    from ortools.graph.python import min_cost_flow

    t0 = time.perf_counter()
    net = network(start, cand, cost, sku, qty, atp, cap, split=split)
    smcf = min_cost_flow.SimpleMinCostFlow()
    icost = np.rint(net.cost * COST_SCALE).astype(np.int64)
    smcf.add_arcs_with_capacity_and_unit_cost(net.tail, net.head, net.cap, icost)
    total = int(net.cap[: net.n_orders].sum())
    smcf.set_node_supply(net.source, total)
    smcf.set_node_supply(net.sink, -total)
    t1 = time.perf_counter()
    status = smcf.solve_max_flow_with_min_cost()
    t2 = time.perf_counter()
    if status != smcf.OPTIMAL:
        raise RuntimeError(f"OR-tools min-cost flow failed: status {status}")
    flows = smcf.flows(np.arange(net.first_pair, net.first_pair + net.ent.shape[0]))
    plan = net.plan(np.asarray(flows, dtype=np.int64), split=split)
    plan.build_s = t1 - t0
    plan.solve_s = t2 - t1
    plan.solver = "ortools.SimpleMinCostFlow"
    return plan
