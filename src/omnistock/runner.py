"""One command pipeline: idempotency, lazy expiry, planning, the guarded
append, the fold and the result.

Every state change goes through ``Runner.run`` (one command) or
``Runner.run_all`` (several, group-committed). The thread that holds the
lock drains the queue and commits what it finds in one of two shapes, inside
one retry loop:

- **lone** (``lone.py``): one command with no key, no follow-up and
  nothing due to expire (or a bulk command, which plans in the live grids):
  plan, append, then fold.
- **group**: everything else. Holds due expire first; each command is
  planned against the ledger as the previous ones left it (its rows applied
  under a savepoint), then every command's rows go to the store in one
  transaction.

A command's outcome is its own: a refusal (an ``OmnistockError`` from its
plan) fails that command alone and writes nothing, not even its key; an
unexpected exception in one command's plan or follow-up rolls the group
back and commits the others without it. If the store refuses the append
(another writer got in first), the ledger is rolled back, caught up and the
commands planned again, at most ``RETRIES`` times. A failure after the
commit (a snapshot) is logged, never reported as the command's outcome.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

from . import codec
from . import observability as obs
from ._validate import check_id
from .alerting import AlertCommits
from .command import RETRIES, Clock, Command, PlanFn, R, Then, failed, is_refusal, utcnow
from .errors import (
    CommandFailed,
    ConcurrencyConflict,
    IdempotencyConflict,
    OmnistockError,
    StorageError,
)
from .expiry import next_due, plan_expiry, resource_expired
from .forking import AfterFork
from .ledger.replay import replay
from .ledger.savepoint import Savepoint
from .ledger.state import LedgerState
from .lone import LoneCommits
from .lone import Retry as _Retry
from .planning import Context, Datas, guards_of
from .scoped import Scope, Scoped
from .storage import Commit, NewRow, Store, forks
from .syncing import Syncing
from .tailing import Tailing
from .upkeep import Upkeep

log = logging.getLogger("omnistock.runner")
snap_log = logging.getLogger("omnistock.snapshot")


class _Abort(Exception):
    """An all-or-nothing group met bad input: roll everything back."""


class _Culprit(Exception):
    """A command failed after its rows were applied to the live ledger: the
    group is rolled back and committed again without it."""

    def __init__(self, cmd: Command[Any], error: BaseException) -> None:
        super().__init__(str(error))
        self.cmd, self.error = cmd, error


class Runner(LoneCommits, Upkeep, AlertCommits, Syncing, AfterFork):
    """Runs commands against one store and keeps the live ledger.

    Thread-safe: one thread at a time commits (the group-commit leader);
    others queue. Several processes may share a durable store (``shared``):
    queries catch up first and conflicting appends are retried."""

    def __init__(
        self,
        store: Store,
        clock: Clock | None,
        *,
        snapshot_every: int,
        shared: bool,
        replica: bool = True,
    ) -> None:
        self.store = store
        self.clock: Clock = clock or utcnow
        self.lock = threading.RLock()  # held by the group-commit leader
        self._queue_lock = threading.Lock()
        self._queue: list[Command[Any]] = []
        self.snapshot_every = snapshot_every
        self.shared = shared
        self.closed = False
        self.scoped = None if replica else Scoped(self)
        """A worker without a replica (``scoped.py``), or None."""
        self.state = self.scoped.fresh_state() if self.scoped else self.load_replica()
        self._last_snap = self.state.head
        self.tailing = Tailing(self) if store.guarded else None
        """A guarded store's catch-up and conditions (``tailing.py``)."""
        self._rechecked = False
        self._conflicts = 0
        """Conflicts met by the commit in progress (or the last one)."""
        forks.track(self)

    def load_replica(self) -> LedgerState:
        """The newest snapshot whose seal holds (checksum, seq and the
        journal's chain hash; a bad one is ignored and logged, see
        ``audit.from_snapshot``), then the journal after it."""
        from .audit import from_snapshot

        st = from_snapshot(self.store)
        replay(st, self.store.read(st.head))
        return st

    # -- building and running commands ----------------------------------------
    def command(
        self,
        name: str,
        plan: PlanFn[R],
        key: str | None = None,
        args: Any = None,
        *,
        then: Then[R] | None = None,
        alone: bool = False,
        scope: Scope | None = None,
    ) -> Command[R]:
        """A command named ``name``. ``args`` (or a callable returning them)
        identify it for its idempotency key; they are built only when a key
        is given. ``scope``: what it names, for a worker without a replica
        (None: it needs the replica)."""
        fp = None
        if key is not None:
            check_id("key", key)
            if callable(args):
                args = args()
            fp = name + ":" + json.dumps(args, sort_keys=True, default=str)
        return Command(name, plan, key, fp, then, alone, scope=scope)

    def run(self, cmd: Command[R], traced: bool = False) -> R:
        """Commit ``cmd`` (group-committed with other threads' commands) and
        return its result, or raise its error (``traced``: hooks wrap it)."""
        if self.closed:
            raise StorageError("inventory is closed")
        if obs.hooks is not None and not traced:  # one check, no extra call, when off
            return obs.hooks.command(cmd, self._traced)
        if cmd.alone:
            with self.lock:
                self._drain()  # commands queued earlier go first
                self._commit([cmd])
        else:
            with self._queue_lock:
                self._queue.append(cmd)
            with self.lock:
                if not cmd.done:
                    self._drain()
        if cmd.error is not None:
            raise cmd.error
        result: R = cmd.result
        return result

    def _traced(self, cmd: Command[R]) -> R:
        return self.run(cmd, True)

    def run_all(self, cmds: Sequence[Command[Any]], *, whole: bool = False) -> None:
        """Commit several commands in one group commit when no other thread
        is committing. Each ends done with its own result or error; commands
        already done (refused up front) are left as they are.

        ``whole``: the commands are one all-or-nothing batch, committed by
        themselves: if any meets bad input (an error that is not a refusal
        for want of stock), nothing is written and every command ends with
        an error (the bad one's own, the others' ``CommandFailed``)."""
        self._check_open()
        hooks = obs.hooks
        if hooks is not None:
            hooks.batch(cmds, lambda: self._run_all(cmds, whole))
        else:
            self._run_all(cmds, whole)

    def _run_all(self, cmds: Sequence[Command[Any]], whole: bool) -> None:
        if whole:
            todo = [c for c in cmds if not c.done]
            with self.lock:
                self._drain()
                if todo:
                    self._commit(todo, whole=True)
            return
        with self._queue_lock:
            self._queue.extend(c for c in cmds if not c.done)
        with self.lock:
            self._drain()

    def _drain(self) -> None:
        while True:
            with self._queue_lock:
                batch, self._queue = self._queue, []
            if not batch:
                return
            self._commit(batch)

    # -- the one retry loop ---------------------------------------------------
    def _commit(
        self,
        batch: list[Command[Any]],
        whole: bool = False,
        sweep: bool = False,
        timed: bool = False,
    ) -> None:
        """Commit ``batch`` (``sweep``: one sweep command, which plans the
        expiry itself, bounded), planning again after each conflict.
        (``timed``: ``_timed_commit`` already times this call.)"""
        if obs.timed and not timed:  # one check, no extra call, when off
            self._timed_commit(batch, whole, sweep)
            return
        attempt = self._conflicts = 0
        self._rechecked = False
        while batch:
            if attempt == RETRIES:
                log.info("gave up after %d conflicts: %s", RETRIES, [c.name for c in batch])
                for cmd in batch:
                    cmd.settle(
                        error=ConcurrencyConflict(f"{cmd.name}: gave up after {RETRIES} conflicts")
                    )
                return
            now = self.now_us()
            if self.scoped is not None and not self.scoped.replica:
                self.scoped.prepare(batch, now)
            first = next_due(self.state)
            due = first is not None and first <= now
            lone = len(batch) == 1 and batch[0].then is None and not whole
            plain = batch[0].key is None and not due and not self._alerts_stale
            lone = lone and (batch[0].alone or plain)
            try:
                if lone and due:  # a bulk command: expire first, on its own
                    self._commit_group([], now)
                    continue
                if lone:
                    self._commit_lone(batch[0], now)
                    if batch[0].alone:
                        self._bulk_crossings()
                else:
                    self._commit_group(batch, now, whole, expire=not sweep)
                return
            except _Retry as retry:
                self._conflicted(batch, attempt, retry)
                if self.tailing is not None:  # everything committed before the failure
                    self.tailing.catch_up_to(self.store.head())
                else:
                    self.catch_up()
                time.sleep(0.0002 * attempt)
                attempt = self._conflicts = attempt + 1
            except _Culprit as c:
                c.cmd.settle(error=c.error)
                batch = [cmd for cmd in batch if cmd is not c.cmd]
                if whole:
                    self._abort(batch, c.cmd)
                    return

    def _timed_commit(self, batch: list[Command[Any]], whole: bool, sweep: bool) -> None:
        t0 = time.perf_counter()
        try:
            self._commit(batch, whole, sweep, True)
        finally:
            took = time.perf_counter() - t0
            if took >= obs.slow_s:
                obs.commit_took(took, [c.name for c in batch], self._conflicts)

    def _conflicted(self, batch: list[Command[Any]], attempt: int, retry: _Retry) -> None:
        """Report a retry: at DEBUG, and to OpenTelemetry when instrumented."""
        reason = "conflict" if retry.args else "refusal re-checked"
        if log.isEnabledFor(logging.DEBUG):
            log.debug(
                "%s: attempt %d of %d: %s; catching up to plan again",
                [c.name for c in batch],
                attempt + 1,
                RETRIES,
                retry.args[0] if retry.args else "a refusal decided on a stale ledger",
            )
        hooks = obs.hooks
        if hooks is not None:
            hooks.conflict(reason)

    def _context(self, now: int, key: str | None) -> Context:
        return Context(now, max(now, self.state.last_ts), key, self.store.partitioned)

    def _stale(self) -> bool:
        """A refusal is only true if the ledger it was checked against was
        current: another process may have received stock meanwhile. It is
        checked once per command, after catching up with every append that
        committed before it (``_commit`` does that); decided again on that
        ledger, it is the truth as of then, so writes to other SKUs
        committed meanwhile never turn it into a conflict."""
        if not self.shared or self._rechecked:
            return False
        self._rechecked = self.store.head() > self.state.head
        return self._rechecked

    def _commit_group(
        self, batch: list[Command[Any]], now: int, whole: bool = False, expire: bool = True
    ) -> None:
        st = self.state
        sp = Savepoint(st)
        commits: list[Commit] = []
        if self.tailing is not None:
            self.tailing.begin()
        try:
            expiry = plan_expiry(st, self._context(now, None)) if expire else None
            if expiry is not None and expiry.rows:
                self._apply(sp, expiry.rows, expiry.datas)
                rows = list(expiry.rows)
                if st.lots:  # expired lots may uncover reservations: re-source them

                    def emit(new: list[NewRow], new_datas: Datas) -> None:
                        self._apply(sp, new, new_datas)
                        rows.extend(new)

                    resource_expired(st, self._context(now, None), expiry.result(st), emit)
                commits.append(Commit((*rows, *self._crossings(sp, now, rows))))
            commits += self._stale_crossings(sp, now)
            seen: dict[str, Command[Any]] = {}
            for cmd in batch:
                cmd.error = cmd.result = None
                cmd.refused = False
                if cmd.key is not None:
                    if self._settled_by_key(cmd, seen):
                        continue
                    seen[cmd.key] = cmd
                commit = self._plan_into(cmd, now, sp)
                if commit is not None:
                    commits.append(commit)
            refusals = any(c.refused or isinstance(c.error, OmnistockError) for c in batch)
            if refusals and self._stale():
                raise _Retry
            if whole and any(c.error is not None and not is_refusal(c.error) for c in batch):
                raise _Abort
            if commits and self.tailing is not None:
                self.tailing.append(sp, commits, batch)
            elif commits:
                new_head = self.store.append(commits, sp.head)
                if new_head != st.head:  # a partitioned store put others' rows between
                    sp.rollback()
                    self.catch_up()
        except ConcurrencyConflict as exc:
            sp.rollback()
            raise _Retry(str(exc)) from None
        except (_Retry, _Culprit):
            sp.rollback()
            raise
        except _Abort:
            sp.rollback()
            bad = next(c for c in batch if c.error is not None and not is_refusal(c.error))
            self._abort(batch, bad)
            return
        except BaseException as exc:
            sp.rollback()  # nothing was appended: every command fails with the store
            for cmd in batch:
                if cmd.error is None:
                    cmd.error = exc if isinstance(exc, Exception) else StorageError(str(exc))
                cmd.done = True
            if not isinstance(exc, Exception):
                raise
            return
        for cmd in batch:
            cmd.done = True
        self._alerts_stale = False
        self._maybe_snapshot()

    def _abort(self, batch: list[Command[Any]], bad: Command[Any]) -> None:
        """End an all-or-nothing batch that met ``bad``: nothing written."""
        for cmd in batch:
            if cmd is not bad:
                why = f"{cmd.name}: not applied: its batch met bad input ({bad.error})"
                cmd.settle(error=CommandFailed(why))
            cmd.done = True

    def _plan_into(self, cmd: Command[Any], now: int, sp: Savepoint) -> Commit | None:
        """Plan ``cmd`` against the live ledger and apply its rows (and its
        follow-up's) under ``sp``. Returns its commit, or None when it was
        refused (its error set) or moved nothing without a key."""
        st = self.state
        cx = self._context(now, cmd.key)
        try:
            plan, cmd.planned = cmd.planned or cmd.plan(st, cx), None
        except Exception as exc:  # nothing applied yet: fail this command alone
            cmd.error = failed(cmd, exc)
            return None
        if plan.refused:  # an answer, not a change: no rows, no key
            cmd.refused, cmd.result = True, plan.result(st)
            return None
        rows = list(plan.rows)
        if self.tailing is not None:
            self.tailing.guards.extend(guards_of(plan))
        try:
            self._apply(sp, rows, plan.datas)
            result = plan.result(st)
            if cmd.then is not None:
                more: list[NewRow] = []

                def emit(new: list[NewRow], new_datas: Datas) -> None:
                    self._apply(sp, new, new_datas)
                    more.extend(new)

                result = cmd.then(st, cx, result, emit)
                rows += more
            rows += self._crossings(sp, now, rows)
        except Exception as exc:
            raise _Culprit(cmd, failed(cmd, exc)) from exc
        cmd.result = result
        if not rows and cmd.key is None:
            return None
        text = None if cmd.key is None else codec.encode(result)
        return Commit(tuple(rows), cmd.key, cmd.fingerprint, text)

    def _settled_by_key(self, cmd: Command[Any], seen: dict[str, Command[Any]] | None) -> bool:
        """Settle ``cmd`` from an earlier use of its key (the store's record,
        or an earlier command of this group); False when the key is new."""
        assert cmd.key is not None
        first = None if seen is None else seen.get(cmd.key)
        if first is not None:
            if first.fingerprint != cmd.fingerprint:
                cmd.error = IdempotencyConflict(cmd.key, first.name, cmd.name)
            else:
                cmd.error, cmd.result = first.error, first.result
            cmd.done = seen is None
            return True
        rec = self.store.lookup_key(cmd.key)
        if rec is None:
            return False
        if rec.fingerprint != cmd.fingerprint:
            name = rec.fingerprint.split(":", 1)[0]
            cmd.error = IdempotencyConflict(cmd.key, name, cmd.name)
        else:
            cmd.result = codec.decode(rec.result)
        cmd.done = seen is None
        return True

    # -- applying rows --------------------------------------------------------
    def _apply(self, sp: Savepoint, rows: list[NewRow], datas: Datas) -> None:
        st = self.state
        t = self.tailing
        for r, data in zip(rows, datas, strict=True):
            row = (st.head + 1, *r)
            sp.touch(row, data)
            st.apply(row, data)
            if t is not None:
                t.applied_row(r)

    def _fold(
        self,
        head: int,
        new_head: int,
        rows: list[NewRow],
        datas: Datas,
        undo: Callable[[], None] | None,
    ) -> None:
        """Fold rows the store just appended after ``head``: directly when
        they got the next numbers, else (a partitioned store put others' rows
        between) by taking back what planning did and catching up, which
        reads ours back too."""
        st = self.state
        if new_head == -1 and self.tailing is not None:  # seqs taken around others'
            self.tailing.fold_ahead(rows, datas)
            return
        if new_head != head + len(rows):
            if undo is not None:
                undo()
            self.catch_up()
            return
        apply = st.apply_new
        for i, r in enumerate(rows):
            apply(head + 1 + i, r, datas[i])

    def _check_open(self) -> None:
        if self.closed:
            raise StorageError("inventory is closed")
