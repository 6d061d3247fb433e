"""A SKU's first movement and its first ``add_sku`` on PostgreSQL, planned
by two processes blind to each other: only one lands (the SKU's claim,
``ledger.deltas.fresh_skus``), and the other is refused and retried on the
ledger that holds the first. Without it, a receive of 5 kg planned as 5
whole units of an undeclared SKU would land beside a declaration of 3
decimals and read as 0.005 kg. Real server, two replicas and a worker."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from decimal import Decimal

import pytest

psycopg = pytest.importorskip("psycopg", reason="psycopg 3 is not installed (omnistock[postgres])")

from conftest import PG_DSN as DSN  # noqa: E402
from omnistock import Inventory, Location, Sku, errors  # noqa: E402

pytestmark = pytest.mark.postgres  # skipped without a server, failed in CI (conftest)
HAM = Sku("ham", unit="kg", decimals=3)
Open = Callable[..., Inventory]


@pytest.fixture
def opened() -> Iterator[Open]:
    schema = f"omnistock_cat_{uuid.uuid4().hex[:12]}"
    url = f"{DSN}{'&' if '?' in DSN else '?'}schema={schema}"
    invs: list[Inventory] = []

    def make(replica: bool = True) -> Inventory:
        inv = Inventory.open(url, replica=replica)
        invs.append(inv)
        return inv

    yield make
    for inv in invs:
        inv.close()
    with psycopg.connect(DSN, autocommit=True) as conn:
        conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")


def test_a_first_movement_planned_blind_to_a_declaration_is_refused(opened: Open) -> None:
    a, b = opened(), opened()
    a.add_location(Location("s1"))
    b.refresh()
    a.add_sku(HAM)  # b has not caught up: it would take 5 as whole units
    with pytest.raises(errors.ConcurrencyConflict):
        b.receive("ham", "s1", 5)
    b.receive("ham", "s1", 5)  # the retry converts by the declaration
    assert a.available("ham") == b.available("ham") == Decimal("5.000")
    report = a.check()
    assert report.ok, report.problems


def test_a_declaration_planned_blind_to_a_first_movement_is_refused(opened: Open) -> None:
    a, b = opened(), opened()
    a.add_location(Location("s1"))
    b.refresh()
    b.receive("ham", "s1", 5)  # 5 whole units of an undeclared SKU
    with pytest.raises(errors.InvalidInput, match="decimals"):
        a.add_sku(HAM)  # a had not seen them: refused once it has
    assert a.available("ham") == b.available("ham") == 5
    assert "ham" not in a.catalogue
    report = a.check()
    assert report.ok, report.problems


def test_claims_cost_one_first_touch_and_never_block_known_skus(opened: Open) -> None:
    """A worker without a replica, and a replica that is behind, write to
    SKUs others have already touched (moved, expected, declared) without a
    refusal: only a SKU's very first touch claims it."""
    a = opened()
    a.add_location(Location("s1"))
    a.receive("moved", "s1", 3)
    a.add_sku(Sku("declared", decimals=2))
    w, r = opened(replica=False), opened()
    a.receive("late", "s1", 1)  # r is behind on this one
    w.receive("moved", "s1", 1)
    w.receive("declared", "s1", "1.25")
    r.receive("moved", "s1", 1)
    r.receive("late", "s1", 1)  # planned blind: its claim conflicts, it catches up and lands
    assert a.available("moved") == 5
    assert a.available("declared") == Decimal("1.25")
    assert a.available("late") == 2
    report = a.check()
    assert report.ok, report.problems
