"""What only the async face promises: every public name of ``Inventory`` as a
coroutine, concurrent coroutines never oversell, the event loop never waits
on a call, a cancelled call is made safe by its key, and ``aclose`` lets the
calls in flight finish. (The facts both faces keep are in
``test_both_faces_*.py``.)"""

from __future__ import annotations

import asyncio
import contextvars
import inspect
import threading
from collections.abc import Coroutine
from datetime import datetime
from typing import Any

import pytest

import omnistock
from conftest import Clock
from omnistock import AsyncInventory, Inventory, Line, Location, Order, Reservation, errors

# Sync names that are not calls of the face: the context manager and ``close``
# (``aclose``, ``__aenter__``/``__aexit__`` on the async face).
NOT_FACE_CALLS = {"close"}
PLAIN_ATTRIBUTES = {"store"}  # no I/O: an attribute on both faces


def missing_names(sync_cls: type, async_cls: type) -> set[str]:
    """Public names of ``sync_cls`` that ``async_cls`` lacks or does not
    offer as a coroutine (a property of ``sync_cls`` is a coroutine method of
    ``async_cls``; ``store`` is an attribute on both)."""
    missing = set()
    for name in dir(sync_cls):
        if name.startswith("_") or name in NOT_FACE_CALLS:
            continue
        ours = inspect.getattr_static(async_cls, name, None)
        if name in PLAIN_ATTRIBUTES:
            ok = isinstance(ours, property)
        else:
            fn = ours.__func__ if isinstance(ours, classmethod) else ours
            ok = inspect.iscoroutinefunction(fn)
        if not ok:
            missing.add(name)
    return missing


class GatedClock(Clock):
    """A clock whose next call, once ``arm()``-ed, blocks the calling thread
    until ``release()`` (at most ``limit`` seconds, then it raises): a store
    call as slow as the test wants, on any store."""

    def __init__(self, limit: float = 20.0) -> None:
        super().__init__()
        self.limit = limit
        self._armed = False
        self.entered = threading.Event()
        self._gate = threading.Event()
        self.threads: set[str] = set()

    def arm(self) -> None:
        self.entered.clear()
        self._gate.clear()
        self._armed = True

    def release(self) -> None:
        self._gate.set()

    def __call__(self) -> datetime:
        self.threads.add(threading.current_thread().name)
        if self._armed:
            self._armed = False
            self.entered.set()
            if not self._gate.wait(self.limit):
                raise TimeoutError("the gated call was never released")
        return super().__call__()


async def _entered(clock: GatedClock) -> None:
    """Return once a worker thread is inside the gated call."""
    while not clock.entered.is_set():
        await asyncio.sleep(0.001)


async def _stocked(url: str, clock: Clock, qty: int, **options: Any) -> AsyncInventory:
    ainv = await AsyncInventory.open(url, clock=clock, **options)
    await ainv.add_location(Location("s1"))
    await ainv.receive("A", "s1", qty)
    return ainv


def _one(oid: str, qty: int = 1) -> Order:
    return Order(oid, lines=[Line("A", qty, "s1")])


def run(coro: Coroutine[Any, Any, Any]) -> Any:
    return asyncio.run(coro)


# -- the names ------------------------------------------------------------------------
def test_every_public_name_of_inventory_is_a_coroutine_of_the_async_face() -> None:
    assert missing_names(Inventory, AsyncInventory) == set()
    assert omnistock.AsyncInventory is AsyncInventory
    assert "AsyncInventory" in omnistock.__all__


def test_a_public_method_added_to_inventory_would_be_missed() -> None:
    class Grown(Inventory):
        def frobnicate(self) -> int:
            return 1

        @property
        def gauge(self) -> int:
            return 2

    assert missing_names(Grown, AsyncInventory) == {"frobnicate", "gauge"}


def test_the_async_signatures_are_the_sync_ones() -> None:
    for name in ("hold", "hold_many", "allocate_many", "history", "receive"):
        sync_params = inspect.signature(getattr(Inventory, name)).parameters
        assert inspect.signature(getattr(AsyncInventory, name)).parameters == sync_params


# -- concurrency --------------------------------------------------------------------
def test_fifty_coroutines_race_for_twenty_units_and_exactly_twenty_win(store_url: str) -> None:
    async def scenario() -> tuple[list[Any], int, bool, int, int]:
        async with await _stocked(store_url, Clock(), 20) as ainv:
            got = await asyncio.gather(
                *(ainv.hold(_one(f"o{i}")) for i in range(50)), return_exceptions=True
            )
            held = await ainv.history(kind="held")
            report = await ainv.check()
            return got, await ainv.available("A", "s1"), report.ok, len(held), await ainv.head()

    got, left, ok, held_rows, _ = run(scenario())
    wins = [g for g in got if isinstance(g, Reservation)]
    refusals = [g for g in got if isinstance(g, errors.InsufficientStock)]
    assert (len(wins), len(refusals)) == (20, 30)
    assert len({w.id for w in wins}) == 20
    assert {r.available for r in refusals} == {0}
    assert (left, ok, held_rows) == (0, True, 20)


def test_the_loop_keeps_running_while_a_call_is_in_a_store(store_url: str) -> None:
    """A ticker coroutine ticks 200 times while a hold is stuck inside the
    store (the gated clock): had the call run on the loop, no tick could
    happen before it returned and the gate would time out."""
    clock = GatedClock()

    async def scenario() -> tuple[int, bool, Reservation]:
        async with await _stocked(store_url, clock, 5) as ainv:
            ticks = 0
            stop = asyncio.Event()

            async def ticker() -> None:
                nonlocal ticks
                while not stop.is_set():
                    ticks += 1
                    await asyncio.sleep(0)

            clock.arm()
            call = asyncio.create_task(ainv.hold(_one("o1")))
            tick = asyncio.create_task(ticker())
            await _entered(clock)
            start = ticks
            while ticks < start + 200:
                await asyncio.sleep(0)
            in_flight = not call.done()
            clock.release()
            res = await call
            stop.set()
            await tick
            return ticks - start, in_flight, res

    ticked, in_flight, res = run(scenario())
    assert in_flight
    assert ticked >= 200
    assert res.qty == 1
    assert all(name.startswith("omnistock-aio") for name in clock.threads)


def test_the_caller_context_reaches_the_worker_thread() -> None:
    tenant: contextvars.ContextVar[str] = contextvars.ContextVar("tenant", default="-")
    seen: list[str] = []

    def clock() -> datetime:
        seen.append(tenant.get())
        return Clock()()

    async def scenario() -> None:
        async with await AsyncInventory.open(clock=clock) as ainv:
            await ainv.add_location(Location("s1"))
            tenant.set("shop-7")
            seen.clear()
            await ainv.receive("A", "s1", 1)

    run(scenario())
    assert seen and set(seen) == {"shop-7"}


def test_a_waiting_feed_holds_up_neither_the_loop_nor_commands(store_url: str) -> None:
    """With one worker thread, a consumer waits on the feed while a receive
    is awaited: the feed runs on the waiting pool and the receive on the
    worker, so the receive returns while the feed is still waiting or after
    it woke with the receive's entry. (Had the feed taken the only worker, or
    the loop, the receive would return only after the feed's whole wait, the
    feed done and empty.)"""

    async def scenario() -> tuple[bool, list[tuple[str, int]], int]:
        async with await _stocked(store_url, Clock(), 5, workers=1) as ainv:
            await ainv.ack("connector", await ainv.head())
            waiting = asyncio.create_task(ainv.feed("connector", wait=5))
            await asyncio.sleep(0)  # the feed is handed to its thread first
            applied = await ainv.receive("A", "s1", 2)
            still_waiting = not waiting.done()
            got = await waiting
            return still_waiting, [(e.kind, e.seq) for e in got], applied.seq

    still_waiting, entries, seq = run(scenario())
    assert still_waiting or entries == [("received", seq)]


# -- cancellation and keys -------------------------------------------------------------
def test_a_cancelled_keyed_hold_then_its_retry_make_one_reservation(store_url: str) -> None:
    """The task awaiting ``hold(key=k)`` is cancelled while the command is in
    the store: the command still commits. The retry with the same key returns
    that reservation; there is never a second."""
    clock = GatedClock()

    async def scenario() -> tuple[Reservation, list[Reservation], int, int, bool]:
        async with await _stocked(store_url, clock, 10) as ainv:
            clock.arm()
            first = asyncio.create_task(ainv.hold(_one("cart-9", 3), key="k-9"))
            await _entered(clock)
            first.cancel()
            with pytest.raises(asyncio.CancelledError):
                await first
            clock.release()
            again = await ainv.hold(_one("cart-9", 3), key="k-9")
            held = await ainv.history(kind="held")
            return (
                again,
                await ainv.reservations(),
                await ainv.available("A", "s1"),
                len(held),
                (await ainv.check()).ok,
            )

    again, reservations, left, held_rows, ok = run(scenario())
    assert [r.id for r in reservations] == [again.id]
    assert (again.qty, left, held_rows, ok) == (3, 7, 1, True)


def test_a_cancelled_keyed_receive_then_its_retry_add_the_units_once() -> None:
    clock = GatedClock()

    async def scenario() -> tuple[int, int]:
        async with await _stocked("memory://", clock, 10) as ainv:
            clock.arm()
            first = asyncio.create_task(ainv.receive("A", "s1", 4, key="asn-1"))
            await _entered(clock)
            first.cancel()
            clock.release()
            with pytest.raises(asyncio.CancelledError):
                await first
            await ainv.receive("A", "s1", 4, key="asn-1")
            return await ainv.on_hand("A", "s1"), len(await ainv.history(kind="received"))

    assert run(scenario()) == (14, 2)


def test_concurrent_calls_with_one_key_make_one_reservation(store_url: str) -> None:
    async def scenario() -> tuple[list[Any], int]:
        async with await _stocked(store_url, Clock(), 10) as ainv:
            got = await asyncio.gather(*(ainv.hold(_one("o1", 2), key="k") for _ in range(10)))
            return got, await ainv.available("A", "s1")

    got, left = run(scenario())
    assert {r.id for r in got} == {got[0].id}
    assert left == 8


# -- opening and closing ---------------------------------------------------------------
def test_aclose_lets_a_call_in_flight_finish_then_refuses_new_calls() -> None:
    clock = GatedClock()

    async def scenario() -> tuple[Reservation, AsyncInventory]:
        ainv = await _stocked("memory://", clock, 5)
        clock.arm()
        call = asyncio.create_task(ainv.hold(_one("o1")))
        await _entered(clock)
        closing = asyncio.create_task(ainv.aclose())
        await asyncio.sleep(0.01)
        clock.release()
        await closing
        return await call, ainv

    res, ainv = run(scenario())
    assert res.state == "held"
    with pytest.raises(errors.StorageError, match="closed"):
        run(ainv.available("A"))
    run(ainv.aclose())  # idempotent


def test_the_async_face_runs_on_an_inventory_it_is_given_and_shares_it() -> None:
    inv = Inventory(clock=Clock())
    inv.add_location(Location("s1"))

    async def scenario() -> int:
        async with AsyncInventory(inv, workers=2) as ainv:
            await ainv.receive("A", "s1", 3)
            assert ainv.inventory is inv
            assert ainv.store is inv.store
            assert await ainv.locations() == inv.locations
            return await ainv.head()

    head = run(scenario())
    assert head == 2
    with pytest.raises(errors.StorageError, match="closed"):
        inv.receive("A", "s1", 1)  # aclose closed it


BAD_POOLS = [0, -1, 1.5, True, "4", None]


@pytest.mark.parametrize("field", ["workers", "waiters"])
@pytest.mark.parametrize("value", BAD_POOLS, ids=[repr(v) for v in BAD_POOLS])
def test_a_bad_pool_size_is_refused_naming_it(field: str, value: object) -> None:
    inv = Inventory(clock=Clock())
    inv.add_location(Location("s1"))
    head, digest = inv.head, inv.digest()
    with pytest.raises(errors.InvalidInput, match=f"{field}={value!r}"):
        AsyncInventory(inv, **{field: value})  # type: ignore[arg-type]
    with pytest.raises(errors.InvalidInput, match=f"{field}={value!r}"):
        run(AsyncInventory.open("memory://", **{field: value}))  # type: ignore[arg-type]
    assert (inv.head, inv.digest()) == (head, digest)


@pytest.mark.parametrize("value", ["memory://", None, 3])
def test_the_async_face_wraps_only_an_inventory(value: object) -> None:
    with pytest.raises(errors.InvalidInput, match="inventory="):
        AsyncInventory(value)  # type: ignore[arg-type]


def test_a_bad_url_is_the_sync_face_s_error() -> None:
    with pytest.raises(errors.OmnistockError) as sync_err:
        Inventory.open("nosuch://x")
    with pytest.raises(type(sync_err.value)) as async_err:
        run(AsyncInventory.open("nosuch://x"))
    assert str(async_err.value) == str(sync_err.value)
