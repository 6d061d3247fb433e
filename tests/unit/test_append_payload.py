"""The PostgreSQL append's payload (``storage.postgres.payload.append_payload``)
is the same JSON value whichever encoder builds it (orjson from the
``postgres`` extra, or the standard library without it), and what cannot
be stored is ``InvalidInput`` either way. No server needed."""

from __future__ import annotations

import json
from typing import Any

import pytest

pytest.importorskip("psycopg", reason="psycopg 3 is not installed (omnistock[postgres])")

from omnistock.errors import InvalidInput
from omnistock.storage.base import Commit, Conditions
from omnistock.storage.postgres import payload as pg_store


def _commits() -> list[Commit]:
    data = json.dumps({"exp": 2_000_000, "order": "o-é"})
    return [
        Commit(((1, "held", "sku-ü", "L1", 3, "o-é#1", None, None, data),)),
        Commit(((2, "received", "X", "L1", 2**62, None, "web", None, None),), "k", "fp", "{}"),
    ]


def _cond() -> Conditions:
    return Conditions(
        positions=(
            ("sku-ü", "L1", (0, 3, 0, 0), 0, None),
            ("X", "L1", (5, 0, 0, 0), None, (1, 2, 3, 4)),
        ),
        reservations=(("o-é#1", None, ("held", "ab", 2_000_000)),),
        usage=(("c|web|X", 1, 7),),
        claims=("~sku:X",),
        network=("a", "b"),
        planned=9,
    )


@pytest.fixture(params=["orjson", "json"])
def encoder(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    if request.param == "json":
        monkeypatch.setattr(pg_store, "_orjson", None)
    elif pg_store._orjson is None:
        pytest.skip("orjson is not installed (omnistock[postgres] brings it)")
    return str(request.param)


def test_either_encoder_gives_the_same_json_value(
    encoder: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    got = json.loads(pg_store.append_payload(_commits(), _cond()))
    monkeypatch.setattr(pg_store, "_orjson", None)
    assert got == json.loads(pg_store.append_payload(_commits(), _cond()))
    assert got["r"][0][2] == "sku-ü" and got["k"] == [["k", "fp", "{}", 2]]
    assert got["pos"][1] == ["X", "L1", 5, 0, 0, 0, 2, 0, 1, 2, 3, 4]


BAD: list[tuple[str, Any]] = [
    ("a set in a row", ((1, "held", "X", "L1", {1}, None, None, None, None),)),
    ("an object in a row", ((1, "held", "X", "L1", 1, None, None, None, object()),)),
    ("a lone surrogate", ((1, "held", "X\ud800", "L1", 1, None, None, None, None),)),
]


@pytest.mark.parametrize(("what", "rows"), BAD, ids=[b[0] for b in BAD])
def test_what_cannot_be_stored_is_invalid_input(encoder: str, what: str, rows: Any) -> None:
    with pytest.raises(InvalidInput) as e:
        pg_store.append_payload([Commit(rows)], Conditions())
    assert "row" in str(e.value) or "commits" in str(e.value)
