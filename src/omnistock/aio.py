"""``AsyncInventory``: the face's commands and queries as coroutines.

Each call runs the sync ``Inventory`` method on a worker thread of a bounded
executor that the ``AsyncInventory`` owns, and awaits it, so the event loop
never blocks on any store. Calls from many coroutines reach the runner from
several threads at once and meet in its group commit (``runner.py``), as
calls from many threads do. There is one command pipeline: this module
writes no command twice (docs/async.md: why not psycopg's async connection).

Every public method of ``Inventory`` is here by one line,
``name = _offload(Inventory.name)``: the signature (overloads included) is
the sync one, so a change there reaches the coroutine and its type hints
without an edit here. ``tests/face/test_async_face.py`` fails when
``Inventory`` gains a public name that this class lacks.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import inspect
from collections.abc import Callable, Coroutine
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, Concatenate, ParamSpec, TypeVar

from .command import Clock
from .errors import InvalidInput, StorageError
from .fulfilment.policy import Policy
from .inventory import Inventory
from .skus import Sku
from .storage import Store, forks
from .values import Channel, Location

P = ParamSpec("P")
R = TypeVar("R")

DEFAULT_WORKERS = 64
"""Worker threads per ``AsyncInventory`` (started on demand): how many calls
run at once. Concurrent calls are group-committed only while each has a
thread, so size it to the bursts of requests expected (docs/async.md)."""
DEFAULT_WAITERS = 4
"""Threads for calls that may block waiting (``feed(wait=...)``), kept apart
so a waiting consumer never holds up commands."""


def _pool_size(field: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InvalidInput(field, value, "must be a whole number of threads >= 1")
    return value


def _offload(
    method: Callable[Concatenate[Inventory, P], R], *, waits: bool = False
) -> Callable[Concatenate[AsyncInventory, P], Coroutine[Any, Any, R]]:
    """``method`` as a coroutine method of ``AsyncInventory``: it runs
    ``method(inventory, *args, **kwargs)`` on a worker thread (the waiting
    pool if ``waits``) and returns its result or raises its error."""
    name = method.__name__

    async def call(self: AsyncInventory, /, *args: P.args, **kwargs: P.kwargs) -> R:
        return await self._call(functools.partial(method, self.inventory, *args, **kwargs), waits)

    call.__name__ = name
    call.__qualname__ = f"AsyncInventory.{name}"
    call.__module__ = __name__
    where = "the waiting pool's" if waits else "a worker"
    call.__doc__ = (
        f"{method.__doc__ or ''}\n\nA coroutine: runs ``Inventory.{name}`` on {where} thread."
    )
    call.__signature__ = inspect.signature(method)  # type: ignore[attr-defined]  # the sync one
    return call


class AsyncInventory:
    """The same commands and queries as ``Inventory``, as coroutines.

    ``await AsyncInventory.open(url, ...)`` or ``AsyncInventory(inventory)``
    (which then owns the inventory: ``aclose()`` closes it). Use it with
    ``async with``. The sync face's properties (``head``, ``locations``,
    ``channels``, ``skus``, ``policy``) are coroutine methods here, since
    answering them may read the store; ``store`` stays a property.

    A call whose awaiting task is cancelled may still be applied: it was
    handed to a worker thread, which finishes it. Pass ``key=`` to commands
    a caller may retry: the retry returns the first result (docs/async.md)."""

    def __init__(
        self,
        inventory: Inventory,
        *,
        workers: int = DEFAULT_WORKERS,
        waiters: int = DEFAULT_WAITERS,
    ) -> None:
        if not isinstance(inventory, Inventory):
            raise InvalidInput("inventory", inventory, "must be an Inventory")
        self.inventory = inventory
        """The sync face this one runs on (sync code may share it)."""
        self._sizes = _pool_size("workers", workers), _pool_size("waiters", waiters)
        self._pools()
        self._closed = False
        forks.track(self)

    def _pools(self) -> None:
        self._pool = ThreadPoolExecutor(self._sizes[0], thread_name_prefix="omnistock-aio")
        self._waits = ThreadPoolExecutor(self._sizes[1], thread_name_prefix="omnistock-aio-wait")

    def _after_fork(self) -> None:
        """In a forked child (``storage.forks``): new thread pools. The
        parent's threads do not exist here, and a pool that counts them
        would queue calls that no thread ever runs."""
        self._pools()

    @classmethod
    async def open(
        cls,
        url: str = "memory://",
        clock: Clock | None = None,
        *,
        workers: int = DEFAULT_WORKERS,
        waiters: int = DEFAULT_WAITERS,
        **options: Any,
    ) -> AsyncInventory:
        """Open the inventory kept in ``url`` as ``Inventory.open`` does
        (``options`` are its options) on a worker thread. If the awaiting
        task is cancelled, an inventory opened meanwhile is closed again."""
        _pool_size("workers", workers)
        _pool_size("waiters", waiters)
        opener = ThreadPoolExecutor(1, thread_name_prefix="omnistock-aio-open")
        opening: Future[Inventory] = opener.submit(Inventory.open, url, clock, **options)
        opener.shutdown(wait=False)  # its thread ends once the open is done
        try:
            inv = await asyncio.wrap_future(opening)
        except asyncio.CancelledError:
            opening.add_done_callback(_close_if_opened)
            raise
        return cls(inv, workers=workers, waiters=waiters)

    async def _call(self, fn: Callable[[], R], waits: bool = False) -> R:
        """Run ``fn`` on a worker thread (in a copy of the caller's context, so
        logging and tracing context carry over) and await its outcome."""
        if self._closed:
            raise StorageError("inventory is closed")
        pool = self._waits if waits else self._pool
        try:
            job = pool.submit(contextvars.copy_context().run, fn)
        except RuntimeError as e:  # shut down by aclose() from another loop
            raise StorageError("inventory is closed") from e
        return await asyncio.wrap_future(job)

    async def aclose(self) -> None:
        """Refuse new calls, wait for the calls in flight, then close the
        inventory (a snapshot if much happened; the store). Idempotent."""
        if self._closed:
            return
        self._closed = True

        def close() -> None:
            self._pool.shutdown(wait=True)
            self._waits.shutdown(wait=True)
            self.inventory.close()

        await asyncio.get_running_loop().run_in_executor(None, close)

    async def __aenter__(self) -> AsyncInventory:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    @property
    def store(self) -> Store:
        """The journal store (an attribute: reading it does no I/O)."""
        return self.inventory.store

    # -- the sync face's properties, as coroutines --------------------------------
    async def head(self) -> int:
        """Sequence number of the last journal entry folded in (after catching up)."""
        return await self._call(lambda: self.inventory.head)

    async def locations(self) -> dict[str, Location]:
        """Every location, by id."""
        return await self._call(lambda: self.inventory.locations)

    async def channels(self) -> dict[str, Channel]:
        """Every channel, by id."""
        return await self._call(lambda: self.inventory.channels)

    async def skus(self) -> list[str]:
        """Every SKU the ledger has seen."""
        return await self._call(lambda: self.inventory.skus)

    async def catalogue(self) -> dict[str, Sku]:
        """Every declared SKU (units, decimals), by id."""
        return await self._call(lambda: self.inventory.catalogue)

    async def policy(self) -> Policy:
        """The sourcing policy in force."""
        return await self._call(lambda: self.inventory.policy)

    # -- commands -----------------------------------------------------------------
    add_location = _offload(Inventory.add_location)
    add_sku = _offload(Inventory.add_sku)
    add_channel = _offload(Inventory.add_channel)
    set_policy = _offload(Inventory.set_policy)
    receive = _offload(Inventory.receive)
    count = _offload(Inventory.count)
    sell = _offload(Inventory.sell)
    set_safety = _offload(Inventory.set_safety)
    set_threshold = _offload(Inventory.set_threshold)
    change_state = _offload(Inventory.change_state)
    return_items = _offload(Inventory.return_items)
    expect = _offload(Inventory.expect)
    cancel_expected = _offload(Inventory.cancel_expected)
    redate = _offload(Inventory.redate)
    hold = _offload(Inventory.hold)
    hold_many = _offload(Inventory.hold_many)
    commit = _offload(Inventory.commit)
    release = _offload(Inventory.release)
    extend = _offload(Inventory.extend)
    resize = _offload(Inventory.resize)
    amend = _offload(Inventory.amend)
    ship = _offload(Inventory.ship)
    collect = _offload(Inventory.collect)
    allocate = _offload(Inventory.allocate)
    allocate_many = _offload(Inventory.allocate_many)
    reject = _offload(Inventory.reject)
    transfer = _offload(Inventory.transfer)
    receive_transfer = _offload(Inventory.receive_transfer)
    close_transfer = _offload(Inventory.close_transfer)
    sweep = _offload(Inventory.sweep)
    add_kit = _offload(Inventory.add_kit)
    recall = _offload(Inventory.recall)

    # -- queries, the journal, audit -----------------------------------------------
    refresh = _offload(Inventory.refresh)
    available = _offload(Inventory.available)
    explain = _offload(Inventory.explain)
    on_hand = _offload(Inventory.on_hand)
    promise = _offload(Inventory.promise)
    reservation = _offload(Inventory.reservation)
    reservations = _offload(Inventory.reservations)
    transfers = _offload(Inventory.transfers)
    digest = _offload(Inventory.digest)
    history = _offload(Inventory.history)
    at = _offload(Inventory.at)
    check = _offload(Inventory.check)
    snapshot = _offload(Inventory.snapshot)
    alerts = _offload(Inventory.alerts)
    thresholds = _offload(Inventory.thresholds)
    kits = _offload(Inventory.kits)
    lots = _offload(Inventory.lots)

    # -- integration: the feed waits on its own threads -----------------------------
    feed = _offload(Inventory.feed, waits=True)
    ack = _offload(Inventory.ack)
    cursor = _offload(Inventory.cursor)
    availability = _offload(Inventory.availability)
    ack_availability = _offload(Inventory.ack_availability)


def _close_if_opened(opening: Future[Inventory]) -> None:
    """Close the inventory a cancelled ``open`` went on to open."""
    if not opening.cancelled() and opening.exception() is None:
        opening.result().close()
