"""A store rejecting a kit line: the whole kit moves, never a component.

``reject(res_id, kit, reason)`` says the store cannot build the kit. Which
component failed is unknown, so no component's stock is touched (reject
the component itself to record its effect: that line alone then moves).
The kit's component units there are released and the kit is reserved again,
whole, at the best other location that can build it (the policy's filters
and ranking, as ``allocate`` places a kit), in the same commit. A pickup
order's kit, or a kit no other location can build, is released and
reported missing (status ``unfillable``).
"""

from __future__ import annotations

import json
from typing import Any

from ..errors import InvalidInput
from ..fulfilment.allocate import policy_of, source_lines
from ..fulfilment.results import Allocation, Status
from ..ledger.grid import Pos
from ..ledger.holds import OPEN
from ..ledger.rows import Kind, make
from ..ledger.state import LedgerState
from ..lookup import open_hold, reservation_of
from ..planning import Context, Datas, Guard, InState, Plan
from ..storage import NewRow
from ..values import Line, Point, ReservationLine
from .reservations import line_rows, reserve_guards

__all__ = ["reject_kit", "then_or_kit"]


def reject_kit(
    st: LedgerState, cx: Context, res_id: str, kit: str, reason: str, location: str | None
) -> Plan[Allocation]:
    """See the module doc. O(reservation lines + the sourcing search)."""
    g = st.grid
    h = open_hold(st, res_id, OPEN, "reject")
    found = [
        (k, n) for k, n in h.kits.items()
        if k[0] == kit and (location is None or g.locs[k[1]] == location)
    ]  # fmt: skip
    if not found:
        at = f" at {location!r}" if location else ""
        raise InvalidInput("sku", kit, f"is not a kit held by reservation {res_id!r}{at}")
    if len(found) > 1:
        why = f"reservation holds kit {kit!r} at several locations; say which"
        raise InvalidInput("location", location, why)
    (_, l), n = found[0]
    comps = st.kits[kit]
    old: dict[Pos, int] = {(g.sku_ix[c], l): n * q for c, q in comps.items()}
    rows: list[NewRow] = []
    datas: Datas = []
    guards: list[Guard] = [InState(h.id, OPEN)]
    new_loc: str | None = None
    trace = None
    why = f"{n} x kit {kit!r} rejected at {g.locs[l]!r} ({reason})"
    if h.pickup is None:
        ch = st.channels.get(h.channel) if h.channel is not None else None
        dest = None if h.dest is None else Point(h.dest[0], h.dest[1])
        want = [Line(c, n * q) for c, q in comps.items()]
        sp = source_lines(
            st, cx.now, want, "ship", dest, ch, policy_of(st), {}, (g.locs[l],), False
        )  # fmt: skip
        trace = sp.trace
        if sp.status == "allocated":
            new_loc = sp.lines[0].sources[0][0]
        else:
            why += f"; no other location can build it: {sp.reason}"
    if new_loc is not None:
        nl = g.loc_ix[new_loc]
        grow = {(g.sku_ix[c], nl): n * q for c, q in comps.items()}
        data: dict[str, Any] = {"order": h.order_id}
        for (s, _), q in grow.items():
            rows.append(
                make(
                    Kind.HELD,
                    cx.ts,
                    sku=g.skus[s],
                    location=new_loc,
                    qty=q,
                    ref=h.id,
                    channel=h.channel,
                    key=cx.key,
                    data=json.dumps(data),
                )
            )
            datas.append(data)
        rows.append(
            make(
                Kind.KIT_HELD,
                cx.ts,
                sku=kit,
                location=new_loc,
                qty=n,
                ref=h.id,
                channel=h.channel,
                key=cx.key,
            )
        )
        datas.append(None)
        guards += reserve_guards(st, h.channel, grow)
    # Released after the new lines are in: "part" closes the reservation
    # only when nothing at all is left.
    r, d = line_rows(st, cx, h, Kind.RELEASED, {"part": 1, "reason": reason}, old)
    rows += r
    datas += d
    status: Status = "allocated" if new_loc is not None else "unfillable"
    order_id = h.order_id or h.id

    def result(s: LedgerState) -> Allocation:
        res = reservation_of(s, s.holds.need_peek(res_id))
        lines = tuple(x for x in res.lines if x.kit == kit and x.location == new_loc)
        kits = (ReservationLine(kit, new_loc, n),) if new_loc is not None else ()
        return Allocation(
            order_id, status, res, lines or kits, trace,
            reason=None if new_loc is not None else why,
        )  # fmt: skip

    return Plan(rows, datas, result, guards)


def then_or_kit(then: Any) -> Any:
    """``allocation.then_resource``'s follow-up, passed over for a kit's
    rejection (its plan answers with the ``Allocation`` itself)."""

    def run(st: LedgerState, cx: Context, found: Any, emit: Any) -> Any:
        if isinstance(found, Allocation):
            return found
        return then(st, cx, found, emit)

    return run
