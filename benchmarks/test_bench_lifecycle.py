"""W8 cold start, W9 replay/open of a journal, W10 bytes per position."""

from __future__ import annotations

import tempfile
from typing import Any

import pytest

from . import lifecycle
from . import workloads as wl
from .conftest import SCALE


@pytest.mark.parametrize("warm_cache", [True, False], ids=["warm", "cold"])
def test_w8_import_and_first_hold(benchmark: Any, warm_cache: bool) -> None:
    """``import omnistock`` and the first hold, no warmup (fresh process)."""
    samples = benchmark.pedantic(
        lambda: lifecycle.cold_start(False, warm_cache, 1), rounds=1, iterations=1
    )
    inside, wall = samples[0]
    assert 0 < inside <= wall


@pytest.mark.large
@pytest.mark.parametrize("warm_cache", [True, False], ids=["warm", "cold"])
def test_w8_with_warmup(benchmark: Any, warm_cache: bool) -> None:
    """``import omnistock; omnistock.warmup()`` and the first hold: the
    numba cache matters here (cold compiles every kernel)."""
    samples = benchmark.pedantic(
        lambda: lifecycle.cold_start(True, warm_cache, 1), rounds=1, iterations=1
    )
    assert samples[0][0] > 0


def w9_size(scale: str) -> tuple[int, int, int]:
    z = wl.SCALES[scale]
    return z["journal"], z["skus"], z["locs"]


@pytest.mark.parametrize(
    "scale", ["tiny", pytest.param(SCALE, marks=pytest.mark.large, id=f"large-{SCALE}")]
)
def test_w9_replay_and_snapshot_open(benchmark: Any, scale: str) -> None:
    n, skus, locs = w9_size(scale)
    r = benchmark.pedantic(lambda: lifecycle.replay_open(n, skus, locs), rounds=1, iterations=1)
    assert r["rows"] == n  # replay and the snapshot open agree (checked inside)


@pytest.mark.parametrize(
    "scale", ["tiny", pytest.param(SCALE, marks=pytest.mark.large, id=f"large-{SCALE}")]
)
def test_w9_sqlite_journal(benchmark: Any, scale: str) -> None:
    n, skus, locs = w9_size(scale)
    with tempfile.TemporaryDirectory(prefix="omnistock-bench-w9-") as d:
        r = benchmark.pedantic(
            lambda: lifecycle.replay_open_sqlite(n, skus, locs, d), rounds=1, iterations=1
        )
    assert r["rows"] == n


@pytest.mark.parametrize(
    "scale", ["tiny", pytest.param(SCALE, marks=pytest.mark.large, id=f"large-{SCALE}")]
)
def test_w10_bytes_per_position(scale: str) -> None:
    z = wl.SCALES[scale]
    r = lifecycle.bytes_per_position(z["w10_skus"], z["w10_locs"])
    # The ledger arrays are two int64 grids: exactly 16 bytes a position
    # when sized exactly (reserve_capacity, or a snapshot open).
    assert r["presized"] == 16.0
    assert r["snapshot"] == 16.0
    # Growing by doubling leaves slack, bounded by 4x (both dimensions).
    assert 16.0 <= r["replay"] <= 64.0


def test_journal_is_valid() -> None:
    """The synthetic journal replays into a ledger that passes check()."""
    from omnistock import Inventory

    store = lifecycle.GeneratedStore(5_000, 100, 10)
    inv = Inventory(store=store)
    report = inv.check()
    assert report.ok, report
