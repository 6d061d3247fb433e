"""Play a simulated run's events against one open inventory.

``Play`` stocks the network, then pops events in time order and hands each
to the handler for its kind (online orders, click and collect, store sales,
returns and counts, replenishment); handlers may schedule more events
(transfer arrivals, purchase orders, deferred pickups). It keeps the tally
the KPIs are computed from. ``run.simulate`` builds the inputs and drives it.
"""

from __future__ import annotations

import heapq
import math
import random
import zlib
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import attrs

from .. import interrupts
from ..errors import InsufficientStock, OmnistockError
from ..fulfilment.geo import haversine_km
from ..fulfilment.policy import Policy
from ..fulfilment.results import Allocation
from ..inventory import Inventory
from ..values import Applied, Order, Point
from .demand import HOUR, Catalogue, Event, SimConfig
from .kpis import Tally
from .network import Network
from .restock import PO_HOURS, TRANSFER_HOURS, Restock

__all__ = ["PO_HOURS", "TRANSFER_HOURS", "Play", "Progress"]

Progress = Callable[[int, int], None]


class Play(Restock):
    """One simulation over one open inventory: set-up, the event loop and one
    handler per event kind, then the end-of-run checks."""

    def __init__(
        self,
        inv: Inventory,
        cfg: SimConfig,
        net: Network,
        cat: Catalogue,
        start: datetime,
        tag: str,
        clock: list[datetime],
    ) -> None:
        self.inv, self.cfg, self.net, self.cat = inv, cfg, net, cat
        self.start, self.tag, self.clock = start, tag, clock
        self.t = Tally()
        self.points = {loc.id: loc.point for loc in net.locations}
        self.res: dict[str, str] = {}  # simulated order id -> reservation id
        self.ready: dict[str, float] = {}  # BOPIS by transfer: ready time (s)
        self.arriving: set[str] = set()  # transfer ids with an arrival scheduled
        self.target: dict[tuple[str, str], int] = {}
        self.touched: set[tuple[str, str]] = set()
        self.served: dict[str, int] = {}
        self.splits: dict[int, int] = {}
        self.top = cat.skus[: cfg.top_skus]
        self.atp: dict[str, list[tuple[float, int]]] = {s: [] for s in self.top}
        self.queue: list[Event] = []
        self.n = 0
        self.now_s = 0.0
        self.more: dict[str, Callable[[dict[str, Any]], None]] = {}  # kits and lots

    # -- set-up ------------------------------------------------------------
    def setup(self, policy: Policy) -> None:
        inv, cfg, tag = self.inv, self.cfg, self.tag
        for loc in self.net.locations:
            inv.add_location(loc)
        for ch in self.net.channels:
            inv.add_channel(ch)
        # Paid pickups: the run's window and grace (no-shows released by the clock).
        grace = cfg.pickup_grace_hours
        inv.set_policy(
            attrs.evolve(policy, pickup_window_hours=cfg.pickup_hours, pickup_grace_hours=grace)
        )
        rng = random.Random(cfg.seed + 2)
        units = 1.7  # mean units per order or basket
        store_daily = (cfg.pos_sales + cfg.bopis_orders) * units / max(1, cfg.stores)
        dc_daily = cfg.ship_orders * units / max(1, cfg.dcs)
        for rank, (sku, w) in enumerate(zip(self.cat.skus, self.cat.weights, strict=True)):
            for dc in self.net.dcs:
                q = math.ceil(cfg.cover_days * dc_daily * w) + 3
                inv.receive(sku, dc.id, q, key=f"{tag}:init:{sku}:{dc.id}")
                self.target[(sku, dc.id)] = q
            for st in self.net.stores:
                q = int(cfg.cover_days * store_daily * w + rng.random())
                if q <= 0:
                    continue
                inv.receive(sku, st.id, q, key=f"{tag}:init:{sku}:{st.id}")
                self.target[(sku, st.id)] = q
                if rank < 20 and q > 2:
                    inv.set_safety(sku, st.id, 1)

    # -- the loop -----------------------------------------------------------
    def loop(self, events: list[Event], progress: Progress | None) -> None:
        self.queue = list(events)
        heapq.heapify(self.queue)
        self.n = len(events) + 1
        total = len(events)
        handlers: dict[str, Callable[[dict[str, Any]], None]] = {
            "order": self.order,
            "commit": self.commit,
            "cancel": self.cancel,
            "amend": self.amend,
            "partial_cancel": self.partial_cancel,
            "reject": self.reject,
            "ship": self.ship,
            "bopis": self.bopis,
            "collect": self.collect,
            "noshow": self.noshow,
            "sale": self.sale,
            "return": self.returned,
            "count": self.count,
            "replenish": self.replenish,
            "sample": self.sample,
            "arrive": self.arrive,
            "po": self.po,
            **self.more,
        }
        while self.queue:  # after the horizon, only the day's orders play out
            interrupts.check()  # a Ctrl-C swallowed inside a kernel's compilation
            ev = heapq.heappop(self.queue)
            self.now_s = ev.t
            self.clock[0] = self.start + timedelta(seconds=ev.t)
            self.t.events += 1
            try:
                handlers[ev.kind](ev.data)
            except OmnistockError as exc:
                self.t.error(f"{ev.kind}: {type(exc).__name__}")
            if progress is not None and (self.t.events % 200 == 0 or not self.queue):
                progress(self.t.events, max(total, self.t.events))

    # -- checks ---------------------------------------------------------------
    def guard(self, lines: Any) -> None:
        """The oversell check (see ``kpis``): every position a reservation
        was just made at still has ATP >= 0."""
        seen = set()
        for ln in lines:
            p = (ln.sku, ln.location)
            if p in seen:
                continue
            seen.add(p)
            self.touched.add(p)
            f = self.inv.explain(ln.sku, ln.location).positions[0]
            if f.atp < 0 or f.reserved > f.on_hand - sum(f.unsellable.values()):
                self.t.oversells += 1

    def shortages(self, applied: Applied) -> None:
        self.t.shortage_units += sum(s.qty for s in applied.shortages)
        self.t.resourced_units += sum(r.qty - r.missing for r in applied.resourced)
        for r in applied.resourced:
            for loc, _ in r.to:
                self.touched.add((r.sku, loc))
            if r.transfers:  # a pickup re-sourced by transfer: the units arrive later
                oid = next((k for k, v in self.res.items() if v == r.reservation), None)
                for tr in r.transfers:
                    eta = self.now_s + (tr.eta - self.clock[0]).total_seconds()
                    self._arrive_at(eta, tr.id)
                    if oid is not None:
                        self.ready[oid] = max(self.ready.get(oid, eta), eta)

    def _open(self, oid: str, states: tuple[str, ...] = ("held", "committed")) -> str | None:
        rid = self.res.get(oid)
        if rid is None or self.inv.reservation(rid).state not in states:
            return None
        return rid

    # -- online orders ---------------------------------------------------------
    def order(self, d: dict[str, Any]) -> None:
        to = Point(*d["ship_to"])
        oid = f"{self.tag}{d['id']}"
        # Some shoppers accept a wait (a backorder); by a hash of the id, no draw.
        back = (zlib.crc32(oid.encode()) % 10_000) / 10_000 < self.cfg.backorder_rate
        o = Order(oid, channel=d["channel"], lines=d["lines"], ship_to=to, backorder=back)
        # No idempotency key: a keyed allocate stores its whole result, trace
        # included, which costs more than the decision itself.
        a = self.inv.allocate(o, ttl=timedelta(minutes=self.cfg.hold_minutes))
        t = self.t
        t.ship_orders += 1
        t.ask(d["channel"], sum(q for _, q in d["lines"]), sum(x.qty for x in a.lines))
        if a.reservation is None:
            return
        self.res[d["id"]] = a.reservation.id
        waiting = sum(x.qty for x in a.lines if x.eta is not None)
        t.backorders += waiting > 0
        t.backordered_units += waiting
        t.ship_allocated += 1
        t.ship_partial += a.status == "partial"
        locs = a.locations
        t.split_orders += len(locs) > 1
        self.splits[len(locs)] = self.splits.get(len(locs), 0) + 1
        for loc in locs:
            t.parcels += 1
            t.parcel_km += haversine_km(self.points[loc], to)
            self.served[loc] = self.served.get(loc, 0) + 1
        self.guard(a.lines)

    def commit(self, d: dict[str, Any]) -> None:
        rid = self._open(d["id"], ("held",))
        if rid is not None:
            self.inv.commit(rid)

    def cancel(self, d: dict[str, Any]) -> None:
        rid = self._open(d["id"])
        if rid is not None:
            self.inv.release(rid, key=f"{self.tag}:cancel:{d['id']}")
            self.t.cancelled += 1

    def amend(self, d: dict[str, Any]) -> None:
        """A paid order changes: one line one unit more (or less), maybe a
        SKU added; only the change is checked, a refusal changes nothing."""
        rid = self._open(d["id"], ("committed",))
        if rid is None:
            return
        have: dict[str, int] = {}
        before: dict[tuple[str, str], int] = {}
        for x in self.inv.reservation(rid).lines:
            have[x.sku] = have.get(x.sku, 0) + x.qty
            before[(x.sku, x.location)] = x.qty
        first = next(iter(have))
        have[first] = have[first] + 1 if d["more"] or have[first] == 1 else have[first] - 1
        if d["add"] is not None and d["add"] not in have:
            have[d["add"]] = 1
        t = self.t
        try:
            a = self.inv.amend(rid, list(have.items()), key=f"{self.tag}:amend:{d['id']}")
        except InsufficientStock:
            t.amend_refused += 1
            return
        t.amended += 1
        # Only positions it reserved more at: the others may be short by a
        # sale since (a shortage, not an oversell of this amendment).
        self.guard([x for x in a.lines if x.qty > before.get((x.sku, x.location), 0)])

    def partial_cancel(self, d: dict[str, Any]) -> None:
        """The shopper cancels one unit of one line of a paid order."""
        rid = self._open(d["id"], ("committed",))
        if rid is None:
            return
        lines = self.inv.reservation(rid).lines
        ln = lines[int(d["pick"] * len(lines))]
        key = f"{self.tag}:part:{d['id']}"
        self.inv.release(rid, lines=[(ln.sku, 1, ln.location)], key=key)
        self.t.partial_cancels += 1

    def reject(self, d: dict[str, Any]) -> None:
        """A store that was to ship a line cannot find it (or finds it
        damaged, or the wrong item): the policy re-sources the line."""
        rid = self._open(d["id"], ("committed",))
        if rid is None:
            return
        lines = [
            x
            for x in self.inv.reservation(rid).lines
            if x.location.startswith("ST-") and x.eta is None  # on hand, not backordered
        ]
        if not lines:
            return
        ln = lines[int(d["pick"] * len(lines))]
        a: Allocation = self.inv.reject(rid, ln.sku, d["reason"], location=ln.location)
        t = self.t
        t.rejections += 1
        t.shortage_units += ln.qty
        moved = sum(x.qty for x in a.lines if x.sku == ln.sku)
        t.resourced_units += min(moved, ln.qty)
        t.rejections_resourced += a.status == "allocated"
        self.guard(a.lines)

    def ship(self, d: dict[str, Any]) -> None:
        rid = self._open(d["id"], ("committed",))
        if rid is None:
            return
        lines = self.inv.reservation(rid).lines
        if any(x.eta is not None for x in lines):  # a backorder: what is on hand goes now
            here = [(x.sku, x.qty, x.location) for x in lines if x.eta is None]
            if here:
                self.inv.ship(rid, lines=here)
            self.t.backorder_ship_waits += 1
            return
        self.inv.ship(rid)
        self.t.shipped += 1

    # -- click and collect ------------------------------------------------------
    def bopis(self, d: dict[str, Any]) -> None:
        o = Order(
            f"{self.tag}{d['id']}",
            channel=d["channel"],
            lines=d["lines"],
            method="pickup",
            pickup_at=d["store"],
        )
        a = self.inv.allocate(o, ttl=timedelta(hours=self.cfg.pickup_hours))
        t = self.t
        t.bopis_orders += 1
        got = sum(x.qty for x in a.lines) + sum(x.qty for x in a.transfers)
        t.ask(d["channel"], sum(q for _, q in d["lines"]), got)
        if a.reservation is None:
            if a.suggestions:
                t.bopis_suggested += 1
            else:
                t.bopis_refused += 1
            return
        self.res[d["id"]] = a.reservation.id
        self.served[d["store"]] = self.served.get(d["store"], 0) + 1
        self.guard(a.lines)
        if zlib.crc32(o.id.encode()) % 1000 < self.cfg.bopis_paid_rate * 1000:
            self.inv.commit(a.reservation.id)  # paid online: only a no-show releases it
        if a.transfers:
            t.bopis_transfer += 1
            ready = (
                self.now_s + (a.ready_at - self.clock[0]).total_seconds()
                if a.ready_at is not None
                else self.now_s
            )
            self.ready[d["id"]] = ready
            for tr in a.transfers:
                self._arrive_at(ready, tr.id)
        else:
            t.bopis_in_store += 1

    def _deferred(self, d: dict[str, Any], kind: str) -> bool:
        """A pickup waiting for a transfer: move the event past its arrival."""
        ready = self.ready.pop(d["id"], None)
        if ready is not None and ready > self.now_s:
            self.push(
                ready + self.cfg.pickup_hours * HOUR * (0.5 if kind == "collect" else 1) + 60,
                kind,
                **d,
            )
            if kind == "collect":
                self.ready[d["id"]] = ready  # the no-show check defers too
            return True
        return False

    def collect(self, d: dict[str, Any]) -> None:
        if self._deferred(d, "collect"):
            return
        rid = self._open(d["id"])
        if rid is None:
            return
        coming = [t for t in self.inv.transfers() if t.reservation == rid]
        if coming:  # re-sourced by transfer after it was placed: wait for it
            last = self.now_s
            for tr in coming:
                eta = self.now_s + max(0.0, (tr.eta - self.clock[0]).total_seconds())
                if tr.id not in self.arriving:
                    self._arrive_at(eta, tr.id)
                last = max(last, eta)
            self.push(last + 60, "collect", **d)
            return
        self.inv.collect(rid, key=f"{self.tag}:collect:{d['id']}")
        self.t.bopis_collected += 1

    def noshow(self, d: dict[str, Any]) -> None:
        if self._deferred(d, "noshow"):
            return
        rid = self.res.get(d["id"])
        if rid is None:
            return
        res = self.inv.reservation(rid)
        if res.state == "expired":
            self.t.bopis_noshow += 1
        elif res.state == "committed":  # paid: released once window and grace pass
            if res.expires_at is not None:
                due = self.now_s + (res.expires_at - self.clock[0]).total_seconds()
            elif any(t.reservation == rid for t in self.inv.transfers()):
                due = self.now_s + self.cfg.pickup_hours * HOUR  # due once they arrive
            else:
                return  # the policy keeps paid pickups
            self.push(due + 1, "noshow", **d)
        elif res.state == "released":
            gone = self.inv.history(ref=rid, kind="no-show")
            if gone:
                self.t.paid_noshow_orders += 1
                self.t.paid_noshow_units += sum(e.qty for e in gone)

    # -- stores --------------------------------------------------------------------
    def sale(self, d: dict[str, Any]) -> None:
        store = d["store"]
        lines = []
        asked = 0
        for sku, q in d["lines"]:
            asked += q
            shelf = self.inv.on_hand(sku, store, "sellable")
            if min(q, shelf) > 0:
                lines.append((sku, min(q, shelf)))
                self.touched.add((sku, store))
        got = sum(q for _, q in lines)
        self.t.pos_sales += 1
        self.t.pos_lost += asked - got
        self.t.ask("pos", asked, got)
        if lines:
            self.shortages(self.inv.sell(store, lines, channel="pos"))
            self.served[store] = self.served.get(store, 0) + 1

    def returned(self, d: dict[str, Any]) -> None:
        self.inv.return_items(d["store"], d["lines"], condition=d["condition"])
        self.t.returned_units += sum(q for _, q in d["lines"])

    def count(self, d: dict[str, Any]) -> None:
        sku, store = d["sku"], d["store"]
        shelf = self.inv.on_hand(sku, store, "sellable")
        self.shortages(self.inv.count(sku, store, max(0, shelf - d["shrink"])))
        self.t.counts += 1
        self.touched.add((sku, store))

    # -- supply ------------------------------------------------------------------------
    def sample(self, d: dict[str, Any]) -> None:
        for sku in self.top:
            self.atp[sku].append((round(self.now_s / HOUR, 3), self.inv.available(sku)))

    # -- the end -------------------------------------------------------------------
    def finish(self) -> None:
        inv = self.inv
        for oid, rid in self.res.items():
            if not oid.startswith("B") and inv.reservation(rid).state == "expired":
                self.t.abandoned += 1
        uncovered = 0
        for sku in self.cat.skus:
            for f in inv.explain(sku).positions:
                if f.reserved > f.on_hand - sum(f.unsellable.values()):
                    uncovered += 1
        self.t.uncovered_at_end = uncovered
        filled = inv.history(kind="backorder-filled")
        self.t.backorder_converted_units = sum(e.qty for e in filled)
