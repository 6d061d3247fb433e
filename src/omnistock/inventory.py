"""``Inventory``: the public face over one journal store.

Each command checks its arguments and asks the runner (``runner.py``) to
commit a plan function from ``commands/``; each query asks the reader
(``queries.py``). docs/architecture.md shows how to add a command.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, overload

from . import codec
from ._validate import check_id, check_int, check_opt_id
from .arguments import (
    Condition,
    RejectReason,
    State,
    Ttl,
    condition_arg,
    order_arg,
    policy_arg,
    reason_arg,
    ttl_micros,
)
from .command import Clock, PlanFn, R, Then
from .commands import (
    allocation,
    amendments,
    holdbatches,
    kit_reject,
    network,
    reservations,
    stock,
    thresholds,
)
from .errors import InvalidInput, OmnistockError
from .expiry import Swept
from .face_integration import IntegrationFace
from .face_kits import KitFace
from .face_lots import LotsFace, lot_arg
from .face_reads import ReadFace
from .face_skus import Qty, SkuFace
from .face_supply import SupplyFace
from .fulfilment.batch import BatchResult, OrderBatch
from .fulfilment.policy import Policy
from .fulfilment.resourcing import resource_shortages
from .fulfilment.results import Allocation
from .holdbatch import HoldBatch, HoldBatchResult
from .lookup import check_state
from .planning import DEFAULT_TTL
from .queries import Reader
from .runner import Runner
from .scoped import Scope, check_replica_option, order_scope, reservation_scope
from .storage import Store, open_store
from .storage.memory import MemoryStore
from .values import Applied, Channel, Location, Order, Reservation, lines_of


class Inventory(LotsFace, SkuFace, SupplyFace, ReadFace, IntegrationFace, KitFace):
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
        replica: bool = True,
    ) -> None:
        if clock is not None and not callable(clock):
            why = "must be a zero-argument callable returning an aware UTC datetime"
            raise InvalidInput("clock", clock, why)
        shared = store is not None  # another Inventory may append to a store given in
        store = store if store is not None else MemoryStore()
        self._runner = Runner(
            store, clock, snapshot_every=snapshot_every, shared=shared,
            replica=check_replica_option(store, replica),
        )  # fmt: skip
        self._reader = Reader(self._runner.sync, self._runner.now_of)

    @classmethod
    def open(cls, url: str = "memory://", clock: Clock | None = None, **options: Any) -> Inventory:
        """Open the inventory kept in ``url``: ``memory://`` (default),
        ``sqlite:///path.db`` or ``postgresql://...``. Opening loads the
        newest snapshot and replays the journal after it.

        ``replica=False`` (PostgreSQL): a worker that keeps no copy of the
        ledger; it plans each command on the counters of what the command
        names (``scoped.py``, docs/scaling.md: the two modes)."""
        snapshot_every = options.pop("snapshot_every", 200_000)
        replica = options.pop("replica", True)
        store = open_store(url, **options)
        try:
            return cls(store, clock=clock, snapshot_every=snapshot_every, replica=replica)
        except BaseException:
            store.close()
            raise

    def _run(
        self, name: str, plan: PlanFn[R], key: str | None = None, args: Any = None,
        then: Then[R] | None = None, scope: Scope | None = None,
    ) -> R:  # fmt: skip
        cmd = self._runner.command(name, self._checked(plan), key, args, then=then, scope=scope)
        return self._out(self._runner.run(cmd))  # type: ignore[no-any-return]

    @property
    def _state(self) -> Any:  # the live ledger, for white-box tests and benchmarks
        return self._runner.state

    def refresh(self) -> int:
        """Fold in what other writers appended; returns the new head."""
        return self._runner.caught_up(lambda st: st.head)

    def sweep(self, limit: int = 1000) -> Swept:
        """Journal the expiries due now (held reservations, held batches and
        paid pickups not collected: no-shows; the oldest due first), at
        most ``limit`` of them in one commit, with the low-stock crossings
        due (``set_threshold``);
        ``Swept.more`` says whether more are due (call again). Expiry is
        lazy anyway, so correctness never depends on this: it brings
        expiries to the journal, and so to the feed, without waiting for
        the next command or query. Safe with many processes on one store:
        each expiry is journaled once. O(lines expired + log holds)."""
        return self._runner.sweep(check_int("limit", limit, 1))

    # -- network ------------------------------------------------------------------
    def add_location(self, location: Location, key: str | None = None) -> Location:
        """Add (or replace) a location. Journaled, so every process sees it."""
        if not isinstance(location, Location):
            raise InvalidInput("location", location, "must be a Location")
        plan = lambda st, cx: network.add_location(st, cx, location)  # noqa: E731
        return self._run("add_location", plan, key, location.to_dict())

    def add_channel(self, channel: Channel, key: str | None = None) -> Channel:
        """Add (or replace) a channel. Its locations must exist."""
        if not isinstance(channel, Channel):
            raise InvalidInput("channel", channel, "must be a Channel")
        plan = lambda st, cx: network.add_channel(st, cx, channel)  # noqa: E731
        return self._run("add_channel", plan, key, channel.to_dict())

    @property
    def policy(self) -> Policy:
        """The sourcing policy in force (journaled, shared by every process)."""
        return self._reader.policy()

    def set_policy(self, policy: Policy, key: str | None = None) -> Policy:
        """Make ``policy`` the sourcing policy of this inventory (journaled)."""
        if not isinstance(policy, Policy):
            raise InvalidInput("policy", policy, "must be a Policy")
        plan = lambda st, cx: network.set_policy(st, cx, policy)  # noqa: E731
        self._run("set_policy", plan, key, policy.to_dict())
        return policy

    # -- stock --------------------------------------------------------------------
    def receive(
        self, sku: str, location: str, qty: Qty, key: str | None = None, ref: str | None = None,
        *, lot: str | None = None, expires: Any = None, serials: Sequence[str] | None = None,
    ) -> Applied:  # fmt: skip
        """Add ``qty`` sellable units. ``ref`` names the open PO line (from
        ``expect``) this receipt draws down, partly or past what it expects
        (it closes at zero); an unknown or closed one raises
        ``UnknownSupply``, another SKU's or location's ``InvalidInput``.
        ``lot``/``expires`` (an aware datetime) receive a lot, ``serials``
        one lot of one unit per serial number (``face_lots.py``)."""
        q = self._qty("qty", sku, qty)
        if lot is not None or expires is not None or serials is not None:
            return self._receive_lots(sku, location, q, lot, expires, serials, key, ref)
        check_opt_id("ref", ref)
        plan = lambda st, cx: stock.receive(st, cx, sku, location, q, ref)  # noqa: E731
        scope = ((sku,), ()) if ref is None else None  # a PO receipt: the replica's
        return self._run("receive", plan, key, [sku, location, q, ref], scope=scope)

    def count(
        self, sku: str, location: str, qty: Qty, state: State = "sellable", key: str | None = None
    ) -> Applied:
        """A cycle count sets the units in ``state`` to ``qty``. Physical
        truth: it always applies, and re-sources the reservations it leaves
        uncovered (``Applied.shortages``, ``Applied.resourced``)."""
        q = self._qty("qty", sku, qty, 0)
        check_state("state", state)
        plan = lambda st, cx: stock.count(st, cx, sku, location, q, state)  # noqa: E731
        args = [sku, location, q, state]
        return self._run("count", plan, key, args, then=resource_shortages)

    def sell(
        self,
        location: str,
        lines: Iterable[Any],
        key: str | None = None,
        channel: str | None = None,
    ) -> Applied:
        """A walk-in sale at ``location``: physical truth, always applied even
        beyond ATP. Re-sources the reservations it leaves uncovered."""
        ls = self._lines(lines_of(lines))
        check_opt_id("channel", channel)
        plan = lambda st, cx: stock.sell(st, cx, location, ls, channel)  # noqa: E731
        args = [location, [[x.sku, x.qty] for x in ls], channel]
        return self._run("sell", plan, key, args, then=resource_shortages)

    def set_safety(self, sku: str, location: str, qty: Qty, key: str | None = None) -> Applied:
        """Set the safety stock of a position: units kept out of ATP."""
        q = self._qty("qty", sku, qty, 0)
        plan = lambda st, cx: stock.set_safety(st, cx, sku, location, q)  # noqa: E731
        return self._run("set_safety", plan, key, [sku, location, q])

    def set_threshold(
        self, sku: str, location: str | None = None, low: Qty | None = None,
        key: str | None = None,
    ) -> Applied:  # fmt: skip
        """Set the low-stock mark of ``sku``: network-wide (``location``
        None, against its network ATP) or at one location (against the
        position's ATP); ``low=None`` clears it. Journaled. From then on,
        each time the ATP goes to ``low`` or below, or back above, a
        ``threshold-crossed`` row joins the commit of the command that moved
        it (the event feed carries it); ``alerts()`` lists the thresholds
        that are low now. A SKU need not be stocked yet."""
        check_id("sku", sku)
        check_opt_id("location", location)
        q = None if low is None else self._qty("low", sku, low, 0)
        plan = lambda st, cx: thresholds.set_threshold(st, cx, sku, location, q)  # noqa: E731
        return self._run("set_threshold", plan, key, [sku, location, q])

    def change_state(
        self,
        sku: str,
        location: str,
        qty: Qty,
        to: State,
        from_: State = "sellable",
        key: str | None = None,
    ) -> Applied:
        """Move ``qty`` units between states (sellable, damaged, inspection,
        quarantine, display). Moving sellable units out may leave
        reservations uncovered: they are re-sourced."""
        q = self._qty("qty", sku, qty)
        check_state("to", to)
        check_state("from_", from_)
        if to == from_:
            raise InvalidInput("to", to, "is the same as from_")
        plan = lambda st, cx: stock.change_state(st, cx, sku, location, q, to, from_)  # noqa: E731
        args = [sku, location, q, to, from_]
        return self._run("change_state", plan, key, args, then=resource_shortages)

    def return_items(
        self,
        location: str,
        lines: Iterable[Any],
        condition: Condition = "sellable",
        order_id: str | None = None,
        key: str | None = None,
        lot: str | None = None,
    ) -> Applied:
        """Take back returned units where returns are accepted: restocked,
        sent on to ``returns_to``, kept unsellable, or written off. ``lot``:
        the lot the units came from (restocked into it)."""
        ls = self._lines(lines_of(lines))
        check_opt_id("order_id", order_id)
        condition_arg(condition)
        lt = None if lot is None else lot_arg("lot", lot)
        plan = lambda st, cx: stock.return_items(st, cx, location, ls, condition, order_id, lt)  # noqa: E731
        args = [location, [[x.sku, x.qty] for x in ls], condition, order_id, *([lt] if lt else [])]
        return self._run("return_items", plan, key, args)

    # -- reservations -----------------------------------------------------------
    def hold(self, order: Order, ttl: Ttl = DEFAULT_TTL, key: str | None = None) -> Reservation:
        """Reserve an order's lines until ``now + ttl``. All-or-nothing unless
        ``order.allow_partial``: raises ``InsufficientStock`` naming the first
        short line, reserving nothing. Lines must be pinned or the order a
        pickup order (reserved at ``pickup_at``). ``order.backorder``: what
        stock cannot cover waits for supply due there (``fulfilment.backorders``).
        O(lines)."""
        order = self._order(order_arg(order))
        cmd = reservations.hold_command(self._runner, order, ttl_micros(ttl), key)
        cmd.plan = self._checked(cmd.plan)
        return self._out(self._runner.run(cmd))  # type: ignore[no-any-return]

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
        key: str | None = None,
    ) -> list[Reservation | OmnistockError]: ...

    def hold_many(
        self,
        orders: Sequence[Order] | HoldBatch,
        ttl: Ttl = DEFAULT_TTL,
        keys: Sequence[str | None] | None = None,
        *,
        key: str | None = None,
    ) -> list[Reservation | OmnistockError] | HoldBatchResult:
        """Hold many orders in one transaction: a list of ``Order`` as ``hold``
        would, all-or-nothing for bad input (a ``Reservation`` or the refusal
        per order); a ``HoldBatch`` by one kernel call, journaled as one row."""
        if isinstance(orders, HoldBatch):
            self._batch(orders.skus)
            return holdbatches.run_batch(self._runner, orders, ttl_micros(ttl), keys, key)
        got = reservations.run_holds(self._runner, self._orders(orders), ttl_micros(ttl), keys, key)
        return self._out(got)  # type: ignore[no-any-return]

    def commit(self, res_id: str, key: str | None = None) -> Reservation:
        """HELD -> COMMITTED: the hold no longer expires (a no-op if committed)."""
        plan = lambda st, cx: reservations.commit(st, cx, res_id)  # noqa: E731
        return self._run("commit", plan, key, [res_id], scope=reservation_scope(res_id))

    def release(
        self, res_id: str, lines: Iterable[Any] | None = None, key: str | None = None
    ) -> Reservation:
        """Cancel a held or committed reservation; its units return to ATP.
        With ``lines`` (``(sku, qty)`` or ``Line(sku, qty, location)``) only
        those units go back; the reservation closes when nothing is left to
        ship (``fulfilled`` if some units shipped, else ``released``)."""
        if lines is None:
            plan: Any = lambda st, cx: reservations.release(st, cx, res_id)  # noqa: E731
            scope = reservation_scope(res_id)
            return self._run("release", plan, key, [res_id], scope=scope)  # type: ignore[no-any-return]
        ls = self._lines(lines_of(lines))
        plan = lambda st, cx: amendments.release_lines(st, cx, res_id, ls)  # noqa: E731
        args = [res_id, [[x.sku, x.qty, x.location] for x in ls]]
        return self._run("release", plan, key, args, scope=reservation_scope(res_id))  # type: ignore[no-any-return]

    def amend(self, res_id: str, lines: Iterable[Any], key: str | None = None) -> Allocation:
        """Set a held or committed reservation's open lines (add, remove or
        change; a SKU not named is removed). Only the change is checked,
        against ATP, the channel's fences and cap and the daily capacity;
        unpinned added units stay where the SKU is held, else the sourcing
        policy places them (the result's ``trace``). Refusals raise and
        change nothing. O(lines + reservation lines) plus sourcing."""
        ls = self._lines(lines_of(lines))
        plan = lambda st, cx: amendments.amend(st, cx, res_id, ls)  # noqa: E731
        args = [res_id, [[x.sku, x.qty, x.location] for x in ls]]
        named = reservation_scope(res_id)
        scope = None if named is None else (tuple(sorted({x.sku for x in ls})), named[1])
        return self._run("amend", plan, key, args, scope=scope)

    def extend(self, res_id: str, ttl: Ttl, key: str | None = None) -> Reservation:
        """Move a held reservation's expiry to ``now + ttl``."""
        ttl_us = ttl_micros(ttl)
        plan = lambda st, cx: reservations.extend(st, cx, res_id, ttl_us)  # noqa: E731
        return self._run("extend", plan, key, [res_id, ttl_us], scope=reservation_scope(res_id))

    def resize(self, res_id: str, lines: Iterable[Any], key: str | None = None) -> Reservation:
        """Change a held reservation's quantities (a cart edit): each line is
        the new total for a (sku, location) of it; increases are checked
        against ATP (only the delta), decreases are released."""
        ls = self._lines(lines_of(lines))
        plan = lambda st, cx: amendments.resize(st, cx, res_id, ls)  # noqa: E731
        args = [res_id, [[x.sku, x.qty, x.location] for x in ls]]
        return self._run("resize", plan, key, args, scope=reservation_scope(res_id))

    def ship(
        self, res_id: str, lines: Iterable[Any] | None = None, key: str | None = None
    ) -> Reservation:
        """Units of a committed reservation leave the building: all of it, or
        the given ``(sku, qty)`` lines. When nothing is left it is FULFILLED."""
        ls = None if lines is None else self._lines(lines_of(lines))
        return self._fulfil("ship", res_id, ls, key)

    def collect(self, res_id: str, key: str | None = None) -> Reservation:
        """The shopper collected a pickup order: every unit leaves."""
        return self._fulfil("collect", res_id, None, key)

    def _fulfil(self, how: str, res_id: str, ls: Any, key: str | None) -> Reservation:
        plan = lambda st, cx: reservations.fulfil(st, cx, how, res_id, ls)  # noqa: E731
        args = [res_id, None if ls is None else [[x.sku, x.qty, x.location] for x in ls]]
        return self._run(how, plan, key, args, scope=reservation_scope(res_id))

    # -- fulfilment ---------------------------------------------------------------
    def allocate(
        self,
        order: Order,
        ttl: Ttl | None = None,
        key: str | None = None,
        policy: Policy | None = None,
    ) -> Allocation:
        """Reserve ``order``, unpinned lines where the sourcing policy says;
        a pickup order at ``pickup_at`` (short: transfer in or suggest stores,
        by the policy). ``unfillable`` is an answer, not an error. A ship
        order with ``backorder`` waits for dated supply for what stock on
        hand cannot cover (``fulfilment.backorders``)."""
        order = self._order(order_arg(order))
        ttl_us = ttl_micros(DEFAULT_TTL if ttl is None else ttl)
        pol = policy_arg(policy)
        plan = lambda st, cx: allocation.allocate(st, cx, order, ttl_us, pol)  # noqa: E731
        args = lambda: [codec.order_args(order), ttl_us, None if pol is None else pol.to_dict()]  # noqa: E731
        # BOPIS and backorders (they read and book supply): the replica's.
        scope = None if order.method == "pickup" or order.backorder else order_scope(order)
        return self._run("allocate", plan, key, args, scope=scope)

    @overload
    def allocate_many(
        self, orders: OrderBatch, ttl: Ttl | None = None, policy: Policy | None = None,
        optimize: bool = False, *, key: str | None = None,
    ) -> BatchResult: ...  # fmt: skip
    @overload
    def allocate_many(
        self, orders: Sequence[Order], ttl: Ttl | None = None, policy: Policy | None = None,
        optimize: bool = False, *, key: str | None = None,
    ) -> list[Allocation]: ...  # fmt: skip

    def allocate_many(
        self,
        orders: Sequence[Order] | OrderBatch,
        ttl: Ttl | None = None,
        policy: Policy | None = None,
        optimize: bool = False,
        *,
        key: str | None = None,
    ) -> list[Allocation] | BatchResult:
        """Allocate a wave in one transaction, as ``allocate`` one order at a
        time; bad input in any order writes nothing. An ``OrderBatch`` goes
        through the wave kernel (``optimize``: min-cost flow re-plan)."""
        if optimize is not True and optimize is not False:
            raise InvalidInput("optimize", optimize, "must be True or False")
        if optimize and not isinstance(orders, OrderBatch):
            raise InvalidInput("optimize", optimize, "re-planning needs a columnar OrderBatch")
        ttl_us = ttl_micros(DEFAULT_TTL if ttl is None else ttl)
        pol = policy_arg(policy)
        if isinstance(orders, OrderBatch):
            self._batch(orders.skus)
            return allocation.run_wave(self._runner, orders, ttl_us, pol, optimize, key)
        got = allocation.run_orders(self._runner, self._orders(orders), ttl_us, pol, key)
        return self._out(got)  # type: ignore[no-any-return]

    def reject(
        self,
        res_id: str,
        sku: str,
        reason: RejectReason,
        location: str | None = None,
        key: str | None = None,
    ) -> Allocation:
        """A store cannot fulfil a line: its inventory effect there (counted
        to zero, damaged, or written off), then the line (and what the effect
        uncovers) is re-sourced; returns the line's new ``Allocation``."""
        check_id("sku", sku)
        check_opt_id("location", location)
        reason_arg(reason)

        def plan(st: Any, cx: Any) -> Any:
            if sku in st.kits:  # the whole kit moves (commands/kit_reject.py)
                return kit_reject.reject_kit(st, cx, res_id, sku, reason, location)
            return allocation.reject(st, cx, res_id, sku, reason, location)

        then = kit_reject.then_or_kit(allocation.then_resource(reason))
        result: Allocation = self._run("reject", plan, key, [res_id, sku, reason, location], then)
        return result

    def close(self) -> None:
        """Snapshot if much happened since the last one; close the store."""
        self._runner.close()

    def __enter__(self) -> Inventory:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
