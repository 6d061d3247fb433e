"""Ctrl-C that a C callback cannot swallow.

A SIGINT raises ``KeyboardInterrupt`` wherever Python happens to be. When
that is inside a callback called from C (numba's object cache notifies
Python while LLVM compiles a kernel), the exception is printed as
"ignored" and lost, and a long command would run on as if no one had
pressed Ctrl-C. Within ``watched()`` a SIGINT also sets a flag, and
``check()`` (the simulation calls it every event; the CLI once more when
the command returns) raises ``KeyboardInterrupt`` again from ordinary
Python, so the command stops and the CLI exits 130.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

__all__ = ["check", "watched"]

_asked = threading.Event()


def _on_sigint(signum: int, frame: FrameType | None) -> None:
    _asked.set()
    raise KeyboardInterrupt


@contextmanager
def watched() -> Iterator[None]:
    """SIGINT is remembered as well as raised while inside. Only the main
    thread can set signal handlers: elsewhere this does nothing."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    _asked.clear()
    old = signal.signal(signal.SIGINT, _on_sigint)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, old)
        _asked.clear()


def check() -> None:
    """Raise ``KeyboardInterrupt`` if Ctrl-C was pressed within
    ``watched()``, even if the exception it raised then was swallowed.
    O(1): one flag read."""
    if _asked.is_set():
        raise KeyboardInterrupt
