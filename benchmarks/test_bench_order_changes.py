"""Order changes through the face (issue 15): a smoke run of
``benchmarks.order_changes`` that checks every phase ran and was timed."""

from __future__ import annotations

from . import order_changes


def test_order_changes_smoke() -> None:
    result = order_changes.measure(n=40, rounds=2)
    for store in ("memory", "sqlite"):
        r = result["stores"][store]
        assert set(r["ops_per_s"]) == set(order_changes.PHASES)
        assert all(v > 0 for v in r["ops_per_s"].values())
        assert r["vs_hold"]["hold"] == 1.0
    assert "release_lines" in order_changes.table(result)
