"""The single-order decision: where each line of one order is reserved.

Pinned lines are reserved where pinned; the sourcing policy picks locations
for the rest (``source_lines``), against ATP less what this command has
already taken. A pickup order goes to ``bopis``. The decision is returned as
a plan: the ``held`` rows (and a ``picked`` row per capacity-limited
location a ship order uses today) and the ``Allocation``, whose reservation
is read from the ledger once the rows are folded.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any

import attrs
import numpy as np

from ..errors import InsufficientStock
from ..ledger.grid import Pos
from ..ledger.rows import Kind, make
from ..ledger.state import LedgerState
from ..lookup import channel_room, fenced, reservation_of
from ..picks import capacity_left, pick_rows
from ..planning import Context, Datas, Guard, Plan, WithinFree, done
from ..storage import NewRow
from ..values import Channel, Line, Order, Point
from .backorders import Waits, backorder_loose, backorder_rows
from .filters import static_ok
from .kernels import nearest
from .policy import DEFAULT_POLICY, Policy
from .results import Allocation, Status
from .sourcing import SourcingPlan, source

# -- the policy in force -----------------------------------------------------------
_policy_cache: list[Any] = [None, None]  # (the journaled dict, its Policy)


def policy_of(st: LedgerState) -> Policy:
    """The sourcing policy in force (journaled; the ledger keeps it as a
    dict). Parsed once per change. O(1) when unchanged."""
    d = st.policy
    if d is None:
        return DEFAULT_POLICY
    cache = _policy_cache
    if cache[0] is d:
        pol: Policy = cache[1]
        return pol
    pol = Policy.from_dict(d)
    cache[0], cache[1] = d, pol
    return pol


# -- shared by every fulfilment decision ------------------------------------------
def nearest_of(
    olat: np.ndarray, olon: np.ndarray, locs: Sequence[Any], k: int
) -> tuple[np.ndarray, np.ndarray]:
    """Per origin, the ``k`` nearest of ``locs`` (all, in their order, when
    ``k == len(locs)``): flat index and km arrays (see ``kernels.nearest``)."""
    lat = np.array([np.nan if c.point is None else c.point.lat for c in locs], dtype=np.float64)
    lon = np.array([np.nan if c.point is None else c.point.lon for c in locs], dtype=np.float64)
    idx = np.empty(len(olat) * k, dtype=np.int64)
    dist = np.empty(len(olat) * k, dtype=np.float64)
    if k:
        nearest(
            np.ascontiguousarray(olat, dtype=np.float64),
            np.ascontiguousarray(olon, dtype=np.float64),
            lat,
            lon,
            k,
            idx,
            dist,
        )
    return idx, dist


def source_lines(
    st: LedgerState,
    now: int,
    lines: Sequence[Line],
    method: str,
    ship_to: Point | None,
    ch: Channel | None,
    pol: Policy,
    taken: dict[Pos, int],
    exclude: tuple[str, ...],
    allow_split: bool = True,
    allow_partial: bool = False,
) -> SourcingPlan:
    """Run the sourcing policy for unpinned lines, with ATP less what this
    command has already ``taken``. Candidates are every location, or the
    policy's K nearest that pass the static filters; distances come from the
    same vectorised haversine the wave path uses, so both decide alike."""
    g = st.grid
    if exclude:
        pol = attrs.evolve(pol, exclude=tuple(dict.fromkeys(pol.exclude + exclude)))
    cands = list(st.locations.values())
    if pol.candidates is not None:
        cands = [c for c in cands if static_ok(c, method, ch, pol)]
    k = len(cands) if pol.candidates is None else min(len(cands), pol.candidates)
    origin = (np.nan, np.nan) if ship_to is None else (ship_to.lat, ship_to.lon)
    idx, dist = nearest_of(np.array([origin[0]]), np.array([origin[1]]), cands, k)
    cands = [cands[i] for i in idx]
    cols = np.array([g.loc_ix[c.id] for c in cands], dtype=np.int64)
    atp = np.empty((len(lines), len(cands)), dtype=np.int64)
    for i, ln in enumerate(lines):
        s = g.sku_ix[ln.sku]
        row = g.atp_row(s, cols)
        for (ts, tl), q in taken.items():
            if ts == s:
                row[cols == tl] -= q
        atp[i] = row
    return source(
        [Line(ln.sku, ln.qty) for ln in lines],
        cands,
        atp,
        pol,
        method="ship" if method == "ship" else "pickup",
        ship_to=ship_to,
        channel=ch,
        capacity_left=capacity_left(st, now),
        allow_split=allow_split,
        allow_partial=allow_partial,
        distances_km=dist,
    )


def add_sources(st: LedgerState, plan: SourcingPlan, want: dict[Pos, int]) -> None:
    """Add what ``plan`` takes per position to ``want``."""
    g = st.grid
    for lp in plan.lines:
        s = g.sku_ix[lp.sku]
        for loc, q in lp.sources:
            p = (s, g.loc_ix[loc])
            want[p] = want.get(p, 0) + q


def hold_data(
    order_id: str | None, dest: Point | None, pickup: str | None, exp: int | None
) -> dict[str, Any]:
    """The data of a ``held`` row: order, expiry, destination, pickup store."""
    data: dict[str, Any] = {"order": order_id}
    if exp is not None:
        data["exp"] = exp
    if dest is not None:
        data["to"] = [dest.lat, dest.lon]
    if pickup is not None:
        data["pickup"] = pickup
    return data


def hold_rows(
    st: LedgerState, cx: Context, rid: str, order: Order, want: dict[Pos, int], exp: int
) -> tuple[list[NewRow], Datas]:
    """``held`` rows reserving ``want`` for a new reservation ``rid``."""
    g = st.grid
    pickup = order.pickup_at if order.method == "pickup" else None
    data = hold_data(order.id, order.ship_to, pickup, exp)
    text = json.dumps(data)
    rows: list[NewRow] = [
        make(
            Kind.HELD,
            cx.ts,
            sku=g.skus[s],
            location=g.locs[l],
            qty=q,
            ref=rid,
            channel=order.channel,
            key=cx.key,
            data=text,
        )
        for (s, l), q in want.items()
    ]
    return rows, [data] * len(rows)


def allocated(rid: str, order_id: str, status: Status, **fields: Any) -> Any:
    """An ``Allocation`` result whose reservation and lines are read from
    the ledger after the fold."""

    def read(st: LedgerState) -> Allocation:
        res = reservation_of(st, st.holds.need_peek(rid))
        return Allocation(order_id, status, res, res.lines, **fields)

    return read


def refused(order_id: str, **fields: Any) -> Plan[Allocation]:
    """An ``unfillable`` allocation: a refusal, so nothing is journaled,
    not even the command's key (a retry after a restock may succeed)."""
    return Plan([], [], done(Allocation(order_id, "unfillable", **fields)), refused=True)


def channel_refusal(st: LedgerState, ch: Channel | None, lines: Iterable[Line]) -> str | None:
    """Why the channel's fence refuses ``lines``, or None."""
    if ch is None or not fenced(st, ch):
        return None
    need: dict[str, int] = {}
    for ln in lines:
        need[ln.sku] = need.get(ln.sku, 0) + ln.qty
    for sku, q in need.items():
        room = channel_room(st, ch, st.grid.sku_ix[sku])
        if q > room:
            return (
                f"channel {ch.id!r} may sell {room} of sku {sku!r} "
                f"(buffer {ch.buffer}, cap {ch.cap}, others' fences), order asks {q}"
            )
    return None


def position_guards(st: LedgerState, want: dict[Pos, int]) -> list[Guard]:
    g = st.grid
    return [WithinFree(g.skus[s], g.locs[l]) for (s, l) in want]


def decide_ship(
    st: LedgerState,
    cx: Context,
    order: Order,
    ttl_us: int,
    pol: Policy,
    ch: Channel | None,
    want: dict[Pos, int],
    short: dict[Pos, int] | None = None,
) -> Plan[Allocation]:
    """Reserve a ship order: ``want`` holds its pinned lines (checked), the
    policy sources the rest. ``unfillable`` is an answer, not an error, and
    journals nothing. A backorder (``short``: its pinned lines' units not
    on hand) waits for dated supply for what on-hand stock cannot cover
    (``backorders.py``). O(lines x candidates) plus the sourcing search."""
    back = order.backorder
    refusal = None if back else channel_refusal(st, ch, order.lines)
    if refusal:
        return refused(order.id, reason=refusal)
    loose = [ln for ln in order.lines if ln.location is None]
    plan: SourcingPlan | None = None
    sourced: dict[str, int] = {}
    if loose:
        plan = source_lines(
            st, cx.now, loose, "ship", order.ship_to, ch, pol, want, (),
            order.allow_split, order.allow_partial or back,
        )  # fmt: skip
        if plan.status == "unfillable" and not back:
            return refused(order.id, trace=plan.trace, reason=plan.reason)
        if plan.status != "unfillable":
            add_sources(st, plan, want)
            for lp in plan.lines:
                sourced[lp.sku] = sourced.get(lp.sku, 0) + sum(q for _, q in lp.sources)
    waits: Waits = []
    if back:
        trace = None if plan is None else plan.trace
        try:
            waits = backorder_loose(st, cx.now, order, ch, want, short or {}, sourced)
        except InsufficientStock as exc:
            return refused(order.id, trace=trace, reason=str(exc))
        refusal = channel_refusal(st, ch, [Line(st.grid.skus[s], q) for (s, _), q in want.items()])
        if refusal or not (want or waits):
            return refused(order.id, trace=trace, reason=refusal or "nothing to reserve")
    asked = sum(ln.qty for ln in order.lines)
    got = sum(want.values()) + sum(q for _, q in waits)
    status: Status = "allocated" if got >= asked else "partial"
    rid = st.holds.next_id(order.id)
    rows, datas = hold_rows(st, cx, rid, order, want, cx.until("ttl", ttl_us))
    if waits:
        pickup = order.pickup_at if order.method == "pickup" else None
        data = hold_data(order.id, order.ship_to, pickup, cx.until("ttl", ttl_us))
        r, d = backorder_rows(st, cx, rid, order.channel, waits, data)
        rows += r
        datas += d
    rows_p, datas_p = pick_rows(st, cx, order.method, want, rid)
    reason = plan.reason if plan is not None and plan.status == "partial" else None
    trace = None if plan is None else plan.trace
    result = allocated(rid, order.id, status, trace=trace, reason=reason)
    return Plan(rows + rows_p, datas + datas_p, result, position_guards(st, want))
