"""Naive references for every numba kernel: plain loops over plain lists.

Each function here states, as directly as Python allows, what one kernel
computes; ``test_kernels_vs_naive.py`` checks the kernel against it on random
inputs. They take Python lists (or anything indexable) and return fresh
lists, never touching their arguments, and use no numpy: obviously correct,
slow, and independent of the kernels' tricks (rollback, insertion ranking,
hashing, heaps, precomputed sines).

Kernel                                     Reference
``ledger.kernels.apply_deltas``            :func:`apply_deltas`
``ledger.kernels.reserve_lines``           :func:`reserve_lines`
``ledger.kernels.decide_batch``            :func:`decide_batch`
``ledger.kernels.compact_held``            :func:`compact_held`
``ledger.names._offsets``                  :func:`name_offsets`
``ledger.names._append``                   :func:`append_names`
``ledger.names._find``                     :func:`find_names`
``fulfilment.kernels.allocate_wave_single`` :func:`allocate_wave_single`
``fulfilment.kernels.nearest``             :func:`nearest`, :func:`haversine_km`
``fulfilment.optimize._ssp``               :func:`min_cost_flow`
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from typing import Any

Grid = list[list[int]]


def _copy(grid: Any) -> Grid:
    return [[int(x) for x in row] for row in grid]


# -- ledger.kernels ---------------------------------------------------------------
def apply_deltas(
    s: Sequence[int],
    loc: Sequence[int],
    d_free: Sequence[int],
    d_res: Sequence[int],
    free: Any,
    reserved: Any,
) -> tuple[Grid, Grid]:
    """Each delta added at its position: ``(free, reserved)`` after."""
    f, r = _copy(free), _copy(reserved)
    for i in range(len(s)):
        f[s[i]][loc[i]] += d_free[i]
        r[s[i]][loc[i]] += d_res[i]
    return f, r


def reserve_lines(
    s: Sequence[int], loc: Sequence[int], qty: Sequence[int], free: Any, reserved: Any
) -> tuple[list[int], int, Grid]:
    """Each line on its own, in order, reserved where ``free - reserved >=
    qty``: ``(ok, number reserved, reserved after)``."""
    r = _copy(reserved)
    ok = []
    for a, b, q in zip(s, loc, qty, strict=True):
        good = int(free[a][b]) - r[a][b] >= q
        if good:
            r[a][b] += q
        ok.append(int(good))
    return ok, sum(ok), r


def decide_batch(
    start: Sequence[int],
    s: Sequence[int],
    loc: Sequence[int],
    qty: Sequence[int],
    served: Sequence[int],
    free: Any,
    reserved: Any,
) -> tuple[list[int], list[int], int, Grid]:
    """Orders all-or-nothing, in order: ``(status, line_held, held, reserved
    after)``. An order's first unusable line names its status (2 unknown
    SKU, 3 unknown location, 4 location not served); otherwise it is held
    (1) when, at every position it touches, the sum of its lines there fits
    what is free, else refused (0)."""
    r = _copy(reserved)
    status: list[int] = []
    line_held: list[int] = []
    for j in range(len(start) - 1):
        lines = range(start[j], start[j + 1])
        code = 0
        for k in lines:
            if s[k] < 0:
                code = 2
            elif loc[k] < 0:
                code = 3
            elif not served[loc[k]]:
                code = 4
            if code:
                break
        if not code:
            need: dict[tuple[int, int], int] = {}
            for k in lines:
                need[(s[k], loc[k])] = need.get((s[k], loc[k]), 0) + qty[k]
            good = all(int(free[a][b]) - r[a][b] >= q for (a, b), q in need.items())
            if good:
                for (a, b), q in need.items():
                    r[a][b] += q
            code = 1 if good else 0
        status.append(code)
        line_held += [int(code == 1)] * len(lines)
    return status, line_held, status.count(1), r


def compact_held(
    order_ids: Sequence[str],
    skus: Sequence[str],
    status: Sequence[int],
    start: Sequence[int],
    s: Sequence[int],
    loc: Sequence[int],
    qty: Sequence[int],
) -> dict[str, list[Any]]:
    """The held orders (status 1) of a decided batch and their lines, in
    batch order: ids and SKU names, lines, CSR offsets, and the distinct
    locations of held lines in order of first appearance with each held
    line's place among them."""
    out: dict[str, list[Any]] = {
        k: [] for k in ("orders", "skus", "s", "loc", "qty", "table", "li")
    }
    out["start"] = [0]
    for j in range(len(status)):
        if status[j] != 1:
            continue
        out["orders"].append(order_ids[j])
        for k in range(start[j], start[j + 1]):
            out["skus"].append(skus[k])
            out["s"].append(s[k])
            out["loc"].append(loc[k])
            out["qty"].append(qty[k])
            if loc[k] not in out["table"]:
                out["table"].append(loc[k])
            out["li"].append(out["table"].index(loc[k]))
        out["start"].append(len(out["s"]))
    return out


# -- ledger.names ---------------------------------------------------------------------
def name_offsets(codes: Sequence[int], n: int) -> tuple[int, list[int]]:
    """``(charset, offsets)`` of ``n`` NUL-separated names in ``codes``:
    charset -1 unless there are exactly ``n`` names, else 1 when every code
    point is printable ASCII, else 0; offsets: where each name starts, then
    ``len(codes) + 1``."""
    nuls = [i for i, c in enumerate(codes) if c == 0]
    if len(nuls) != n - 1:
        return -1, []
    offs = [0, *(i + 1 for i in nuls), len(codes) + 1]
    printable = all(0x20 <= c <= 0x7E for c in codes if c != 0)
    return int(printable), offs


def append_names(
    entries: Sequence[tuple[int, str]], names: Sequence[str], lo: int
) -> tuple[int, list[int]]:
    """Names ``names`` appended, as positions ``lo, lo + 1, ...``, to the
    index whose entries are ``(position, name)``. Returns ``(used, ent)``:
    the entry buffer ``[position, code points..., 0]`` per entry and its
    length, or ``(-(i + 1), [])`` for the first name ``i`` equal to one
    already there (indexed before, or earlier in ``names``)."""
    seen = {x for _, x in entries}
    everything = list(entries)
    for i, x in enumerate(names):
        if x in seen:
            return -(i + 1), []
        seen.add(x)
        everything.append((lo + i, x))
    ent: list[int] = []
    for pos, x in everything:
        ent += [pos, *(ord(c) for c in x), 0]
    return len(ent), ent


def find_names(index: dict[str, int], query: Sequence[str]) -> tuple[list[int], int]:
    """Each query name's position in ``index``, -1 where absent, and how
    many are absent."""
    out = [index.get(x, -1) for x in query]
    return out, out.count(-1)


# -- fulfilment.kernels ---------------------------------------------------------------
def allocate_wave_single(
    start: Sequence[int],
    cand: Sequence[int],
    dist: Sequence[float],
    sku: Sequence[int],
    qty: Sequence[int],
    flags: Sequence[int],
    prio: Sequence[int],
    cap_left: Sequence[int],
    atp: Any,
    prefs: Sequence[str],
    radius: float,
    per_parcel: float,
    per_km: float,
) -> dict[str, Any]:
    """Single-line orders served one after the other, each from its
    candidate entries ``start[j]:start[j + 1]``:

    1. keep the entries within ``radius`` (if ``radius >= 0``) whose location
       has capacity left and positive ATP for the SKU;
    2. rank them by the preference names (``closest``, ``priority``,
       ``highest_stock``, ``lowest_cost``; ``fewest_splits`` only changes the
       choice below, and only as the first preference), ties keeping entry
       order (a stable sort);
    3. choose: without split, the best-ranked location that holds the whole
       quantity, else (partial allowed) the one holding the most; with split,
       if all of them hold too little, all of them (partial) or none; with
       ``fewest_splits`` first, the fewest locations that hold it, the
       earliest such set in rank order; otherwise the best-ranked locations
       until the quantity is covered;
    4. take: all of it from the best-ranked chosen location holding it
       whole, else from the chosen ones in rank order; each location used
       loses one unit of capacity.

    Returns ``take`` (per entry), ``status`` (1 allocated, 2 partial, 0
    unfillable), ``done`` (orders allocated), and ``atp``/``cap_left`` after."""
    a_tp = _copy(atp)
    cap = [int(x) for x in cap_left]
    take = [0] * len(cand)
    status: list[int] = []
    for j in range(len(start) - 1):
        s, q = sku[j], qty[j]
        split, partial = bool(flags[j] & 1), bool(flags[j] & 2)
        kept = [
            e
            for e in range(start[j], start[j + 1])
            if (radius < 0 or dist[e] <= radius) and cap[cand[e]] > 0 and a_tp[s][cand[e]] > 0
        ]

        def key(e: int, s: int = s) -> list[float]:
            out: list[float] = []
            for p in prefs:
                if p == "closest":
                    out.append(dist[e])
                elif p == "priority":
                    out.append(prio[cand[e]])
                elif p == "highest_stock":
                    out.append(-a_tp[s][cand[e]])
                elif p == "lowest_cost":
                    out.append(per_parcel if per_km == 0 else per_parcel + per_km * dist[e])
            return out

        ranked = sorted(kept, key=key)
        have = [a_tp[s][cand[e]] for e in ranked]
        m = len(ranked)
        chosen: list[int] = []
        if m == 0:
            pass
        elif not split:
            whole = [i for i in range(m) if have[i] >= q]
            if whole:
                chosen = whole[:1]
            elif partial:
                chosen = [max(range(m), key=lambda i: (have[i], -i))]
        elif sum(have) < q:
            chosen = list(range(m)) if partial else []
        elif prefs and prefs[0] == "fewest_splits":
            k = 1
            while sum(sorted(have, reverse=True)[:k]) < q:
                k += 1
            for combo in itertools.combinations(range(m), k):
                if sum(have[i] for i in combo) >= q:
                    chosen = list(combo)
                    break
        else:
            acc = 0
            for i in range(m):
                chosen.append(i)
                acc += have[i]
                if acc >= q:
                    break
        holds_all = [i for i in chosen if have[i] >= q]
        use = holds_all[:1] if holds_all else chosen
        rem = q
        for i in use:
            x = min(rem, have[i])
            if x > 0:
                e = ranked[i]
                take[e] = x
                a_tp[s][cand[e]] -= x
                cap[cand[e]] -= 1
                rem -= x
        status.append(1 if rem == 0 else 2 if rem < q else 0)
    return {"take": take, "status": status, "done": status.count(1), "atp": a_tp, "cap": cap}


EARTH_KM = 6371.0088


def haversine_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle km between two points in degrees; ``inf`` when either is
    unknown (NaN)."""
    if any(math.isnan(x) for x in (lat1, lon1, lat2, lon2)):
        return math.inf
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dphi, dl = math.radians(lat2 - lat1), math.radians(lon2 - lon1)
    h = math.sin(dphi / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_KM * math.asin(min(1.0, math.sqrt(h)))


def nearest(
    olat: Sequence[float],
    olon: Sequence[float],
    clat: Sequence[float],
    clon: Sequence[float],
    k: int,
) -> list[tuple[list[int], list[float]]]:
    """Per origin, ``(indices, km)``: every candidate in its own order when
    ``k == len(clat)``, else the ``k`` nearest by distance, ties to the lower
    index (unknown points are farthest)."""
    out = []
    for i in range(len(olat)):
        d = [haversine_km(olat[i], olon[i], clat[j], clon[j]) for j in range(len(clat))]
        if k == len(clat):
            idx = list(range(len(clat)))
        else:
            idx = sorted(range(len(clat)), key=lambda j, d=d: (d[j], j))[:k]
        out.append((idx, [d[j] for j in idx]))
    return out


# -- fulfilment.optimize -----------------------------------------------------------
def min_cost_flow(
    n_nodes: int, edges: Sequence[tuple[int, int, int, float]], supply: Sequence[int], t: int
) -> float:
    """The least total cost (``sum(flow * cost)``) of sending every node's
    ``supply`` to ``t`` over ``edges`` ``(tail, head, capacity, cost)``:
    successive shortest paths from a super source, each found by
    Bellman-Ford over the residual graph. Raises if the supply cannot all
    reach ``t``."""
    src = n_nodes
    # residual edges: [head, capacity, cost, index of the reverse edge]
    adj: list[list[list[Any]]] = [[] for _ in range(n_nodes + 1)]

    def add(u: int, v: int, c: int, w: float) -> None:
        adj[u].append([v, c, w, len(adj[v])])
        adj[v].append([u, 0, -w, len(adj[u]) - 1])

    for u, v, c, w in edges:
        add(u, v, c, w)
    for u, b in enumerate(supply):
        if b > 0:
            add(src, u, b, 0.0)
    left, total = sum(supply), 0.0
    while left > 0:
        dist = [math.inf] * (n_nodes + 1)
        back: list[tuple[int, int] | None] = [None] * (n_nodes + 1)
        dist[src] = 0.0
        for _ in range(n_nodes + 1):
            changed = False
            for u in range(n_nodes + 1):
                if dist[u] == math.inf:
                    continue
                for i, (v, c, w, _r) in enumerate(adj[u]):
                    if c > 0 and dist[u] + w < dist[v]:
                        dist[v], back[v] = dist[u] + w, (u, i)
                        changed = True
            if not changed:
                break
        if dist[t] == math.inf:
            raise ValueError("the supply cannot all reach t")
        push, v = left, t
        while v != src:
            step = back[v]
            assert step is not None
            u, i = step
            push = min(push, adj[u][i][1])
            v = u
        v = t
        while v != src:
            step = back[v]
            assert step is not None
            u, i = step
            adj[u][i][1] -= push
            adj[v][adj[u][i][3]][1] += push
            total += push * adj[u][i][2]
            v = u
        left -= push
    return total
