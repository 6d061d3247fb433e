"""Read-only questions over a ledger state: ATP, explain, promise, records.

``Reader`` answers for the live ``Inventory`` (which hands it a ``sync`` that
catches up and expires first) and for the historical view that
``Inventory.at()`` returns, so both answer with the same formulas.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from . import kit_reads
from ._validate import check_qty, from_micros
from .commands.transfers import in_transit
from .errors import InvalidInput
from .fulfilment.allocate import policy_of
from .fulfilment.policy import Policy
from .ledger.grid import STATE_INDEX
from .ledger.state import LedgerState
from .lookup import (
    channel_cols,
    channel_of,
    channel_room,
    hold_of,
    loc_col,
    positive_sum,
    reservation_of,
    sku_row,
)
from .reports import Explanation, PositionFigures, Promise, SupplyLine
from .scoped import Scope, reservation_scope
from .values import UNSELLABLE_STATES, Channel, Location, Reservation, Transfer


class Queries(Protocol):
    """What adapters and reports read: ``Inventory`` and ``LedgerView`` both
    answer it."""

    @property
    def head(self) -> int: ...
    @property
    def locations(self) -> dict[str, Location]: ...
    @property
    def channels(self) -> dict[str, Channel]: ...
    @property
    def skus(self) -> list[str]: ...
    def available(
        self, sku: str, location: str | None = None, channel: str | None = None
    ) -> int: ...
    def explain(
        self, sku: str, location: str | None = None, channel: str | None = None
    ) -> Explanation: ...
    def on_hand(self, sku: str, location: str, state: Any = None) -> int: ...
    def reservation(self, res_id: str) -> Reservation: ...
    def reservations(self, state: str | None = None) -> list[Reservation]: ...
    def kits(self) -> dict[str, dict[str, int]]: ...


_NETWORK: Scope = ((), ())
"""A question about the network only."""


def _as_of_last_entry(st: LedgerState) -> int:
    return st.last_ts


class Reader:
    """Queries over the state ``sync()`` returns. ``now_of(state)`` is a
    query's "now" in journal microseconds (a historical view: its last
    entry's time)."""

    def __init__(
        self,
        sync: Callable[..., LedgerState],
        now_of: Callable[[LedgerState], int] = _as_of_last_entry,
    ) -> None:
        self._sync = sync
        self._now_of = now_of

    # -- lookups -------------------------------------------------------------
    @property
    def head(self) -> int:
        """Sequence number of the last journal entry folded into this view."""
        return self._sync().head

    @property
    def locations(self) -> dict[str, Location]:
        return dict(self._sync(_NETWORK).locations)

    @property
    def channels(self) -> dict[str, Channel]:
        return dict(self._sync(_NETWORK).channels)

    @property
    def skus(self) -> list[str]:
        return list(self._sync().grid.skus)

    def policy(self) -> Policy:
        return policy_of(self._sync(_NETWORK))

    def kits(self) -> dict[str, dict[str, int]]:
        """Every kit declared: ``{kit: {component: qty}}``."""
        return {k: dict(c) for k, c in self._sync().kits.items()}

    def digest(self) -> str:
        return self._sync().digest()

    # -- availability -------------------------------------------------------
    def available(self, sku: str, location: str | None = None, channel: str | None = None) -> int:
        """See ``Inventory.available``. O(1) for a location, O(locations) otherwise."""
        st = self._sync(((sku,), ()))
        if sku in st.kits:  # a plain SKU: one dict miss
            kst = self._sync((tuple(st.kits[sku]), ()))
            return kit_reads.available(kst, sku, location, channel)
        return self._available(st, sku, location, channel)

    def _available(
        self, st: LedgerState, sku: str, location: str | None, channel: str | None
    ) -> int:
        s = sku_row(st, sku)
        if channel is None:
            if location is not None:
                return max(0, st.grid.atp(s, loc_col(st, location)))
            return positive_sum(st, s, None)
        ch = channel_of(st, channel)
        cols = channel_cols(st, ch)
        total = channel_room(st, ch, s)
        if location is None:
            return total
        col = loc_col(st, location)
        if col not in cols:
            return 0
        return min(total, max(0, st.grid.atp(s, col)))

    def _scope(
        self, st: LedgerState, location: Any, channel: Any
    ) -> tuple[Channel | None, list[int]]:
        """The channel (if any) and the location columns a question covers:
        one location, the channel's locations, or the whole network."""
        ch = channel_of(st, channel) if channel is not None else None
        if location is not None:
            return ch, [loc_col(st, location)]
        if ch is not None:
            return ch, channel_cols(st, ch)
        return ch, list(range(len(st.grid.locs)))

    def explain(
        self, sku: str, location: str | None = None, channel: str | None = None
    ) -> Explanation:
        """Every term behind ``available(sku, location, channel)``."""
        st = self._sync(((sku,), ()), True)
        if sku in st.kits:
            kst = self._sync((tuple(st.kits[sku]), ()), True)
            return kit_reads.explain(kst, sku, location, channel)
        s = sku_row(st, sku)
        ch, cols = self._scope(st, location, channel)
        positions = tuple(_figures(st, s, c) for c in cols)
        return Explanation(
            sku=sku,
            location=location,
            channel=channel,
            positions=positions,
            positive_sum=sum(max(0, p.atp) for p in positions),
            buffer=ch.buffer if ch else 0,
            cap=ch.cap if ch else None,
            available=self._available(st, sku, location, channel),
        )

    def on_hand(self, sku: str, location: str, state: str | None = None) -> int:
        """Physical units at a location: all, or those in ``state``."""
        st = self._sync(((sku,), ()), True)
        s, col = sku_row(st, sku), loc_col(st, location)
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
        """See ``Inventory.promise``. O(locations + supply lines of the SKU)."""
        st = self._sync(((sku,), ()), False, True)
        if sku in st.kits:
            q = check_qty("qty", qty)
            kst = self._sync((tuple(st.kits[sku]), ()), False, True)
            return kit_reads.promise(kst, sku, q, location, channel, max(self._now_of(kst), 0))
        s = sku_row(st, sku)
        q = check_qty("qty", qty)
        ch, cols = self._scope(st, location, channel)
        buffer = ch.buffer if ch else 0
        if ch is not None and ch.cap is not None and q > ch.cap:
            return Promise(sku, q, None, 0, ())
        stock = max(0, positive_sum(st, s, cols) - buffer)
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
            if item.kind == "po" and item.eta_us < now_us:
                continue  # overdue: its date is unknown until it is redated or arrives
            free = item.free  # units backorders wait for are promised already
            if free <= 0:
                continue
            take = min(need, free)
            eta = from_micros(max(item.eta_us, now_us))
            got.append(SupplyLine(st.grid.locs[item.loc], take, eta, item.kind, item.id))
            need -= take
            if need == 0:
                return Promise(sku, q, max(x.eta for x in got), stock, tuple(got))
        return Promise(sku, q, None, stock, tuple(got))

    # -- records ----------------------------------------------------------------
    def reservation(self, res_id: str) -> Reservation:
        st = self._sync(reservation_scope(res_id))
        return reservation_of(st, hold_of(st, res_id))

    def reservations(self, state: str | None = None) -> list[Reservation]:
        st = self._sync()
        hs = sorted(st.holds.records(), key=lambda h: h.seq)
        return [reservation_of(st, h) for h in hs if state is None or h.state == state]

    def transfers(self) -> list[Transfer]:
        return in_transit(self._sync())


def position_figures(st: LedgerState, s: int, col: int) -> PositionFigures:
    """Every term of the ATP formula of SKU row ``s`` at column ``col``."""
    return _figures(st, s, col)


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


class LedgerView(Reader):
    """A read-only ledger at one point of the journal (from ``Inventory.at``):
    the same queries as ``Inventory``, as of its last entry."""

    def __init__(self, state: LedgerState) -> None:
        super().__init__(lambda *_: state)
