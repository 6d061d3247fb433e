"""The runner's side of a guarded store (PostgreSQL): conditions instead of
a head, rows whose seqs were taken around other writers', and catch-up
behind the safe horizon.

A guarded store checks what a command relies on (``guarding.conditions``)
and gives its rows seqs from a sequence, so other writers' rows may sit
between them and the ledger's head. The ledger then folds its own rows
**ahead**: with their real seqs, its head left where the journal prefix it
has folded ends, and their seqs remembered. Catching up folds everything
up to the store's safe horizon (``Store.tail``) except the rows already
folded ahead. Folding is order-independent across commands that the store
let through together: they touch different reservations (each guarded by
its exact figures) and add to counters, so the ledger equals a replay once
the head passes the last row ahead. Until then it is not a journal prefix,
so no snapshot is taken.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import attrs

from .guarding import batch_conditions, conditions
from .ledger.deltas import Change
from .ledger.rows import Kind
from .ledger.savepoint import Savepoint
from .planning import Datas, Guard
from .storage import Commit, Conditions, NewRow

if TYPE_CHECKING:
    from .command import Command
    from .runner import Runner

log = logging.getLogger("omnistock.tailing")

AHEAD_LIMIT = 4096
"""Rows folded ahead before the process catches up on its own: a process
that only writes would otherwise keep their seqs, and a head that never
moves, forever."""
CATCH_UP_WAIT = 10.0
"""Seconds ``catch_up_to`` waits for appends in flight to commit or end."""


class Tailing:
    """Conditions, rows ahead and catch-up for one runner on a guarded store."""

    def __init__(self, runner: Runner) -> None:
        self.runner = runner
        self.ahead: set[int] = set()
        """Seqs of this process's rows folded past the head."""
        self.guards: list[Guard] = []
        self.held_at: dict[tuple[str, str], int] = {}
        """The lowest ATP right after a hold row of this group, per position."""
        self._seqs: list[int] = []
        self.minted: list[str] = []
        """Ids the last append created (a worker without a replica reads
        them after a conflict: one may have been taken already)."""

    def begin(self) -> None:
        """A group starts: no guards or hold rows yet."""
        self.guards = []
        self.held_at = {}

    def applied_row(self, row: NewRow) -> None:
        """Note a row the group folded (after folding it): after a hold row,
        the ATP where it stood."""
        if row[1] == Kind.HELD:
            sku, loc = row[2], row[3]
            assert sku is not None and loc is not None
            g = self.runner.state.grid
            s, l = g.sku_ix[sku], g.loc_ix[loc]
            atp = int(g.holdable[s, l]) - int(g.reserved[s, l])
            k = (sku, loc)
            low = self.held_at.get(k)
            if low is None or atp < low:
                self.held_at[k] = atp

    # -- appending -------------------------------------------------------
    def append(self, sp: Savepoint, commits: list[Commit], batch: list[Command[Any]]) -> None:
        """Append a group whose rows are folded under ``sp`` at the seqs
        after the head; if other writers' seqs came between, the ledger
        keeps them ahead at the seqs the store gave (``_renumber``).
        ``ConcurrencyConflict`` when a condition failed (the caller rolls
        back and plans again)."""
        r = self.runner
        st = r.state
        rows = [row for c in commits for row in c.rows]
        change = Change(sp, st, rows)
        cond = conditions(st, change, self.guards, self.held_at, planned=sp.head + 1)
        sc = r.scoped
        if sc is not None and not sc.replica:
            self.minted = [x[0] for x in cond.reservations if x[1] is None]
        seqs = r.store.append_guarded(commits, cond)
        if sc is not None and not sc.replica:  # what it wrote is exact now
            sc.refs.update(x[0] for x in cond.reservations)
        head = sp.head
        if not seqs or seqs == list(range(head + 1, head + 1 + len(seqs))):
            return  # nobody came between: the ledger is a prefix as it is
        assert len(seqs) == len(rows), "the store gave a seq per row"
        mapping = dict(zip(range(head + 1, head + 1 + len(seqs)), seqs, strict=True))
        self._renumber(sp, mapping)
        for cmd in batch:  # a result that names its seq names the real one
            res = cmd.result
            seq = getattr(res, "seq", None) if attrs.has(type(res)) else None
            if isinstance(seq, int) and seq in mapping:
                cmd.result = attrs.evolve(res, seq=mapping[seq])

    def _renumber(self, sp: Savepoint, mapping: dict[int, int]) -> None:
        """The rows folded under ``sp`` at the seqs after the head got
        ``mapping``'s seqs: the ledger keeps them, ahead. A fold records a
        row's seq in one place only, the reservation or block it creates,
        so those get their real seq; the head goes back to the prefix."""
        st = self.runner.state
        hs = st.holds
        for rid, old in sp.holds.items():
            h = hs.by_id.get(rid)
            if old is None and h is not None and h.seq in mapping:
                h.seq = mapping[h.seq]
        for token, old_b in sp.batches.items():
            b = hs.batches.get(token)
            if old_b is None and b is not None and b.seq in mapping:
                b.seq = mapping[b.seq]
        st.head = sp.head
        if self._scoped():
            return  # not a journal prefix, nor meant to become one
        self.ahead.update(mapping.values())
        if log.isEnabledFor(logging.DEBUG):  # only here when others' seqs came between
            log.debug(
                "%d row(s) folded ahead at seqs %d..%d (head %d, %d ahead)",
                len(mapping),
                min(mapping.values()),
                max(mapping.values()),
                st.head,
                len(self.ahead),
            )
        if len(self.ahead) > AHEAD_LIMIT:
            self._catch_up_ahead()

    def append_batch(self, commit: Commit, datas: Datas) -> list[int]:
        """Append a lone bulk command's one row (its plan reserved in the
        live grids), under its set-based conditions; returns its seqs."""
        st = self.runner.state
        cond = Conditions()
        if commit.rows:
            row = commit.rows[0]
            if len(commit.rows) != 1 or row[1] != Kind.HELD_BATCH:
                raise AssertionError("only a bulk hold commits alone on a guarded store")
            assert row[5] is not None
            cond = batch_conditions(st, datas, row[5], row[6])
        self._seqs = self.runner.store.append_guarded([commit], cond)
        return self._seqs

    def fold_ahead(self, rows: Sequence[NewRow], datas: Datas) -> None:
        """Fold a lone command's rows at the seqs ``append_batch`` got."""
        self._fold(self._seqs, rows, datas)

    def _fold(self, seqs: Sequence[int], rows: Sequence[NewRow], datas: Datas) -> None:
        st = self.runner.state
        head = st.head
        for seq, row, data in zip(seqs, rows, datas, strict=True):
            st.apply((seq, *row), data)
        st.head = head
        if self._scoped():
            return
        self.ahead.update(seqs)
        if len(self.ahead) > AHEAD_LIMIT:
            self._catch_up_ahead()

    def _catch_up_ahead(self) -> None:
        log.debug("%d rows folded ahead (limit %d): catching up", len(self.ahead), AHEAD_LIMIT)
        self.catch_up()

    # -- catching up -----------------------------------------------------
    def _scoped(self) -> bool:
        sc = self.runner.scoped
        return sc is not None and not sc.replica

    def catch_up(self) -> None:
        """Fold every row up to the store's safe horizon, skipping this
        process's rows already folded ahead (a worker without a replica
        folds nothing: it reads counters before it plans)."""
        if self._scoped():
            return
        st = self.runner.state
        rows, horizon = self.runner.store.tail(st.head)
        ahead = self.ahead
        apply = st.apply
        for row in rows:
            if row[0] not in ahead:
                apply(row)
        if horizon > st.head or rows:
            st.head = max(horizon, st.head)
        if ahead:
            self.ahead = {s for s in ahead if s > st.head}

    def caught_up_to(self, seq: int) -> bool:
        """True when every seq up to ``seq`` is folded."""
        head = self.runner.state.head
        if head >= seq:
            return True
        if seq - head > 4096:
            return False
        return all(s in self.ahead for s in range(head + 1, seq + 1))

    def catch_up_to(self, seq: int, timeout: float = CATCH_UP_WAIT) -> bool:
        """Catch up until every row up to ``seq`` is folded: appends still in
        flight below it commit or end within moments. False (logged) if
        ``timeout`` seconds pass first."""
        sc = self.runner.scoped
        if sc is not None and not sc.replica:  # after a conflict: forget, read again
            sc.conflicted(self.minted)
            return True
        deadline = time.monotonic() + timeout
        pause = 0.0005
        while True:
            self.catch_up()
            if self.caught_up_to(seq):
                return True
            if time.monotonic() >= deadline:
                log.warning("catch-up did not reach seq %d in %.0f s", seq, timeout)
                return False
            time.sleep(pause)
            pause = min(0.02, pause * 2)
