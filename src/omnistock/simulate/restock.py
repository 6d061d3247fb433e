"""The restocking half of a simulated run (``Play`` is the rest): the event
queue's ``push``, replenishment by transfers and purchase orders, their
arrival, and late or cancelled purchase orders moving backorders."""

from __future__ import annotations

import heapq
import zlib
from datetime import datetime, timedelta
from typing import Any

from ..fulfilment.geo import haversine_km
from ..inventory import Inventory
from ..values import Applied, Point
from .demand import HOUR, Event, SimConfig
from .kpis import Tally
from .network import Network

__all__ = ["PO_HOURS", "TRANSFER_HOURS", "Restock"]

TRANSFER_HOURS = 4.0
PO_HOURS = 8.0


class Restock:
    """Event handlers that bring stock in; mixed into ``Play``, whose
    ``__init__`` sets these attributes."""

    inv: Inventory
    cfg: SimConfig
    net: Network
    start: datetime
    tag: str
    t: Tally
    points: dict[str, Point | None]
    target: dict[tuple[str, str], int]
    touched: set[tuple[str, str]]
    arriving: set[str]
    queue: list[Event]
    n: int
    now_s: float

    def push(self, t: float, kind: str, **data: Any) -> None:
        self.n += 1
        heapq.heappush(self.queue, Event(int(t), self.n, kind, data))

    def _arrive_at(self, when: float, transfer_id: str) -> None:
        if transfer_id not in self.arriving:
            self.arriving.add(transfer_id)
            self.push(when, "arrive", id=transfer_id)

    def replenish(self, d: dict[str, Any]) -> None:
        """Top up every position that moved since the last run: stores from
        the nearest DC that has the units (a transfer), DCs from a purchase
        order (expected now, received on arrival)."""
        inv = self.inv
        dcs = self.net.dcs
        for sku, loc in sorted(self.touched):
            target = self.target.get((sku, loc), 0)
            have = inv.available(sku, loc)
            if target == 0 or have * 2 >= target:
                continue
            need = target - have
            if loc.startswith("DC-"):
                eta = self.now_s + PO_HOURS * HOUR
                ref = inv.expect(sku, loc, need, self.start + timedelta(seconds=eta))
                self.push(eta, "po", sku=sku, loc=loc, qty=need, ref=ref)
                continue
            for dc in sorted(dcs, key=lambda x: haversine_km(x.point, self.points[loc])):
                if inv.available(sku, dc.id) >= need:
                    eta = self.now_s + TRANSFER_HOURS * HOUR
                    tr = inv.transfer(
                        sku, dc.id, loc, need, eta=self.start + timedelta(seconds=eta)
                    )
                    self.t.transfers += 1
                    self._arrive_at(eta, tr.id)
                    break
        self.touched.clear()

    def arrive(self, d: dict[str, Any]) -> None:
        self.inv.receive_transfer(d["id"])
        self.arriving.discard(d["id"])

    def po(self, d: dict[str, Any]) -> None:
        """A purchase order is due: most arrive; some are late (re-dated a
        few hours on, then arrive), some are cancelled (the DC is topped up
        again at the next replenishment). Decided by a hash of the PO id, so
        it needs no random draw."""
        fate = (zlib.crc32(d["ref"].encode()) % 10_000) / 10_000
        cfg = self.cfg
        if fate < cfg.po_cancel_rate and not d.get("late"):
            out = self.inv.cancel_expected(d["ref"], key=f"{self.tag}:pocancel:{d['ref']}")
            self.t.po_cancelled += 1
            self.backorders_moved(out)
            self.touched.add((d["sku"], d["loc"]))
            return
        if fate < cfg.po_cancel_rate + cfg.po_late_rate and not d.get("late"):
            eta = self.now_s + PO_HOURS * HOUR / 2
            key = f"{self.tag}:poredate:{d['ref']}"
            out = self.inv.redate(d["ref"], self.start + timedelta(seconds=eta), key=key)
            self.t.po_late += 1
            self.backorders_moved(out)
            self.push(eta, "po", **{**d, "late": True})
            return
        self.inv.receive(
            d["sku"], d["loc"], d["qty"], ref=d["ref"], key=f"{self.tag}:po:{d['ref']}"
        )
        self.t.received_units += d["qty"]

    def backorders_moved(self, out: Applied) -> None:
        """Backorders a late or cancelled PO moved (to stock or other
        supply) or left short."""
        for r in out.resourced:
            self.t.backorder_resourced_units += r.qty - r.missing
            self.t.backorder_short_units += r.missing
