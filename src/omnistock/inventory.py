"""``Inventory``: the public face over one journal store.

Each command method checks its arguments and asks the runner
(``omnistock.runner``) to commit a plan function from ``omnistock.commands``;
each query asks the reader (``omnistock.queries``). A command that raised
changed nothing; a command that returned is in the journal. See
docs/architecture.md for how a command flows and how to add one.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any, Literal, overload

from . import audit, codec
from ._validate import check_id, check_opt_id, check_qty, check_ttl, check_when, to_micros
from .commands import allocation, holdbatches, network, reservations, stock, transfers
from .errors import InvalidInput, OmnistockError, UnknownChannel
from .fulfilment.batch import BatchResult, OrderBatch
from .fulfilment.policy import Policy
from .fulfilment.resourcing import resource_shortages
from .fulfilment.results import Allocation
from .fulfilment.returns import CONDITIONS
from .fulfilment.waves import batch_of
from .holdbatch import HoldBatch, HoldBatchResult
from .ledger.state import LedgerState
from .lookup import check_state, fenced
from .planning import nothing
from .queries import Reader
from .reports import CheckReport, Explanation, Promise
from .runner import Clock, Command, Runner
from .storage import Store, open_store
from .storage.memory import MemoryStore
from .values import Applied, Channel, Entry, Location, Order, Reservation, Transfer, lines_of

Ttl = timedelta | float
DEFAULT_TTL = timedelta(minutes=15)
State = Literal["sellable", "damaged", "inspection", "quarantine", "display"]
Condition = Literal["sellable", "damaged", "inspection", "quarantine", "display", "write_off"]
RejectReason = Literal["not_found", "damaged", "mismatch"]

codec.register("Allocation", Allocation.from_jsonable)
codec.register("HoldBatchResult", HoldBatchResult.from_jsonable)


def _ttl_us(ttl: Any) -> int:
    return check_ttl("ttl", ttl) // timedelta(microseconds=1)


def _order(order: Any) -> Order:
    if not isinstance(order, Order):
        raise InvalidInput("order", order, "must be an Order")
    return order


def _policy(policy: Any) -> Policy | None:
    if policy is not None and not isinstance(policy, Policy):
        raise InvalidInput("policy", policy, "must be a Policy")
    return policy


class Inventory:
    """One retailer's stock ledger over a journal store.

    Thread-safe: commands from several threads are group-committed. Several
    processes may open the same durable store; each sees the others'
    commands (queries catch up first) and conflicting writes are retried."""

    def __init__(
        self,
        store: Store | None = None,
        clock: Clock | None = None,
        *,
        snapshot_every: int = 200_000,
    ) -> None:
        if clock is not None and not callable(clock):
            why = "must be a zero-argument callable returning an aware UTC datetime"
            raise InvalidInput("clock", clock, why)
        shared = store is not None  # another Inventory may append to a store given in
        self._runner = Runner(
            store if store is not None else MemoryStore(), clock,
            snapshot_every=snapshot_every, shared=shared,
        )  # fmt: skip
        self._reader = Reader(self._runner.sync, self._now_of)

    @classmethod
    def open(cls, url: str = "memory://", clock: Clock | None = None, **options: Any) -> Inventory:
        """Open the inventory kept in ``url``: ``memory://`` (default),
        ``sqlite:///path.db`` or ``postgresql://...``. Opening loads the
        newest snapshot and replays the journal after it."""
        snapshot_every = options.pop("snapshot_every", 200_000)
        return cls(open_store(url, **options), clock=clock, snapshot_every=snapshot_every)

    def _now_of(self, st: LedgerState) -> int:
        return max(self._runner.now_us(), st.last_ts)

    @property
    def _state(self) -> Any:
        """The live ledger, for white-box tests and benchmarks."""
        return self._runner.state

    @property
    def store(self) -> Store:
        return self._runner.store

    def refresh(self) -> int:
        """Fold in what other writers appended; returns the new head."""
        with self._runner.lock:
            self._runner.catch_up()
            return self._runner.state.head

    # -- network ------------------------------------------------------------------
    def add_location(self, location: Location, key: str | None = None) -> Location:
        """Add (or replace) a location. Journaled, so every process sees it."""
        if not isinstance(location, Location):
            raise InvalidInput("location", location, "must be a Location")
        r = self._runner
        plan = lambda st, cx: network.add_location(st, cx, location)  # noqa: E731
        return r.run(r.command("add_location", plan, key, location.to_dict()))

    def add_channel(self, channel: Channel, key: str | None = None) -> Channel:
        """Add (or replace) a channel. Its locations must exist."""
        if not isinstance(channel, Channel):
            raise InvalidInput("channel", channel, "must be a Channel")
        r = self._runner
        plan = lambda st, cx: network.add_channel(st, cx, channel)  # noqa: E731
        return r.run(r.command("add_channel", plan, key, channel.to_dict()))

    @property
    def policy(self) -> Policy:
        """The sourcing policy in force (journaled, shared by every process)."""
        return self._reader.policy()

    def set_policy(self, policy: Policy, key: str | None = None) -> Policy:
        """Make ``policy`` the sourcing policy of this inventory (journaled)."""
        if not isinstance(policy, Policy):
            raise InvalidInput("policy", policy, "must be a Policy")
        r = self._runner
        plan = lambda st, cx: network.set_policy(st, cx, policy)  # noqa: E731
        r.run(r.command("set_policy", plan, key, policy.to_dict()))
        return policy

    # -- stock --------------------------------------------------------------------
    def receive(
        self, sku: str, location: str, qty: int, key: str | None = None, ref: str | None = None
    ) -> Applied:
        """Add ``qty`` sellable units. ``ref`` names the expected supply (from
        ``expect``) that this receipt fulfils."""
        check_id("sku", sku)
        q = check_qty("qty", qty)
        check_opt_id("ref", ref)
        r = self._runner
        plan = lambda st, cx: stock.receive(st, cx, sku, location, q, ref)  # noqa: E731
        return r.run(r.command("receive", plan, key, [sku, location, q, ref]))

    def count(
        self, sku: str, location: str, qty: int, state: State = "sellable", key: str | None = None
    ) -> Applied:
        """A cycle count sets the units in ``state`` to ``qty``. Physical
        truth: it always applies, and re-sources the reservations it leaves
        uncovered (``Applied.shortages``, ``Applied.resourced``)."""
        check_id("sku", sku)
        q = check_qty("qty", qty, 0)
        check_state("state", state)
        r = self._runner
        plan = lambda st, cx: stock.count(st, cx, sku, location, q, state)  # noqa: E731
        args = [sku, location, q, state]
        return r.run(r.command("count", plan, key, args, then=resource_shortages))

    def sell(
        self,
        location: str,
        lines: Iterable[Any],
        key: str | None = None,
        channel: str | None = None,
    ) -> Applied:
        """A walk-in sale at ``location``: physical truth, always applied even
        beyond ATP. Re-sources the reservations it leaves uncovered."""
        ls = lines_of(lines)
        check_opt_id("channel", channel)
        r = self._runner
        plan = lambda st, cx: stock.sell(st, cx, location, ls, channel)  # noqa: E731
        args = [location, [[x.sku, x.qty] for x in ls], channel]
        return r.run(r.command("sell", plan, key, args, then=resource_shortages))

    def set_safety(self, sku: str, location: str, qty: int, key: str | None = None) -> Applied:
        """Set the safety stock of a position: units kept out of ATP."""
        check_id("sku", sku)
        q = check_qty("qty", qty, 0)
        r = self._runner
        plan = lambda st, cx: stock.set_safety(st, cx, sku, location, q)  # noqa: E731
        return r.run(r.command("set_safety", plan, key, [sku, location, q]))

    def change_state(
        self,
        sku: str,
        location: str,
        qty: int,
        to: State,
        from_: State = "sellable",
        key: str | None = None,
    ) -> Applied:
        """Move ``qty`` units between states (sellable, damaged, inspection,
        quarantine, display). Moving sellable units out may leave
        reservations uncovered: they are re-sourced."""
        check_id("sku", sku)
        q = check_qty("qty", qty)
        check_state("to", to)
        check_state("from_", from_)
        if to == from_:
            raise InvalidInput("to", to, "is the same as from_")
        r = self._runner
        plan = lambda st, cx: stock.change_state(st, cx, sku, location, q, to, from_)  # noqa: E731
        args = [sku, location, q, to, from_]
        return r.run(r.command("change_state", plan, key, args, then=resource_shortages))

    def return_items(
        self,
        location: str,
        lines: Iterable[Any],
        condition: Condition = "sellable",
        order_id: str | None = None,
        key: str | None = None,
    ) -> Applied:
        """Take back returned units at a location that accepts returns.
        ``sellable`` restocks here when the location ranges the SKU, else
        transfers on to its ``returns_to``; an unsellable state keeps them
        out of ATP; ``write_off`` journals the return, on_hand unchanged."""
        ls = lines_of(lines)
        check_opt_id("order_id", order_id)
        if condition not in CONDITIONS:
            raise InvalidInput("condition", condition, f"must be one of {', '.join(CONDITIONS)}")
        r = self._runner
        plan = lambda st, cx: stock.return_items(st, cx, location, ls, condition, order_id)  # noqa: E731
        args = [location, [[x.sku, x.qty] for x in ls], condition, order_id]
        return r.run(r.command("return_items", plan, key, args))

    def expect(
        self,
        sku: str,
        location: str,
        qty: int,
        eta: datetime,
        ref: str | None = None,
        key: str | None = None,
    ) -> str:
        """Record incoming supply (a purchase order line) due at ``eta``;
        returns its id. Not in ATP; ``promise()`` counts it."""
        check_id("sku", sku)
        q = check_qty("qty", qty)
        eta_us = to_micros(check_when("eta", eta))
        check_opt_id("ref", ref)
        r = self._runner
        plan = lambda st, cx: stock.expect(st, cx, sku, location, q, eta_us, ref)  # noqa: E731
        return r.run(r.command("expect", plan, key, [sku, location, q, eta_us, ref]))

    # -- reservations -----------------------------------------------------------
    def hold(self, order: Order, ttl: Ttl = DEFAULT_TTL, key: str | None = None) -> Reservation:
        """Reserve an order's lines until ``now + ttl``. All-or-nothing unless
        ``order.allow_partial``: raises ``InsufficientStock`` naming the first
        short line, reserving nothing. Lines must be pinned or the order a
        pickup order (reserved at ``pickup_at``). O(lines)."""
        return self._runner.run(self._hold_command(order, ttl, key))

    def _hold_command(self, order: Any, ttl: Any, key: str | None) -> Command[Reservation]:
        order, ttl_us = _order(order), _ttl_us(ttl)
        plan = lambda st, cx: reservations.hold(st, cx, order, ttl_us)  # noqa: E731
        return self._runner.command("hold", plan, key, lambda: [codec.order_args(order), ttl_us])

    @overload
    def hold_many(
        self, orders: HoldBatch, ttl: Ttl = ..., keys: None = None, *, key: str | None = None
    ) -> HoldBatchResult: ...
    @overload
    def hold_many(
        self,
        orders: Sequence[Order],
        ttl: Ttl = ...,
        keys: Sequence[str | None] | None = None,
        *,
        key: None = None,
    ) -> list[Reservation | OmnistockError]: ...

    def hold_many(
        self,
        orders: Sequence[Order] | HoldBatch,
        ttl: Ttl = DEFAULT_TTL,
        keys: Sequence[str | None] | None = None,
        *,
        key: str | None = None,
    ) -> list[Reservation | OmnistockError] | HoldBatchResult:
        """Hold many orders in one store transaction.

        A list of ``Order`` is group-committed: each is reserved in sequence,
        exactly as ``hold`` would; the result holds a ``Reservation`` or the
        typed error per order. ``keys``: one idempotency key per order.

        A columnar ``HoldBatch`` of pinned orders is the bulk path: one kernel
        call decides every order (all-or-nothing each, in batch order) and
        one journal row records them; ``key`` is one key for the whole batch.
        About a microsecond an order on SQLite (docs/performance.md)."""
        if isinstance(orders, HoldBatch):
            if keys is not None:
                why = "a HoldBatch takes one key for the whole batch (key=...)"
                raise InvalidInput("keys", keys, why)
            return self._hold_batch(orders, ttl, key)
        if key is not None:
            raise InvalidInput("key", key, "a list of orders takes one key per order (keys=[...])")
        if isinstance(orders, str | bytes) or not isinstance(orders, Sequence):
            raise InvalidInput("orders", orders, "must be a HoldBatch or a list of Order")
        if keys is not None and len(keys) != len(orders):
            raise InvalidInput("keys", len(keys), f"must give one key per order ({len(orders)})")
        cmds: list[Command[Any]] = []
        for i, o in enumerate(orders):
            try:
                cmds.append(self._hold_command(o, ttl, None if keys is None else keys[i]))
            except OmnistockError as exc:
                cmds.append(Command("hold", nothing, error=exc, done=True))
        self._runner.run_all(cmds)
        out: list[Reservation | OmnistockError] = []
        for c in cmds:
            if c.error is not None and not isinstance(c.error, OmnistockError):
                raise c.error  # a bug or an interrupt, not a refusal
            out.append(c.error if c.error is not None else c.result)
        return out

    def _hold_batch(self, batch: HoldBatch, ttl: Any, key: str | None) -> HoldBatchResult:
        ttl_us = _ttl_us(ttl)
        if key is not None:
            check_id("key", key)
        fp = None if key is None else "hold_many:" + holdbatches.fingerprint(batch, ttl_us)
        r = self._runner
        if batch.channel is not None:  # is it fenced? (the commit catches up itself)
            st = r.sync()
            ch = st.channels.get(batch.channel)
            if ch is None:
                raise UnknownChannel(batch.channel, "channel")
            if fenced(st, ch):
                return r.run(holdbatches.fenced_command(batch, ttl_us, key, fp))
        plan = lambda st, cx: holdbatches.hold_batch(st, cx, batch, ttl_us)  # noqa: E731
        try:
            return r.run(Command("hold_many", plan, key, fp, alone=True))
        except holdbatches.Fenced:  # another process fenced the channel meanwhile
            return r.run(holdbatches.fenced_command(batch, ttl_us, key, fp))

    def commit(self, res_id: str, key: str | None = None) -> Reservation:
        """HELD -> COMMITTED: the hold no longer expires (a no-op if committed)."""
        r = self._runner
        plan = lambda st, cx: reservations.commit(st, cx, res_id)  # noqa: E731
        return r.run(r.command("commit", plan, key, [res_id]))

    def release(self, res_id: str, key: str | None = None) -> Reservation:
        """Cancel a held or committed reservation; its units return to ATP."""
        r = self._runner
        plan = lambda st, cx: reservations.release(st, cx, res_id)  # noqa: E731
        return r.run(r.command("release", plan, key, [res_id]))

    def extend(self, res_id: str, ttl: Ttl, key: str | None = None) -> Reservation:
        """Move a held reservation's expiry to ``now + ttl``."""
        ttl_us = _ttl_us(ttl)
        r = self._runner
        plan = lambda st, cx: reservations.extend(st, cx, res_id, ttl_us)  # noqa: E731
        return r.run(r.command("extend", plan, key, [res_id, ttl_us]))

    def resize(self, res_id: str, lines: Iterable[Any], key: str | None = None) -> Reservation:
        """Change a held reservation's quantities (a cart edit): each line is
        the new total for a (sku, location) of it; increases are checked
        against ATP (only the delta), decreases are released."""
        ls = lines_of(lines)
        r = self._runner
        plan = lambda st, cx: reservations.resize(st, cx, res_id, ls)  # noqa: E731
        args = [res_id, [[x.sku, x.qty, x.location] for x in ls]]
        return r.run(r.command("resize", plan, key, args))

    def ship(
        self, res_id: str, lines: Iterable[Any] | None = None, key: str | None = None
    ) -> Reservation:
        """Units of a committed reservation leave the building: all of it, or
        the given ``(sku, qty)`` lines. When nothing is left it is FULFILLED."""
        return self._fulfil("ship", res_id, None if lines is None else lines_of(lines), key)

    def collect(self, res_id: str, key: str | None = None) -> Reservation:
        """The shopper collected a pickup order: every unit leaves."""
        return self._fulfil("collect", res_id, None, key)

    def _fulfil(self, how: str, res_id: str, ls: Any, key: str | None) -> Reservation:
        r = self._runner
        plan = lambda st, cx: reservations.fulfil(st, cx, how, res_id, ls)  # noqa: E731
        args = [res_id, None if ls is None else [[x.sku, x.qty, x.location] for x in ls]]
        return r.run(r.command(how, plan, key, args))

    # -- fulfilment ---------------------------------------------------------------
    def allocate(
        self,
        order: Order,
        ttl: Ttl | None = None,
        key: str | None = None,
        policy: Policy | None = None,
    ) -> Allocation:
        """Reserve ``order``, its unpinned lines where the sourcing policy
        says (pinned lines where pinned). Pickup orders (BOPIS) are reserved
        at ``pickup_at``; if it is short, the policy's ``bopis_fallback``
        transfers stock in or suggests stores. ``unfillable`` is an answer,
        not an error. The hold lasts ``ttl`` (default 15 minutes; for a
        transfer, from when the units are ready)."""
        order = _order(order)
        ttl_us = _ttl_us(DEFAULT_TTL if ttl is None else ttl)
        pol = _policy(policy)
        plan = lambda st, cx: allocation.allocate(st, cx, order, ttl_us, pol)  # noqa: E731
        args = lambda: [codec.order_args(order), ttl_us, None if pol is None else pol.to_dict()]  # noqa: E731
        r = self._runner
        return r.run(r.command("allocate", plan, key, args))

    @overload
    def allocate_many(
        self, orders: OrderBatch, ttl: Ttl | None = None, policy: Policy | None = None,
        optimize: bool = False,
    ) -> BatchResult: ...  # fmt: skip
    @overload
    def allocate_many(
        self, orders: Sequence[Order], ttl: Ttl | None = None, policy: Policy | None = None,
        optimize: bool = False,
    ) -> list[Allocation]: ...  # fmt: skip

    def allocate_many(
        self,
        orders: Sequence[Order] | OrderBatch,
        ttl: Ttl | None = None,
        policy: Policy | None = None,
        optimize: bool = False,
    ) -> list[Allocation] | BatchResult:
        """Allocate a wave in one store transaction, each order decided
        against the ledger as the previous ones left it (as ``allocate`` one
        at a time). A columnar ``OrderBatch`` goes through the numba wave
        kernel and returns a ``BatchResult``; ``optimize=True`` re-plans it
        by min-cost flow (never fewer orders served, least total cost).
        One bad order raises before anything is reserved."""
        if optimize is not True and optimize is not False:
            raise InvalidInput("optimize", optimize, "must be True or False")
        if optimize and not isinstance(orders, OrderBatch):
            raise InvalidInput("optimize", optimize, "re-planning needs a columnar OrderBatch")
        ttl_us = _ttl_us(DEFAULT_TTL if ttl is None else ttl)
        pol = _policy(policy)
        r = self._runner
        if isinstance(orders, OrderBatch):
            b = orders
            st = r.sync()
            ch = st.channels.get(b.channel) if b.channel is not None else None
            if ch is not None and fenced(st, ch):
                if optimize:
                    why = f"channel {ch.id!r} has a buffer, cap or fences: decided order by order"
                    raise InvalidInput("optimize", optimize, why)
                return batch_of(b, self.allocate_many(b.orders(), ttl, policy))
            plan_b = lambda st, cx: allocation.allocate_wave(st, cx, b, ttl_us, pol, optimize)  # noqa: E731
            return r.run(r.command("allocate_many", plan_b))
        orders = list(orders)
        for i, o in enumerate(orders):
            if not isinstance(o, Order):
                raise InvalidInput(f"orders[{i}]", o, "must be an Order")
        cmds = [r.command("allocate", allocation.allocate_with(o, ttl_us, pol)) for o in orders]
        r.run_all(cmds)
        for c in cmds:
            if c.error is not None:
                raise c.error
        return [c.result for c in cmds]

    def reject(
        self,
        res_id: str,
        sku: str,
        reason: RejectReason,
        location: str | None = None,
        key: str | None = None,
    ) -> Allocation:
        """A store cannot fulfil a reservation line: the inventory effect at
        that store (``not_found``: counted to zero; ``damaged``: the line's
        units move to damaged; ``mismatch``: on_hand drops by the line), then
        the line is re-sourced by the policy and its new ``Allocation``
        returned. Reservations the effect leaves uncovered are re-sourced."""
        check_id("sku", sku)
        check_opt_id("location", location)
        if reason not in allocation.REJECT_REASONS:
            why = f"must be one of {', '.join(allocation.REJECT_REASONS)}"
            raise InvalidInput("reason", reason, why)
        r = self._runner
        plan = lambda st, cx: allocation.reject(st, cx, res_id, sku, reason, location)  # noqa: E731
        args = [res_id, sku, reason, location]
        cmd = r.command("reject", plan, key, args, then=allocation.then_resource(reason))
        result: Allocation = r.run(cmd)
        return result

    def transfer(
        self,
        sku: str,
        source: str,
        destination: str,
        qty: int,
        eta: datetime | None = None,
        key: str | None = None,
    ) -> Transfer:
        """Send ``qty`` units free at ``source`` to ``destination``: they
        leave now, are in transit (``promise()`` counts them) and arrive
        with ``receive_transfer``. ``eta`` defaults to the policy's lead time."""
        check_id("sku", sku)
        q = check_qty("qty", qty)
        eta_us = None if eta is None else to_micros(check_when("eta", eta))
        r = self._runner
        plan = lambda st, cx: transfers.transfer(st, cx, sku, source, destination, q, eta_us)  # noqa: E731
        return r.run(r.command("transfer", plan, key, [sku, source, destination, q, eta_us]))

    def receive_transfer(
        self, transfer_id: str, qty: int | None = None, key: str | None = None
    ) -> Applied:
        """Units of a transfer arrive at its destination (all, or ``qty``).
        Units earmarked for an open reservation arrive reserved for it."""
        check_id("transfer_id", transfer_id)
        q = None if qty is None else check_qty("qty", qty)
        r = self._runner
        plan = lambda st, cx: transfers.receive_transfer(st, cx, transfer_id, q)  # noqa: E731
        return r.run(r.command("receive_transfer", plan, key, [transfer_id, q]))

    # -- queries --------------------------------------------------------------------
    @property
    def head(self) -> int:
        """Sequence number of the last journal entry folded in."""
        return self._reader.head

    @property
    def locations(self) -> dict[str, Location]:
        return self._reader.locations

    @property
    def channels(self) -> dict[str, Channel]:
        return self._reader.channels

    @property
    def skus(self) -> list[str]:
        return self._reader.skus

    def available(self, sku: str, location: str | None = None, channel: str | None = None) -> int:
        """Units of ``sku`` that can be promised now: at a ``location``,
        ``max(0, atp)``; over the network, the sum of ``max(0, atp)``; for a
        ``channel``, that sum over its locations less others' unconsumed
        fences and its buffer, within its cap (``ledger.pools``)."""
        return self._reader.available(sku, location, channel)

    def explain(
        self, sku: str, location: str | None = None, channel: str | None = None
    ) -> Explanation:
        """Every term behind ``available(sku, location, channel)``."""
        return self._reader.explain(sku, location, channel)

    def on_hand(self, sku: str, location: str, state: State | None = None) -> int:
        """Physical units at a location: all of them, or those in ``state``."""
        return self._reader.on_hand(sku, location, state)

    def promise(
        self, sku: str, qty: int, channel: str | None = None, location: str | None = None
    ) -> Promise:
        """The earliest date ``qty`` units can be had: now if ATP covers it,
        else when enough dated supply arrives (overdue counts as now; units
        earmarked for a reservation do not count)."""
        return self._reader.promise(sku, qty, channel, location)

    def reservation(self, res_id: str) -> Reservation:
        """The reservation as it stands now."""
        return self._reader.reservation(res_id)

    def reservations(self, state: str | None = None) -> list[Reservation]:
        """Every reservation (optionally only those in ``state``), oldest first."""
        return self._reader.reservations(state)

    def transfers(self) -> list[Transfer]:
        """Transfers in transit, soonest first."""
        return self._reader.transfers()

    def digest(self) -> str:
        """Hash of the full ledger state (equal digests, equal ledgers)."""
        return self._reader.digest()

    # -- the journal ------------------------------------------------------------------
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
        hold's row is shown as one ``held`` entry per reservation line."""
        return audit.entries(self.store, sku, location, ref, since, until, kind, limit)

    def at(self, when: int | datetime) -> LedgerView:
        """A read-only view of the ledger as it was at a sequence number or a
        time (the last entry at or before it)."""
        with self._runner.lock:
            self._runner.catch_up()
            return LedgerView(audit.state_at(self.store, when, self._runner.state.head))

    def check(self) -> CheckReport:
        """The built-in reconciler: replay the whole journal into a fresh
        ledger, compare it with the live one and check every invariant.
        O(journal + positions)."""
        with self._runner.lock:
            self._runner.catch_up()
            return audit.check(self.store, self._runner.state)

    def snapshot(self) -> int:
        """Save a snapshot at the current head (fast start-up); returns its seq."""
        with self._runner.lock:
            self._runner.catch_up()
            return self._runner.snapshot()

    def close(self) -> None:
        """Snapshot if much happened since the last one, and close the store."""
        self._runner.close()

    def __enter__(self) -> Inventory:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


class LedgerView(Reader):
    """A read-only ledger at one point of the journal (from ``Inventory.at``):
    the same queries as ``Inventory``, as of its last entry."""

    def __init__(self, state: Any) -> None:
        super().__init__(lambda: state)
