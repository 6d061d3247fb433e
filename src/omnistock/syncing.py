"""The runner's clock and its catching up before queries: ``now_us``,
``sync`` (other writers' rows folded in, or, for a worker without a
replica, the counters of what the query names; then the holds due
expired) and ``caught_up``. A mixin of ``runner.Runner``, like
``upkeep.Upkeep``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ._validate import check_when, to_micros
from .command import Clock, Command, R, utcnow
from .expiry import next_due
from .ledger.state import LedgerState
from .planning import nothing
from .scoped import Scope
from .storage import Store

if TYPE_CHECKING:
    from .scoped import Scoped
    from .tailing import Tailing

__all__ = ["Syncing"]


class Syncing:
    """``Runner.now_us``, ``now_of``, ``sync``, ``caught_up``, ``catch_up``."""

    # The runner's (``runner.Runner``).
    state: LedgerState
    store: Store
    clock: Clock
    lock: threading.RLock
    shared: bool
    closed: bool
    scoped: Scoped | None
    tailing: Tailing | None
    command: Callable[..., Command[Any]]
    run: Callable[[Command[Any]], Any]

    def now_us(self) -> int:
        """The ledger clock in UTC microseconds."""
        if self.clock is utcnow:
            return time.time_ns() // 1000
        return to_micros(check_when("clock()", self.clock()))

    def now_of(self, st: LedgerState) -> int:
        """A query's "now": the clock, never before the journal's last time."""
        return max(self.now_us(), st.last_ts)

    def _expiry_due(self, now: int) -> bool:
        first = next_due(self.state)
        return first is not None and first <= now

    def sync(
        self, scope: Scope | None = None, states: bool = False, supply: bool = False
    ) -> LedgerState:
        """Before a query: fold in other writers' rows (a worker without a
        replica: read the counters of ``scope``), then expire (and journal)
        the holds due by the clock, so figures are true at now."""
        with self.lock:
            if self.closed:
                return self.state
            if self.scoped is not None and not self.scoped.replica:
                self.scoped.read(scope, self.now_us(), states, supply)
            elif self.shared:
                self.catch_up()
            while self._expiry_due(self.now_us()):
                self.run(self.command("expire", nothing, scope=((), ())))
                sc = self.scoped
                if sc is None or sc.replica or not sc.due_full:
                    break
                sc.read(scope, self.now_us(), states, supply)  # the next page due
        return self.state

    def caught_up(self, read: Callable[[LedgerState], R]) -> R:
        """``read(state)`` under the lock, once other writers' rows are folded
        in (on a guarded store: every row committed before now, so the
        ledger is a journal prefix again)."""
        with self.lock:
            if self.scoped is not None and not self.scoped.replica:
                self.scoped.go_replica("a read of the whole ledger")
            if self.tailing is not None:
                self.tailing.catch_up_to(self.store.head())
            else:
                self.catch_up()
            return read(self.state)

    def catch_up(self) -> None:
        """Fold in what other writers appended."""
        if self.tailing is not None:
            self.tailing.catch_up()
            return
        st = self.state
        if self.store.head() > st.head:
            st.apply_all(self.store.read(st.head))
