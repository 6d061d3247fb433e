"""Read-only questions over a ledger state: ATP, explain, promise, records.

``Reader`` is shared by the live ``Inventory`` and the historical view that
``Inventory.at()`` returns, so both answer with the same formulas.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ._validate import check_id, check_qty, from_micros
from .errors import InvalidInput, UnknownChannel, UnknownLocation, UnknownReservation, UnknownSku
from .ledger.grid import STATE_INDEX
from .ledger.holds import Hold
from .ledger.pools import Fence, figures
from .ledger.state import LedgerState
from .reports import Explanation, PositionFigures, Promise, SupplyLine
from .values import UNSELLABLE_STATES, Channel, Location, Reservation, ReservationLine


class Reader:
    """Queries over ``self._state``. Subclasses keep the state current."""

    _state: LedgerState

    def _sync(self) -> LedgerState:
        """The state to answer from (the live ledger catches up first)."""
        return self._state

    def _now_of(self, st: LedgerState) -> int:
        """The query's "now" in journal microseconds: a historical view is as
        of its last entry; the live inventory overrides this with its clock."""
        return st.last_ts

    # -- lookups -------------------------------------------------------------
    @property
    def head(self) -> int:
        """Sequence number of the last journal entry folded into this view."""
        return self._sync().head

    @property
    def locations(self) -> dict[str, Location]:
        return dict(self._sync().locations)

    @property
    def channels(self) -> dict[str, Channel]:
        return dict(self._sync().channels)

    @property
    def skus(self) -> list[str]:
        return list(self._sync().grid.skus)

    def _sku(self, st: LedgerState, sku: Any) -> int:
        check_id("sku", sku)
        s = st.grid.sku_ix.get(sku)
        if s is None:
            raise UnknownSku(sku)
        return s

    def _loc(self, st: LedgerState, loc: Any, field: str = "location") -> int:
        check_id(field, loc)
        if loc not in st.locations:
            raise UnknownLocation(loc, field)
        return st.grid.loc_ix[loc]

    def _channel(self, st: LedgerState, ch: Any) -> Channel:
        check_id("channel", ch)
        c = st.channels.get(ch)
        if c is None:
            raise UnknownChannel(ch)
        return c

    def _scope(
        self, st: LedgerState, location: Any, channel: Any
    ) -> tuple[Channel | None, list[int]]:
        """The channel (if any) and the location columns a question covers:
        one location, the channel's locations, or the whole network."""
        ch = self._channel(st, channel) if channel is not None else None
        if location is not None:
            return ch, [self._loc(st, location)]
        if ch is not None:
            return ch, self._channel_cols(st, ch)
        return ch, list(range(len(st.grid.locs)))

    def _channel_cols(self, st: LedgerState, ch: Channel) -> list[int]:
        ids = ch.locations if ch.locations is not None else list(st.locations)
        return [st.grid.loc_ix[i] for i in ids]

    # -- availability -------------------------------------------------------
    def available(self, sku: str, location: str | None = None, channel: str | None = None) -> int:
        """Units of ``sku`` that can be promised now.

        - at a ``location``: ``max(0, atp)`` there;
        - over the network: the sum of ``max(0, atp)`` over every location;
        - for a ``channel``: that sum over the channel's locations, less the
          units ring-fenced for other channels (their unconsumed minimums),
          less its buffer, floored at 0, and within its cap (the most it may
          have promised at once); with a location too, the smaller of the
          location's figure and the channel's. See ``ledger.pools``.

        O(1) for a location, O(locations) otherwise."""
        st = self._sync()
        s = self._sku(st, sku)
        if channel is None:
            if location is not None:
                return max(0, st.grid.atp(s, self._loc(st, location)))
            return self._positive_sum(st, s, None)
        ch = self._channel(st, channel)
        cols = self._channel_cols(st, ch)
        total = self._channel_room(st, ch, s)
        if location is None:
            return total
        col = self._loc(st, location)
        if col not in cols:
            return 0
        return min(total, max(0, st.grid.atp(s, col)))

    @staticmethod
    def _positive_sum(st: LedgerState, s: int, cols: list[int] | None) -> int:
        nl = len(st.grid.locs)
        row = st.grid.holdable[s, :nl] - st.grid.reserved[s, :nl]
        if cols is not None:
            row = row[cols]
        return int(np.maximum(row, 0).sum())

    @staticmethod
    def _fenced(st: LedgerState, ch: Channel) -> bool:
        """Whether holds for ``ch`` need a channel check beyond position ATP."""
        return bool(ch.buffer) or ch.cap is not None or any(d.minimum for d in st.channels.values())

    def _channel_room(self, st: LedgerState, ch: Channel, s: int) -> int:
        """Channel ``ch``'s figure for SKU row ``s`` by the ring-fence rule
        (``ledger.pools``): its positive ATP sum, less the unconsumed
        minimums of the other channels, less its buffer, within what its cap
        leaves given the units it already holds. O(channels x locations)."""
        used = st.chan_used
        if not any(d.minimum for d in st.channels.values()):
            v = max(0, self._positive_sum(st, s, self._channel_cols(st, ch)) - ch.buffer)
            if ch.cap is not None:
                v = min(v, max(0, ch.cap - used.get((ch.id, s), 0)))
            return v
        stocks = {
            d.id: self._positive_sum(st, s, self._channel_cols(st, d)) for d in st.channels.values()
        }
        fences = {
            d.id: Fence(d.minimum, d.cap, d.buffer, used.get((d.id, s), 0))
            for d in st.channels.values()
        }
        return figures(stocks, fences)[ch.id]

    def explain(
        self, sku: str, location: str | None = None, channel: str | None = None
    ) -> Explanation:
        """Every term behind ``available(sku, location, channel)``."""
        st = self._sync()
        s = self._sku(st, sku)
        ch, cols = self._scope(st, location, channel)
        positions = tuple(self._figures(st, s, c) for c in cols)
        positive = sum(max(0, p.atp) for p in positions)
        return Explanation(
            sku=sku,
            location=location,
            channel=channel,
            positions=positions,
            positive_sum=positive,
            buffer=ch.buffer if ch else 0,
            cap=ch.cap if ch else None,
            available=self.available(sku, location, channel),
        )

    @staticmethod
    def _figures(st: LedgerState, s: int, col: int) -> PositionFigures:
        g = st.grid
        p = (s, col)
        u = g.unsell.get(p) or [0] * len(UNSELLABLE_STATES)
        return PositionFigures(
            location=g.locs[col],
            on_hand=g.on_hand(s, col),
            unsellable=dict(zip(UNSELLABLE_STATES, u, strict=True)),
            reserved=int(g.reserved[s, col]),
            safety=g.safety.get(p, 0),
        )

    def on_hand(self, sku: str, location: str, state: str | None = None) -> int:
        """Physical units at a location: all of them, or those in ``state``
        (``sellable`` or an unsellable state)."""
        st = self._sync()
        s, col = self._sku(st, sku), self._loc(st, location)
        if state is None:
            return st.grid.on_hand(s, col)
        if state == "sellable":
            return st.grid.sellable(s, col)
        if state not in STATE_INDEX:
            raise InvalidInput("state", state, "must be sellable or an unsellable state")
        u = st.grid.unsell.get((s, col))
        return 0 if u is None else u[STATE_INDEX[state]]

    def promise(
        self, sku: str, qty: int, channel: str | None = None, location: str | None = None
    ) -> Promise:
        """The earliest date ``qty`` units can be had: now if ATP covers it,
        else the arrival of enough dated supply (purchase orders, transfers in
        transit) at the eligible locations. Overdue supply counts as arriving
        now; units earmarked for a reservation (BOPIS transfers) do not
        count. O(locations + supply lines of the SKU)."""
        st = self._sync()
        s = self._sku(st, sku)
        q = check_qty("qty", qty)
        ch, cols = self._scope(st, location, channel)
        buffer = ch.buffer if ch else 0
        if ch is not None and ch.cap is not None and q > ch.cap:
            return Promise(sku, q, None, 0, ())
        stock = max(0, self._positive_sum(st, s, cols) - buffer)
        now_us = max(self._now_of(st), 0)
        now = from_micros(now_us)
        if stock >= q:
            return Promise(sku, q, now, q, ())
        need = q - stock
        got: list[SupplyLine] = []
        colset = set(cols)
        for item in st.supply.for_sku(s):
            if item.loc not in colset or item.res is not None:
                continue  # elsewhere, or earmarked: arrives reserved for its order
            take = min(need, item.qty)
            eta = from_micros(max(item.eta_us, now_us))
            got.append(SupplyLine(st.grid.locs[item.loc], take, eta, item.kind, item.id))
            need -= take
            if need == 0:
                return Promise(sku, q, max(x.eta for x in got), stock, tuple(got))
        return Promise(sku, q, None, stock, tuple(got))

    # -- reservations ---------------------------------------------------------
    def reservation(self, res_id: str) -> Reservation:
        """The reservation as it stands now."""
        st = self._sync()
        return _reservation(st, self._hold(st, res_id))

    def reservations(self, state: str | None = None) -> list[Reservation]:
        """Every reservation (optionally only those in ``state``), oldest first."""
        st = self._sync()
        hs = sorted(st.holds.records(), key=lambda h: h.seq)
        return [_reservation(st, h) for h in hs if state is None or h.state == state]

    def _hold(self, st: LedgerState, res_id: Any) -> Hold:
        check_id("res_id", res_id)
        h = st.holds.peek(res_id)
        if h is None:
            raise UnknownReservation(res_id, "res_id")
        return h


def _reservation(st: LedgerState, h: Hold) -> Reservation:
    g = st.grid
    return Reservation(
        id=h.id,
        state=h.state,
        lines=tuple(ReservationLine(g.skus[s], g.locs[l], q) for (s, l), q in h.lines.items()),
        expires_at=None if h.expires_us is None else from_micros(h.expires_us),
        order_id=h.order_id,
        channel=h.channel,
        shipped=tuple(ReservationLine(g.skus[s], g.locs[l], q) for (s, l), q in h.shipped.items()),
    )
