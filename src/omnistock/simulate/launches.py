"""Product launches of a simulated run: preorders that wait on a purchase order.

``launches`` new SKUs (``LAUNCH-001``...) have no stock when they are
announced. At 07:00 of its day (the launches spread over the run) a
launch's purchase order is placed at the first DC, due at noon. From 08:00
web shoppers preorder it (``launch_orders`` in all, ``Order(backorder=True)``,
paid at once): with nothing on hand, each unit waits on the PO, and the
ledger promises the PO's units once only (what it cannot cover is
unfillable). The PO then plays out as every PO of the run does
(``Restock.po``): it arrives (the preorders become on-hand reservations in
the order they were taken), is late (re-dated, they keep waiting) or is
cancelled (they are released, reported short). At 18:00 the preorders
whose units are on hand ship; those still waiting are counted as waits.

The events are drawn from their own seeded stream, so the other events of
a seed are the same whatever these sizes are.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from ..values import Order, Point
from .demand import DAY, HOUR, Event, SimConfig
from .network import Network

if TYPE_CHECKING:
    from .play import Play

__all__ = ["Launches"]

ANNOUNCE_HOUR, DUE_HOUR, SHIP_HOUR = 7, 12, 18
_N0 = 20_000_000  # event tie-breaks after the main stream's and the catalogue's


class Launches:
    """The launches of one run: their events, handlers and KPIs."""

    def __init__(self, cfg: SimConfig, net: Network) -> None:
        self.cfg, self.net = cfg, net
        self.skus = tuple(f"LAUNCH-{i + 1:03d}" for i in range(cfg.launches))
        self.res: dict[str, str] = {}  # preorder id -> reservation id

    def events(self) -> list[Event]:
        cfg, net = self.cfg, self.net
        rng = random.Random(cfg.seed * 7919 + 101)
        out: list[Event] = []

        def add(t: float, kind: str, **data: Any) -> None:
            out.append(Event(int(t), _N0 + len(out), kind, data))

        per = cfg.launch_orders // max(1, len(self.skus))
        for j, sku in enumerate(self.skus):
            day = ((2 * j + 1) * cfg.days) // (2 * len(self.skus))
            add(day * DAY + ANNOUNCE_HOUR * HOUR, "launch", sku=sku, qty=per * 4 // 5, day=day)
            for i in range(per):
                t = day * DAY + (ANNOUNCE_HOUR + 1 + rng.random() * 3.5) * HOUR
                c = rng.choice(net.cities)
                to = (c.point.lat + (rng.random() - 0.5) * 0.15, c.point.lon)
                oid = f"L{j}-{i:04d}"
                add(t, "preorder", id=oid, sku=sku, ship_to=to)
                add(day * DAY + SHIP_HOUR * HOUR + rng.random() * HOUR, "preorder_ship", id=oid)
        return out

    def handlers(self, play: Play) -> dict[str, Callable[[dict[str, Any]], None]]:
        dc = self.net.dcs[0].id

        def launch(d: dict[str, Any]) -> None:
            eta = d["day"] * DAY + DUE_HOUR * HOUR
            when = play.start + timedelta(seconds=eta)
            ref = play.inv.expect(
                d["sku"], dc, d["qty"], eta=when, key=f"{play.tag}:launch:{d['sku']}"
            )
            play.push(eta, "po", sku=d["sku"], loc=dc, qty=d["qty"], ref=ref)

        def preorder(d: dict[str, Any]) -> None:
            oid = f"{play.tag}{d['id']}"
            o = Order(oid, "web", [(d["sku"], 1)], ship_to=Point(*d["ship_to"]), backorder=True)
            a = play.inv.allocate(o, ttl=timedelta(minutes=self.cfg.hold_minutes))
            t = play.t
            t.preorders += 1
            if a.reservation is None:  # the PO's units are all promised
                return
            play.inv.commit(a.reservation.id)  # paid at once: it waits without expiring
            self.res[d["id"]] = a.reservation.id
            waiting = sum(x.qty for x in a.lines if x.eta is not None)
            t.preorders_taken += 1
            t.backorders += waiting > 0
            t.backordered_units += waiting

        def ship(d: dict[str, Any]) -> None:
            rid = self.res.pop(d["id"], None)
            if rid is None:
                return
            r = play.inv.reservation(rid)
            if r.state != "committed":  # released: its PO was cancelled
                return
            if any(x.eta is not None for x in r.lines):
                play.t.backorder_ship_waits += 1  # still waiting on a late PO
                return
            play.inv.ship(rid)
            play.t.preorders_shipped += 1

        return {"launch": launch, "preorder": preorder, "preorder_ship": ship}
