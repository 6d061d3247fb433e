"""Kit holds through the face (issue 16): a hold of a kit of 3 components
beside a plain SKU's hold, on ``memory://``, with pytest-benchmark, and a
smoke run of ``benchmarks.kits`` that checks every variant ran and was
timed (``python -m benchmarks.kits`` reports the ratio to the plain hold)."""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from . import kits

HOLDS = 200


@pytest.mark.parametrize("variant", kits.VARIANTS)
def test_kit_hold_memory(bench: Callable[..., int], variant: str) -> None:
    """``HOLDS`` single-line holds of ``variant``; every one is reserved."""
    tmp = Path(tempfile.mkdtemp(prefix="omnistock-bench-kits-"))
    n = [0]

    def prepare(cleanup: list[Callable[[], None]]) -> Callable[[], int]:
        n[0] += 1
        inv, run = kits.prepare(variant, "memory", tmp, n[0], HOLDS)
        cleanup.append(inv.close)
        return run

    assert bench(prepare) == HOLDS


def test_kits_smoke() -> None:
    result: dict[str, Any] = kits.measure(rounds=2, holds=40)
    assert set(result["median_s"]) == set(kits.VARIANTS)
    assert all(v > 0 for v in result["median_s"].values())
    assert result["vs_plain"]["plain"] == 1.0
    assert "kit of 3" in kits.table(result)
