"""The kernel compiler (``ledger.compiler``): the numba cache fallback and
a read-only install; and one worked example of ``apply_deltas``.

Each kernel against its naive reference: ``test_kernels_vs_naive.py``
(``reserve_lines`` and ``decide_batch``'s tests moved there, asserting what
they asserted, their inline references now in ``naive.py``).
"""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import numpy as np
import pytest

from omnistock.ledger import compiler, kernels

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def _grid(free: list[list[int]]) -> tuple[np.ndarray, np.ndarray]:
    f = np.array(free, dtype=np.int64)
    return f, np.zeros_like(f)


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
