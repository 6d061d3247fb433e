"""Re-sourcing a component line that belongs to a kit: the whole kit moves.

When a sale, a count, a state change or a store's rejection leaves a
component of a reserved kit uncovered, ``resourcing.move_line`` asks here
first. The reservation's plain units of that component at the location
go first (the ordinary path); past them, whole kits are re-sourced: every
component reserved at ONE other location that builds them (the policy's
filters and ranking, as ``allocate`` places a kit), then released where
they were. Kits nowhere to be had stay and are reported missing.
A pickup order's kits take the ordinary path (a transfer per component
into its store, where the kit is built).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from ..ledger.grid import Pos
from ..ledger.rows import Kind, make
from ..ledger.state import LedgerState
from ..picks import pick_rows, used_locations
from ..planning import Context, Emit
from ..values import Line, Point, Resourced
from .allocate import hold_data, policy_of, source_lines
from .sourcing import Trace

__all__ = ["move_kits"]

Move = Callable[..., tuple[Resourced, Trace | None]]


def move_kits(
    st: LedgerState, cx: Context, rid: str, p: Pos, q: int, emit: Emit, why: str, move: Move
) -> tuple[Resourced, Trace | None] | None:
    """Move ``q`` units of reservation ``rid``'s component at ``p`` as
    whole kits (see the module doc), or None when its plain units there
    cover ``q`` (``move`` then does it). ``move`` is ``move_line``, for
    the plain units left over."""
    g = st.grid
    h = st.holds.need_peek(rid)
    sku, l = g.skus[p[0]], p[1]
    mine = [(k, n) for k, n in h.kits.items() if k[1] == l and sku in st.kits[k[0]]]
    if not mine or h.pickup is not None:
        return None
    held = h.lines.get(p, 0)
    q = min(q, held)
    plain = held - sum(n * st.kits[k[0]][sku] for k, n in mine)
    if q <= plain:
        return None
    (kit, _), n = mine[0]
    comps = st.kits[kit]
    per = comps[sku]
    k = min(n, -(-(q - plain) // per))  # whole kits covering the units past the plain ones
    loc = g.locs[l]
    dest = None if h.dest is None else Point(*h.dest)
    ch = st.channels.get(h.channel) if h.channel is not None else None
    want = [Line(c, k * c_q) for c, c_q in comps.items()]
    plan = source_lines(st, cx.now, want, "ship", dest, ch, policy_of(st), {}, (loc,), False)
    if plan.status != "allocated":
        return Resourced(rid, sku, loc, q, (), q), plan.trace
    new = plan.lines[0].sources[0][0]
    nl = g.loc_ix[new]
    d = hold_data(h.order_id, None, None, None)
    d["from"] = loc
    text = json.dumps(d)
    take: dict[Pos, int] = {(g.sku_ix[c], nl): k * c_q for c, c_q in comps.items()}
    rows = [
        make(
            Kind.HELD, cx.ts, sku=g.skus[s], location=new, qty=v, ref=rid,
            channel=h.channel, key=cx.key, data=text,
        )
        for (s, _), v in take.items()
    ]  # fmt: skip
    rows.append(make(Kind.KIT_HELD, cx.ts, sku=kit, location=new, qty=k, ref=rid,
                     channel=h.channel, key=cx.key))  # fmt: skip
    emit(rows, [*([d] * len(take)), None])
    emit(*pick_rows(st, cx, "ship", take, rid, used_locations(st, h)))
    rd: dict[str, Any] = {"resize": 1, "reason": why}  # the new lines keep it open
    text = json.dumps(rd)
    emit(
        [
            make(
                Kind.RELEASED, cx.ts, sku=c, location=loc, qty=k * c_q, ref=rid,
                channel=h.channel, key=cx.key, data=text,
            )
            for c, c_q in comps.items()
        ],
        [rd] * len(comps),
    )  # fmt: skip
    moved = k * per
    done = Resourced(rid, sku, loc, q, ((new, moved),), 0)
    if q > moved:  # the rest from the plain units, the ordinary way
        rest, _ = move(st, cx, rid, p, q - moved, emit, why)
        done = Resourced(rid, sku, loc, q, done.to + rest.to, rest.missing, rest.transfers)
    return done, plan.trace
