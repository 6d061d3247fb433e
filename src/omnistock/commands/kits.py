"""Kit plans: declare a kit, and turn kit lines into component lines.

A kit (``ledger/kits.py``) has no stock: every command on a kit line works
on its components, all at ONE location. The hooks here are called by the
ordinary plans only when the ledger has kits and a line names one (a plain
SKU costs a dict miss):

- ``add_kit``: the ``kit-added`` row;
- ``hold`` / ``allocate``: each kit line becomes component lines pinned to
  one location (the line's, the pickup store, or the best location the
  sourcing policy finds that builds the WHOLE kit line), then the ordinary
  plan reserves them, and ``kit-held`` rows record the kits;
- ``expand``: a walk-in sale's or a return's kit lines as component lines;
- ``held_lines``: a release's or a shipment's kit lines as the reservation's
  component units at the kit's location;
- ``amend``: kit lines set the kits at one location, as component lines.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from json.encoder import encode_basestring as _json_str
from typing import Any

import attrs

from .._validate import MAX_QTY
from ..errors import InvalidInput, InvalidQuantity
from ..fulfilment.allocate import policy_of, refused, source_lines
from ..fulfilment.policy import Policy
from ..fulfilment.results import Allocation
from ..ledger.grid import Pos
from ..ledger.holds import OPEN, Hold
from ..ledger.kits import MEMO_MAX, Kits
from ..ledger.rows import NEW_KIND, NEW_LOC, NEW_QTY, NEW_REF, NEW_SKU, Kind, make
from ..ledger.state import LedgerState
from ..lookup import channel_of, loc_col, open_hold, reservation_of
from ..planning import Context, InState, Plan, Unchanged, done, guards_of
from ..values import Line, Order

__all__ = ["add_kit", "allocate", "amend", "amends_kits", "expand", "has_kit", "held_lines", "hold"]


def add_kit(st: LedgerState, cx: Context, kit: str, comps: dict[str, int]) -> Plan[dict[str, int]]:
    """Declare ``kit`` as ``comps`` (checked by the face: ids and positive
    quantities). Refuses a kit that is a plain SKU already (it has rows), a
    component that is a kit or the kit itself (kits do not nest: no cycle
    can form), and a kit declared otherwise before; the same declaration
    again is a no-op."""
    want = dict(sorted(comps.items()))
    old = st.kits.get(kit)
    if old is not None:
        if old == want:
            return Plan([], [], done(dict(old)))
        raise InvalidInput(
            "components", want, f"kit {kit!r} is already declared as {old}; a kit never changes"
        )
    if kit in st.grid.sku_ix:
        raise InvalidInput("kit_sku", kit, "already has stock or journal rows as a plain SKU")
    if kit in st.kits.of:
        raise InvalidInput("kit_sku", kit, f"is a component of kit {st.kits.of[kit][0]!r}")
    for c in want:
        if c == kit:
            raise InvalidInput("components", c, "a kit cannot contain itself")
        if c in st.kits:
            raise InvalidInput("components", c, "is a kit: a kit's components are plain SKUs")
    data = {"components": want}
    row = make(Kind.KIT_ADDED, cx.ts, sku=kit, ref="kit:" + kit, key=cx.key, data=json.dumps(data))
    # Another writer stocking the kit's name as a plain SKU makes this land not.
    guards = [Unchanged(kit, loc, (0, 0, 0, 0)) for loc in st.locations]
    return Plan([row], [data], done(dict(want)), guards)


def has_kit(st: LedgerState, lines: Any) -> bool:
    """Whether any line names a kit. O(lines) dict lookups."""
    kits = st.kits
    for ln in lines:  # noqa: SIM110 - a loop: cheaper than any() over a generator
        if ln.sku in kits:
            return True
    return False


def _line(sku: str, qty: int, location: str | None) -> Line:
    """A ``Line`` of checked parts (ids from a kit definition, a product of
    checked quantities bounded here), built without its converters: kit
    lines are on the hot path of a hold."""
    if qty > MAX_QTY:
        raise InvalidQuantity("qty", qty, f"kit line of {sku!r}: more than 2**62 units")
    ln = _new_line(Line)
    _set(ln, "sku", sku)
    _set(ln, "qty", qty)
    _set(ln, "location", location)
    _set(ln, "unit", None)  # in base units: every field of Line is set
    return ln


_HELD = Kind.HELD.value
_new_line = object.__new__
_set = object.__setattr__
_ORDER_FIELDS = tuple(f.name for f in attrs.fields(Order))


def with_lines(order: Order, lines: tuple[Line, ...]) -> Order:
    """``order`` with other (checked) ``lines``: a copy made without
    running ``Order``'s validators again (``attrs.evolve`` would)."""
    o = _new_line(Order)
    for name in _ORDER_FIELDS:
        _set(o, name, getattr(order, name))
    _set(o, "lines", lines)
    return o


def _components(
    kits: Kits, kit: str, comps: dict[str, int], n: int, at: str | None
) -> tuple[Line, ...]:
    """The component lines of ``n`` x ``kit`` at ``at``: immutable values,
    kept in the definitions' memo (dropped when a definition changes), so a
    repeated kit line does not build them again. O(components)."""
    k = (kit, n, at)
    got = kits.memo.get(k)
    if got is None:
        got = tuple([_line(c, n * q, at) for c, q in comps.items()])
        if len(kits.memo) >= MEMO_MAX:
            kits.memo = {}
        kits.memo[k] = got
    return got


def expand(st: LedgerState, ls: tuple[Line, ...]) -> tuple[Line, ...]:
    """``ls`` with each kit line replaced by its component lines (same
    location). O(lines x components)."""
    out: list[Line] = []
    kits = st.kits
    for ln in ls:
        comps = kits.get(ln.sku)
        if comps is None:
            out.append(ln)
        else:
            n, at = ln.qty, ln.location
            out += [_line(c, n * q, at) for c, q in comps.items()]
    return tuple(out)


def held_lines(st: LedgerState, h: Hold, ls: tuple[Line, ...]) -> tuple[Line, ...]:
    """``ls`` with each kit line replaced by the reservation's component
    units of that kit, pinned to where the kit is held (its line's location,
    else the kits' locations in the order they were held). Raises
    ``InvalidInput`` for a kit the reservation does not hold and
    ``InvalidQuantity`` for more kits than it holds."""
    g = st.grid
    out: list[Line] = []
    taken: dict[tuple[str, int], int] = {}
    for ln in ls:
        comps = st.kits.get(ln.sku)
        if comps is None:
            out.append(ln)
            continue
        need = ln.qty
        found = False
        for k, n in h.kits.items():
            if k[0] != ln.sku or (ln.location is not None and g.locs[k[1]] != ln.location):
                continue
            found = True
            take = min(need, n - taken.get(k, 0))
            if take > 0:
                taken[k] = taken.get(k, 0) + take
                need -= take
                out += [Line(c, take * q, g.locs[k[1]]) for c, q in comps.items()]
            if not need:
                break
        if not found:
            raise InvalidInput("lines", ln, f"is not a kit held by reservation {h.id!r}")
        if need:
            raise InvalidQuantity("lines", ln, f"more kits than reservation {h.id} holds")
    return tuple(out)


def _kit_rows(
    st: LedgerState, cx: Context, plan: Plan[Any], order: Order, placed: dict[tuple[str, str], int]
) -> None:
    """Record the kits of ``placed`` ((kit, location) -> kits) in ``plan``,
    whose ``held`` rows opened the reservation. When those rows end the
    plan (a plain hold), the last one carries them in its data
    (``"kits": [[kit, location, kits], ...]``, folded after its units are
    reserved): no row of its own. Otherwise (other rows follow, e.g. an
    allocation's transfers) one ``kit-held`` row per (kit, location) at
    the end, as before: either way the kits are added after every row of
    the command, and both shapes replay."""
    rows = plan.rows
    if not placed or not rows:  # a repeat, or nothing reserved
        return
    last = rows[-1]
    if last[NEW_KIND] == _HELD:  # a plain hold's rows: the last one carries the kits
        ts, kind, sku, at, qty, rid, ch, key, text = last
        d = plan.datas[-1]
        data = {**d} if d is not None else json.loads(text or "{}")
        data["kits"], part = _kits_data(st.kits, placed)
        if text and text != "{}" and text[0] == "{" and text[-1] == "}":
            text = f'{text[:-1]},"kits":{part}}}'
        else:
            text = f'{{"kits":{part}}}'
        rows[-1] = (ts, kind, sku, at, qty, rid, ch, key, text)
        plan.datas[-1] = data
        return
    for r in rows:
        if r[NEW_KIND] == _HELD:
            ref = r[NEW_REF]
            break
    else:  # nothing was reserved
        return
    assert isinstance(ref, str)
    for (kit, loc), n in placed.items():
        rows.append(
            make(
                Kind.KIT_HELD,
                cx.ts,
                sku=kit,
                location=loc,
                qty=n,
                ref=ref,
                channel=order.channel,
                key=cx.key,
            )
        )
        plan.datas.append(None)


def _kits_data(kits: Kits, placed: dict[tuple[str, str], int]) -> tuple[list[Any], str]:
    """``placed`` as a held row's ``"kits"`` member: its value and its JSON
    text (kept in the definitions' memo: a hold's kits repeat, and
    ``json.dumps`` costs more than the rest of the row). The value is
    shared: the fold only reads it."""
    k = ("data", *placed.items())
    got = kits.memo.get(k)
    if got is None:
        value = [[kit, loc, n] for (kit, loc), n in placed.items()]
        text = ",".join(f"[{_json_str(a)},{_json_str(b)},{n}]" for (a, b), n in placed.items())
        got = (value, f"[{text}]")
        if len(kits.memo) >= MEMO_MAX:
            kits.memo = {}
        kits.memo[k] = got
    return got


def _as_asked(st: LedgerState, order: Order) -> Order:
    """``order`` with kit lines as component lines where the order pins
    them (unpinned ones stay unpinned): what a repeat is compared with."""
    return with_lines(order, expand(st, order.lines))


def _check_order(st: LedgerState, order: Order) -> None:
    """Kit lines are all or nothing (their locations are checked with their
    component lines by the ordinary plan)."""
    if order.allow_partial:
        raise InvalidInput(
            "allow_partial", True, "an order with kit lines is all-or-nothing (a kit never splits)"
        )


def _pinned_kits(order: Order, placed: dict[tuple[str, str], int], kits: Mapping[str, Any]) -> None:
    """Count the kit lines with a location (their own or the pickup store) in ``placed``."""
    at = order.pickup_at if order.method == "pickup" else None
    for ln in order.lines:
        loc = ln.location or at
        if ln.sku in kits and loc is not None:
            placed[(ln.sku, loc)] = placed.get((ln.sku, loc), 0) + ln.qty


def hold(
    st: LedgerState,
    cx: Context,
    order: Order,
    ttl_us: int,
    inner: Callable[[LedgerState, Context, Order, int, tuple[Line, ...]], Plan[Any]],
) -> Plan[Any]:
    """``reservations.hold`` for an order with kit lines: each kit line's
    components are reserved at its location (or the pickup store); an
    unpinned kit line is refused as an unpinned plain line is. ``inner``
    is the plain plan, given the order and its lines as asked
    (``_as_asked``: it need not look for kits again, nor copy the order).
    One pass over the lines: the kits placed and those lines."""
    if order.allow_partial:
        _check_order(st, order)
    kits = st.kits
    memo = kits.memo
    at = order.pickup_at if order.method == "pickup" else None
    placed: dict[tuple[str, str], int] = {}
    out: list[Line] = []
    for ln in order.lines:
        comps = kits.get(ln.sku)
        if comps is None:
            out.append(ln)
            continue
        n, pin = ln.qty, ln.location
        loc = pin or at
        if loc is not None:
            placed[(ln.sku, loc)] = placed.get((ln.sku, loc), 0) + n
        out += memo.get((ln.sku, n, pin)) or _components(kits, ln.sku, comps, n, pin)
    plan = inner(st, cx, order, ttl_us, tuple(out))
    _kit_rows(st, cx, plan, order, placed)
    return plan


def allocate(
    st: LedgerState,
    cx: Context,
    order: Order,
    ttl_us: int,
    policy: Policy | None,
    inner: Callable[[LedgerState, Context, Order, int, Policy | None], Plan[Allocation]],
    already: Callable[[LedgerState, Order], Hold | None],
) -> Plan[Allocation]:
    """``allocation.allocate`` for an order with kit lines. Each unpinned
    kit line of a ship order goes whole to the best location (by the
    policy: its filters, then its ranking) that can build all of it, as if
    it were an order of its own that may not split, after the kit lines
    before it; then the order is allocated with those lines pinned. A kit
    line no location can build makes the order ``unfillable``."""
    _check_order(st, order)
    if already(st, _as_asked(st, order)) is not None:  # a repeat: as the ordinary plan answers
        return inner(st, cx, _as_asked(st, order), ttl_us, policy)
    placed: dict[tuple[str, str], int] = {}
    _pinned_kits(order, placed, st.kits)
    at = order.pickup_at if order.method == "pickup" else None
    ch = channel_of(st, order.channel) if order.channel is not None else None
    pol = policy or policy_of(st)
    taken: dict[Pos, int] = {}
    g = st.grid
    lines: list[Line] = []
    trace = None
    for ln in order.lines:
        comps = st.kits.get(ln.sku)
        if comps is None:
            lines.append(ln)
            continue
        loc = ln.location or at
        if loc is not None and at is not None:  # a pickup: built there now, never transferred
            l = loc_col(st, loc, "pickup_at")
            for c, q in comps.items():
                s = g.sku_ix.get(c)
                need = ln.qty * q + (0 if s is None else taken.get((s, l), 0))
                if s is None or g.atp(s, l) < need:
                    why = f"pickup store {loc!r} cannot build {ln.qty} x kit {ln.sku!r} now"
                    return refused(order.id, reason=why + " (a kit's components are not sent)")
                taken[(s, l)] = need
        if loc is None:
            want = [Line(c, ln.qty * q) for c, q in comps.items()]
            if any(x.sku not in g.sku_ix for x in want):
                return refused(order.id, reason=f"kit {ln.sku!r}: a component was never stocked")
            sp = source_lines(st, cx.now, want, "ship", order.ship_to, ch, pol, taken, (), False)
            if sp.status != "allocated":
                why = f"no location can build {ln.qty} x kit {ln.sku!r}: {sp.reason}"
                return refused(order.id, trace=sp.trace, reason=why)
            trace = sp.trace
            loc = sp.lines[0].sources[0][0]
            placed[(ln.sku, loc)] = placed.get((ln.sku, loc), 0) + ln.qty
            for x in want:
                p = (g.sku_ix[x.sku], g.loc_ix[loc])
                taken[p] = taken.get(p, 0) + x.qty
        lines += [_line(c, ln.qty * q, loc) for c, q in comps.items()]
    plan = inner(st, cx, with_lines(order, tuple(lines)), ttl_us, policy)
    _kit_rows(st, cx, plan, order, placed)
    if trace is not None and plan.rows:  # the kits' sourcing trace, when nothing else sourced
        read = plan.result
        plan.result = lambda s: _with_trace(read(s), trace)
    return plan


def _with_trace(a: Allocation, trace: Any) -> Allocation:
    return a if a.trace is not None else attrs.evolve(a, trace=trace)


def amends_kits(st: LedgerState, res_id: Any, ls: tuple[Line, ...]) -> bool:
    """Whether an amendment names a kit or its reservation holds one."""
    if has_kit(st, ls):
        return True
    h = st.holds.peek(res_id) if isinstance(res_id, str) else None
    return h is not None and bool(h.kits)


def amend(
    st: LedgerState,
    cx: Context,
    res_id: str,
    ls: tuple[Line, ...],
    inner: Callable[[LedgerState, Context, str, tuple[Line, ...]], Plan[Allocation]],
) -> Plan[Allocation]:
    """``amendments.amend`` with kit lines: a kit line sets the kits at one
    location (its own, where the reservation holds that kit, or the pickup
    store), as its component lines pinned there (added up with the plain
    lines pinned to the same position); then ``kit-held`` rows (negative
    for fewer) bring each (kit, location) of the reservation to what the
    lines ask (a kit not named is no longer one)."""
    h = open_hold(st, res_id, OPEN, "amend")
    g = st.grid
    want: dict[tuple[str, str], int] = {}
    lines: dict[tuple[str, str | None], int] = {}
    for ln in ls:
        comps = st.kits.get(ln.sku)
        if comps is None:
            lines[(ln.sku, ln.location)] = lines.get((ln.sku, ln.location), 0) + ln.qty
            continue
        loc = ln.location
        if loc is None:
            held = {g.locs[k[1]] for k in h.kits if k[0] == ln.sku}
            loc = held.pop() if len(held) == 1 else h.pickup
        if loc is None:
            why = "needs a location: the reservation holds this kit at none or several"
            raise InvalidInput("lines", ln, why)
        loc_col(st, loc, "lines")
        want[(ln.sku, loc)] = want.get((ln.sku, loc), 0) + ln.qty
        for c, q in comps.items():
            lines[(c, loc)] = lines.get((c, loc), 0) + ln.qty * q
    plan = inner(st, cx, res_id, tuple(_line(s, q, at) for (s, at), q in lines.items()))
    left = dict(h.lines)
    for r in plan.rows:
        if r[NEW_KIND] == Kind.RELEASED and r[NEW_REF] == h.id:
            p = (g.sku_ix[str(r[NEW_SKU])], g.loc_ix[str(r[NEW_LOC])])
            left[p] = left.get(p, 0) - int(r[NEW_QTY] or 0)
    rows = []
    for k in dict.fromkeys([*((kit, g.locs[l]) for kit, l in h.kits), *want]):
        kit, loc = k
        l = g.loc_ix[loc]
        now = h.kits.get((kit, l), 0)
        for c, q in st.kits[kit].items():  # what the releases' clamp leaves
            now = min(now, left.get((g.sku_ix.get(c, -1), l), 0) // q)
        if want.get(k, 0) != now:
            rows.append(
                make(
                    Kind.KIT_HELD,
                    cx.ts,
                    sku=kit,
                    location=loc,
                    qty=want.get(k, 0) - now,
                    ref=h.id,
                    channel=h.channel,
                    key=cx.key,
                )
            )
    if rows:
        plan.rows += rows
        plan.datas += [None] * len(rows)
        read = plan.result  # the inner answer (its trace), with the reservation read afresh
        plan.result = lambda s: _amended(s, res_id, read(s))
        plan.guards = [InState(h.id, OPEN), *guards_of(plan)]
    return plan


def _amended(st: LedgerState, rid: str, a: Allocation) -> Allocation:
    res = reservation_of(st, st.holds.need_peek(rid))
    return attrs.evolve(a, reservation=res, lines=res.lines)
