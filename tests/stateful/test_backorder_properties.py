"""Property: supply is never promised twice.

Hypothesis drives random sequences of ``expect``, backordered holds and
allocations, receipts against a PO (partial, full, over), plain receipts,
``cancel_expected``, ``redate``, commits, releases (whole and by lines) and
clock moves past expiries. After every step:

- what the reservations wait for on each supply item (their lines with an
  ``eta``) never exceeds the item's remaining units, and equals what the
  item says it has promised;
- ``promise()`` offers of each supply item exactly what is left of it
  once backorders are served, never a unit a backorder waits for;
- ``check()`` is clean (replay equals live, every invariant holds).
"""

from __future__ import annotations

import contextlib
import os
from datetime import UTC, datetime, timedelta

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from omnistock import Channel, Inventory, Line, Location, Order, errors

SKUS = ["A", "B"]
LOCS = ["w1", "w2"]


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2025, 6, 1, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


class SupplyMachine(RuleBasedStateMachine):
    @initialize()
    def start(self) -> None:
        self.clock = Clock()
        self.inv = Inventory(clock=self.clock)
        for loc in LOCS:
            self.inv.add_location(Location(loc, kind="warehouse"))
        self.inv.add_channel(Channel("web"))
        self.inv.add_channel(Channel("app", preorder_cap=4))
        self.n = 0

    def _open_pos(self) -> list[str]:
        return sorted(i for i, x in self.inv._state.supply.by_id.items() if x.kind == "po")

    def _open_res(self) -> list[str]:
        return [r.id for r in self.inv.reservations() if r.state in ("held", "committed")]

    def _oid(self) -> str:
        self.n += 1
        return f"o{self.n}"

    @rule(
        sku=st.sampled_from(SKUS), loc=st.sampled_from(LOCS), qty=st.integers(1, 6),
        days=st.integers(0, 9),
    )  # fmt: skip
    def expect(self, sku: str, loc: str, qty: int, days: int) -> None:
        self.inv.expect(sku, loc, qty, eta=self.clock.now + timedelta(days=days, hours=1))

    @rule(sku=st.sampled_from(SKUS), loc=st.sampled_from(LOCS), qty=st.integers(1, 4))
    def receive(self, sku: str, loc: str, qty: int) -> None:
        self.inv.receive(sku, loc, qty)

    @rule(
        sku=st.sampled_from(SKUS), loc=st.sampled_from(LOCS), qty=st.integers(1, 6),
        channel=st.sampled_from(["web", "app"]), ttl=st.sampled_from([60, 3600]),
    )  # fmt: skip
    def hold(self, sku: str, loc: str, qty: int, channel: str, ttl: int) -> None:
        if sku not in self.inv._state.grid.sku_ix:
            return
        order = Order(self._oid(), channel, [Line(sku, qty, loc)], backorder=True)
        with contextlib.suppress(errors.InsufficientStock):
            self.inv.hold(order, ttl=ttl)

    @rule(sku=st.sampled_from(SKUS), qty=st.integers(1, 6))
    def allocate(self, sku: str, qty: int) -> None:
        if sku not in self.inv._state.grid.sku_ix:
            return
        self.inv.allocate(Order(self._oid(), "web", [(sku, qty)], backorder=True))

    @rule(data=st.data(), qty=st.integers(1, 8))
    def receive_po(self, data: st.DataObject, qty: int) -> None:
        pos = self._open_pos()
        if pos:
            po = data.draw(st.sampled_from(pos))
            item = self.inv._state.supply.by_id[po]
            g = self.inv._state.grid
            self.inv.receive(g.skus[item.sku], g.locs[item.loc], qty, ref=po)

    @rule(data=st.data())
    def cancel(self, data: st.DataObject) -> None:
        pos = self._open_pos()
        if pos:
            self.inv.cancel_expected(data.draw(st.sampled_from(pos)))

    @rule(data=st.data(), days=st.integers(0, 12))
    def redate(self, data: st.DataObject, days: int) -> None:
        pos = self._open_pos()
        if pos:
            eta = self.clock.now + timedelta(days=days, hours=2)
            self.inv.redate(data.draw(st.sampled_from(pos)), eta)

    @rule(data=st.data())
    def commit(self, data: st.DataObject) -> None:
        rs = self._open_res()
        if rs:
            self.inv.commit(data.draw(st.sampled_from(rs)))

    @rule(data=st.data(), part=st.booleans())
    def release(self, data: st.DataObject, part: bool) -> None:
        rs = self._open_res()
        if not rs:
            return
        rid = data.draw(st.sampled_from(rs))
        if not part:
            self.inv.release(rid)
            return
        line = self.inv.reservation(rid).lines[-1]
        self.inv.release(rid, lines=[(line.sku, 1)])

    @rule(seconds=st.sampled_from([30, 120, 7200, 86400]))
    def advance(self, seconds: int) -> None:
        self.clock.now += timedelta(seconds=seconds)

    @invariant()
    def supply_is_never_promised_twice(self) -> None:
        if not hasattr(self, "inv"):
            return
        inv = self.inv
        inv.available("A") if "A" in inv._state.grid.sku_ix else None  # expiry is lazy
        st_ = inv._state
        g = st_.grid
        waits: dict[tuple[str, str], int] = {}
        for r in inv.reservations():
            for x in r.lines:
                if x.eta is not None:
                    waits[(x.sku, x.location)] = waits.get((x.sku, x.location), 0) + x.qty
        booked: dict[tuple[str, str], int] = {}
        for item in st_.supply.by_id.values():
            promised = sum(item.booked.values())
            assert 0 <= promised <= item.qty, (item.id, promised, item.qty)
            k = (g.skus[item.sku], g.locs[item.loc])
            booked[k] = booked.get(k, 0) + promised
        assert waits == {k: v for k, v in booked.items() if v}
        now = self.clock.now
        for sku in SKUS:
            if sku not in g.sku_ix:
                continue
            offered = {x.ref: x.qty for x in inv.promise(sku, 10**6).supply}
            for item in st_.supply.for_sku(g.sku_ix[sku]):
                overdue = item.kind == "po" and item.eta_us < int(now.timestamp() * 1e6)
                free = item.qty - sum(item.booked.values())
                want = 0 if overdue or free <= 0 or item.res is not None else free
                assert offered.get(item.id, 0) == want, (item.id, offered, free)

    @invariant()
    def replay_equals_live(self) -> None:
        if hasattr(self, "inv"):
            report = self.inv.check()
            assert report.ok, str(report)


TestSupplyNeverPromisedTwice = SupplyMachine.TestCase
TestSupplyNeverPromisedTwice.settings = settings(
    max_examples=int(os.environ.get("OMNISTOCK_BACKORDER_EXAMPLES", "60")),
    stateful_step_count=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
