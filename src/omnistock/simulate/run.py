"""Run a simulated day (or week) of an omnichannel retailer through omnistock.

The ledger's clock is injected and follows simulated time: each event sets
it to the event's time before its command runs, so hold expiry (abandoned
checkouts, pickup no-shows), daily pick capacity and transfer ETAs all work
in simulated time and a run never depends on the wall clock.

``simulate`` builds the network, the catalogue and the events, opens the
store and lets ``play.Play`` play them; ``SimResult`` is what it returns.
"""

from __future__ import annotations

import os
import random
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from ..fulfilment.policy import Policy
from ..inventory import Inventory
from ..values import Location
from .catalogue import Extras
from .demand import SimConfig, build_catalogue, generate_events
from .launches import Launches
from .network import build_network
from .play import Play, Progress

__all__ = ["START", "SimResult", "remove_sqlite", "simulate"]

START = datetime(2026, 3, 2, tzinfo=UTC)
"""Simulated time of the first event of a run on an empty store (a Monday)."""


@dataclass
class SimResult:
    """What a run produced: the KPIs and the series its report draws."""

    config: SimConfig
    policy: str
    kpis: dict[str, Any]
    atp: dict[str, list[tuple[float, int]]]
    served: dict[str, int]
    locations: list[Location]
    cities: dict[str, str]
    splits: dict[int, int] = field(default_factory=dict)


def remove_sqlite(url: str) -> None:
    """Delete the files of a ``sqlite:///`` store (for ``--fresh``)."""
    if url.startswith("sqlite:///"):
        path = url[len("sqlite:///") :]
        for suffix in ("", "-wal", "-shm"):
            if os.path.exists(path + suffix):
                os.remove(path + suffix)


def _start_of(inv: Inventory) -> datetime:
    """The simulated start: START on an empty store, else the midnight after
    the store's last entry (journal time never runs backwards)."""
    if inv.head == 0:
        return START
    last = inv.history(since=inv.head - 1, limit=1)
    if not last:
        return START
    day = last[-1].at.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return max(START, day + timedelta(days=1))


def simulate(
    cfg: SimConfig,
    url: str,
    policy: Policy | None = None,
    policy_name: str = "default",
    fresh: bool = False,
    progress: Progress | None = None,
) -> SimResult:
    """Run ``cfg`` on the store at ``url`` (``fresh``: delete a SQLite store
    first) under ``policy`` (default: ``Policy()``) and return its KPIs."""
    t0 = time.perf_counter()
    if fresh:
        remove_sqlite(url)
    net = build_network(
        random.Random(cfg.seed * 7919 + 1),
        cfg.stores,
        cfg.dcs,
        cfg.store_capacity,
        cfg.marketplace_buffer,
    )
    cat = build_catalogue(cfg.skus, cfg.zipf)
    extras, launches = Extras(cfg, net, cat), Launches(cfg, net)
    events = generate_events(cfg, net, cat) + extras.events() + launches.events()
    clock = [START]
    with Inventory.open(url, clock=lambda: clock[0]) as inv:
        start = _start_of(inv)
        clock[0] = start
        tag = "" if inv.head == 0 else f"R{inv.head}-"
        run = Play(inv, cfg, net, cat, start, tag, clock)
        run.setup(policy or Policy())
        extras.setup(run)
        run.more = {**extras.handlers(run), **launches.handlers(run)}
        t1 = time.perf_counter()
        run.loop(events, progress)
        loop_s = time.perf_counter() - t1
        run.finish()
        extras.finish(run)
        report = inv.check()
    wall = time.perf_counter() - t0
    kpis = run.t.kpis(wall, report.ok, str(report))
    kpis["events_per_s"] = round(run.t.events / loop_s, 1) if loop_s > 0 else 0.0
    return SimResult(
        cfg,
        policy_name,
        kpis,
        run.atp,
        run.served,
        list(net.locations),
        dict(net.city_of),
        dict(sorted(run.splits.items())),
    )
