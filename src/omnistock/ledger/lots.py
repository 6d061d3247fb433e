"""Lots beside the grid: which lot (and expiry) the units of a position are.

Only *lotted* positions (one that ever received a named lot, or got lotted
units by a transfer) have a book here; every other position has no entry,
so SKUs without lots keep the grid's code path and speed.

A book is ``lot name -> Lot``. ``Lot.qty`` is the lot's sellable units;
``Lot.off`` its units in an unsellable state this ledger put them in
(``expired`` by the clock, ``quarantine`` by a recall). The unnamed lot
``""`` holds the position's sellable units that came without a lot (an
unlotted receipt, a count up, a return): no expiry, consumed last.

The invariants (``violations``): at a lotted position the lots' sellable
units add up to the grid's sellable units (``holdable + safety``); named
lots are never negative (``""`` only when the grid's sellable units are);
the units a lot keeps in a state never exceed the grid's in that state;
the expiry index lists exactly the named lots with units and an expiry;
lots in transit add up to their transfer.

First-expiry-first-out (``fefo``): the earliest expiry first, lots without
an expiry after, ties by receipt order, ``""`` last. Expired units are not
sellable (they left for the ``expired`` state when due), so FEFO never
takes them. ``settle`` brings a book in line with the grid after a row
that did not say which lots it moved: units lost are taken FEFO, units
gained join ``""``; units leaving a state leave the latest receipts first.
"""

from __future__ import annotations

from typing import Any

from sortedcontainers import SortedList

Pos = tuple[int, int]
NO_LOT = ""
_LAST = 1 << 62  # receipt order of the unnamed lot: after every named one

__all__ = ["NO_LOT", "Lot", "Lots"]


class Lot:
    """One lot at one position (see the module doc)."""

    __slots__ = ("exp", "name", "off", "qty", "seq")

    def __init__(self, name: str, exp: int | None, seq: int) -> None:
        self.name = name
        self.exp = exp
        self.seq = seq
        self.qty = 0
        self.off: dict[str, int] = {}

    def order(self) -> tuple[bool, int, int, str]:
        """Its place in first-expiry-first-out order."""
        return (self.exp is None, self.exp or 0, self.seq, self.name)

    def copy(self) -> Lot:
        c = Lot(self.name, self.exp, self.seq)
        c.qty, c.off = self.qty, dict(self.off)
        return c

    def record(self) -> list[Any]:
        return [self.name, self.exp, self.seq, self.qty, sorted(self.off.items())]

    @property
    def total(self) -> int:
        return self.qty + sum(self.off.values())


class Lots:
    """Every lotted position's book, the expiry index and lots in transit."""

    __slots__ = ("by_pos", "by_sku", "expiry", "transit")

    def __init__(self) -> None:
        self.by_pos: dict[Pos, dict[str, Lot]] = {}
        # Derived, add-only: the locations where a SKU has (had) a book.
        self.by_sku: dict[int, set[int]] = {}
        # (expires_us, sku row, location col, lot) of named lots with units.
        self.expiry: SortedList = SortedList()
        # transfer id -> [[lot, expires_us, qty], ...] in FEFO order.
        self.transit: dict[str, list[list[Any]]] = {}

    def __bool__(self) -> bool:
        return bool(self.by_pos)

    # -- reading --------------------------------------------------------------------
    def book(self, p: Pos) -> dict[str, Lot] | None:
        return self.by_pos.get(p)

    def expiry_of(self, s: int, name: str) -> tuple[bool, int | None]:
        """Whether SKU row ``s`` has (had) lot ``name`` at some location, and
        its expiry (lots in transit are not looked at). O(its locations)."""
        for l in self.by_sku.get(s, ()):
            lot = self.by_pos.get((s, l), {}).get(name)
            if lot is not None:
                return True, lot.exp
        return False, None

    def first_expiry(self) -> int | None:
        return self.expiry[0][0] if self.expiry else None

    def fefo(self, p: Pos, qty: int, taken: dict[str, int] | None = None) -> list[list[Any]]:
        """``[[lot, units], ...]`` taking ``qty`` sellable units at ``p``
        first-expiry-first-out, after ``taken`` (units already taken by the
        same plan); what the lots lack comes from ``""`` (may go negative,
        as the grid does). O(lots at p log lots)."""
        out: list[list[Any]] = []
        book = self.by_pos.get(p, {})
        left = qty
        for lot in sorted(book.values(), key=Lot.order):
            if left <= 0:
                break
            if lot.name == NO_LOT:
                continue
            have = lot.qty - (taken or {}).get(lot.name, 0)
            if have > 0:
                n = min(have, left)
                out.append([lot.name, n])
                left -= n
        if left > 0:
            out.append([NO_LOT, left])
        return out

    # -- changing -------------------------------------------------------------------
    def _sync(self, p: Pos, lot: Lot) -> None:
        if lot.exp is None:  # never indexed
            return
        k = (lot.exp, p[0], p[1], lot.name)
        if lot.qty > 0 and lot.exp is not None and lot.name != NO_LOT:
            if k not in self.expiry:
                self.expiry.add(k)
        else:
            self.expiry.discard(k)

    def _lot(self, p: Pos, name: str, exp: int | None) -> Lot:
        book = self.by_pos.get(p)
        if book is None:
            book = self.by_pos[p] = {}
            self.by_sku.setdefault(p[0], set()).add(p[1])
        lot = book.get(name)
        if lot is None:
            # Receipt order within the position (not the journal seq, which
            # a guarded store may assign later than the fold saw it).
            n = 1 + max((x.seq for x in book.values() if x.name != NO_LOT), default=0)
            lot = book[name] = Lot(name, exp, _LAST if name == NO_LOT else n)
        return lot

    def add(self, p: Pos, name: str, exp: int | None, qty: int) -> None:
        """``qty`` sellable units of lot ``name`` arrive at ``p`` (a book
        is opened if need be; a new lot comes after the position's others
        in receipt order)."""
        lot = self._lot(p, name, exp)
        lot.qty += qty
        self._sync(p, lot)

    def take(self, p: Pos, pairs: list[list[Any]]) -> None:
        """Sellable units of the lots named leave ``p``."""
        for name, n in pairs:
            lot = self._lot(p, name, None)
            lot.qty -= n
            self._sync(p, lot)

    def to_state(self, p: Pos, name: str, qty: int, state: str) -> None:
        """``qty`` sellable units of lot ``name`` go to unsellable ``state``."""
        lot = self._lot(p, name, None)
        lot.qty -= qty
        lot.off[state] = lot.off.get(state, 0) + qty
        self._sync(p, lot)

    def settle(self, p: Pos, sellable: int, unsell: dict[str, int]) -> None:
        """Bring ``p``'s book in line with the grid (see the module doc):
        ``sellable`` units, ``unsell`` units by state name."""
        book = self.by_pos[p]
        d = sellable - sum(lot.qty for lot in book.values())
        if d > 0:
            self.add(p, NO_LOT, None, d)
        elif d < 0:
            self.take(p, self.fefo(p, -d))
        for state in {k for lot in book.values() for k in lot.off}:
            extra = sum(lot.off.get(state, 0) for lot in book.values()) - unsell.get(state, 0)
            for lot in sorted(book.values(), key=lambda x: -x.seq):
                if extra <= 0:
                    break
                n = min(extra, lot.off.get(state, 0))
                if n > 0:
                    lot.off[state] -= n
                    extra -= n
                    if not lot.off[state]:
                        del lot.off[state]
        empty = book.get(NO_LOT)
        if empty is not None and not empty.qty and not empty.off:
            del book[NO_LOT]

    def send(self, tid: str, pairs: list[list[Any]], p: Pos) -> None:
        """Lots leaving ``p`` for transfer ``tid`` are in transit."""
        book = self.by_pos.get(p, {})
        for name, n in pairs:
            lot = book.get(name)
            self.transit.setdefault(tid, []).append([name, None if lot is None else lot.exp, n])

    def arrive(self, tid: str, qty: int) -> list[list[Any]]:
        """``[[lot, expires_us, units]]`` of the first ``qty`` units in
        transit for ``tid`` (taken out of transit)."""
        items = self.transit.get(tid)
        out: list[list[Any]] = []
        while items and qty > 0:
            name, exp, n = items[0]
            k = min(n, qty)
            out.append([name, exp, k])
            qty -= k
            if k == n:
                items.pop(0)
            else:
                items[0][2] = n - k
        if items is not None and not items:
            del self.transit[tid]
        return out

    # -- snapshots and savepoints --------------------------------------------------
    def copy_book(self, p: Pos) -> dict[str, Lot] | None:
        book = self.by_pos.get(p)
        return None if book is None else {k: v.copy() for k, v in book.items()}

    def put_book(self, p: Pos, book: dict[str, Lot] | None) -> None:
        """Restore ``p``'s book (None: it had none), re-indexing its expiries."""
        for lot in self.by_pos.get(p, {}).values():
            if lot.exp is not None:
                self.expiry.discard((lot.exp, p[0], p[1], lot.name))
        if book is None:
            self.by_pos.pop(p, None)
            return
        self.by_pos[p] = book
        self.by_sku.setdefault(p[0], set()).add(p[1])
        for lot in book.values():
            self._sync(p, lot)

    def records(self) -> dict[str, Any]:
        return {
            "books": sorted(
                [p[0], p[1], sorted(lot.record() for lot in book.values())]
                for p, book in self.by_pos.items()
            ),
            "transit": sorted([k, v] for k, v in self.transit.items()),
        }

    def load(self, rec: dict[str, Any]) -> None:
        for s, l, lots in rec["books"]:
            book: dict[str, Lot] = {}
            for name, exp, seq, qty, off in lots:
                lot = book[name] = Lot(name, exp, seq)
                lot.qty, lot.off = qty, dict((k, v) for k, v in off)
            self.put_book((s, l), book)
        self.transit = {k: [list(x) for x in v] for k, v in rec["transit"]}
