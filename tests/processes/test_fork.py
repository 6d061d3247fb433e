"""Forked workers: a child never uses its parent's connections or locks.

gunicorn ``--preload``, Celery's prefork pool and ``multiprocessing`` with
the fork start method fork workers from a parent that may already have
opened the inventory. Before ``storage/forks.py`` existed, children that
shared the parent's PostgreSQL socket hung waiting for replies another
process had read, one child's ledger no longer matched the journal, and
one read another query's reply (a digest) as its seqs.

Each test forks with ``os.fork()`` from this process, as those servers do.
A child reports JSON lines over a pipe and always ends with ``os._exit``.
A child that says nothing within ``TIMEOUT`` is killed, and the test fails
as hung.
"""

from __future__ import annotations

import asyncio
import json
import os
import select
import signal
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import suppress
from pathlib import Path
from typing import Any

import pytest
from _workers import POSITIONS, setup_network, store_url

from omnistock import AsyncInventory, Inventory, Line, Order
from omnistock.errors import ConcurrencyConflict

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")

TIMEOUT = 60.0
CHILDREN = 4
HOLDS = 150  # per process
STOCK = 10_000  # per position: nobody runs out

Say = Callable[[Any], None]


class Child:
    """A forked child running ``body(say, wait)``: ``say`` sends a JSON
    line to the parent, ``wait`` blocks until the parent calls ``go``."""

    def __init__(self, body: Callable[[Say, Callable[[], None]], None]) -> None:
        r, w = os.pipe()
        go_r, go_w = os.pipe()
        pid = os.fork()
        if pid == 0:  # pragma: no cover - the child (coverage does not follow it)
            code = 1
            try:
                os.close(r)
                os.close(go_w)

                def say(obj: Any) -> None:
                    data = (json.dumps(obj) + "\n").encode()
                    while data:
                        data = data[os.write(w, data) :]

                try:
                    body(say, lambda: os.read(go_r, 1) and None)
                    code = 0
                except BaseException as e:
                    say({"error": f"{type(e).__name__}: {e}"})
            finally:
                os._exit(code)
        os.close(w)
        os.close(go_r)
        self.pid, self._fd, self._go = pid, r, go_w
        self._buf = b""
        self._ended = False

    def line(self) -> Any:
        """The child's next JSON line; fails (killing it) after ``TIMEOUT``
        seconds of silence, or if it sent an error."""
        deadline = time.monotonic() + TIMEOUT
        while b"\n" not in self._buf:
            left = deadline - time.monotonic()
            ready, _, _ = select.select([self._fd], [], [], max(0.0, left))
            chunk = os.read(self._fd, 65536) if ready else b""
            if not chunk:
                self.kill()
                why = "hung" if not ready else "ended"
                pytest.fail(f"child {self.pid} {why} before saying anything more")
            self._buf += chunk
        raw, self._buf = self._buf.split(b"\n", 1)
        got = json.loads(raw)
        if isinstance(got, dict) and "error" in got:
            self.kill()
            pytest.fail(f"child {self.pid}: {got['error']}")
        return got

    def go(self) -> None:
        os.write(self._go, b"g")

    def end(self) -> int:
        """Its exit status (0: it ran to the end)."""
        os.close(self._fd)
        os.close(self._go)
        _, status = os.waitpid(self.pid, 0)
        self._ended = True
        return os.waitstatus_to_exitcode(status)

    def kill(self) -> None:
        if self._ended:
            return
        self._ended = True
        with suppress(OSError):
            os.kill(self.pid, signal.SIGKILL)
            os.waitpid(self.pid, 0)


def _holds(inv: Inventory, tag: str) -> list[str]:
    """``HOLDS`` one-unit holds over the hot positions; the ids of those
    acknowledged (a ``ConcurrencyConflict`` was certainly not applied)."""
    held = []
    for i in range(HOLDS):
        sku, loc = POSITIONS[i % len(POSITIONS)]
        with suppress(ConcurrencyConflict):
            held.append(inv.hold(Order(f"{tag}-{i}", lines=[Line(sku, 1, loc)])).id)
    return held


def _session(inv: Inventory) -> int | None:
    """The PostgreSQL session (backend pid) of ``inv``'s writing
    connection; None on SQLite."""
    conn = getattr(inv._runner.store, "_wconn", None)
    return None if conn is None else int(conn.info.backend_pid)


def _one(inv: Inventory, order: str) -> str:
    sku, loc = POSITIONS[0]
    return inv.hold(Order(order, lines=[Line(sku, 1, loc)])).id


@pytest.fixture(
    params=[("sqlite", True), ("postgresql", True), ("postgresql", False)],
    ids=["sqlite", "postgresql", "postgresql-no-replica"],
)
def opened(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, Inventory]]:
    """A stocked store's URL and an inventory on it that has written (its
    connections open, its statements prepared)."""
    kind, replica = request.param
    with store_url(kind, tmp_path, "fork") as url:
        setup_network(url, STOCK)
        inv = Inventory.open(url, replica=replica)
        try:
            _one(inv, "warm")
            yield url, inv
        finally:
            inv.close()


def test_forked_children_write_through_connections_of_their_own(
    opened: tuple[str, Inventory],
) -> None:
    """4 children forked after the parent wrote hold at once through its
    inventory. None hangs; every acknowledged hold is in the journal once
    and nothing else; once all are done each child's ledger equals a fresh
    replay; a child closing its inventory leaves the parent's session
    alone. (The parent only watches: sharing a socket, it could hang too,
    and a test must fail, not hang.)"""
    url, inv = opened
    session = _session(inv)

    def body(k: int) -> Callable[[Say, Callable[[], None]], None]:
        def run(say: Say, wait: Callable[[], None]) -> None:
            say(_holds(inv, f"c{k}"))
            wait()  # until every process has written
            say(inv.digest())
            inv.close()  # a worker shutting down: must not end the parent's session

        return run

    kids = [Child(body(k)) for k in range(CHILDREN)]
    try:
        held: list[str] = []
        for kid in kids:
            held += kid.line()
        for kid in kids:
            kid.go()
        digests = [kid.line() for kid in kids]
        assert [kid.end() for kid in kids] == [0] * CHILDREN
    finally:
        for kid in kids:
            kid.kill()
    assert len(held) == len(set(held))
    assert len(held) > 0.9 * CHILDREN * HOLDS  # contention, not failure
    with Inventory.open(url) as fresh:
        truth = fresh.digest()
        assert fresh.check().ok
        left = sum(fresh.available(sku, loc) for sku, loc in POSITIONS)
        assert left == STOCK * len(POSITIONS) - 1 - len(held)  # 1: the warm-up hold
        assert all(fresh.reservation(rid).state == "held" for rid in held)
    for k, digest in enumerate(digests):
        assert digest == truth, f"child {k}'s ledger differs from the journal"
    assert inv.digest() == truth
    _one(inv, "after")
    assert _session(inv) == session  # the same session: nobody said goodbye on it


def test_a_fork_while_another_thread_is_inside_a_command(
    opened: tuple[str, Inventory],
) -> None:
    """A parent thread holds the inventory's lock, its ledger half changed,
    when the main thread forks. The child neither waits for that lock (its
    holder does not exist there) nor plans on the torn copy: its answers
    and its ledger equal the journal's."""
    url, inv = opened
    sku, loc = POSITIONS[0]
    runner = inv._runner
    inside, forked = threading.Event(), threading.Event()

    def torn() -> None:
        with runner.lock:
            st = runner.state
            s, col = st.grid.sku_ix[sku], st.grid.loc_ix[loc]
            st.grid.reserved[s, col] += 7  # half of a change, as a fold in progress
            inside.set()
            forked.wait(TIMEOUT)
            st.grid.reserved[s, col] -= 7

    t = threading.Thread(target=torn)
    t.start()
    try:
        assert inside.wait(TIMEOUT)

        def run(say: Say, wait: Callable[[], None]) -> None:
            say([inv.available(sku, loc), _one(inv, "child"), inv.digest()])

        kid = Child(run)
    finally:
        forked.set()
        t.join()
    try:
        available, rid, digest = kid.line()
        assert kid.end() == 0
    finally:
        kid.kill()
    with Inventory.open(url) as fresh:
        assert available == STOCK - 1  # the warm-up hold, not 7 more
        assert fresh.reservation(rid).state == "held"
        assert digest == fresh.digest()
        assert fresh.check().ok
    assert inv.available(sku, loc) == STOCK - 2


def test_the_async_face_runs_in_a_forked_child(tmp_path: Path) -> None:
    """An ``AsyncInventory`` used before a fork answers in the child: its
    thread pools are new there (the parent's threads are not, and a pool
    that counted them would queue calls nobody runs)."""
    url = f"sqlite:///{tmp_path / 'aio.db'}"
    setup_network(url, STOCK)
    sku, loc = POSITIONS[0]

    async def opened() -> AsyncInventory:
        ainv = await AsyncInventory.open(url)
        await ainv.hold(Order("warm", lines=[Line(sku, 1, loc)]))
        return ainv

    ainv = asyncio.run(opened())
    try:

        def run(say: Say, wait: Callable[[], None]) -> None:
            async def child() -> list[Any]:
                res = await ainv.hold(Order("child", lines=[Line(sku, 1, loc)]))
                return [res.id, await ainv.available(sku, loc)]

            say(asyncio.run(child()))

        kid = Child(run)
        try:
            rid, available = kid.line()
            assert kid.end() == 0
        finally:
            kid.kill()
        assert rid == "child#1"
        assert available == STOCK - 2
    finally:
        asyncio.run(ainv.aclose())
