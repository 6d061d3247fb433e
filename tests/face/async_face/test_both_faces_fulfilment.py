"""The BOPIS facts of ``tests/face/fulfilment/test_face_bopis.py`` and the
ring-fence facts of ``tests/face/test_ringfence.py``, unchanged, through the
sync face and the async face, on memory and SQLite."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from async_face_support import FACE_IDS, FACES, faces  # puts tests/face on sys.path
from conftest import Clock
from omnistock import Channel, Location

# isort: split
from test_face_bopis import (  # noqa: F401  (the facts, collected here again per face)
    test_a_location_without_pickup_is_never_offered,
    test_a_transferred_pickup_window_runs_from_ready_at,
    test_a_zero_stock_pickup_store_is_never_suggested,
    test_an_expired_pickup_window_returns_stock,
    test_nothing_anywhere_is_unfillable_with_the_reason,
    test_pickup_store_has_it_reserved_there,
    test_short_pickup_store_transfers_in_ready_after_transfer_hours,
    test_suggest_fallback_names_the_nearest_stores_first_with_distances,
    test_suggestions_are_stores_that_serve_the_whole_order,
    test_transfer_radius_limits_the_sources,
    test_transfer_then_suggest_in_policy_order,
)
from test_ringfence import (  # noqa: F401
    test_a_cap_bounds_open_promises_and_frees_on_release,
    test_a_consumed_minimum_no_longer_holds_stock_back,
    test_a_marketplace_cannot_drain_the_store_floor,
    test_fences_survive_reopen_and_replay,
)


@pytest.fixture(params=FACES, ids=FACE_IDS)
def make_inventory(
    request: pytest.FixtureRequest, clock: Clock, tmp_path: Path
) -> Iterator[Callable[..., Any]]:
    kind, store = request.param
    with faces(kind, store, clock, tmp_path) as make:
        yield make


@pytest.fixture
def inv(make_inventory: Callable[..., Any]) -> Any:
    """The ring-fence facts' network (``test_ringfence.inv``, opened here on
    the face under test): store S with 10 of A, warehouse W, channels pos
    (S only, minimum 3), marketplace (buffer 1) and web (cap 4)."""
    face = make_inventory()
    face.add_location(Location("S", kind="store"))
    face.add_location(Location("W", kind="warehouse"))
    face.add_channel(Channel("pos", locations=["S"], minimum=3))
    face.add_channel(Channel("marketplace", buffer=1))
    face.add_channel(Channel("web", cap=4))
    face.receive("A", "S", 10)
    return face
