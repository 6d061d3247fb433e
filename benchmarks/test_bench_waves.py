"""allocate_many lines/s: a columnar wave of single-line ship orders through
the kernel, journaled in one commit (issue: 100k orders over 500 locations).

Each round starts from freshly loaded stock; the test checks every decision
never exceeds ATP and the ledger still passes check()."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from omnistock import Inventory, Location, OrderBatch, Point, Policy
from omnistock.storage import Commit
from omnistock.storage.memory import MemoryStore

from .conftest import scales

SIZES = {"tiny": (2_000, 50, 200), "small": (20_000, 200, 1_000), "full": (100_000, 500, 2_000)}


def network(locs: int, skus: int, seed: int = 7) -> Inventory:
    rng = np.random.default_rng(seed)
    inv = Inventory()
    lat, lon = rng.uniform(50, 56, locs), rng.uniform(-5, 1, locs)
    for j in range(locs):
        inv.add_location(Location(f"L{j}", point=Point(lat[j], lon[j])))
    for i in range(skus):
        for j in rng.choice(locs, min(25, locs), replace=False):
            inv.receive(f"S{i}", f"L{j}", int(rng.integers(1, 20)))
    return inv


def wave(orders: int, skus: int, seed: int = 11) -> OrderBatch:
    rng = np.random.default_rng(seed)
    ids = [f"S{int(x)}" for x in rng.zipf(1.2, orders) % skus]
    return OrderBatch(
        [f"o{k}" for k in range(orders)],
        ids,
        np.ones(orders, dtype=np.int64),
        rng.uniform(50, 56, orders),
        rng.uniform(-5, 1, orders),
    )


@pytest.mark.parametrize("scale", scales())
def test_allocate_many_wave(benchmark: Any, scale: str) -> None:
    orders, locs, skus = SIZES[scale]
    base = network(locs, skus)
    batch = wave(orders, skus)
    policy = Policy(candidates=20)
    results: list[Any] = []

    def setup() -> tuple[tuple[Inventory], dict[str, Any]]:
        return (Inventory(store=_copy(base)),), {}

    def go(inv: Inventory) -> None:
        results.append((inv, inv.allocate_many(batch, policy=policy)))

    benchmark.pedantic(go, setup=setup, rounds=3 if scale != "tiny" else 1, iterations=1)
    benchmark.extra_info["lines"] = orders
    inv, res = results[-1]
    assert res.allocated > 0
    free, reserved = inv._state.grid.used()
    assert (reserved <= np.maximum(free, 0)).all()  # no wave decision exceeds ATP
    assert inv.check().ok


def _copy(inv: Inventory) -> MemoryStore:
    """A fresh store holding the same journal, so each round starts alike."""
    store = MemoryStore()
    store.append([Commit(tuple(r[1:] for r in inv.store.read(0)))], 0)
    return store
