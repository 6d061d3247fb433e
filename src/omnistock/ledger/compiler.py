"""The one place that owns numba options, and the registry of kernels.

Kernels are compiled lazily, on first call or by ``omnistock.warmup()``, so
``import omnistock`` does not import numba (about 0.4 s) and a process that
only does single-line work never pays for it. Each kernel has an explicit
signature and is compiled with ``cache=True``; when numba cannot cache (a
read-only install with no usable ``NUMBA_CACHE_DIR``), it compiles without a
cache instead of failing.

Registry: ``KERNEL_MODULES`` lists every module that declares kernels;
``@kernel`` refuses a kernel declared anywhere else, so the list cannot go
stale. ``warmup_all`` imports those modules (declaring their kernels) and
compiles everything registered.

Helpers: kernels may call ``@helper`` functions of their own module (a
piece of code two kernels share). A helper stays a plain function until
the first kernel whose code names it compiles; the helper is then compiled
with the same options and its module's name is rebound to the njit
dispatcher, which numba's typing of the kernel requires (numba resolves a
kernel's globals by name). Module-level integer constants a kernel reads
(status and preference codes) are frozen into it at compile time.
"""

from __future__ import annotations

import importlib
import threading
from collections.abc import Callable
from typing import Any

OPTIONS: dict[str, Any] = {"cache": True, "nogil": True, "boundscheck": False}

KERNEL_MODULES = (
    "omnistock.ledger.kernels",
    "omnistock.ledger.names",
    "omnistock.fulfilment.kernels",
    "omnistock.fulfilment.optimize",
)
"""Every module that declares kernels (``@kernel`` checks it)."""

_registry: list[Kernel] = []
_helper_lock = threading.Lock()


class Helper:
    """A function kernels share, compiled (``@njit``, no signature: typed
    by its callers; inlined into each, so it costs no call) when a kernel
    that calls it compiles."""

    __slots__ = ("fn", "name", "py_func")

    def __init__(self, py_func: Callable[..., Any]) -> None:
        self.py_func = py_func
        self.name = py_func.__name__
        self.fn: Callable[..., Any] | None = None

    def __call__(self, *args: Any) -> Any:  # from Python (reference tests): as written
        return self.py_func(*args)


def _bind_helpers(py_func: Callable[..., Any]) -> None:
    """Compile the helpers ``py_func`` names (and theirs) and rebind their
    module names to the njit dispatchers, so numba can type the calls."""
    glob = py_func.__globals__
    for name in py_func.__code__.co_names:
        h = glob.get(name)
        if not isinstance(h, Helper):
            continue
        with _helper_lock:
            if h.fn is None:
                _bind_helpers(h.py_func)
                h.fn, _ = compile_kernel(h.py_func, None, inline="always")
            glob[name] = h.fn


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
                    _bind_helpers(self.py_func)
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
    py_func: Callable[..., Any],
    signature: str | None,
    njit: Callable[..., Any] | None = None,
    **extra: Any,
) -> tuple[Callable[..., Any], bool]:
    """Compile ``py_func`` with ``OPTIONS`` (plus ``extra``; ``signature``
    None: typed by its callers, for helpers); returns ``(dispatcher,
    cached)``.

    Falls back to ``cache=False`` on numba's ``RuntimeError: cannot cache
    function`` (no writable cache locator)."""
    if njit is None:
        import numba

        njit = numba.njit
    opts = {**OPTIONS, **extra}
    try:
        return njit(signature, **opts)(py_func), True
    except RuntimeError as exc:
        if "cannot cache" not in str(exc):
            raise
        opts["cache"] = False
        return njit(signature, **opts)(py_func), False


def kernel(signature: str) -> Callable[[Callable[..., Any]], Kernel]:
    """Decorator: declare a kernel with an explicit numba signature, in one
    of ``KERNEL_MODULES``."""

    def wrap(fn: Callable[..., Any]) -> Kernel:
        if fn.__module__ not in KERNEL_MODULES:
            raise ValueError(
                f"kernel {fn.__qualname__} is declared in {fn.__module__}, not in KERNEL_MODULES"
            )
        k = Kernel(fn, signature)
        _registry.append(k)
        return k

    return wrap


def helper(fn: Callable[..., Any]) -> Helper:
    """Decorator: declare an njit function the kernels of its module call."""
    return Helper(fn)


def warmup_all() -> int:
    """Import every module in ``KERNEL_MODULES`` (declaring its kernels),
    then compile (or load from cache) every kernel; returns how many."""
    for name in KERNEL_MODULES:
        importlib.import_module(name)
    for k in _registry:
        k.compiled()
    return len(_registry)
