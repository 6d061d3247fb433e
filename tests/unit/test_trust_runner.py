"""Issue 13, item 2: each caller of a group commit gets its own outcome.

The interleaving is made deterministic: the test holds the runner's lock
(so no thread can lead), lets two threads queue their commands, then lets
go; whichever thread leads commits both in one group. One command's plan
(or its follow-up, after its rows were applied) fails with an error that
is not an ``OmnistockError``: that command alone fails, with a typed
``CommandFailed``, and its neighbour's journaled command returns its own
result. Before the redesign the leader raised its neighbour's error and the
failing caller got ``None``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import pytest

from conftest import Clock
from omnistock import Inventory, Line, Location, Order, Reservation, errors
from omnistock.ledger.state import LedgerState
from omnistock.planning import Context, Emit, Plan, done


def _inv() -> Inventory:
    inv = Inventory(clock=Clock())
    inv.add_location(Location("S1"))
    inv.receive("A", "S1", 5)
    return inv


def _queued(inv: Inventory, n: int) -> None:
    deadline = time.monotonic() + 10
    while len(inv._runner._queue) < n:
        assert time.monotonic() < deadline, "threads did not queue"
        time.sleep(0.001)


def _outcome(call: Callable[[], Any]) -> Any:
    try:
        return call()
    except BaseException as exc:  # the caller's own outcome, whatever it is
        return exc


def _race(inv: Inventory, first: Callable[[], Any], second: Callable[[], Any]) -> list[Any]:
    out: list[Any] = [None, None]
    r = inv._runner
    r.lock.acquire()
    try:
        threads = []
        for i, call in enumerate((first, second)):
            t = threading.Thread(target=lambda i=i, call=call: out.__setitem__(i, _outcome(call)))
            t.start()
            threads.append(t)
            _queued(inv, i + 1)
    finally:
        r.lock.release()
    for t in threads:
        t.join(10)
    return out


def _boom(_st: LedgerState, _cx: Context) -> Plan[None]:
    raise OverflowError("date value out of range")


@pytest.mark.parametrize("boom_first", [True, False])
def test_a_neighbours_failing_plan_is_its_own_outcome(boom_first: bool) -> None:
    inv = _inv()
    r = inv._runner
    hold = lambda: inv.hold(Order("o1", lines=[Line("A", 2, "S1")]))  # noqa: E731
    boom = lambda: r.run(r.command("boom", _boom))  # noqa: E731
    out = _race(inv, boom, hold) if boom_first else _race(inv, hold, boom)
    held, failed = (out[1], out[0]) if boom_first else (out[0], out[1])
    assert isinstance(held, Reservation) and held.lines[0].qty == 2
    assert isinstance(failed, errors.CommandFailed)
    assert isinstance(failed.__cause__, OverflowError)
    assert inv.available("A", "S1") == 3
    assert [e.kind for e in inv.history(ref=held.id)] == ["held"]
    assert inv.check().ok


def test_a_follow_up_failing_after_its_rows_applied_is_rolled_back_alone() -> None:
    inv = _inv()
    r = inv._runner

    def sells(_st: LedgerState, cx: Context) -> Plan[None]:
        row = (cx.ts, "sold", "A", "S1", 1, None, None, cx.key, None)
        return Plan([row], [None], done(None))

    def then(_st: LedgerState, _cx: Context, _r: Any, _emit: Emit) -> None:
        raise ValueError("a defect after the rows were applied")

    bad = lambda: r.run(r.command("sells", sells, then=then))  # noqa: E731
    good = lambda: inv.receive("A", "S1", 1)  # noqa: E731
    out = _race(inv, bad, good)
    assert isinstance(out[0], errors.CommandFailed)
    assert out[1].seq == inv.head
    assert inv.on_hand("A", "S1") == 6  # the sale was rolled back, the receipt kept
    assert [e.kind for e in inv.history(sku="A")] == ["received", "received"]
    assert inv.check().ok


def test_a_lone_failing_plan_is_typed_and_writes_nothing() -> None:
    inv = _inv()
    r = inv._runner
    head = inv.head
    with pytest.raises(errors.CommandFailed) as info:
        r.run(r.command("boom", _boom))
    assert isinstance(info.value.__cause__, OverflowError)
    assert inv.head == head


def test_a_hold_ending_past_the_last_representable_time_is_bad_input() -> None:
    from datetime import UTC, datetime, timedelta

    clock = Clock(datetime(9999, 12, 30, tzinfo=UTC))
    inv = Inventory(clock=clock)
    inv.add_location(Location("S1"))
    inv.receive("A", "S1", 5)
    head = inv.head
    with pytest.raises(errors.InvalidInput, match="ttl"):
        inv.hold(Order("o1", lines=[Line("A", 1, "S1")]), ttl=timedelta(days=30))
    assert inv.head == head
