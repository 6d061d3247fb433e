"""Ring-fencing rule of omnistock.ledger.pools: examples and properties."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from omnistock.ledger.pools import Fence, channel_figure, figures, figures_array, unconsumed


def test_store_floor_is_protected_from_marketplace() -> None:
    fences = {"pos": Fence(minimum=4), "marketplace": Fence(buffer=1), "web": Fence(cap=3)}
    figs = figures({"pos": 10, "marketplace": 10, "web": 10}, fences)
    assert figs == {"pos": 10, "marketplace": 5, "web": 3}
    # stock below the fence: the fence owner gets it all, others nothing
    figs = figures({"pos": 3, "marketplace": 3, "web": 3}, fences)
    assert figs == {"pos": 3, "marketplace": 0, "web": 0}


def test_consumed_minimum_frees_the_fence() -> None:
    # pos already holds 4 of its 4-unit minimum: nothing more is set aside
    fences = {"pos": Fence(minimum=4, used=4), "marketplace": Fence()}
    assert figures({"pos": 6, "marketplace": 6}, fences) == {"pos": 6, "marketplace": 6}
    assert unconsumed(Fence(minimum=4, used=6)) == 0


def test_cap_counts_outstanding_units() -> None:
    assert channel_figure(100, Fence(cap=10, used=7), 0) == 3
    assert channel_figure(100, Fence(cap=10, used=12), 0) == 0


def test_no_fences_reduce_to_plain_channel_formula() -> None:
    assert channel_figure(10, Fence(buffer=2, cap=5), 0) == 5
    assert channel_figure(1, Fence(buffer=2), 0) == 0
    assert channel_figure(-5, Fence(), 0) == 0


def test_fence_rejects_bad_terms() -> None:
    with pytest.raises(ValueError):
        Fence(minimum=-1)
    with pytest.raises(ValueError):
        Fence(cap=-1)


fence_st = st.builds(
    Fence,
    minimum=st.integers(0, 30),
    cap=st.none() | st.integers(0, 60),
    buffer=st.integers(0, 5),
    used=st.just(0),
)


@settings(max_examples=300, deadline=None)
@given(
    stock=st.integers(0, 100),
    fences=st.lists(fence_st, min_size=1, max_size=5),
    takes=st.lists(st.tuples(st.integers(0, 4), st.integers(1, 40)), max_size=40),
)
def test_takes_never_exceed_stock(
    stock: int, fences: list[Fence], takes: list[tuple[int, int]]
) -> None:
    names = [f"c{i}" for i in range(len(fences))]
    fs = dict(zip(names, fences, strict=True))
    left, total = stock, 0
    for who, want in takes:
        c = names[who % len(names)]
        figs = figures(dict.fromkeys(names, left), fs)
        for v in figs.values():
            assert 0 <= v <= left
        t = min(want, figs[c])
        left -= t
        total += t
        f = fs[c]
        fs[c] = Fence(f.minimum, f.cap, f.buffer, f.used + t)
    assert total <= stock
    assert left >= 0


@settings(max_examples=300, deadline=None)
@given(
    fences=st.lists(fence_st, min_size=2, max_size=5),
    extra=st.integers(0, 50),
    takes=st.lists(st.tuples(st.integers(1, 4), st.integers(1, 40)), max_size=40),
)
def test_minimum_always_available_while_stock_allows(
    fences: list[Fence], extra: int, takes: list[tuple[int, int]]
) -> None:
    names = [f"c{i}" for i in range(len(fences))]
    fs = dict(zip(names, fences, strict=True))
    stock = sum(f.minimum for f in fences) + extra  # the stock covers every minimum
    protected = names[0]
    for who, want in takes:  # every channel but the protected one takes what it may
        c = names[1 + (who - 1) % (len(names) - 1)]
        figs = figures(dict.fromkeys(names, stock), fs)
        f0 = fs[protected]
        room = None if f0.cap is None else f0.cap
        floor = max(0, f0.minimum - f0.buffer)
        assert figs[protected] >= (floor if room is None else min(floor, room))
        t = min(want, figs[c])
        stock -= t
        f = fs[c]
        fs[c] = Fence(f.minimum, f.cap, f.buffer, f.used + t)
    # whatever happened, the protected channel can still take its whole minimum
    assert stock >= fs[protected].minimum


@settings(max_examples=200, deadline=None)
@given(stock=st.lists(st.integers(-5, 100), min_size=1, max_size=30), f=fence_st, data=st.data())
def test_vectorised_matches_scalar(stock: list[int], f: Fence, data: st.DataObject) -> None:
    n = len(stock)
    used = data.draw(st.lists(st.integers(0, 20), min_size=n, max_size=n))
    aside = data.draw(st.lists(st.integers(0, 50), min_size=n, max_size=n))
    got = figures_array(
        np.array(stock, np.int64),
        f.minimum,
        f.buffer,
        f.cap,
        np.array(used, np.int64),
        np.array(aside, np.int64),
    )
    want = [
        channel_figure(s, Fence(f.minimum, f.cap, f.buffer, u), a)
        for s, u, a in zip(stock, used, aside, strict=True)
    ]
    assert got.tolist() == want
