"""Reservation plans: hold, commit, release, extend, ship, collect (resize: amendments.py).

Holds are location-level and all-or-nothing unless the order allows
partial; what was confirmed is what ships. Each plan returns the
reservation as the fold leaves it.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from json.encoder import encode_basestring as _json_str
from typing import Any

import attrs

from .. import codec
from .._validate import MAX_QTY
from ..command import Command
from ..errors import (
    AwaitingSupply,
    CommandFailed,
    IdempotencyConflict,
    InsufficientStock,
    InvalidInput,
    InvalidQuantity,
    InvalidTransition,
    OmnistockError,
)
from ..fulfilment.allocate import policy_of
from ..fulfilment.backorders import backorder_pinned, backorder_rows, release_rows
from ..ledger.grid import Pos
from ..ledger.holds import COMMITTED, HELD, OPEN, RELEASED, Hold
from ..ledger.rows import Kind, make
from ..ledger.state import LedgerState
from ..lookup import (
    channel_of,
    channel_room,
    fenced,
    hold_of,
    loc_col,
    open_hold,
    reservation_now,
    reservation_of,
    sku_row,
    waiting_lines,
)
from ..picks import give_back_rows
from ..planning import MAX_US, Context, Datas, FenceRoom, Guard, InState, Plan, WithinFree, done
from ..runner import Runner
from ..scoped import order_scope
from ..storage import NewRow
from ..values import Line, Order, Reservation
from . import kits
from .lots import annotate


def pinned(
    st: LedgerState,
    order: Order,
    short: dict[Pos, int] | None = None,
    lines: tuple[Line, ...] | None = None,
) -> dict[Pos, int]:
    """Positions and quantities to reserve for ``order``'s pinned lines (or
    ``lines`` in their place; all at its pickup store), checked against ATP
    and the channel's figure.
    ``short`` (a backorder): receives the units on-hand stock cannot cover
    per position, instead of a refusal. Raises without side effects.
    O(lines), O(channels x locations) fenced."""
    ch = channel_of(st, order.channel) if order.channel is not None else None
    if order.method == "pickup":
        loc_col(st, order.pickup_at, "pickup_at")
        assert order.pickup_at is not None
        if not st.locations[order.pickup_at].pickup:
            raise InvalidInput("pickup_at", order.pickup_at, "does not offer pickup")
    want: dict[Pos, int] = {}
    at = order.pickup_at if order.method == "pickup" else None
    cols: dict[str, int] = {}  # a location checked once per order, not per line
    rows = st.grid.sku_ix
    lines = order.lines if lines is None else lines
    for ln in lines:
        loc = ln.location or at
        if loc is None:
            raise InvalidInput(
                "lines",
                ln,
                "has no location; sourcing unpinned lines needs the fulfilment "
                "policy (inv.allocate); pin it with Line(sku, qty, location=...)",
            )
        s = rows.get(ln.sku) if type(ln.sku) is str else None  # interned: a checked id
        if s is None:
            s = sku_row(st, ln.sku)  # the typed error
        l = cols.get(loc)
        if l is None:
            l = cols[loc] = loc_col(st, loc)
            if ch is not None and ch.locations is not None and loc not in ch.locations:
                why = f"location {loc!r} does not serve channel {ch.id!r}"
                raise InvalidInput("lines", ln, why)
        want[(s, l)] = want.get((s, l), 0) + ln.qty
    g = st.grid
    out: dict[Pos, int] = {}
    for (s, l), q in want.items():
        if q > MAX_QTY:  # lines of one position add up
            raise InvalidQuantity("qty", q, f"lines of {g.skus[s]}@{g.locs[l]} add up past 2**62")
        atp = g.atp(s, l)
        if atp < q and short is not None:  # the rest waits for dated supply
            short[(s, l)] = q - max(0, atp)
            q = max(0, atp)
        elif atp < q:
            if not order.allow_partial:
                raise InsufficientStock(g.skus[s], q, max(0, atp), g.locs[l], order.channel)
            q = max(0, atp)
        # Within ATP, reserved + q <= holdable <= 2**62: commands keep holdable
        # within its bound, and check() flags a ledger that is not.
        if q:
            out[(s, l)] = q
    if ch is not None and fenced(st, ch):
        per_sku: dict[int, int] = {}
        for (s, _), q in out.items():
            per_sku[s] = per_sku.get(s, 0) + q
        for s, q in per_sku.items():
            room = channel_room(st, ch, s)
            if q > room:
                raise InsufficientStock(g.skus[s], q, room, None, ch.id)
    if not out and not short:
        first = lines[0]
        raise InsufficientStock(first.sku, first.qty, 0, first.location, order.channel)
    return out


def open_for_order(st: LedgerState, order: Order) -> Hold | None:
    """The open (held or committed) reservation of ``order``'s id in its
    channel: the order id is a natural key. Looks at ``<order>#<n>`` ids and
    live held-batch members. O(reservations of that order id + batches)."""
    hs = st.holds
    for n in range(hs.per_order.get(order.id, 0), 0, -1):
        h = hs.by_id.get(f"{order.id}#{n}")
        if h is not None and h.state in OPEN and h.channel == order.channel:
            return h
    for b in hs.batches.values():
        if b.channel == order.channel and not b.expired:
            j = b.index(order.id)
            if j is not None and b.live[j]:
                return hs.peek(b.rid(j))
    return None


def same_lines(st: LedgerState, h: Hold, order: Order) -> bool:
    """Whether ``h`` is what ``order`` asks for: per SKU (and location, where
    the order pins one), reserved and shipped units equal what it asks, or
    at most that when it allows partial."""
    at = order.pickup_at if order.method == "pickup" else None
    want: dict[tuple[str, str | None], int] = {}
    for ln in order.lines:
        k = (ln.sku, ln.location or at)
        want[k] = want.get(k, 0) + ln.qty
    g = st.grid
    have: dict[tuple[str, str | None], int] = {}
    for part in (h.lines, h.shipped, waiting_positions(st, h) if h.waiting else {}):
        for (s, l), q in part.items():
            k = (g.skus[s], g.locs[l])
            k = k if k in want else (k[0], None)
            have[k] = have.get(k, 0) + q
    if order.allow_partial:
        return all(k in want and q <= want[k] for k, q in have.items())
    return have == want


def already_held(st: LedgerState, order: Order) -> Hold | None:
    """The open reservation a repeat of ``order`` returns, or None; raises
    ``IdempotencyConflict`` when the order id is open with other lines."""
    h = open_for_order(st, order)
    if h is not None and not same_lines(st, h, order):
        raise IdempotencyConflict(f"order:{order.id}", f"reservation {h.id}", "other lines")
    return h


def reserve_guards(st: LedgerState, channel: str | None, want: dict[Pos, int]) -> list[Guard]:
    """What a plan that adds reserved units at ``want`` relies on."""
    g = st.grid
    guards: list[Guard] = [WithinFree(g.skus[s], g.locs[l]) for (s, l) in want]
    if channel is None:
        return guards
    ch = st.channels.get(channel)
    if ch is not None and fenced(st, ch):
        guards += [FenceRoom(ch.id, g.skus[s]) for s in dict.fromkeys(s for s, _ in want)]
    return guards


_HELD = Kind.HELD._value_


def hold(st: LedgerState, cx: Context, order: Order, ttl_us: int) -> Plan[Reservation]:
    """Reserve ``order``'s pinned lines until ``now + ttl``; a repeat of an
    order that is open returns its reservation (the order id is a natural
    key within its channel)."""
    if st.kits and kits.has_kit(st, order.lines):  # a plain order: one empty-dict test
        return kits.hold(st, cx, order, ttl_us, hold_lines)
    return hold_lines(st, cx, order, ttl_us)


def hold_lines(
    st: LedgerState, cx: Context, order: Order, ttl_us: int, lines: tuple[Line, ...] | None = None
) -> Plan[Reservation]:
    """``hold`` for an order of plain lines: ``order.lines``, or ``lines``
    when given (a kit order's lines with its kits as component lines: the
    order is not copied for them)."""
    hs = st.holds
    h = None
    if order.id in hs.per_order or hs.batches:
        h = already_held(st, order if lines is None else kits.with_lines(order, lines))
    if h is not None:
        return Plan([], [], done(reservation_of(st, h)), [InState(h.id, OPEN)])
    exp = cx.until("ttl", ttl_us)
    short: dict[Pos, int] | None = {} if order.backorder else None
    want = pinned(st, order, short, lines)
    waits = None
    if short:
        ch = st.channels.get(order.channel) if order.channel is not None else None
        waits = backorder_pinned(st, cx.now, short, want, ch, order.channel)
    rid = st.holds.next_id(order.id)
    ts, key = cx.ts, cx.key
    rows: list[NewRow] = cx.claim("order:" + order.id)
    datas: Datas = [None] * len(rows)
    g = st.grid
    data = {"exp": exp, "order": order.id}
    text = f'{{"exp":{exp},"order":{_json_str(order.id)}}}'
    if order.method == "pickup":  # the store it is collected at (no-shows, capacity)
        data["pickup"] = order.pickup_at
        text = json.dumps(data)
    skus, locs, chan = g.skus, g.locs, order.channel
    for (s, l), q in want.items():  # make()'s tuple, built inline: one per line of every hold
        rows.append((ts, _HELD, skus[s], locs[l], q, rid, chan, key, text))
        datas.append(data)
    if waits:
        r, d = backorder_rows(st, cx, rid, order.channel, waits, data, text)
        rows += r
        datas += d
    guards = lambda: reserve_guards(st, order.channel, want)  # noqa: E731
    return Plan(rows, datas, lambda s: reservation_of(s, s.holds.by_id[rid]), guards)


def line_rows(
    st: LedgerState,
    cx: Context,
    h: Hold,
    kind: Kind,
    data: dict[str, Any] | None = None,
    qtys: dict[Pos, int] | None = None,
) -> tuple[list[NewRow], Datas]:
    """One ``kind`` row per line of ``h`` (or per ``qtys`` position)."""
    g = st.grid
    text = None if data is None else json.dumps(data)
    rows: list[NewRow] = [
        make(
            kind,
            cx.ts,
            sku=g.skus[s],
            location=g.locs[l],
            qty=q,
            ref=h.id,
            channel=h.channel,
            key=cx.key,
            data=text,
        )
        for (s, l), q in (qtys or h.lines).items()
    ]
    return rows, [data] * len(rows)


def _on_lines(
    st: LedgerState, cx: Context, h: Hold, kind: Kind, data: dict[str, Any] | None = None
) -> Plan[Reservation]:
    rows, datas = line_rows(st, cx, h, kind, data)
    if h.waiting and kind != Kind.RELEASED:  # commit, extend: backordered lines too
        r, d = line_rows(st, cx, h, kind, data, waiting_positions(st, h))
        rows += r
        datas += d
    return Plan(rows, datas, reservation_now(h.id), [InState(h.id, (h.state,))])


def commit(st: LedgerState, cx: Context, res_id: str) -> Plan[Reservation]:
    """HELD -> COMMITTED: the hold no longer expires (a no-op if committed).
    A pickup order is then due for collection by now + the policy's pickup
    window + grace (none with ``keep_paid_pickups``, or while units are in
    transit to it: their arrival starts the window)."""
    h = open_hold(st, res_id, OPEN, "commit")
    if h.state == COMMITTED:
        return Plan([], [], done(reservation_of(st, h)))
    due = paid_pickup_due(st, cx, h)
    data = None if due is None else {"exp": due}
    plan = _on_lines(st, cx, h, Kind.COMMITTED, data)
    if not plan.rows:  # every unit still in transit: one row names the reservation
        text = None if data is None else json.dumps(data)
        plan.rows = [
            make(Kind.COMMITTED, cx.ts, ref=h.id, channel=h.channel, key=cx.key, data=text)
        ]
        plan.datas = [data]
    return plan


def paid_pickup_due(st: LedgerState, cx: Context, h: Hold) -> int | None:
    """When pickup reservation ``h``, paid (and ready) now, is released as a
    no-show under the policy in force; None for a ship order, when paid
    pickups are kept, or while units are in transit to it. O(supply) for a
    pickup."""
    if h.pickup is None:
        return None
    after = policy_of(st).paid_pickup_us
    if after is None or any(i.res == h.id for i in st.supply.by_id.values()):
        return None
    return min(cx.now + after, MAX_US)


def release(st: LedgerState, cx: Context, res_id: str) -> Plan[Reservation]:
    """Cancel a held or committed reservation; its units return to ATP, and
    the picks it took today go back to its locations' daily capacity."""
    h = open_hold(st, res_id, OPEN, "release")
    plan = _on_lines(st, cx, h, Kind.RELEASED)
    if h.waiting:  # backordered units free their supply first
        r, d = release_rows(st, cx, h, RELEASED)
        plan.rows[:0] = r
        plan.datas[:0] = d
    if h.picked:
        r, d = give_back_rows(st, cx, h, [st.grid.locs[l] for (_, l) in h.lines])
        plan.rows += r
        plan.datas += d
    return plan


def extend(st: LedgerState, cx: Context, res_id: str, ttl_us: int) -> Plan[Reservation]:
    """Move a held reservation's expiry to ``now + ttl``."""
    h = open_hold(st, res_id, (HELD,), "extend")
    return _on_lines(st, cx, h, Kind.EXTENDED, {"exp": cx.until("ttl", ttl_us)})


def fulfil(
    st: LedgerState, cx: Context, how: str, res_id: str, ls: tuple[Line, ...] | None
) -> Plan[Reservation]:
    """Units leave the building: ``ship`` (a committed reservation, all of
    it or the given lines) or ``collect`` (a pickup order, all of it)."""
    allowed = (COMMITTED,) if how == "ship" else OPEN
    h = open_hold(st, res_id, allowed, how)
    if how == "collect":
        coming = [i.id for i in st.supply.by_id.values() if i.res == h.id]
        if coming:
            raise InvalidTransition(
                "res_id",
                res_id,
                "has units in transit (" + ", ".join(coming) + "); receive them first",
            )
    if h.waiting and ls is None:
        raise AwaitingSupply(res_id, waiting_lines(st, h)[0])
    qtys = dict(h.lines) if ls is None else _pick(st, h, ls)
    rows, datas = line_rows(st, cx, h, Kind.FULFILLED, {"how": how}, qtys)
    lots = annotate(st, rows, datas)  # first-expiry-first-out at lotted positions
    now = reservation_now(h.id)
    result = (lambda s: attrs.evolve(now(s), lots=lots)) if lots else now
    return Plan(rows, datas, result, [InState(h.id, allowed)])


def _pick(st: LedgerState, h: Hold, ls: tuple[Line, ...]) -> dict[Pos, int]:
    """The reservation's units that the lines name, line by line."""
    out: dict[Pos, int] = {}
    g = st.grid
    if st.kits and kits.has_kit(st, ls):
        ls = kits.held_lines(st, h, ls)
    for ln in ls:
        need = ln.qty
        for (s, l), q in h.lines.items():
            if g.skus[s] != ln.sku or (ln.location is not None and g.locs[l] != ln.location):
                continue
            take = min(need, q - out.get((s, l), 0))
            if take > 0:
                out[(s, l)] = out.get((s, l), 0) + take
                need -= take
            if need == 0:
                break
        if need:
            for w in waiting_lines(st, h) if h.waiting else ():
                if w.sku == ln.sku and (ln.location is None or ln.location == w.location):
                    raise AwaitingSupply(h.id, w)
            raise InvalidQuantity("lines", ln, f"more than reservation {h.id} holds")
    return out


def waiting_positions(st: LedgerState, h: Hold) -> dict[Pos, int]:
    """``h``'s backordered units per position their supply is due at."""
    out: dict[Pos, int] = {}
    for sid, q in h.waiting.items():
        item = st.supply.by_id[sid]
        out[(item.sku, item.loc)] = out.get((item.sku, item.loc), 0) + q
    return out


def reservation(st: LedgerState, res_id: Any) -> Reservation:
    """The reservation as it stands (for queries)."""
    return reservation_of(st, hold_of(st, res_id))


def hold_command(
    runner: Runner, order: Order, ttl_us: int, key: str | None
) -> Command[Reservation]:
    """The ``hold`` command for ``order`` (its key fingerprints the order)."""

    def plan(st: LedgerState, cx: Context) -> Plan[Reservation]:
        return hold(st, cx, order, ttl_us)

    # A backorder reads and books dated supply: the replica's (scope None).
    scope = None if order.backorder else order_scope(order)
    if key is None:  # no fingerprint to build
        return Command("hold", plan, scope=scope)
    args = lambda: [codec.order_args(order), ttl_us]  # noqa: E731
    return runner.command("hold", plan, key, args, scope=scope)


def run_holds(
    runner: Runner,
    orders: Any,
    ttl_us: int,
    keys: Sequence[str | None] | None,
    key: str | None,
) -> list[Reservation | OmnistockError]:
    """Commit ``hold_many(list of Order)``: one ``hold`` per order, in one
    transaction, each seeing the ones before. Validated whole: bad input in
    any order raises and nothing is written; an order short of stock is
    refused alone (its entry is the ``InsufficientStock``). Keys: ``keys``
    (one per order), or ``key`` for the call (order ``i``: ``<key>#<i>``)."""
    if isinstance(orders, str | bytes) or not isinstance(orders, Sequence):
        raise InvalidInput("orders", orders, "must be a HoldBatch or a list of Order")
    if keys is not None and key is not None:
        raise InvalidInput("key", key, "give one key for the call or keys=[...], not both")
    if keys is not None and len(keys) != len(orders):
        raise InvalidInput("keys", len(keys), f"must give one key per order ({len(orders)})")
    for i, o in enumerate(orders):
        if not isinstance(o, Order):
            raise InvalidInput(f"orders[{i}]", o, "must be an Order")
    cmds: list[Command[Any]] = []
    for i, o in enumerate(orders):
        k = keys[i] if keys is not None else (None if key is None else f"{key}#{i}")
        cmds.append(hold_command(runner, o, ttl_us, k))
    runner.run_all(cmds, whole=True)
    for c in cmds:  # bad input first: it refused the whole call
        if c.error is not None and not isinstance(c.error, InsufficientStock | CommandFailed):
            raise c.error
    for c in cmds:
        if isinstance(c.error, CommandFailed):
            raise c.error
    out: list[Reservation | OmnistockError] = []
    for c in cmds:
        out.append(c.error if isinstance(c.error, OmnistockError) else c.result)
    return out
