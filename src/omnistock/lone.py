"""The runner's lone path: one command with no key, no follow-up and
nothing due to expire (or a bulk command, which plans in the live grids),
committed on its own. A mixin of ``runner.Runner``; see its module
docstring for where this path sits in the pipeline.

- On a head-checking store: plan, append, then fold. Nothing is applied
  before the store accepts, so no savepoint.
- On a guarded store: the rows are folded under a savepoint first, since
  what they change is what the store checks (``tailing.Tailing.append``).
- Rows that touch a SKU with low-stock thresholds: committed as a group of
  one instead, so the crossings they cause join their commit
  (``alerting.py``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from . import codec
from .command import Command, failed
from .errors import ConcurrencyConflict, OmnistockError
from .ledger.savepoint import Savepoint
from .ledger.state import LedgerState
from .planning import Context, Datas, Guard, guards_of
from .storage import Commit, NewRow, Store

if TYPE_CHECKING:
    from .tailing import Tailing

__all__ = ["LoneCommits", "Retry"]


class Retry(Exception):
    """The store refused the append (the argument says why), or a refusal
    was decided on a stale ledger (no argument): catch up and plan again."""


class LoneCommits:
    """``Runner._commit_lone`` and its guarded variant."""

    # The runner's (``runner.Runner``).
    state: LedgerState
    store: Store
    tailing: Tailing | None
    snapshot_every: int
    _last_snap: int
    _context: Callable[[int, str | None], Context]
    _stale: Callable[[], bool]
    _settled_by_key: Callable[[Command[Any], dict[str, Command[Any]] | None], bool]
    _apply: Callable[[Savepoint, list[NewRow], Datas], None]
    _fold: Callable[..., None]
    _maybe_snapshot: Callable[[], None]
    _marks_touched: Callable[[Sequence[NewRow]], bool]
    _commit_group: Callable[..., None]

    def _commit_lone(self, cmd: Command[Any], now: int) -> None:
        st = self.state
        cmd.error = cmd.result = cmd.planned = None  # nothing from an earlier attempt outlives it
        cmd.refused = False
        if cmd.key is not None and self._settled_by_key(cmd, None):
            return
        if self.tailing is not None:
            self.tailing.begin()
        cx = self._context(now, cmd.key)
        try:
            plan = cmd.plan(st, cx)
        except OmnistockError as exc:
            if self._stale():
                raise Retry from None
            cmd.error, cmd.done = exc, True
            return
        except Exception as exc:  # its own outcome, whichever thread leads
            cmd.settle(error=failed(cmd, exc))
            return
        if plan.refused:
            if self._stale():
                raise Retry
            cmd.refused = True
            cmd.settle(plan.result(st))
            return
        rows = plan.rows
        if not cmd.alone and self._marks_touched(rows):  # its crossings join its commit
            cmd.planned = plan  # planned on this ledger: the group path uses it as is
            self._commit_group([cmd], now)
            return
        if not rows and cmd.alone and self._stale():
            raise Retry  # only refusals, decided on a ledger that may be stale
        if plan.partly_refused and self.tailing is not None and self._stale():
            if plan.undo is not None:
                plan.undo()
            raise Retry  # a guarded store checks what was held, not what was refused
        if not rows and cmd.key is None:
            cmd.settle(plan.result(st))
            return
        if self.tailing is not None and plan.undo is None:
            self._commit_lone_guarded(cmd, plan.rows, plan.datas, guards_of(plan), plan.result)
            return
        result = plan.result(st) if cmd.key is not None else None
        text = None if cmd.key is None else codec.encode(result)
        head = st.head
        commit = Commit(tuple(rows), cmd.key, cmd.fingerprint, text)
        try:
            if self.tailing is not None:
                seqs = self.tailing.append_batch(commit, plan.datas)
                new_head = seqs[-1] if len(seqs) == len(rows) and seqs[0] == head + 1 else -1
            else:
                new_head = self.store.append([commit], head)
        except ConcurrencyConflict as exc:
            if plan.undo is not None:
                plan.undo()
            raise Retry(str(exc)) from None
        except BaseException as exc:
            if plan.undo is not None:
                plan.undo()
            if not isinstance(exc, Exception):
                raise
            cmd.settle(error=exc)
            return
        self._fold(head, new_head, rows, plan.datas, plan.undo)
        cmd.result = result if cmd.key is not None else plan.result(st)
        cmd.done = True
        if st.head - self._last_snap >= self.snapshot_every:
            self._maybe_snapshot()

    def _commit_lone_guarded(
        self,
        cmd: Command[Any],
        rows: list[NewRow],
        datas: Datas,
        guards: Sequence[Guard],
        result: Callable[[LedgerState], Any],
    ) -> None:
        """A lone command on a guarded store: its rows folded under a
        savepoint (what they change is what the store checks), appended,
        kept if the store took them, rolled back if not."""
        t = self.tailing
        assert t is not None
        sp = Savepoint(self.state)
        try:
            self._apply(sp, rows, datas)
            cmd.result = result(self.state)
            t.guards.extend(guards)
            t.append(sp, [Commit(tuple(rows))], [cmd])
        except ConcurrencyConflict as exc:
            sp.rollback()
            raise Retry(str(exc)) from None
        except BaseException as exc:
            sp.rollback()
            if not isinstance(exc, Exception):
                raise
            cmd.settle(error=failed(cmd, exc) if not isinstance(exc, OmnistockError) else exc)
            return
        cmd.done = True
        self._maybe_snapshot()
