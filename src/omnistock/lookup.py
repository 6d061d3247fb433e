"""Validating lookups and channel figures shared by plans, services and queries.

Every lookup takes the raw argument, checks it is an id, and raises the
typed error naming the field when the ledger does not know it.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

from ._validate import check_id, from_micros
from .errors import (
    InvalidInput,
    InvalidQuantity,
    InvalidTransition,
    UnknownChannel,
    UnknownLocation,
    UnknownReservation,
    UnknownSku,
)
from .ledger.grid import STATE_INDEX, Pos
from .ledger.holds import Hold
from .ledger.invariants import breach
from .ledger.kits import MEMO_MAX
from .ledger.pools import Fence, figures
from .ledger.state import SELLABLE, LedgerState
from .values import Channel, Reservation, ReservationLine, Shortage


def sku_row(st: LedgerState, sku: Any, field: str = "sku") -> int:
    """The grid row of a known SKU. O(1)."""
    check_id(field, sku)
    s = st.grid.sku_ix.get(sku)
    if s is None:
        raise UnknownSku(sku, field)
    return s


def loc_col(st: LedgerState, loc: Any, field: str = "location") -> int:
    """The grid column of a registered location. O(1)."""
    check_id(field, loc)
    if loc not in st.locations:
        raise UnknownLocation(loc, field)
    return st.grid.loc_ix[loc]


def channel_of(st: LedgerState, ch: Any) -> Channel:
    check_id("channel", ch)
    c = st.channels.get(ch)
    if c is None:
        raise UnknownChannel(ch)
    return c


def known_pos(st: LedgerState, sku: str, location: str, new_sku: bool = False) -> Pos:
    """The position of ``sku`` at a registered ``location``. With
    ``new_sku`` an unknown SKU is fine: its row is the index it will get."""
    l = loc_col(st, location)
    check_id("sku", sku)
    s = st.grid.sku_ix.get(sku)
    if s is None:
        if sku in st.kits:
            raise InvalidInput("sku", sku, "is a kit: its components hold its stock")
        if not new_sku:
            raise UnknownSku(sku)
        return len(st.grid.skus), l
    return s, l


def check_state(field: str, state: Any) -> None:
    if state != SELLABLE and state not in STATE_INDEX:
        raise InvalidInput(
            field, state, "must be sellable, damaged, inspection, quarantine, display or expired"
        )


def units(st: LedgerState, p: Pos, state: str) -> int:
    """Units at ``p`` in ``state`` (0 for a SKU the grid has not met yet)."""
    g = st.grid
    if p[0] >= len(g.skus):
        return 0
    if state == SELLABLE:
        return g.sellable(*p)
    u = g.unsell.get(p)
    return 0 if u is None else u[STATE_INDEX[state]]


def state_delta(state: str, q: int) -> tuple[int, dict[int, int]]:
    """``(holdable delta, {unsellable state index: delta})`` of adding ``q``
    units in stock state ``state`` (as the fold does)."""
    return (q, {}) if state == SELLABLE else (0, {STATE_INDEX[state]: q})


def check_bounds(
    st: LedgerState,
    p: Pos,
    field: str,
    value: Any,
    holdable: int = 0,
    reserved: int = 0,
    safety: int = 0,
    unsell: dict[int, int] | None = None,
) -> None:
    """Refuse a change of the terms at ``p`` (deltas, Python ints; a command's
    whole change there, its lines added up) that would take one past its
    bound (``ledger.invariants.breach``), with ``InvalidQuantity`` naming
    ``field`` and ``value``. ``p`` may be a SKU the grid has not met. O(1)."""
    g = st.grid
    if p[0] < len(g.skus):
        h, r = int(g.holdable[p]) + holdable, int(g.reserved[p]) + reserved
        sf = g.safety.get(p, 0) + safety
        u: list[int] = g.unsell.get(p) or []
    else:
        h, r, sf, u = holdable, reserved, safety, []
    if unsell:
        u = list(u) if u else [0] * len(STATE_INDEX)  # a copy: the grid's stays
        for i, d in unsell.items():
            u[i] += d
    why = breach(h, r, sf, u)
    if why is not None:
        name, v, bound = why
        raise InvalidQuantity(field, value, f"would take {name} to {v}, {bound}")


# -- reservations -------------------------------------------------------------
def hold_of(st: LedgerState, res_id: Any) -> Hold:
    """The reservation ``res_id`` for reading (a held-batch member is a copy)."""
    check_id("res_id", res_id)
    h = st.holds.peek(res_id)
    if h is None:
        raise UnknownReservation(res_id, "res_id")
    return h


def open_hold(st: LedgerState, res_id: Any, allowed: tuple[str, ...], action: str) -> Hold:
    """The reservation, if its state allows ``action``."""
    h = hold_of(st, res_id)
    if h.state not in allowed:
        raise InvalidTransition("res_id", res_id, f"is {h.state}; cannot {action} it")
    return h


def reservation_of(st: LedgerState, h: Hold) -> Reservation:
    """The public value of a reservation record. O(lines)."""
    g = st.grid
    if h.kits:
        return kit_reservation(st, h)
    return Reservation(
        id=h.id,
        state=h.state,
        lines=tuple(ReservationLine(g.skus[s], g.locs[l], q) for (s, l), q in h.lines.items())
        + (waiting_lines(st, h) if h.waiting else ()),
        expires_at=None if h.expires_us is None else from_micros(h.expires_us),
        order_id=h.order_id,
        channel=h.channel,
        shipped=tuple(ReservationLine(g.skus[s], g.locs[l], q) for (s, l), q in h.shipped.items())
        if h.shipped
        else (),
    )


def waiting_lines(st: LedgerState, h: Hold) -> tuple[ReservationLine, ...]:
    """``h``'s backordered units as reservation lines, each with the ETA of
    the supply it waits for, soonest first. O(backordered lines)."""
    g = st.grid
    out = []
    for sid, q in h.waiting.items():
        item = st.supply.by_id.get(sid)
        if item is not None:  # else gone mid-command (a re-sourcing follows)
            out.append((item.eta_us, sid, g.skus[item.sku], g.locs[item.loc], q))
    if len(out) > 1:
        out.sort()
    return tuple(ReservationLine(sku, loc, q, _eta(eta)) for eta, _, sku, loc, q in out)


_eta = functools.lru_cache(maxsize=4096)(from_micros)
"""ETAs repeat (every backorder on one PO): datetimes are immutable."""


def _kit_lines(
    st: LedgerState, memo: dict[Any, Any], kit: str, l: int, n: int
) -> tuple[ReservationLine, tuple[ReservationLine, ...]]:
    """``n`` kits at location column ``l``: the kit line and its component
    lines. Immutable values, kept in the definitions' memo while the
    definitions stand (names only: grid indices can be rolled back)."""
    loc = st.grid.locs[l]
    k = ("res", kit, loc, n)
    got = memo.get(k)
    if got is None:
        comps = st.kits[kit].items()
        got = (
            ReservationLine(kit, loc, n),
            tuple([ReservationLine(c, loc, n * q, None, kit) for c, q in comps]),
        )
        if len(memo) >= MEMO_MAX:
            memo.clear()
        memo[k] = got
    return got


def kit_reservation(st: LedgerState, h: Hold) -> Reservation:
    """``reservation_of`` for a reservation with kits: each kit's component
    units as lines with ``kit=`` set, the rest as plain lines, and one
    ``kits`` line per (kit, location). O(lines x kits)."""
    g = st.grid
    skus, locs, ix, defs = g.skus, g.locs, g.sku_ix, st.kits
    kitted: dict[Pos, int] = {}
    lines: list[ReservationLine] = []
    kits: list[ReservationLine] = []
    memo = defs.memo
    if len(h.kits) == 1 and not h.waiting and not h.shipped:  # one kit line, the usual order
        (((kit, l), n),) = h.kits.items()
        got = memo.get(("res", kit, locs[l], n)) or _kit_lines(st, memo, kit, l, n)
        if len(h.lines) == len(got[1]) and all(
            h.lines.get((ix[x.sku], l)) == x.qty for x in got[1]
        ):  # every unit the kit's
            return Reservation(
                id=h.id,
                state=h.state,
                lines=got[1],
                expires_at=None if h.expires_us is None else from_micros(h.expires_us),
                order_id=h.order_id,
                channel=h.channel,
                kits=(got[0],),
            )
    for (kit, l), n in h.kits.items():
        got = memo.get(("res", kit, locs[l], n)) or _kit_lines(st, memo, kit, l, n)
        kits.append(got[0])
        lines += got[1]
        for x in got[1]:
            p = (ix[x.sku], l)
            kitted[p] = kitted.get(p, 0) + x.qty
    if kitted != h.lines:  # else every unit is a kit's (a kits-only order)
        plain = [
            ReservationLine(skus[s], locs[l], q - kitted.get((s, l), 0))
            for (s, l), q in h.lines.items()
            if q > kitted.get((s, l), 0)
        ]
        lines = plain + lines
    if h.waiting:
        lines += waiting_lines(st, h)
    return Reservation(
        id=h.id,
        state=h.state,
        lines=tuple(lines),
        expires_at=None if h.expires_us is None else from_micros(h.expires_us),
        order_id=h.order_id,
        channel=h.channel,
        shipped=tuple(ReservationLine(skus[s], locs[l], q) for (s, l), q in h.shipped.items())
        if h.shipped
        else (),
        kits=tuple(kits),
    )


def blocks_of(st: LedgerState, order_id: str) -> list[str]:
    """Tokens of the bulk-hold blocks that still list a member for
    ``order_id`` (live or expired). O(blocks); a block's first search
    indexes it (O(block))."""
    return [t for t, b in st.holds.batches.items() if b.index(order_id) is not None]


def reservation_now(rid: str) -> Any:
    """A plan's result: reservation ``rid`` as the fold left it."""
    return lambda st: reservation_of(st, st.holds.need_peek(rid))


def shortages(st: LedgerState, taken: dict[Pos, int]) -> tuple[Shortage, ...]:
    """Reservations left uncovered once ``taken`` sellable units leave each
    position: reserved beyond what stays physically sellable, newest first."""
    g = st.grid
    out = []
    for (s, l), q in taken.items():
        if s >= len(g.skus):
            continue
        left = g.sellable(s, l) - q
        deficit = int(g.reserved[s, l]) - max(0, left)
        if deficit <= 0:
            continue
        names, covered = [], 0
        for rid in st.holds.newest_at((s, l)):
            names.append(rid)
            covered += st.holds.need_peek(rid).lines[(s, l)]
            if covered >= deficit:
                break
        out.append(Shortage(g.skus[s], g.locs[l], deficit, tuple(names)))
    return tuple(out)


# -- channel figures ------------------------------------------------------------
def channel_cols(st: LedgerState, ch: Channel) -> list[int]:
    ids = ch.locations if ch.locations is not None else list(st.locations)
    return [st.grid.loc_ix[i] for i in ids]


_I64_MAX = 2**63 - 1


def positive_sum(st: LedgerState, s: int, cols: list[int] | None) -> int:
    """Sum of ``max(0, atp)`` of SKU row ``s`` over ``cols`` (all if None):
    a short location never drags another down. Exact, a Python int (it may
    pass 2**63 over many locations): a short row in Python; a long one in
    int64 when its largest term proves the sum cannot wrap, else in Python.
    O(len(cols))."""
    row = st.grid.atp_row(s, cols)
    n = row.shape[0]
    if n <= 64:  # Python ints: exact, and cheaper than numpy calls at this size
        return sum([x for x in row.tolist() if x > 0])
    np.maximum(row, 0, out=row)  # a new array: clipped in place
    if int(row.max()) > _I64_MAX // n:
        return sum(row.tolist())
    return int(row.sum())


def fenced(st: LedgerState, ch: Channel) -> bool:
    """Whether holds for ``ch`` need a channel check beyond position ATP."""
    return bool(ch.buffer) or ch.cap is not None or any(d.minimum for d in st.channels.values())


def channel_room(st: LedgerState, ch: Channel, s: int) -> int:
    """Channel ``ch``'s figure for SKU row ``s`` by the ring-fence rule
    (``ledger.pools``): its positive ATP sum, less the unconsumed minimums
    of the other channels, less its buffer, within what its cap leaves given
    the units it already holds. O(channels x locations)."""
    used = st.chan_used
    if not any(d.minimum for d in st.channels.values()):
        v = max(0, positive_sum(st, s, channel_cols(st, ch)) - ch.buffer)
        if ch.cap is not None:
            v = min(v, max(0, ch.cap - used.get((ch.id, s), 0)))
        return v
    stocks = {d.id: positive_sum(st, s, channel_cols(st, d)) for d in st.channels.values()}
    fences = {
        d.id: Fence(d.minimum, d.cap, d.buffer, used.get((d.id, s), 0))
        for d in st.channels.values()
    }
    return figures(stocks, fences)[ch.id]
