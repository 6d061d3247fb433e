"""Backorders and preorders: order lines that wait for dated supply.

An ``Order(backorder=True)`` takes on-hand stock first; what on-hand stock
cannot cover is reserved against dated supply (purchase order lines from
``expect()`` and transfers in transit), earliest ETA first, split across
supply items when one is not enough. Such units are *backordered*: the
reservation waits for them (``Hold.waiting``), the supply item has promised
them (``Incoming.booked``), and ``promise()`` no longer offers them to
anyone else. A preorder is the same on a SKU with no stock yet.

Which supply a line may wait for:

- a pinned line (``hold``, or a pinned line of ``allocate``): supply due at
  its location;
- an unpinned line (``allocate``): supply due at a location the order's
  channel may serve (all when it names none) that ships, after the
  sourcing policy has placed what on-hand stock it can.

Earmarked transfers (for a pickup order) and overdue purchase orders (past
their ETA: their date is unknown until redated) are never backordered.

A channel's ``preorder_cap`` bounds the units of one SKU it may have
waiting at once; over it a hold is refused with ``InsufficientStock``.

When the supply arrives (a receipt against the PO, ``receive_transfer``),
the backorders waiting on it become on-hand reservations in the order
they were taken (``backorder-filled`` rows). When it will not come, or
comes later (``cancel_expected``, ``redate``, ``close_transfer``), the
units waiting on it move, oldest first, to stock on hand at their
location, else to the next supply due there (before the new ETA, for a
redate); what cannot move is released and reported missing (a redated PO
keeps what cannot move sooner).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from json.encoder import encode_basestring as _json_str
from typing import Any

import attrs

from ..errors import InsufficientStock
from ..ledger.grid import Pos
from ..ledger.holds import OPEN, Hold
from ..ledger.rows import Kind, make
from ..ledger.state import LedgerState
from ..ledger.supply import Incoming
from ..planning import Context, Datas, Emit
from ..storage import NewRow
from ..values import Applied, Channel, Line, Order, Resourced

Waits = list[tuple[Incoming, int]]
"""Supply items and the units a command backorders on each, in ETA order."""


def eligible(
    st: LedgerState,
    s: int,
    cols: Iterable[int] | None,
    now_us: int,
    taken: dict[str, int],
    skip: str | None = None,
    before: int | None = None,
) -> list[tuple[Incoming, int]]:
    """Open supply of SKU row ``s`` a backorder may wait for, soonest first,
    with the units still free on each (less what this command ``taken``):
    at ``cols`` (None: anywhere), not earmarked, not an overdue PO, not
    ``skip``, due before ``before`` when given. O(supply items of the SKU)."""
    colset = None if cols is None else set(cols)
    out = []
    for item in st.supply.for_sku(s):
        if colset is not None and item.loc not in colset:
            continue
        if item.res is not None or item.id == skip:
            continue
        if item.kind == "po" and item.eta_us < now_us:
            continue  # overdue: its date is unknown until redated or received
        if before is not None and item.eta_us >= before:
            continue
        free = item.free - taken.get(item.id, 0)
        if free > 0:
            out.append((item, free))
    return out


def waiting_for(st: LedgerState, channel: str | None, s: int) -> int:
    """Units of SKU row ``s`` the channel's reservations wait for on supply.
    O(backorders on the SKU's supply)."""
    if channel is None:
        return 0
    n = 0
    for item in st.supply.for_sku(s):
        for rid, q in item.booked.items():
            h = st.holds.peek(rid)
            if h is not None and h.channel == channel:
                n += q
    return n


def preorder_room(st: LedgerState, ch: Channel | None, s: int) -> int | None:
    """Units of SKU row ``s`` channel ``ch`` may still backorder (its
    ``preorder_cap`` less what waits already), or None without a cap."""
    if ch is None or ch.preorder_cap is None:
        return None
    return max(0, ch.preorder_cap - waiting_for(st, ch.id, s))


def take_supply(
    st: LedgerState,
    now_us: int,
    s: int,
    cols: Iterable[int] | None,
    qty: int,
    taken: dict[str, int],
) -> Waits:
    """Up to ``qty`` units of SKU row ``s`` from eligible supply, earliest
    ETA first, split across items; adds them to ``taken``."""
    out: Waits = []
    for item, free in eligible(st, s, cols, now_us, taken):
        if qty <= 0:
            break
        q = min(free, qty)
        out.append((item, q))
        taken[item.id] = taken.get(item.id, 0) + q
        qty -= q
    return out


def backorder_pinned(
    st: LedgerState,
    now_us: int,
    short: dict[Pos, int],
    on_hand: dict[Pos, int],
    ch: Channel | None,
    channel: str | None,
) -> Waits:
    """Supply for the units of pinned lines on-hand stock cannot cover
    (``short``, per position): supply due at the line's location. Raises
    ``InsufficientStock`` (with what was available: on hand plus free
    supply, within the channel's preorder cap) when it cannot all wait."""
    g = st.grid
    taken: dict[str, int] = {}
    out: Waits = []
    per_sku: dict[int, int] = {}
    for (s, l), q in short.items():
        got = take_supply(st, now_us, s, (l,), q, taken)
        have = sum(n for _, n in got)
        if have < q:
            here = on_hand.get((s, l), 0)
            raise InsufficientStock(g.skus[s], here + q, here + have, g.locs[l], channel)
        out += got
        per_sku[s] = per_sku.get(s, 0) + q
    check_cap(st, ch, per_sku, on_hand)
    return out


def check_cap(
    st: LedgerState, ch: Channel | None, per_sku: dict[int, int], on_hand: dict[Pos, int]
) -> None:
    """Refuse backorders past the channel's ``preorder_cap``."""
    for s, q in per_sku.items():
        room = preorder_room(st, ch, s)
        if room is not None and q > room:
            assert ch is not None
            here = sum(n for (a, _), n in on_hand.items() if a == s)
            raise InsufficientStock(st.grid.skus[s], here + q, here + room, None, ch.id)


def ship_columns(st: LedgerState, ch: Channel | None) -> list[int]:
    """Locations whose supply an unpinned ship line may wait for: those
    the channel may serve (all when it names none) that ship."""
    names = st.locations if ch is None or ch.locations is None else ch.locations
    g = st.grid
    return [g.loc_ix[n] for n in names if n in st.locations and st.locations[n].ships]


def backorder_rows(
    st: LedgerState,
    cx: Context,
    rid: str,
    channel: str | None,
    waits: Waits,
    data: dict[str, Any],
    text: str | None = None,
) -> tuple[list[NewRow], Datas]:
    """One ``backordered`` row per supply item waited for; ``data`` is the
    reservation's (order, expiry, destination) as its ``held`` rows carry
    (``text``: ``data`` as JSON already, extended rather than encoded)."""
    g = st.grid
    rows: list[NewRow] = []
    datas: Datas = []
    for item, q in waits:
        d = {**data, "sid": item.id, "eta": item.eta_us}
        more = f',"sid":{_json_str(item.id)},"eta":{item.eta_us}}}'
        rows.append(
            make(
                Kind.BACKORDERED,
                cx.ts,
                sku=g.skus[item.sku],
                location=g.locs[item.loc],
                qty=q,
                ref=rid,
                channel=channel,
                key=cx.key,
                data=json.dumps(d) if text is None else text[:-1] + more,
            )
        )
        datas.append(d)
    return rows, datas


def _row(
    st: LedgerState, cx: Context, kind: Kind, h: Hold, item_sku: int, item_loc: int, q: int,
    d: dict[str, Any],
) -> NewRow:  # fmt: skip
    g = st.grid
    return make(
        kind, cx.ts, sku=g.skus[item_sku], location=g.locs[item_loc], qty=q, ref=h.id,
        channel=h.channel, key=cx.key, data=json.dumps(d),
    )  # fmt: skip


def fill_rows(st: LedgerState, cx: Context, item: Incoming, qty: int) -> tuple[list[NewRow], Datas]:
    """``qty`` units of ``item`` arrived: the backorders waiting on it
    become on-hand reservations, first taken first, as far as the units
    go (``backorder-filled`` rows, journaled after the receipt)."""
    rows: list[NewRow] = []
    datas: Datas = []
    for rid, q in list(item.booked.items()):
        if qty <= 0:
            break
        k = min(q, qty)
        h = st.holds.need_peek(rid)
        d = {"sid": item.id}
        rows.append(_row(st, cx, Kind.BACKORDER_FILLED, h, item.sku, item.loc, k, d))
        datas.append(d)
        qty -= k
    return rows, datas


def release_rows(
    st: LedgerState,
    cx: Context,
    h: Hold,
    close: str | None,
    qtys: dict[str, int] | None = None,
    reason: str | None = None,
) -> tuple[list[NewRow], Datas]:
    """``backorder-released`` rows freeing ``h``'s units waiting on supply
    (all, or ``qtys`` per supply id). ``close``: the state the reservation
    closes in if nothing is left once they are folded."""
    rows: list[NewRow] = []
    datas: Datas = []
    for sid, q in (qtys or h.waiting).items():
        if q <= 0:
            continue
        item = st.supply.by_id[sid]
        d: dict[str, Any] = {"sid": sid}
        if close:
            d["close"] = close
        if reason:
            d["reason"] = reason
        rows.append(_row(st, cx, Kind.BACKORDER_RELEASED, h, item.sku, item.loc, q, d))
        datas.append(d)
    return rows, datas


def resupply(
    st: LedgerState,
    cx: Context,
    sid: str,
    waiters: list[tuple[str, int]],
    sku: int,
    loc: int,
    before: int | None,
    emit: Emit,
    why: str,
) -> tuple[Resourced, ...]:
    """Move backorders that waited on supply ``sid`` (``waiters``: oldest
    first), which will not come (``before`` None) or comes only at
    ``before``: to on-hand stock at their location, else the next supply
    due there (before ``before``). Units that cannot move are released
    (reported ``missing``), or, for a redate, keep waiting. Reported
    newest first."""
    g = st.grid
    out: list[Resourced] = []
    for rid, _ in waiters:
        h = st.holds.peek(rid)
        if h is None or h.state not in OPEN:
            continue
        q = h.waiting.get(sid, 0)
        if q <= 0:
            continue
        to: list[tuple[str, int]] = []
        waits: Waits = []
        atp = max(0, g.atp(sku, loc))
        here = min(q, atp)
        if here:
            d = {"order": h.order_id, "from": sid}
            emit([_row(st, cx, Kind.HELD, h, sku, loc, here, d)], [d])
            to.append((g.locs[loc], here))
        rest = q - here
        if rest:
            # ``{}``: what earlier moves booked is folded already (emit folds).
            for item, free in eligible(st, sku, (loc,), cx.now, {}, sid, before):
                if rest <= 0:
                    break
                k = min(free, rest)
                waits.append((item, k))
                rest -= k
        if waits:
            rows, datas = backorder_rows(st, cx, rid, h.channel, waits, {"order": h.order_id})
            emit(rows, datas)
        moved = q - rest
        missing = rest if before is None else 0
        free = moved + missing
        if free:  # after the moves: the reservation closes only if nothing is left
            d = {"sid": sid, "close": "released", "reason": why}
            emit([_row(st, cx, Kind.BACKORDER_RELEASED, h, sku, loc, free, d)], [d])
        if not free:
            continue  # a late PO's backorder with nothing sooner keeps waiting
        out.append(
            Resourced(
                rid,
                g.skus[sku],
                g.locs[loc],
                q,
                tuple(to),
                missing,
                backorders=tuple((i.id, k) for i, k in waits),
            )
        )
    return tuple(reversed(out))


def note_waiters(item: Incoming, moved: dict[str, Any], before: int | None = None) -> None:
    """Record, for ``resupply_after``, the backorders waiting on ``item``
    (oldest first) before a command cancels, redates or closes it."""
    moved.clear()
    if item.booked:
        waiters = list(item.booked.items())
        moved.update(sid=item.id, sku=item.sku, loc=item.loc, before=before, waiters=waiters)


def resupply_after(moved: dict[str, Any], why: str, then: Any = None) -> Any:
    """The follow-up of ``cancel_expected``, ``redate`` and
    ``close_transfer`` (after ``then``, when given): move the backorders
    the plan noted in ``moved`` (see ``resupply``), in the same commit, and
    report them in the result's ``resourced``."""

    def follow(st: LedgerState, cx: Context, result: Applied, emit: Emit) -> Applied:
        if then is not None:
            result = then(st, cx, result, emit)
        if not moved.get("waiters"):
            return result
        done = resupply(
            st, cx.without_key(), moved["sid"], moved["waiters"], moved["sku"], moved["loc"],
            moved["before"], emit, why,
        )  # fmt: skip
        return attrs.evolve(result, seq=st.head, resourced=result.resourced + done)

    return follow


def backorder_loose(
    st: LedgerState,
    now_us: int,
    order: Order,
    ch: Channel | None,
    on_hand: dict[Pos, int],
    short: dict[Pos, int],
    sourced: dict[str, int],
) -> Waits:
    """Supply for what on-hand stock did not cover in an ``allocate``:
    pinned lines' ``short`` units at their location, unpinned lines' rest
    (asked less ``sourced`` on hand by the policy) at the locations
    ``ship_columns`` names, earliest ETA first. Raises
    ``InsufficientStock`` when it cannot all wait (unless the order allows
    partial) or the channel's preorder cap is passed."""
    g = st.grid
    taken: dict[str, int] = {}
    out: Waits = []
    per_sku: dict[int, int] = {}
    for (s, l), q in short.items():
        got = take_supply(st, now_us, s, (l,), q, taken)
        have = sum(n for _, n in got)
        if have < q and not order.allow_partial:
            here = on_hand.get((s, l), 0)
            raise InsufficientStock(g.skus[s], here + q, here + have, g.locs[l], order.channel)
        out += got
        per_sku[s] = per_sku.get(s, 0) + have
    cols = ship_columns(st, ch)
    asked: dict[str, int] = {}
    for ln in order.lines:
        if ln.location is None:
            asked[ln.sku] = asked.get(ln.sku, 0) + ln.qty
    for sku, q in asked.items():
        rest = q - sourced.get(sku, 0)
        if rest <= 0:
            continue
        s = g.sku_ix[sku]
        got = take_supply(st, now_us, s, cols, rest, taken)
        have = sum(n for _, n in got)
        if have < rest and not order.allow_partial:
            had = sourced.get(sku, 0)
            raise InsufficientStock(sku, q, had + have, None, order.channel)
        out += got
        per_sku[s] = per_sku.get(s, 0) + have
    check_cap(st, ch, {s: q for s, q in per_sku.items() if q}, on_hand)
    return out


def _latest_first(st: LedgerState, h: Hold) -> list[Incoming]:
    items = [st.supply.by_id[sid] for sid in h.waiting]
    return sorted(items, key=lambda i: (i.eta_us, i.id), reverse=True)


def take_waiting(
    st: LedgerState, h: Hold, ls: tuple[Line, ...]
) -> tuple[tuple[Line, ...], dict[str, int]]:
    """``release(lines=)`` of a backordered reservation: each line's units
    come off what it waits for first (latest ETA first), then off stock on
    hand. Returns the lines left for the on-hand lines and the units freed
    per supply id. O(lines x waiting lines)."""
    g = st.grid
    freed: dict[str, int] = {}
    rest: list[Line] = []
    items = _latest_first(st, h)
    for ln in ls:
        s = g.sku_ix.get(ln.sku)
        l = None if ln.location is None else g.loc_ix.get(ln.location, -1)
        need = ln.qty
        for item in items:
            if need <= 0:
                break
            if item.sku != s or (l is not None and item.loc != l):
                continue
            k = min(need, h.waiting[item.id] - freed.get(item.id, 0))
            if k > 0:
                freed[item.id] = freed.get(item.id, 0) + k
                need -= k
        if need:
            rest.append(Line(ln.sku, need, ln.location))
    return tuple(rest), freed


def keep_waiting(
    st: LedgerState, h: Hold, ls: tuple[Line, ...]
) -> tuple[tuple[Line, ...], dict[str, int]]:
    """``amend`` of a backordered reservation: per SKU, on-hand units count
    toward the new total first, then the units it waits for (soonest
    first); a decrease frees waiting units (latest ETA first) before
    on-hand ones. An increase is taken from stock on hand (``amend`` does
    not add backorders). Returns the lines left for the
    on-hand lines (those of a SKU reduced by what keeps waiting, from the
    last line back) and the units freed per supply id."""
    g = st.grid
    total: dict[int, int] = {}
    for ln in ls:
        s = g.sku_ix.get(ln.sku)
        if s is not None:
            total[s] = total.get(s, 0) + ln.qty
    on_hand: dict[int, int] = {}
    for (s, _), q in h.lines.items():
        on_hand[s] = on_hand.get(s, 0) + q
    # On-hand units are kept first; the rest of the new total keeps waiting.
    room = {s: max(0, t - on_hand.get(s, 0)) for s, t in total.items()}
    keep: dict[int, int] = {}
    freed: dict[str, int] = {}
    for item in reversed(_latest_first(st, h)):  # soonest kept first
        q = h.waiting[item.id]
        k = min(q, room.get(item.sku, 0) - keep.get(item.sku, 0))
        keep[item.sku] = keep.get(item.sku, 0) + max(0, k)
        if q - max(0, k) > 0:
            freed[item.id] = q - max(0, k)
    out: list[Line] = []
    for ln in reversed(ls):
        s = g.sku_ix.get(ln.sku)
        k = 0 if s is None else min(keep.get(s, 0), ln.qty)
        if s is not None:
            keep[s] = keep.get(s, 0) - k
        if ln.qty - k > 0:
            out.append(Line(ln.sku, ln.qty - k, ln.location))
    return tuple(reversed(out)), freed
