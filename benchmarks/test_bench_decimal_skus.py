"""Holds through the face on a SKU with decimals beside a plain SKU
(``benchmarks.decimal_skus``): pytest-benchmark times each variant, and a
smoke run checks the script measured every variant."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from . import decimal_skus


@pytest.mark.parametrize("variant", decimal_skus.VARIANTS)
def test_decimal_sku_holds(benchmark: Any, variant: str) -> None:
    rounds: list[int] = []

    def setup() -> tuple[tuple[Callable[[], int]], dict[str, Any]]:
        _inv, run = decimal_skus.prepare(variant, len(rounds), 200)
        rounds.append(1)
        return (run,), {}

    held = benchmark.pedantic(lambda run: run(), setup=setup, rounds=3, iterations=1)
    assert held == 200


def test_decimal_skus_smoke() -> None:
    result = decimal_skus.measure(rounds=2, holds=40)
    assert set(result["vs_plain"]) == set(decimal_skus.VARIANTS)
    assert result["vs_plain"]["plain"] == 1.0
    assert all(v > 0 for v in result["median_s"].values())
    assert "decimal" in decimal_skus.table(result)
