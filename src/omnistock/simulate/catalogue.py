"""The simulated retailer's kits and lotted (fresh) items.

Beside the Zipf catalogue of ``demand``, a run may sell:

- ``kits`` gift boxes, each made of popular catalogue SKUs (two singles and
  a pair), ordered whole by ``kit_orders`` web orders a day: each is
  allocated to ONE location that can build it, paid, then shipped.
- ``lotted_skus`` fresh items (``FRESH-00001``...), sold in stores only.
  Every store takes a delivery each morning at 06:00, one lot per item
  (``S<day>``), that expires ``shelf_life_hours`` later; what is not sold
  by then leaves ATP by the ledger's clock (a ``lot-expired`` row). Shoppers
  buy them at the till and order them online for delivery from a store
  (a hold pinned to the store, shipped a few hours later). DCs keep a
  long-life lot of each (``DC``) that the ledger re-sources to.
- ``recalls`` recall events: at 13:00 of a day spread over the run, the
  supplier recalls that day's lot of a fresh item: it is quarantined at
  every store and the web orders it uncovers are re-sourced.

The events are drawn up front from their own seeded stream, so the other
events of a seed are the same whatever these sizes are.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from ..errors import InsufficientStock
from ..values import Line, Order, Point
from .demand import DAY, HOUR, ONLINE_CURVE, STORE_CURVE, Catalogue, Event, SimConfig
from .network import Network

if TYPE_CHECKING:
    from .play import Play

__all__ = ["Extras", "fresh_skus", "kit_definitions"]

DELIVERY_HOUR = 6
RECALL_HOUR = 13
_N0 = 10_000_000  # event tie-breaks after the main stream's


def kit_definitions(cfg: SimConfig, cat: Catalogue) -> dict[str, dict[str, int]]:
    """``cfg.kits`` gift boxes of popular SKUs: box i takes the SKUs ranked
    3i, 3i+1 (one each) and 3i+2 (two), wrapping round a small catalogue."""
    n = len(cat.skus)
    out: dict[str, dict[str, int]] = {}
    for i in range(cfg.kits):
        comps: dict[str, int] = {}
        for j, q in enumerate((1, 1, 2)):
            comps.setdefault(cat.skus[(3 * i + j) % n], q)
        out[f"GIFTBOX-{i + 1:03d}"] = comps
    return out


def fresh_skus(cfg: SimConfig) -> tuple[str, ...]:
    """The lotted items, most popular first."""
    return tuple(f"FRESH-{i + 1:05d}" for i in range(cfg.lotted_skus))


class Extras:
    """Kits and lots of one run: their events, set-up, handlers and KPIs."""

    def __init__(self, cfg: SimConfig, net: Network, cat: Catalogue) -> None:
        self.cfg, self.net, self.cat = cfg, net, cat
        self.kits = kit_definitions(cfg, cat)
        self.fresh = fresh_skus(cfg)
        self.weights = [1.0 / (r + 1) for r in range(len(self.fresh))]
        self.res: dict[str, str] = {}  # order id -> reservation id
        self.head = 0

    # -- the events, drawn up front -------------------------------------------
    def events(self) -> list[Event]:
        """Kit orders, fresh deliveries, sales and web orders, and recalls."""
        cfg, net = self.cfg, self.net
        rng = random.Random(cfg.seed * 7919 + 31)
        out: list[Event] = []

        def add(t: float, kind: str, **data: Any) -> None:
            out.append(Event(int(t), _N0 + len(out), kind, data))

        def when(day: int, curve: tuple[float, ...]) -> float:
            return day * DAY + (rng.choices(range(24), curve)[0] + rng.random()) * HOUR

        kits = sorted(self.kits)
        stores = [s.id for s in net.stores]
        for day in range(cfg.days):
            for i in range(cfg.kit_orders if kits else 0):
                t = when(day, ONLINE_CURVE)
                c = rng.choice(net.cities)
                to = (c.point.lat + (rng.random() - 0.5) * 0.15, c.point.lon)
                kit, q = rng.choice(kits), 1 + (rng.random() < 0.15)
                oid = f"K{day}-{i:05d}"
                add(t, "kit_order", id=oid, kit=kit, qty=q, ship_to=to)
                add(t + HOUR + rng.random() * 5 * HOUR, "kit_ship", id=oid)
            if not self.fresh:
                continue
            add(day * DAY + DELIVERY_HOUR * HOUR, "delivery", day=day)
            for _ in range(2 * len(stores) * len(self.fresh)):
                sku = rng.choices(self.fresh, self.weights)[0]
                q = 1 + (rng.random() < 0.3)
                add(when(day, STORE_CURVE), "fresh_sale", store=rng.choice(stores), sku=sku, qty=q)
            for i in range(len(stores) * len(self.fresh) // 2):
                t = day * DAY + (DELIVERY_HOUR + 1 + rng.random() * 11) * HOUR
                sku = rng.choices(self.fresh, self.weights)[0]
                oid = f"F{day}-{i:05d}"
                add(t, "fresh_order", id=oid, store=rng.choice(stores), sku=sku, qty=1)
                add(t + HOUR + rng.random() * 2 * HOUR, "fresh_ship", id=oid)
        for j in range(cfg.recalls if self.fresh else 0):
            day = ((2 * j + 1) * cfg.days) // (2 * cfg.recalls)
            sku = self.fresh[j % len(self.fresh)]
            add(day * DAY + RECALL_HOUR * HOUR, "recall", sku=sku, day=day)
        return out

    # -- set-up and handlers ----------------------------------------------------
    def setup(self, play: Play) -> None:
        """Declare the kits and stock the DCs for them (the catalogue's stock
        covers the SKUs' own demand); stock each DC with a long-life lot of
        every fresh item."""
        inv, cfg, tag = play.inv, self.cfg, play.tag
        self.head = inv.head
        per_kit = cfg.cover_days * cfg.kit_orders * 1.15 / max(1, len(self.kits) * cfg.dcs)
        for kit, comps in self.kits.items():
            inv.add_kit(kit, comps)
            for sku, q in comps.items():
                for dc in self.net.dcs:
                    extra = math.ceil(per_kit * q) + 1
                    inv.receive(sku, dc.id, extra, key=f"{tag}:init:{kit}:{sku}:{dc.id}")
                    play.target[(sku, dc.id)] = play.target.get((sku, dc.id), 0) + extra
        expires = play.start + timedelta(seconds=cfg.horizon) + timedelta(days=3)
        for sku in self.fresh:
            for dc in self.net.dcs:
                q = 10 + len(self.net.stores) // 2
                key = f"{tag}:init:{sku}:{dc.id}"
                inv.receive(sku, dc.id, q, lot=f"{tag}DC", expires=expires, key=key)

    def handlers(self, play: Play) -> dict[str, Callable[[dict[str, Any]], None]]:
        """The handler of each event kind these extras add."""

        def at(seconds: float) -> Any:
            return play.start + timedelta(seconds=seconds)

        def kit_order(d: dict[str, Any]) -> None:
            oid = f"{play.tag}{d['id']}"
            o = Order(oid, "web", [(d["kit"], d["qty"])], ship_to=Point(*d["ship_to"]))
            a = play.inv.allocate(o, ttl=timedelta(minutes=self.cfg.hold_minutes))
            play.t.kit_orders += 1
            if a.reservation is None:
                return
            play.inv.commit(a.reservation.id)  # paid at once
            self.res[d["id"]] = a.reservation.id
            play.t.kit_orders_filled += 1
            play.t.kit_units += d["qty"]
            play.guard(a.lines)
            for x in a.lines:
                play.touched.add((x.sku, x.location))

        def ship(d: dict[str, Any]) -> None:
            rid = self.res.pop(d["id"], None)
            if rid is None or play.inv.reservation(rid).state != "committed":
                return
            play.inv.ship(rid)
            play.t.kit_shipped += d["id"].startswith("K")

        def delivery(d: dict[str, Any]) -> None:
            day, rng = d["day"], random.Random(self.cfg.seed * 7919 + 47 + d["day"])
            expires = at(day * DAY + (DELIVERY_HOUR + self.cfg.shelf_life_hours) * HOUR)
            lot = f"{play.tag}S{day}"
            for sku in self.fresh:
                for st in self.net.stores:
                    q = 3 + int(rng.random() * 4)
                    key = f"{play.tag}:fresh:{sku}:{st.id}:{day}"
                    play.inv.receive(sku, st.id, q, lot=lot, expires=expires, key=key)
                    play.t.fresh_received_units += q

        def fresh_sale(d: dict[str, Any]) -> None:
            store, sku = d["store"], d["sku"]
            q = min(d["qty"], play.inv.on_hand(sku, store, "sellable"))
            play.t.ask("pos", d["qty"], max(0, q))
            if q > 0:
                play.shortages(play.inv.sell(store, [(sku, q)], channel="pos"))
                play.t.fresh_sold_units += q

        def fresh_order(d: dict[str, Any]) -> None:
            oid = f"{play.tag}{d['id']}"
            o = Order(oid, "web", [Line(d["sku"], d["qty"], d["store"])])
            play.t.fresh_orders += 1
            try:
                r = play.inv.hold(o, ttl=timedelta(minutes=self.cfg.hold_minutes))
            except InsufficientStock:
                return  # nothing left at that store today
            play.inv.commit(r.id)
            self.res[d["id"]] = r.id
            play.t.fresh_orders_filled += 1
            play.guard(r.lines)

        def recall(d: dict[str, Any]) -> None:
            out = play.inv.recall(d["sku"], f"{play.tag}S{d['day']}")
            t = play.t
            t.recalls += 1
            t.recalled_units += sum(x.qty for x in out.quarantined)
            t.recall_shortage_units += sum(s.qty for s in out.shortages)
            t.recall_resourced_units += sum(r.qty - r.missing for r in out.resourced)

        return {
            "kit_order": kit_order,
            "kit_ship": ship,
            "delivery": delivery,
            "fresh_sale": fresh_sale,
            "fresh_order": fresh_order,
            "fresh_ship": ship,
            "recall": recall,
        }

    def finish(self, play: Play) -> None:
        """Units of lots that expired during the run (journaled by the clock)."""
        gone = play.inv.history(kind="lot-expired", since=self.head, limit=None)
        play.t.expired_units = sum(e.qty for e in gone)
