"""Shared test fixtures: an injectable clock and a fixture inventory factory."""

from __future__ import annotations

import functools
import os
import sys
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from omnistock import Channel, Inventory, Line, Location, Order, Point

# Shared helpers by bare name: the reference model and the worker processes'
# entry points (spawned processes import them the same way).
for _dir in ("reference", "processes"):
    sys.path.insert(0, str(Path(__file__).with_name(_dir)))


class Clock:
    """Mutable aware-UTC clock; call it for "now", ``advance`` to move it."""

    def __init__(self, start: datetime | None = None) -> None:
        self.now = start or datetime(2024, 1, 1, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> datetime:
        self.now = self.now + timedelta(seconds=seconds)
        return self.now


@dataclass
class World:
    """A fixture inventory and the ids of the reservations made in it."""

    inv: Inventory
    clock: Clock
    held: str
    committed: str
    expired: str
    released: str
    fulfilled: str
    closed_transfer: str = ""


def build_world(inv: Inventory, clock: Clock) -> World:
    """Two locations (store ``s1`` with pickup, warehouse ``w1``), a channel
    ``web`` with buffer 2, SKUs A (s1 10, w1 20) and B (s1 5), a transfer
    of SKU T closed short (``closed_transfer``), and one
    reservation in each lifecycle state. A keyed receive uses key ``k-recv``."""
    inv.add_location(Location("s1", point=Point(51.5, -0.1)))
    inv.add_location(Location("w1", kind="warehouse", point=Point(52.0, 0.0)))
    inv.add_channel(Channel("web", buffer=2))
    inv.receive("A", "s1", 10, key="k-recv")
    inv.receive("A", "w1", 20)
    inv.receive("B", "s1", 5)
    held = inv.hold(Order("o1", lines=[Line("A", 2, "s1")]), ttl=600)
    committed = inv.commit(inv.hold(Order("o2", lines=[Line("A", 3, "s1")]), ttl=600).id)
    expired = inv.hold(Order("o3", lines=[Line("B", 1, "s1")]), ttl=60)
    released = inv.release(inv.hold(Order("o4", lines=[Line("B", 1, "s1")]), ttl=600).id)
    fulfilled = inv.hold(Order("o5", lines=[Line("A", 1, "w1")]), ttl=600)
    inv.commit(fulfilled.id)
    inv.ship(fulfilled.id)
    # A transfer of SKU T closed short (its rest lost in transit).
    inv.receive("T", "w1", 1)
    closed = inv.transfer("T", "w1", "s1", 1)
    inv.close_transfer(closed.id)
    clock.advance(120)  # o3 expires; o1 still held
    inv.digest()  # folds the expiry in now
    return World(
        inv, clock, held.id, committed.id, expired.id, released.id, fulfilled.id, closed.id
    )


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def make_inventory(clock: Clock) -> Iterator[Callable[..., Inventory]]:
    """Factory: ``make_inventory(url="memory://")`` opens an inventory on the
    shared fixed ``clock``."""
    opened: list[Inventory] = []

    def make(url: str = "memory://", **options: object) -> Inventory:
        inv = Inventory.open(url, clock=clock, **options)
        opened.append(inv)
        return inv

    yield make
    for inv in opened:
        inv.close()


@pytest.fixture
def world(make_inventory: Callable[..., Inventory], clock: Clock) -> World:
    return build_world(make_inventory(), clock)


# -- one test on every store ----------------------------------------------------
PG_DSN = os.environ.get("OMNISTOCK_PG_DSN", "postgresql://postgres@127.0.0.1:5432/test")
REQUIRE_PG = os.environ.get("OMNISTOCK_REQUIRE_PG") == "1"


@functools.cache
def pg_unreachable() -> str | None:
    """Why no PostgreSQL answers at ``OMNISTOCK_PG_DSN``, or None if one
    does. Asked once per session (a missing server costs one timeout)."""
    try:
        import psycopg

        with psycopg.connect(PG_DSN, connect_timeout=3) as conn:
            conn.execute("SELECT 1")
    except Exception as exc:  # any failure means "cannot test here"
        return f"{type(exc).__name__}: {str(exc).strip().splitlines()[0] if str(exc) else ''}"
    return None


def require_pg() -> None:
    """Go on only with a server at ``OMNISTOCK_PG_DSN``: without one the
    test is skipped saying why, or failed under CI's ``OMNISTOCK_REQUIRE_PG=1``."""
    why = pg_unreachable()
    if why is None:
        return
    if REQUIRE_PG:
        pytest.fail(f"OMNISTOCK_REQUIRE_PG=1 but no PostgreSQL at {PG_DSN}: {why}")
    pytest.skip(f"no PostgreSQL server reachable via OMNISTOCK_PG_DSN ({why})")


def pytest_runtest_setup(item: pytest.Item) -> None:
    """A test marked ``postgres`` (a module's ``pytestmark``, a test, or a
    parameter) needs a server (``require_pg``)."""
    if item.get_closest_marker("postgres") is not None:
        require_pg()


def drop_pg_schema(name: str) -> None:
    """Drop the PostgreSQL schema ``name`` and everything in it, if it exists."""
    import psycopg
    from psycopg import sql

    with psycopg.connect(PG_DSN, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(name)))


@pytest.fixture
def pg_schema() -> Iterator[str]:
    """A fresh PostgreSQL schema name, dropped with all in it afterwards."""
    name = f"omnistock_t_{uuid.uuid4().hex[:12]}"
    yield name
    drop_pg_schema(name)


@pytest.fixture(params=["memory", "sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh store's URL, once per kind: ``memory://``, a SQLite file, and
    a private PostgreSQL schema (dropped afterwards; skipped with the reason
    when no server answers at ``OMNISTOCK_PG_DSN``, failed under CI's
    ``OMNISTOCK_REQUIRE_PG=1``)."""
    kind = request.param
    if kind == "memory":
        yield "memory://"
        return
    if kind == "sqlite":
        yield f"sqlite:///{tmp_path / 'store.db'}"
        return
    require_pg()
    schema = f"omnistock_t_{uuid.uuid4().hex[:12]}"
    sep = "&" if "?" in PG_DSN else "?"
    yield f"{PG_DSN}{sep}schema={schema}"
    drop_pg_schema(schema)
