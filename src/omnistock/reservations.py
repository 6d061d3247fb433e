"""Reservation commands: hold (one or many), commit, release, extend,
resize, ship and collect. A mixin of ``Inventory``.

Holds are location-level and all-or-nothing unless the order allows
partial; what was confirmed is what ships."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import timedelta
from json.encoder import encode_basestring as _json_str
from typing import Any, overload

from . import codec
from ._validate import check_ttl, from_micros
from .commands import DEFAULT_TTL, CommandBase, Plan, _Request
from .errors import (
    InsufficientStock,
    InvalidInput,
    InvalidQuantity,
    InvalidTransition,
    OmnistockError,
)
from .holdbatch import HoldBatch, HoldBatchResult
from .ledger.grid import Pos
from .ledger.holds import COMMITTED, FULFILLED, HELD, OPEN, Hold
from .ledger.state import LedgerState
from .queries import _reservation
from .storage import NewRow
from .values import Line, Order, Reservation, ReservationLine, lines_of


class ReservationCommands(CommandBase):
    """Commands on reservations (see the module doc)."""

    @overload
    def hold_many(
        self,
        orders: HoldBatch,
        ttl: Any = DEFAULT_TTL,
        keys: None = None,
        *,
        key: str | None = None,
    ) -> HoldBatchResult: ...
    @overload
    def hold_many(
        self,
        orders: Sequence[Order],
        ttl: Any = DEFAULT_TTL,
        keys: Sequence[str | None] | None = None,
        *,
        key: None = None,
    ) -> list[Reservation | OmnistockError]: ...

    def hold_many(
        self,
        orders: Sequence[Order] | HoldBatch,
        ttl: Any = DEFAULT_TTL,
        keys: Sequence[str | None] | None = None,
        *,
        key: str | None = None,
    ) -> list[Reservation | OmnistockError] | HoldBatchResult:
        """Hold many orders in one store transaction.

        A list of ``Order`` is group-committed: each order is validated and
        reserved in sequence, exactly as ``hold`` would; the result list holds
        a ``Reservation`` or the typed error for each order, in order. One
        refused order never fails its neighbours. ``keys``: one idempotency
        key per order.

        A columnar ``HoldBatch`` of pinned orders is the bulk path: one kernel
        call decides every order (all-or-nothing each, in batch order, so the
        same orders are held as by sequential ``hold`` calls) and one journal
        row records them; the ``HoldBatchResult`` has a status and a
        reservation id per order. ``key`` is one idempotency key for the whole
        batch. O(lines) with a small constant: about a microsecond an order
        end to end on SQLite (docs/performance.md)."""
        if isinstance(orders, HoldBatch):
            if keys is not None:
                raise InvalidInput(
                    "keys", keys, "a HoldBatch takes one key for the whole batch (key=...)"
                )
            result: HoldBatchResult = self._hold_batch(orders, ttl, key)
            return result
        if key is not None:
            raise InvalidInput("key", key, "a list of orders takes one key per order (keys=[...])")
        if isinstance(orders, str | bytes) or not isinstance(orders, Sequence):
            raise InvalidInput("orders", orders, "must be a HoldBatch or a list of Order")
        if keys is not None and len(keys) != len(orders):
            raise InvalidInput("keys", len(keys), f"must give one key per order ({len(orders)})")
        reqs = []
        for i, o in enumerate(orders):
            try:
                reqs.append(self._hold_request(o, ttl, None if keys is None else keys[i]))
            except OmnistockError as exc:
                reqs.append(_Request.failed("hold", exc))
        self._submit_many(reqs)
        out: list[Reservation | OmnistockError] = []
        for r in reqs:
            if r.error is not None and not isinstance(r.error, OmnistockError):
                raise r.error  # a bug or an interrupt, not a refusal
            out.append(r.error if r.error is not None else r.result)
        return out

    def hold(self, order: Order, ttl: Any = DEFAULT_TTL, key: str | None = None) -> Reservation:
        """Reserve an order's lines until ``now + ttl``.

        All-or-nothing unless ``order.allow_partial``: raises
        ``InsufficientStock`` naming the first short line, reserving nothing.
        Lines must be pinned (``Line(sku, qty, location=...)``) or the order a
        pickup order (reserved at ``pickup_at``). O(lines)."""
        result: Reservation = self._submit(self._hold_request(order, ttl, key))
        return result

    def _hold_request(self, order: Order, ttl: Any, key: str | None) -> _Request:
        if not isinstance(order, Order):
            raise InvalidInput("order", order, "must be an Order")
        td = check_ttl("ttl", ttl)
        ttl_us = td // timedelta(microseconds=1)

        def plan(now: int) -> Plan:
            st = self._state
            want = self._pinned(order)
            exp = now + ttl_us
            rid = st.holds.next_id(order.id)
            ts = self._ts(now)
            rows: list[NewRow] = self._claim(ts, key, "order:" + order.id)
            datas: list[dict[str, Any] | None] = [None] * len(rows)
            g = st.grid
            lines = []
            data = {"exp": exp, "order": order.id}
            text = f'{{"exp":{exp},"order":{_json_str(order.id)}}}'
            for (s, l), q in want.items():
                sku, loc = g.skus[s], g.locs[l]
                rows.append((ts, "held", sku, loc, q, rid, order.channel, key, text))
                datas.append(data)
                lines.append(ReservationLine(sku, loc, q))
            res = Reservation(
                id=rid,
                state=HELD,
                expires_at=from_micros(exp),
                order_id=order.id,
                channel=order.channel,
                lines=tuple(lines),
            )
            return rows, datas, res

        return self._request("hold", lambda: [codec.order_args(order), ttl_us], key, plan)

    def _pinned(self, order: Order) -> dict[Pos, int]:
        """Positions and quantities to reserve for ``order``, checked against
        ATP and the channel's figure. Raises without side effects."""
        st = self._state
        ch = self._channel(st, order.channel) if order.channel is not None else None
        if order.method == "pickup":
            self._loc(st, order.pickup_at, "pickup_at")
            assert order.pickup_at is not None
            if not st.locations[order.pickup_at].pickup:
                raise InvalidInput("pickup_at", order.pickup_at, "does not offer pickup")
        want: dict[Pos, int] = {}
        for ln in order.lines:
            loc = ln.location or (order.pickup_at if order.method == "pickup" else None)
            if loc is None:
                raise InvalidInput(
                    "lines",
                    ln,
                    "has no location; sourcing unpinned lines needs the fulfilment "
                    "policy (inv.allocate); pin it with Line(sku, qty, location=...)",
                )
            s = self._sku(st, ln.sku)
            l = self._loc(st, loc)
            if ch is not None and ch.locations is not None and loc not in ch.locations:
                raise InvalidInput(
                    "lines", ln, f"location {loc!r} does not serve channel {ch.id!r}"
                )
            want[(s, l)] = want.get((s, l), 0) + ln.qty
        g = st.grid
        out: dict[Pos, int] = {}
        for (s, l), q in want.items():
            atp = int(g.holdable[s, l]) - int(g.reserved[s, l])
            if atp < q:
                if not order.allow_partial:
                    raise InsufficientStock(g.skus[s], q, max(0, atp), g.locs[l], order.channel)
                q = max(0, atp)
            if q:
                out[(s, l)] = q
        if ch is not None and self._fenced(st, ch):
            per_sku: dict[int, int] = {}
            for (s, _), q in out.items():
                per_sku[s] = per_sku.get(s, 0) + q
            for s, q in per_sku.items():
                room = self._channel_room(st, ch, s)
                if q > room:
                    raise InsufficientStock(g.skus[s], q, room, None, ch.id)
        if not out:
            first = order.lines[0]
            raise InsufficientStock(first.sku, first.qty, 0, first.location, order.channel)
        return out

    def _open_hold(self, res_id: Any, allowed: tuple[str, ...], action: str) -> Hold:
        st = self._state
        h = self._hold(st, res_id)
        if h.state not in allowed:
            raise InvalidTransition("res_id", res_id, f"is {h.state}; cannot {action} it")
        return h

    def _line_rows(
        self,
        h: Hold,
        kind: str,
        now: int,
        key: str | None,
        data: dict[str, Any] | None = None,
        qtys: dict[Pos, int] | None = None,
    ) -> tuple[list[NewRow], list[Any]]:
        g = self._state.grid
        ts = self._ts(now)
        text = None if data is None else json.dumps(data)
        rows: list[NewRow] = []
        for (s, l), q in (qtys or h.lines).items():
            rows.append((ts, kind, g.skus[s], g.locs[l], q, h.id, h.channel, key, text))
        return rows, [data] * len(rows)

    def _after(self, h: Hold, rows: list[NewRow], datas: list[Any]) -> Reservation:
        """The reservation as it will be once ``rows`` apply (the result a
        command returns, and a repeated key returns again)."""
        g = self._state.grid
        tmp = h.copy()
        for r, data in zip(rows, datas, strict=True):
            kind, qty = r[1], r[4]
            p = (g.sku_ix[r[2]], g.loc_ix[r[3]])  # type: ignore[index]
            if kind == "committed":
                tmp.state, tmp.expires_us = COMMITTED, None
            elif kind == "extended":
                tmp.expires_us = data["exp"]
            else:  # released, expired, fulfilled take units off the line
                left = tmp.lines.get(p, 0) - qty
                if left > 0:
                    tmp.lines[p] = left
                else:
                    tmp.lines.pop(p, None)
                if kind == "fulfilled":
                    tmp.shipped[p] = tmp.shipped.get(p, 0) + qty
                    if not tmp.lines:
                        tmp.state, tmp.expires_us = FULFILLED, None
                else:
                    tmp.state, tmp.expires_us = kind, None
        return _reservation(self._state, tmp)

    def commit(self, res_id: str, key: str | None = None) -> Reservation:
        """HELD -> COMMITTED: the hold no longer expires. Committing a committed
        reservation changes nothing."""

        def plan(now: int) -> Plan:
            h = self._open_hold(res_id, OPEN, "commit")
            if h.state == COMMITTED:
                return [], [], _reservation(self._state, h)
            rows, datas = self._line_rows(h, "committed", now, key)
            return rows, datas, self._after(h, rows, datas)

        result: Reservation = self._run("commit", [res_id], key, plan)
        return result

    def release(self, res_id: str, key: str | None = None) -> Reservation:
        """Cancel a held or committed reservation; its units return to ATP."""

        def plan(now: int) -> Plan:
            h = self._open_hold(res_id, OPEN, "release")
            rows, datas = self._line_rows(h, "released", now, key)
            return rows, datas, self._after(h, rows, datas)

        result: Reservation = self._run("release", [res_id], key, plan)
        return result

    def extend(self, res_id: str, ttl: Any, key: str | None = None) -> Reservation:
        """Move a held reservation's expiry to ``now + ttl``."""
        td = check_ttl("ttl", ttl)
        ttl_us = td // timedelta(microseconds=1)

        def plan(now: int) -> Plan:
            h = self._open_hold(res_id, (HELD,), "extend")
            rows, datas = self._line_rows(h, "extended", now, key, {"exp": now + ttl_us})
            return rows, datas, self._after(h, rows, datas)

        result: Reservation = self._run("extend", [res_id, ttl_us], key, plan)
        return result

    def resize(self, res_id: str, lines: Iterable[Any], key: str | None = None) -> Reservation:
        """Change a held reservation's quantities (a cart edit). Each line gives
        the new total for a (sku, location) of the reservation; increases are
        checked against ATP (only the delta), decreases are released."""
        ls = lines_of(lines)

        def plan(now: int) -> Plan:
            st = self._state
            h = self._open_hold(res_id, (HELD,), "resize")
            g = st.grid
            ts = self._ts(now)
            rows: list[NewRow] = []
            datas: list[Any] = []
            seen: set[Pos] = set()
            grow: dict[int, int] = {}
            for ln in ls:
                loc = ln.location
                if loc is None:
                    locs = [g.locs[l] for (s, l) in h.lines if g.skus[s] == ln.sku]
                    if len(locs) != 1:
                        raise InvalidInput("lines", ln, "needs a location to resize")
                    loc = locs[0]
                s, l = self._sku(st, ln.sku), self._loc(st, loc)
                if (s, l) in seen:
                    raise InvalidInput("lines", ln, "gives the same sku and location twice")
                seen.add((s, l))
                cur = h.lines.get((s, l), 0)
                delta = ln.qty - cur
                if delta > 0:
                    atp = st.grid.atp(s, l)
                    if atp < delta:
                        raise InsufficientStock(ln.sku, delta, max(0, atp), loc, h.channel)
                    grow[s] = grow.get(s, 0) + delta
                    data: dict[str, Any] = {"order": h.order_id}
                    rows.append(
                        (ts, "held", ln.sku, loc, delta, h.id, h.channel, key, json.dumps(data))
                    )
                    datas.append(data)
                elif delta < 0:
                    data = {"resize": 1}
                    rows.append(
                        (
                            ts,
                            "released",
                            ln.sku,
                            loc,
                            -delta,
                            h.id,
                            h.channel,
                            key,
                            json.dumps(data),
                        )
                    )
                    datas.append(data)
            ch = st.channels.get(h.channel) if h.channel is not None else None
            if ch is not None and self._fenced(st, ch):
                for s, more in grow.items():
                    room = self._channel_room(st, ch, s)
                    if more > room:
                        raise InsufficientStock(g.skus[s], more, room, None, ch.id)
            tmp = h.copy()
            for r in rows:
                p = (g.sku_ix[r[2]], g.loc_ix[r[3]])  # type: ignore[index]
                tmp.lines[p] = tmp.lines.get(p, 0) + (r[4] if r[1] == "held" else -r[4])
                if tmp.lines[p] == 0:
                    del tmp.lines[p]
            if not tmp.lines:
                raise InvalidInput(
                    "lines",
                    [[x.sku, x.qty] for x in ls],
                    "would leave the reservation empty; release it instead",
                )
            return rows, datas, _reservation(st, tmp)

        args = [res_id, [[x.sku, x.qty, x.location] for x in ls]]
        result: Reservation = self._run("resize", args, key, plan)
        return result

    def ship(
        self, res_id: str, lines: Iterable[Any] | None = None, key: str | None = None
    ) -> Reservation:
        """Units of a committed reservation leave the building: all of it, or
        the given ``(sku, qty)`` lines. When nothing is left it is FULFILLED."""
        ls = None if lines is None else lines_of(lines)
        return self._fulfil("ship", res_id, ls, (COMMITTED,), key)

    def collect(self, res_id: str, key: str | None = None) -> Reservation:
        """The shopper collected a pickup order: every unit leaves."""
        return self._fulfil("collect", res_id, None, OPEN, key)

    def _fulfil(
        self,
        how: str,
        res_id: str,
        ls: tuple[Line, ...] | None,
        allowed: tuple[str, ...],
        key: str | None,
    ) -> Reservation:
        def plan(now: int) -> Plan:
            st = self._state
            h = self._open_hold(res_id, allowed, how)
            if how == "collect":
                coming = [i.id for i in st.supply.by_id.values() if i.res == h.id]
                if coming:
                    raise InvalidTransition(
                        "res_id",
                        res_id,
                        "has units in transit (" + ", ".join(coming) + "); receive them first",
                    )
            qtys = dict(h.lines) if ls is None else self._pick(st, h, ls)
            rows, datas = self._line_rows(h, "fulfilled", now, key, {"how": how}, qtys)
            return rows, datas, self._after(h, rows, datas)

        args = [res_id, None if ls is None else [[x.sku, x.qty, x.location] for x in ls]]
        result: Reservation = self._run(how, args, key, plan)
        return result

    def _pick(self, st: LedgerState, h: Hold, ls: tuple[Line, ...]) -> dict[Pos, int]:
        out: dict[Pos, int] = {}
        g = st.grid
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
                raise InvalidQuantity("lines", ln, f"more than reservation {h.id} holds")
        return out
