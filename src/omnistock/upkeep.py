"""The runner's upkeep besides commands: sweeping the expiries due
(``sweep``), snapshots and closing. A mixin of ``runner.Runner``, like
``lone.LoneCommits``; see ``runner.py`` for the pipeline it uses.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from . import observability as obs
from .command import Command
from .errors import OmnistockError, StorageError
from .expiry import Swept, plan_expiry, resource_expired
from .ledger.state import LedgerState
from .storage import Store

if TYPE_CHECKING:
    from .tailing import Tailing

__all__ = ["Upkeep"]

log = logging.getLogger("omnistock.runner")
snap_log = logging.getLogger("omnistock.snapshot")


class Upkeep:
    """``Runner.sweep``, ``snapshot`` and ``close``."""

    # The runner's (``runner.Runner``).
    state: LedgerState
    store: Store
    lock: threading.RLock
    shared: bool
    closed: bool
    snapshot_every: int
    _last_snap: int
    tailing: Tailing | None
    _alerts_stale: bool
    command: Callable[..., Command[Any]]
    catch_up: Callable[[], None]
    _drain: Callable[[], None]
    _commit: Callable[..., None]
    _check_open: Callable[[], None]

    def sweep(self, limit: int) -> Swept:
        """Journal the expiries due now, at most ``limit`` reservations and
        held batches (the oldest due first), in one commit. Safe with other
        processes on the store: it catches up first, and an expiry another
        process journaled meanwhile fails the append (the head moved, or on
        PostgreSQL the reservation is no longer as seen) and is planned
        again, so it is journaled once."""
        self._check_open()
        plan = lambda st, cx: plan_expiry(st, cx, limit)  # noqa: E731
        cmd: Command[Swept] = self.command("sweep", plan, then=resource_expired)
        hooks = obs.hooks
        if hooks is not None:
            return hooks.command(cmd, self._sweep)
        return self._sweep(cmd)

    def _sweep(self, cmd: Command[Swept]) -> Swept:
        with self.lock:
            self._drain()  # commands queued earlier go first
            if self.shared:
                self.catch_up()
            if self.state.thresholds:  # and every crossing another process left due
                self._alerts_stale = True
            self._commit([cmd], sweep=True)
        if cmd.error is not None:
            raise cmd.error
        swept: Swept = cmd.result
        if swept.expired:
            if log.isEnabledFor(logging.DEBUG):
                log.debug("sweep: expired %d (more due: %s)", swept.count, swept.more)
            hooks = obs.hooks
            if hooks is not None:
                hooks.swept(swept.expired)
        return swept

    # -- snapshots and closing ------------------------------------------------
    def _maybe_snapshot(self) -> None:
        """Snapshot when due. After a commit: a failure here is logged and
        retried at the next commit, never the command's outcome."""
        if self.state.head - self._last_snap < self.snapshot_every:
            return
        if self.tailing is not None and self.tailing.ahead:
            return  # the ledger holds rows past its head: not a journal prefix
        try:
            self.snapshot()
        except Exception:
            snap_log.warning(
                "snapshot at seq %d failed; will retry", self.state.head, exc_info=True
            )

    def snapshot(self) -> int:
        """Save a snapshot at the current head; returns its seq."""
        from .audit import sealed

        st = self.state
        if self.tailing is not None and self.tailing.ahead:
            raise StorageError("cannot snapshot: appends before this process's own are in flight")
        self.store.save_snapshot(st.head, sealed(self.store, st))
        self._last_snap = st.head
        snap_log.info("snapshot saved at seq %d", st.head)
        return st.head

    def close(self) -> None:
        """Snapshot if much happened since the last one, and close the store."""
        with self.lock:
            if self.closed:
                return
            try:
                prefix = self.tailing is None or not self.tailing.ahead
                if prefix and self.state.head - self._last_snap >= 1000:
                    self.snapshot()
            except OmnistockError:
                pass
            self.store.close()
            self.closed = True
