"""The durable baselines (W6): SQLite conditional UPDATE, PostgreSQL
(autocommit, set-based unnest, SELECT FOR UPDATE) and Redis Lua. Each must
agree with the dict ledger on the number of successful reservations.
Services that are down are skipped."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable

import pytest

from . import workloads as wl
from .baselines import dict_ledger, postgres_update, redis_lua, sqlite_update
from .conftest import scales


def stream(name: str, scale: str) -> wl.Workload:
    n = wl.SCALES[scale]["service"]
    return wl.make(name, scale, n=n) if name == "W5" else wl.make(name, scale).head(n)


def sqlite_prep(w: wl.Workload, batched: bool) -> Callable[..., Callable[[], int]]:
    def prep(cleanup: list[Callable[[], None]]) -> Callable[[], int]:
        d = tempfile.mkdtemp(prefix="omnistock-bench-sql-")
        cleanup.append(lambda: shutil.rmtree(d, ignore_errors=True))
        return sqlite_update.prepare(w, os.path.join(d, "stock.db"), batched, cleanup)

    return prep


@pytest.mark.parametrize("scale", scales())
@pytest.mark.parametrize("name", ["W1", "W5"])
@pytest.mark.parametrize("batched", [False, True], ids=["each", "batched"])
def test_sqlite_update(bench: Callable[..., int], name: str, batched: bool, scale: str) -> None:
    w = stream(name, scale)
    assert bench(sqlite_prep(w, batched)) == dict_ledger.prepare_lines(w)()


@pytest.mark.postgres
@pytest.mark.parametrize("scale", scales())
@pytest.mark.parametrize("name", ["W1", "W5"])
@pytest.mark.parametrize("how", ["autocommit", "unnest", "for_update"])
def test_postgres_update(bench: Callable[..., int], name: str, how: str, scale: str) -> None:
    w = stream(name, scale)
    assert (
        bench(lambda c: postgres_update.prepare(w, how, c), postgres=True)
        == dict_ledger.prepare_lines(w)()
    )


@pytest.mark.parametrize("scale", scales())
@pytest.mark.parametrize("name", ["W1", "W5"])
@pytest.mark.parametrize("pipelined", [False, True], ids=["each", "pipelined"])
def test_redis_lua(bench: Callable[..., int], name: str, pipelined: bool, scale: str) -> None:
    w = stream(name, scale)
    assert bench(lambda c: redis_lua.prepare(w, pipelined, c)) == dict_ledger.prepare_lines(w)()


def test_unnest_runs_have_no_repeated_position() -> None:
    s = [1, 2, 1, 3, 3, 4]
    l = [0, 0, 0, 0, 0, 0]
    runs = postgres_update.runs(s, l, 0, len(s))
    assert runs == [(0, 2), (2, 4), (4, 6)]
    for a, b in runs:
        ps = list(zip(s[a:b], l[a:b], strict=True))
        assert len(set(ps)) == len(ps)
