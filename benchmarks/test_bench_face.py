"""Single-line holds through the face (``Inventory.hold``) on memory://,
sqlite:/// and postgresql:// (one transaction per command), and group
commit (``Inventory.hold_many``). Counts are checked against the dict ledger
on the same stream."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from . import omni
from . import workloads as wl
from .baselines import dict_ledger
from .conftest import scales


def stream(name: str, scale: str, key: str) -> wl.Workload:
    n = wl.SCALES[scale][key]
    return wl.make(name, scale, n=n) if name == "W5" else wl.make(name, scale).head(n)


@pytest.mark.parametrize("scale", scales())
@pytest.mark.parametrize("name", ["W1", "W3", "W5"])
def test_face_hold_memory(bench: Callable[..., int], name: str, scale: str) -> None:
    w = stream(name, scale, "face_memory")
    assert bench(lambda c: omni.prepare_face(w, "memory", c)) == dict_ledger.prepare_lines(w)()


@pytest.mark.parametrize("scale", scales())
@pytest.mark.parametrize("name", ["W1", "W5"])
def test_face_hold_sqlite(bench: Callable[..., int], name: str, scale: str) -> None:
    w = stream(name, scale, "face_durable")
    assert bench(lambda c: omni.prepare_face(w, "sqlite", c)) == dict_ledger.prepare_lines(w)()


@pytest.mark.parametrize("scale", scales())
@pytest.mark.parametrize("name", ["W1", "W5"])
def test_face_hold_many_sqlite(bench: Callable[..., int], name: str, scale: str) -> None:
    w = stream(name, scale, "face_durable")
    assert (
        bench(lambda c: omni.prepare_face(w, "sqlite", c, group=True))
        == dict_ledger.prepare_lines(w)()
    )


@pytest.mark.postgres
@pytest.mark.parametrize("scale", scales())
@pytest.mark.parametrize("group", [False, True], ids=["hold", "hold_many"])
def test_face_postgres(bench: Callable[..., int], group: bool, scale: str) -> None:
    w = stream("W5", scale, "face_durable")
    assert (
        bench(lambda c: omni.prepare_face(w, "postgres", c, group=group), postgres=True)
        == dict_ledger.prepare_lines(w)()
    )


@pytest.mark.parametrize("scale", scales())
def test_face_orders_memory(bench: Callable[..., int], scale: str) -> None:
    """W4 through the face: multi-line orders, all-or-nothing."""
    w = wl.make("W4", scale).head(wl.SCALES[scale]["face_memory"] // 3)
    assert bench(lambda c: omni.prepare_face(w, "memory", c)) == dict_ledger.prepare_orders(w)()
