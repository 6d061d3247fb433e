"""Allocation plans: allocate one order (ship or BOPIS), a columnar wave,
and a store's rejection of a line (with its re-sourcing).

The decisions live in the fulfilment services (``allocate``, ``bopis``,
``waves``, ``resourcing``); these plans validate, dispatch and claim the
new reservation id.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from typing import Any

import attrs
import numpy as np

from .. import codec
from ..errors import CommandFailed, InsufficientStock, InvalidInput
from ..fulfilment.allocate import decide_ship, policy_of, refused
from ..fulfilment.batch import BatchResult, OrderBatch
from ..fulfilment.bopis import decide_pickup
from ..fulfilment.policy import Policy
from ..fulfilment.resourcing import move_line, resource_uncovered
from ..fulfilment.results import Allocation, Status
from ..fulfilment.waves import batch_of, decide_wave
from ..ledger.grid import Pos
from ..ledger.holds import OPEN
from ..ledger.rows import Kind, make
from ..ledger.state import SELLABLE, LedgerState
from ..lookup import channel_of, fenced, loc_col, open_hold, reservation_of, sku_row
from ..planning import Context, Datas, Emit, InState, Plan, done
from ..runner import Runner
from ..storage import NewRow
from ..values import Order, ReservationLine
from . import kits
from .reservations import already_held, pinned

codec.register("Allocation", Allocation.from_jsonable)
codec.register("BatchResult", BatchResult.from_jsonable)


def allocate(
    st: LedgerState, cx: Context, order: Order, ttl_us: int, policy: Policy | None
) -> Plan[Allocation]:
    """Reserve ``order``, its unpinned lines where the policy says. A repeat
    of an order that is open returns its reservation."""
    if st.kits and kits.has_kit(st, order.lines):  # a plain order: one empty-dict test
        return kits.allocate(st, cx, order, ttl_us, policy, allocate, already_held)
    h = already_held(st, order)
    if h is not None:
        res = reservation_of(st, h)
        asked = sum(ln.qty for ln in order.lines)
        got = sum(x.qty for x in res.lines) + sum(x.qty for x in res.shipped)
        status: Status = "allocated" if got >= asked else "partial"
        return Plan([], [], done(Allocation(order.id, status, res, res.lines)))
    pol = policy or policy_of(st)
    for ln in order.lines:
        sku_row(st, ln.sku)
        if ln.location is not None:
            loc_col(st, ln.location, "lines")
    ch = channel_of(st, order.channel) if order.channel is not None else None
    if order.method == "pickup":
        loc_col(st, order.pickup_at, "pickup_at")
        plan = decide_pickup(st, cx, order, ttl_us, pol, ch)
    else:
        pinned_lines = tuple(ln for ln in order.lines if ln.location is not None)
        want: dict[Pos, int] = {}
        short: dict[Pos, int] | None = {} if order.backorder else None
        if pinned_lines:
            try:
                want = pinned(st, attrs.evolve(order, lines=pinned_lines), short)
            except InsufficientStock as exc:
                return refused(order.id, reason=str(exc))
        plan = decide_ship(st, cx, order, ttl_us, pol, ch, want, short)
    if plan.rows:  # a reservation was minted: claim its id
        claim = cx.claim("order:" + order.id)
        plan.rows, plan.datas = claim + plan.rows, [*([None] * len(claim)), *plan.datas]
    return plan


def allocate_with(
    order: Order, ttl_us: int, policy: Policy | None
) -> Callable[[LedgerState, Context], Plan[Allocation]]:
    """``allocate`` bound to one order (a wave's commands)."""
    return lambda st, cx: allocate(st, cx, order, ttl_us, policy)


def allocate_wave(
    st: LedgerState, cx: Context, b: OrderBatch, ttl_us: int, policy: Policy | None, optimize: bool
) -> Plan[BatchResult]:
    """A columnar wave through the kernel (``fulfilment.waves``)."""
    return decide_wave(st, cx, b, ttl_us, policy or policy_of(st), optimize)


def reject(
    st: LedgerState, cx: Context, res_id: str, sku: str, reason: str, location: str | None
) -> Plan[tuple[str, Pos, int]]:
    """The inventory effect of a store rejecting a line; ``then_resource``
    moves the line in the same commit."""
    g = st.grid
    h = open_hold(st, res_id, OPEN, "reject")
    found = [
        (p, q)
        for p, q in h.lines.items()
        if g.skus[p[0]] == sku and (location is None or g.locs[p[1]] == location)
    ]
    if not found:
        at = f" at {location!r}" if location else ""
        raise InvalidInput("sku", sku, f"is not held by reservation {res_id!r}{at}")
    if len(found) > 1:
        why = f"reservation holds {sku!r} at several locations; say which"
        raise InvalidInput("location", location, why)
    (s, l), q = found[0]
    loc = g.locs[l]
    rows: list[NewRow] = []
    datas: Datas = []
    sellable = g.sellable(s, l)
    d: dict[str, Any]
    if reason == "not_found":
        d = {"state": SELLABLE, "to": 0, "reason": reason}
        rows.append(
            make(
                Kind.COUNTED,
                cx.ts,
                sku=sku,
                location=loc,
                qty=-sellable,
                ref=res_id,
                key=cx.key,
                data=json.dumps(d),
            )
        )
        datas.append(d)
    elif reason == "damaged":
        moved = min(q, max(0, sellable))
        if moved:
            d = {"from": SELLABLE, "to": "damaged", "reason": reason}
            rows.append(
                make(
                    Kind.STATE_CHANGED,
                    cx.ts,
                    sku=sku,
                    location=loc,
                    qty=moved,
                    ref=res_id,
                    key=cx.key,
                    data=json.dumps(d),
                )
            )
            datas.append(d)
    else:
        d = {"state": SELLABLE, "reason": reason}
        rows.append(
            make(
                Kind.WRITTEN_OFF,
                cx.ts,
                sku=sku,
                location=loc,
                qty=q,
                ref=res_id,
                key=cx.key,
                data=json.dumps(d),
            )
        )
        datas.append(d)
    return Plan(rows, datas, done((h.id, (s, l), q)), [InState(h.id, OPEN)])


def then_resource(reason: str) -> Any:
    """The follow-up of ``reject``: re-source the rejected line (and what the
    effect left uncovered), then answer with the line's new allocation."""

    def then(st: LedgerState, cx: Context, found: Any, emit: Emit) -> Allocation:
        rid, p, _q = found
        g = st.grid
        sku = g.skus[p[0]]
        moved, trace = move_line(st, cx, rid, p, found[2], emit, reason)
        h = st.holds.need_peek(rid)
        resource_uncovered(st, cx, {p: 0}, emit)
        res = reservation_of(st, h)
        lines = tuple(ReservationLine(sku, loc, n) for loc, n in moved.to)
        if moved.transfers:
            lines = tuple(res.lines)
        status: Status = (
            "allocated"
            if not moved.missing
            else ("partial" if moved.to or moved.transfers else "unfillable")
        )
        why = None if not moved.missing else f"{moved.missing} x {sku} could not be re-sourced"
        ready = max((t.eta for t in moved.transfers), default=None)
        return Allocation(
            h.order_id or rid, status, res, lines, trace, reason=why,
            transfers=moved.transfers, ready_at=ready,
        )  # fmt: skip

    return then


def run_orders(
    runner: Runner,
    orders: Sequence[Order],
    ttl_us: int,
    policy: Policy | None,
    key: str | None = None,
) -> list[Allocation]:
    """Commit a list wave: one ``allocate`` command per order, each decided
    against the ledger as the previous ones left it, all in one transaction.
    Validated whole: one bad order raises and nothing is written. With
    ``key``, order ``i`` has the key ``<key>#<i>``, so a retried wave returns
    each order's first allocation."""
    orders = list(orders)
    for i, o in enumerate(orders):
        if not isinstance(o, Order):
            raise InvalidInput(f"orders[{i}]", o, "must be an Order")
    cmds = [
        runner.command(
            "allocate",
            allocate_with(o, ttl_us, policy),
            None if key is None else f"{key}#{i}",
            lambda o=o: [codec.order_args(o), ttl_us, None if policy is None else policy.to_dict()],
        )
        for i, o in enumerate(orders)
    ]
    runner.run_all(cmds, whole=True)
    for c in cmds:
        if c.error is not None and not isinstance(c.error, CommandFailed):
            raise c.error
    for c in cmds:
        if c.error is not None:
            raise c.error
    return [c.result for c in cmds]


def run_wave(
    runner: Runner,
    b: OrderBatch,
    ttl_us: int,
    policy: Policy | None,
    optimize: bool,
    key: str | None = None,
) -> BatchResult:
    """Commit a columnar wave: through the kernel, or order by order when
    its channel is fenced (its room is per SKU across the wave)."""
    st = runner.sync()
    ch = st.channels.get(b.channel) if b.channel is not None else None
    if ch is not None and fenced(st, ch):
        if optimize:
            why = f"channel {ch.id!r} has a buffer, cap or fences: decided order by order"
            raise InvalidInput("optimize", optimize, why)
        return batch_of(b, run_orders(runner, b.orders(), ttl_us, policy, key))

    def plan(st: LedgerState, cx: Context) -> Plan[BatchResult]:
        return allocate_wave(st, cx, b, ttl_us, policy, optimize)

    args = lambda: [wave_digest(b), ttl_us, None if policy is None else policy.to_dict(), optimize]  # noqa: E731
    return runner.run(runner.command("allocate_many", plan, key, args))


def wave_digest(b: OrderBatch) -> str:
    """A digest of a wave's every column (a repeated key must name the same
    wave). O(orders)."""
    h = hashlib.sha256()
    for col in (b.order_ids, b.skus):
        h.update("\x1f".join(col).encode())
        h.update(b"\x1e")
    for arr in (b.qty, b.lat, b.lon):
        h.update(np.ascontiguousarray(arr).tobytes())
    h.update(f"{b.channel}|{b.allow_split}|{b.allow_partial}".encode())
    return h.hexdigest()
