"""Journaling low-stock crossings: the rows the runner adds after a
command's (or an expiry's) own rows, in the same commit.

A command that moves stock of a SKU with thresholds is followed, in its own
commit, by one ``threshold-crossed`` row per threshold of that SKU whose
alert state it changed (``ledger.thresholds.crossings``), so the journal
and the event feed (``inv.feed()``) carry every crossing with the command
that caused it. A ledger without thresholds pays one truth test a command;
a command whose rows touch no marked SKU keeps the lone commit path, one
that does is committed as a group of one (``lone.py``), and a bulk command
is followed by a commit of the crossings it caused.
"""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Callable, Sequence
from typing import Any

from .command import Command
from .ledger.rows import BATCH_KINDS, NEW_KIND, NEW_LOC, NEW_SKU, Kind, make
from .ledger.savepoint import Savepoint
from .ledger.state import LedgerState
from .ledger.thresholds import crossings
from .lone import Retry
from .planning import Context, Datas, nothing
from .storage import Commit
from .storage.base import NewRow

__all__ = ["AlertCommits", "crossing_rows", "touched"]


class AlertCommits:
    """The runner's side of crossings (a mixin of ``runner.Runner``)."""

    # The runner's (``runner.Runner``).
    state: LedgerState
    lock: threading.RLock
    closed: bool
    _alerts_stale: bool = False
    """Crossings may be due anywhere (after a bulk command, or another
    process's): the next group commit looks at every threshold."""
    _context: Callable[[int, str | None], Context]
    _apply: Callable[[Savepoint, list[NewRow], Datas], None]
    _commit_group: Callable[..., None]
    now_us: Callable[[], int]
    sync: Callable[..., LedgerState]
    run: Callable[[Command[Any]], Any]
    command: Callable[..., Command[Any]]

    def _crossings(self, sp: Savepoint, now: int, rows: list[NewRow] | None) -> list[NewRow]:
        """Apply (under ``sp``) and return the ``threshold-crossed`` rows due
        after ``rows`` (None: for every threshold). Nothing without thresholds."""
        st = self.state
        if not st.thresholds:
            return []
        where = None if rows is None else touched(rows)
        more, datas = crossing_rows(st, self._context(now, None), where)
        if more:
            self._apply(sp, more, datas)
        return more

    def _marks_touched(self, rows: Sequence[NewRow]) -> bool:
        """Whether ``rows`` touch a SKU with a threshold (or may: a block
        row). O(1) without thresholds, else O(rows)."""
        th = self.state.thresholds
        if not th:
            return False
        where = touched(rows)
        return where is None or any(s in th.low or s in th.alerted for s in where)

    def _stale_crossings(self, sp: Savepoint, now: int) -> list[Commit]:
        """When crossings may be due anywhere: a commit of them (applied
        under ``sp``), or none. Cleared once a group commit succeeds."""
        if not (self._alerts_stale and self.state.thresholds):
            return []
        more = self._crossings(sp, now, None)
        return [Commit(tuple(more))] if more else []

    def _bulk_crossings(self) -> None:
        """After a bulk command (committed alone, without a savepoint):
        journal the crossings it caused in a commit of their own. If that
        meets a conflict, the next group commit journals them instead."""
        if not self.state.thresholds:
            return
        self._alerts_stale = True
        with contextlib.suppress(Retry):
            self._commit_group([], self.now_us())

    def settle_alerts(self) -> LedgerState:
        """Like ``sync``, then journal the crossings due for every threshold:
        those another process's command caused without seeing the mark (on
        PostgreSQL a writer plans on the ledger it has). O(thresholds x
        locations)."""
        with self.lock:
            st = self.sync()
            if not self.closed and st.thresholds and crossings(st, None):
                self._alerts_stale = True
                self.run(self.command("alerts", nothing))
            return self.state


def touched(rows: Sequence[NewRow]) -> dict[str, set[str | None]] | None:
    """The positions ``rows`` name, as SKU -> locations; None (everything)
    when a block row is among them (it names its positions inside its
    data). O(rows)."""
    out: dict[str, set[str | None]] = {}
    for r in rows:
        if r[NEW_KIND] in BATCH_KINDS:
            return None
        sku = r[NEW_SKU]
        if isinstance(sku, str) and not sku.startswith("~"):
            loc = r[NEW_LOC]
            out.setdefault(sku, set()).add(loc if isinstance(loc, str) else None)
    return out


def crossing_rows(
    st: LedgerState, cx: Context, where: dict[str, set[str | None]] | None
) -> tuple[list[NewRow], Datas]:
    """The ``threshold-crossed`` rows due after changes at ``where`` (see
    ``thresholds.crossings``; None: every threshold) in ``st`` as it is
    now, with their data. The rows carry no key: they follow the command,
    they are not its idempotency record."""
    rows: list[NewRow] = []
    datas: Datas = []
    for sku, loc, atp, low, below, step in crossings(st, where):
        data: dict[str, Any] = {"low": low, "below": below, "step": step}
        rows.append(
            make(
                Kind.THRESHOLD_CROSSED,
                cx.ts,
                sku=sku,
                location=loc,
                qty=atp,
                data=json.dumps(data),
            )
        )
        datas.append(data)
    return rows, datas
