"""``Inventory.alerts()``: the thresholds at or below their low mark, with
their ATP and, where demand history allows, days of cover.

Demand is read from the journal, not kept in the ledger (SKUs without
thresholds pay nothing for it): the units that left through ``sold`` rows
(walk-in sales) and ``fulfilled`` rows (shipped or collected reservations)
at the threshold's location (every location for a network-wide one) in the
window: the ``DEMAND_DAYS`` days up to now, or, when the journal is
younger, the time since its first row (at least one day), so a new ledger
is not credited with days it never saw. ``demand_per_day`` is that total
over the window's days; ``days_of_cover`` is ``max(0, atp) /
demand_per_day``, rounded to one decimal, and None when nothing left in
the window (no history to divide by). Returns are not netted out: cover is
for the stock that sells.
"""

from __future__ import annotations

import attrs

from .ledger.rows import Kind
from .ledger.state import LedgerState
from .ledger.thresholds import atp_of
from .storage import Store

__all__ = ["DEMAND_DAYS", "Alert", "alerts"]

DEMAND_DAYS = 28
"""The trailing window of demand history, in days."""
_DAY_US = 86_400_000_000
_WINDOW_US = DEMAND_DAYS * _DAY_US
_DEMAND_KINDS = frozenset((Kind.SOLD.value, Kind.FULFILLED.value))


@attrs.frozen
class Alert:
    """One threshold at or below its mark: ``location`` None is the SKU's
    network-wide threshold (``atp`` then sums ``max(0, atp)`` over every
    location). ``demand_per_day`` and ``days_of_cover``: see the module."""

    sku: str
    location: str | None
    low: int
    atp: int
    demand_per_day: float
    days_of_cover: float | None

    def __str__(self) -> str:
        where = self.location or "network"
        cover = (
            "no demand history"
            if self.days_of_cover is None
            else (f"{self.days_of_cover} days of cover")
        )
        return f"{self.sku} @ {where}: ATP {self.atp} <= {self.low} ({cover})"


def alerts(st: LedgerState, store: Store, now_us: int) -> list[Alert]:
    """Every threshold of ``st`` at or below its mark, by SKU then location
    (network first). O(thresholds x locations + journal rows of the alerted
    SKUs in the window)."""
    low: list[tuple[str, str | None, int, int]] = []
    for sku, loc, mark in st.thresholds.marks():
        atp = atp_of(st, sku, loc)
        if atp <= mark:
            low.append((sku, loc, mark, atp))
    low.sort(key=lambda a: (a[0], "" if a[1] is None else a[1]))
    demand, days = _demand(store, {a[0] for a in low}, now_us)
    out = []
    for sku, loc, mark, atp in low:
        per_loc = demand.get(sku, {})
        units = sum(per_loc.values()) if loc is None else per_loc.get(loc, 0)
        per_day = units / days
        cover = round(max(0, atp) / per_day, 1) if units else None
        out.append(Alert(sku, loc, mark, atp, per_day, cover))
    return out


def _demand(store: Store, skus: set[str], now_us: int) -> tuple[dict[str, dict[str, int]], float]:
    """Units sold or shipped per SKU and location in the window up to now,
    and the window's length in days."""
    if not skus:
        return {}, float(DEMAND_DAYS)
    start = now_us - _WINDOW_US
    since = store.seq_at(start)
    days = float(DEMAND_DAYS)
    if since == 0:  # the journal is younger than the window
        first = next(iter(store.read(0, 1)), None)
        if first is not None:
            days = min(days, max(1.0, (now_us - first[1]) / _DAY_US))
    out: dict[str, dict[str, int]] = {}
    for sku in sorted(skus):
        per: dict[str, int] = {}
        for row in store.filtered(since, None, sku=sku):
            if row[2] in _DEMAND_KINDS and start < row[1] <= now_us and row[4] is not None:
                per[row[4]] = per.get(row[4], 0) + row[5]
        out[sku] = per
    return out, days
