"""A few facts through both faces on PostgreSQL (skipped with the reason
when no server answers at ``OMNISTOCK_PG_DSN``; failed under
``OMNISTOCK_REQUIRE_PG=1``): lifecycle, keys, BOPIS, a channel's fence."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from async_face_support import FACE_KINDS, faces  # puts tests/face on sys.path
from conftest import Clock

# isort: split
from test_face_bopis import (  # noqa: F401  (the facts, collected here again per face)
    test_pickup_store_has_it_reserved_there,
    test_short_pickup_store_transfers_in_ready_after_transfer_hours,
)
from test_lifecycle import (  # noqa: F401
    network,
    test_a_hold_expires_by_the_clock_and_gives_its_units_back,
    test_a_repeated_key_returns_the_first_result_and_changes_nothing,
    test_channel_buffer_lowers_channel_figure_and_refuses_holds_beyond,
    test_check_passes_after_a_mixed_workload,
    test_hold_commit_ship_whole,
)

pytestmark = pytest.mark.postgres


@pytest.fixture(params=FACE_KINDS, ids=[f"{k}-postgresql" for k in FACE_KINDS])
def make_inventory(
    request: pytest.FixtureRequest, clock: Clock, tmp_path: Path
) -> Iterator[Callable[..., Any]]:
    with faces(request.param, "postgresql", clock, tmp_path) as make:
        yield make


@pytest.fixture
def inv(make_inventory: Callable[..., Any]) -> Any:
    return network(make_inventory())
