"""An append whose reply is lost: the database committed it, the worker
never heard (a network cut, a load balancer's reset, a till's Wi-Fi).

The call cannot know what happened, so it must not claim either outcome:
it raises ``StorageError`` saying the append may or may not have been
written. A retry finds the truth: a hold retried with the same order id
returns the reservation that landed, a keyed command retried with its key
returns its first result, and nothing is written twice.

The cut is real: the store talks to PostgreSQL through a TCP forwarder in
this test that, once armed, lets the client's request through and drops
the server's answer, closing both sides.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest

psycopg = pytest.importorskip("psycopg", reason="psycopg 3 is not installed (omnistock[postgres])")

from conftest import PG_DSN as DSN  # noqa: E402
from omnistock import HoldBatch, Inventory, Line, Location, Order  # noqa: E402
from omnistock.errors import StorageError  # noqa: E402

pytestmark = pytest.mark.postgres  # skipped without a server, failed in CI (conftest)


class Cutter:
    """A TCP forwarder to ``(host, port)``. ``arm(n)``: on the ``n``-th
    connection accepted (0 first), the next bytes the server sends are
    dropped and both sides closed."""

    def __init__(self, host: str, port: int) -> None:
        self.target = (host, port)
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.conns: list[tuple[socket.socket, socket.socket]] = []
        self.armed: int | None = None
        self.cut = threading.Event()
        self._lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def arm(self, n: int) -> None:
        with self._lock:
            self.armed = n

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:  # closed
                return
            server = socket.create_connection(self.target)
            with self._lock:
                n = len(self.conns)
                self.conns.append((client, server))
            threading.Thread(target=self._pump, args=(client, server, None), daemon=True).start()
            threading.Thread(target=self._pump, args=(server, client, n), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket, n: int | None) -> None:
        """Copy ``src`` to ``dst``; ``n``: this is connection ``n``'s
        server side, which an armed cut silences."""
        with contextlib.suppress(OSError):
            while data := src.recv(65536):
                if n is not None:
                    with self._lock:
                        lose = self.armed == n
                        if lose:
                            self.armed = None
                    if lose:  # shutdown wakes the other pump's recv; close alone would not
                        self.cut.set()
                        for s in (src, dst):
                            with contextlib.suppress(OSError):
                                s.shutdown(socket.SHUT_RDWR)
                            s.close()
                        return
                dst.sendall(data)
        for s in (src, dst):
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)

    def close(self) -> None:
        self.listener.close()
        for pair in self.conns:
            for s in pair:
                s.close()


@pytest.fixture
def schema(pg_schema: str) -> str:
    """A fresh schema name, dropped afterwards (conftest's ``pg_schema``)."""
    return pg_schema


@pytest.fixture
def cutter() -> Iterator[Cutter]:
    parts = urlsplit(DSN)
    if not parts.hostname or parts.hostname.startswith("/"):
        pytest.skip("OMNISTOCK_PG_DSN names no TCP host to forward to")
    c = Cutter(parts.hostname, parts.port or 5432)
    yield c
    c.close()


@pytest.fixture
def opened(schema: str, cutter: Cutter) -> Iterator[Callable[[bool], Inventory]]:
    parts = urlsplit(DSN)
    netloc = parts.netloc.rpartition("@")
    via = f"{netloc[0]}{netloc[1]}127.0.0.1:{cutter.port}"
    url = urlunsplit(parts._replace(netloc=via))
    sep = "&" if "?" in url else "?"
    invs: list[Inventory] = []

    def make(replica: bool) -> Inventory:
        inv = Inventory.open(f"{url}{sep}schema={schema}", replica=replica)
        invs.append(inv)
        return inv

    yield make
    for inv in invs:
        inv.close()


def _journal(schema: str, ref: str) -> list[Any]:
    with psycopg.connect(DSN, autocommit=True) as conn:
        q = psycopg.sql.SQL("SELECT kind, qty FROM {}.journal WHERE ref = %s ORDER BY seq")
        return conn.execute(q.format(psycopg.sql.Identifier(schema)), (ref,)).fetchall()


def _writer_index(cutter: Cutter, inv: Inventory) -> int:
    """Which forwarded connection is the store's writer: the one whose
    server side has the port the writer's backend sees its client at."""
    conn = inv.store._wconn  # type: ignore[attr-defined]
    (port,) = conn.execute("SELECT inet_client_port()").fetchone()
    for i, (_client, server) in enumerate(cutter.conns):
        if server.getsockname()[1] == port:
            return i
    raise AssertionError("the writer's connection did not go through the forwarder")


@pytest.mark.parametrize("replica", [False, True], ids=["worker", "replica"])
@pytest.mark.parametrize("keyed", [False, True], ids=["order-id", "key"])
def test_a_hold_whose_reply_was_lost_says_so_and_its_retry_finds_it(
    opened: Callable[[bool], Inventory], cutter: Cutter, schema: str, replica: bool, keyed: bool
) -> None:
    inv = opened(replica)
    inv.add_location(Location("S"))
    inv.receive("X", "S", 5)
    inv.hold(Order("warm", lines=[Line("X", 1, "S")]))  # connections made, statement prepared
    key = "k-o-1" if keyed else None
    order = Order("o-1", lines=[Line("X", 1, "S")])
    cutter.arm(_writer_index(cutter, inv))
    with pytest.raises(StorageError) as info:
        inv.hold(order, key=key)
    assert cutter.cut.is_set()
    text = str(info.value)
    assert "may or may not have been written" in text, text
    assert _journal(schema, "o-1#1") == [("held", 1)]  # it landed
    again = inv.hold(order, key=key)  # a new connection, no cut
    assert (again.id, again.state, again.qty) == ("o-1#1", "held", 1)
    assert _journal(schema, "o-1#1") == [("held", 1)]  # and only once
    assert inv.available("X", "S") == 3
    report = inv.check()
    assert report.ok, report.problems


def test_a_keyed_bulk_hold_whose_reply_was_lost_lands_once_on_retry(
    opened: Callable[[bool], Inventory], cutter: Cutter, schema: str
) -> None:
    """A ``HoldBatch`` mints its reservation ids afresh each call, so only
    its key makes a retry safe: retried with it, the batch that landed is
    returned and nothing is held twice."""
    inv = opened(True)
    inv.add_location(Location("S"))
    inv.receive("X", "S", 10)
    inv.hold(Order("warm", lines=[Line("X", 1, "S")]))
    batch = HoldBatch(["b-1", "b-2"], ["X", "X"], ["S", "S"], [2, 3])
    cutter.arm(_writer_index(cutter, inv))
    with pytest.raises(StorageError, match="may or may not have been written"):
        inv.hold_many(batch, key="bulk-1")
    again = inv.hold_many(batch, key="bulk-1")
    assert again.held == 2
    with psycopg.connect(DSN, autocommit=True) as conn:
        q = psycopg.sql.SQL("SELECT count(*) FROM {}.journal WHERE kind = 'held-batch'")
        assert conn.execute(q.format(psycopg.sql.Identifier(schema))).fetchone() == (1,)
    assert inv.available("X", "S") == 4
    report = inv.check()
    assert report.ok, report.problems


@pytest.mark.parametrize("replica", [False, True], ids=["worker", "replica"])
def test_a_group_of_holds_whose_reply_was_lost_lands_once_on_retry(
    opened: Callable[[bool], Inventory], cutter: Cutter, schema: str, replica: bool
) -> None:
    """``hold_many`` with a list of orders: the order ids alone make the
    retry safe, as for ``hold``."""
    inv = opened(replica)
    inv.add_location(Location("S"))
    inv.receive("X", "S", 10)
    inv.hold(Order("warm", lines=[Line("X", 1, "S")]))
    orders = [Order(f"g-{i}", lines=[Line("X", i + 1, "S")]) for i in range(3)]
    cutter.arm(_writer_index(cutter, inv))
    with pytest.raises(StorageError, match="may or may not have been written"):
        inv.hold_many(orders)  # the store failed: the call raises, not per order
    assert cutter.cut.is_set()
    again = inv.hold_many(orders)
    assert [(r.id, r.qty) for r in again] == [("g-0#1", 1), ("g-1#1", 2), ("g-2#1", 3)]
    for i in range(3):
        assert _journal(schema, f"g-{i}#1") == [("held", i + 1)]
    assert inv.available("X", "S") == 3
    report = inv.check()
    assert report.ok, report.problems
