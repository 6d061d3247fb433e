"""What a runner does in a process forked from the one that opened it. A
mixin of ``runner.Runner``; ``storage/forks.py`` says why and calls it
(after the runner's store has let go of its parent's connections)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .ledger.state import LedgerState
from .tailing import Tailing

if TYPE_CHECKING:
    from .command import Command
    from .scoped import Scoped

__all__ = ["AfterFork"]

log = logging.getLogger("omnistock.runner")


class AfterFork:
    """``Runner._after_fork``."""

    # The runner's (``runner.Runner``).
    lock: threading.RLock
    _queue_lock: threading.Lock
    _queue: list[Command[Any]]
    closed: bool
    scoped: Scoped | None
    state: LedgerState
    tailing: Tailing | None
    _last_snap: int
    load_replica: Callable[[], LedgerState]

    def _after_fork(self) -> None:
        """In a forked child: fresh locks, an empty queue (its commands are
        the parent's threads' to run), and, if a parent thread was inside a
        command at the fork (the lock was held), the ledger reloaded from
        the store, as the copy may be half changed (a worker without a
        replica forgets its counters instead). O(1), or a replica load."""
        busy = not self.lock.acquire(blocking=False)
        self.lock = threading.RLock()
        self._queue_lock = threading.Lock()
        self._queue = []
        if not busy or self.closed:
            return
        log.info("forked while a command ran in another thread: reloading the ledger")
        if self.scoped is not None and not self.scoped.replica:
            self.scoped.reset()
            return
        try:
            self.state = self.load_replica()
        except BaseException:
            self.closed = True  # refuse every call rather than plan on a torn ledger
            raise
        self._last_snap = self.state.head
        if self.tailing is not None:
            self.tailing = Tailing(self)  # type: ignore[arg-type]
