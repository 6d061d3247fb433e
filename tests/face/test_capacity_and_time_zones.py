"""Daily capacity through an order's life, and stores' local days, on every
store: releasing, partly releasing, amending away or re-sourcing an order
gives its pick back to the store's capacity for the day; ``Location(tz=)``
makes the day start at local midnight."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from conftest import Clock
from omnistock import Inventory, Line, Location, Order, Point, errors

Make = Callable[..., Inventory]
HOME = Point(51.51, -0.11)


def network(inv: Inventory) -> Inventory:
    """Store s3 next door (one pick a day), warehouse w1 far away
    (unlimited). A: s3 10, w1 10. B: s3 5."""
    inv.add_location(Location("s3", point=HOME, daily_capacity=1))
    inv.add_location(Location("w1", kind="warehouse", point=Point(52.5, -1.9)))
    inv.receive("A", "s3", 10)
    inv.receive("A", "w1", 10)
    inv.receive("B", "s3", 5)
    return inv


@pytest.fixture
def inv(make_inventory: Make, store_url: str) -> Inventory:
    return network(make_inventory(store_url))


def where(inv: Inventory, oid: str, *lines: tuple[str, int]) -> list[str]:
    a = inv.allocate(Order(oid, lines=list(lines), ship_to=HOME), ttl=timedelta(hours=6))
    assert a.status == "allocated", a
    return sorted(x.location for x in a.lines)


def picks(inv: Inventory, ref: str) -> list[tuple[str | None, int]]:
    return [(e.location, e.qty) for e in inv.history(ref=ref, kind="picked")]


def test_releasing_an_order_gives_its_pick_back(inv: Inventory) -> None:
    assert where(inv, "o1", ("A", 1)) == ["s3"]
    assert where(inv, "o2", ("A", 1)) == ["w1"]  # s3 has picked its one order today
    inv.release("o1#1")
    assert picks(inv, "o1#1") == [("s3", 1), ("s3", -1)]
    assert where(inv, "o3", ("A", 1)) == ["s3"]
    assert inv.check().ok


def test_a_partial_release_gives_the_pick_back_only_when_it_leaves_the_store(
    inv: Inventory,
) -> None:
    assert where(inv, "o1", ("A", 2), ("B", 1)) == ["s3", "s3"]
    inv.release("o1#1", lines=[("A", 1)])
    assert picks(inv, "o1#1") == [("s3", 1)]  # still picks A and B there
    inv.release("o1#1", lines=[("A", 1), ("B", 1)])
    assert picks(inv, "o1#1") == [("s3", 1), ("s3", -1)]
    assert inv.reservation("o1#1").state == "released"
    assert where(inv, "o2", ("A", 1)) == ["s3"]


def test_amending_an_order_away_from_a_store_gives_the_pick_back(inv: Inventory) -> None:
    assert where(inv, "o1", ("A", 1)) == ["s3"]
    out = inv.amend("o1#1", [Line("A", 1, "w1")])
    assert [(x.location, x.qty) for x in out.lines] == [("w1", 1)]
    assert picks(inv, "o1#1") == [("s3", 1), ("s3", -1)]
    assert where(inv, "o2", ("A", 1)) == ["s3"]


def test_re_sourcing_a_rejected_line_moves_the_pick(inv: Inventory) -> None:
    assert where(inv, "o1", ("A", 1)) == ["s3"]
    inv.commit("o1#1")
    moved = inv.reject("o1#1", "A", "not_found")
    assert [(x.location, x.qty) for x in moved.lines] == [("w1", 1)]
    assert picks(inv, "o1#1") == [("s3", 1), ("s3", -1)]  # w1 has no daily capacity
    inv.receive("A", "s3", 3)
    assert where(inv, "o2", ("A", 1)) == ["s3"]
    assert inv.check().ok


def test_a_pick_from_an_earlier_day_is_spent(inv: Inventory, clock: Clock) -> None:
    assert where(inv, "o1", ("A", 1)) == ["s3"]
    inv.commit("o1#1")
    clock.advance(86_400)
    inv.release("o1#1")
    assert picks(inv, "o1#1") == [("s3", 1)]  # nothing given back to yesterday
    assert where(inv, "o2", ("A", 1)) == ["s3"]  # today has its own pick


def test_a_shipped_location_keeps_its_pick(inv: Inventory) -> None:
    assert where(inv, "o1", ("A", 2)) == ["s3"]
    inv.commit("o1#1")
    inv.ship("o1#1", [("A", 1)])
    inv.release("o1#1")
    assert picks(inv, "o1#1") == [("s3", 1)]
    assert where(inv, "o2", ("A", 1)) == ["w1"]


def test_a_stores_day_starts_at_its_local_midnight(make_inventory: Make, store_url: str) -> None:
    # 03:00 UTC on 10 March 2026 is 23:00 on the 9th in New York (EDT, UTC-4).
    clock = Clock()
    clock.now = datetime(2026, 3, 10, 3, 0, tzinfo=UTC)
    inv = Inventory.open(store_url, clock=clock)
    try:
        inv.add_location(Location("ny", point=HOME, daily_capacity=1, tz="America/New_York"))
        inv.add_location(Location("utc", point=Point(51.52, -0.11), daily_capacity=1))
        inv.add_location(Location("far", kind="warehouse", point=Point(40.0, 10.0)))
        for loc in ("ny", "utc", "far"):
            inv.receive("A", loc, 10)
        assert where(inv, "o1", ("A", 1)) == ["ny"]
        assert where(inv, "o2", ("A", 1)) == ["utc"]
        assert where(inv, "o3", ("A", 1)) == ["far"]
        clock.now += timedelta(hours=2)  # 01:00 on the 10th in New York; still the 10th in UTC
        assert where(inv, "o4", ("A", 1)) == ["ny"]
        assert where(inv, "o5", ("A", 1)) == ["far"]
        days = {(e.location, e.data["day"]) for e in inv.history(kind="picked")}
        ny9, ny10 = datetime(2026, 3, 9, tzinfo=UTC), datetime(2026, 3, 10, tzinfo=UTC)
        epoch = datetime(1970, 1, 1, tzinfo=UTC)
        assert days == {("ny", (ny9 - epoch).days), ("ny", (ny10 - epoch).days),
                        ("utc", (ny10 - epoch).days)}  # fmt: skip
        assert inv.locations["ny"].tz == "America/New_York"
        assert inv.locations["utc"].tz is None
        assert inv.check().ok
    finally:
        inv.close()
    if store_url != "memory://":  # journaled: a reopened store knows the zone
        again = Inventory.open(store_url, clock=clock)
        try:
            assert again.locations["ny"].tz == "America/New_York"
            assert again.check().ok
        finally:
            again.close()


def test_picks_survive_a_snapshot(make_inventory: Make, store_url: str, clock: Clock) -> None:
    if store_url == "memory://":
        pytest.skip("reopening needs a durable store")
    inv = network(make_inventory(store_url))
    assert where(inv, "o1", ("A", 1)) == ["s3"]
    inv.snapshot()
    inv.close()
    again = make_inventory(store_url)
    again.release("o1#1")
    assert picks(again, "o1#1") == [("s3", 1), ("s3", -1)]
    assert again.check().ok


def test_a_bad_time_zone_is_refused() -> None:
    with pytest.raises(errors.InvalidInput, match="tz='Mars/Olympus'"):
        Location("x", tz="Mars/Olympus")
    with pytest.raises(errors.InvalidInput, match="tz=5"):
        Location("x", tz=5)  # type: ignore[arg-type]


def test_an_expired_hold_gives_its_pick_back(inv: Inventory, clock: Clock) -> None:
    a = inv.allocate(Order("o1", lines=[("A", 1)], ship_to=HOME), ttl=60)
    assert [x.location for x in a.lines] == ["s3"]
    clock.advance(61)
    assert inv.reservation("o1#1").state == "expired"
    assert picks(inv, "o1#1") == [("s3", 1), ("s3", -1)]
    assert where(inv, "o2", ("A", 1)) == ["s3"]
    assert inv.check().ok
