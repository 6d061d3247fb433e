"""Plans state the guards they rely on (issue 12 item 3; issue 14 makes the
PostgreSQL store check them): every guard a plan states holds once its rows
are folded, and ``planning.violations`` reports the ones a later change
breaks."""

from __future__ import annotations

from datetime import timedelta

from conftest import Clock
from omnistock import Channel, Inventory, Line, Location, Order
from omnistock.commands import reservations
from omnistock.planning import (
    CapacityRoom,
    Context,
    FenceRoom,
    InState,
    Plan,
    WithinFree,
    guards_of,
    violations,
)

TTL = timedelta(minutes=15) // timedelta(microseconds=1)


def _inv() -> Inventory:
    inv = Inventory(clock=Clock())
    inv.add_location(Location("S1", daily_capacity=1))
    inv.add_channel(Channel("web", cap=3))
    inv.receive("A", "S1", 5)
    return inv


def _fold(inv: Inventory, plan: Plan[object]) -> None:
    st = inv._runner.state
    for row, data in zip(plan.rows, plan.datas, strict=True):
        st.apply((st.head + 1, *row), data)


def _cx(inv: Inventory) -> Context:
    now = inv._runner.now_us()
    return Context(now, now, None, False)


def test_a_hold_states_its_positions_and_fence_and_they_hold_after_the_fold() -> None:
    inv = _inv()
    st = inv._runner.state
    order = Order("o1", channel="web", lines=[Line("A", 2, "S1")])
    plan = reservations.hold(st, _cx(inv), order, TTL)
    gs = list(guards_of(plan))
    assert gs == [WithinFree("A", "S1"), FenceRoom("web", "A")]
    _fold(inv, plan)
    assert violations(st, gs) == []


def test_violations_name_the_guards_a_later_change_breaks() -> None:
    inv = _inv()
    st = inv._runner.state
    res = inv.hold(Order("o1", channel="web", lines=[Line("A", 3, "S1")]))
    commit = reservations.commit(st, _cx(inv), res.id)
    gs = [*guards_of(commit), WithinFree("A", "S1"), FenceRoom("web", "A")]
    assert violations(st, gs) == []
    inv.sell("S1", [("A", 4)])  # physical truth: ATP below zero at S1
    inv.release(res.id)  # no longer held
    broken = violations(st, [*gs, CapacityRoom("S1", 0)])
    assert broken == [f"reservation {res.id} is not held"]
    inv.receive("A", "S1", 10)
    inv.hold(Order("o2", channel="web", lines=[Line("A", 3, "S1")]))
    st.chan_used[("web", st.grid.sku_ix["A"])] += 1  # a ledger past its channel's cap
    assert violations(st, [FenceRoom("web", "A"), InState(res.id, ("released",))]) == [
        "channel web holds more A than its cap"
    ]
