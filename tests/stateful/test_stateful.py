"""Stateful test: a real ``Inventory`` driven side by side with ``model.Model``.

Hypothesis runs random sequences of commands (stock movements, holds and
their whole lifecycle, clock moves past expiries, repeated and conflicting
idempotency keys, close and reopen with or without a snapshot) over a tiny
network (3 SKUs, 3 locations) so that holds collide and run short. After
every step every figure must equal the model's, ``check()`` (replay equals
live, invariants) must pass and the ledger must report no violation.

The machine runs against the memory store and against SQLite. Examples per
store: ``OMNISTOCK_STATEFUL_EXAMPLES`` (both), or
``OMNISTOCK_STATEFUL_MEMORY_EXAMPLES`` / ``OMNISTOCK_STATEFUL_SQLITE_EXAMPLES``.
"""

from __future__ import annotations

import importlib.util
import itertools
import os
import shutil
import tempfile
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import attrs
import pytest
from hypothesis import HealthCheck, note, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)
from model import CONDITIONS, SELLABLE, UNSELLABLE, Model, Refused
from model import Location as ModelLocation

from omnistock import (
    Applied,
    HoldBatch,
    HoldBatchResult,
    Inventory,
    Line,
    Location,
    Order,
    Reservation,
    Sku,
    errors,
)
from omnistock.fulfilment import Policy

SKUS = ["s1", "s2", "s3"]
DECI = Sku("d1", unit="kg", decimals=2, units={"case": Decimal("1.5")})
"""A SKU by weight: the model keeps it in hundredths, the face takes and
gives Decimals (the rules ending in ``_d`` and ``LedgerMachine.line``)."""
LOCS = ["A", "B", "W"]  # two stores and a warehouse (which takes no returns)
ORDERS = ["o1", "o2", "o3"]
KIT, KIT_DEF = "kit", {"s1": 1, "s2": 2}  # a kit of s1 and s3 would stay unknown
TTLS = [30, 60, 300, 3600]
LOT_SKU = "s4"  # lotted; only the lot rules touch it (never held)
LOTS = {"L0": None, "L1": 90, "L2": 700, "L3": 5000}  # seconds after the start; L0 none
START = datetime(2024, 3, 1, 9, 0, tzinfo=UTC)

skus = st.sampled_from(SKUS)
locs = st.sampled_from(LOCS)
keyed = st.booleans()


class Clock:
    """A mutable aware-UTC clock injected into the inventory."""

    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now


def _n(q: Any) -> Any:
    """A Decimal figure of ``DECI`` as the model's scaled int."""
    return int(q.scaleb(DECI.decimals)) if isinstance(q, Decimal) else q


def norm(result: Any) -> Any:
    """A real result as the plain tuple the model produces."""
    if isinstance(result, Applied):
        return (
            "applied",
            result.seq,
            tuple((s.sku, s.location, _n(s.qty), tuple(s.reservations)) for s in result.shortages),
            tuple(attrs.astuple(r, recurse=False) for r in result.resourced),
        )
    if isinstance(result, Reservation):
        out = (
            "reservation",
            result.id,
            result.state,
            tuple((x.sku, x.location, _n(x.qty)) for x in result.lines),
            result.expires_at,
            result.order_id,
            result.channel,
            tuple((x.sku, x.location, _n(x.qty)) for x in result.shipped),
        )
        if not result.kits:
            return out
        units: dict[tuple[str, str], int] = {}  # a kit's and plain units of a position
        for x in result.lines:
            units[(x.sku, x.location)] = units.get((x.sku, x.location), 0) + x.qty
        lines = tuple(sorted((s, loc, q) for (s, loc), q in units.items()))
        kits = tuple((k.sku, k.location, k.qty) for k in result.kits)
        return (*out[:3], lines, *out[4:], kits)
    if isinstance(result, dict):  # a kit's definition (add_kit)
        return ("kit", tuple(result.items()))
    if isinstance(result, HoldBatchResult):
        return ("batch", tuple(result.status.tolist()), result.token)
    if isinstance(result, str):  # a new id (expect)
        return ("id", result)
    raise AssertionError(f"unexpected result {result!r}")


class LedgerMachine(RuleBasedStateMachine):
    """Shared rules; subclasses say how to open and reopen the store."""

    def open(self) -> Inventory:
        raise NotImplementedError

    def reopen_inventory(self) -> Inventory:
        raise NotImplementedError

    def __init__(self) -> None:
        super().__init__()
        self.clock = Clock()
        self.model = Model(
            SKUS,
            [ModelLocation("A"), ModelLocation("B"), ModelLocation("W", accepts_returns=False)],
        )
        # (key, the keyed call, its normalised first result)
        self.keyed: list[tuple[str, Callable[[str | None], Any], Any]] = []
        self.n_keys = 0
        self.inv: Inventory | None = None

    @initialize(stock=st.lists(st.integers(0, 12), min_size=4, max_size=4))
    def start(self, stock: list[int]) -> None:
        """Three locations; s1 and s2 stocked at A, B and W; s3 unknown."""
        self.inv = self.open()
        self.inv.add_location(Location("A", kind="store"))
        self.inv.add_location(Location("B", kind="store"))
        self.inv.add_location(Location("W", kind="warehouse"))
        self.i.add_sku(DECI)
        self.model.add_sku("d1", 2)
        # The locations have no points, so with a transfer radius no pickup
        # is re-sourced by a transfer (the model keeps no units in transit):
        # a paid pickup's uncovered units are reported missing instead.
        self.i.set_policy(Policy(transfer_radius_km=1.0))
        self.model.head += 1
        for i, (sku, loc) in enumerate([("s1", "A"), ("s1", "B"), ("s2", "A"), ("s2", "W")]):
            self.do(
                lambda k, sku=sku, loc=loc, q=stock[i] + 1: self.i.receive(sku, loc, q),
                lambda sku=sku, loc=loc, q=stock[i] + 1: self.model.receive(sku, loc, q),
            )
        self.do(lambda k: self.i.add_kit(KIT, KIT_DEF), lambda: self.model.add_kit(KIT, KIT_DEF))

    def teardown(self) -> None:
        if self.inv is not None:
            self.inv.close()

    @property
    def i(self) -> Inventory:
        assert self.inv is not None
        return self.inv

    # -- plumbing ------------------------------------------------------------------
    def do(
        self, real: Callable[[str | None], Any], model: Callable[[], Any], key: bool = False
    ) -> Any:
        """Run one command on both sides: both refuse with the same error, or
        both succeed with equal results. Keyed successes are remembered so
        ``repeat_key`` can replay them."""
        self.model.expire(self.clock.now)
        k = None
        if key:
            self.n_keys += 1
            k = f"k{self.n_keys}"
        try:
            want = model()
        except Refused as refused:
            note(f"{self.model.trace[-1]} key={k} -> {refused}")
            before = (self.i.digest(), self.i.head)
            with pytest.raises(getattr(errors, refused.kind)):
                real(k)
            assert (self.i.digest(), self.i.head) == before, "a refused command changed state"
            return None
        note(f"{self.model.trace[-1]} key={k} -> {want}")
        result = real(k)
        got = norm(result)
        if isinstance(result, Applied) and (result.shortages or result.resourced):
            assert not any(r.transfers for r in result.resourced)  # no pickup orders here
            self.model.resource(
                want[2],
                [
                    (r.reservation, r.sku, r.source, r.qty, r.to, r.missing)
                    for r in result.resourced
                ],
            )
            want = ("applied", self.model.head, want[2], got[3])
        assert got == want, f"real {got} != model {want}"
        self.model.crossings()  # journaled in the same commit, after the command's rows
        if k is not None:
            self.keyed.append((k, real, got))
        return got

    def line(self, sku: str, qty: int, loc: str | None) -> Line:
        """A line of the model's ``qty``: for ``DECI``, hundredths as a Decimal."""
        return Line(sku, Decimal(qty).scaleb(-DECI.decimals) if sku == DECI.id else qty, loc)

    def draw_res(self, data: st.DataObject, states: tuple[str, ...] = ("held", "committed")) -> str:
        """A reservation id: mostly one in ``states`` (those the command
        accepts), sometimes any (the others must refuse)."""
        self.model.expire(self.clock.now)
        live = [rid for rid, r in self.model.res.items() if r.state in states]
        pool = live if live and data.draw(st.integers(0, 3), label="any") != 3 else None
        return data.draw(st.sampled_from(pool or list(self.model.res)), label="res_id")

    # -- stock movements ------------------------------------------------------------
    @rule(sku=skus, loc=locs, qty=st.integers(1, 10), key=keyed)
    def receive(self, sku: str, loc: str, qty: int, key: bool) -> None:
        self.do(
            lambda k: self.i.receive(sku, loc, qty, key=k),
            lambda: self.model.receive(sku, loc, qty),
            key,
        )

    @rule(
        sku=skus,
        loc=locs,
        qty=st.integers(0, 8),
        state=st.sampled_from([SELLABLE, SELLABLE, "damaged", "quarantine"]),
        key=keyed,
    )
    def count(self, sku: str, loc: str, qty: int, state: str, key: bool) -> None:
        self.do(
            lambda k: self.i.count(sku, loc, qty, state, key=k),
            lambda: self.model.count(sku, loc, qty, state),
            key,
        )

    @rule(
        loc=locs,
        lines=st.lists(st.tuples(skus, st.integers(1, 4)), min_size=1, max_size=2),
        key=keyed,
    )
    def sell(self, loc: str, lines: list[tuple[str, int]], key: bool) -> None:
        self.do(lambda k: self.i.sell(loc, lines, key=k), lambda: self.model.sell(loc, lines), key)

    @rule(sku=skus, loc=locs, qty=st.integers(0, 3), key=keyed)
    def set_safety(self, sku: str, loc: str, qty: int, key: bool) -> None:
        self.do(
            lambda k: self.i.set_safety(sku, loc, qty, key=k),
            lambda: self.model.set_safety(sku, loc, qty),
            key,
        )

    @rule(
        data=st.data(),
        moves=st.sampled_from(
            [
                (SELLABLE, "damaged"),
                (SELLABLE, "display"),
                ("damaged", SELLABLE),
                ("damaged", "quarantine"),
                ("quarantine", SELLABLE),
            ]
        ),
        key=keyed,
    )
    def change_state(self, data: st.DataObject, moves: tuple[str, str], key: bool) -> None:
        """Move units between states: usually from a position that has some
        in ``from_`` (sometimes more than it has), sometimes from anywhere."""
        from_, to = moves
        self.model.expire(self.clock.now)
        have = [
            (s, x)
            for s in SKUS
            for x in LOCS
            if s in self.model.known and self.model.p(s, x).units[from_] > 0
        ]
        if have and data.draw(st.integers(0, 3), label="anywhere") != 3:
            sku, loc = data.draw(st.sampled_from(have), label="position")
            qty = data.draw(st.integers(1, self.model.p(sku, loc).units[from_] + 1), label="qty")
        else:
            sku, loc = data.draw(skus, label="sku"), data.draw(locs, label="loc")
            qty = data.draw(st.integers(1, 5), label="qty")
        self.do(
            lambda k: self.i.change_state(sku, loc, qty, to, from_=from_, key=k),
            lambda: self.model.change_state(sku, loc, qty, to, from_),
            key,
        )

    @rule(
        loc=locs,
        lines=st.lists(st.tuples(skus, st.integers(1, 3)), min_size=1, max_size=2),
        condition=st.sampled_from(CONDITIONS),
        key=keyed,
    )
    def return_items(
        self, loc: str, lines: list[tuple[str, int]], condition: str, key: bool
    ) -> None:
        self.do(
            lambda k: self.i.return_items(loc, lines, condition=condition, key=k),
            lambda: self.model.return_items(loc, lines, condition),
            key,
        )

    @rule(
        sku=skus,
        loc=st.sampled_from([*LOCS, None, "nowhere"]),
        low=st.one_of(st.integers(0, 12), st.none()),
        key=keyed,
    )
    def set_threshold(self, sku: str, loc: str | None, low: int | None, key: bool) -> None:
        """A low-stock mark, network-wide or at a location (sometimes an
        unknown one: refused), sometimes cleared."""
        self.do(
            lambda k: self.i.set_threshold(sku, loc, low=low, key=k),
            lambda: self.model.set_threshold(sku, loc, low),
            key,
        )

    # -- reservations -----------------------------------------------------------------
    @rule(order=st.sampled_from(ORDERS), data=st.data(), ttl=st.sampled_from(TTLS), key=keyed)
    def hold(self, order: str, data: st.DataObject, ttl: int, key: bool) -> None:
        """Hold 1-3 lines: usually at positions with ATP left (which may
        still add up past it), sometimes anywhere (both must refuse)."""
        self.model.expire(self.clock.now)
        free = [
            (s, x)
            for s in SKUS
            for x in LOCS
            if s in self.model.known and self.model.p(s, x).atp > 0
        ]
        n = data.draw(st.integers(1, 3), label="n_lines")
        lines: list[tuple[str, int, str]] = []
        for _ in range(n):
            if free and data.draw(st.integers(0, 3), label="anywhere") != 3:
                sku, loc = data.draw(st.sampled_from(free), label="position")
                qty = data.draw(st.integers(1, self.model.p(sku, loc).atp), label="qty")
            else:
                sku = data.draw(skus, label="sku")
                loc = data.draw(locs, label="loc")
                qty = data.draw(st.integers(1, 4), label="qty")
            lines.append((sku, qty, loc))
        now = self.clock.now
        got = self.do(
            lambda k: self.i.hold(
                Order(order, lines=[Line(s, q, location=x) for s, q, x in lines]), ttl=ttl, key=k
            ),
            lambda: self.model.hold(order, lines, now, timedelta(seconds=ttl)),
            key,
        )
        if got is None:
            return
        for sku, _, loc in lines:  # the hold may not take any position below zero
            figs = self.i.explain(sku, loc).positions[0]
            assert figs.atp >= 0, str(figs)
        if data.draw(st.booleans(), label="checkout"):  # commit it at once
            rid = got[1]
            self.do(lambda k: self.i.commit(rid, key=k), lambda: self.model.commit(rid, now))

    @rule(data=st.data(), store=st.sampled_from(["A", "B"]), key=keyed)
    def paid_pickup(self, data: st.DataObject, store: str, key: bool) -> None:
        """A pickup order at a store, paid at once (due for collection a
        week and a day later, the default policy); sometimes the clock then
        runs to the last microsecond before it is due, or to its due time
        (a no-show: released, units back)."""
        self.model.expire(self.clock.now)
        free = [s for s in SKUS if s in self.model.known and self.model.p(s, store).atp > 0]
        if not free:
            return
        sku = data.draw(st.sampled_from(free), label="sku")
        qty = data.draw(st.integers(1, self.model.p(sku, store).atp), label="qty")
        self.n_pickups = getattr(self, "n_pickups", 0) + 1
        oid, now = f"p{self.n_pickups}", self.clock.now
        order = Order(oid, method="pickup", pickup_at=store, lines=[(sku, qty)])
        got = self.do(
            lambda k: self.i.hold(order, ttl=600, key=k),
            lambda: self.model.hold(oid, [(sku, qty, store)], now, timedelta(seconds=600), store),
            key,
        )
        if got is None:
            return
        rid = got[1]
        self.do(lambda k: self.i.commit(rid, key=k), lambda: self.model.commit(rid, now), key)
        wait = data.draw(st.sampled_from([None, "before", "due"]), label="wait")
        if wait is not None:
            early = timedelta(microseconds=1 if wait == "before" else 0)
            self.clock.now = now + timedelta(days=8) - early

    @rule(
        order=st.sampled_from(ORDERS),
        loc=st.sampled_from(["A", "A", "A", "B", "W"]),  # only A stocks both components
        n=st.integers(1, 2),
        ttl=st.sampled_from(TTLS),
        key=keyed,
    )
    def hold_kit(self, order: str, loc: str, n: int, ttl: int, key: bool) -> None:
        """A kit line: its components, all at ``loc``, or nothing."""
        now = self.clock.now
        self.do(
            lambda k: self.i.hold(Order(order, lines=[Line(KIT, n, loc)]), ttl=ttl, key=k),
            lambda: self.model.hold_kit(order, KIT, n, loc, now, timedelta(seconds=ttl)),
            key,
        )

    @rule(data=st.data(), ttl=st.sampled_from(TTLS), key=keyed)
    def hold_batch(self, data: st.DataObject, ttl: int, key: bool) -> None:
        """``hold_many(HoldBatch)``: 1-4 orders of 1-2 lines, some of them
        colliding on the same positions, sometimes an unknown SKU. Every
        order's status must equal the model's sequential decision."""
        self.model.expire(self.clock.now)
        n = data.draw(st.integers(1, 4), label="n_orders")
        self.n_batch = getattr(self, "n_batch", 0) + 1
        orders = []
        for j in range(n):
            lines = data.draw(
                st.lists(st.tuples(skus, st.integers(1, 4), locs), min_size=1, max_size=2),
                label=f"order {j}",
            )
            orders.append((f"b{self.n_batch}-{j}", lines))
        k = None
        if key:
            self.n_keys += 1
            k = f"k{self.n_keys}"
        batch = HoldBatch(
            [o for o, _ in orders],
            [s for _, ls in orders for s, _, _ in ls],
            [x for _, ls in orders for _, _, x in ls],
            [q for _, ls in orders for _, q, _ in ls],
            start=[0, *itertools.accumulate(len(ls) for _, ls in orders)],
        )

        def real(k: str | None) -> HoldBatchResult:
            return self.i.hold_many(batch, ttl=ttl, key=k)

        result = real(k)
        got = norm(result)
        want = self.model.hold_batch(orders, self.clock.now, timedelta(seconds=ttl), result.token)
        self.model.crossings()
        note(f"{self.model.trace[-1]} key={k} -> {want}")
        assert got[1] == want, f"real {got} != model {want}"
        assert (result.token is None) == (1 not in want)
        for j, (oid, _) in enumerate(orders):
            assert result.reservation_id(j) == (f"{oid}#{result.token}" if want[j] == 1 else None)
        if k is not None and result.token is not None:  # holding nothing keeps no key
            self.keyed.append((k, real, got))

    @precondition(lambda self: self.model.res)
    @rule(data=st.data(), key=keyed)
    def commit(self, data: st.DataObject, key: bool) -> None:
        rid = self.draw_res(data, ("held",))
        now = self.clock.now
        self.do(lambda k: self.i.commit(rid, key=k), lambda: self.model.commit(rid, now), key)

    @precondition(lambda self: self.model.res)
    @rule(data=st.data(), ttl=st.sampled_from(TTLS), key=keyed)
    def extend(self, data: st.DataObject, ttl: int, key: bool) -> None:
        rid = self.draw_res(data, ("held",))
        now = self.clock.now
        self.do(
            lambda k: self.i.extend(rid, ttl, key=k),
            lambda: self.model.extend(rid, now, timedelta(seconds=ttl)),
            key,
        )

    @precondition(lambda self: self.model.res)
    @rule(data=st.data(), key=keyed)
    def release(self, data: st.DataObject, key: bool) -> None:
        rid = self.draw_res(data)
        self.do(lambda k: self.i.release(rid, key=k), lambda: self.model.release(rid), key)

    @precondition(lambda self: self.model.res)
    @rule(data=st.data(), key=keyed)
    def ship(self, data: st.DataObject, key: bool) -> None:
        """Ship a reservation (mostly a committed one): all of it, or some
        lines, usually no more than it holds, sometimes more (both refuse),
        pinned to a location or not."""
        rid = self.draw_res(data, ("committed",))
        held = list(self.model.res[rid].lines.items())
        if not held or data.draw(st.integers(0, 2), label="whole") == 2:
            self.do(lambda k: self.i.ship(rid, key=k), lambda: self.model.ship(rid), key)
            return
        picks = data.draw(st.lists(st.sampled_from(held), min_size=1, max_size=2), label="picks")
        lines: list[tuple[str, int, str | None]] = []
        for (sku, loc), q in picks:
            qty = data.draw(st.integers(1, q + 1), label="qty")
            pin = data.draw(st.sampled_from([loc, None]), label="location")
            lines.append((sku, qty, pin))
        self.do(
            lambda k: self.i.ship(rid, [self.line(*x) for x in lines], key=k),
            lambda: self.model.ship(rid, lines),
            key,
        )

    @precondition(lambda self: self.model.res)
    @rule(data=st.data(), key=keyed)
    def collect(self, data: st.DataObject, key: bool) -> None:
        rid = self.draw_res(data)
        self.do(lambda k: self.i.collect(rid, key=k), lambda: self.model.collect(rid), key)

    @precondition(lambda self: self.model.res)
    @rule(data=st.data(), key=keyed)
    def release_lines(self, data: st.DataObject, key: bool) -> None:
        """Release some units of a reservation (mostly an open one): usually
        no more than it holds, sometimes more or a line it does not hold
        (both refuse), pinned to a location or not."""
        rid = self.draw_res(data)
        held = list(self.model.res[rid].lines.items())
        lines: list[tuple[str, int, str | None]] = []
        if held and data.draw(st.integers(0, 4), label="stray") != 4:
            picks = data.draw(
                st.lists(st.sampled_from(held), min_size=1, max_size=2), label="picks"
            )
            for (sku, loc), q in picks:
                qty = data.draw(st.integers(1, q + 1), label="qty")
                lines.append((sku, qty, data.draw(st.sampled_from([loc, None]), label="location")))
        else:
            lines.append((data.draw(skus, label="sku"), 1, data.draw(locs, label="loc")))
        self.do(
            lambda k: self.i.release(rid, lines=[self.line(*x) for x in lines], key=k),
            lambda: self.model.release_lines(rid, lines),
            key,
        )

    @precondition(lambda self: self.model.res)
    @rule(data=st.data(), key=keyed)
    def amend(self, data: st.DataObject, key: bool) -> None:
        """Set a reservation's lines (mostly an open one) to 1-3 pinned
        lines: its own positions with new quantities, dropped ones, and new
        positions, usually within ATP, sometimes past it (both refuse)."""
        rid = self.draw_res(data)
        held = list(self.model.res[rid].lines.items())
        lines: list[tuple[str, int, str]] = []
        for (sku, loc), q in held:
            if data.draw(st.integers(0, 3), label="keep") == 3:
                continue  # dropped
            more = max(0, self.model.p(sku, loc).atp) if sku in self.model.known else 0
            lines.append((sku, data.draw(st.integers(1, q + more + 1), label="qty"), loc))
        for _ in range(data.draw(st.integers(0 if lines else 1, 2), label="n_new")):
            sku, loc = data.draw(skus, label="sku"), data.draw(locs, label="loc")
            if (sku, loc) in [(x[0], x[2]) for x in lines]:
                continue
            lines.append((sku, data.draw(st.integers(1, 4), label="qty"), loc))
        if not lines:
            return

        def real(k: str | None) -> Reservation:
            got = self.i.amend(rid, [self.line(*x) for x in lines], key=k)
            assert got.status == "allocated" and got.reservation is not None
            assert got.trace is None  # every line pinned: no sourcing
            return got.reservation

        self.do(real, lambda: self.model.amend(rid, lines), key)

    # -- a SKU with decimals and a pack unit -----------------------------------------------
    @rule(loc=locs, qty=st.integers(1, 1000), text=st.booleans(), key=keyed)
    def receive_d(self, loc: str, qty: int, text: bool, key: bool) -> None:
        q = Decimal(qty).scaleb(-2)
        self.do(
            lambda k: self.i.receive("d1", loc, str(q) if text else q, key=k),
            lambda: self.model.receive("d1", loc, qty),
            key,
        )

    @precondition(lambda self: "d1" in self.model.known)
    @rule(data=st.data(), loc=locs, key=keyed)
    def sell_d(self, data: st.DataObject, loc: str, key: bool) -> None:
        """Sell within ATP (no shortage to re-source)."""
        atp = self.model.p("d1", loc).atp
        if atp < 1:
            return
        qty = data.draw(st.integers(1, atp), label="qty")
        self.do(
            lambda k: self.i.sell(loc, [self.line("d1", qty, None)], key=k),
            lambda: self.model.sell(loc, [("d1", qty)]),
            key,
        )

    @rule(
        order=st.sampled_from(["d-o1", "d-o2"]), data=st.data(), n=st.integers(1, 3),
        case=st.booleans(),
    )  # fmt: skip
    def hold_d(self, order: str, data: st.DataObject, n: int, case: bool) -> None:
        """Hold ``n`` cases (1.5 kg each) or ``n`` x 0.37 kg, mostly where
        there is some: both sides agree on the scaled quantity, or refuse."""
        self.model.expire(self.clock.now)
        have = [x for x in LOCS if "d1" in self.model.known and self.model.p("d1", x).atp > 0]
        loc = data.draw(st.sampled_from(have or LOCS), label="loc")
        qty = n * 150 if case else n * 37
        line = Line("d1", n, loc, unit="case") if case else self.line("d1", qty, loc)
        now = self.clock.now
        self.do(
            lambda k: self.i.hold(Order(order, lines=[line]), ttl=60, key=k),
            lambda: self.model.hold(order, [("d1", qty, loc)], now, timedelta(seconds=60)),
        )

    @invariant()
    def decimal_figures_match(self) -> None:
        if self.inv is None or "d1" not in self.model.known:
            return
        m = self.model
        m.expire(self.clock.now)
        assert self.i.available("d1") == Decimal(m.available("d1")).scaleb(-2)
        for loc in LOCS:
            assert self.i.on_hand("d1", loc) == Decimal(m.p("d1", loc).on_hand).scaleb(-2)

    # -- purchase orders ------------------------------------------------------------------
    @rule(
        sku=st.sampled_from(SKUS[:2]),
        loc=locs,
        qty=st.integers(1, 8),
        ahead=st.sampled_from([0, 30, 300, 3600, 86400]),
        named=st.booleans(),
        key=keyed,
    )
    def expect(self, sku: str, loc: str, qty: int, ahead: int, named: bool, key: bool) -> None:
        self.n_po = getattr(self, "n_po", 0) + 1
        ref = f"PO{self.n_po}" if named else None
        eta = self.clock.now + timedelta(seconds=ahead)
        self.model.expire(self.clock.now)
        k = None
        if key:
            self.n_keys += 1
            k = f"k{self.n_keys}"
        want = self.model.expect(sku, loc, qty, eta, ref)
        got = self.i.expect(sku, loc, qty, eta=eta, ref=ref, key=k)
        assert got == want
        if k is not None:

            def again(k2: str | None) -> str:
                return self.i.expect(sku, loc, qty, eta=eta, ref=ref, key=k2)

            self.keyed.append((k, again, norm(got)))

    def draw_po(self, data: st.DataObject) -> str:
        """An open PO line mostly, sometimes an id that is not open."""
        open_ = sorted(self.model.supply)
        if open_ and data.draw(st.integers(0, 4), label="stray") != 4:
            return data.draw(st.sampled_from(open_), label="po")
        return data.draw(st.sampled_from(["PO-none", "PO1", "po-3"]), label="po")

    @rule(data=st.data(), key=keyed)
    def receive_po(self, data: st.DataObject, key: bool) -> None:
        """A receipt against a PO: partial, exact or over, sometimes at
        another location (refused)."""
        ref = self.draw_po(data)
        po = self.model.supply.get(ref)
        sku, loc = (po[0], po[1]) if po else ("s1", "A")
        if data.draw(st.integers(0, 5), label="elsewhere") == 5:
            loc = data.draw(locs, label="loc")
        qty = data.draw(st.integers(1, (po[2] if po else 1) + 2), label="qty")
        self.do(
            lambda k: self.i.receive(sku, loc, qty, ref=ref, key=k),
            lambda: self.model.receive_po(sku, loc, qty, ref),
            key,
        )

    @rule(data=st.data(), key=keyed)
    def cancel_po(self, data: st.DataObject, key: bool) -> None:
        ref = self.draw_po(data)
        self.do(
            lambda k: self.i.cancel_expected(ref, key=k),
            lambda: self.model.cancel_expected(ref),
            key,
        )

    @rule(data=st.data(), ahead=st.sampled_from([0, 60, 600, 7200]), key=keyed)
    def redate_po(self, data: st.DataObject, ahead: int, key: bool) -> None:
        ref = self.draw_po(data)
        eta = self.clock.now + timedelta(seconds=ahead)
        self.do(
            lambda k: self.i.redate(ref, eta, key=k),
            lambda: self.model.redate(ref, eta),
            key,
        )

    # -- lots (issue 16.3) -----------------------------------------------------------------
    @rule(
        loc=locs,
        qty=st.integers(1, 6),
        lot=st.sampled_from(sorted(LOTS)),
        other=st.integers(0, 5),
        key=keyed,
    )
    def receive_lot(self, loc: str, qty: int, lot: str, other: int, key: bool) -> None:
        """A lot's units arrive (``other == 0``: with another expiry than the
        lot has: refused once the lot exists; a passed expiry is refused)."""
        base = LOTS[lot]
        if other == 0:
            base = 3600 if base is None else base + 1
        exp = None if base is None else START + timedelta(seconds=base)
        now = self.clock.now
        self.do(
            lambda k: self.i.receive(LOT_SKU, loc, qty, key=k, lot=lot, expires=exp),
            lambda: self.model.receive_lot(LOT_SKU, loc, qty, lot, exp, now),
            key,
        )

    @rule(loc=locs, qty=st.integers(1, 5), key=keyed)
    def sell_lot(self, loc: str, qty: int, key: bool) -> None:
        """A sale of the lotted SKU takes its lots first-expiry-first-out,
        never an expired one (expired units are no longer sellable)."""
        seen: dict[str, Any] = {}

        def real(k: str | None) -> Any:
            r = self.i.sell(loc, [(LOT_SKU, qty)], key=k)
            seen["got"] = [(x.lot, x.qty) for x in r.lots]
            return r

        def model() -> Any:
            got, seen["want"] = self.model.sell_lot(loc, LOT_SKU, qty)
            return got

        if self.do(real, model, key) is not None:
            assert seen["got"] == seen["want"]

    @invariant()
    def lots_match(self) -> None:
        if self.inv is None or LOT_SKU not in self.model.known:
            return
        self.model.expire(self.clock.now)
        for loc in LOCS:
            p = self.model.p(LOT_SKU, loc)
            assert self.i.on_hand(LOT_SKU, loc) == p.on_hand, loc
            assert self.i.on_hand(LOT_SKU, loc, "expired") == p.units["expired"], loc
            assert self.i.available(LOT_SKU, loc) == p.available, loc
            for name, (_exp, _n, sellable) in self.model.lots.get((LOT_SKU, loc), {}).items():
                have = self.i.on_hand(LOT_SKU, loc, lot=name)
                assert have >= sellable, (loc, name)

    # -- time, keys, reopen -------------------------------------------------------------
    @rule(seconds=st.sampled_from([1, 10, 29, 30, 31, 59, 60, 61, 299, 300, 301, 1000]))
    def advance(self, seconds: int) -> None:
        self.clock.now += timedelta(seconds=seconds)

    @precondition(lambda self: self.keyed)
    @rule(data=st.data())
    def repeat_key(self, data: st.DataObject) -> None:
        """The same command with the same key: the first result, no change."""
        key, real, first = data.draw(st.sampled_from(self.keyed), label="keyed")
        note(f"repeat key={key} (first result {first})")
        self.model.expire(self.clock.now)
        before = (self.i.digest(), self.i.head)
        assert norm(real(key)) == first
        assert (self.i.digest(), self.i.head) == before

    @precondition(lambda self: self.keyed)
    @rule(data=st.data(), other=st.sampled_from(["receive", "set_safety", "commit"]))
    def reuse_key(self, data: st.DataObject, other: str) -> None:
        """A used key for a different command: IdempotencyConflict, no change."""
        key, _, _ = data.draw(st.sampled_from(self.keyed), label="keyed")
        note(f"reuse key={key} for {other}")
        self.model.expire(self.clock.now)
        before = (self.i.digest(), self.i.head)
        with pytest.raises(errors.IdempotencyConflict):
            if other == "receive":
                self.i.receive(SKUS[0], LOCS[0], 1000, key=key)
            elif other == "set_safety":
                self.i.set_safety(SKUS[1], LOCS[1], 1000, key=key)
            else:
                self.i.commit("no-such-order#1", key=key)
        assert (self.i.digest(), self.i.head) == before

    @rule(snapshot=st.booleans())
    def reopen(self, snapshot: bool) -> None:
        """Close and reopen the same store (from a snapshot, or by replay)."""
        self.model.expire(self.clock.now)
        if snapshot:
            self.i.snapshot()
        self.inv = self.reopen_inventory()

    # -- invariants ------------------------------------------------------------------------
    @invariant()
    def figures_match(self) -> None:
        if self.inv is None:
            return
        m, inv = self.model, self.i
        m.expire(self.clock.now)
        for sku in SKUS:
            if sku not in m.known:
                with pytest.raises(errors.UnknownSku):
                    inv.available(sku)
                continue
            assert inv.available(sku) == m.available(sku), sku
            ex = inv.explain(sku)
            assert [f.location for f in ex.positions] == LOCS
            for f in ex.positions:
                p = m.p(sku, f.location)
                where = f"{sku}@{f.location}"
                assert inv.available(sku, f.location) == p.available, where
                assert f.on_hand == p.on_hand, where
                assert f.unsellable == {s: p.units[s] for s in UNSELLABLE}, where
                assert f.reserved == p.reserved, where
                assert f.safety == p.safety, where
                assert f.atp == p.atp, where
                assert inv.on_hand(sku, f.location, SELLABLE) == p.units[SELLABLE], where
            assert ex.positive_sum == ex.available == m.available(sku)
        for loc in LOCS:
            assert inv.available(KIT, loc) == m.kit_available(KIT, loc), loc
        assert inv.available(KIT) == m.kit_available(KIT)
        assert inv.thresholds() == m.marks
        assert [(a.sku, a.location, a.low, a.atp) for a in inv.alerts()] == m.alerts()
        assert len(inv.history(kind="threshold-crossed")) == m.crossing_rows
        assert inv.head == m.head
        real = {r.id: norm(r) for r in inv.reservations()}
        assert real == {rid: r.result() for rid, r in m.res.items()}
        assert len(inv.history(kind="expired")) == m.expired_rows
        assert len(inv.history(kind="no-show")) == m.no_show_rows

    @invariant()
    def promises_match(self) -> None:
        """``promise()`` counts open PO lines by ETA, never an overdue one."""
        if self.inv is None:
            return
        m = self.model
        m.expire(self.clock.now)
        for sku in SKUS[:2]:
            if sku not in m.known:
                continue
            for qty in (1, 6, 25):
                p = self.i.promise(sku, qty)
                got = (
                    p.date,
                    p.from_stock,
                    tuple((x.location, x.qty, x.eta, x.ref) for x in p.supply),
                )
                assert got == m.promise(sku, qty, self.clock.now), (sku, qty)

    @invariant()
    def ledger_sound(self) -> None:
        if self.inv is None:
            return
        report = self.inv.check()
        assert report.ok, str(report)
        assert report.problems == ()  # check() reports every live violations() entry


class MemoryMachine(LedgerMachine):
    def open(self) -> Inventory:
        return Inventory(clock=self.clock)

    def reopen_inventory(self) -> Inventory:
        store = self.i.store
        self.i.close()
        return Inventory(store=store, clock=self.clock)


class SQLiteMachine(LedgerMachine):
    def open(self) -> Inventory:
        self.tmp = tempfile.mkdtemp(prefix="omnistock-stateful-")
        self.url = f"sqlite:///{self.tmp}/x.db"
        return Inventory.open(self.url, clock=self.clock)

    def reopen_inventory(self) -> Inventory:
        self.i.close()
        return Inventory.open(self.url, clock=self.clock)

    def teardown(self) -> None:
        super().teardown()
        if getattr(self, "tmp", None):
            shutil.rmtree(self.tmp, ignore_errors=True)


def _examples(store: str, default: int) -> int:
    env = os.environ.get(f"OMNISTOCK_STATEFUL_{store.upper()}_EXAMPLES") or os.environ.get(
        "OMNISTOCK_STATEFUL_EXAMPLES"
    )
    return int(env) if env else default


def _settings(store: str, default: int) -> settings:
    return settings(
        max_examples=_examples(store, default),
        stateful_step_count=40,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    )


TestMemoryLedger = MemoryMachine.TestCase
TestMemoryLedger.settings = _settings("memory", 200)

_HAVE_SQLITE = importlib.util.find_spec("omnistock.storage.sqlite") is not None

TestSQLiteLedger = SQLiteMachine.TestCase
TestSQLiteLedger.settings = _settings("sqlite", 200)
TestSQLiteLedger = pytest.mark.skipif(  # type: ignore[misc]
    not _HAVE_SQLITE, reason="omnistock.storage.sqlite is not written yet"
)(TestSQLiteLedger)
