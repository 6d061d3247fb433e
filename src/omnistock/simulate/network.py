"""The simulated retailer's network, placed on real cities.

The package ships ``cities.csv``: 65 cities of the United Kingdom with their
WGS84 coordinates and approximate population (thousands). DCs go to the
largest cities spread across the country; stores go to the next largest
cities (a big city may get more than one). Shoppers live in cities in
proportion to population.
"""

from __future__ import annotations

import csv
import io
import math
import random
from dataclasses import dataclass
from importlib import resources

from ..fulfilment.geo import haversine_km
from ..values import Channel, Location, Point

__all__ = ["City", "Network", "build_network", "load_cities"]


@dataclass(frozen=True)
class City:
    """A city of the shipped table."""

    name: str
    country: str
    point: Point
    population_k: int


def load_cities() -> list[City]:
    """The shipped city table, largest first."""
    text = resources.files("omnistock.simulate").joinpath("cities.csv").read_text("utf-8")
    out = [
        City(
            r["city"], r["country"], Point(float(r["lat"]), float(r["lon"])), int(r["population_k"])
        )
        for r in csv.DictReader(io.StringIO(text))
    ]
    return sorted(out, key=lambda c: (-c.population_k, c.name))


@dataclass(frozen=True)
class Network:
    """Locations and channels of the simulated retailer.

    ``home``: for each city, the nearest pickup store (BOPIS shoppers pick up
    there).
    """

    cities: tuple[City, ...]
    dcs: tuple[Location, ...]
    stores: tuple[Location, ...]
    channels: tuple[Channel, ...]
    home: dict[str, str]
    city_of: dict[str, str]

    @property
    def locations(self) -> tuple[Location, ...]:
        return self.dcs + self.stores

    def location(self, loc_id: str) -> Location:
        for loc in self.locations:
            if loc.id == loc_id:
                return loc
        raise KeyError(loc_id)


def _slug(name: str) -> str:
    return "".join(ch for ch in name.upper() if ch.isalnum())[:10]


def _spread(cities: list[City], n: int) -> list[City]:
    """``n`` large cities far from each other: greedy max-min distance,
    starting from the largest."""
    pool = cities[: max(n * 4, 12)]
    chosen = [pool[0]]
    while len(chosen) < min(n, len(pool)):
        best = max(
            pool,
            key=lambda c: (
                min(haversine_km(c.point, x.point) for x in chosen) * math.sqrt(c.population_k)
            ),
        )
        chosen.append(best)
    return chosen


def build_network(
    rng: random.Random,
    stores: int = 40,
    dcs: int = 3,
    store_capacity: int = 120,
    marketplace_buffer: int = 2,
) -> Network:
    """Place ``dcs`` DCs and ``stores`` stores on the city table.

    Stores sell (POS), ship (ship-from-store, limited to ``store_capacity``
    orders a day) and offer pickup; DCs only ship, with no daily limit.
    Channels: ``web`` and ``app`` may use every location, ``marketplace`` only
    the DCs and holds back ``marketplace_buffer`` units per SKU, ``pos`` the
    stores."""
    cities = load_cities()
    dc_locs = []
    for c in _spread(cities, dcs):
        dc_locs.append(Location(f"DC-{_slug(c.name)}", kind="dc", point=c.point, priority=0))
    # Stores: weighted by population, a city gets a second store when large.
    weights = [c.population_k for c in cities]
    store_locs: list[Location] = []
    city_of: dict[str, str] = {}
    used: dict[str, int] = {}
    order = list(cities[:stores]) if stores <= len(cities) else list(cities)
    while len(order) < stores:
        order.append(rng.choices(cities, weights)[0])
    for c in order:
        n = used.get(c.name, 0) + 1
        used[c.name] = n
        jitter = Point(
            c.point.lat + (rng.random() - 0.5) * 0.04 * (n > 1),
            c.point.lon + (rng.random() - 0.5) * 0.06 * (n > 1),
        )
        sid = f"ST-{_slug(c.name)}" + (f"-{n}" if n > 1 else "")
        nearest_dc = min(dc_locs, key=lambda d: haversine_km(d.point, jitter))
        store_locs.append(
            Location(
                sid,
                kind="store",
                point=jitter,
                priority=1,
                daily_capacity=store_capacity,
                returns_to=nearest_dc.id,
            )
        )
        city_of[sid] = c.name
    for d in dc_locs:
        city_of[d.id] = min(cities, key=lambda c: haversine_km(c.point, d.point)).name
    home = {
        c.name: min(store_locs, key=lambda s: haversine_km(s.point, c.point)).id for c in cities
    }
    ids = tuple(x.id for x in dc_locs)
    channels = (
        Channel("web"),
        Channel("app"),
        Channel("marketplace", locations=ids, buffer=marketplace_buffer),
        Channel("pos", locations=tuple(s.id for s in store_locs)),
    )
    return Network(tuple(cities), tuple(dc_locs), tuple(store_locs), channels, home, city_of)
