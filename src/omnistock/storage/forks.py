"""Surviving ``os.fork()``: a child never uses its parent's connections.

Servers that fork workers from a parent that has already opened the
inventory (gunicorn ``--preload``, Celery's prefork pool,
``multiprocessing`` with the fork start method) give every child a copy of
the parent's connections. A PostgreSQL connection is one socket. When two
processes write to it, their messages interleave and each can read the
other's replies. Measured before this module existed, with 4 processes
after a fork: children hung waiting for replies another process had read,
one child's ledger no longer matched a replay of the journal, and one
read another query's reply (a digest) as its seqs. SQLite's FAQ forbids
carrying a connection across a fork too.

Each store, runner and async face registers here when it opens. In the
child, right after a fork, each gets ``_after_fork()``, in the order they
registered (a store before the runner on it):

- stores let go of the inherited connections without sending a byte on
  them (the parent keeps using them) and take fresh locks; their next
  call connects afresh;
- a runner takes fresh locks, since a lock held by a parent thread would
  never be released in the child. It drops the queue, whose commands
  belong to the parent's threads. If a parent thread was inside a command
  at the fork, the runner reloads its ledger from the store, because that
  copy may be half changed.

``os.register_at_fork`` runs for ``os.fork()``, which those servers use. A
``spawn``ed or ``exec``ed child starts without any of this.
"""

from __future__ import annotations

import logging
import os
import threading
import weakref
from typing import Any, Protocol

__all__ = ["keep", "silence", "track"]

log = logging.getLogger("omnistock.forks")


class _Forkable(Protocol):
    def _after_fork(self) -> None: ...


_tracked: list[weakref.ref[_Forkable]] = []
_tracked_lock = threading.Lock()
_prune_at = 64
_kept: list[Any] = []
"""Inherited connections that must never be closed in this process (see ``keep``)."""


def track(obj: _Forkable) -> None:
    """Call ``obj._after_fork()`` in every child forked while ``obj`` is
    alive. Amortised O(1)."""
    global _prune_at
    with _tracked_lock:
        if len(_tracked) >= _prune_at:  # drop the dead once the list doubles
            _tracked[:] = [r for r in _tracked if r() is not None]
            _prune_at = max(64, 2 * len(_tracked))
        _tracked.append(weakref.ref(obj))


def silence(fd: int) -> None:
    """Point this process's ``fd`` at ``/dev/null``, so that whatever a
    driver later writes on it (a PostgreSQL goodbye as it closes) reaches
    nobody. The socket stays open in the parent, which keeps using it."""
    null = os.open(os.devnull, os.O_RDWR)
    try:
        os.dup2(null, fd)
    finally:
        os.close(null)


def keep(conn: Any) -> None:
    """Hold ``conn`` until this process exits, never closed. For an
    inherited SQLite connection: closing a file descriptor drops every
    POSIX lock this process holds on the file, including those of the
    connection opened to replace it."""
    _kept.append(conn)


def _in_child() -> None:
    global _tracked_lock
    _tracked_lock = threading.Lock()  # a parent thread may have held it
    live = [o for o in (r() for r in _tracked) if o is not None]
    _tracked[:] = [weakref.ref(o) for o in live]
    for obj in live:
        try:
            obj._after_fork()
        except Exception:  # one failure must not leave the others shared
            log.exception("after a fork, %r could not let go of its parent's state", obj)


if hasattr(os, "register_at_fork"):  # not on Windows, which cannot fork
    os.register_at_fork(after_in_child=_in_child)
