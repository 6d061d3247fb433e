"""The PostgreSQL append's payload (``storage.postgres.payload``): a
one-line hold's argument built with orjson (the ``postgres`` extra) and
with the standard library, side by side in one group, so the report gives
their ratio. Both must give the same JSON value.

    pytest benchmarks/test_bench_payload.py --benchmark-enable
"""

from __future__ import annotations

import json
from typing import Any

import pytest

pytest.importorskip("psycopg", reason="psycopg 3 is not installed (omnistock[postgres])")

from omnistock.storage.base import Commit, Conditions
from omnistock.storage.postgres import payload


def _hold() -> tuple[list[Commit], Conditions]:
    """A one-line hold's commit and conditions, as the face builds them."""
    data = '{"exp":1796283640735215,"order":"o-1"}'
    row = (1796282740735215, "held", "sku-1", "store-a", 1, "o-1#1", None, None, data)
    cond = Conditions(
        positions=(("sku-1", "store-a", (0, 1, 0, 0), 0, None),),
        reservations=(("o-1#1", None, ("held", "9a8d332120c257b3", 1796283640735215)),),
        planned=1,
    )
    return [Commit((row,))], cond


@pytest.mark.parametrize("encoder", ["orjson", "json"])
def test_bench_hold_payload(benchmark: Any, encoder: str, monkeypatch: pytest.MonkeyPatch) -> None:
    benchmark.group = "append payload, one-line hold"
    commits, cond = _hold()
    want = json.loads(payload.append_payload(commits, cond))
    if encoder == "json":
        monkeypatch.setattr(payload, "_orjson", None)
    elif payload._orjson is None:
        pytest.skip("orjson is not installed (omnistock[postgres] brings it)")
    got = benchmark(payload.append_payload, commits, cond)
    assert json.loads(got) == want
