"""Kit figures: ``available``, ``explain`` and ``promise`` for a kit SKU.

A kit's ATP at a location is the least ``floor(atp / qty)`` over its
components (``ledger/kits.kit_atp``); a short location never drags another
down, so network and channel figures sum ``max(0, kit atp)`` over the
locations. A channel takes its ``buffer`` off that sum, as for any SKU;
when the channel is fenced (buffer, cap, or anyone's minimum) the figure is
also at most what each component's channel figure allows
(``floor(room / qty)``): a hold checks every component against its
channel, so the figure never promises what a hold would refuse.
"""

from __future__ import annotations

import attrs

from ._validate import from_micros
from .ledger.kits import kit_atp, kit_terms
from .ledger.state import LedgerState
from .lookup import channel_cols, channel_of, channel_room, fenced, loc_col
from .reports import Explanation, PositionFigures, Promise, SupplyLine
from .values import Channel

__all__ = ["KitComponent", "KitPosition", "available", "explain", "promise"]


@attrs.frozen
class KitComponent:
    """One component's terms at a location: ``qty`` per kit, the position's
    figures (``figures.atp`` its ATP) and the kits it allows there,
    ``floor(atp / qty)``."""

    sku: str
    qty: int
    figures: PositionFigures
    kits: int

    def __str__(self) -> str:
        return f"{self.sku} x{self.qty}: {self.figures} -> {self.kits} kits"


@attrs.frozen
class KitPosition:
    """A kit at one location: ``atp`` kits (the least of the components'),
    the ``limiting`` component and every component's terms."""

    location: str
    atp: int
    limiting: str
    components: tuple[KitComponent, ...]

    def __str__(self) -> str:
        head = f"{self.location}: kit atp {self.atp} (limited by {self.limiting})"
        return "\n".join([head, *(f"    {c}" for c in self.components)])


def _cols(st: LedgerState, location: str | None, ch: Channel | None) -> list[int]:
    if location is not None:
        return [loc_col(st, location)]
    if ch is not None:
        return channel_cols(st, ch)
    return list(range(len(st.grid.locs)))


def available(st: LedgerState, kit: str, location: str | None, channel: str | None) -> int:
    """See the module doc. O(locations x components)."""
    comps = st.kits[kit]
    g = st.grid
    if channel is None:
        if location is not None:
            return max(0, kit_atp(g, comps, loc_col(st, location)))
        return sum(max(0, kit_atp(g, comps, c)) for c in range(len(g.locs)))
    ch = channel_of(st, channel)
    cols = channel_cols(st, ch)
    total = max(0, sum(max(0, kit_atp(g, comps, c)) for c in cols) - ch.buffer)
    if fenced(st, ch):
        for c, q in comps.items():
            s = g.sku_ix.get(c)
            total = min(total, 0 if s is None else max(0, channel_room(st, ch, s)) // q)
    if location is None:
        return total
    col = loc_col(st, location)
    return min(total, max(0, kit_atp(g, comps, col))) if col in cols else 0


def _figures(st: LedgerState, sku: str, col: int) -> PositionFigures:
    from .queries import position_figures

    s = st.grid.sku_ix.get(sku)
    if s is None:
        return PositionFigures(st.grid.locs[col], 0, {}, 0, 0)
    return position_figures(st, s, col)


def explain(st: LedgerState, kit: str, location: str | None, channel: str | None) -> Explanation:
    """Every term behind ``available(kit, ...)``: per location, each
    component's figures and the kits it allows, and the limiting component
    there; ``limiting`` overall is the component that allows the fewest
    kits summed over the locations counted (ties: the first by SKU)."""
    comps = st.kits[kit]
    g = st.grid
    ch = channel_of(st, channel) if channel is not None else None
    cols = _cols(st, location, ch)
    kit_positions = []
    allowed = dict.fromkeys(comps, 0)
    for col in cols:
        terms = kit_terms(g, comps, col)
        parts = tuple(KitComponent(c, q, _figures(st, c, col), k) for c, q, _a, k in terms)
        low = min(parts, key=lambda x: x.kits)
        kit_positions.append(KitPosition(g.locs[col], low.kits, low.sku, parts))
        for x in parts:
            allowed[x.sku] += max(0, x.kits)
    return Explanation(
        sku=kit,
        location=location,
        channel=channel,
        positions=(),
        positive_sum=sum(max(0, p.atp) for p in kit_positions),
        buffer=ch.buffer if ch else 0,
        cap=ch.cap if ch else None,
        available=available(st, kit, location, channel),
        kit=tuple(kit_positions),
        limiting=min(allowed, key=lambda c: allowed[c]),
    )


def promise(st: LedgerState, kit: str, q: int, location: str | None, channel: str | None,
            now_us: int) -> Promise:  # fmt: skip
    """The earliest date ``q`` kits can be had: today's kit figure, then
    the components' dated supply (purchase orders, transfers; not earmarked,
    not overdue) arriving location by location, in ETA order, until the
    kits buildable reach ``q``. ``supply`` lists the component supply
    counted on up to that date. O(supply lines x components)."""
    comps = st.kits[kit]
    g = st.grid
    ch = channel_of(st, channel) if channel is not None else None
    buffer = ch.buffer if ch else 0
    stock = available(st, kit, location, channel)
    if stock >= q:
        return Promise(kit, q, from_micros(now_us), q, ())
    if ch is not None and ch.cap is not None and q > ch.cap:
        return Promise(kit, q, None, 0, ())
    cols = _cols(st, location, ch)
    colset = set(cols)
    extra: dict[tuple[str, int], int] = {}
    items = []
    for c in comps:
        s = g.sku_ix.get(c)
        if s is None:
            continue
        for item in st.supply.for_sku(s):
            if item.loc not in colset or item.res is not None:
                continue
            if item.kind == "po" and item.eta_us < now_us:
                continue
            items.append((max(item.eta_us, now_us), c, item))
    items.sort(key=lambda t: (t[0], t[2].id))
    got: list[SupplyLine] = []

    def kits_at(col: int) -> int:
        return min((_atp(st, c, col) + extra.get((c, col), 0)) // per for c, per in comps.items())

    for eta, c, item in items:
        extra[(c, item.loc)] = extra.get((c, item.loc), 0) + item.qty
        when = from_micros(eta)
        got.append(SupplyLine(g.locs[item.loc], item.qty, when, item.kind, item.id))
        if sum(max(0, kits_at(col)) for col in cols) - buffer >= q:
            return Promise(kit, q, when, stock, tuple(got))
    return Promise(kit, q, None, stock, tuple(got))


def _atp(st: LedgerState, sku: str, col: int) -> int:
    s = st.grid.sku_ix.get(sku)
    return 0 if s is None else st.grid.atp(s, col)
