"""``Inventory``: the public face over one journal store.

Every state change is a command: it checks its arguments, expires holds due
by the clock, validates against the in-memory ledger, appends its journal
rows atomically with the head it saw (optimistic concurrency), then folds
the rows into the ledger through the same code replay uses. A command that
raises has changed nothing.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

import numpy as np

from . import codec, history
from ._validate import (
    check_id,
    check_opt_id,
    check_qty,
    check_when,
    to_micros,
)
from .bulkholds import BulkHoldCommands
from .commands import (
    RETRIES,
    Clock,
    Follow,
    Plan,
    _nothing,
    _Request,
    _utcnow,
)
from .errors import (
    ConcurrencyConflict,
    IdempotencyConflict,
    InvalidInput,
    OmnistockError,
    StorageError,
    UnknownLocation,
)
from .ledger import heldbatches
from .ledger.savepoint import Savepoint
from .ledger.state import LedgerState
from .orders import OrderCommands
from .queries import Reader
from .reports import CheckReport
from .reservations import ReservationCommands
from .stock import StockCommands
from .storage import Commit, NewRow, Store, open_store
from .values import (
    Channel,
    Entry,
    Location,
)


class Inventory(OrderCommands, ReservationCommands, BulkHoldCommands, StockCommands, Reader):
    """One retailer's stock ledger over a journal store.

    Thread-safe: commands from several threads are serialised. Several
    processes may open the same durable store; each sees the others' commands
    (queries catch up first) and conflicting writes are retried.
    """

    def __init__(
        self,
        store: Store | None = None,
        clock: Clock | None = None,
        *,
        snapshot_every: int = 200_000,
    ) -> None:
        from .storage.memory import MemoryStore

        if clock is not None and not callable(clock):
            raise InvalidInput(
                "clock", clock, "must be a zero-argument callable returning an aware UTC datetime"
            )
        self._store = store if store is not None else MemoryStore()
        self._clock: Clock = clock or _utcnow
        self._lock = threading.RLock()  # held by the group-commit leader
        self._queue_lock = threading.Lock()
        self._queue: list[_Request] = []
        self._snapshot_every = snapshot_every
        self._shared = not isinstance(self._store, MemoryStore) or store is not None
        self._state = self._load()
        self._last_snap = self._state.head
        self._closed = False

    @classmethod
    def open(cls, url: str = "memory://", clock: Clock | None = None, **options: Any) -> Inventory:
        """Open the inventory kept in ``url``: ``memory://`` (default),
        ``sqlite:///path.db`` or ``postgresql://...``. Opening loads the newest
        snapshot and replays the journal after it."""
        snapshot_every = options.pop("snapshot_every", 200_000)
        return cls(open_store(url, **options), clock=clock, snapshot_every=snapshot_every)

    @property
    def store(self) -> Store:
        return self._store

    def _load(self) -> LedgerState:
        snap = self._store.load_snapshot()
        st: LedgerState | None = None
        if snap is not None:
            try:
                st = LedgerState.from_bytes(snap[1])
                if st.head != snap[0]:
                    st = None
            except StorageError:
                st = None  # the journal is the truth: fall back to a full replay
        if st is None:
            st = LedgerState()
        from .ledger.replay import replay

        replay(st, self._store.read(st.head))
        return st

    # -- plumbing --------------------------------------------------------------
    def _sync(self) -> LedgerState:
        """Before a query: fold in other writers' rows, then expire (and
        journal) the holds due by the clock, so figures are true at now."""
        with self._lock:
            if self._closed:
                return self._state
            if self._shared:
                self._catch_up()
            first = self._state.holds.first_expiry()
            if first is not None and first <= self._now_us():
                self._run("expire", None, None, _nothing)
        return self._state

    def refresh(self) -> int:
        """Fold in what other writers appended; returns the new head."""
        with self._lock:
            self._catch_up()
            return self._state.head

    def _catch_up(self) -> None:
        st = self._state
        if self._store.head() > st.head:
            st.apply_all(self._store.read(st.head))

    def _now_us(self) -> int:
        if self._clock is _utcnow:
            return time.time_ns() // 1000
        return to_micros(check_when("clock()", self._clock()))

    def _now_of(self, st: LedgerState) -> int:
        return max(self._now_us(), st.last_ts)

    def _run(
        self,
        name: str,
        args: Any,
        key: str | None,
        plan: Callable[[int], Plan],
        follow: Follow | None = None,
    ) -> Any:
        """Run one command: idempotency, lazy expiry, validation, append.

        ``args`` (or a callable returning them) identify the command for its
        idempotency key; they are only built when a key is given. Commands
        from several threads are group-committed (see ``_drain``)."""
        return self._submit(self._request(name, args, key, plan, follow))

    def _request(
        self,
        name: str,
        args: Any,
        key: str | None,
        plan: Callable[[int], Plan],
        follow: Follow | None = None,
    ) -> _Request:
        fp = None
        if key is not None:
            check_id("key", key)
            if callable(args):
                args = args()
            fp = name + ":" + json.dumps(args, sort_keys=True, default=str)
        return _Request(name, key, fp, plan, follow)

    def _submit(self, req: _Request) -> Any:
        self._check_open()
        with self._queue_lock:
            self._queue.append(req)
        with self._lock:
            if not req.done:
                self._drain()
        if req.error is not None:
            raise req.error
        return req.result

    def _submit_many(self, reqs: list[_Request]) -> None:
        """Queue several commands and drain them: one group commit when no
        other thread is draining. Each request ends done with its result or
        error; requests already done (refused up front) are left as they are."""
        self._check_open()
        with self._queue_lock:
            self._queue.extend(r for r in reqs if not r.done)
        with self._lock:
            self._drain()

    def _drain(self) -> None:
        """Group commit. The thread holding the lock takes every queued
        command, plans each against the live ledger (applying its rows before
        the next one plans, under a savepoint), then appends them all in one
        store transaction. A command that fails validation gets its own error
        and is left out; its neighbours go on. If the store refuses the batch
        the ledger is rolled back, caught up and the batch planned again."""
        while True:
            with self._queue_lock:
                batch, self._queue = self._queue, []
            if not batch:
                return
            self._commit_batch(batch)

    def _commit_batch(self, batch: list[_Request]) -> None:
        st = self._state
        if (
            len(batch) == 1
            and batch[0].follow is None
            and batch[0].key is None
            and self._commit_alone(batch[0])
        ):
            # A refusal is only true if the ledger it was checked against was
            # current: another process may have received stock meanwhile.
            if not (
                self._shared
                and isinstance(batch[0].error, OmnistockError)
                and self._store.head() > st.head
            ):
                return
            batch[0].error, batch[0].done = None, False
            self._catch_up()
        for attempt in range(RETRIES):
            sp = Savepoint(st)
            commits: list[Commit] = []
            try:
                now = self._now_us()
                self._plan_expiry(now, sp, commits)
                in_batch: dict[str, _Request] = {}
                for req in batch:
                    req.error = None
                    self._plan_one(req, now, sp, commits, in_batch)
                if (
                    self._shared
                    and any(isinstance(r.error, OmnistockError) for r in batch)
                    and self._store.head() != sp.head
                ):
                    # Refused against a stale ledger: catch up and plan again.
                    raise ConcurrencyConflict("refused against a stale ledger")
                if commits:
                    new_head = self._store.append(commits, sp.head)
                    if new_head != st.head:  # partitioned store: others' rows between
                        sp.rollback()
                        self._catch_up()
            except ConcurrencyConflict:
                sp.rollback()
                self._catch_up()
                time.sleep(0.0002 * attempt)
                continue
            except BaseException as exc:
                sp.rollback()
                for req in batch:
                    if req.error is None:
                        req.error = exc if isinstance(exc, Exception) else StorageError(str(exc))
                    req.done = True
                if not isinstance(exc, Exception):
                    raise
                return
            for req in batch:
                req.done = True
            if st.head - self._last_snap >= self._snapshot_every:
                self._snapshot()
            return
        for req in batch:
            req.error = ConcurrencyConflict(f"{req.name}: gave up after {RETRIES} conflicts")
            req.done = True

    def _commit_alone(self, req: _Request) -> bool:
        """The lone-command path: plan, append, then apply. Nothing is applied
        before the store accepts, so no savepoint is needed. Returns False
        (nothing done) when holds are due to expire or the store refused, for
        the general path to handle."""
        st = self._state
        now = self._now_us()
        first = st.holds.first_expiry()
        if first is not None and first <= now:
            return False
        try:
            rows, datas, result = req.plan(now)
        except OmnistockError as exc:
            req.error, req.done = exc, True
            return True
        if rows:
            head = st.head
            try:
                new_head = self._store.append([Commit(tuple(rows))], head)
            except ConcurrencyConflict:
                self._catch_up()
                return False
            except Exception as exc:
                req.error, req.done = exc, True
                return True
            self._fold_appended(head, new_head, rows, datas)
        req.result, req.done = result, True
        return True

    def _fold_appended(
        self,
        head: int,
        new_head: int,
        rows: list[NewRow],
        datas: list[dict[str, Any] | None],
        undo: Callable[[], None] | None = None,
    ) -> None:
        """Fold rows the store just appended after ``head``: directly when
        they got the next numbers, else (a partitioned store put others' rows
        between) by taking back what planning did (``undo``) and catching up,
        which reads ours back too. Then snapshot if due."""
        st = self._state
        if new_head != head + len(rows):
            if undo is not None:
                undo()
            self._catch_up()
        else:
            for i, r in enumerate(rows):
                st.apply((head + 1 + i, *r), datas[i])
        if st.head - self._last_snap >= self._snapshot_every:
            self._snapshot()

    def _commit_block(
        self, name: str, key: str | None, fp: str | None, plan: Callable[[int], Any]
    ) -> Any:
        """Commit one bulk command alone, with no savepoint: ``plan(now)``
        decides it in the live grids and returns ``(rows, datas, result,
        undo)``; the rows are appended, then folded (their data says the
        grids are already done). If the store refuses, ``undo`` takes the
        reservations back and the command is planned again on the caught-up
        ledger. Commands queued earlier go first; holds due expire first.

        There is no catch-up before planning (a store round trip): the
        append carries the head the plan saw, and a block row conflicts with
        any row appended since, so a batch whose refusals were decided on a
        stale ledger is refused by the store and decided again. Only a
        batch with nothing to append checks the head itself."""
        self._check_open()
        with self._lock:
            self._drain()
            st = self._state
            for attempt in range(RETRIES):
                now = self._now_us()
                first = st.holds.first_expiry()
                if first is not None and first <= now:
                    self._run("expire", None, None, _nothing)
                    now = self._now_us()
                if key is not None:
                    rec = self._store.lookup_key(key)
                    if rec is not None:
                        if rec.fingerprint != fp:
                            raise IdempotencyConflict(key, rec.fingerprint.split(":", 1)[0], name)
                        return codec.decode(rec.result)
                rows, datas, result, undo = plan(now)
                if not rows and self._shared and self._store.head() != st.head:
                    # Only refusals, decided on a ledger that may be stale:
                    # another process may have received stock. Decide again.
                    self._catch_up()
                    continue
                if not rows and key is None:
                    return result
                head = st.head
                try:
                    new_head = self._store.append(
                        [
                            Commit(
                                tuple(rows), key, fp, None if key is None else codec.encode(result)
                            )
                        ],
                        head,
                    )
                except ConcurrencyConflict:
                    undo()
                    self._catch_up()
                    time.sleep(0.0002 * attempt)
                    continue
                except BaseException:
                    undo()
                    raise
                self._fold_appended(head, new_head, rows, datas, undo)
                return result
            raise ConcurrencyConflict(f"{name}: gave up after {RETRIES} conflicts")

    def _plan_one(
        self,
        req: _Request,
        now: int,
        sp: Savepoint,
        commits: list[Commit],
        in_batch: dict[str, _Request],
    ) -> None:
        key = req.key
        if key is not None:
            first = in_batch.get(key)
            if first is None:
                rec = self._store.lookup_key(key)
                if rec is not None:
                    if rec.fingerprint != req.fp:
                        req.error = IdempotencyConflict(
                            key, rec.fingerprint.split(":", 1)[0], req.name
                        )
                    else:
                        req.result = codec.decode(rec.result)
                    return
            elif first.fp != req.fp:
                req.error = IdempotencyConflict(key, first.name, req.name)
                return
            else:
                req.error, req.result = first.error, first.result
                return
            in_batch[key] = req
        try:
            rows, datas, result = req.plan(now)
        except OmnistockError as exc:
            req.error = exc
            return
        self._apply_local(sp, rows, datas)
        if req.follow is not None:
            more: list[NewRow] = []

            def emit(new: list[NewRow], new_datas: list[dict[str, Any] | None]) -> None:
                self._apply_local(sp, new, new_datas)
                more.extend(new)

            result = req.follow(now, result, emit)
            rows = rows + more
        req.result = result
        if rows or key is not None:
            commits.append(
                Commit(tuple(rows), key, req.fp, None if key is None else codec.encode(result))
            )

    def _apply_local(
        self, sp: Savepoint, rows: list[NewRow], datas: list[dict[str, Any] | None]
    ) -> None:
        st = self._state
        for r, data in zip(rows, datas, strict=True):
            row = (st.head + 1, *r)
            sp.touch(row, data)
            st.apply(row, data)

    def _plan_expiry(self, now: int, sp: Savepoint, commits: list[Commit]) -> None:
        st = self._state
        due = st.holds.due(now)
        if not due and not st.holds.due_batches(now):
            return
        rows: list[NewRow] = []
        ts = self._ts(now)
        g = st.grid
        for rid in due:
            h = st.holds.by_id[rid]
            for (s, l), q in h.lines.items():
                rows.append((ts, "expired", g.skus[s], g.locs[l], q, rid, h.channel, None, None))
        for token in st.holds.due_batches(now):
            b = st.holds.batches[token]
            m = b.live_lines()
            names = [g.skus[i] for i in np.unique(b.s[m]).tolist()]
            members = [b.orders[j] for j in b.live_members()]
            text = json.dumps(
                {"orders": heldbatches.pack_strs(members), "skus": heldbatches.pack_strs(names)},
                separators=(",", ":"),
                ensure_ascii=False,
            )
            rows.append(
                (
                    ts,
                    heldbatches.EXPIRED_BATCH,
                    heldbatches.BATCH_SKU,
                    None,
                    int(b.q[m].sum()),
                    token,
                    b.channel,
                    None,
                    text,
                )
            )
        self._apply_local(sp, rows, [None] * len(rows))
        commits.append(Commit(tuple(rows)))

    def _claim(self, ts: int, key: str | None, scope: str) -> list[NewRow]:
        """Rows that make a new id's minting conflict between writers. In a
        partitioned store, two processes could otherwise derive the same id
        (``<order>#1``, ``T<head>``) for rows in different partitions; the
        claim's partition key is the scope the id is derived from, so they
        conflict and the loser catches up and mints the next id."""
        if not self._store.partitioned:
            return []
        return [(ts, "claimed", "~" + scope, None, 0, None, None, key, None)]

    def _ts(self, now: int) -> int:
        # Journal time never runs backwards, even if clocks differ.
        return max(now, self._state.last_ts)

    def _check_open(self) -> None:
        if self._closed:
            raise StorageError("inventory is closed")

    # -- network ----------------------------------------------------------------
    def add_location(self, location: Location, key: str | None = None) -> Location:
        """Add (or replace) a location. Journaled, so every process sees it."""
        if not isinstance(location, Location):
            raise InvalidInput("location", location, "must be a Location")
        d = location.to_dict()

        def plan(now: int) -> Plan:
            st = self._state
            rt = location.returns_to
            if rt is not None and rt not in st.locations and rt != location.id:
                raise UnknownLocation(rt, "returns_to")
            if (
                st.locations.get(location.id) == location
                and st.locations[location.id].to_dict() == d
            ):
                return [], [], location
            data = {"location": d}
            row = (
                self._ts(now),
                "location-added",
                None,
                location.id,
                0,
                None,
                None,
                key,
                json.dumps(data),
            )
            return [row], [data], location

        result: Location = self._run("add_location", d, key, plan)
        return result

    def add_channel(self, channel: Channel, key: str | None = None) -> Channel:
        """Add (or replace) a channel. Its locations must exist."""
        if not isinstance(channel, Channel):
            raise InvalidInput("channel", channel, "must be a Channel")
        d = channel.to_dict()

        def plan(now: int) -> Plan:
            st = self._state
            for loc in channel.locations or ():
                if loc not in st.locations:
                    raise UnknownLocation(loc, "locations")
            old = st.channels.get(channel.id)
            if old is not None and old.to_dict() == d:
                return [], [], channel
            data = {"channel": d}
            row = (
                self._ts(now),
                "channel-added",
                None,
                None,
                0,
                None,
                channel.id,
                key,
                json.dumps(data),
            )
            return [row], [data], channel

        result: Channel = self._run("add_channel", d, key, plan)
        return result

    # -- journal ------------------------------------------------------------------------
    def history(
        self,
        sku: str | None = None,
        location: str | None = None,
        ref: str | None = None,
        since: int = 0,
        until: int | None = None,
        kind: str | None = None,
        limit: int | None = None,
    ) -> list[Entry]:
        """Journal entries matching every filter given, oldest first. A bulk
        hold's row is shown as one ``held`` entry per reservation line (all
        with the row's seq); see ``omnistock.history``."""
        check_opt_id("sku", sku)
        check_opt_id("location", location)
        check_opt_id("ref", ref)
        since = check_qty("since", since, 0)
        if until is not None:
            until = check_qty("until", until, 0)
        check_opt_id("kind", kind)
        if limit is not None:
            limit = check_qty("limit", limit, 0)
            if limit == 0:
                return []
        out: list[Entry] = []
        rows = history.rows_for(self._store, since, until, sku, location, ref)
        for e in history.entries(self._store, rows, sku, location, ref):
            if kind is not None and e.kind != kind:
                continue
            out.append(e)
            if limit is not None and len(out) >= limit:
                break
        return out

    def at(self, when: int | datetime) -> LedgerView:
        """A read-only view of the ledger as it was at a sequence number or a
        time (the last entry at or before it)."""
        with self._lock:
            self._catch_up()
            if isinstance(when, datetime):
                seq = self._store.seq_at(to_micros(check_when("when", when)))
            else:
                seq = check_qty("when", when, 0)
                if seq > self._state.head:
                    raise InvalidInput("when", when, f"is past the head {self._state.head}")
            snap = self._store.load_snapshot(seq)
            st = LedgerState.from_bytes(snap[1]) if snap else LedgerState()
            from .ledger.replay import replay

            replay(st, self._store.read(st.head, seq))
            return LedgerView(st)

    def check(self) -> CheckReport:
        """The built-in reconciler: replay the whole journal into a fresh
        ledger, compare it with the live one and check every invariant.
        O(journal + positions)."""
        with self._lock:
            self._catch_up()
            live = self._state
            fresh = LedgerState()
            from .ledger.replay import replay

            n = replay(fresh, self._store.read(0, live.head))
            problems = []
            if fresh.digest() != live.digest():
                problems.append("live ledger differs from a replay of the journal")
            problems += live.violations()
            problems += [f"replay: {p}" for p in fresh.violations() if p not in problems]
            return CheckReport(not problems, live.head, n, live.digest(), tuple(problems))

    def snapshot(self) -> int:
        """Save a snapshot at the current head (fast start-up); returns its seq."""
        with self._lock:
            self._catch_up()
            return self._snapshot()

    def _snapshot(self) -> int:
        st = self._state
        self._store.save_snapshot(st.head, st.to_bytes())
        self._last_snap = st.head
        return st.head

    def digest(self) -> str:
        """Hash of the full ledger state (equal digests, equal ledgers)."""
        return self._sync().digest()

    def close(self) -> None:
        """Snapshot if much happened since the last one, and close the store."""
        with self._lock:
            if self._closed:
                return
            try:
                if self._state.head - self._last_snap >= 1000:
                    self._snapshot()
            except OmnistockError:
                pass
            self._store.close()
            self._closed = True

    def __enter__(self) -> Inventory:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


class LedgerView(Reader):
    """A read-only ledger at one point of the journal (from ``Inventory.at``)."""

    def __init__(self, state: LedgerState) -> None:
        self._state = state

    def digest(self) -> str:
        return self._state.digest()
