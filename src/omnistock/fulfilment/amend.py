"""The amendment decision: what changing an open reservation's lines takes
and gives back, position by position.

``amend(res_id, lines)`` gives the reservation's new open lines (shipped
units are history and do not count). The rules, in order:

- a line pinned to a location sets the units at that position;
- an unpinned line of a pickup order sets the units at its pickup store;
- an unpinned line of a ship order sets the SKU's total: a decrease comes
  off the positions last in the reservation first; an increase stays where
  the SKU is already held as far as ATP there allows (no new split), and
  the sourcing policy places the rest (its trace is the result's);
- a SKU held now and not named is removed.

Only the increase is checked: against ATP at each position, the channel's
fence and cap, and, for a ship order, the daily capacity of a location the
reservation did not use before. A refusal raises and changes nothing.
"""

from __future__ import annotations

import attrs

from .._validate import MAX_QTY
from ..errors import InsufficientStock, InvalidInput, InvalidQuantity
from ..ledger.grid import Pos
from ..ledger.holds import Hold
from ..ledger.state import LedgerState
from ..lookup import channel_room, fenced, loc_col, sku_row
from ..picks import capacity_left, used_locations
from ..values import Channel, Line, Point
from .allocate import add_sources, source_lines
from .policy import Policy
from .sourcing import Trace

__all__ = ["Amendment", "decide_amend"]


@attrs.frozen
class Amendment:
    """What an amendment does: ``give`` units released per position (in the
    reservation's line order), ``take`` units newly reserved per position
    (existing positions first, then new ones in the order decided), and the
    policy's ``trace`` when it placed unpinned units."""

    give: dict[Pos, int]
    take: dict[Pos, int]
    trace: Trace | None = None


def _targets(
    st: LedgerState, h: Hold, ls: tuple[Line, ...]
) -> tuple[dict[Pos, int], dict[int, int]]:
    """Per position, the units ``ls`` sets; per SKU row, the total an
    unpinned ship line sets. Raises on unknown names and ambiguous lines."""
    pinned: dict[Pos, int] = {}
    loose: dict[int, int] = {}
    pickup = None if h.pickup is None else loc_col(st, h.pickup, "pickup_at")
    named: dict[int, str] = {}
    for ln in ls:
        s = sku_row(st, ln.sku)
        if ln.location is not None:
            l = loc_col(st, ln.location)
            if pickup is not None and l != pickup:
                why = f"a pickup order's lines are at its pickup store {h.pickup!r}"
                raise InvalidInput("lines", ln, why)
        else:
            l = pickup if pickup is not None else -1
        how = "pinned" if l >= 0 else "loose"
        if named.setdefault(s, how) != how:
            raise InvalidInput("lines", ln, "names a sku both pinned and unpinned")
        if l >= 0:
            if (s, l) in pinned:
                raise InvalidInput("lines", ln, "gives the same sku and location twice")
            pinned[(s, l)] = ln.qty
        else:
            if s in loose:
                raise InvalidInput("lines", ln, "gives the same unpinned sku twice")
            loose[s] = ln.qty
    return pinned, loose


def decide_amend(
    st: LedgerState,
    now: int,
    h: Hold,
    ls: tuple[Line, ...],
    pol: Policy,
    ch: Channel | None,
) -> Amendment:
    """Decide the amendment of open reservation ``h`` to lines ``ls`` (see
    the module doc). Pure: reads the ledger, changes nothing; raises
    ``InsufficientStock`` when an increase cannot be had, ``InvalidInput``
    for lines it cannot read. O(lines + reservation lines) plus the
    sourcing search for unpinned increases."""
    g = st.grid
    pinned, loose = _targets(st, h, ls)
    target: dict[Pos, int] = {}
    extra: dict[int, int] = {}  # unpinned increases still to place, per SKU row
    for s, want in loose.items():
        have = [(p, q) for p, q in h.lines.items() if p[0] == s]
        left = want
        for p, q in have:  # a decrease comes off the last positions first
            keep = min(q, left)
            target[p] = keep
            left -= keep
        if left > 0:
            extra[s] = left
    target.update(pinned)
    give = {p: q - target.get(p, 0) for p, q in h.lines.items() if target.get(p, 0) < q}
    take: dict[Pos, int] = {}
    for (s, l), q in target.items():
        delta = q - h.lines.get((s, l), 0)
        if delta <= 0:
            continue
        _check_room(st, h, (s, l), delta, ch)
        take[(s, l)] = delta
    trace = None
    if extra:
        to_policy: list[Line] = []
        topped: dict[str, int] = {}
        for s, more in extra.items():  # top up where the SKU is held: no new split
            topped[g.skus[s]] = more
            for p in h.lines:
                if p[0] != s or more <= 0:
                    continue
                room = g.atp(*p) - take.get(p, 0)
                add = min(room, more, MAX_QTY - int(g.reserved[p]) - take.get(p, 0))
                if add > 0:
                    take[p] = take.get(p, 0) + add
                    more -= add
            topped[g.skus[s]] -= more
            if more > 0:
                to_policy.append(Line(g.skus[s], more))
        if to_policy:
            trace = _source(st, now, h, to_policy, pol, ch, take, topped)
    _check_fence(st, ch, take)
    _check_capacity(st, now, h, take, pol)
    return Amendment(give, take, trace)


def _check_room(st: LedgerState, h: Hold, p: Pos, delta: int, ch: Channel | None) -> None:
    g = st.grid
    sku, loc = g.skus[p[0]], g.locs[p[1]]
    if ch is not None and ch.locations is not None and loc not in ch.locations:
        why = f"location {loc!r} does not serve channel {ch.id!r}"
        raise InvalidInput("lines", Line(sku, h.lines.get(p, 0) + delta, loc), why)
    r = int(g.reserved[p])
    atp = int(g.holdable[p]) - r
    if atp < delta:
        raise InsufficientStock(sku, delta, max(0, atp), loc, h.channel)
    if delta > MAX_QTY - r:  # within ATP only if the grid is out of bounds
        raise InvalidQuantity("qty", delta, f"would take reserved to {r + delta}, past 2**62")


def _source(
    st: LedgerState,
    now: int,
    h: Hold,
    lines: list[Line],
    pol: Policy,
    ch: Channel | None,
    take: dict[Pos, int],
    topped: dict[str, int],
) -> Trace:
    """Place unpinned increases by the policy (ATP less ``take``); adds the
    sources to ``take``, or raises ``InsufficientStock`` naming the first
    SKU whose increase cannot be had in full and how much of it could be
    (``topped``: units of it already found where it is held)."""
    dest = None if h.dest is None else Point(*h.dest)
    plan = source_lines(st, now, lines, "ship", dest, ch, pol, take, (), True, False)
    if plan.status == "unfillable":
        part = source_lines(st, now, lines, "ship", dest, ch, pol, take, (), True, True)
        got = {lp.sku: sum(q for _, q in lp.sources) for lp in part.lines}
        for ln in lines:
            if got.get(ln.sku, 0) < ln.qty:
                had = topped[ln.sku] + got.get(ln.sku, 0)
                raise InsufficientStock(ln.sku, topped[ln.sku] + ln.qty, had, None, h.channel)
        first = lines[0]
        raise InsufficientStock(first.sku, topped[first.sku] + first.qty, 0, None, h.channel)
    add_sources(st, plan, take)
    return plan.trace


def _check_fence(st: LedgerState, ch: Channel | None, take: dict[Pos, int]) -> None:
    if ch is None or not take or not fenced(st, ch):
        return
    per_sku: dict[int, int] = {}
    for (s, _), more in take.items():
        per_sku[s] = per_sku.get(s, 0) + more
    for s, more in per_sku.items():
        room = channel_room(st, ch, s)
        if more > room:
            raise InsufficientStock(st.grid.skus[s], more, room, None, ch.id)


def _check_capacity(st: LedgerState, now: int, h: Hold, take: dict[Pos, int], pol: Policy) -> None:
    """A ship order picks once a day at each location it uses: a location
    new to the reservation needs a pick left today (when the policy
    filters on capacity)."""
    if h.pickup is not None or "capacity" not in pol.filters:
        return
    used = used_locations(st, h)
    left = capacity_left(st, now)
    g = st.grid
    for (s, l), q in take.items():
        loc = g.locs[l]
        if loc not in used and left.get(loc, 1) <= 0:
            raise InsufficientStock(g.skus[s], q, 0, loc, h.channel)
