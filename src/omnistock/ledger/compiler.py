"""The one place that owns numba options.

Kernels are compiled lazily, on first call or by ``omnistock.warmup()``, so
``import omnistock`` does not import numba (about 0.4 s) and a process that
only does single-line work never pays for it. Each kernel has an explicit
signature and is compiled with ``cache=True``; when numba cannot cache (a
read-only install with no usable ``NUMBA_CACHE_DIR``), it compiles without a
cache instead of failing.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

OPTIONS: dict[str, Any] = {"cache": True, "nogil": True, "boundscheck": False}

_registry: list[Kernel] = []


class Kernel:
    """A lazily compiled ``@njit`` function with a fixed signature."""

    __slots__ = ("_fn", "_lock", "cached", "py_func", "signature")

    def __init__(self, py_func: Callable[..., Any], signature: str) -> None:
        self.py_func = py_func
        self.signature = signature
        self._fn: Callable[..., Any] | None = None
        self._lock = threading.Lock()
        self.cached: bool | None = None

    def compiled(self) -> Callable[..., Any]:
        fn = self._fn
        if fn is None:
            with self._lock:
                if self._fn is None:
                    self._fn, self.cached = compile_kernel(self.py_func, self.signature)
                fn = self._fn
        return fn

    def ready(self) -> bool:
        """Compiled (or loaded from the cache) in this process."""
        return self._fn is not None

    def __call__(self, *args: Any) -> Any:
        fn = self._fn or self.compiled()
        return fn(*args)


def compile_kernel(
    py_func: Callable[..., Any], signature: str, njit: Callable[..., Any] | None = None
) -> tuple[Callable[..., Any], bool]:
    """Compile ``py_func``; returns ``(dispatcher, cached)``.

    Falls back to ``cache=False`` on numba's ``RuntimeError: cannot cache
    function`` (no writable cache locator)."""
    if njit is None:
        import numba

        njit = numba.njit
    try:
        return njit(signature, **OPTIONS)(py_func), True
    except RuntimeError as exc:
        if "cannot cache" not in str(exc):
            raise
        opts = dict(OPTIONS, cache=False)
        return njit(signature, **opts)(py_func), False


def kernel(signature: str) -> Callable[[Callable[..., Any]], Kernel]:
    """Decorator: declare a kernel with an explicit numba signature."""

    def wrap(fn: Callable[..., Any]) -> Kernel:
        k = Kernel(fn, signature)
        _registry.append(k)
        return k

    return wrap


def warmup_all() -> int:
    """Compile (or load from cache) every kernel declared so far."""
    for k in _registry:
        k.compiled()
    return len(_registry)
