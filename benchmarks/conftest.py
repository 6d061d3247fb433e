"""Helpers for the pytest-benchmark suite.

The repo's pytest config passes ``--benchmark-disable``, so a normal test run
runs each benchmark once (a smoke run that still checks results). Run them
for real with ``pytest benchmarks --benchmark-enable``; size the tests marked
``large`` with ``OMNISTOCK_BENCH_SCALE=tiny|small|full`` (default tiny).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import pytest

from .baselines import ServiceDown
from .harness import run_cleanup
from .workloads import scale_from_env

SCALE = scale_from_env()

Prepare = Callable[[list[Callable[[], None]]], Callable[[], int]]


def scales() -> list[Any]:
    """``tiny`` always, plus the env-sized run marked ``large``."""
    return ["tiny", pytest.param(SCALE, marks=pytest.mark.large, id=f"large-{SCALE}")]


def service_down(exc: ServiceDown, postgres: bool = False) -> None:
    if postgres and os.environ.get("OMNISTOCK_REQUIRE_PG"):
        pytest.fail(f"OMNISTOCK_REQUIRE_PG is set but PostgreSQL is down: {exc}")
    pytest.skip(f"service down: {exc}")


@pytest.fixture
def bench(benchmark: Any) -> Callable[..., int]:
    """``bench(prepare, rounds=3, postgres=False) -> successes``: time ``go()``
    with pytest-benchmark, each round on freshly loaded stock (``prepare`` is
    not timed). Skips when a service is down."""

    def run(prepare: Prepare, rounds: int = 3, postgres: bool = False) -> int:
        cleanup: list[Callable[[], None]] = []

        def setup() -> tuple[tuple[Any, ...], dict[str, Any]]:
            run_cleanup(cleanup)
            return (prepare(cleanup),), {}

        try:
            result: int = benchmark.pedantic(
                lambda go: go(), setup=setup, rounds=rounds, iterations=1
            )
        except ServiceDown as exc:
            service_down(exc, postgres)
            raise
        finally:
            run_cleanup(cleanup)
        return result

    return run
