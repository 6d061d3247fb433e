"""Smoke run of benchmarks/validation.py (no timing asserted): on a small
fuzz corpus, every candidate accepts and refuses exactly the payloads the
hand-written checks did, so the timings compare like with like."""

from __future__ import annotations

import pytest

pytest.importorskip("pydantic")

from .validation import agreement, corpus, measure, split


def test_candidates_agree_with_the_hand_written_checks() -> None:
    bodies = corpus(60)
    valid, invalid = split(bodies)
    assert len(valid) >= 10 and len(invalid) >= 50
    for name, diff in agreement(bodies).items():
        assert diff["verdict_differs"] == 0, name


def test_measure_reports_every_candidate() -> None:
    valid, invalid = split(corpus(20))
    medians = measure(valid, invalid, rounds=1)
    assert set(medians) == {
        "handwritten",
        "msgspec",
        "msgspec-convert",
        "pydantic",
        "pydantic-python",
    }
    assert all(m["valid"] > 0 and m["invalid"] > 0 for m in medians.values())
