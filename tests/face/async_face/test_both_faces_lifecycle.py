"""The lifecycle facts of ``tests/face/test_lifecycle.py``, unchanged, through
the sync face and the async face (``async_face_support.SyncFace``), on
memory and SQLite: the async face keeps every fact the sync one does."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from async_face_support import FACE_IDS, FACES, faces  # puts tests/face on sys.path
from conftest import Clock

# isort: split
from test_lifecycle import (  # noqa: F401  (the facts, collected here again per face)
    network,
    test_a_corrupt_snapshot_falls_back_to_a_full_replay,
    test_a_hold_expires_by_the_clock_and_gives_its_units_back,
    test_a_repeated_key_returns_the_first_result_and_changes_nothing,
    test_a_sale_beyond_reservations_names_the_newest_first,
    test_at_gives_past_figures_by_seq_and_time,
    test_channel_buffer_lowers_channel_figure_and_refuses_holds_beyond,
    test_check_passes_after_a_mixed_workload,
    test_collect_a_pickup_order,
    test_counting_to_zero_reports_the_shortage,
    test_explain_terms_add_up_and_a_short_location_does_not_drag,
    test_extend_moves_expiry,
    test_hold_commit_ship_whole,
    test_promise_uses_dated_supply_when_stock_is_short,
    test_release_gives_units_back,
    test_resize_checks_only_the_delta,
    test_safety_stock_lowers_atp_not_on_hand,
    test_ship_partial_then_rest,
    test_snapshot_then_reopen_on_the_same_memory_store,
    test_unsellable_states_leave_atp_and_come_back,
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
    return network(make_inventory())
