"""Stock movement commands: receive, count, sell, safety, state changes,
returns and expected supply. A mixin of ``Inventory``.

A sale or a count is physical truth: it always applies, and what it leaves
uncovered is re-sourced in the same commit (``orders``)."""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from ._validate import (
    MAX_QTY,
    check_id,
    check_opt_id,
    check_qty,
    check_when,
    from_micros,
    to_micros,
)
from .commands import CONDITIONS, CommandBase, Plan
from .errors import InsufficientStock, InvalidInput, InvalidQuantity
from .ledger.grid import STATE_INDEX, Pos
from .ledger.state import SELLABLE
from .storage import NewRow
from .values import Applied, Shortage, Transfer, lines_of


class StockCommands(CommandBase):
    """Commands that move stock (see the module doc)."""

    def receive(
        self, sku: str, location: str, qty: int, key: str | None = None, ref: str | None = None
    ) -> Applied:
        """Add ``qty`` sellable units. ``ref`` names expected supply (from
        ``expect``) that this receipt fulfils."""
        check_id("sku", sku)
        q = check_qty("qty", qty)
        check_opt_id("ref", ref)

        def plan(now: int) -> Plan:
            s, l = self._known_pos(sku, location, new_sku=True)
            self._no_overflow(s, l, q)
            row = (self._ts(now), "received", sku, location, q, ref, None, key, None)
            return [row], [None], Applied(self._state.head + 1)

        result: Applied = self._run("receive", [sku, location, q, ref], key, plan)
        return result

    def count(
        self, sku: str, location: str, qty: int, state: str = SELLABLE, key: str | None = None
    ) -> Applied:
        """A cycle count: set the units in ``state`` (sellable by default) to
        ``qty``. Physical truth: it always applies, and reports a shortage for
        reservations it leaves uncovered."""
        check_id("sku", sku)
        q = check_qty("qty", qty, 0)
        self._check_state("state", state)

        def plan(now: int) -> Plan:
            st = self._state
            s, l = self._known_pos(sku, location, new_sku=True)
            cur = self._units(s, l, state)
            delta = q - cur
            if delta > 0 and s < len(st.grid.skus) and st.grid.on_hand(s, l) + delta > MAX_QTY:
                raise InvalidQuantity("qty", qty, "would take on_hand past 2**62")
            data = {"state": state, "to": q}
            row = (
                self._ts(now),
                "counted",
                sku,
                location,
                delta,
                None,
                None,
                key,
                json.dumps(data),
            )
            short = self._shortages({(s, l): -delta} if state == SELLABLE else {})
            return [row], [data], Applied(st.head + 1, short)

        result: Applied = self._run(
            "count", [sku, location, q, state], key, plan, self._resource_follow
        )
        return result

    def sell(
        self,
        location: str,
        lines: Iterable[Any],
        key: str | None = None,
        channel: str | None = None,
    ) -> Applied:
        """A walk-in sale at ``location``: physical truth, always applied even
        beyond ATP. Reports shortages for reservations left uncovered."""
        ls = lines_of(lines)
        check_opt_id("channel", channel)

        def plan(now: int) -> Plan:
            st = self._state
            self._loc(st, location)
            if channel is not None:
                self._channel(st, channel)
            ts = self._ts(now)
            rows: list[NewRow] = []
            taken: dict[Pos, int] = {}
            for ln in ls:
                if ln.location is not None and ln.location != location:
                    raise InvalidInput(
                        "lines",
                        ln,
                        f"is pinned to another location than the sale's location={location!r}",
                    )
                s, l = self._known_pos(ln.sku, location)
                taken[(s, l)] = taken.get((s, l), 0) + ln.qty
                if st.grid.on_hand(s, l) - taken[(s, l)] < -MAX_QTY:
                    raise InvalidQuantity("qty", ln.qty, "would take on_hand below -2**62")
                rows.append((ts, "sold", ln.sku, location, ln.qty, None, channel, key, None))
            return rows, [None] * len(rows), Applied(st.head + len(rows), self._shortages(taken))

        args = [location, [[x.sku, x.qty] for x in ls], channel]
        result: Applied = self._run("sell", args, key, plan, self._resource_follow)
        return result

    def set_safety(self, sku: str, location: str, qty: int, key: str | None = None) -> Applied:
        """Set the safety stock of a position: units kept out of ATP."""
        check_id("sku", sku)
        q = check_qty("qty", qty, 0)

        def plan(now: int) -> Plan:
            st = self._state
            s, l = self._known_pos(sku, location, new_sku=True)
            delta = q - st.grid.safety.get((s, l), 0)
            if delta == 0:
                return [], [], Applied(st.head)
            data = {"to": q}
            row = (
                self._ts(now),
                "safety-set",
                sku,
                location,
                delta,
                None,
                None,
                key,
                json.dumps(data),
            )
            return [row], [data], Applied(st.head + 1)

        result: Applied = self._run("set_safety", [sku, location, q], key, plan)
        return result

    def change_state(
        self,
        sku: str,
        location: str,
        qty: int,
        to: str,
        from_: str = SELLABLE,
        key: str | None = None,
    ) -> Applied:
        """Move ``qty`` units between states (sellable, damaged, inspection,
        quarantine, display). Moving sellable units out may leave reservations
        uncovered: that is reported as a shortage."""
        check_id("sku", sku)
        q = check_qty("qty", qty)
        self._check_state("to", to)
        self._check_state("from_", from_)
        if to == from_:
            raise InvalidInput("to", to, "is the same as from_")

        def plan(now: int) -> Plan:
            st = self._state
            s, l = self._known_pos(sku, location)
            have = self._units(s, l, from_)
            if have < q:
                raise InsufficientStock(sku, q, max(0, have), location)
            data = {"from": from_, "to": to}
            row = (
                self._ts(now),
                "state-changed",
                sku,
                location,
                q,
                None,
                None,
                key,
                json.dumps(data),
            )
            short = self._shortages({(s, l): q} if from_ == SELLABLE else {})
            return [row], [data], Applied(st.head + 1, short)

        result: Applied = self._run(
            "change_state", [sku, location, q, to, from_], key, plan, self._resource_follow
        )
        return result

    def return_items(
        self,
        location: str,
        lines: Iterable[Any],
        condition: str = SELLABLE,
        order_id: str | None = None,
        key: str | None = None,
    ) -> Applied:
        """Take back returned units at a location that accepts returns.

        ``condition``: ``sellable`` restocks here when the location ranges the
        SKU (it has stocked it before), otherwise the units are transferred
        on to the location's ``returns_to`` (when it has one); ``damaged``,
        ``inspection``, ``quarantine`` or ``display`` put the units in that
        unsellable state (``change_state`` moves them back after inspection);
        ``write_off`` journals the return and leaves on_hand unchanged."""
        ls = lines_of(lines)
        check_opt_id("order_id", order_id)
        if condition not in CONDITIONS:
            raise InvalidInput("condition", condition, f"must be one of {', '.join(CONDITIONS)}")

        def plan(now: int) -> Plan:
            st = self._state
            self._loc(st, location)
            if not st.locations[location].accepts_returns:
                raise InvalidInput("location", location, "does not accept returns")
            ts = self._ts(now)
            data = {"state": condition}
            rows: list[NewRow] = []
            datas: list[dict[str, Any] | None] = []
            onward: list[tuple[str, int]] = []
            back_to = st.locations[location].returns_to
            for ln in ls:
                s, l = self._known_pos(ln.sku, location)
                self._no_overflow(s, l, ln.qty)
                rows.append(
                    (
                        ts,
                        "returned",
                        ln.sku,
                        location,
                        ln.qty,
                        order_id,
                        None,
                        key,
                        json.dumps(data),
                    )
                )
                datas.append(data)
                if (
                    condition == SELLABLE
                    and back_to is not None
                    and (s, l) not in st.ranged
                    and back_to != location
                ):
                    onward.append((ln.sku, ln.qty))
            transfers = []
            if back_to is not None and onward:  # not ranged here: send it on
                claim = self._claim(ts, key, f"head:T{st.head + 1}")
                rows, datas = claim + rows, [*([None] * len(claim)), *datas]
                hours = self._policy_of(st).transfer_hours
                eta = now + int(hours * 3600 * 1_000_000)
                for sku, q in onward:
                    tid = f"T{st.head + len(rows) + 1}"
                    d = {"to": back_to, "eta": eta}
                    rows.append(
                        (ts, "transfer-out", sku, location, q, tid, None, key, json.dumps(d))
                    )
                    datas.append(d)
                    transfers.append(Transfer(tid, sku, location, back_to, q, from_micros(eta)))
            return rows, datas, Applied(st.head + len(rows), transfers=tuple(transfers))

        args = [location, [[x.sku, x.qty] for x in ls], condition, order_id]
        result: Applied = self._run("return_items", args, key, plan)
        return result

    def expect(
        self,
        sku: str,
        location: str,
        qty: int,
        eta: datetime,
        ref: str | None = None,
        key: str | None = None,
    ) -> str:
        """Record incoming supply (a purchase order line) due at ``eta``.
        Returns its id; ``receive(..., ref=id)`` consumes it. Not in ATP;
        ``promise()`` counts it."""
        check_id("sku", sku)
        q = check_qty("qty", qty)
        eta_us = to_micros(check_when("eta", eta))
        check_opt_id("ref", ref)

        def plan(now: int) -> Plan:
            st = self._state
            self._known_pos(sku, location, new_sku=True)
            sid = ref or f"po-{st.head + 1}"
            claim = [] if ref else self._claim(self._ts(now), key, "head:" + sid)
            data = {"eta": eta_us}
            row = (self._ts(now), "expected", sku, location, q, sid, None, key, json.dumps(data))
            return [*claim, row], [None] * len(claim) + [data], sid

        result: str = self._run("expect", [sku, location, q, eta_us, ref], key, plan)
        return result

    def _known_pos(self, sku: str, location: str, new_sku: bool = False) -> Pos:
        st = self._state
        l = self._loc(st, location)
        check_id("sku", sku)
        s = st.grid.sku_ix.get(sku)
        if s is None:
            if not new_sku:
                self._sku(st, sku)  # raises UnknownSku
            return len(st.grid.skus), l  # the index the SKU will get
        return s, l

    def _units(self, s: int, l: int, state: str) -> int:
        g = self._state.grid
        if s >= len(g.skus):
            return 0
        if state == SELLABLE:
            return g.sellable(s, l)
        u = g.unsell.get((s, l))
        return 0 if u is None else u[STATE_INDEX[state]]

    def _no_overflow(self, s: int, l: int, q: int) -> None:
        g = self._state.grid
        if s < len(g.skus) and g.on_hand(s, l) + q > 2**62:
            raise InvalidQuantity("qty", q, "would take on_hand past 2**62")

    @staticmethod
    def _check_state(field: str, state: Any) -> None:
        if state != SELLABLE and state not in STATE_INDEX:
            raise InvalidInput(
                field, state, "must be sellable, damaged, inspection, quarantine or display"
            )

    def _shortages(self, taken: dict[Pos, int]) -> tuple[Shortage, ...]:
        """Reservations left uncovered once ``taken`` sellable units leave each
        position: reserved beyond what stays physically sellable, newest first."""
        st = self._state
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
