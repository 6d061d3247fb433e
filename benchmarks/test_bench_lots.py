"""Holds through the face on a lotted SKU beside a plain SKU (issue 16.3,
``benchmarks/lots.py``): each variant holds the same single-line orders on
``memory://``; the count of holds is checked, not the time."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from .lots import VARIANTS, prepare


@pytest.mark.parametrize("variant", VARIANTS)
def test_face_hold_lotted_memory(bench: Callable[..., int], variant: str) -> None:
    holds = 300

    def prep(cleanup: list[Callable[[], None]]) -> Callable[[], int]:
        inv, run = prepare(variant, 0, holds)
        cleanup.append(inv.close)
        return run

    assert bench(prep) == holds
