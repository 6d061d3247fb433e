"""Dated incoming supply: purchase orders and transfers in transit.

Supply is not in today's ATP. ``promise()`` walks it in date order (a
``SortedList`` per SKU) to find the earliest date a quantity can be had.
"""

from __future__ import annotations

from sortedcontainers import SortedList


class Incoming:
    __slots__ = ("booked", "eta_us", "id", "kind", "loc", "nbooked", "qty", "res", "sku", "src")

    def __init__(
        self,
        sid: str,
        sku: int,
        loc: int,
        qty: int,
        eta_us: int,
        kind: str,
        src: int | None = None,
        res: str | None = None,
        booked: dict[str, int] | None = None,
    ) -> None:
        self.id = sid
        self.sku = sku
        self.loc = loc
        self.qty = qty
        self.eta_us = eta_us
        self.kind = kind  # "po" or "transfer"
        self.src = src  # a transfer's source location
        self.res = res  # the reservation a transfer is earmarked for
        # Backorders waiting on it: reservation id -> units, in the order
        # they were taken (receipts convert them first in, first out).
        self.booked: dict[str, int] = {} if booked is None else dict(booked)
        self.nbooked = sum(self.booked.values())  # kept by Supply.book

    @property
    def free(self) -> int:
        """Units not yet promised to a backorder. O(1)."""
        return self.qty - self.nbooked


class Supply:
    __slots__ = ("by_id", "by_sku")

    def __init__(self) -> None:
        self.by_id: dict[str, Incoming] = {}
        self.by_sku: dict[int, SortedList] = {}

    def add(self, item: Incoming) -> None:
        old = self.by_id.get(item.id)
        if old is not None:
            item.qty += old.qty
            item.booked = {**old.booked, **item.booked}
            item.nbooked = sum(item.booked.values())
            self._drop(old)
        self.by_id[item.id] = item
        self.by_sku.setdefault(item.sku, SortedList()).add((item.eta_us, item.id))

    def take(self, sid: str, qty: int) -> None:
        """Units of ``sid`` arrived: they leave the supply."""
        item = self.by_id.get(sid)
        if item is None:
            return
        item.qty -= qty
        if item.qty <= 0:
            self._drop(item)

    def redate(self, sid: str, eta_us: int) -> None:
        """Supply ``sid`` is now due at ``eta_us``. O(log n)."""
        item = self.by_id.get(sid)
        if item is None:
            return
        lst = self.by_sku[item.sku]
        lst.discard((item.eta_us, item.id))
        item.eta_us = eta_us
        lst.add((eta_us, item.id))

    def book(self, sid: str, rid: str, qty: int) -> None:
        """``qty`` (may be negative) units of ``sid`` promised to backorder
        ``rid``; a supply item gone already (received or cancelled in the
        same commit) has nothing left to book. O(1)."""
        item = self.by_id.get(sid)
        if item is None:
            return
        had = item.booked.get(rid, 0)
        v = had + qty
        if v > 0:
            item.booked[rid] = v
        else:
            item.booked.pop(rid, None)
        item.nbooked += max(v, 0) - had

    def _drop(self, item: Incoming) -> None:
        del self.by_id[item.id]
        lst = self.by_sku[item.sku]
        lst.discard((item.eta_us, item.id))
        if not lst:
            del self.by_sku[item.sku]

    def for_sku(self, sku: int) -> list[Incoming]:
        """Open supply of ``sku`` in ETA order."""
        return [self.by_id[sid] for _, sid in self.by_sku.get(sku, ())]
