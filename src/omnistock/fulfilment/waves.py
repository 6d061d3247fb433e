"""Waves: a columnar ``OrderBatch`` decided by one kernel call.

The static filters are the same for the whole wave, so those locations are
left out of the candidates (the kernel's contract); each order's K nearest
candidates, ATP, priorities, daily capacity and the policy's preferences go
to ``allocate_wave_single`` as arrays, and the decisions come back as one
``take`` per candidate. ``optimize`` re-plans the greedy wave by min-cost
flow. The wave is journaled as ``held`` (and ``picked``) rows, visiting only
the candidates that took units.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np

from ..errors import InvalidInput, UnknownSku
from ..ledger.rows import Kind, make
from ..ledger.state import LedgerState
from ..lookup import channel_of
from ..picks import capacity_left
from ..planning import Context, Datas, Plan, done
from ..storage import NewRow
from .allocate import nearest_of
from .batch import BatchResult, OrderBatch
from .filters import static_ok
from .kernels import (
    ALLOCATED,
    ALLOW_PARTIAL,
    ALLOW_SPLIT,
    PARTIAL,
    STATUS_CODE,
    UNFILLABLE,
    UNLIMITED,
    allocate_wave_single,
    wave_policy,
)
from .optimize import optimize_wave
from .policy import Policy
from .results import Allocation


def decide_wave(
    st: LedgerState, cx: Context, b: OrderBatch, ttl_us: int, pol: Policy, optimize: bool = False
) -> Plan[BatchResult]:
    """Decide a columnar wave with the kernel, then journal it.
    O(orders x candidates^2) in the kernel."""
    g = st.grid
    n = len(b)
    ch = channel_of(st, b.channel) if b.channel is not None else None
    ix = g.sku_ix
    try:
        sku_rows = np.array([ix[x] for x in b.skus], dtype=np.int64)
    except KeyError as exc:
        if exc.args[0] in st.kits:  # kits take the order-by-order path (commands/kits.py)
            why = "is a kit: allocate kits with allocate() or allocate_many([Order, ...])"
            raise InvalidInput("skus", exc.args[0], why) from None
        raise UnknownSku(exc.args[0], "skus") from None
    cands = [c for c in st.locations.values() if static_ok(c, "ship", ch, pol)]
    k = len(cands) if pol.candidates is None else min(len(cands), pol.candidates)
    cols = np.array([g.loc_ix[c.id] for c in cands], dtype=np.int64)
    start = np.arange(n + 1, dtype=np.int64) * k
    idx, dist = nearest_of(b.lat, b.lon, cands, k)
    cand = cols[idx]
    atp = g.atp_matrix()
    nl = atp.shape[1]
    prio = np.zeros(nl, dtype=np.int64)
    cap = np.full(nl, UNLIMITED, dtype=np.int64)
    left = capacity_left(st, cx.now) if "capacity" in pol.filters else {}
    for c in st.locations.values():
        prio[g.loc_ix[c.id]] = c.priority
        if c.id in left:
            cap[g.loc_ix[c.id]] = left[c.id]
    flags = np.full(n, ALLOW_SPLIT * b.allow_split | ALLOW_PARTIAL * b.allow_partial, np.uint8)
    prefs, radius, per_parcel, per_km = wave_policy(pol)
    if "radius" not in pol.filters:
        radius = -1.0
    take = np.zeros(n * k, dtype=np.int64)
    status = np.zeros(n, dtype=np.int8)
    atp0, cap0 = (atp.copy(), cap.copy()) if optimize else (atp, cap)
    allocate_wave_single(
        start, cand, dist, sku_rows, b.qty, flags, prio, cap, atp, prefs, radius, per_parcel,
        per_km, take, status,
    )  # fmt: skip
    if optimize:
        cost = per_parcel + per_km * dist if (per_parcel or per_km) else dist.copy()
        if radius >= 0:
            cost[~(dist <= radius)] = np.inf
        plan = optimize_wave(
            start, cand, cost, sku_rows, b.qty, atp0,
            cap0 if "capacity" in pol.filters else None, greedy_take=take,
        )  # fmt: skip
        take = plan.take
        status = np.where(
            plan.qty >= b.qty, ALLOCATED, np.where(plan.qty > 0, PARTIAL, UNFILLABLE)
        ).astype(np.int8)
    return _wave_rows(st, cx, b, ttl_us, start, cand, take, status)


def _wave_rows(
    st: LedgerState,
    cx: Context,
    b: OrderBatch,
    ttl_us: int,
    start: np.ndarray,
    cand: np.ndarray,
    take: np.ndarray,
    status: np.ndarray,
) -> Plan[BatchResult]:
    """Journal rows and the columnar result of a decided wave. Visits only
    the candidate entries that took units: O(orders + takes)."""
    g = st.grid
    ts = cx.ts
    exp = cx.until("ttl", ttl_us)
    # One pick per capacity-limited location an order uses, on its local day.
    picks = {
        g.loc_ix[c.id]: {"day": c.day(cx.now)}
        for c in st.locations.values()
        if c.daily_capacity is not None
    }
    pick_texts = {col: json.dumps(d) for col, d in picks.items()}
    entries = np.flatnonzero(take)
    owner = np.searchsorted(start, entries, side="right") - 1
    rows: list[NewRow] = []
    datas: Datas = []
    rids: list[str | None] = [None] * len(b)
    taken_ids: set[str] = set()
    channel = b.channel
    locs = g.locs
    lat, lon = b.lat, b.lon
    last = -1
    rid = ""
    text = ""
    data: dict[str, Any] = {}
    for e, j in zip(entries.tolist(), owner.tolist(), strict=True):
        if j != last:
            last = j
            oid = b.order_ids[j]
            rid = st.holds.next_id(oid, taken_ids)
            taken_ids.add(rid)
            rids[j] = rid
            claim = cx.claim("order:" + oid)
            rows.extend(claim)
            datas.extend([None] * len(claim))
            data = {"order": oid, "exp": exp}
            if not np.isnan(lat[j]):
                data["to"] = [float(lat[j]), float(lon[j])]
            text = json.dumps(data)
        col = int(cand[e])
        rows.append(
            make(
                Kind.HELD,
                ts,
                sku=b.skus[j],
                location=locs[col],
                qty=int(take[e]),
                ref=rid,
                channel=channel,
                data=text,
            )
        )
        datas.append(data)
        if col in picks:
            rows.append(
                make(Kind.PICKED, ts, location=locs[col], qty=1, ref=rid, data=pick_texts[col])
            )
            datas.append(picks[col])
    counts = np.bincount(owner, minlength=len(b)) if len(b) else np.zeros(0, np.int64)
    out_start = np.zeros(len(b) + 1, dtype=np.int64)
    np.cumsum(counts, out=out_start[1:])
    result = BatchResult(
        b.order_ids, status.copy(), tuple(rids), out_start,
        tuple(locs[int(c)] for c in cand[entries]), take[entries].astype(np.int64),
    )  # fmt: skip
    return Plan(rows, datas, done(result))


def batch_of(b: OrderBatch, allocs: list[Allocation]) -> BatchResult:
    """Order-by-order allocations as a columnar result."""
    start = [0]
    locs: list[str] = []
    qty: list[int] = []
    for a in allocs:
        for ln in a.lines:
            locs.append(ln.location)
            qty.append(ln.qty)
        start.append(len(locs))
    return BatchResult(
        b.order_ids,
        np.array([STATUS_CODE[a.status] for a in allocs], dtype=np.int8),
        tuple(None if a.reservation is None else a.reservation.id for a in allocs),
        np.array(start, dtype=np.int64),
        tuple(locs),
        np.array(qty, dtype=np.int64),
    )
