"""Kernels against plain-Python references, and the numba cache fallback."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from omnistock.ledger import compiler, kernels

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def _grid(free: list[list[int]]) -> tuple[np.ndarray, np.ndarray]:
    f = np.array(free, dtype=np.int64)
    return f, np.zeros_like(f)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 2), st.integers(0, 2), st.integers(1, 5)), max_size=40),
    st.lists(st.integers(0, 6), min_size=9, max_size=9),
)
def test_reserve_lines_matches_python(lines: list[tuple[int, int, int]], stock: list[int]) -> None:
    free, reserved = _grid([stock[0:3], stock[3:6], stock[6:9]])
    s = np.array([a for a, _, _ in lines], dtype=np.int64)
    loc = np.array([b for _, b, _ in lines], dtype=np.int64)
    qty = np.array([q for _, _, q in lines], dtype=np.int64)
    ok = np.zeros(len(lines), dtype=np.uint8)
    n = kernels.reserve_lines(s, loc, qty, free, reserved, ok)
    ref = [[0] * 3 for _ in range(3)]
    expect = []
    for a, b, q in lines:
        good = free[a, b] - ref[a][b] >= q
        if good:
            ref[a][b] += q
        expect.append(int(good))
    assert list(ok) == expect
    assert n == sum(expect)
    assert reserved.tolist() == ref
    assert (reserved <= free).all()


# A line: (sku, location, qty); -1 is an unknown SKU or location, and
# location 2 exists but is not served.
LINE = st.tuples(st.integers(-1, 1), st.integers(-1, 2), st.integers(1, 4))


@settings(max_examples=150, deadline=None)
@given(
    st.lists(st.lists(LINE, min_size=1, max_size=4), max_size=15),
    st.lists(st.integers(0, 6), min_size=6, max_size=6),
)
def test_hold_block_decides_orders_as_hold_would(orders: list[list[Any]], stock: list[int]) -> None:
    """Each order in turn: its first unusable line names its status (2
    unknown SKU, 3 unknown location, 4 not served), else all its lines are
    reserved or none (0), against a reference that sees the orders before."""
    free, reserved = _grid([stock[0:3], stock[3:6]])
    flat = [line for o in orders for line in o]
    start = np.array([0, *np.cumsum([len(o) for o in orders])], dtype=np.int64)
    s = np.array([a for a, _, _ in flat], dtype=np.int64)
    loc = np.array([b for _, b, _ in flat], dtype=np.int64)
    qty = np.array([q for _, _, q in flat], dtype=np.int64)
    served = np.array([1, 1, 0], dtype=np.uint8)
    status = np.full(len(orders), 9, dtype=np.int8)
    line_held = np.full(len(flat), 9, dtype=np.uint8)
    n = kernels.decide_batch(start, s, loc, qty, served, free, reserved, status, line_held)
    ref = [[0, 0, 0], [0, 0, 0]]
    want_status, want_lines = [], []
    for o in orders:
        code = 0
        for a, b, _ in o:
            code = 2 if a < 0 else 3 if b < 0 else 4 if b == 2 else 0
            if code:
                break
        if not code:
            need: dict[tuple[int, int], int] = {}
            for a, b, q in o:
                need[(a, b)] = need.get((a, b), 0) + q
            good = all(free[a, b] - ref[a][b] >= q for (a, b), q in need.items())
            code = 1 if good else 0
            if good:
                for (a, b), q in need.items():
                    ref[a][b] += q
        want_status.append(code)
        want_lines += [int(code == 1)] * len(o)
    assert status.tolist() == want_status
    assert line_held.tolist() == want_lines
    assert n == want_status.count(1)
    assert reserved.tolist() == ref


def test_apply_deltas() -> None:
    free, reserved = _grid([[5, 0, 2]])
    kernels.apply_deltas(
        np.array([0, 0], dtype=np.int64),
        np.array([1, 2], dtype=np.int64),
        np.array([3, -4], dtype=np.int64),
        np.array([1, 0], dtype=np.int64),
        free,
        reserved,
    )
    assert free.tolist() == [[5, 3, -2]]
    assert reserved.tolist() == [[0, 1, 0]]


def test_cache_fallback_when_numba_cannot_cache() -> None:
    calls: list[dict[str, Any]] = []

    def fake_njit(signature: str, **options: Any) -> Any:
        calls.append(options)
        if options["cache"]:
            raise RuntimeError("cannot cache function 'f': no locator available for file")
        return lambda fn: fn

    fn, cached = compiler.compile_kernel(lambda: 1, "int64()", njit=fake_njit)
    assert not cached
    assert [c["cache"] for c in calls] == [True, False]
    assert fn() == 1


def test_other_runtime_errors_are_not_swallowed() -> None:
    def broken(signature: str, **options: Any) -> Any:
        raise RuntimeError("something else")

    with pytest.raises(RuntimeError, match="something else"):
        compiler.compile_kernel(lambda: 1, "int64()", njit=broken)


def test_read_only_install_still_runs(tmp_path: Any) -> None:
    """A copy of the package in a read-only directory, with NUMBA_CACHE_DIR
    pointing where no directory can be made, still compiles and runs its
    kernels. (Running as root, numba may still cache in-tree; otherwise this
    takes the uncached fallback.)"""
    import os
    import shutil

    import omnistock

    site = tmp_path / "site"
    shutil.copytree(
        os.path.dirname(omnistock.__file__),
        site / "omnistock",
        ignore=shutil.ignore_patterns("__pycache__"),
    )
    (tmp_path / "not-a-dir").write_text("a file, so no cache directory fits under it")
    for root, _dirs, files in os.walk(site):
        for name in files:
            os.chmod(os.path.join(root, name), 0o444)
        os.chmod(root, 0o555)
    code = (
        "import numpy as np, omnistock; from omnistock.ledger import kernels, compiler;"
        "n = omnistock.warmup();"
        "f = np.ones((2, 2), dtype=np.int64); r = np.zeros_like(f);"
        "ok = np.zeros(1, dtype=np.uint8);"
        "one = np.ones(1, dtype=np.int64); zero = np.zeros(1, dtype=np.int64);"
        "print(n, kernels.reserve_lines(zero, zero, one, f, r, ok), int(r[0, 0]),"
        " all(k.cached for k in compiler._registry))"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("NUMBA_")}
    env["NUMBA_CACHE_DIR"] = str(tmp_path / "not-a-dir" / "cache")
    env["PYTHONPATH"] = str(site)
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    try:
        out = subprocess.run(
            [sys.executable, "-c", code],
            capture_output=True,
            text=True,
            env=env,
            cwd=tmp_path,
            timeout=300,
        )
        assert out.returncode == 0, out.stderr
        n, reserved_ok, reserved_units, all_cached = out.stdout.split()
        assert int(n) >= 4
        assert (reserved_ok, reserved_units) == ("1", "1")
        if os.geteuid() != 0:
            assert all_cached == "False"
    finally:
        for root, _dirs, _files in os.walk(site):
            os.chmod(root, 0o755)
