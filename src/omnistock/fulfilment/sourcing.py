"""The sourcing core: choose locations for an order's unpinned lines.

:func:`source` works on plain values and an ATP matrix, so it can be tested
and reused without a ledger. It never changes its inputs. Every call
returns a :class:`SourcingPlan` with a :class:`Trace` that names every candidate.

How a plan is chosen
--------------------
1. Filter the candidates with the policy's filters, in order
   (:func:`~omnistock.fulfilment.filters.rejection`), then drop those with
   no ATP for any line (``no_stock``).
2. Rank the kept candidates lexicographically by the policy's location-level
   preferences (``closest``, ``priority``, ``highest_stock``,
   ``lowest_cost``), ties to the earlier candidate. Rank 0 is best.
3. Choose the set of locations ``S``:

   - ``allow_split=False``: the best-ranked location that covers the whole
     order alone.
   - policy starts with ``fewest_splits``: a smallest covering set; among the
     smallest, the one whose ranks, sorted, are lexicographically smallest
     (use the best-ranked location possible, then the next, ...).
   - otherwise: the shortest prefix of the ranking that covers the order.

   When nothing covers and ``allow_partial`` is set: with
   ``allow_split=False`` the single location serving most units (ties by
   rank), otherwise a greedy cover that serves every unit the kept locations
   hold. Otherwise the plan is ``unfillable`` with the reason.
4. Fill: each line, in order, is taken whole from the best-ranked location of
   ``S`` that still holds it, else from ``S`` in rank order. Lines of the
   same SKU share that SKU's ATP.

The covering-set search and its work bound are in
:mod:`omnistock.fulfilment.cover`.

Complexity: O(g * n) to filter and rank, plus the search above; the fill is
O(lines * |S|).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal

import attrs
import numpy as np
from numpy.typing import ArrayLike, NDArray

from ..errors import InvalidInput
from ..values import Channel, Line, Location, Order, Point
from .cover import EXACT_WORK, covers, greedy_cover, lex_first_single, need_count, smallest_cover
from .filters import rejection
from .geo import haversine_km
from .policy import DEFAULT_POLICY, Policy
from .trace import CandidateTrace, Trace

__all__ = [
    "EXACT_WORK",
    "CandidateTrace",
    "LinePlan",
    "Plan",
    "SourcingPlan",
    "Trace",
    "source",
    "source_order",
]

Status = Literal["allocated", "partial", "unfillable"]
Search = Literal["exact", "greedy", "single", "prefix", "none"]


@attrs.frozen
class LinePlan:
    """Where one line is served from: ``sources`` are (location, qty) pairs."""

    index: int
    sku: str
    qty: int
    sources: tuple[tuple[str, int], ...]

    @property
    def served(self) -> int:
        return sum(q for _, q in self.sources)


@attrs.frozen
class SourcingPlan:
    """The sourcing decision for one order.

    ``status``: ``allocated`` (every unit placed), ``partial`` (some, when
    the order allows it) or ``unfillable`` (nothing placed; ``reason`` says
    why). ``splits`` is the number of locations used minus one (0 for a
    single location or an unfillable order). ``cost`` is ``per_parcel`` per
    location used plus ``per_km`` times the distance of each."""

    status: Status
    lines: tuple[LinePlan, ...]
    locations: tuple[str, ...]
    splits: int
    cost: float
    search: Search
    trace: Trace
    reason: str | None = None

    @property
    def assignments(self) -> dict[int, list[tuple[str, int]]]:
        """Line index -> list of (location, qty)."""
        return {lp.index: list(lp.sources) for lp in self.lines}


Plan = SourcingPlan  # old name, for orders.py until the face rewrite lands


# ---------------------------------------------------------------- helpers
def _as_line(v: Any) -> Line:
    line = Line.of(v)
    if line.location is not None:
        raise InvalidInput(
            "lines", v, "a pinned line is reserved where pinned; source() takes only unpinned lines"
        )
    return line


def _matrix(field: str, v: ArrayLike, shape: tuple[int, int]) -> NDArray[np.int64]:
    try:
        a = np.asarray(v)
    except (TypeError, ValueError) as exc:
        raise InvalidInput(field, v, f"must be an integer matrix: {exc}") from None
    if a.shape != shape:
        raise InvalidInput(field, a.shape, f"must have shape {shape} (lines x candidates)")
    if a.size and not np.issubdtype(a.dtype, np.integer):
        raise InvalidInput(field, a.dtype, "must hold integers")
    return a.astype(np.int64, copy=False)


def _distances(
    dist: ArrayLike | None, origin: Point | None, candidates: Sequence[Location]
) -> NDArray[np.float64]:
    if dist is None:
        return np.array([haversine_km(origin, c.point) for c in candidates], dtype=np.float64)
    d = np.asarray(dist, dtype=np.float64)
    if d.shape != (len(candidates),):
        raise InvalidInput(
            "distances_km", d.shape, f"must have one distance per candidate ({len(candidates)})"
        )
    if np.isnan(d).any() or (d < 0).any():
        raise InvalidInput("distances_km", dist, "must be >= 0 (inf for unknown)")
    return d


def _rank_key(
    pref: str,
    i: int,
    dist: NDArray[np.float64],
    cands: Sequence[Location],
    stock: NDArray[np.int64],
    policy: Policy,
) -> float:
    if pref == "closest":
        return float(dist[i])
    if pref == "priority":
        return float(cands[i].priority)
    if pref == "highest_stock":
        return float(-stock[i])
    return policy.cost(float(dist[i]))  # lowest_cost


def _rank_sort_key(
    pref: str,
    i: int,
    dist: NDArray[np.float64],
    cands: Sequence[Location],
    stock: NDArray[np.int64],
    policy: Policy,
) -> float | int:
    # exact integers for priority and stock (the trace shows floats)
    if pref == "priority":
        return cands[i].priority
    if pref == "highest_stock":
        return -int(stock[i])
    return _rank_key(pref, i, dist, cands, stock, policy)


# ---------------------------------------------------------------- source
def source(
    lines: Sequence[Line | tuple[str, int]],
    candidates: Sequence[Location],
    atp: ArrayLike,
    policy: Policy = DEFAULT_POLICY,
    *,
    method: Literal["ship", "pickup"] = "ship",
    ship_to: Point | tuple[float, float] | None = None,
    channel: Channel | None = None,
    capacity_left: Mapping[str, int] | None = None,
    allow_split: bool = True,
    allow_partial: bool = False,
    safety: ArrayLike | None = None,
    distances_km: ArrayLike | None = None,
    search: Literal["auto", "greedy"] = "auto",
) -> SourcingPlan:
    """Choose where to serve ``lines`` from ``candidates`` (see module doc).

    ``atp[i, j]`` is the ATP of line i's SKU at candidate j (negative counts
    as 0; lines of one SKU must have equal rows). ``capacity_left`` maps a
    location id to the picks it has left today (absent: unlimited).
    ``safety`` (same shape) is added to ATP only when the policy has
    ``protect_safety=False``. ``distances_km`` overrides the haversine from
    ``ship_to`` (one per candidate; ``inf`` for unknown). ``search="greedy"``
    skips the exact search (for comparisons).

    Guarantees: no (SKU, location) is given more than its ATP; every
    candidate appears once in the trace; the inputs are not modified; the
    result depends only on the inputs (deterministic).
    Raises InvalidInput for malformed arguments, naming the field.
    """
    ls = tuple(_as_line(v) for v in lines)
    if not ls:
        raise InvalidInput("lines", lines, "must hold at least one line")
    cands = tuple(candidates)
    for c in cands:
        if not isinstance(c, Location):
            raise InvalidInput("candidates", c, "each candidate must be a Location")
    ids = [c.id for c in cands]
    if len(set(ids)) != len(ids):
        raise InvalidInput("candidates", ids, "lists a location twice")
    if not isinstance(policy, Policy):
        raise InvalidInput("policy", policy, "must be a Policy")
    if method not in ("ship", "pickup"):
        raise InvalidInput("method", method, "must be 'ship' or 'pickup'")
    if search not in ("auto", "greedy"):
        raise InvalidInput("search", search, "must be 'auto' or 'greedy'")
    if isinstance(ship_to, tuple | list) and len(ship_to) == 2:
        ship_to = Point(*ship_to)
    elif ship_to is not None and not isinstance(ship_to, Point):
        raise InvalidInput("ship_to", ship_to, "must be a Point(lat, lon), a pair or None")
    n_lines, n = len(ls), len(cands)
    M = _matrix("atp", atp, (n_lines, n))
    if safety is not None and not policy.protect_safety:
        M = M + np.maximum(_matrix("safety", safety, (n_lines, n)), 0)
    dist = _distances(distances_km, ship_to, cands)

    # SKU groups: lines of one SKU share its ATP row and add up their demand.
    group_of: dict[str, int] = {}
    rows: list[int] = []
    for i, line in enumerate(ls):
        g = group_of.get(line.sku)
        if g is None:
            group_of[line.sku] = len(rows)
            rows.append(i)
        elif not np.array_equal(M[i], M[rows[g]]):
            raise InvalidInput("atp", line.sku, "lines of one SKU must have equal ATP rows")
    G = np.maximum(M[rows], 0)  # groups x candidates
    demand = np.zeros(len(rows), dtype=np.int64)
    for line in ls:
        demand[group_of[line.sku]] += line.qty
    stock = G.sum(axis=0)

    # 1. filters
    reasons: list[tuple[str, str] | None] = []
    for j, c in enumerate(cands):
        why = rejection(
            c, policy, method, channel, distance_km=float(dist[j]), capacity_left=capacity_left
        )
        if why is None and int(stock[j]) <= 0:
            why = "no_stock", "no ATP for any line of the order"
        reasons.append(why)
    kept = [j for j in range(n) if reasons[j] is None]

    # 2. rank
    prefs = policy.rank_preferences
    order = sorted(
        kept, key=lambda j: (*(_rank_sort_key(p, j, dist, cands, stock, policy) for p in prefs), j)
    )
    rank = {j: r for r, j in enumerate(order)}

    # 3. choose S (rank positions)
    A = G[:, order] if order else np.zeros((len(rows), 0), dtype=np.int64)
    covered_all = bool((A.sum(axis=1) >= demand).all()) if order else False
    chosen: list[int] | None = None
    how: Search = "none"
    explain: list[str] = []
    if not order:
        reason = "no candidate location passed the filters"
    elif not allow_split:
        how = "single"
        for r in range(len(order)):
            if covers(A, demand, [r]):
                chosen = [r]
                explain.append(
                    f"split not allowed: rank {r} is the best-ranked location "
                    "that holds the whole order"
                )
                break
        reason = "no single location holds the whole order and split is not allowed"
        if chosen is None and allow_partial:
            served = [int(np.minimum(A[:, r], demand).sum()) for r in range(len(order))]
            best = max(range(len(order)), key=lambda r: (served[r], -r))
            chosen = [best]
            explain.append(f"partial: rank {best} serves the most units ({served[best]})")
    elif not covered_all:
        how = "greedy"
        reason = (
            f"the kept locations hold {int(np.minimum(A.sum(axis=1), demand).sum())} "
            f"of {int(demand.sum())} units"
        )
        if allow_partial:
            chosen = greedy_cover(A, demand)
            explain.append("partial: greedy cover of every unit the kept locations hold")
    elif policy.fewest_splits:
        greedy = greedy_cover(A, demand)
        if len(rows) == 1:
            k = need_count(A[0], int(demand[0]))
            chosen, how = lex_first_single(A[0], int(demand[0]), k), "exact"
        elif search == "greedy":
            chosen, how = greedy, "greedy"
        else:
            found, k = smallest_cover(A, demand, greedy)
            if found is None:
                chosen, how = greedy, "greedy"
                explain.append(
                    f"exact search stopped at {k} locations (work bound "
                    f"{EXACT_WORK}); greedy cover used"
                )
            else:
                chosen, how = found, "exact"
        if how == "exact":
            explain.append(
                f"fewest_splits: no set of fewer than {len(chosen)} location(s) covers the order"
            )
            explain.append(
                f"among covering sets of {len(chosen)}, the best ranks are {sorted(chosen)}"
            )
        reason = ""
    else:
        how = "prefix"
        chosen = []
        for r in range(len(order)):
            chosen.append(r)
            if covers(A, demand, chosen):
                break
        explain.append(
            f"no fewest_splits: the best {len(chosen)} ranked location(s) cover the order"
        )
        reason = ""

    if chosen is None:
        trace = _trace(
            cands, reasons, dist, stock, prefs, rank, policy, {}, [f"unfillable: {reason}"]
        )
        return SourcingPlan("unfillable", (), (), 0, 0.0, how, trace, reason)

    # 4. fill
    S = sorted(chosen)  # rank positions, best first
    work = {
        (group_of[ls[i].sku], r): int(A[group_of[ls[i].sku], r]) for i in range(n_lines) for r in S
    }
    plans: list[LinePlan] = []
    take: dict[int, int] = {}
    for i, line in enumerate(ls):
        g = group_of[line.sku]
        rem = line.qty
        srcs: list[tuple[str, int]] = []
        whole = next((r for r in S if work[g, r] >= rem), None)
        for r in [whole] if whole is not None else S:
            q = min(rem, work[g, r])
            if q > 0:
                work[g, r] -= q
                rem -= q
                j = order[r]
                srcs.append((cands[j].id, q))
                take[j] = take.get(j, 0) + q
            if rem == 0:
                break
        plans.append(LinePlan(i, line.sku, line.qty, tuple(srcs)))
    used = sorted(take, key=lambda j: rank[j])
    full = all(lp.served == lp.qty for lp in plans)
    status: Status = "allocated" if full else "partial"
    cost = sum(policy.cost(float(dist[j])) for j in used)
    best = used[0]
    explain.insert(
        0,
        f"{status}: {len(used)} location(s) "
        f"[{', '.join(cands[j].id for j in used)}], best {cands[best].id} "
        f"(rank {rank[best]} of {len(order)} kept)",
    )
    trace = _trace(cands, reasons, dist, stock, prefs, rank, policy, take, explain)
    return SourcingPlan(
        status,
        tuple(plans),
        tuple(cands[j].id for j in used),
        len(used) - 1,
        cost,
        how,
        trace,
        None if full else reason or "partial",
    )


def _trace(
    cands: Sequence[Location],
    reasons: list[tuple[str, str] | None],
    dist: NDArray[np.float64],
    stock: NDArray[np.int64],
    prefs: tuple[str, ...],
    rank: dict[int, int],
    policy: Policy,
    take: dict[int, int],
    explain: list[str],
) -> Trace:
    out = []
    for j, c in enumerate(cands):
        why = reasons[j]
        if why is not None:
            out.append(CandidateTrace(c.id, False, why[0], why[1], float(dist[j]), int(stock[j])))
        else:
            keys = tuple((p, _rank_key(p, j, dist, cands, stock, policy)) for p in prefs)
            out.append(
                CandidateTrace(
                    c.id,
                    True,
                    None,
                    None,
                    float(dist[j]),
                    int(stock[j]),
                    keys,
                    rank[j],
                    j in take,
                    take.get(j, 0),
                )
            )
    return Trace(tuple(out), policy.preferences, policy.filters, tuple(explain))


def source_order(
    order: Order,
    candidates: Sequence[Location],
    atp: ArrayLike,
    policy: Policy = DEFAULT_POLICY,
    *,
    channel: Channel | None = None,
    capacity_left: Mapping[str, int] | None = None,
    safety: ArrayLike | None = None,
    distances_km: ArrayLike | None = None,
) -> SourcingPlan:
    """:func:`source` for an :class:`Order`'s lines, method, split and partial
    flags. The destination is ``ship_to``; for a pickup order without one, the
    point of the ``pickup_at`` candidate (so "closest" means nearest to the
    pickup store). ``channel``, when given, must be the order's channel."""
    if channel is not None and order.channel is not None and channel.id != order.channel:
        raise InvalidInput("channel", channel.id, f"order is from channel {order.channel!r}")
    origin = order.ship_to
    if origin is None and order.method == "pickup":
        origin = next((c.point for c in candidates if c.id == order.pickup_at), None)
    return source(
        order.lines,
        candidates,
        atp,
        policy,
        method=order.method,
        ship_to=origin,
        channel=channel,
        capacity_left=capacity_left,
        allow_split=order.allow_split,
        allow_partial=order.allow_partial,
        safety=safety,
        distances_km=distances_km,
    )
