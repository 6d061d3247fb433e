"""Order-change plans: release some lines of a reservation, amend its lines,
resize a held one's positions.

Both take a held or committed reservation and journal only what changes:
``released`` rows for units given back, ``held`` rows for units added
(with a ``picked`` row for a ship order's new capacity-limited location).
What the amendment takes is decided in ``fulfilment.amend``.
"""

from __future__ import annotations

import json
from typing import Any

from .._validate import MAX_QTY
from ..errors import InsufficientStock, InvalidInput, InvalidQuantity
from ..fulfilment.allocate import policy_of
from ..fulfilment.amend import decide_amend
from ..fulfilment.backorders import keep_waiting, release_rows, take_waiting
from ..fulfilment.results import Allocation
from ..ledger.grid import Pos
from ..ledger.holds import HELD, OPEN, RELEASED, Hold
from ..ledger.rows import Kind, make
from ..ledger.state import LedgerState
from ..lookup import (
    channel_room,
    fenced,
    loc_col,
    open_hold,
    reservation_now,
    reservation_of,
    sku_row,
)
from ..picks import give_back_rows, pick_rows, used_locations
from ..planning import Context, Datas, InState, Plan, done
from ..storage import NewRow
from ..values import Line, Reservation
from . import kits
from .reservations import line_rows, reserve_guards


def _in_transit_for(st: LedgerState, h: Hold) -> bool:
    """Whether units are on their way to ``h`` (a BOPIS transfer-in).
    O(supply items); asked only when a release empties the reservation."""
    return any(i.res == h.id for i in st.supply.by_id.values())


def taken_lines(st: LedgerState, h: Hold, ls: tuple[Line, ...]) -> dict[Pos, int]:
    """The units of ``h`` that ``ls`` names, line by line: a line's units
    come off its SKU's positions in the reservation's order (only its
    location's when pinned). Raises ``InvalidInput`` for a line the
    reservation does not hold and ``InvalidQuantity`` for more units than
    it holds. O(lines x reservation lines)."""
    out: dict[Pos, int] = {}
    g = st.grid
    if st.kits and kits.has_kit(st, ls):
        ls = kits.held_lines(st, h, ls)
    for ln in ls:
        need = ln.qty
        found = False
        for (s, l), q in h.lines.items():
            if g.skus[s] != ln.sku or (ln.location is not None and g.locs[l] != ln.location):
                continue
            found = True
            take = min(need, q - out.get((s, l), 0))
            if take > 0:
                out[(s, l)] = out.get((s, l), 0) + take
                need -= take
            if need == 0:
                break
        if not found:
            raise InvalidInput("lines", ln, f"is not held by reservation {h.id!r}")
        if need:
            raise InvalidQuantity("lines", ln, f"more than reservation {h.id} holds")
    return out


def release_lines(
    st: LedgerState, cx: Context, res_id: str, ls: tuple[Line, ...]
) -> Plan[Reservation]:
    """Release the units ``ls`` names from a held or committed reservation;
    the rest stays as it was. Once nothing is left to ship it closes:
    ``fulfilled`` if some units shipped, else ``released``."""
    h = open_hold(st, res_id, OPEN, "release")
    freed: dict[str, int] = {}
    if h.waiting:  # backordered units go first (fulfilment/backorders.py)
        ls, freed = take_waiting(st, h, ls)
    take = taken_lines(st, h, ls) if ls else {}
    empties = sum(take.values()) == sum(h.lines.values())
    # "part": the fold closes the reservation once its last line goes;
    # "resize": it stays open with units still in transit to it.
    flag = "resize" if empties and _in_transit_for(st, h) else "part"
    rows, datas = line_rows(st, cx, h, Kind.RELEASED, {flag: 1}, take) if take else ([], [])
    if freed:
        r, d = release_rows(st, cx, h, None if flag == "resize" else RELEASED, freed)
        rows += r
        datas += d
    g = st.grid
    left = {g.locs[l] for p, q in h.lines.items() if take.get(p, 0) < q for l in (p[1],)}
    r, d = give_back_rows(st, cx, h, [g.locs[l] for (_, l) in take if g.locs[l] not in left])
    return Plan(rows + r, datas + d, reservation_now(h.id), [InState(h.id, OPEN)])


def _plain_amend(
    st: LedgerState, cx: Context, res_id: str, ls: tuple[Line, ...]
) -> Plan[Allocation]:
    return amend(st, cx, res_id, ls, plain=True)


def amend(
    st: LedgerState, cx: Context, res_id: str, ls: tuple[Line, ...], plain: bool = False
) -> Plan[Allocation]:
    """Set a held or committed reservation's open lines to ``ls``: only the
    change is checked and journaled (see ``fulfilment.amend`` for where
    added units go). The result is an ``Allocation`` whose trace is the
    policy's when it placed unpinned units."""
    if st.kits and not plain and kits.amends_kits(st, res_id, ls):  # kits.py; then ``plain``
        return kits.amend(st, cx, res_id, ls, _plain_amend)
    h = open_hold(st, res_id, OPEN, "amend")
    ch = st.channels.get(h.channel) if h.channel is not None else None
    pol = policy_of(st)
    freed: dict[str, int] = {}
    if h.waiting:  # what waits for supply counts first (fulfilment/backorders.py)
        ls, freed = keep_waiting(st, h, ls)
    a = decide_amend(st, cx.now, h, ls, pol, ch)
    oid = h.order_id or h.id
    if not a.give and not a.take and not freed:
        res = reservation_of(st, h)
        return Plan([], [], done(Allocation(oid, "allocated", res, res.lines, a.trace)))
    g = st.grid
    rows: list[NewRow] = []
    datas: Datas = []
    if a.give:  # (line_rows given nothing writes every line)
        rows, datas = line_rows(st, cx, h, Kind.RELEASED, {"resize": 1}, a.give)
    if a.take:
        r, d = line_rows(st, cx, h, Kind.HELD, {"order": h.order_id}, a.take)
        rows += r
        datas += d
    if h.pickup is None:  # a ship order picks once a day per location it uses
        left = {g.locs[l] for (s, l), q in h.lines.items() if a.give.get((s, l), 0) < q}
        left |= {g.locs[l] for (_, l) in a.take}
        gone = [g.locs[l] for (_, l) in h.lines if g.locs[l] not in left]
        r, d = give_back_rows(st, cx, h, gone)
        r2, d2 = pick_rows(st, cx, "ship", a.take, h.id, used_locations(st, h))
        rows += r + r2
        datas += d + d2
    if freed:
        r, d = release_rows(st, cx, h, None, freed)
        rows += r
        datas += d
    rid, trace = h.id, a.trace

    def result(s: LedgerState) -> Allocation:
        res = reservation_of(s, s.holds.need_peek(rid))
        return Allocation(oid, "allocated", res, res.lines, trace)

    guards = [InState(h.id, OPEN), *reserve_guards(st, h.channel, a.take)]
    return Plan(rows, datas, result, guards)


def resize(st: LedgerState, cx: Context, res_id: str, ls: tuple[Line, ...]) -> Plan[Reservation]:
    """Set a held reservation's quantity per (sku, location): only the
    increase is checked against ATP and the channel; decreases release."""
    h = open_hold(st, res_id, (HELD,), "resize")
    g = st.grid
    rows: list[NewRow] = []
    datas: Datas = []
    seen: set[Pos] = set()
    grow: dict[Pos, int] = {}
    left = dict(h.lines)
    for ln in ls:
        loc = ln.location
        if loc is None:
            locs = [g.locs[l] for (s, l) in h.lines if g.skus[s] == ln.sku]
            if len(locs) != 1:
                raise InvalidInput("lines", ln, "needs a location to resize")
            loc = locs[0]
        p = (sku_row(st, ln.sku), loc_col(st, loc))
        if p in seen:
            raise InvalidInput("lines", ln, "gives the same sku and location twice")
        seen.add(p)
        delta = ln.qty - h.lines.get(p, 0)
        left[p] = ln.qty
        if delta > 0:
            r = int(g.reserved[p])
            atp = int(g.holdable[p]) - r
            if atp < delta:
                raise InsufficientStock(ln.sku, delta, max(0, atp), loc, h.channel)
            if delta > MAX_QTY - r:  # within ATP only if the grid is out of bounds
                why = f"would take reserved to {r + delta}, past 2**62"
                raise InvalidQuantity("qty", ln.qty, why)
            grow[p] = delta
            data: dict[str, Any] = {"order": h.order_id}
            rows.append(
                make(
                    Kind.HELD,
                    cx.ts,
                    sku=ln.sku,
                    location=loc,
                    qty=delta,
                    ref=h.id,
                    channel=h.channel,
                    key=cx.key,
                    data=json.dumps(data),
                )
            )
            datas.append(data)
        elif delta < 0:
            data = {"resize": 1}
            text = json.dumps(data)
            rows.append(
                make(
                    Kind.RELEASED,
                    cx.ts,
                    sku=ln.sku,
                    location=loc,
                    qty=-delta,
                    ref=h.id,
                    channel=h.channel,
                    key=cx.key,
                    data=text,
                )
            )
            datas.append(data)
    ch = st.channels.get(h.channel) if h.channel is not None else None
    if ch is not None and fenced(st, ch):
        per_sku: dict[int, int] = {}
        for (s, _), more in grow.items():
            per_sku[s] = per_sku.get(s, 0) + more
        for s, more in per_sku.items():
            room = channel_room(st, ch, s)
            if more > room:
                raise InsufficientStock(g.skus[s], more, room, None, ch.id)
    if not any(left.values()):
        lines = [[x.sku, x.qty] for x in ls]
        raise InvalidInput("lines", lines, "would leave the reservation empty; release it instead")
    guards = [InState(h.id, (HELD,)), *reserve_guards(st, h.channel, grow)]
    return Plan(rows, datas, reservation_now(h.id), guards)
