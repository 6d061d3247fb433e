"""The catalogue (Zipf demand) and the simulated events.

Every event is drawn up front from one seeded ``random.Random``, before any
stock moves, so two runs with the same seed (and two policies in
``compare``) see exactly the same shoppers, in the same order, at the same
simulated times. What an event does to the ledger may depend on the policy
(an order sourced elsewhere leaves different stock behind), but the event
stream does not.
"""

from __future__ import annotations

import bisect
import itertools
import random
from dataclasses import dataclass, field
from typing import Any

from ..values import Point
from .network import Network

__all__ = ["Catalogue", "Event", "SimConfig", "build_catalogue", "generate_events"]

HOUR = 3600
DAY = 24 * HOUR
# Share of a day's web/app/marketplace traffic per hour (UTC), evening peak.
ONLINE_CURVE = (
    1,
    0.6,
    0.4,
    0.3,
    0.3,
    0.5,
    1,
    2,
    3,
    4,
    4.5,
    5,
    6,
    5.5,
    5,
    4.5,
    4.5,
    5,
    6,
    7,
    7.5,
    6.5,
    4,
    2,
)
# Store opening hours 09-20, lunchtime and after-work peaks.
STORE_CURVE = (0, 0, 0, 0, 0, 0, 0, 0, 0, 3, 4, 5, 7, 7, 5, 5, 5, 6, 7, 5, 0, 0, 0, 0)
# Click-and-collect orders are placed from early morning to late evening.
BOPIS_CURVE = (0, 0, 0, 0, 0, 0, 0.5, 1, 2, 3, 4, 5, 6, 6, 5, 5, 5, 5, 4, 3, 2, 1, 0.5, 0.2)


@dataclass(frozen=True)
class SimConfig:
    """Every size of a simulation. Per-day figures are for the whole network."""

    seed: int = 7
    days: int = 1
    stores: int = 40
    dcs: int = 3
    skus: int = 400
    zipf: float = 1.1
    ship_orders: int = 2500
    bopis_orders: int = 400
    pos_sales: int = 2500
    returns: int = 150
    counts: int = 300
    store_capacity: int = 120
    marketplace_buffer: int = 2
    cover_days: float = 1.6
    hold_minutes: int = 20
    pickup_hours: float = 6.0
    pickup_grace_hours: float = 1.0
    bopis_paid_rate: float = 0.5
    abandon_rate: float = 0.04
    cancel_rate: float = 0.03
    amend_rate: float = 0.05
    partial_cancel_rate: float = 0.03
    noshow_rate: float = 0.08
    po_late_rate: float = 0.1
    po_cancel_rate: float = 0.03
    backorder_rate: float = 0.1
    reject_rate: float = 0.03
    replenish_hours: float = 6.0
    sample_minutes: int = 30
    top_skus: int = 5
    kits: int = 3
    kit_orders: int = 60
    lotted_skus: int = 4
    shelf_life_hours: float = 16.0
    recalls: int = 1
    launches: int = 2
    launch_orders: int = 60

    @property
    def horizon(self) -> int:
        """Simulated seconds covered."""
        return self.days * DAY


@dataclass(frozen=True)
class Catalogue:
    """SKUs, most popular first, with their Zipf demand weights (sum to 1)."""

    skus: tuple[str, ...]
    weights: tuple[float, ...]
    cum: tuple[float, ...] = field(repr=False)

    def draw(self, rng: random.Random) -> str:
        """One SKU by popularity."""
        return self.skus[bisect.bisect_left(self.cum, rng.random() * self.cum[-1])]


def build_catalogue(n: int, s: float) -> Catalogue:
    """``n`` SKUs whose demand falls off as ``1 / rank**s`` (Zipf)."""
    raw = [1.0 / (r**s) for r in range(1, n + 1)]
    total = sum(raw)
    weights = tuple(w / total for w in raw)
    families = ("TEE", "JEAN", "SHOE", "BAG", "HAT", "SOCK", "COAT", "DRESS")
    skus = tuple(f"{families[i % len(families)]}-{i + 1:05d}" for i in range(n))
    return Catalogue(skus, weights, tuple(itertools.accumulate(weights)))


@dataclass(frozen=True, order=True)
class Event:
    """One simulated event: ``t`` seconds after the start, then a tie-break."""

    t: int
    n: int
    kind: str = field(compare=False)
    data: dict[str, Any] = field(compare=False, default_factory=dict)


class _Gen:
    def __init__(self, cfg: SimConfig, net: Network, cat: Catalogue) -> None:
        self.cfg, self.net, self.cat = cfg, net, cat
        self.rng = random.Random(cfg.seed)
        # Order changes draw from their own stream, so the other events of a
        # seed are the same whatever their rates.
        self.changes = random.Random(cfg.seed * 7919 + 15)
        self.events: list[Event] = []
        self.n = 0
        self.cities = list(net.cities)
        self.city_cum = list(itertools.accumulate(c.population_k for c in self.cities))

    def add(self, t: float, kind: str, **data: Any) -> None:
        self.n += 1
        self.events.append(Event(int(t), self.n, kind, data))

    def when(self, day: int, curve: tuple[float, ...]) -> float:
        hour = self.rng.choices(range(24), curve)[0]
        return day * DAY + hour * HOUR + self.rng.random() * HOUR

    def city(self) -> Any:
        x = self.rng.random() * self.city_cum[-1]
        return self.cities[bisect.bisect_left(self.city_cum, x)]

    def lines(self, max_lines: int = 4) -> list[tuple[str, int]]:
        n = 1
        while n < max_lines and self.rng.random() < 0.35:
            n += 1
        out: dict[str, int] = {}
        for _ in range(n):
            sku = self.cat.draw(self.rng)
            out[sku] = out.get(sku, 0) + (2 if self.rng.random() < 0.12 else 1)
        return list(out.items())

    def ship_order(self, day: int, i: int) -> None:
        r, cfg = self.rng, self.cfg
        t = self.when(day, ONLINE_CURVE)
        ch = r.choices(("web", "app", "marketplace"), (5, 3, 2))[0]
        c = self.city()
        to = Point(c.point.lat + (r.random() - 0.5) * 0.15, c.point.lon + (r.random() - 0.5) * 0.2)
        oid = f"{ch[0].upper()}{day}-{i:06d}"
        self.add(
            t,
            "order",
            id=oid,
            channel=ch,
            lines=self.lines(),
            city=c.name,
            ship_to=(to.lat, to.lon),
        )
        if r.random() < cfg.abandon_rate:
            return  # checkout abandoned: the hold expires
        t += 60 + r.random() * 600
        self.add(t, "commit", id=oid)
        if r.random() < cfg.cancel_rate:
            self.add(t + 300 + r.random() * 3 * HOUR, "cancel", id=oid)
            return
        ship_at = t + HOUR + r.random() * 5 * HOUR
        c = self.changes
        if c.random() < cfg.amend_rate:  # the shopper changes the paid order
            at = t + 120 + c.random() * (ship_at - t - 900)
            more = c.random() < 0.6
            add = self.cat.draw(c) if c.random() < 0.3 else None
            self.add(at, "amend", id=oid, more=more, add=add)
        if c.random() < cfg.partial_cancel_rate:  # one unit of one line cancelled
            self.add(ship_at - 300, "partial_cancel", id=oid, pick=c.random())
        if r.random() < cfg.reject_rate:
            self.add(
                ship_at - 600,
                "reject",
                id=oid,
                reason=r.choice(("not_found", "damaged", "mismatch")),
                pick=r.random(),
            )
        self.add(ship_at, "ship", id=oid)

    def bopis(self, day: int, i: int) -> None:
        r, cfg = self.rng, self.cfg
        t = self.when(day, BOPIS_CURVE)
        c = self.city()
        oid = f"B{day}-{i:06d}"
        self.add(
            t,
            "bopis",
            id=oid,
            channel=r.choice(("web", "app")),
            lines=self.lines(3),
            store=self.net.home[c.name],
        )
        window = cfg.pickup_hours * HOUR
        if r.random() < cfg.noshow_rate:
            self.add(t + window + 60, "noshow", id=oid)
        else:
            self.add(t + 0.5 * HOUR + r.random() * (window - 0.6 * HOUR), "collect", id=oid)
            self.add(t + window + 60, "noshow", id=oid)

    def day(self, day: int) -> None:
        r, cfg, stores = self.rng, self.cfg, self.net.stores
        for i in range(cfg.ship_orders):
            self.ship_order(day, i)
        for i in range(cfg.bopis_orders):
            self.bopis(day, i)
        for _ in range(cfg.pos_sales):
            self.add(
                self.when(day, STORE_CURVE), "sale", store=r.choice(stores).id, lines=self.lines(3)
            )
        for _ in range(cfg.returns):
            cond = r.choices(("sellable", "damaged", "inspection", "write_off"), (7, 1, 1, 1))[0]
            self.add(
                self.when(day, STORE_CURVE),
                "return",
                store=r.choice(stores).id,
                lines=self.lines(2),
                condition=cond,
            )
        for _ in range(cfg.counts):
            shrink = r.choices((0, 1, 2, -1), (6, 3, 1, 1))[0]
            self.add(
                day * DAY + (7 + r.random()) * HOUR,
                "count",
                store=r.choice(stores).id,
                sku=self.cat.draw(r),
                shrink=shrink,
            )


def generate_events(cfg: SimConfig, net: Network, cat: Catalogue) -> list[Event]:
    """The whole event stream of a run, in time order (see the module doc)."""
    g = _Gen(cfg, net, cat)
    for d in range(cfg.days):
        g.day(d)
    step = cfg.replenish_hours * HOUR
    t = step
    while t < cfg.horizon:
        g.add(t, "replenish")
        t += step
    t = 0.0
    while t <= cfg.horizon:
        g.add(t, "sample")
        t += cfg.sample_minutes * 60
    g.events.sort()
    return g.events
