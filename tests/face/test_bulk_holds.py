"""Bulk holds: ``Inventory.hold_many(HoldBatch)`` and the ledger blocks behind it.

A ``HoldBatch`` is decided by one kernel call and journaled as one
``held-batch`` row; its reservations live in a ledger block until a command
names one of them. Each section below states one promise of the feature:

1. equivalence: a batch decides exactly what sequential ``hold`` calls decide
   (a hypothesis property over random stock and batches);
2. the lifecycle of block members (commit, release, extend, resize, ship,
   collect, reads that do not detach, expiry by the clock);
3. shortages: a sale or count names uncovered members and re-sources them as
   it would ordinary holds;
4. durability: reopen, snapshots, ``at(seq)``, a second writer;
5. idempotency keys;
6. bad input, one table;
7. ``history()`` expanding block rows;
8. the marketplace delta feed after bulk holds;
9. savepoint rollback of block rows (ledger level);
10. channels: locations that do not serve the channel, and fenced channels
    (decided order by order).

Tests whose docstring says "Regression" pin down bugs these tests found in
the first version of the feature (8f6ac05), since fixed.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from conftest import Clock
from omnistock import (
    Channel,
    HoldBatch,
    HoldBatchResult,
    Inventory,
    Line,
    Location,
    Order,
    Reservation,
    errors,
)
from omnistock.channels.marketplace import MarketplaceAdapter
from omnistock.holdbatch import HELD, NOT_SERVED, REFUSED, UNKNOWN_LOCATION, UNKNOWN_SKU
from omnistock.ledger import heldbatches
from omnistock.ledger.savepoint import Savepoint
from omnistock.ledger.state import LedgerState

Make = Callable[..., Inventory]
# An order as plain data: (order id, [(sku, qty, location), ...]).
Spec = tuple[str, list[tuple[str, int, str]]]


# -- helpers -------------------------------------------------------------------------
def batch_of(orders: Sequence[Spec], channel: str | None = None, single: bool = False) -> HoldBatch:
    """A ``HoldBatch`` of ``orders``; ``single`` leaves ``start`` out (every
    order must then have exactly one line)."""
    skus = [s for _, ls in orders for s, _, _ in ls]
    locs = [x for _, ls in orders for _, _, x in ls]
    qty = [q for _, ls in orders for _, q, _ in ls]
    ids = [o for o, _ in orders]
    if single:
        assert all(len(ls) == 1 for _, ls in orders)
        return HoldBatch(ids, skus, locs, qty, channel=channel)
    start = [0, *itertools.accumulate(len(ls) for _, ls in orders)]
    return HoldBatch(ids, skus, locs, qty, start=start, channel=channel)


def order_of(spec: Spec, channel: str | None = None) -> Order:
    oid, lines = spec
    return Order(oid, channel=channel, lines=[Line(s, q, x) for s, q, x in lines])


def status_of_hold(inv: Inventory, order: Order, ttl: Any = 900) -> tuple[int, Any]:
    """What a plain ``hold`` decides, as a ``HoldBatchResult`` status code."""
    try:
        return HELD, inv.hold(order, ttl=ttl)
    except errors.InsufficientStock as exc:
        return REFUSED, exc
    except errors.UnknownSku as exc:
        return UNKNOWN_SKU, exc
    except errors.UnknownLocation as exc:
        return UNKNOWN_LOCATION, exc
    except errors.InvalidInput as exc:
        assert "does not serve" in str(exc), exc
        return NOT_SERVED, exc


def lines_of(res: Reservation) -> list[tuple[str, str, int]]:
    return sorted((x.sku, x.location, x.qty) for x in res.lines)


def member(r: HoldBatchResult, j: int) -> str:
    """The reservation id of order ``j``, which must have been held."""
    rid = r.reservation_id(j)
    assert rid is not None, (j, r.reason(j))
    return rid


def block_of(inv: Inventory, token: str | None) -> heldbatches.HeldBatch:
    assert token is not None
    return inv._state.holds.batches[token]


def blocks_state(st: LedgerState) -> dict[str, tuple[list[bool], int, bool]]:
    return {t: (b.live.tolist(), b.n_live, b.expired) for t, b in st.holds.batches.items()}


def figures(inv: Inventory, skus: Sequence[str], locs: Sequence[str]) -> list[Any]:
    """Every figure a reader sees for these positions."""
    out: list[Any] = []
    for s in skus:
        out.append(inv.available(s))
        for x in locs:
            out.append(inv.explain(s, x))
    return out


def assert_sound(*invs: Inventory) -> None:
    for inv in invs:
        report = inv.check()
        assert report.ok, report.problems
        assert inv._state.violations() == []


def two_stores(inv: Inventory) -> Inventory:
    """Stores s1 and s2: A 6 at s1 and 10 at s2, B 4 at s1."""
    inv.add_location(Location("s1"))
    inv.add_location(Location("s2"))
    inv.receive("A", "s1", 6)
    inv.receive("A", "s2", 10)
    inv.receive("B", "s1", 4)
    return inv


@pytest.fixture
def inv(make_inventory: Make) -> Inventory:
    return two_stores(make_inventory())


# == 1. equivalence with sequential holds ============================================
SKUS = ("A", "B", "C")
LOCS = ("s1", "s2")
PRE = datetime(2024, 5, 1, 9, 0, tzinfo=UTC)

lines_st = st.lists(
    st.tuples(
        st.sampled_from(SKUS * 4 + ("ZZ",)),
        st.integers(1, 5),
        st.sampled_from(LOCS * 4 + ("nowhere",)),
    ),
    min_size=1,
    max_size=3,
)


@st.composite
def scenarios(draw: st.DrawFn) -> dict[str, Any]:
    stock = draw(
        st.dictionaries(
            st.tuples(st.sampled_from(SKUS), st.sampled_from(LOCS)), st.integers(0, 8), max_size=6
        )
    )
    known = sorted(stock)
    sales = (
        draw(st.lists(st.tuples(st.sampled_from(known), st.integers(1, 4)), max_size=2))
        if known
        else []
    )
    n = draw(st.integers(1, 7))
    names = draw(st.permutations([f"o{i}" for i in range(n)]))
    one_line = draw(st.booleans())
    orders: list[Spec] = []
    for oid in names:
        ls = draw(lines_st)
        orders.append((oid, ls[:1] if one_line else ls))
    single = one_line and draw(st.booleans())
    return {
        "stock": stock,
        "sales": sales,
        "orders": orders,
        "single": single,
        "ttl": draw(st.sampled_from([60, 900])),
    }


def _twin(sc: dict[str, Any]) -> Inventory:
    inv = Inventory(clock=lambda: PRE)
    for x in LOCS:
        inv.add_location(Location(x))
    for (s, x), q in sorted(sc["stock"].items()):
        if q:
            inv.receive(s, x, q)
        else:
            inv.count(s, x, 0)  # the SKU is known, with nothing on hand
    for (s, x), q in sc["sales"]:
        inv.sell(x, [(s, q)])  # may take a position below zero
    return inv


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(sc=scenarios())
@example(
    sc={  # one line per order, start left out, an unknown SKU among refusals
        "stock": {("A", "s1"): 0},
        "sales": [],
        "single": True,
        "ttl": 60,
        "orders": [*((f"o{j}", [("A", 1, "s1")]) for j in range(4)), ("o4", [("B", 1, "s1")])],
    }
)
@example(
    sc={  # repeated positions in one order: the sum is checked, not each line
        "stock": {("A", "s1"): 5, ("B", "s2"): 2},
        "sales": [(("A", "s1"), 1)],
        "single": False,
        "ttl": 900,
        "orders": [
            ("x", [("A", 2, "s1"), ("A", 3, "s1")]),
            ("y", [("A", 2, "s1"), ("B", 2, "s2"), ("A", 2, "s1")]),
            ("z", [("B", 2, "s2"), ("ZZ", 1, "nowhere")]),
            ("w", [("A", 1, "nowhere"), ("ZZ", 1, "s1")]),
        ],
    }
)
def test_a_batch_decides_what_sequential_holds_decide(sc: dict[str, Any]) -> None:
    bulk, seq = _twin(sc), _twin(sc)
    orders: list[Spec] = sc["orders"]
    result = bulk.hold_many(batch_of(orders, single=sc["single"]), ttl=sc["ttl"])
    assert isinstance(result, HoldBatchResult) and len(result) == len(orders)
    assert result.order_ids == tuple(o for o, _ in orders)
    for j, spec in enumerate(orders):
        want, got = status_of_hold(seq, order_of(spec), sc["ttl"])
        assert int(result.status[j]) == want, (j, spec, got)
        rid = result.reservation_id(j)
        if want == HELD:
            assert rid == f"{spec[0]}#{result.token}"
            res = bulk.reservation(rid)
            assert (res.state, res.order_id, lines_of(res), res.expires_at) == (
                "held",
                spec[0],
                lines_of(got),
                got.expires_at,
            )
        else:
            assert rid is None
    assert result.held == sum(1 for j in range(len(orders)) if result.status[j] == HELD)
    assert (result.token is None) == (result.held == 0)
    skus = [s for s in SKUS if s in seq.skus]
    assert figures(bulk, skus, LOCS) == figures(seq, skus, LOCS)
    assert sorted(lines_of(r) for r in bulk.reservations()) == sorted(
        lines_of(r) for r in seq.reservations()
    )
    assert_sound(bulk, seq)


# == 2. the lifecycle of block members ===============================================
SIX = [(f"m{j}", [("A", 1, "s2")]) for j in range(6)]


def test_every_command_works_on_a_block_member(inv: Inventory, clock: Clock) -> None:
    r = inv.hold_many(batch_of([*SIX, ("big", [("A", 2, "s1"), ("B", 1, "s1")])]), ttl=300)
    assert r.held == 7
    m = [member(r, j) for j in range(7)]
    b = block_of(inv, r.token)
    assert b.n_live == 7 and inv.available("A", location="s2") == 4

    # reads synthesise members and never detach them
    one = inv.reservation(m[6])
    assert (one.state, lines_of(one)) == ("held", [("A", "s1", 2), ("B", "s1", 1)])
    assert one.expires_at == clock() + timedelta(seconds=300)
    assert len([x for x in inv.reservations() if x.id in m]) == 7
    assert len(inv.reservations(state="held")) == 7
    assert b.n_live == 7 and b.live.all() and not inv._state.holds.by_id
    assert_sound(inv)

    c = inv.commit(m[0])
    assert (c.state, c.expires_at) == ("committed", None)
    assert b.n_live == 6 and m[0] in inv._state.holds.by_id
    assert inv.reservation(m[0]).state == "committed"
    assert_sound(inv)

    rel = inv.release(m[1])
    assert (rel.state, rel.lines) == ("released", ())
    assert inv.available("A", location="s2") == 5
    with pytest.raises(errors.InvalidTransition, match="released"):
        inv.commit(m[1])
    assert_sound(inv)

    ext = inv.extend(m[2], 3600)
    assert ext.expires_at == clock() + timedelta(seconds=3600)
    assert_sound(inv)

    big = inv.resize(m[6], [("A", 5, "s1"), ("B", 1, "s1")])
    assert lines_of(big) == [("A", "s1", 5), ("B", "s1", 1)]
    assert inv.available("A", location="s1") == 1
    with pytest.raises(errors.InsufficientStock):
        inv.resize(m[6], [("A", 7, "s1"), ("B", 1, "s1")])
    assert_sound(inv)

    shipped = inv.ship(m[0])
    assert shipped.state == "fulfilled" and inv.on_hand("A", "s2") == 9
    got = inv.collect(m[3])
    assert got.state == "fulfilled" and inv.on_hand("A", "s2") == 8
    assert b.n_live == 2  # m4 and m5 were never named
    assert inv.available("A", location="s2") == 5  # 8 on hand - m2 - m4 - m5
    assert_sound(inv)

    # at the expiry the members never named expire with one expired-batch row
    # (the resized one, detached, with its own rows); the extended one lives on
    head = inv.head
    clock.advance(301)
    assert inv.available("A", location="s2") == 7  # only m2 is still held there
    assert inv.available("A", location="s1") == 6
    assert inv.head == head + 3  # expired-batch for m4 and m5; two lines of m6
    kinds = [(e.kind, e.ref) for e in inv.history(since=head)]
    assert sorted(kinds) == sorted(
        [("expired", m[4]), ("expired", m[5]), ("expired", m[6]), ("expired", m[6])]
    )
    for rid in (m[4], m[5], m[6]):
        gone = inv.reservation(rid)
        assert (gone.state, gone.lines, gone.expires_at) == ("expired", (), None)
    assert inv.reservation(m[2]).state == "held"
    assert b.expired and r.token in inv._state.holds.batches
    assert b.n_live == 2 and b.live.tolist() == [False] * 4 + [True, True, False]
    with pytest.raises(errors.InvalidTransition, match="expired"):
        inv.commit(m[4])
    with pytest.raises(errors.InvalidTransition, match="expired"):
        inv.release(m[5])
    assert_sound(inv)
    clock.advance(3600)
    assert inv.reservation(m[2]).state == "expired"
    assert inv.available("A", location="s2") == 8
    assert_sound(inv)


def test_a_block_leaves_the_ledger_when_its_last_member_detaches(inv: Inventory) -> None:
    r = inv.hold_many(batch_of(SIX[:2]))
    token = r.token
    assert token is not None
    inv.commit(member(r, 0))
    assert token in inv._state.holds.batches
    inv.release(member(r, 1))
    assert token not in inv._state.holds.batches
    assert inv._state.holds.first_expiry() is None  # nothing left held
    assert [x.state for x in inv.reservations()] == ["committed", "released"]
    assert_sound(inv)


def test_keyed_commands_on_members_go_through_the_group_commit(inv: Inventory) -> None:
    r = inv.hold_many(batch_of(SIX[:3]))
    ids = [member(r, j) for j in range(3)]
    first = inv.commit(ids[0], key="c-0")
    head = inv.head
    assert inv.commit(ids[0], key="c-0") == first
    assert inv.head == head
    out = inv.hold_many([order_of(("extra", [("A", 1, "s2")]))])
    assert isinstance(out[0], Reservation)
    inv.release(ids[1], key="r-1")
    assert block_of(inv, r.token).n_live == 1
    assert_sound(inv)


# == 3. shortages ====================================================================
THREE = [(f"o{j}", [("A", 2, "s1")]) for j in range(1, 4)]


def _sell(inv: Inventory, how: str) -> Any:
    if how == "sell":
        return inv.sell("s1", [("A", 3)])
    return inv.count("A", "s1", 3)


@pytest.mark.parametrize("how", ["sell", "count"])
def test_a_shortage_names_and_resources_members_as_ordinary_holds(
    make_inventory: Make, how: str
) -> None:
    bulk, seq = two_stores(make_inventory()), two_stores(make_inventory())
    r = bulk.hold_many(batch_of(THREE))
    plain = [seq.hold(order_of(o)) for o in THREE]
    assert r.held == 3 and bulk.available("A", location="s1") == 0
    name = {member(r, j): plain[j].id for j in range(3)}

    got, want = _sell(bulk, how), _sell(seq, how)
    assert [(s.sku, s.location, s.qty) for s in got.shortages] == [("A", "s1", 3)]
    assert (
        [tuple(name[x] for x in s.reservations) for s in got.shortages]
        == [s.reservations for s in want.shortages]
        == [("o3#1", "o2#1")]
    )  # newest first
    assert [
        (name[x.reservation], x.sku, x.source, x.qty, x.to, x.missing) for x in got.resourced
    ] == [(x.reservation, x.sku, x.source, x.qty, x.to, x.missing) for x in want.resourced]
    assert [x.to for x in got.resourced] == [(("s2", 2),), (("s2", 1),)]
    for j in range(3):
        assert lines_of(bulk.reservation(member(r, j))) == lines_of(seq.reservation(plain[j].id))
    assert figures(bulk, ["A"], ["s1", "s2"]) == figures(seq, ["A"], ["s1", "s2"])
    b = block_of(bulk, r.token)
    assert b.live.tolist() == [True, False, False]  # o1 untouched, still in the block
    assert_sound(bulk, seq)


def test_a_shortage_with_nowhere_to_go_leaves_members_uncovered(inv: Inventory) -> None:
    r = inv.hold_many(batch_of([("b1", [("B", 2, "s1")]), ("b2", [("B", 2, "s1")])]))
    got = inv.sell("s1", [("B", 1)])
    assert [s.reservations for s in got.shortages] == [(member(r, 1),)]
    assert [(x.reservation, x.to, x.missing) for x in got.resourced] == [(member(r, 1), (), 1)]
    assert inv.reservation(member(r, 1)).state == "held"
    assert_sound(inv)


def test_a_shortage_names_the_last_member_of_the_batch_first(make_inventory: Make) -> None:
    """Members of one batch are as old as their place in it: 'newest first'
    is reverse batch order, as for sequential holds (not id order: o9 < o10).
    Regression: 8f6ac05 ranked them by id string."""
    ten = [(f"o{j}", [("A", 1, "s2")]) for j in range(1, 11)]
    bulk, seq = two_stores(make_inventory()), two_stores(make_inventory())
    r = bulk.hold_many(batch_of(ten))
    plain = [seq.hold(order_of(o)) for o in ten]
    assert r.held == 10
    want = seq.sell("s2", [("A", 1)])
    got = bulk.sell("s2", [("A", 1)])
    assert [s.reservations for s in want.shortages] == [(plain[9].id,)]
    assert [s.reservations for s in got.shortages] == [(member(r, 9),)]


def _order_ids(applied: Any) -> tuple[Any, ...]:
    """A sale's shortages and re-sourcing by order id (tokens differ between twins)."""

    def oid(rid: str) -> str:
        return rid.split("#")[0]

    return (
        tuple(tuple(oid(x) for x in sh.reservations) for sh in applied.shortages),
        tuple((oid(x.reservation), x.qty, x.to, x.missing) for x in applied.resourced),
    )


def test_the_order_of_members_in_a_shortage_survives_reopen(clock: Clock) -> None:
    """Live, reopened from a snapshot and reopened by replay: the same sale
    names the same members in the same order, detached or not."""
    ten = [(f"o{j}", [("A", 1, "s2")]) for j in range(1, 11)]

    def build(how: str) -> Inventory:
        inv = two_stores(Inventory(clock=clock))
        r = inv.hold_many(batch_of(ten))
        for j in range(0, 10, 2):
            inv.extend(member(r, j), 600)  # half of them detach
        if how == "live":
            return inv
        if how == "snapshot":
            inv.snapshot()
        again = Inventory(inv.store, clock=clock)
        assert (again._state.head == inv.head) and (again.digest() == inv.digest())
        return again

    got = {
        how: _order_ids(build(how).sell("s2", [("A", 6)])) for how in ("live", "snapshot", "replay")
    }
    assert got["snapshot"] == got["live"]
    assert got["replay"] == got["live"]
    assert len(got["live"][0][0]) == 6


# == 4. durability ===================================================================
def _many(n: int, sku: str = "A", loc: str = "s2") -> list[Spec]:
    return [
        (f"d{j}", [(sku, 1, loc)] if j % 3 else [(sku, 1, loc), ("B", 1, "s1")]) for j in range(n)
    ]


def test_reopen_and_snapshot_keep_blocks_as_blocks(make_inventory: Make, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'bulk.db'}"
    inv = two_stores(make_inventory(url))
    inv.receive("A", "s2", 190)
    inv.receive("B", "s1", 100)
    before_seq, before = inv.head, inv.digest()
    r1 = inv.hold_many(batch_of(_many(150)), ttl=600)  # > 64 lines: replay uses the kernel
    r2 = inv.hold_many(batch_of([("x1", [("A", 3, "s1")]), ("x2", [("A", 3, "s1")])]))
    assert (r1.held, r2.held) == (150, 2)
    inv.commit(member(r1, 1))
    inv.release(member(r2, 0))
    after_seq, after = inv.head, inv.digest()
    live = blocks_state(inv._state)
    inv.close()

    again = make_inventory(url)
    assert again.digest() == after
    assert blocks_state(again._state) == live
    assert_sound(again)

    assert again.snapshot() == after_seq
    again.close()
    third = make_inventory(url)
    loaded = third.store.load_snapshot()
    assert loaded is not None and loaded[0] == after_seq
    assert LedgerState.from_bytes(loaded[1]).digest() == after
    assert third.digest() == after
    assert blocks_state(third._state) == live
    assert third.reservation(member(r1, 2)).state == "held"
    assert_sound(third)

    # the past, before and after the batches, with and without the snapshot
    assert third.at(before_seq).digest() == before
    assert third.at(after_seq).digest() == after
    view = third.at(after_seq - 2)  # both batches, before the commit and the release
    assert view.reservation(member(r1, 1)).state == "held"
    assert view.reservation(member(r2, 0)).state == "held"
    assert view.available("A", location="s1") == 0

    # after a snapshot the members still work, and the ledger still replays
    third.commit(member(r1, 2))
    third.ship(member(r1, 1))
    assert_sound(third)


def test_a_snapshotted_block_expires_after_reopen(
    make_inventory: Make, clock: Clock, tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'exp.db'}"
    inv = two_stores(make_inventory(url))
    r = inv.hold_many(batch_of(SIX), ttl=60)
    inv.extend(member(r, 0), 600)
    inv.snapshot()
    inv.close()
    clock.advance(61)
    again = make_inventory(url)
    assert again.available("A", location="s2") == 9
    assert [x.state for x in again.reservations()].count("expired") == 5
    assert_sound(again)


def test_a_second_writer_sees_and_drives_block_members(
    make_inventory: Make, tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'two.db'}"
    a = two_stores(make_inventory(url))
    b = make_inventory(url)
    r = a.hold_many(batch_of(SIX))
    assert b.digest() == a.digest()
    assert r.token in b._state.holds.batches
    b.commit(member(r, 0))
    assert a.reservation(member(r, 0)).state == "committed"
    assert a.digest() == b.digest()
    assert_sound(a, b)


def test_a_refused_append_takes_the_batch_back_and_decides_it_again(
    make_inventory: Make, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"sqlite:///{tmp_path / 'race.db'}"
    a = two_stores(make_inventory(url))
    b = make_inventory(url)
    b.digest()
    real = a.store.append
    raced: list[int] = []

    def append(commits: Any, head: int) -> int:
        if not raced:  # another process gets in first: it sells 4 of the 6 at s1
            raced.append(b.sell("s1", [("A", 4)]).seq)
        return real(commits, head)

    monkeypatch.setattr(a.store, "append", append)
    r = a.hold_many(batch_of([("r1", [("A", 2, "s1")]), ("r2", [("A", 2, "s1")])]))
    assert raced and r.status.tolist() == [HELD, REFUSED]
    assert a.available("A", location="s1") == 0
    assert b.digest() == a.digest()
    assert_sound(a, b)


@pytest.mark.parametrize(
    ("meanwhile", "qty"),
    [
        # stale, a holds both (6 at s1); truly 2 are left: the append is refused
        pytest.param(lambda b: b.sell("s1", [("A", 4)]), (2, 2), id="sold-meanwhile"),
        # stale, a refuses both and has nothing to append; truly 16: decided again
        pytest.param(lambda b: b.receive("A", "s1", 10), (7, 10), id="received-meanwhile"),
    ],
)
def test_a_batch_decided_on_a_stale_ledger_is_decided_again(
    make_inventory: Make,
    tmp_path: Path,
    meanwhile: Callable[[Inventory], Any],
    qty: tuple[int, int],
) -> None:
    url = f"sqlite:///{tmp_path / 'stale.db'}"
    a = two_stores(make_inventory(url))
    b = make_inventory(url)
    meanwhile(b)  # another process; a has not caught up and counts 6 at s1
    r = a.hold_many(batch_of([("t1", [("A", qty[0], "s1")]), ("t2", [("A", qty[1], "s1")])]))
    assert r.status.tolist() == [HELD, REFUSED]
    assert a.head == b.head and a.digest() == b.digest()
    assert_sound(a, b)


# == 5. idempotency ==================================================================
def test_a_repeated_key_returns_the_first_result_and_appends_nothing(inv: Inventory) -> None:
    bt = batch_of([("k1", [("A", 4, "s1")]), ("k2", [("A", 4, "s1")]), ("k3", [("B", 1, "s1")])])
    first = inv.hold_many(bt, ttl=120, key="k")
    head, digest, hist = inv.head, inv.digest(), inv.history()
    again = inv.hold_many(bt, ttl=120, key="k")
    assert again.status.tolist() == first.status.tolist() == [HELD, REFUSED, HELD]
    assert (again.token, again.expires_at) == (first.token, first.expires_at)
    assert again.reservation_ids() == first.reservation_ids()
    # the same columns in a new HoldBatch are the same batch
    same = inv.hold_many(
        batch_of([("k1", [("A", 4, "s1")]), ("k2", [("A", 4, "s1")]), ("k3", [("B", 1, "s1")])]),
        ttl=120,
        key="k",
    )
    assert same.token == first.token
    assert (inv.head, inv.digest(), inv.history()) == (head, digest, hist)
    assert len(inv._state.holds.batches) == 1
    assert [e.key for e in inv.history(ref=member(first, 0))] == ["k"]


@pytest.mark.parametrize(
    "other",
    [
        pytest.param(lambda: batch_of([("k1", [("A", 5, "s1")])]), id="qty"),
        pytest.param(lambda: batch_of([("k9", [("A", 4, "s1")])]), id="order-id"),
        pytest.param(lambda: batch_of([("k1", [("A", 4, "s2")])]), id="location"),
        pytest.param(
            lambda: batch_of([("k1", [("A", 4, "s1")]), ("k2", [("B", 1, "s1")])]), id="more-orders"
        ),
        pytest.param(
            lambda: batch_of([("k1", [("A", 1, "s1"), ("A", 3, "s1")])]), id="split-lines"
        ),
        pytest.param(lambda: batch_of([("k1", [("A", 4, "s1")])], channel="web"), id="channel"),
    ],
)
def test_a_different_batch_under_the_same_key_is_refused(
    inv: Inventory, other: Callable[[], HoldBatch]
) -> None:
    inv.add_channel(Channel("web"))
    inv.hold_many(batch_of([("k1", [("A", 4, "s1")])]), key="k")
    head, digest, hist = inv.head, inv.digest(), inv.history()
    with pytest.raises(errors.IdempotencyConflict, match="key='k'"):
        inv.hold_many(other(), key="k")
    assert (inv.head, inv.digest(), inv.history()) == (head, digest, hist)


def test_key_conflicts_across_commands_and_ttl(inv: Inventory) -> None:
    bt = batch_of([("k1", [("A", 1, "s1")])])
    inv.receive("A", "s1", 1, key="used")
    inv.hold_many(bt, ttl=60, key="t")
    head, digest = inv.head, inv.digest()
    with pytest.raises(errors.IdempotencyConflict, match="receive"):
        inv.hold_many(bt, key="used")
    with pytest.raises(errors.IdempotencyConflict):
        inv.hold_many(bt, ttl=61, key="t")
    with pytest.raises(errors.IdempotencyConflict, match="hold_many"):
        inv.hold(order_of(("k1", [("A", 1, "s1")])), key="t")
    assert (inv.head, inv.digest()) == (head, digest)


def test_a_keyed_batch_that_holds_nothing_is_remembered(
    make_inventory: Make, tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'none.db'}"
    inv = two_stores(make_inventory(url))
    bt = batch_of([("n1", [("A", 99, "s1")]), ("n2", [("ZZ", 1, "s1")])])
    head, digest = inv.head, inv.digest()
    first = inv.hold_many(bt, key="nothing")
    assert first.status.tolist() == [REFUSED, UNKNOWN_SKU] and first.token is None
    assert (inv.head, inv.digest()) == (head, digest)
    inv.close()
    again = make_inventory(url)
    repeat = again.hold_many(bt, key="nothing")
    assert repeat.status.tolist() == first.status.tolist() and repeat.token is None
    with pytest.raises(errors.IdempotencyConflict):
        again.hold_many(batch_of([("n1", [("A", 1, "s1")])]), key="nothing")
    assert again.head == head


def test_a_key_survives_reopen_with_the_same_token(make_inventory: Make, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'key.db'}"
    inv = two_stores(make_inventory(url))
    bt = batch_of(SIX[:3])
    first = inv.hold_many(bt, key="burst-1")
    inv.close()
    again = make_inventory(url)
    head = again.head
    repeat = again.hold_many(bt, key="burst-1")
    assert (repeat.token, repeat.status.tolist()) == (first.token, first.status.tolist())
    assert again.head == head


# == 6. bad input ====================================================================
LONG = "x" * 201
G = ["o1", "o2"]
S2 = ["A", "A"]
L2 = ["s1", "s1"]
Q2 = [1, 1]


def _hb(**kw: Any) -> Callable[[], Any]:
    """A ``HoldBatch`` of two good orders with ``kw`` overriding columns."""
    args: dict[str, Any] = {"order_ids": G, "skus": S2, "locations": L2, "qty": Q2}
    args.update(kw)
    return lambda: HoldBatch(**args)


# (id, builds the batch, error class, the field the message must name)
BATCH_CASES: list[tuple[str, Callable[[], Any], type[Exception], str]] = [
    ("order-ids-int", _hb(order_ids=7), errors.InvalidInput, "order_ids=7"),
    ("order-ids-none", _hb(order_ids=None), errors.InvalidInput, "order_ids=None"),
    ("order-ids-str", _hb(order_ids="o1"), errors.InvalidInput, "order_ids='o1'"),
    ("order-ids-bytes", _hb(order_ids=b"o1"), errors.InvalidInput, "order_ids=b'o1'"),
    ("order-id-int", _hb(order_ids=["o1", 2]), errors.InvalidInput, "order_ids[1]=2"),
    ("order-id-none", _hb(order_ids=[None, "o2"]), errors.InvalidInput, "order_ids[0]=None"),
    ("order-id-empty", _hb(order_ids=["o1", ""]), errors.InvalidInput, "order_ids[1]=''"),
    ("order-id-long", _hb(order_ids=[LONG, "o2"]), errors.InvalidInput, "order_ids[0]="),
    (
        "order-id-control",
        _hb(order_ids=["o1", "o\n2"]),
        errors.InvalidInput,
        "order_ids[1]='o\\n2'",
    ),
    (
        "order-id-unit-separator",
        _hb(order_ids=["o\x1f1", "o2"]),
        errors.InvalidInput,
        "order_ids[0]=",
    ),
    ("order-ids-duplicate", _hb(order_ids=["o1", "o1"]), errors.InvalidInput, "order_ids[1]='o1'"),
    ("skus-str", _hb(skus="AA"), errors.InvalidInput, "skus='AA'"),
    ("skus-non-str", _hb(skus=["A", 3]), errors.InvalidInput, "skus[1]=3"),
    ("locations-non-str", _hb(locations=[None, "s1"]), errors.InvalidInput, "locations[0]=None"),
    ("locations-int", _hb(locations=5), errors.InvalidInput, "locations=5"),
    ("locations-short", _hb(locations=["s1"]), errors.InvalidInput, "locations=1"),
    ("qty-long", _hb(qty=[1, 1, 1]), errors.InvalidInput, "qty=3"),
    (
        "skus-vs-orders",
        _hb(skus=["A", "A", "A"], locations=["s1"] * 3, qty=[1] * 3),
        errors.InvalidInput,
        "skus=3",
    ),
    ("qty-zero", _hb(qty=[1, 0]), errors.InvalidQuantity, "qty[1]=0"),
    ("qty-negative", _hb(qty=[-2, 1]), errors.InvalidQuantity, "qty[0]=-2"),
    ("qty-too-big", _hb(qty=[1, 2**62 + 1]), errors.InvalidQuantity, f"qty[1]={2**62 + 1}"),
    ("qty-float", _hb(qty=[1.0, 2.0]), errors.InvalidQuantity, "qty="),
    ("qty-float-array", _hb(qty=np.array([1.5, 1.0])), errors.InvalidQuantity, "qty="),
    ("qty-bool", _hb(qty=[True, True]), errors.InvalidQuantity, "qty="),
    ("qty-2d", _hb(qty=[[1], [1]]), errors.InvalidQuantity, "qty=(2, 1)"),
    ("qty-scalar", _hb(qty=1), errors.InvalidQuantity, "qty="),
    ("qty-str", _hb(qty=["1", "1"]), errors.InvalidQuantity, "qty="),
    ("qty-object", _hb(qty=[2**70, 1]), errors.InvalidQuantity, "qty="),
    ("start-not-zero", _hb(start=[1, 2, 3]), errors.InvalidInput, "start=[1, 2, 3]"),
    ("start-flat", _hb(start=[0, 1, 1, 2]), errors.InvalidInput, "start=[0, 1, 1, 2]"),
    ("start-decreasing", _hb(start=[0, 2, 1]), errors.InvalidInput, "start=[0, 2, 1]"),
    ("start-short", _hb(start=[0, 2]), errors.InvalidInput, "start=2"),
    ("start-wrong-end", _hb(start=[0, 1, 3]), errors.InvalidInput, "start=3"),
    ("start-float", _hb(start=[0.0, 1.0, 2.0]), errors.InvalidInput, "start="),
    ("start-empty", _hb(start=[]), errors.InvalidInput, "start=[]"),
    ("start-2d", _hb(start=[[0, 1, 2]]), errors.InvalidInput, "start="),
    ("start-str", _hb(start="012"), errors.InvalidInput, "start='012'"),
    ("channel-empty", _hb(channel=""), errors.InvalidInput, "channel=''"),
    ("channel-int", _hb(channel=3), errors.InvalidInput, "channel=3"),
]


@pytest.mark.parametrize(
    ("build", "cls", "text"), [pytest.param(b, c, t, id=i) for i, b, c, t in BATCH_CASES]
)
def test_a_malformed_batch_is_refused_naming_the_field(
    build: Callable[[], Any], cls: type[Exception], text: str
) -> None:
    with pytest.raises(errors.InvalidInput) as info:
        build()
    assert type(info.value) is cls
    assert text in str(info.value)
    assert str(info.value).startswith(info.value.field + "=")


def test_names_only_need_to_be_strings() -> None:
    """SKU and location names are not id-checked: an unknown one gets a status."""
    b = HoldBatch(["o1", "o2"], ["", "A"], ["s1", "x" * 300], [1, 1])
    assert (len(b), b.skus, b.offsets().tolist()) == (2, ("", "A"), [0, 1, 2])
    assert HoldBatch([], [], [], []).offsets().tolist() == [0]


BT = batch_of([("o1", [("A", 1, "s1")])])
# (id, the call, error class, text the message must contain)
# (the calls are deliberately ill-typed: ``i`` is Any so the type checker lets them be)
CALL_CASES: list[tuple[str, Callable[[Any], Any], type[Exception], str]] = [
    ("ttl-zero", lambda i: i.hold_many(BT, ttl=0), errors.InvalidInput, "ttl=0"),
    ("ttl-negative", lambda i: i.hold_many(BT, ttl=-5), errors.InvalidInput, "ttl=-5"),
    ("ttl-nan", lambda i: i.hold_many(BT, ttl=float("nan")), errors.InvalidInput, "ttl=nan"),
    ("ttl-str", lambda i: i.hold_many(BT, ttl="15m"), errors.InvalidInput, "ttl='15m'"),
    (
        "ttl-too-long",
        lambda i: i.hold_many(BT, ttl=timedelta(days=4000)),
        errors.InvalidInput,
        "ttl=",
    ),
    ("keys-with-batch", lambda i: i.hold_many(BT, keys=["a"]), errors.InvalidInput, "keys=['a']"),
    (
        "key-with-list",
        lambda i: i.hold_many([order_of(("o1", [("A", 1, "s1")]))], key="k"),
        errors.InvalidInput,
        "key='k'",
    ),
    ("key-empty", lambda i: i.hold_many(BT, key=""), errors.InvalidInput, "key=''"),
    ("key-control", lambda i: i.hold_many(BT, key="k\x00"), errors.InvalidInput, "key="),
    ("key-long", lambda i: i.hold_many(BT, key=LONG), errors.InvalidInput, "key="),
    ("key-int", lambda i: i.hold_many(BT, key=5), errors.InvalidInput, "key=5"),
    ("orders-str", lambda i: i.hold_many("o1"), errors.InvalidInput, "orders='o1'"),
    ("orders-int", lambda i: i.hold_many(42), errors.InvalidInput, "orders=42"),
    ("orders-dict", lambda i: i.hold_many({"o1": 1}), errors.InvalidInput, "orders="),
    ("orders-none", lambda i: i.hold_many(None), errors.InvalidInput, "orders=None"),
    (
        "unknown-channel",
        lambda i: i.hold_many(batch_of([("o1", [("A", 1, "s1")])], channel="tv")),
        errors.UnknownChannel,
        "channel='tv'",
    ),
]


@pytest.mark.parametrize(
    ("call", "cls", "text"), [pytest.param(c, k, t, id=i) for i, c, k, t in CALL_CASES]
)
def test_bad_hold_many_calls_change_nothing(
    inv: Inventory, call: Callable[[Inventory], Any], cls: type[Exception], text: str
) -> None:
    inv.hold_many(batch_of(SIX[:2]))
    head, digest, hist = inv.head, inv.digest(), inv.history()
    live = blocks_state(inv._state)
    with pytest.raises(errors.OmnistockError) as info:
        call(inv)
    assert type(info.value) is cls
    assert text in str(info.value)
    assert (inv.head, inv.digest(), inv.history()) == (head, digest, hist)
    assert blocks_state(inv._state) == live


def test_a_list_with_a_non_order_refuses_only_that_entry(inv: Inventory) -> None:
    out = inv.hold_many([order_of(("o1", [("A", 1, "s1")])), "o2"])  # type: ignore[list-item]
    assert isinstance(out[0], Reservation)
    assert isinstance(out[1], errors.InvalidInput) and "order='o2'" in str(out[1])


def test_an_empty_batch_holds_nothing(inv: Inventory) -> None:
    head = inv.head
    r = inv.hold_many(HoldBatch([], [], [], []))
    assert (len(r), r.held, r.token, r.reservation_ids()) == (0, 0, None, [])
    assert inv.head == head and not inv._state.holds.batches


# == 7. history ======================================================================
H_ORDERS: list[Spec] = [
    ("h1", [("A", 2, "s1"), ("A", 1, "s1"), ("B", 1, "s1")]),  # two lines at one position
    ("h2", [("A", 99, "s1")]),  # refused: not in the journal
    ("h3", [("A", 3, "s2")]),
    ("h4", [("B", 2, "s1")]),
]


@pytest.mark.parametrize("store", ["memory", "sqlite"])
def test_history_shows_a_batch_row_as_one_held_entry_per_line(
    make_inventory: Make, clock: Clock, tmp_path: Path, store: str
) -> None:
    inv = two_stores(
        make_inventory("memory://" if store == "memory" else f"sqlite:///{tmp_path / 'h.db'}")
    )
    r = inv.hold_many(batch_of(H_ORDERS), ttl=60, key="hist")
    seq = inv.head
    exp = r.expires_at
    assert exp is not None
    exp_us = (exp - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(microseconds=1)
    m = [member(r, j) if j != 1 else "" for j in range(4)]
    held = [e for e in inv.history() if e.seq == seq]
    assert [(e.kind, e.sku, e.location, e.qty, e.ref, e.key) for e in held] == [
        ("held", "A", "s1", 3, m[0], "hist"),
        ("held", "B", "s1", 1, m[0], "hist"),
        ("held", "A", "s2", 3, m[2], "hist"),
        ("held", "B", "s1", 2, m[3], "hist"),
    ]
    assert all(
        e.data == {"order": e.ref.split("#")[0], "batch": r.token, "exp": exp_us}
        for e in held
        if e.ref is not None
    )
    assert all(e.at == clock() for e in held)

    assert [(e.ref, e.qty) for e in inv.history(sku="B")] == [(None, 4), (m[0], 1), (m[3], 2)]
    assert [(e.kind, e.ref, e.sku) for e in inv.history(location="s2")] == [
        ("location-added", None, None),
        ("received", None, "A"),
        ("held", m[2], "A"),
    ]
    assert [(e.ref, e.sku) for e in inv.history(sku="A", location="s1")] == [
        (None, "A"),
        (m[0], "A"),
    ]
    assert [e.sku for e in inv.history(ref=m[0])] == ["A", "B"]
    assert inv.history(ref=f"h2#{r.token}") == []
    assert len(inv.history(kind="held")) == 4
    assert len(inv.history(since=seq - 1, limit=2)) == 2

    inv.commit(m[0])
    inv.extend(m[3], 3600)
    assert [e.kind for e in inv.history(ref=m[0])] == ["held", "held", "committed", "committed"]
    clock.advance(61)
    inv.digest()  # the expiry is journaled now
    expired = inv.history(kind="expired")
    assert [(e.sku, e.location, e.qty, e.ref, e.key) for e in expired] == [
        ("A", "s2", 3, m[2], None)
    ]  # only h3 was still in the block
    assert expired[0].data == {"order": "h3", "batch": r.token}
    assert expired[0].seq == inv.head
    # the held-batch row is before ``since``: the expired entry still expands
    assert [e.ref for e in inv.history(since=seq, kind="expired")] == [m[2]]
    assert [e.kind for e in inv.history(ref=m[2])] == ["held", "expired"]
    assert [e.kind for e in inv.history(ref=m[3])] == ["held", "extended"]
    assert [e.kind for e in inv.history(location="s2", since=seq)] == ["expired"]


# == 8. the marketplace delta ========================================================
@pytest.fixture
def market(make_inventory: Make) -> Inventory:
    inv: Inventory = make_inventory()
    inv.add_location(Location("S", kind="store"))
    inv.add_location(Location("W", kind="warehouse"))
    inv.add_channel(Channel("mkt", locations=["W"]))
    for i in range(10):
        inv.receive(f"K{i:02d}", "W", 5)
    inv.receive("A", "S", 6)
    inv.receive("A", "W", 30)
    return inv


def test_the_delta_after_a_bulk_hold_lists_only_changed_skus(
    market: Inventory, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    mk = MarketplaceAdapter("mkt")
    base = mk.full(market)

    def no_full(_inv: Any) -> Any:
        raise AssertionError("the delta fell back to a full feed")

    monkeypatch.setattr(mk, "full", no_full)
    r = market.hold_many(
        batch_of(
            [
                ("p1", [("K03", 2, "W")]),
                ("p2", [("K05", 9, "W")]),  # refused
                ("p3", [("A", 3, "S")]),  # S does not feed mkt: its figure is unchanged
                ("p4", [("K07", 5, "W"), ("A", 1, "S")]),
            ]
        ),
        ttl=60,
    )
    assert r.status.tolist() == [HELD, REFUSED, HELD, HELD]
    d = mk.delta(market, base.cursor)
    assert (d.kind, d.since, d.cursor) == ("delta", base.cursor, market.head)
    assert d.as_dict() == {"K03": 3, "K07": 0}
    fresh = MarketplaceAdapter("mkt").delta(market, base.cursor)  # from a replay
    assert fresh.kind == "delta" and fresh.as_dict() == d.as_dict()

    market.commit(member(r, 0))
    d2 = mk.delta(market, d.cursor)
    assert d2.kind == "delta" and d2.items == ()
    clock.advance(61)  # p3 and p4 expire with the block; p1 is committed
    d3 = mk.delta(market, d2.cursor)
    assert d3.kind == "delta" and d3.as_dict() == {"K07": 5}
    assert market.store.read(d2.cursor, d3.cursor).__next__()[2] == heldbatches.EXPIRED_BATCH


# == 9. savepoint rollback of block rows ==============================================
@pytest.mark.parametrize("members", [1, 3])
def test_a_savepoint_rolls_back_block_expiry_and_member_detach(
    inv: Inventory, members: int
) -> None:
    inv.add_channel(Channel("web"))
    r1 = inv.hold_many(batch_of(SIX[:4], channel="web"), ttl=60)
    r2 = inv.hold_many(
        batch_of([(f"n{j}", [("A", 1, "s1"), ("B", 1, "s1")]) for j in range(members)]), ttl=60
    )
    inv.commit(member(r1, 1))
    st = inv._state
    t1, t2 = r1.token, r2.token
    assert t1 is not None and t2 is not None
    last = member(r2, members - 1)
    digest, head = st.digest(), st.head
    live = blocks_state(st)
    by_id = {k: (h.state, dict(h.lines), h.expires_us) for k, h in st.holds.by_id.items()}
    by_pos = {p: set(v) for p, v in st.holds.by_pos.items()}
    index = (list(st.holds.expiry), list(st.holds.batch_expiry))
    used = dict(st.chan_used)

    ts = st.last_ts + 1
    b1 = st.holds.batches[t1]
    rows: list[tuple[Any, ...]] = [
        # the ledger takes an expired block's members from the block itself;
        # the row's data is for readers of the journal (history, feeds)
        (
            head + 1,
            ts,
            heldbatches.EXPIRED_BATCH,
            heldbatches.BATCH_SKU,
            None,
            3,
            t1,
            "web",
            None,
            None,
        ),
        (head + 2, ts, "committed", "A", "s1", 1, last, None, None, None),
        (head + 3, ts, "committed", "B", "s1", 1, last, None, None, None),
    ]
    sp = Savepoint(st)
    for row in rows:
        sp.touch(row)
        st.apply(row)
    assert st.head == head + 3 and st.digest() != digest
    assert b1.expired and used != st.chan_used
    assert (t2 in st.holds.batches) == (members > 1)
    assert st.holds.by_id[last].state == "committed"
    assert st.violations() == []

    sp.rollback()
    assert st.digest() == digest and st.head == head
    assert st.violations() == []
    assert blocks_state(st) == live
    assert {k: (h.state, dict(h.lines), h.expires_us) for k, h in st.holds.by_id.items()} == by_id
    assert {p: set(v) for p, v in st.holds.by_pos.items()} == by_pos
    assert (list(st.holds.expiry), list(st.holds.batch_expiry)) == index
    assert st.chan_used == used
    assert_sound(inv)  # the journal never saw the rows; live equals replay again
    # and the ledger goes on as if nothing happened
    inv.commit(member(r2, members - 1))
    assert_sound(inv)


# == 10. channels ====================================================================
def test_a_location_outside_the_channel_is_not_served(make_inventory: Make) -> None:
    def build() -> Inventory:
        i = two_stores(make_inventory())
        i.add_channel(Channel("web", locations=["s1"]))
        return i

    bulk, seq = build(), build()
    orders: list[Spec] = [
        ("w1", [("A", 1, "s1")]),
        ("w2", [("A", 1, "s2")]),
        ("w3", [("A", 1, "s1"), ("A", 1, "s2")]),
        ("w4", [("ZZ", 1, "s2")]),
        ("w5", [("A", 1, "s2"), ("A", 1, "nowhere")]),
        ("w6", [("A", 1, "nowhere"), ("A", 1, "s2")]),
        ("w7", [("B", 9, "s1")]),
    ]
    r = bulk.hold_many(batch_of(orders, channel="web"))
    want = [status_of_hold(seq, order_of(o, "web"))[0] for o in orders]
    assert (
        r.status.tolist()
        == want
        == [HELD, NOT_SERVED, NOT_SERVED, UNKNOWN_SKU, NOT_SERVED, UNKNOWN_LOCATION, REFUSED]
    )
    assert r.reason(1) == "location does not serve the channel"
    assert bulk.reservation(member(r, 0)).channel == "web"
    assert figures(bulk, ["A", "B"], ["s1", "s2"]) == figures(seq, ["A", "B"], ["s1", "s2"])
    assert bulk.available("A", channel="web") == seq.available("A", channel="web") == 5
    assert_sound(bulk, seq)


@pytest.mark.parametrize(
    "fence",
    [
        pytest.param(Channel("amz", buffer=2), id="buffer"),
        pytest.param(Channel("amz", cap=8), id="cap"),
        pytest.param(Channel("amz", locations=["s1"], buffer=1), id="buffer-and-locations"),
    ],
)
def test_a_fenced_channel_is_decided_order_by_order(make_inventory: Make, fence: Channel) -> None:
    def build() -> Inventory:
        i = two_stores(make_inventory())
        i.add_channel(fence)
        return i

    bulk, seq = build(), build()
    orders: list[Spec] = [
        ("f1", [("A", 5, "s1")]),
        ("f2", [("A", 6, "s2")]),  # buffer: room 14 - 5; cap: 8 - 5 = 3
        ("f3", [("A", 4, "s2")]),  # position ATP 4, channel room 3
        ("f4", [("ZZ", 1, "s1")]),
        ("f5", [("A", 1, "nowhere")]),
        ("f6", [("B", 2, "s1")]),
        ("f7", [("A", 1, "s1")]),
    ]
    r = bulk.hold_many(batch_of(orders, channel="amz"), ttl=120)
    assert isinstance(r, HoldBatchResult)
    assert r.token is None and r.ids is not None and not bulk._state.holds.batches
    want = [status_of_hold(seq, order_of(o, "amz"), 120) for o in orders]
    assert r.status.tolist() == [w for w, _ in want]
    assert REFUSED in r.status.tolist() and HELD in r.status.tolist()
    assert (NOT_SERVED in r.status.tolist()) == (fence.locations is not None)
    for j, (w, got) in enumerate(want):
        if w == HELD:
            assert r.reservation_id(j) == got.id == f"{orders[j][0]}#1"
            assert lines_of(bulk.reservation(got.id)) == lines_of(got)
            assert r.expires_at == got.expires_at
        else:
            assert r.reservation_id(j) is None
    assert figures(bulk, ["A", "B"], ["s1", "s2"]) == figures(seq, ["A", "B"], ["s1", "s2"])
    assert bulk.available("A", channel="amz") == seq.available("A", channel="amz")
    assert_sound(bulk, seq)


def test_another_channels_minimum_fences_the_batch(make_inventory: Make) -> None:
    def build() -> Inventory:
        i = two_stores(make_inventory())
        i.add_channel(Channel("pos", locations=["s1"], minimum=4))
        i.add_channel(Channel("web"))
        return i

    bulk, seq = build(), build()
    orders: list[Spec] = [
        ("g1", [("A", 10, "s2")]),
        ("g2", [("A", 3, "s1")]),
        ("g3", [("A", 2, "s1")]),
    ]
    r = bulk.hold_many(batch_of(orders, channel="web"))
    want = [status_of_hold(seq, order_of(o, "web"))[0] for o in orders]
    # after g1 only s1's 6 are left, 4 of them fenced for pos: web may take 2
    assert r.status.tolist() == want == [HELD, REFUSED, HELD]
    assert r.token is None and r.ids == ("g1#1", None, "g3#1")
    assert figures(bulk, ["A"], ["s1", "s2"]) == figures(seq, ["A"], ["s1", "s2"])
    assert_sound(bulk, seq)


def test_a_fenced_batch_gives_an_unknown_name_its_status(inv: Inventory) -> None:
    """A batch takes any string as a name; order by order, a name that cannot
    be an id gets its unknown-name status, as in the kernel path.
    Regression: 8f6ac05 raised InvalidInput building a Line from it."""
    inv.add_channel(Channel("amz", buffer=1))
    names = ["", "x" * 201, "A\n", "A"]
    bt = HoldBatch(
        ["u1", "u2", "u3", "u4", "u5"],
        [*names, "A"],
        ["s1", "s1", "s1", "s1", "s\t1"],
        [1] * 5,
        channel="amz",
    )
    head = inv.head
    r = inv.hold_many(bt)
    assert r.status.tolist() == [UNKNOWN_SKU, UNKNOWN_SKU, UNKNOWN_SKU, HELD, UNKNOWN_LOCATION]
    # the same batch without the fence takes the kernel path: the same statuses
    other = inv.hold_many(
        HoldBatch(
            ["v1", "v2", "v3", "v4", "v5"], [*names, "A"], ["s1", "s1", "s1", "s1", "s\t1"], [1] * 5
        )
    )
    assert other.token is not None and other.status.tolist() == r.status.tolist()
    assert inv.head == head + 2
    assert_sound(inv)


@pytest.mark.parametrize("single", [True, False])
def test_a_name_no_id_can_be_takes_the_name_by_name_path(inv: Inventory, single: bool) -> None:
    """A names column holding a NUL cannot share the batch's encoded buffer,
    so its names are looked up one by one and its held orders gathered in
    Python: the same statuses, the same reservations and the same journal
    data as a batch whose unknown name encodes."""

    def batch(bad: str, prefix: str) -> HoldBatch:
        if single:
            orders: list[Spec] = [
                (f"{prefix}1", [("A", 4, "s1")]),
                (f"{prefix}2", [(bad, 1, "s1")]),
                (f"{prefix}3", [("A", 4, "s1")]),
                (f"{prefix}4", [("B", 2, "s1")]),
            ]
        else:
            orders = [
                (f"{prefix}1", [("A", 4, "s1"), ("B", 1, "s1")]),
                (f"{prefix}2", [("B", 1, "s1"), (bad, 1, "s2")]),
                (f"{prefix}3", [("A", 4, "s1")]),
                (f"{prefix}4", [("B", 2, "s1"), ("A", 2, "s2")]),
            ]
        return batch_of(orders, single=single)

    odd, plain = batch("Z\x00Z", "n"), batch("ZZ", "p")
    assert odd.encoded() is None and plain.encoded() is not None
    r1 = inv.hold_many(odd)
    for j in range(len(r1)):
        rid = r1.reservation_id(j)
        if rid is not None:
            inv.release(rid)
    r2 = inv.hold_many(plain)
    assert r1.status.tolist() == r2.status.tolist() == [HELD, UNKNOWN_SKU, REFUSED, HELD]
    rows = [r for r in inv._store.filtered(0, None) if r[2] == heldbatches.HELD_BATCH]
    d1, d2 = (json.loads(r[9]) for r in rows[-2:])
    assert [o[1:] for o in heldbatches.columns(d1)[0]] == [
        o[1:] for o in heldbatches.columns(d2)[0]
    ]
    assert [x.tolist() if hasattr(x, "tolist") else x for x in heldbatches.columns(d1)[1:]] == [
        x.tolist() if hasattr(x, "tolist") else x for x in heldbatches.columns(d2)[1:]
    ]
    assert_sound(inv)


def test_a_fenced_batch_key_covers_the_whole_batch(inv: Inventory) -> None:
    """One key covers the whole fenced batch: a different batch under it is
    refused and changes nothing. Regression: 8f6ac05 used per-order keys
    key/0, key/1, ..., so new orders were held before a changed one raised."""
    inv.add_channel(Channel("amz", buffer=1))
    bt = batch_of([("c1", [("A", 1, "s1")]), ("c2", [("A", 99, "s1")])], channel="amz")
    first = inv.hold_many(bt, key="kk")
    assert first.status.tolist() == [HELD, REFUSED] and first.ids == ("c1#1", None)
    head, digest = inv.head, inv.digest()
    for other in (
        batch_of(
            [("c1", [("A", 1, "s1")]), ("c2", [("A", 99, "s1")]), ("c3", [("A", 1, "s2")])],
            channel="amz",
        ),
        batch_of([("c1", [("A", 2, "s1")]), ("c2", [("A", 1, "s2")])], channel="amz"),
    ):
        with pytest.raises(errors.IdempotencyConflict, match="key='kk'"):
            inv.hold_many(other, key="kk")
        assert (inv.head, inv.digest()) == (head, digest)
    again = inv.hold_many(bt, key="kk")
    assert (again.status.tolist(), again.ids, again.expires_at) == (
        first.status.tolist(),
        first.ids,
        first.expires_at,
    )
    assert (inv.head, inv.digest()) == (head, digest)


# -- the result value ------------------------------------------------------------------
def test_a_result_round_trips_through_json(inv: Inventory) -> None:
    r = inv.hold_many(batch_of([*SIX[:2], ("zz", [("ZZ", 1, "s1")])]))
    back = HoldBatchResult.from_jsonable(json.loads(json.dumps(r.to_jsonable())))
    assert (back.order_ids, back.status.tolist(), back.token, back.expires_at, back.ids) == (
        r.order_ids,
        r.status.tolist(),
        r.token,
        r.expires_at,
        r.ids,
    )
    assert back.reservation_ids() == r.reservation_ids()
    assert [back.reason(j) for j in range(3)] == ["held", "held", "unknown sku"]
    assert back.ok.tolist() == [True, True, False]
