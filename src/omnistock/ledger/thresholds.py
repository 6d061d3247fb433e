"""Low-stock thresholds and the alert state their crossings journal.

A threshold is set per SKU, network-wide (location ``None``: the SKU's
network ATP, the sum of ``max(0, atp)`` over every location) or at one
location (the position's ATP, which may be negative). A threshold is *low*
while that ATP is at or below its ``low`` mark.

``threshold-set`` rows set (or clear) a mark; ``threshold-crossed`` rows
record that a threshold went low or came back up. The alert state is a
count per threshold, moved by each crossing row's ``step``: a threshold is
alerted while its count is positive. Steps add up, so the fold gives the
same state whatever order a process folds concurrent writers' rows in;
``crossings`` always steps the count to exactly 1 (low) or 0 (not low), so
a crossing journaled twice by racing writers is put right by the next one.

The runner (``omnistock.alerting``) asks ``crossings`` after every command
and expiry that moved stock of a SKU with thresholds. Nothing here is
touched by a SKU without thresholds.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .fields import LedgerFields as LedgerState

__all__ = ["Crossing", "Thresholds", "atp_of", "crossings"]

Key = tuple[str, str | None]
Crossing = tuple[str, str | None, int, int | None, bool, int]
"""``(sku, location, atp seen, low mark or None when cleared, below, step)``."""


class Thresholds:
    """The marks (``low[sku][location]``) and alert counts
    (``alerted[sku][location]``) the journal implies."""

    __slots__ = ("alerted", "low")

    def __init__(self) -> None:
        self.low: dict[str, dict[str | None, int]] = {}
        self.alerted: dict[str, dict[str | None, int]] = {}

    def __bool__(self) -> bool:
        return bool(self.low) or bool(self.alerted)

    def get(self, sku: str, location: str | None) -> int | None:
        """The low mark of (sku, location), or None. O(1)."""
        m = self.low.get(sku)
        return None if m is None else m.get(location)

    def count(self, sku: str, location: str | None) -> int:
        """The alert count of (sku, location): positive while alerted. O(1)."""
        m = self.alerted.get(sku)
        return 0 if m is None else m.get(location, 0)

    def put(self, sku: str, location: str | None, low: int | None) -> None:
        """Set (``low`` None: clear) the mark of (sku, location). O(1)."""
        _put(self.low, sku, location, low)

    def step(self, sku: str, location: str | None, by: int) -> None:
        """Move the alert count of (sku, location) by ``by``. O(1)."""
        n = self.count(sku, location) + by
        _put(self.alerted, sku, location, n or None)

    def set_count(self, sku: str, location: str | None, n: int | None) -> None:
        """Put an alert count back (a savepoint rollback, a snapshot)."""
        _put(self.alerted, sku, location, n or None)

    def keys(self, sku: str) -> set[str | None]:
        """Every location (None: network) of ``sku`` with a mark or a count."""
        return set(self.low.get(sku, ())) | set(self.alerted.get(sku, ()))

    def skus(self) -> set[str]:
        return set(self.low) | set(self.alerted)

    def marks(self) -> Iterator[tuple[str, str | None, int]]:
        """Every mark as ``(sku, location, low)``, in no order."""
        for sku, m in self.low.items():
            for loc, low in m.items():
                yield sku, loc, low

    def counts(self) -> Iterator[tuple[str, str | None, int]]:
        """Every non-zero alert count as ``(sku, location, count)``."""
        for sku, m in self.alerted.items():
            for loc, n in m.items():
                yield sku, loc, n


def _put(d: dict[str, dict[str | None, int]], sku: str, loc: str | None, v: int | None) -> None:
    m = d.get(sku)
    if v is None:
        if m is not None:
            m.pop(loc, None)
            if not m:
                del d[sku]
        return
    if m is None:
        d[sku] = m = {}
    m[loc] = v


def atp_of(st: LedgerState, sku: str, location: str | None) -> int:
    """The ATP a threshold watches: the position's (may be negative), or the
    network's sum of ``max(0, atp)`` when ``location`` is None. A SKU or
    location the ledger has never seen has 0. O(1), or O(locations)."""
    g = st.grid
    s = g.sku_ix.get(sku)
    if s is None:
        return 0
    if location is None:
        return sum([x for x in g.atp_row(s).tolist() if x > 0])
    col = g.loc_ix.get(location)
    return 0 if col is None else g.atp(s, col)


def crossings(st: LedgerState, where: Mapping[str, set[str | None]] | None) -> list[Crossing]:
    """The crossings to journal now after changes at ``where`` (SKU -> the
    locations changed; None: every threshold): each threshold whose alert
    state disagrees with its ATP, and each cleared threshold still alerted.
    A SKU's network-wide threshold is looked at whenever the SKU changed, a
    location's only when that location did (or its mark did: a
    ``threshold-set`` row names it). Sorted by SKU, then location (network
    first). O(thresholds looked at x their ATP's cost)."""
    th = st.thresholds
    if where is None:
        names = sorted(th.skus())
    else:
        names = sorted(s for s in where if s in th.low or s in th.alerted)
    out: list[Crossing] = []
    for sku in names:
        marks = th.low.get(sku) or {}
        counts = th.alerted.get(sku) or {}
        locs = marks.keys() | counts.keys() if counts else marks.keys()
        if where is not None:
            locs = locs & (where[sku] | {None})
        for loc in sorted(locs, key=_loc_key) if len(locs) > 1 else locs:
            low = marks.get(loc)
            n = counts.get(loc, 0)
            atp = atp_of(st, sku, loc)
            want = 1 if low is not None and atp <= low else 0
            if n != want:
                out.append((sku, loc, atp, low, bool(want), want - n))
    return out


def _loc_key(loc: str | None) -> str:
    return "" if loc is None else loc
