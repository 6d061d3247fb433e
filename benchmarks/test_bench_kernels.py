"""Batch reservations (W1, W2, W3, W5) and atomic orders (W4): omnistock's
kernels against a pure-Python dict ledger and the array read-modify-write
memory limit. Every benchmark checks its success count against the dict
ledger's, computed untimed on the same stream."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from . import omni
from . import workloads as wl
from .baselines import array_rmw, dict_ledger
from .conftest import scales


@pytest.fixture(scope="module", autouse=True)
def _warm() -> None:
    omni.warm()
    array_rmw.warm()


def expected(w: wl.Workload) -> int:
    if w.start is not None:
        return dict_ledger.prepare_orders(w)()
    return dict_ledger.prepare_lines(w)()


@pytest.mark.parametrize("scale", scales())
@pytest.mark.parametrize("name", ["W1", "W2", "W3", "W5"])
def test_kernel_reserve_lines(bench: Callable[..., int], name: str, scale: str) -> None:
    w = wl.make(name, scale)
    want = expected(w)
    assert 0 < want < w.n  # the workload refuses some and grants some
    assert bench(lambda c: omni.prepare_kernel_lines(w), rounds=5) == want


@pytest.mark.parametrize("scale", scales())
@pytest.mark.parametrize("name", ["W1", "W3"])
def test_array_rmw_limit(bench: Callable[..., int], name: str, scale: str) -> None:
    w = wl.make(name, scale)
    assert bench(lambda c: array_rmw.prepare_lines(w), rounds=5) == expected(w)


@pytest.mark.parametrize("scale", scales())
@pytest.mark.parametrize("name", ["W1", "W3"])
def test_dict_ledger(bench: Callable[..., int], name: str, scale: str) -> None:
    w = wl.make(name, scale)
    assert bench(lambda c: dict_ledger.prepare_lines(w), rounds=3) == omni.prepare_kernel_lines(w)()


@pytest.mark.parametrize("scale", scales())
def test_kernel_hold_block_orders(bench: Callable[..., int], scale: str) -> None:
    w = wl.make("W4", scale)
    want = expected(w)
    assert 0 < want < w.n
    assert bench(lambda c: omni.prepare_kernel_orders(w), rounds=5) == want


@pytest.mark.parametrize("scale", scales())
def test_dict_ledger_orders(bench: Callable[..., int], scale: str) -> None:
    w = wl.make("W4", scale)
    assert (
        bench(lambda c: dict_ledger.prepare_orders(w), rounds=3) == omni.prepare_kernel_orders(w)()
    )


def test_kernels_leave_the_same_ledger() -> None:
    """Not only the counts: the kernel and the dict ledger reserve the same
    units at the same positions."""
    import numpy as np

    w = wl.make("W1", "tiny")
    led = dict_ledger.DictLedger()
    led.load(w)
    led.reserve_lines(w.s.tolist(), w.l.tolist(), w.qty.tolist())
    from omnistock.ledger.kernels import reserve_lines

    free = w.stock.copy()
    reserved = np.zeros_like(free)
    reserve_lines(w.s, w.l, w.qty, free, reserved, np.empty(w.n, dtype=np.uint8))
    for (s, l), (_, r) in led.pos.items():
        assert reserved[s, l] == r
