"""Buy online, pick up in store: reserve at the pickup store now.

If the store is short, the policy's ``bopis_fallback`` says what to do, in
order: ``transfer`` (source the missing units from a nearby location, in
transit to the store, and say when the order is ready) or ``suggest`` (the
nearest pickup stores that can serve the whole order now); otherwise the
order is refused with the reason (or partly reserved, if it allows it).
"""

from __future__ import annotations

import json
from typing import Any

import attrs

from .._validate import from_micros
from ..errors import InvalidInput
from ..ledger.grid import Pos
from ..ledger.rows import Kind, make
from ..ledger.state import LedgerState
from ..planning import Context, Datas, Plan
from ..storage import NewRow
from ..values import Channel, Line, Location, Order, Transfer
from .allocate import allocated, channel_refusal, hold_rows, position_guards, refused, source_lines
from .geo import haversine_km
from .policy import Policy
from .results import Allocation, Suggestion
from .sourcing import SourcingPlan


def transfer_policy(pol: Policy) -> Policy:
    """Transfers are internal moves: only distance and exclusions filter them."""
    return attrs.evolve(
        pol,
        filters=("radius", "excluded"),
        radius_km=pol.transfer_radius_km,
        preferences=("fewest_splits", "closest", "priority"),
    )


def lead_time_us(pol: Policy) -> int:
    """The policy's transfer lead time in microseconds."""
    return int(pol.transfer_hours * 3600 * 1_000_000)


def decide_pickup(
    st: LedgerState, cx: Context, order: Order, ttl_us: int, pol: Policy, ch: Channel | None
) -> Plan[Allocation]:
    """Reserve a pickup order at its ``pickup_at`` store (see the module doc)."""
    g = st.grid
    assert order.pickup_at is not None
    store_id = order.pickup_at  # a registered location (the command checked)
    l = g.loc_ix[store_id]
    store = st.locations[store_id]
    if not store.pickup:
        raise InvalidInput("pickup_at", store_id, "does not offer pickup")
    for ln in order.lines:
        if ln.location is not None and ln.location != store_id:
            why = (
                "a pickup order is reserved at its pickup_at store; do not pin its lines elsewhere"
            )
            raise InvalidInput("lines", ln, why)
    refusal = channel_refusal(st, ch, order.lines)
    if refusal:
        return refused(order.id, reason=refusal)
    need: dict[str, int] = {}
    for ln in order.lines:
        need[ln.sku] = need.get(ln.sku, 0) + ln.qty
    here = {sku: min(q, max(0, g.atp(g.sku_ix[sku], l))) for sku, q in need.items()}
    short = {sku: q - here[sku] for sku, q in need.items() if q > here[sku]}
    want = {(g.sku_ix[sku], l): q for sku, q in here.items() if q > 0}
    rid = st.holds.next_id(order.id)
    if not short:
        rows, datas = hold_rows(st, cx, rid, order, want, cx.until("ttl", ttl_us))
        return Plan(rows, datas, allocated(rid, order.id, "allocated"), position_guards(st, want))
    missing = ", ".join(f"{q} x {sku}" for sku, q in short.items())
    reason = f"pickup store {store_id!r} is short of {missing}"
    for outcome in pol.bopis_fallback:
        if outcome == "transfer":
            planned = _transfer_in(st, cx, order, rid, short, store, ttl_us, pol, want)
            if planned is not None:
                return planned
        elif outcome == "suggest":
            sugg = suggest(st, need, store, pol.suggestions)
            if sugg:
                names = ", ".join(f"{s.location} ({s.distance_km:.1f} km)" for s in sugg)
                return refused(
                    order.id, suggestions=sugg, reason=f"{reason}; can serve it now: {names}"
                )
    if order.allow_partial and want:
        rows, datas = hold_rows(st, cx, rid, order, want, cx.until("ttl", ttl_us))
        result = allocated(rid, order.id, "partial", reason=reason)
        return Plan(rows, datas, result, position_guards(st, want))
    return refused(order.id, reason=f"{reason}; no transfer or nearby store can cover it")


def _transfer_in(
    st: LedgerState,
    cx: Context,
    order: Order,
    rid: str,
    short: dict[str, int],
    store: Location,
    ttl_us: int,
    pol: Policy,
    want: dict[Pos, int],
) -> Plan[Allocation] | None:
    lines = [Line(sku, q) for sku, q in short.items()]
    plan = source_lines(
        st, cx.now, lines, "ship", store.point, None, transfer_policy(pol), want, (store.id,)
    )
    if plan.status != "allocated":
        return None
    eta = cx.until("transfer_hours", lead_time_us(pol))
    exp = cx.until("ttl", lead_time_us(pol) + ttl_us)
    rows, datas = hold_rows(st, cx, rid, order, want, exp)
    t_rows, t_datas, transfers = transfer_rows(st, cx, plan, store.id, rid, order, eta, exp)
    result = allocated(
        rid, order.id, "allocated", trace=plan.trace, transfers=transfers,
        ready_at=from_micros(eta),
    )  # fmt: skip
    return Plan(rows + t_rows, datas + t_datas, result, position_guards(st, want))


def transfer_rows(
    st: LedgerState,
    cx: Context,
    plan: SourcingPlan,
    dst: str,
    rid: str,
    order: Order | None,
    eta: int,
    exp: int | None,
    channel: str | None = None,
    prefix: str | None = None,
) -> tuple[list[NewRow], Datas, tuple[Transfer, ...]]:
    """``transfer-out`` rows moving ``plan``'s sources to ``dst``, earmarked
    for reservation ``rid`` (ids ``<rid>/T<n>``, n counting every transfer
    the reservation ever had, so an id is never minted twice; or
    ``<prefix><n>`` from 1: a replacement for a closed transfer takes its id
    as the prefix, so it never reuses that id)."""
    rows: list[NewRow] = cx.claim("transfer:" + rid)
    datas: Datas = [None] * len(rows)
    transfers = []
    h = None if prefix else st.holds.peek(rid)
    n = 0 if h is None else h.transfers
    for lp in plan.lines:
        for src, q in lp.sources:
            n += 1
            tid = f"{prefix}{n}" if prefix else f"{rid}/T{n}"
            data: dict[str, Any] = {"to": dst, "eta": eta, "res": rid}
            if order is not None:
                data["order"] = order.id
                data["pickup"] = dst
                channel = order.channel
            if exp is not None:
                data["exp"] = exp
            rows.append(
                make(
                    Kind.TRANSFER_OUT,
                    cx.ts,
                    sku=lp.sku,
                    location=src,
                    qty=q,
                    ref=tid,
                    channel=channel,
                    key=cx.key,
                    data=json.dumps(data),
                )
            )
            datas.append(data)
            transfers.append(Transfer(tid, lp.sku, src, dst, q, from_micros(eta), rid))
    return rows, datas, tuple(transfers)


def suggest(
    st: LedgerState, need: dict[str, int], store: Location, n: int
) -> tuple[Suggestion, ...]:
    """Pickup stores (other than ``store``) that can serve every line now,
    nearest first."""
    g = st.grid
    out = []
    for loc in st.locations.values():
        if loc.id == store.id or not loc.pickup:
            continue
        l = g.loc_ix[loc.id]
        if all(g.atp(g.sku_ix[sku], l) >= q for sku, q in need.items()):
            out.append(Suggestion(loc.id, round(haversine_km(store.point, loc.point), 3)))
    out.sort(key=lambda s: (s.distance_km, s.location))
    return tuple(out[:n])
