"""Kits and bundles (issue 16): a gift box of three components has no stock
of its own; its ATP at a location is the least floor(component ATP / qty);
a kit line is held, allocated, shipped, rejected, released, sold and
returned as its components, all at ONE location; feeds publish kits, and a
component's change moves its kits. The main flow runs on memory, SQLite
and PostgreSQL; every scenario ends with ``check()`` clean."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import Clock
from omnistock import Channel, Inventory, Line, Location, Order, Point, errors
from omnistock.channels.marketplace import MarketplaceAdapter
from omnistock.storage.base import Commit
from omnistock.storage.memory import MemoryStore

Make = Callable[..., Inventory]
BOX = {"mug": 1, "tea": 2, "card": 1}


def shop(inv: Inventory) -> Inventory:
    """Three stores on a line west to east: N (0,0), M (0,1), F (0,2).
    N has mugs but little tea, M has tea but no mugs, F has all three."""
    for name, lon in (("N", 0.0), ("M", 1.0), ("F", 2.0)):
        inv.add_location(Location(name, point=Point(0.0, lon), ships=True))
    inv.add_channel(Channel("web"))
    for sku, loc, q in [
        ("mug", "N", 10), ("tea", "N", 3), ("card", "N", 10),
        ("tea", "M", 20), ("card", "M", 10),
        ("mug", "F", 4), ("tea", "F", 7), ("card", "F", 9),
    ]:  # fmt: skip
        inv.receive(sku, loc, q)
    inv.add_kit("giftbox", BOX)
    return inv


def lines_of(res: object) -> list[tuple[str, str, int, str | None]]:
    return sorted((x.sku, x.location, x.qty, x.kit) for x in res.lines)  # type: ignore[attr-defined]


def test_gift_box_atp_is_limited_by_one_component_and_explain_names_it(
    store_url: str, make_inventory: Make
) -> None:
    inv = shop(make_inventory(store_url))
    # N: tea 3 // 2 = 1; M: no mugs = 0; F: tea 7 // 2 = 3, mug 4 -> 3.
    assert inv.available("giftbox", "N") == 1
    assert inv.available("giftbox", "M") == 0
    assert inv.available("giftbox", "F") == 3
    assert inv.available("giftbox") == 4  # never the 7 mugs+tea summed over the network
    ex = inv.explain("giftbox", "F")
    assert ex.available == 3 and ex.limiting == "tea"
    (pos,) = ex.kit
    assert pos.location == "F" and pos.atp == 3 and pos.limiting == "tea"
    terms = {c.sku: (c.qty, c.figures.atp, c.kits) for c in pos.components}
    assert terms == {"card": (1, 9, 9), "mug": (1, 4, 4), "tea": (2, 7, 3)}
    assert inv.explain("giftbox", "M").limiting == "mug"
    assert "limited by tea" in str(ex)
    inv.set_safety("tea", "F", 2)  # tea 5 // 2 = 2
    assert inv.available("giftbox", "F") == 2
    assert inv.kits() == {"giftbox": {"card": 1, "mug": 1, "tea": 2}}
    assert inv.check().ok


def test_hold_reserves_every_component_at_one_location_or_nothing(
    store_url: str, make_inventory: Make
) -> None:
    inv = shop(make_inventory(store_url))
    head = inv.head
    with pytest.raises(errors.InsufficientStock):  # N builds 1, not 2
        inv.hold(Order("o1", "web", [Line("giftbox", 2, "N")]))
    assert inv.head == head  # nothing written, not even one component
    res = inv.hold(Order("o1", "web", [Line("giftbox", 2, "F"), Line("card", 1, "F")]))
    assert lines_of(res) == [
        ("card", "F", 1, None),
        ("card", "F", 2, "giftbox"),
        ("mug", "F", 2, "giftbox"),
        ("tea", "F", 4, "giftbox"),
    ]
    assert [(k.sku, k.location, k.qty) for k in res.kits] == [("giftbox", "F", 2)]
    assert inv.available("giftbox", "F") == 1
    assert inv.available("tea", "F") == 3
    # the hold's last held row records the kits (no row of its own)
    last = inv.history(ref=res.id)[-1]
    assert last.kind == "held" and last.data["kits"] == [["giftbox", "F", 2]]
    # the order id is a natural key: the same order again is the same reservation
    again = inv.hold(Order("o1", "web", [Line("giftbox", 2, "F"), Line("card", 1, "F")]))
    assert again.id == res.id and again.kits == res.kits
    assert inv.check().ok


def test_sourcing_picks_the_store_that_can_build_the_whole_kit(
    store_url: str, make_inventory: Make
) -> None:
    inv = shop(make_inventory(store_url))
    # Shipping to M: M is closest but has no mugs; N builds 1; F builds 3.
    a = inv.allocate(Order("o1", "web", [("giftbox", 2)], ship_to=Point(0.0, 1.0)))
    assert a.status == "allocated"
    assert {x.location for x in a.reservation.lines} == {"F"}
    assert [(k.sku, k.location, k.qty) for k in a.reservation.kits] == [("giftbox", "F", 2)]
    assert a.trace is not None
    # 2 more: F builds 1, N builds 1: the network holds 2, but no store builds 2.
    head = inv.head
    b = inv.allocate(Order("o2", "web", [("giftbox", 2)], ship_to=Point(0.0, 1.0)))
    assert b.status == "unfillable" and "giftbox" in (b.reason or "")
    assert inv.head == head
    one = inv.allocate(Order("o3", "web", [("giftbox", 1)], ship_to=Point(0.0, 0.0)))
    assert {x.location for x in one.reservation.lines} == {"N"}  # closest that builds it
    assert inv.check().ok


def test_ship_reject_release_and_return_a_kit(store_url: str, make_inventory: Make) -> None:
    inv = shop(make_inventory(store_url))
    inv.receive("mug", "M", 5)  # M now builds 5 gift boxes
    a = inv.allocate(Order("o1", "web", [("giftbox", 3)], ship_to=Point(0.0, 2.0)))
    rid = a.reservation.id
    assert {x.location for x in a.reservation.lines} == {"F"}
    inv.commit(rid)
    shipped = inv.ship(rid, [("giftbox", 1)])
    assert sorted((x.sku, x.location, x.qty) for x in shipped.shipped) == [
        ("card", "F", 1), ("mug", "F", 1), ("tea", "F", 2),
    ]  # fmt: skip
    assert [(k.sku, k.qty) for k in shipped.kits] == [("giftbox", 2)]
    # F cannot build the other two after all: the whole kit moves to M.
    moved = inv.reject(rid, "giftbox", "not_found")
    assert moved.status == "allocated"
    assert {x.location for x in moved.reservation.lines} == {"M"}
    assert [(k.sku, k.location, k.qty) for k in moved.reservation.kits] == [("giftbox", "M", 2)]
    assert inv.on_hand("tea", "F") == 5  # no component's stock is touched by a kit rejection
    left = inv.release(rid, [("giftbox", 1)])
    assert [(k.location, k.qty) for k in left.kits] == [("M", 1)]
    assert lines_of(left) == [("card", "M", 1, "giftbox"), ("mug", "M", 1, "giftbox"),
                              ("tea", "M", 2, "giftbox")]  # fmt: skip
    done = inv.ship(rid)
    assert done.state == "fulfilled" and done.kits == ()
    with pytest.raises(errors.InvalidInput, match="not a kit held"):
        inv.release(inv.hold(Order("o9", "web", [Line("card", 1, "N")])).id, [("giftbox", 1)])
    before = {c: inv.on_hand(c, "N") for c in BOX}
    inv.return_items("N", [("giftbox", 1)], order_id="o1")
    assert {c: inv.on_hand(c, "N") - before[c] for c in BOX} == BOX
    assert inv.check().ok


def test_sell_consumes_components_and_expiry_frees_them(
    store_url: str, make_inventory: Make, clock: Clock
) -> None:
    inv = shop(make_inventory(store_url))
    inv.sell("F", [("giftbox", 1)])  # a POS sale of a kit consumes its components
    assert (inv.on_hand("mug", "F"), inv.on_hand("tea", "F"), inv.on_hand("card", "F")) == (3, 5, 8)
    res = inv.hold(Order("o1", "web", [Line("giftbox", 2, "F")]), ttl=60)
    inv.extend(res.id, timedelta(minutes=5))
    clock.advance(120)
    assert inv.reservation(res.id).state == "held"
    clock.advance(600)
    gone = inv.reservation(res.id)
    assert gone.state == "expired" and gone.lines == () and gone.kits == ()
    assert inv.available("giftbox", "F") == 2
    assert inv.check().ok


def test_add_kit_is_journaled_idempotent_and_refuses_redefinition(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'kits.db'}"
    inv = shop(Inventory.open(url))
    head = inv.head
    assert inv.add_kit("giftbox", dict(reversed(BOX.items()))) == dict(sorted(BOX.items()))
    assert inv.head == head  # the same definition again: a no-op
    with pytest.raises(errors.InvalidInput, match="already declared"):
        inv.add_kit("giftbox", {"mug": 2, "tea": 2, "card": 1})
    with pytest.raises(errors.InvalidInput, match="components='giftbox'"):
        inv.add_kit("hamper", {"giftbox": 1, "card": 1})  # kits do not nest
    with pytest.raises(errors.InvalidInput, match="already has stock"):
        inv.add_kit("mug", {"card": 1})
    inv.add_kit("bow-box", {"bow": 1, "card": 1})  # "bow" never stocked: ATP 0
    assert inv.available("bow-box") == 0
    with pytest.raises(errors.InvalidInput, match="is a component of kit 'bow-box'"):
        inv.add_kit("bow", {"card": 1})
    with pytest.raises(errors.InvalidInput, match="is a kit"):
        inv.receive("giftbox", "N", 1)
    other = Inventory.open(url)  # another process on the store sees it
    assert other.kits()["giftbox"] == {"card": 1, "mug": 1, "tea": 2}
    assert other.available("giftbox") == 4
    res = other.hold(Order("o1", "web", [Line("giftbox", 1, "N")]), key="k1")
    assert inv.reservation(res.id).kits == res.kits
    inv.snapshot()
    inv.close()
    other.close()
    again = Inventory.open(url)  # from the snapshot
    assert again.reservation(res.id).kits == res.kits
    repeat = again.hold(Order("o1", "web", [Line("giftbox", 1, "N")]), key="k1")
    assert (repeat.id, repeat.lines, repeat.kits) == (res.id, res.lines, res.kits)
    assert again.available("giftbox", "N") == 0
    assert again.check().ok
    again.close()


def test_feeds_publish_kits_and_a_component_moves_its_kit(
    store_url: str, make_inventory: Make
) -> None:
    inv = shop(make_inventory(store_url))
    inv.add_channel(Channel("mkt", buffer=1))
    first = {c.sku: c.available for c in inv.availability("feed", "mkt")}
    assert first["giftbox"] == 3  # 4 kits less the buffer
    inv.ack_availability("feed", "mkt", inv.head)
    adapter = MarketplaceAdapter("mkt")
    full = adapter.full(inv)
    assert dict((i.sku, i.quantity) for i in full.items)["giftbox"] == 3
    inv.receive("tea", "F", 2)  # F: tea 9 // 2 = 4, mug 4: F builds 4
    delta = adapter.delta(inv, full.cursor)
    assert ("giftbox", 4) in [(i.sku, i.quantity) for i in delta.items]
    changed = {c.sku: c.available for c in inv.availability("feed", "mkt")}
    assert changed == {"tea": 31, "giftbox": 4}
    assert inv.check().ok


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["receive", "sell", "hold", "release", "count", "safety"]),
            st.sampled_from(sorted(BOX)),
            st.sampled_from(["N", "M", "F"]),
            st.integers(0, 12),
        ),
        max_size=25,
    )
)
def test_kit_atp_is_the_least_component_quotient_after_any_commands(
    steps: list[tuple[str, str, str, int]],
) -> None:
    inv = shop(Inventory.open("memory://"))
    holds: list[str] = []
    for i, (cmd, sku, loc, q) in enumerate(steps):
        try:
            if cmd == "receive" and q:
                inv.receive(sku, loc, q)
            elif cmd == "sell" and q:
                inv.sell(loc, [(sku, q)])
            elif cmd == "hold" and q:
                holds.append(inv.hold(Order(f"o{i}", "web", [Line(sku, q, loc)])).id)
            elif cmd == "release" and holds:
                inv.release(holds.pop(q % len(holds)))
            elif cmd == "count":
                inv.count(sku, loc, q)
            elif cmd == "safety":
                inv.set_safety(sku, loc, q)
        except errors.InsufficientStock:
            pass
        for where in ("N", "M", "F"):
            brute = min(
                (inv.explain(c, where).positions[0].atp if c in inv.skus else 0) // n
                for c, n in BOX.items()
            )
            assert inv.explain("giftbox", where).kit[0].atp == brute
            assert inv.available("giftbox", where) == max(0, brute)
        assert inv.available("giftbox") == sum(
            inv.available("giftbox", where) for where in ("N", "M", "F")
        )
    assert inv.check().ok


def test_a_walk_in_sale_of_a_component_moves_the_whole_kit(
    store_url: str, make_inventory: Make
) -> None:
    inv = shop(make_inventory(store_url))
    inv.receive("mug", "M", 5)  # M builds 5
    res = inv.hold(Order("o1", "web", [Line("giftbox", 2, "F"), Line("tea", 1, "F")]))
    # F's tea: 7 on hand, 5 reserved (4 in the kits, 1 plain). A walk-in sale
    # of 5 teas leaves 2: 3 reserved units are uncovered.
    done = inv.sell("F", [("tea", 5)])
    assert [(r.sku, r.source, r.qty, r.missing) for r in done.resourced] == [("tea", "F", 3, 0)]
    now = inv.reservation(res.id)
    # One kit moved whole to a store that builds it (no destination: the
    # policy's first; M has mugs now but N ranks first), one stayed.
    assert [(k.location, k.qty) for k in now.kits] == [("F", 1), ("N", 1)]
    kit_locs = {(x.sku, x.location) for x in now.lines if x.kit}
    assert kit_locs == {(c, loc) for c in BOX for loc in ("F", "N")}  # never split
    assert ("tea", "N", 1, None) in lines_of(now)  # and the plain tea, for the last unit
    assert inv.check().ok


def test_amend_sets_the_kits_at_one_location(store_url: str, make_inventory: Make) -> None:
    inv = shop(make_inventory(store_url))
    res = inv.hold(Order("o1", "web", [Line("giftbox", 1, "F"), Line("card", 2, "N")]))
    more = inv.amend(res.id, [("giftbox", 3), Line("card", 2, "N")])  # where it is held
    assert [(k.location, k.qty) for k in more.reservation.kits] == [("F", 3)]
    assert inv.available("giftbox", "F") == 0
    with pytest.raises(errors.InsufficientStock):  # F builds 3 at most
        inv.amend(res.id, [("giftbox", 4)])
    # a plain card pinned beside the kit at F, and one kit fewer
    fewer = inv.amend(res.id, [("giftbox", 2), Line("card", 1, "F")])
    assert [(k.location, k.qty) for k in fewer.reservation.kits] == [("F", 2)]
    assert lines_of(fewer.reservation) == [
        ("card", "F", 1, None), ("card", "F", 2, "giftbox"),
        ("mug", "F", 2, "giftbox"), ("tea", "F", 4, "giftbox"),
    ]  # fmt: skip
    # the kit's units named as plain lines: no kit any more
    plain = inv.amend(res.id, [Line("card", 3, "F"), Line("mug", 2, "F"), Line("tea", 4, "F")])
    assert plain.reservation.kits == ()
    with pytest.raises(errors.InvalidInput, match="needs a location"):
        inv.amend(res.id, [("giftbox", 1)])
    assert inv.check().ok


def test_pickup_kits_bulk_paths_and_the_invariant(make_inventory: Make) -> None:
    inv = shop(make_inventory())
    for loc in ("N", "F"):
        inv.add_location(Location(loc, point=Point(0.0, 0.0 if loc == "N" else 2.0), pickup=True))
    a = inv.allocate(Order("p1", "web", [("giftbox", 2)], method="pickup", pickup_at="F"))
    assert a.status == "allocated" and [(k.location, k.qty) for k in a.reservation.kits] == [
        ("F", 2)
    ]
    # N builds 1: a kit is never built from components sent to the pickup store
    b = inv.allocate(Order("p2", "web", [("giftbox", 2)], method="pickup", pickup_at="N"))
    assert b.status == "unfillable" and "cannot build" in (b.reason or "")
    many = inv.allocate_many([Order("m1", "web", [("giftbox", 1)], ship_to=Point(0.0, 0.0))])
    assert many[0].status == "allocated" and many[0].reservation.kits[0].location == "N"
    with pytest.raises(errors.InvalidInput, match="partial"):
        inv.hold(Order("x", "web", [Line("giftbox", 1, "F")], allow_partial=True))
    assert inv.check().ok
    # the invariant: a reservation's kits are made up by its component units
    h = inv._state.holds.by_id[a.reservation.id]
    h.kits[("giftbox", inv._state.grid.loc_ix["F"])] = 3
    assert any("kits need" in p for p in inv.check().problems)


def test_promise_counts_component_supply_where_it_builds_kits(
    make_inventory: Make, clock: Clock
) -> None:
    inv = shop(make_inventory())
    assert inv.promise("giftbox", 4).now
    eta = clock.now + timedelta(days=2)
    inv.expect("tea", "M", 10, eta=eta)  # M has no mugs: it still builds none
    assert inv.promise("giftbox", 6).date is None
    inv.expect("tea", "N", 4, eta=eta + timedelta(days=1))  # N: tea 7 -> 3 kits
    p = inv.promise("giftbox", 6)
    assert (p.date, p.from_stock) == (eta + timedelta(days=1), 4)
    assert [(x.location, x.qty) for x in p.supply] == [("M", 10), ("N", 4)]
    ex = inv.explain("giftbox", channel="web")
    assert ex.available == 4 and [k.location for k in ex.kit] == ["N", "M", "F"]


def test_a_journal_with_kit_held_rows_still_replays() -> None:
    """Holds journaled before the kits rode on the held rows wrote a
    ``kit-held`` row after them: the same journal in that old shape replays
    to the same reservations, kits and figures, and checks clean."""
    store = MemoryStore()
    inv = shop(Inventory(store=store))
    res = inv.hold(Order("o1", "web", [Line("giftbox", 2, "F"), Line("card", 1, "F")]))
    two = inv.hold(Order("o2", "web", [Line("giftbox", 1, "N")]))
    old: list[tuple[object, ...]] = []
    for row in store.read():
        data = json.loads(row[9]) if row[9] else None
        if row[2] != "held" or not data or "kits" not in data:
            old.append(row[1:])
            continue
        kits = data.pop("kits")
        old.append((*row[1:9], json.dumps(data)))
        for kit, loc, n in kits:
            old.append((row[1], "kit-held", kit, loc, n, row[6], row[7], row[8], None))
    assert len(old) == len(list(store.read())) + 2  # one kit-held row per kit hold
    again = MemoryStore()
    again.append([Commit(tuple(old), None, None, None)], 0)  # type: ignore[arg-type]
    inv2 = Inventory(store=again)
    for r in (res, two):
        got = inv2.reservation(r.id)
        assert (got.kits, got.lines) == (r.kits, r.lines)
    assert inv2.available("giftbox", "F") == inv.available("giftbox", "F")
    assert inv2.available("giftbox", "N") == inv.available("giftbox", "N")
    inv2.release(res.id)  # the kits' units come back, as they do live
    assert inv2.available("tea", "F") == 7
    assert inv.check().ok and inv2.check().ok


def test_a_kit_s_component_lines_are_whole_line_values() -> None:
    """Component lines are built without Line's converters (a hot path):
    every field is still set, so they print, compare and convert like any
    line (a field left unset raised AttributeError on repr and equality)."""
    from omnistock.commands.kits import _line

    got = _line("tea", 4, "s1")
    assert got == Line("tea", 4, "s1")
    assert repr(got) == repr(Line("tea", 4, "s1"))
    assert got.unit is None
