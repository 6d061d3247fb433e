"""``history(order=order_id)`` and datetime bounds, on every store: every
entry of every reservation of an order (held again after a release, bulk
holds, transfers earmarked for it, returns naming it), and nothing of
another order whose id shares its prefix."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest

from conftest import PG_DSN, Clock, pg_unreachable
from omnistock import HoldBatch, Inventory, Line, Location, Order, Point, errors
from omnistock.fulfilment import Policy

Make = Callable[..., Inventory]


@pytest.fixture
def inv(make_inventory: Make, store_url: str) -> Inventory:
    inv = make_inventory(store_url)
    inv.add_location(Location("s1", point=Point(51.50, -0.12)))
    inv.add_location(Location("s2", point=Point(51.52, -0.10)))
    inv.receive("A", "s1", 10)
    inv.receive("A", "s2", 10)
    return inv


def seen(entries: list[object]) -> list[tuple[str, str | None, int]]:
    return [(e.kind, e.ref, e.qty) for e in entries]  # type: ignore[attr-defined]


def test_every_reservation_of_the_order_and_nothing_else(inv: Inventory) -> None:
    first = inv.hold(Order("o1", lines=[Line("A", 2, "s1")]))
    inv.release(first.id)
    second = inv.hold(Order("o1", lines=[Line("A", 3, "s1")]))
    # Ids that share the prefix: another order "o10", and an order whose id
    # itself has a "#" ("o1#x", reservations "o1#x#1").
    inv.hold(Order("o10", lines=[Line("A", 1, "s1")]))
    inv.hold(Order("o1#x", lines=[Line("A", 1, "s2")]))
    inv.commit(second.id)
    inv.amend(second.id, [Line("A", 4, "s1")])
    inv.release(second.id, lines=[("A", 1)])
    inv.ship(second.id)
    inv.return_items("s1", [("A", 1)], order_id="o1")
    assert second.id == "o1#2"
    assert seen(inv.history(order="o1")) == [
        ("held", "o1#1", 2),
        ("released", "o1#1", 2),
        ("held", "o1#2", 3),
        ("committed", "o1#2", 3),
        ("held", "o1#2", 1),
        ("released", "o1#2", 1),
        ("fulfilled", "o1#2", 3),
        ("returned", "o1", 1),
    ]
    assert seen(inv.history(order="o1#x")) == [("held", "o1#x#1", 1)]
    assert seen(inv.history(order="o1", kind="held", limit=2)) == [
        ("held", "o1#1", 2),
        ("held", "o1#2", 3),
    ]
    assert inv.history(order="nobody") == []


def test_an_order_found_past_the_index_batch(inv: Inventory) -> None:
    """SQLite indexes refs in batches: rows before and after the indexed
    tail are both found, in order."""
    inv.hold(Order("o1", lines=[Line("A", 1, "s1")]))
    for i in range(300):
        inv.receive("B", "s1", 1, key=f"r{i}")
    res = inv.hold(Order("o2", lines=[Line("A", 1, "s2")]))
    inv.commit("o1#1")
    assert seen(inv.history(order="o1")) == [("held", "o1#1", 1), ("committed", "o1#1", 1)]
    assert seen(inv.history(order="o2")) == [("held", res.id, 1)]


def test_a_bulk_hold_member_before_and_after_it_is_detached(inv: Inventory) -> None:
    batch = HoldBatch(["b1", "b2"], ["A", "A"], ["s1", "s2"], [2, 1])
    r = inv.hold_many(batch, ttl=600)
    rid = r.reservation_id(0)
    assert rid is not None
    assert seen(inv.history(order="b1")) == [("held", rid, 2)]
    inv.commit(rid)
    assert seen(inv.history(order="b1")) == [("held", rid, 2), ("committed", rid, 2)]
    assert seen(inv.history(order="b2")) == [("held", r.reservation_id(1), 1)]


def test_transfers_earmarked_for_the_order(inv: Inventory) -> None:
    inv.set_policy(Policy(bopis_fallback=["transfer"]))
    inv.add_location(Location("s3", point=Point(51.51, -0.11)))
    alloc = inv.allocate(Order("p1", lines=[("A", 3)], method="pickup", pickup_at="s3"))
    assert alloc.reservation is not None and alloc.transfers
    t = alloc.transfers[0]
    inv.receive_transfer(t.id)
    kinds = [(e.kind, e.ref) for e in inv.history(order="p1")]
    assert ("transfer-out", t.id) in kinds and ("transfer-in", t.id) in kinds
    assert t.id.startswith(alloc.reservation.id + "/")
    assert all(e.ref is not None and e.ref.startswith("p1#") for e in inv.history(order="p1"))


def test_since_and_until_accept_datetimes(inv: Inventory, clock: Clock) -> None:
    t0 = clock()
    a = inv.hold(Order("o1", lines=[Line("A", 1, "s1")]))
    clock.advance(60)
    t1 = clock()
    inv.commit(a.id)
    clock.advance(60)
    inv.ship(a.id)
    assert seen(inv.history(order="o1", since=t1)) == [
        ("committed", a.id, 1),
        ("fulfilled", a.id, 1),
    ]
    assert seen(inv.history(order="o1", until=t1)) == [("held", a.id, 1), ("committed", a.id, 1)]
    assert seen(inv.history(order="o1", since=t1, until=t1)) == [("committed", a.id, 1)]
    assert len(inv.history(since=t0 - timedelta(days=1))) == len(inv.history())
    assert inv.history(since=clock() + timedelta(seconds=1)) == []


def test_history_by_order_refuses_bad_input(inv: Inventory) -> None:
    with pytest.raises(errors.InvalidInput, match="order=''"):
        inv.history(order="")
    with pytest.raises(errors.InvalidInput, match="since="):
        inv.history(since=Clock()().replace(tzinfo=None))


def test_the_postgres_ref_index_serves_a_prefix_range(store_url: str) -> None:
    """On PostgreSQL the ref index is in the "C" collation, so the order's
    prefix range (and ref equality) can use it whatever the database's
    collation."""
    if not store_url.startswith("postgresql"):
        pytest.skip("PostgreSQL only")
    assert pg_unreachable() is None
    import psycopg

    schema = store_url.rsplit("schema=", 1)[1]
    inv = Inventory.open(store_url)
    inv.add_location(Location("s1"))
    inv.close()
    with psycopg.connect(PG_DSN, autocommit=True) as conn:
        conn.execute("SET enable_seqscan = off")
        for where in ("ref COLLATE \"C\" >= 'o1#' AND ref COLLATE \"C\" < 'o1$'",
                      "ref COLLATE \"C\" = 'o1'"):  # fmt: skip
            plan = conn.execute(
                f'EXPLAIN SELECT seq FROM "{schema}".journal WHERE seq > 0 AND {where} '
                "ORDER BY seq LIMIT 10"
            ).fetchall()
            assert "journal_refc_seq" in " ".join(r[0] for r in plan), plan
