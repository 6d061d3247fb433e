"""The bad-input table of ``tests/face/test_bad_input.py`` (every case that
calls the face), through the sync face and the async face, on memory and
SQLite: the same typed error naming the field and value, and the ledger and
journal exactly as they were."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from async_face_support import FACE_IDS, FACES, faces  # puts tests/face on sys.path
from conftest import Clock, World

# isort: split
from test_bad_input import CASES, Call
from test_bad_input import test_bad_input_is_refused_and_changes_nothing as refused_unchanged

# The cases that go through ``w.inv`` (the others build a value and never reach a face).
FACE_CASES = [c for c in CASES if "inv" in c[1].__code__.co_names]


@pytest.fixture(params=FACES, ids=FACE_IDS)
def make_inventory(
    request: pytest.FixtureRequest, clock: Clock, tmp_path: Path
) -> Iterator[Callable[..., Any]]:
    kind, store = request.param
    with faces(kind, store, clock, tmp_path) as make:
        yield make


@pytest.mark.parametrize(
    ("call", "error", "text"), [c[1:] for c in FACE_CASES], ids=[c[0] for c in FACE_CASES]
)
def test_bad_input_is_refused_by_each_face_and_changes_nothing(
    world: World, tmp_path: Path, call: Call, error: type[Exception], text: str
) -> None:
    refused_unchanged(world, tmp_path, call, error, text)


def test_most_of_the_table_goes_through_the_face() -> None:
    assert len(FACE_CASES) >= 60
    assert len(FACE_CASES) < len(CASES)  # the value constructors are left out
