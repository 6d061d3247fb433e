"""Backordered holds through the face (issue 15, item 2): a smoke run of
``benchmarks.backorders`` that checks both phases ran, were timed and the
backorders waited on the PO."""

from __future__ import annotations

from . import backorders


def test_backorders_smoke() -> None:
    result = backorders.measure(n=40, rounds=2)
    for store in ("memory", "sqlite"):
        r = result["stores"][store]
        assert set(r["ops_per_s"]) == set(backorders.PHASES)
        assert all(v > 0 for v in r["ops_per_s"].values())
        assert r["cost_vs_hold"]["hold"] == 1.0
    assert "backorder" in backorders.table(result)
