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
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime, timedelta
from json.encoder import encode_basestring as _json_str
from typing import Any

from . import codec
from ._validate import (
    MAX_QTY,
    check_id,
    check_opt_id,
    check_qty,
    check_ttl,
    check_when,
    from_micros,
    to_micros,
)
from .errors import (
    ConcurrencyConflict,
    IdempotencyConflict,
    InsufficientStock,
    InvalidInput,
    InvalidQuantity,
    InvalidTransition,
    OmnistockError,
    StorageError,
    UnknownLocation,
)
from .ledger.grid import STATE_INDEX, Pos
from .ledger.holds import COMMITTED, FULFILLED, HELD, OPEN, Hold
from .ledger.state import SELLABLE, LedgerState
from .ledger.undo import Savepoint
from .orders import OrderCommands
from .queries import Reader, _reservation
from .reports import CheckReport
from .storage import Commit, NewRow, Store, open_store
from .values import (
    Applied,
    Channel,
    Entry,
    Line,
    Location,
    Order,
    Reservation,
    ReservationLine,
    Shortage,
    Transfer,
    lines_of,
)

Clock = Callable[[], datetime]
DEFAULT_TTL = timedelta(minutes=15)
RETRIES = 50
CONDITIONS = ("sellable", "damaged", "inspection", "quarantine", "display", "write_off")

# A planned command: rows to append, their parsed data, and the result.
Plan = tuple[list[NewRow], list[dict[str, Any] | None], Any]
# Emits more rows into the command being committed (applied at once).
Emit = Callable[[list[NewRow], list[dict[str, Any] | None]], None]
# A follow-up step: runs once the command's rows are applied, may emit more
# rows into the same commit, and returns the command's final result.
Follow = Callable[[int, Any, Emit], Any]


class _Request:
    """One queued command and, once the leader ran it, its outcome."""

    __slots__ = ("done", "error", "follow", "fp", "key", "name", "plan", "result")

    def __init__(self, name: str, key: str | None, fp: str | None,
                 plan: Callable[[int], Plan], follow: Follow | None = None) -> None:
        self.name = name
        self.key = key
        self.fp = fp
        self.plan = plan
        self.follow = follow
        self.result: Any = None
        self.error: BaseException | None = None
        self.done = False

    @classmethod
    def failed(cls, name: str, error: BaseException) -> _Request:
        r = cls(name, None, None, _nothing)
        r.error, r.done = error, True
        return r


def _nothing(now: int) -> Plan:
    """A command that moves nothing (queries use it to apply expiry)."""
    return [], [], None


def _utcnow() -> datetime:
    return datetime.now(UTC)


class Inventory(OrderCommands, Reader):
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
            raise InvalidInput("clock", clock, "must be a zero-argument callable returning "
                               "an aware UTC datetime")
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
    def open(cls, url: str = "memory://", clock: Clock | None = None,
             **options: Any) -> Inventory:
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
            if self._state.holds.expiry and self._state.holds.expiry[0][0] <= self._now_us():
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

    def _run(self, name: str, args: Any, key: str | None, plan: Callable[[int], Plan],
             follow: Follow | None = None) -> Any:
        """Run one command: idempotency, lazy expiry, validation, append.

        ``args`` (or a callable returning them) identify the command for its
        idempotency key; they are only built when a key is given. Commands
        from several threads are group-committed (see ``_drain``)."""
        return self._submit(self._request(name, args, key, plan, follow))

    def _request(self, name: str, args: Any, key: str | None,
                 plan: Callable[[int], Plan], follow: Follow | None = None) -> _Request:
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
        if len(batch) == 1 and batch[0].follow is None and batch[0].key is None \
                and self._commit_alone(batch[0]):
            return
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
        exp = st.holds.expiry
        if exp and exp[0][0] <= now:
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
            if new_head != head + len(rows):  # partitioned store: others' rows between
                self._catch_up()
            else:
                for i, r in enumerate(rows):
                    st.apply((head + 1 + i, *r), datas[i])
            if st.head - self._last_snap >= self._snapshot_every:
                self._snapshot()
        req.result, req.done = result, True
        return True

    def _plan_one(self, req: _Request, now: int, sp: Savepoint, commits: list[Commit],
                  in_batch: dict[str, _Request]) -> None:
        key = req.key
        if key is not None:
            first = in_batch.get(key)
            if first is None:
                rec = self._store.lookup_key(key)
                if rec is not None:
                    if rec.fingerprint != req.fp:
                        req.error = IdempotencyConflict(
                            key, rec.fingerprint.split(":", 1)[0], req.name)
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
            commits.append(Commit(tuple(rows), key, req.fp,
                                  None if key is None else codec.encode(result)))

    def _apply_local(self, sp: Savepoint, rows: list[NewRow],
                     datas: list[dict[str, Any] | None]) -> None:
        st = self._state
        for r, data in zip(rows, datas, strict=True):
            row = (st.head + 1, *r)
            sp.touch(row, data)
            st.apply(row, data)

    def _plan_expiry(self, now: int, sp: Savepoint, commits: list[Commit]) -> None:
        st = self._state
        due = st.holds.due(now)
        if not due:
            return
        rows: list[NewRow] = []
        ts = self._ts(now)
        g = st.grid
        for rid in due:
            h = st.holds.by_id[rid]
            for (s, l), q in h.lines.items():
                rows.append((ts, "expired", g.skus[s], g.locs[l], q, rid, h.channel, None, None))
        self._apply_local(sp, rows, [None] * len(rows))
        commits.append(Commit(tuple(rows)))

    def hold_many(self, orders: Sequence[Order], ttl: Any = DEFAULT_TTL,
                  keys: Sequence[str | None] | None = None) -> list[Reservation | OmnistockError]:
        """Hold many orders in one store transaction (group commit).

        Each order is validated and reserved in sequence, exactly as ``hold``
        would; the result list holds a ``Reservation`` or the typed error for
        each order, in order. One refused order never fails its neighbours."""
        if keys is not None and len(keys) != len(orders):
            raise InvalidInput("keys", len(keys), f"must give one key per order ({len(orders)})")
        reqs = []
        for i, o in enumerate(orders):
            try:
                reqs.append(self._hold_request(o, ttl, None if keys is None else keys[i]))
            except OmnistockError as exc:
                reqs.append(_Request.failed("hold", exc))
        self._check_open()
        with self._queue_lock:
            self._queue.extend(r for r in reqs if not r.done)
        with self._lock:
            self._drain()
        out: list[Reservation | OmnistockError] = []
        for r in reqs:
            if r.error is not None and not isinstance(r.error, OmnistockError):
                raise r.error  # a bug or an interrupt, not a refusal
            out.append(r.error if r.error is not None else r.result)
        return out

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
            if st.locations.get(location.id) == location and \
                    st.locations[location.id].to_dict() == d:
                return [], [], location
            data = {"location": d}
            row = (self._ts(now), "location-added", None, location.id, 0, None, None, key,
                   json.dumps(data))
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
            row = (self._ts(now), "channel-added", None, None, 0, None, channel.id, key,
                   json.dumps(data))
            return [row], [data], channel

        result: Channel = self._run("add_channel", d, key, plan)
        return result

    # -- stock movements ------------------------------------------------------------
    def receive(self, sku: str, location: str, qty: int, key: str | None = None,
                ref: str | None = None) -> Applied:
        """Add ``qty`` sellable units. ``ref`` names expected supply (from
        ``expect``) that this receipt fulfils."""
        check_id("sku", sku)
        q = check_qty("qty", qty)
        check_opt_id("ref", ref)

        def plan(now: int) -> Plan:
            s, l = self._known_pos(sku, location, new_sku=True)
            self._no_overflow(s, l, q)
            row = (self._ts(now), "received", sku, location, q, ref, None, key, None)
            return [row], [None], Applied(self._state.head + 1)

        result: Applied = self._run("receive", [sku, location, q, ref], key, plan)
        return result

    def count(self, sku: str, location: str, qty: int, state: str = SELLABLE,
              key: str | None = None) -> Applied:
        """A cycle count: set the units in ``state`` (sellable by default) to
        ``qty``. Physical truth: it always applies, and reports a shortage for
        reservations it leaves uncovered."""
        check_id("sku", sku)
        q = check_qty("qty", qty, 0)
        self._check_state("state", state)

        def plan(now: int) -> Plan:
            st = self._state
            s, l = self._known_pos(sku, location, new_sku=True)
            cur = self._units(s, l, state)
            delta = q - cur
            if delta > 0 and s < len(st.grid.skus) and st.grid.on_hand(s, l) + delta > MAX_QTY:
                raise InvalidQuantity("qty", qty, "would take on_hand past 2**62")
            data = {"state": state, "to": q}
            row = (self._ts(now), "counted", sku, location, delta, None, None, key,
                   json.dumps(data))
            short = self._shortages({(s, l): -delta} if state == SELLABLE else {})
            return [row], [data], Applied(st.head + 1, short)

        result: Applied = self._run("count", [sku, location, q, state], key, plan,
                                    self._resource_follow)
        return result

    def sell(self, location: str, lines: Iterable[Any], key: str | None = None,
             channel: str | None = None) -> Applied:
        """A walk-in sale at ``location``: physical truth, always applied even
        beyond ATP. Reports shortages for reservations left uncovered."""
        ls = lines_of(lines)
        check_opt_id("channel", channel)

        def plan(now: int) -> Plan:
            st = self._state
            self._loc(st, location)
            if channel is not None:
                self._channel(st, channel)
            ts = self._ts(now)
            rows: list[NewRow] = []
            taken: dict[Pos, int] = {}
            for ln in ls:
                if ln.location is not None and ln.location != location:
                    raise InvalidInput("lines", ln, f"is pinned to another location "
                                       f"than the sale's location={location!r}")
                s, l = self._known_pos(ln.sku, location)
                taken[(s, l)] = taken.get((s, l), 0) + ln.qty
                if st.grid.on_hand(s, l) - taken[(s, l)] < -MAX_QTY:
                    raise InvalidQuantity("qty", ln.qty, "would take on_hand below -2**62")
                rows.append((ts, "sold", ln.sku, location, ln.qty, None, channel, key, None))
            return rows, [None] * len(rows), Applied(st.head + len(rows),
                                                     self._shortages(taken))

        args = [location, [[x.sku, x.qty] for x in ls], channel]
        result: Applied = self._run("sell", args, key, plan, self._resource_follow)
        return result

    def set_safety(self, sku: str, location: str, qty: int, key: str | None = None) -> Applied:
        """Set the safety stock of a position: units kept out of ATP."""
        check_id("sku", sku)
        q = check_qty("qty", qty, 0)

        def plan(now: int) -> Plan:
            st = self._state
            s, l = self._known_pos(sku, location, new_sku=True)
            delta = q - st.grid.safety.get((s, l), 0)
            if delta == 0:
                return [], [], Applied(st.head)
            data = {"to": q}
            row = (self._ts(now), "safety-set", sku, location, delta, None, None, key,
                   json.dumps(data))
            return [row], [data], Applied(st.head + 1)

        result: Applied = self._run("set_safety", [sku, location, q], key, plan)
        return result

    def change_state(self, sku: str, location: str, qty: int, to: str,
                     from_: str = SELLABLE, key: str | None = None) -> Applied:
        """Move ``qty`` units between states (sellable, damaged, inspection,
        quarantine, display). Moving sellable units out may leave reservations
        uncovered: that is reported as a shortage."""
        check_id("sku", sku)
        q = check_qty("qty", qty)
        self._check_state("to", to)
        self._check_state("from_", from_)
        if to == from_:
            raise InvalidInput("to", to, "is the same as from_")

        def plan(now: int) -> Plan:
            st = self._state
            s, l = self._known_pos(sku, location)
            have = self._units(s, l, from_)
            if have < q:
                raise InsufficientStock(sku, q, max(0, have), location)
            data = {"from": from_, "to": to}
            row = (self._ts(now), "state-changed", sku, location, q, None, None, key,
                   json.dumps(data))
            short = self._shortages({(s, l): q} if from_ == SELLABLE else {})
            return [row], [data], Applied(st.head + 1, short)

        result: Applied = self._run("change_state", [sku, location, q, to, from_], key, plan,
                                    self._resource_follow)
        return result

    def return_items(self, location: str, lines: Iterable[Any], condition: str = SELLABLE,
                     order_id: str | None = None, key: str | None = None) -> Applied:
        """Take back returned units at a location that accepts returns.

        ``condition``: ``sellable`` restocks here when the location ranges the
        SKU (it has stocked it before), otherwise the units are transferred
        on to the location's ``returns_to`` (when it has one); ``damaged``,
        ``inspection``, ``quarantine`` or ``display`` put the units in that
        unsellable state (``change_state`` moves them back after inspection);
        ``write_off`` journals the return and leaves on_hand unchanged."""
        ls = lines_of(lines)
        check_opt_id("order_id", order_id)
        if condition not in CONDITIONS:
            raise InvalidInput("condition", condition, f"must be one of {', '.join(CONDITIONS)}")

        def plan(now: int) -> Plan:
            st = self._state
            self._loc(st, location)
            if not st.locations[location].accepts_returns:
                raise InvalidInput("location", location, "does not accept returns")
            ts = self._ts(now)
            data = {"state": condition}
            rows: list[NewRow] = []
            datas: list[dict[str, Any] | None] = []
            onward: list[tuple[str, int]] = []
            back_to = st.locations[location].returns_to
            for ln in ls:
                s, l = self._known_pos(ln.sku, location)
                self._no_overflow(s, l, ln.qty)
                rows.append((ts, "returned", ln.sku, location, ln.qty, order_id, None, key,
                             json.dumps(data)))
                datas.append(data)
                if condition == SELLABLE and back_to is not None \
                        and (s, l) not in st.ranged and back_to != location:
                    onward.append((ln.sku, ln.qty))
            transfers = []
            if back_to is not None and onward:  # not ranged here: send it on
                hours = self._policy_of(st).transfer_hours
                eta = now + int(hours * 3600 * 1_000_000)
                for sku, q in onward:
                    tid = f"T{st.head + len(rows) + 1}"
                    d = {"to": back_to, "eta": eta}
                    rows.append((ts, "transfer-out", sku, location, q, tid, None, key,
                                 json.dumps(d)))
                    datas.append(d)
                    transfers.append(Transfer(tid, sku, location, back_to, q, from_micros(eta)))
            return rows, datas, Applied(st.head + len(rows), transfers=tuple(transfers))

        args = [location, [[x.sku, x.qty] for x in ls], condition, order_id]
        result: Applied = self._run("return_items", args, key, plan)
        return result

    def expect(self, sku: str, location: str, qty: int, eta: datetime,
               ref: str | None = None, key: str | None = None) -> str:
        """Record incoming supply (a purchase order line) due at ``eta``.
        Returns its id; ``receive(..., ref=id)`` consumes it. Not in ATP;
        ``promise()`` counts it."""
        check_id("sku", sku)
        q = check_qty("qty", qty)
        eta_us = to_micros(check_when("eta", eta))
        check_opt_id("ref", ref)

        def plan(now: int) -> Plan:
            st = self._state
            self._known_pos(sku, location, new_sku=True)
            sid = ref or f"po-{st.head + 1}"
            data = {"eta": eta_us}
            row = (self._ts(now), "expected", sku, location, q, sid, None, key, json.dumps(data))
            return [row], [data], sid

        result: str = self._run("expect", [sku, location, q, eta_us, ref], key, plan)
        return result

    # -- reservations ----------------------------------------------------------------
    def hold(self, order: Order, ttl: Any = DEFAULT_TTL, key: str | None = None) -> Reservation:
        """Reserve an order's lines until ``now + ttl``.

        All-or-nothing unless ``order.allow_partial``: raises
        ``InsufficientStock`` naming the first short line, reserving nothing.
        Lines must be pinned (``Line(sku, qty, location=...)``) or the order a
        pickup order (reserved at ``pickup_at``). O(lines)."""
        result: Reservation = self._submit(self._hold_request(order, ttl, key))
        return result

    def _hold_request(self, order: Order, ttl: Any, key: str | None) -> _Request:
        if not isinstance(order, Order):
            raise InvalidInput("order", order, "must be an Order")
        td = check_ttl("ttl", ttl)
        ttl_us = td // timedelta(microseconds=1)

        def plan(now: int) -> Plan:
            st = self._state
            want = self._pinned(order)
            exp = now + ttl_us
            rid = st.holds.next_id(order.id)
            ts = self._ts(now)
            rows: list[NewRow] = []
            datas: list[dict[str, Any] | None] = []
            g = st.grid
            lines = []
            data = {"exp": exp, "order": order.id}
            text = f'{{"exp":{exp},"order":{_json_str(order.id)}}}'
            for (s, l), q in want.items():
                sku, loc = g.skus[s], g.locs[l]
                rows.append((ts, "held", sku, loc, q, rid, order.channel, key, text))
                datas.append(data)
                lines.append(ReservationLine(sku, loc, q))
            res = Reservation(
                id=rid, state=HELD, expires_at=from_micros(exp), order_id=order.id,
                channel=order.channel,
                lines=tuple(lines),
            )
            return rows, datas, res

        return self._request("hold", lambda: [codec.order_args(order), ttl_us], key, plan)

    def _pinned(self, order: Order) -> dict[Pos, int]:
        """Positions and quantities to reserve for ``order``, checked against
        ATP and the channel's figure. Raises without side effects."""
        st = self._state
        ch = self._channel(st, order.channel) if order.channel is not None else None
        if order.method == "pickup":
            self._loc(st, order.pickup_at, "pickup_at")
            assert order.pickup_at is not None
            if not st.locations[order.pickup_at].pickup:
                raise InvalidInput("pickup_at", order.pickup_at, "does not offer pickup")
        want: dict[Pos, int] = {}
        for ln in order.lines:
            loc = ln.location or (order.pickup_at if order.method == "pickup" else None)
            if loc is None:
                raise InvalidInput(
                    "lines", ln,
                    "has no location; sourcing unpinned lines needs the fulfilment "
                    "policy (inv.allocate); pin it with Line(sku, qty, location=...)",
                )
            s = self._sku(st, ln.sku)
            l = self._loc(st, loc)
            if ch is not None and ch.locations is not None and loc not in ch.locations:
                raise InvalidInput("lines", ln, f"location {loc!r} does not serve "
                                   f"channel {ch.id!r}")
            want[(s, l)] = want.get((s, l), 0) + ln.qty
        g = st.grid
        out: dict[Pos, int] = {}
        for (s, l), q in want.items():
            atp = int(g.free[s, l]) - int(g.reserved[s, l])
            if atp < q:
                if not order.allow_partial:
                    raise InsufficientStock(g.skus[s], q, max(0, atp), g.locs[l], order.channel)
                q = max(0, atp)
            if q:
                out[(s, l)] = q
        if ch is not None and self._fenced(st, ch):
            per_sku: dict[int, int] = {}
            for (s, _), q in out.items():
                per_sku[s] = per_sku.get(s, 0) + q
            for s, q in per_sku.items():
                room = self._channel_room(st, ch, s)
                if q > room:
                    raise InsufficientStock(g.skus[s], q, room, None, ch.id)
        if not out:
            first = order.lines[0]
            raise InsufficientStock(first.sku, first.qty, 0, first.location, order.channel)
        return out

    def _open_hold(self, res_id: Any, allowed: tuple[str, ...], action: str) -> Hold:
        st = self._state
        h = self._hold(st, res_id)
        if h.state not in allowed:
            raise InvalidTransition("res_id", res_id, f"is {h.state}; cannot {action} it")
        return h

    def _line_rows(self, h: Hold, kind: str, now: int, key: str | None,
                   data: dict[str, Any] | None = None,
                   qtys: dict[Pos, int] | None = None) -> tuple[list[NewRow], list[Any]]:
        g = self._state.grid
        ts = self._ts(now)
        text = None if data is None else json.dumps(data)
        rows: list[NewRow] = []
        for (s, l), q in (qtys or h.lines).items():
            rows.append((ts, kind, g.skus[s], g.locs[l], q, h.id, h.channel, key, text))
        return rows, [data] * len(rows)

    def _after(self, h: Hold, rows: list[NewRow], datas: list[Any]) -> Reservation:
        """The reservation as it will be once ``rows`` apply (the result a
        command returns, and a repeated key returns again)."""
        g = self._state.grid
        tmp = h.copy()
        for r, data in zip(rows, datas, strict=True):
            kind, qty = r[1], r[4]
            p = (g.sku_ix[r[2]], g.loc_ix[r[3]])  # type: ignore[index]
            if kind == "committed":
                tmp.state, tmp.expires_us = COMMITTED, None
            elif kind == "extended":
                tmp.expires_us = data["exp"]
            else:  # released, expired, fulfilled take units off the line
                left = tmp.lines.get(p, 0) - qty
                if left > 0:
                    tmp.lines[p] = left
                else:
                    tmp.lines.pop(p, None)
                if kind == "fulfilled":
                    tmp.shipped[p] = tmp.shipped.get(p, 0) + qty
                    if not tmp.lines:
                        tmp.state, tmp.expires_us = FULFILLED, None
                else:
                    tmp.state, tmp.expires_us = kind, None
        return _reservation(self._state, tmp)

    def commit(self, res_id: str, key: str | None = None) -> Reservation:
        """HELD -> COMMITTED: the hold no longer expires. Committing a committed
        reservation changes nothing."""

        def plan(now: int) -> Plan:
            h = self._open_hold(res_id, OPEN, "commit")
            if h.state == COMMITTED:
                return [], [], _reservation(self._state, h)
            rows, datas = self._line_rows(h, "committed", now, key)
            return rows, datas, self._after(h, rows, datas)

        result: Reservation = self._run("commit", [res_id], key, plan)
        return result

    def release(self, res_id: str, key: str | None = None) -> Reservation:
        """Cancel a held or committed reservation; its units return to ATP."""

        def plan(now: int) -> Plan:
            h = self._open_hold(res_id, OPEN, "release")
            rows, datas = self._line_rows(h, "released", now, key)
            return rows, datas, self._after(h, rows, datas)

        result: Reservation = self._run("release", [res_id], key, plan)
        return result

    def extend(self, res_id: str, ttl: Any, key: str | None = None) -> Reservation:
        """Move a held reservation's expiry to ``now + ttl``."""
        td = check_ttl("ttl", ttl)
        ttl_us = td // timedelta(microseconds=1)

        def plan(now: int) -> Plan:
            h = self._open_hold(res_id, (HELD,), "extend")
            rows, datas = self._line_rows(h, "extended", now, key, {"exp": now + ttl_us})
            return rows, datas, self._after(h, rows, datas)

        result: Reservation = self._run("extend", [res_id, ttl_us], key, plan)
        return result

    def resize(self, res_id: str, lines: Iterable[Any], key: str | None = None) -> Reservation:
        """Change a held reservation's quantities (a cart edit). Each line gives
        the new total for a (sku, location) of the reservation; increases are
        checked against ATP (only the delta), decreases are released."""
        ls = lines_of(lines)

        def plan(now: int) -> Plan:
            st = self._state
            h = self._open_hold(res_id, (HELD,), "resize")
            g = st.grid
            ts = self._ts(now)
            rows: list[NewRow] = []
            datas: list[Any] = []
            seen: set[Pos] = set()
            grow: dict[int, int] = {}
            for ln in ls:
                loc = ln.location
                if loc is None:
                    locs = [g.locs[l] for (s, l) in h.lines if g.skus[s] == ln.sku]
                    if len(locs) != 1:
                        raise InvalidInput("lines", ln, "needs a location to resize")
                    loc = locs[0]
                s, l = self._sku(st, ln.sku), self._loc(st, loc)
                if (s, l) in seen:
                    raise InvalidInput("lines", ln, "gives the same sku and location twice")
                seen.add((s, l))
                cur = h.lines.get((s, l), 0)
                delta = ln.qty - cur
                if delta > 0:
                    atp = st.grid.atp(s, l)
                    if atp < delta:
                        raise InsufficientStock(ln.sku, delta, max(0, atp), loc, h.channel)
                    grow[s] = grow.get(s, 0) + delta
                    data: dict[str, Any] = {"order": h.order_id}
                    rows.append((ts, "held", ln.sku, loc, delta, h.id, h.channel, key,
                                 json.dumps(data)))
                    datas.append(data)
                elif delta < 0:
                    data = {"resize": 1}
                    rows.append((ts, "released", ln.sku, loc, -delta, h.id, h.channel, key,
                                 json.dumps(data)))
                    datas.append(data)
            ch = st.channels.get(h.channel) if h.channel is not None else None
            if ch is not None and self._fenced(st, ch):
                for s, more in grow.items():
                    room = self._channel_room(st, ch, s)
                    if more > room:
                        raise InsufficientStock(g.skus[s], more, room, None, ch.id)
            tmp = h.copy()
            for r in rows:
                p = (g.sku_ix[r[2]], g.loc_ix[r[3]])  # type: ignore[index]
                tmp.lines[p] = tmp.lines.get(p, 0) + (r[4] if r[1] == "held" else -r[4])
                if tmp.lines[p] == 0:
                    del tmp.lines[p]
            if not tmp.lines:
                raise InvalidInput("lines", [[x.sku, x.qty] for x in ls],
                                   "would leave the reservation empty; release it instead")
            return rows, datas, _reservation(st, tmp)

        args = [res_id, [[x.sku, x.qty, x.location] for x in ls]]
        result: Reservation = self._run("resize", args, key, plan)
        return result

    def ship(self, res_id: str, lines: Iterable[Any] | None = None,
             key: str | None = None) -> Reservation:
        """Units of a committed reservation leave the building: all of it, or
        the given ``(sku, qty)`` lines. When nothing is left it is FULFILLED."""
        ls = None if lines is None else lines_of(lines)
        return self._fulfil("ship", res_id, ls, (COMMITTED,), key)

    def collect(self, res_id: str, key: str | None = None) -> Reservation:
        """The shopper collected a pickup order: every unit leaves."""
        return self._fulfil("collect", res_id, None, OPEN, key)

    def _fulfil(self, how: str, res_id: str, ls: tuple[Line, ...] | None,
                allowed: tuple[str, ...], key: str | None) -> Reservation:
        def plan(now: int) -> Plan:
            st = self._state
            h = self._open_hold(res_id, allowed, how)
            qtys = dict(h.lines) if ls is None else self._pick(st, h, ls)
            rows, datas = self._line_rows(h, "fulfilled", now, key, {"how": how}, qtys)
            return rows, datas, self._after(h, rows, datas)

        args = [res_id, None if ls is None else [[x.sku, x.qty, x.location] for x in ls]]
        result: Reservation = self._run(how, args, key, plan)
        return result

    def _pick(self, st: LedgerState, h: Hold, ls: tuple[Line, ...]) -> dict[Pos, int]:
        out: dict[Pos, int] = {}
        g = st.grid
        for ln in ls:
            need = ln.qty
            for (s, l), q in h.lines.items():
                if g.skus[s] != ln.sku or (ln.location is not None and g.locs[l] != ln.location):
                    continue
                take = min(need, q - out.get((s, l), 0))
                if take > 0:
                    out[(s, l)] = out.get((s, l), 0) + take
                    need -= take
                if need == 0:
                    break
            if need:
                raise InvalidQuantity("lines", ln, f"more than reservation {h.id} holds")
        return out

    # -- helpers -----------------------------------------------------------------------
    def _known_pos(self, sku: str, location: str, new_sku: bool = False) -> Pos:
        st = self._state
        l = self._loc(st, location)
        check_id("sku", sku)
        s = st.grid.sku_ix.get(sku)
        if s is None:
            if not new_sku:
                self._sku(st, sku)  # raises UnknownSku
            return len(st.grid.skus), l  # the index the SKU will get
        return s, l

    def _units(self, s: int, l: int, state: str) -> int:
        g = self._state.grid
        if s >= len(g.skus):
            return 0
        if state == SELLABLE:
            return g.sellable(s, l)
        u = g.unsell.get((s, l))
        return 0 if u is None else u[STATE_INDEX[state]]

    def _no_overflow(self, s: int, l: int, q: int) -> None:
        g = self._state.grid
        if s < len(g.skus) and g.on_hand(s, l) + q > 2**62:
            raise InvalidQuantity("qty", q, "would take on_hand past 2**62")

    @staticmethod
    def _check_state(field: str, state: Any) -> None:
        if state != SELLABLE and state not in STATE_INDEX:
            raise InvalidInput(field, state, "must be sellable, damaged, inspection, "
                               "quarantine or display")

    def _shortages(self, taken: dict[Pos, int]) -> tuple[Shortage, ...]:
        """Reservations left uncovered once ``taken`` sellable units leave each
        position: reserved beyond what stays physically sellable, newest first."""
        st = self._state
        g = st.grid
        out = []
        for (s, l), q in taken.items():
            if s >= len(g.skus):
                continue
            left = g.sellable(s, l) - q
            deficit = int(g.reserved[s, l]) - max(0, left)
            if deficit <= 0:
                continue
            names, covered = [], 0
            for rid in st.holds.newest_at((s, l)):
                names.append(rid)
                covered += st.holds.by_id[rid].lines[(s, l)]
                if covered >= deficit:
                    break
            out.append(Shortage(g.skus[s], g.locs[l], deficit, tuple(names)))
        return tuple(out)

    # -- journal ------------------------------------------------------------------------
    def history(self, sku: str | None = None, location: str | None = None,
                ref: str | None = None, since: int = 0, until: int | None = None,
                kind: str | None = None, limit: int | None = None) -> list[Entry]:
        """Journal entries matching every filter given, oldest first."""
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
        for row in self._store.filtered(since, until, sku=sku, location=location, ref=ref):
            if kind is not None and row[2] != kind:
                continue
            out.append(entry_of(row))
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


def entry_of(row: Sequence[Any]) -> Entry:
    seq, ts, kind, sku, loc, qty, ref, channel, key, data = row
    return Entry(seq, from_micros(ts), kind, sku, loc, qty, ref, channel, key,
                 None if data is None else json.loads(data))
