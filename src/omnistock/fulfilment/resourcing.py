"""Re-sourcing: moving a reservation line to where stock is.

When a store rejects a line (``reject``) or physical truth (a sale, a count,
a state change) leaves reservations uncovered, the line is re-sourced by the
policy in the same commit: a ship order is held elsewhere, a pickup order
gets a transfer into its store; units nowhere to be had stay where they
were and are reported as missing.
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import attrs

from ..ledger.grid import Pos
from ..ledger.holds import COMMITTED, HELD, Hold
from ..ledger.rows import Kind, make
from ..ledger.state import LedgerState
from ..lookup import shortages
from ..picks import give_back_rows, pick_rows, used_locations
from ..planning import DEFAULT_TTL, Context, Emit
from ..values import Applied, Line, Point, Resourced, Transfer
from .allocate import add_sources, hold_data, policy_of, source_lines
from .bopis import lead_time_us, transfer_policy, transfer_rows
from .kit_moves import move_kits
from .sourcing import Trace


def move_line(
    st: LedgerState, cx: Context, rid: str, p: Pos, q: int, emit: Emit, why: str
) -> tuple[Resourced, Trace | None]:
    """Move ``q`` units of reservation ``rid`` off position ``p``: re-source
    them by the policy elsewhere (a pickup order by a transfer into its
    store), then release them at ``p``. Units nowhere to be had stay.
    Returns what moved and the sourcing trace of the decision."""
    g = st.grid
    h = st.holds.need_peek(rid)
    if h.kits:  # a kit's component: its whole kits move (kit_moves.py)
        kit_move = move_kits(st, cx, rid, p, q, emit, why, move_line)
        if kit_move is not None:
            return kit_move
    sku, loc = g.skus[p[0]], g.locs[p[1]]
    pol = policy_of(st)
    q = min(q, h.lines.get(p, 0))
    if q <= 0:
        return Resourced(rid, sku, loc, 0), None
    to: tuple[tuple[str, int], ...] = ()
    transfers: tuple[Transfer, ...] = ()
    moved = 0
    if h.pickup is not None:
        store = st.locations[h.pickup]
        exclude = (loc, store.id) if loc != store.id else (loc,)
        plan = source_lines(
            st, cx.now, [Line(sku, q)], "ship", store.point, None, transfer_policy(pol), {},
            exclude, True, True,
        )  # fmt: skip
        if plan.status != "unfillable":
            eta = cx.until("transfer_hours", lead_time_us(pol))
            # A held pickup keeps what was left of its window, counted from
            # when the units are ready (at least the default window).
            exp = None
            if h.state == HELD and h.expires_us is not None:
                window = max(h.expires_us - cx.now, DEFAULT_TTL // timedelta(microseconds=1))
                exp = max(h.expires_us, eta + window)
            rows, datas, transfers = transfer_rows(
                st, cx, plan, store.id, rid, None, eta, exp, h.channel
            )
            emit(rows, datas)
            moved = sum(t.qty for t in transfers)
    else:
        dest = None if h.dest is None else Point(*h.dest)
        ch = st.channels.get(h.channel) if h.channel is not None else None
        plan = source_lines(
            st, cx.now, [Line(sku, q)], "ship", dest, ch, pol, {}, (loc,), True, True
        )
        if plan.status != "unfillable":
            want: dict[Pos, int] = {}
            add_sources(st, plan, want)
            d = hold_data(h.order_id, None, None, None)
            d["from"] = loc
            text = json.dumps(d)
            emit(
                [
                    make(
                        Kind.HELD,
                        cx.ts,
                        sku=g.skus[s],
                        location=g.locs[l],
                        qty=n,
                        ref=rid,
                        channel=h.channel,
                        key=cx.key,
                        data=text,
                    )
                    for (s, l), n in want.items()
                ],
                [d] * len(want),
            )
            emit(*pick_rows(st, cx, "ship", want, rid, used_locations(st, h)))
            to = tuple((g.locs[l], n) for (_, l), n in want.items())
            moved = sum(n for _, n in to)
    if moved:
        h = st.holds.need_peek(rid)  # as the emitted rows left it
        others = sum(v for k, v in h.lines.items() if k != p) or bool(transfers or h.waiting)
        rd: dict[str, Any] = (
            {"resize": 1, "reason": why} if (others or h.lines[p] > moved) else {"reason": why}
        )
        emit(
            [
                make(
                    Kind.RELEASED,
                    cx.ts,
                    sku=sku,
                    location=loc,
                    qty=moved,
                    ref=rid,
                    channel=h.channel,
                    key=cx.key,
                    data=json.dumps(rd),
                )
            ],
            [rd],
        )
        h = st.holds.need_peek(rid)
        if not any(l == p[1] for _, l in h.lines):  # it left the location: its pick is free
            emit(*give_back_rows(st, cx, h, [loc]))
    return Resourced(rid, sku, loc, q, to, q - moved, transfers), plan.trace


def resource_lost(lost: dict[str, Any]) -> Any:
    """The follow-up of ``close_transfer``: a pickup reservation that was
    waiting on the lost units gets them by a new transfer into its store
    (by the policy), in the same commit; units nowhere to be had are
    reported missing, and a reservation left with nothing to wait for is
    released. ``lost`` is what the plan filled in."""

    def then(st: LedgerState, cx: Context, result: Applied, emit: Emit) -> Applied:
        rid = lost.get("res")
        h = None if rid is None else st.holds.peek(rid)
        if h is None or h.state not in (HELD, COMMITTED) or h.pickup is None:
            return result
        done = resource_transit(
            st, cx.without_key(), h, lost["sku"], lost["qty"], lost["tid"], emit
        )
        return attrs.evolve(result, seq=st.head, resourced=(done,))

    return then


def resource_transit(
    st: LedgerState, cx: Context, h: Hold, s: int, qty: int, tid: str, emit: Emit
) -> Resourced:
    """``qty`` units of SKU row ``s`` that pickup reservation ``h`` waited
    for will not arrive (transfer ``tid`` closed short): transfer them into
    its store from where the policy finds them; release the reservation if
    it is left with no lines and nothing in transit."""
    g = st.grid
    sku = g.skus[s]
    assert h.pickup is not None
    store = st.locations[h.pickup]
    pol = policy_of(st)
    plan = source_lines(
        st, cx.now, [Line(sku, qty)], "ship", store.point, None, transfer_policy(pol), {},
        (store.id,), True, True,
    )  # fmt: skip
    transfers: tuple[Transfer, ...] = ()
    if plan.status != "unfillable":
        eta = cx.until("transfer_hours", lead_time_us(pol))
        exp = None
        if h.state == HELD and h.expires_us is not None:  # the window counts from arrival
            window = max(h.expires_us - cx.now, DEFAULT_TTL // timedelta(microseconds=1))
            exp = max(h.expires_us, eta + window)
        rows, datas, transfers = transfer_rows(
            st, cx, plan, store.id, h.id, None, eta, exp, h.channel, prefix=f"{tid}-R"
        )
        emit(rows, datas)
    moved = sum(t.qty for t in transfers)
    now_h = st.holds.need_peek(h.id)
    if not now_h.lines and not any(i.res == h.id for i in st.supply.by_id.values()):
        d = {"reason": "lost in transit"}
        row = make(
            Kind.RELEASED, cx.ts, sku=sku, location=store.id, qty=0, ref=h.id,
            channel=h.channel, key=cx.key, data=json.dumps(d),
        )  # fmt: skip
        emit([row], [d])
    return Resourced(h.id, sku, store.id, qty, (), qty - moved, transfers)


def resource_uncovered(
    st: LedgerState, cx: Context, positions: dict[Pos, int], emit: Emit
) -> tuple[Resourced, ...]:
    """Re-source reservations that physical stock no longer covers at
    ``positions``, newest first."""
    out = []
    for sh in shortages(st, positions):
        g = st.grid
        p = (g.sku_ix[sh.sku], g.loc_ix[sh.location])
        left = sh.qty
        for rid in sh.reservations:
            if left <= 0:
                break
            take = min(left, st.holds.need_peek(rid).lines.get(p, 0))
            r, _ = move_line(st, cx, rid, p, take, emit, "shortage")
            left -= take
            out.append(r)
    return tuple(out)


def resource_shortages(st: LedgerState, cx: Context, result: Applied, emit: Emit) -> Applied:
    """Follow-up of a sale, count or state change: re-source what it left
    uncovered, in the same commit, and report it in the result."""
    if not result.shortages:
        return result
    g = st.grid
    positions = {(g.sku_ix[s.sku], g.loc_ix[s.location]): 0 for s in result.shortages}
    done = resource_uncovered(st, cx.without_key(), positions, emit)
    return attrs.evolve(result, seq=st.head, resourced=done)
