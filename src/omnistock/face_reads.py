"""The face's queries: figures, records, the journal, audit and snapshots.

``Inventory`` (``inventory.py``) takes these methods from ``ReadFace``; they
only ask the reader (``queries.py``), the runner or ``audit``, and change
nothing but the journal's derived records (expiries due by the clock).
"""

from __future__ import annotations

from datetime import datetime

from . import audit, low_stock
from .arguments import State
from .lookup import blocks_of
from .low_stock import Alert
from .queries import LedgerView, Reader
from .reports import CheckReport, Explanation, Promise
from .runner import Runner
from .storage import Store
from .values import Channel, Entry, Location, Reservation, Transfer


class ReadFace:
    """The read half of ``Inventory``: every method answers from the ledger
    as of now (other writers' rows folded in, holds due by the clock expired)."""

    _runner: Runner
    _reader: Reader

    @property
    def store(self) -> Store:
        return self._runner.store

    # -- figures and records -----------------------------------------------------------
    @property
    def head(self) -> int:
        """Sequence number of the last journal entry folded in."""
        return self._reader.head

    @property
    def locations(self) -> dict[str, Location]:
        return self._reader.locations

    @property
    def channels(self) -> dict[str, Channel]:
        return self._reader.channels

    @property
    def skus(self) -> list[str]:
        return self._reader.skus

    def available(self, sku: str, location: str | None = None, channel: str | None = None) -> int:
        """Units that can be promised now: ``max(0, atp)`` at a location, its
        sum over the network, or a channel's figure (docs/concepts.md)."""
        return self._reader.available(sku, location, channel)

    def explain(
        self, sku: str, location: str | None = None, channel: str | None = None
    ) -> Explanation:
        """Every term behind ``available(sku, location, channel)``."""
        return self._reader.explain(sku, location, channel)

    def on_hand(self, sku: str, location: str, state: State | None = None) -> int:
        """Physical units at a location: all of them, or those in ``state``."""
        return self._reader.on_hand(sku, location, state)

    def promise(
        self, sku: str, qty: int, channel: str | None = None, location: str | None = None
    ) -> Promise:
        """The earliest date ``qty`` units can be had, from ATP then dated supply."""
        return self._reader.promise(sku, qty, channel, location)

    def alerts(self) -> list[Alert]:
        """The low-stock thresholds (``set_threshold``) whose ATP is at or
        below their mark now, by SKU then location (the network-wide one
        first), each with its ATP, its demand per day over the last
        ``low_stock.DEMAND_DAYS`` days of sales and shipments, and its days
        of cover (None without demand in that window). First journals any
        crossing still due (one another process's command left for later).
        O(thresholds x locations + the alerted SKUs' journal rows in the
        window)."""
        st = self._runner.settle_alerts()
        return low_stock.alerts(st, self.store, self._runner.now_of(st))

    def thresholds(self) -> dict[tuple[str, str | None], int]:
        """Every low-stock mark as ``{(sku, location or None): low}``."""
        st = self._runner.sync()
        return {(sku, loc): low for sku, loc, low in st.thresholds.marks()}

    def reservation(self, res_id: str) -> Reservation:
        """The reservation as it stands now."""
        return self._reader.reservation(res_id)

    def reservations(self, state: str | None = None) -> list[Reservation]:
        """Every reservation (optionally only those in ``state``), oldest first."""
        return self._reader.reservations(state)

    def transfers(self) -> list[Transfer]:
        """Transfers in transit, soonest first."""
        return self._reader.transfers()

    def digest(self) -> str:
        """Hash of the full ledger state (equal digests, equal ledgers)."""
        return self._reader.digest()

    # -- the journal ------------------------------------------------------------------
    def history(
        self,
        sku: str | None = None,
        location: str | None = None,
        ref: str | None = None,
        since: int | datetime = 0,
        until: int | datetime | None = None,
        kind: str | None = None,
        limit: int | None = None,
        order: str | None = None,
    ) -> list[Entry]:
        """Journal entries matching every filter given, oldest first. A bulk
        hold's row is shown as one ``held`` entry per reservation line.
        ``since``/``until``: a seq (entries after ``since``, up to ``until``)
        or an aware datetime (entries at or after ``since``, at or before
        ``until``). ``order``: every entry of every reservation of that
        order id, in any channel, of the transfers earmarked for them and
        of returns naming the order; by an index range on SQLite and
        PostgreSQL, O(log n + the order's rows)."""
        tokens = lambda o: self._runner.caught_up(lambda st: blocks_of(st, o))  # noqa: E731
        return audit.entries(
            self.store, sku, location, ref, since, until, kind, limit, order, tokens
        )

    def at(self, when: int | datetime) -> LedgerView:
        """A read-only view of the ledger as it was at a sequence number or a
        time (the last entry at or before it)."""
        return LedgerView(
            self._runner.caught_up(lambda st: audit.state_at(self.store, when, st.head))
        )

    def check(self) -> CheckReport:
        """The built-in reconciler: replay the whole journal into a fresh
        ledger, compare it with the live one and check every invariant.
        O(journal + positions)."""
        return self._runner.caught_up(lambda st: audit.check(self.store, st))

    def snapshot(self) -> int:
        """Save a snapshot at the current head (fast start-up); returns its seq."""
        return self._runner.caught_up(lambda _st: self._runner.snapshot())
