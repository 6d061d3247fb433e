"""Re-plan a wave of single-line orders to lower its total cost (min-cost flow).

:func:`allocate_wave_single` serves orders greedily, one at a time, each from
its best-ranked location. :func:`optimize_wave` takes the same wave (the same
CSR candidate lists) and finds the assignment with the lowest total cost
among those that serve the most orders: *fill first, then cost*. A greedy
plan over the same ATP and capacity is one feasible assignment, so the
optimum never serves fewer orders than greedy and, among plans serving as
many, never costs more.

Model (a transportation problem, solved as a min-cost b-flow)::

    order j --cost[e], cap qty[j]--> position (sku[j], cand[e]) --cap atp--> T
    order j --cost M, cap qty[j]--> T                     ("unserved")

With ``cap`` (picks per location per day) the position edges go through a
location node instead: ``position --atp--> location --cap[l]--> T``. Every
order has a supply of ``qty[j]`` units, so the flow is always feasible, and
the "unserved" edge's cost ``M = 1 + 2 * sum_j qty[j] * max_e cost[e]``
exceeds any difference in real cost between two plans: minimising ``real
cost + M * unserved`` is minimising unserved first, then cost (exact, not a
heuristic penalty).

Orders of different SKUs meet only at shared location capacity. Without
``cap`` the graph falls apart into one component per SKU, and each search
below only ever explores its own order's component, so the wave is solved
per SKU without an explicit split; with ``cap`` the SKUs compete for picks
and are solved jointly, as they must be.

Quantities:

- ``split=False`` (default): orders are unsplittable parcels and
  ``cost[e]`` is per parcel (e.g. :meth:`Policy.cost`). Exact for unit
  orders (``qty == 1``), the common single-line case. Unsplittable orders
  with ``qty > 1`` make the problem NP-hard (it is a bin-packing-like
  unsplittable flow), so they are *pinned*: they keep what the greedy plan
  ``greedy_take`` gave them (their takes are removed from ATP and capacity
  first) and the unit orders are optimised exactly around them. Without
  ``greedy_take``, ``qty > 1`` raises.
- ``split=True``: ``qty`` is flow and ``cost[e]`` is per unit; an order may be
  served from several locations and partly. The result maximises *units*
  served, then minimises cost, exactly. Daily capacity counts parcels (one
  per order and location), which a flow cannot count, so ``cap`` must be
  None here.

Algorithm: successive shortest paths with node potentials (the Hungarian
method for transportation problems). For each order in turn, a Dijkstra
search over the residual graph, on reduced costs ``c + h[u] - h[v] >= 0``,
from that order to ``T``; the path moves earlier orders to other locations
when that frees cheaper stock. The search stops as soon as it settles ``T``
and updates the potentials of settled nodes only (``h[v] += d[v] - d[T]``),
so an order whose cheapest candidate still has stock costs O(candidates).
All edge costs are >= 0, so zero potentials are valid at the start.

Complexity: O(U * (E + V) log V) worst case for U units of supply, E
candidate entries plus positions, V orders plus positions (each search is
bounded by its SKU's component without ``cap``); in practice close to
O(E log c) because most searches stop after a few pops. Memory O(E + V).
The result is an optimum; among several optima, which one is returned
depends on the order sequence.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ..errors import InvalidInput
from ..ledger.compiler import kernel

__all__ = ["WavePlan", "optimize_wave"]

VEC = "int64[::1]"
FVEC = "float64[::1]"


@dataclass(frozen=True)
class WavePlan:
    """An optimised wave.

    ``take[e]``: units taken at candidate entry ``e`` (aligned with the
    caller's ``cand``, like :func:`allocate_wave_single`'s ``take``).
    ``loc[j]``: the location index serving order ``j`` (with ``split=True``,
    the one giving it the most units), -1 when unserved. ``qty[j]``: units
    served to order ``j``. ``served``: orders served in full. ``units``:
    units served. ``cost``: total cost, ``sum(cost[e])`` over used entries
    (per parcel) or ``sum(take[e] * cost[e])`` (``split=True``).
    ``searches``: shortest-path searches run (a measure of work).
    """

    take: NDArray[np.int64]
    loc: NDArray[np.int64]
    qty: NDArray[np.int64]
    served: int
    units: int
    cost: float
    searches: int


@kernel(f"int64({VEC}, {VEC}, {VEC}, {FVEC}, {VEC}, {VEC}, int64, {FVEC})")
def _ssp(
    estart: Any, eto: Any, ecap: Any, ecost: Any, erev: Any, supply: Any, t: Any, h: Any
) -> Any:
    """Route every node's ``supply`` (nodes ``0..len(supply)-1``) to ``t`` at
    least cost: successive shortest paths, one Dijkstra search per augmenting
    path, on reduced costs with potentials ``h`` (updated in place). The
    residual graph is CSR: edges ``estart[u]:estart[u + 1]`` leave ``u``,
    going to ``eto[e]`` with residual capacity ``ecap[e]`` (updated in
    place), cost ``ecost[e]``, reverse edge ``erev[e]``. Every supply node
    must reach ``t``. Returns the number of searches."""
    n = estart.shape[0] - 1
    m = eto.shape[0]
    dist = np.full(n, np.inf)
    pe = np.full(n, -1, dtype=np.int64)
    settled = np.zeros(n, dtype=np.uint8)
    touched = np.empty(n, dtype=np.int64)
    hk = np.empty(m + 1, dtype=np.float64)
    hv = np.empty(m + 1, dtype=np.int64)
    searches = 0
    for src in range(supply.shape[0]):
        while supply[src] > 0:
            searches += 1
            nt = 0
            dist[src] = 0.0
            touched[nt] = src
            nt += 1
            hk[0] = 0.0
            hv[0] = src
            size = 1
            big = np.inf
            while size > 0:
                d = hk[0]
                u = hv[0]
                size -= 1
                if size > 0:  # sift the last entry down from the root
                    kk = hk[size]
                    vv = hv[size]
                    i = 0
                    while True:
                        c = 2 * i + 1
                        if c >= size:
                            break
                        if c + 1 < size and hk[c + 1] < hk[c]:
                            c += 1
                        if hk[c] < kk:
                            hk[i] = hk[c]
                            hv[i] = hv[c]
                            i = c
                        else:
                            break
                    hk[i] = kk
                    hv[i] = vv
                if settled[u] == 1 or d > dist[u]:
                    continue
                settled[u] = 1
                if u == t:
                    big = d
                    break
                hu = h[u]
                for e in range(estart[u], estart[u + 1]):
                    if ecap[e] <= 0:
                        continue
                    v = eto[e]
                    if settled[v] == 1:
                        continue
                    rc = ecost[e] + hu - h[v]
                    if rc < 0.0:  # rounding only: potentials keep rc >= 0
                        rc = 0.0
                    nd = d + rc
                    if nd < dist[v]:
                        if dist[v] == np.inf:
                            touched[nt] = v
                            nt += 1
                        dist[v] = nd
                        pe[v] = e
                        i = size  # sift up
                        size += 1
                        while i > 0:
                            p = (i - 1) // 2
                            if hk[p] > nd:
                                hk[i] = hk[p]
                                hv[i] = hv[p]
                                i = p
                            else:
                                break
                        hk[i] = nd
                        hv[i] = v
            # potentials: settled nodes move by d - d(t); others stay
            for k in range(nt):
                v = touched[k]
                if settled[v] == 1:
                    h[v] += dist[v] - big
            # bottleneck and augment along the tree path src -> t
            delta = supply[src]
            v = t
            while v != src:
                e = pe[v]
                if ecap[e] < delta:
                    delta = ecap[e]
                v = eto[erev[e]]
            v = t
            while v != src:
                e = pe[v]
                ecap[e] -= delta
                ecap[erev[e]] += delta
                v = eto[erev[e]]
            supply[src] -= delta
            for k in range(nt):
                v = touched[k]
                dist[v] = np.inf
                settled[v] = 0
                pe[v] = -1
    return searches


def _vec(name: str, v: ArrayLike, dtype: type, n: int | None = None) -> NDArray[Any]:
    try:
        a: NDArray[Any] = np.ascontiguousarray(v, dtype=dtype)
    except (TypeError, ValueError) as exc:
        raise InvalidInput(name, v, f"must be a 1-d array of {dtype.__name__}") from exc
    if a.ndim != 1:
        raise InvalidInput(name, a.shape, "must be 1-d")
    if n is not None and a.shape[0] != n:
        raise InvalidInput(name, a.shape, f"must have length {n}")
    return a


def _graph(
    tail: NDArray[np.int64],
    head: NDArray[np.int64],
    cap: NDArray[np.int64],
    cost: NDArray[np.float64],
    n_nodes: int,
) -> tuple[
    NDArray[np.int64],
    NDArray[np.int64],
    NDArray[np.int64],
    NDArray[np.float64],
    NDArray[np.int64],
    NDArray[np.int64],
]:
    """CSR residual graph from forward edges; each forward edge ``i`` gets a
    reverse edge (capacity 0, cost ``-cost``). Returns ``(estart, eto, ecap,
    ecost, erev, pos)`` where ``pos[i]`` is forward edge ``i``'s position."""
    m = tail.shape[0]
    u = np.concatenate([tail, head])
    v = np.concatenate([head, tail])
    c = np.concatenate([cap, np.zeros(m, dtype=np.int64)])
    w = np.concatenate([cost, -cost])
    order = np.argsort(u, kind="stable")
    pos = np.empty(2 * m, dtype=np.int64)
    pos[order] = np.arange(2 * m, dtype=np.int64)
    twin = np.concatenate([np.arange(m, 2 * m), np.arange(m)])
    erev = np.ascontiguousarray(pos[twin][order])
    estart = np.zeros(n_nodes + 1, dtype=np.int64)
    np.cumsum(np.bincount(u, minlength=n_nodes), out=estart[1:])
    return (
        estart,
        np.ascontiguousarray(v[order]),
        np.ascontiguousarray(c[order]),
        np.ascontiguousarray(w[order]),
        erev,
        pos[:m],
    )


def optimize_wave(
    start: ArrayLike,
    cand: ArrayLike,
    cost: ArrayLike,
    sku: ArrayLike,
    qty: ArrayLike,
    atp: ArrayLike,
    cap: ArrayLike | None = None,
    *,
    split: bool = False,
    greedy_take: ArrayLike | None = None,
) -> WavePlan:
    """The least-cost plan among those serving the most orders (module doc).

    Order ``j`` wants ``qty[j]`` units of SKU row ``sku[j]``; its candidates
    are the location columns ``cand[start[j]:start[j + 1]]`` at costs
    ``cost[...]`` (>= 0; ``inf`` leaves the pair out). ``atp[sku, loc]`` is
    the units available (negative counts as 0); ``cap[loc]``, when given,
    the picks (orders) each location has left (negative counts as 0; large
    values such as ``kernels.UNLIMITED`` are fine). ``split`` and
    ``greedy_take`` (the greedy kernel's ``take`` for the same wave, used to
    pin unsplittable orders with ``qty > 1``) are described in the module
    doc. The inputs are not modified.

    Guarantees: no position gets more than its positive ATP and no location
    more orders than ``cap``; no fewer orders (units with ``split=True``)
    are served than by any plan within the same limits, greedy's included;
    among those, the total cost is minimal (exactly for unit orders; for
    pinned orders, given the pins). Raises InvalidInput for malformed
    arguments, naming the field.
    """
    st = _vec("start", start, np.int64)
    if st.shape[0] < 1 or st[0] != 0 or bool(np.any(np.diff(st) < 0)):
        raise InvalidInput("start", st, "must be non-decreasing offsets from 0")
    n = st.shape[0] - 1
    ne = int(st[-1])
    cd = _vec("cand", cand, np.int64, ne)
    cs = _vec("cost", cost, np.float64, ne)
    sk = _vec("sku", sku, np.int64, n)
    q = _vec("qty", qty, np.int64, n)
    try:
        A = np.asarray(atp, dtype=np.int64)
    except (TypeError, ValueError) as exc:
        raise InvalidInput("atp", atp, "must be a 2-d integer array") from exc
    if A.ndim != 2:
        raise InvalidInput("atp", A.shape, "must be 2-d: skus x locations")
    n_skus, n_locs = A.shape
    if ne and (cd.min() < 0 or cd.max() >= n_locs):
        raise InvalidInput("cand", cd, f"location indexes must be in [0, {n_locs})")
    if n and (sk.min() < 0 or sk.max() >= n_skus):
        raise InvalidInput("sku", sk, f"SKU indexes must be in [0, {n_skus})")
    if n and q.min() < 1:
        raise InvalidInput("qty", q, "must be >= 1")
    if bool(np.any(np.isnan(cs))) or bool(np.any(cs < 0)):
        raise InvalidInput("cost", cs, "must be >= 0 (inf leaves the pair out)")
    if not isinstance(split, bool):
        raise InvalidInput("split", split, "must be a bool")
    A = np.maximum(A, 0)
    C: NDArray[np.int64] | None = None
    if cap is not None:
        if split:
            raise InvalidInput(
                "cap",
                cap,
                "capacity counts parcels, which a split flow "
                "cannot count; pass cap=None with split=True",
            )
        C = np.maximum(_vec("cap", cap, np.int64, n_locs), 0)
    order_of = np.repeat(np.arange(n, dtype=np.int64), np.diff(st))

    # pinned orders: unsplittable qty > 1 keep greedy's takes
    take = np.zeros(ne, dtype=np.int64)
    free = np.ones(n, dtype=bool)
    if not split and n and q.max() > 1:
        if greedy_take is None:
            raise InvalidInput(
                "qty",
                q,
                "unsplittable orders with qty > 1 need greedy_take (they are pinned) or split=True",
            )
        gt = _vec("greedy_take", greedy_take, np.int64, ne)
        free = q == 1
        pe_ = ~free[order_of] & (gt > 0)
        take[pe_] = gt[pe_]
        np.subtract.at(A, (sk[order_of[pe_]], cd[pe_]), gt[pe_])
        if bool(np.any(A < 0)):
            raise InvalidInput("greedy_take", gt, "takes more than ATP")
        if C is not None:
            np.subtract.at(C, cd[pe_], 1)
            if bool(np.any(C < 0)):
                raise InvalidInput("greedy_take", gt, "uses more picks than cap")

    # edges worth keeping: free order, finite cost, stock and a pick left
    keep = free[order_of] & np.isfinite(cs)
    keep &= A[sk[order_of], cd] > 0
    if C is not None:
        keep &= C[cd] > 0
    ent = np.nonzero(keep)[0]
    ej = order_of[ent]
    key = sk[ej] * n_locs + cd[ent]
    pkeys, pidx = np.unique(key, return_inverse=True)
    n_pos = pkeys.shape[0]
    ploc = pkeys % n_locs
    patp = A[pkeys // n_locs, ploc]
    supply = np.where(free, q, 0).astype(np.int64)
    maxc = np.zeros(n, dtype=np.float64)
    np.maximum.at(maxc, ej, cs[ent])
    big = 1.0 + 2.0 * float(np.sum(supply * maxc))

    f_tail = [ej, np.arange(n, dtype=np.int64)]
    f_head: list[NDArray[np.int64]]
    f_cap = [supply[ej], supply]
    f_cost = [cs[ent], np.full(n, big)]
    if C is None:
        t = n + n_pos
        f_head = [n + pidx, np.full(n, t, dtype=np.int64)]
        f_tail.append(n + np.arange(n_pos, dtype=np.int64))
        f_head.append(np.full(n_pos, t, dtype=np.int64))
        f_cap.append(patp)
        f_cost.append(np.zeros(n_pos))
    else:
        lids, linv = np.unique(ploc, return_inverse=True)
        n_l = lids.shape[0]
        t = n + n_pos + n_l
        f_head = [n + pidx, np.full(n, t, dtype=np.int64)]
        f_tail += [n + np.arange(n_pos, dtype=np.int64), n + n_pos + np.arange(n_l)]
        f_head += [n + n_pos + linv, np.full(n_l, t, dtype=np.int64)]
        f_cap += [patp, np.minimum(C[lids], int(supply.sum()))]
        f_cost += [np.zeros(n_pos), np.zeros(n_l)]
    tail = np.concatenate(f_tail).astype(np.int64)
    head = np.concatenate(f_head).astype(np.int64)
    fcap = np.concatenate(f_cap).astype(np.int64)
    fcost = np.concatenate(f_cost).astype(np.float64)
    estart, eto, ecap, ecost, erev, pos = _graph(tail, head, fcap, fcost, t + 1)
    h = np.zeros(t + 1, dtype=np.float64)
    searches = int(_ssp(estart, eto, ecap, ecost, erev, supply.copy(), t, h))

    flow = fcap[: ent.shape[0]] - ecap[pos[: ent.shape[0]]]
    take[ent] = flow
    got = np.bincount(order_of, weights=take, minlength=n).astype(np.int64)
    loc = np.full(n, -1, dtype=np.int64)
    if ne:
        # the entry giving each order the most units (first on ties)
        used = np.nonzero(take > 0)[0]
        used = used[np.lexsort((used, -take[used], order_of[used]))]
        js, first = np.unique(order_of[used], return_index=True)
        loc[js] = cd[used[first]]
    used_cost = np.where(take > 0, cs, 0.0)
    total = float(np.sum(used_cost * take)) if split else float(np.sum(used_cost))
    if not math.isfinite(total):  # unreachable: inf pairs are never used
        raise AssertionError("a plan used an infinite-cost pair")
    return WavePlan(take, loc, got, int(np.sum(got >= q)), int(got.sum()), total, searches)
