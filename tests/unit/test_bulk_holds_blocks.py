"""Bulk holds, the ledger block behind them (internals).

A held batch keeps its reservations in a ledger block (``HeldBatch``: a
``live`` flag per member, ``n_live``, ``expired``) until a command names a
member, which detaches it into an ordinary hold. These tests read the block
itself, so they live here and not in ``tests/face``:

- every command works on a member, reads never detach one, and the members
  never named expire with the block;
- a block leaves the ledger when its last member detaches;
- keyed commands on members go through the group commit;
- a shortage re-sources members as ordinary holds, detaching only those;
- reopen and snapshots keep blocks as blocks (``at(seq)`` too);
- a names column that cannot be encoded takes the name-by-name path and
  journals exactly what the encoded path does.
"""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from bulk_holds_support import (
    SIX,
    Make,
    Spec,
    assert_sound,
    batch_of,
    figures,
    lines_of,
    member,
    order_of,
    two_stores,
)
from conftest import Clock
from omnistock import (
    HoldBatch,
    Inventory,
    Reservation,
    errors,
)
from omnistock.holdbatch import HELD, REFUSED, UNKNOWN_SKU
from omnistock.ledger import heldbatches
from omnistock.ledger.state import LedgerState


@pytest.fixture
def inv(make_inventory: Make) -> Inventory:
    return two_stores(make_inventory())


def state_of(inv: Inventory) -> LedgerState:
    """The inventory's live ledger (the one place these tests reach it)."""
    return inv._state


def block_of(inv: Inventory, token: str | None) -> heldbatches.HeldBatch:
    assert token is not None
    return state_of(inv).holds.batches[token]


def blocks_state(st: LedgerState) -> dict[str, tuple[list[bool], int, bool]]:
    return {t: (b.live.tolist(), b.n_live, b.expired) for t, b in st.holds.batches.items()}


# -- the lifecycle of block members -------------------------------------------------


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
    assert b.n_live == 7 and b.live.all() and not state_of(inv).holds.by_id
    assert_sound(inv)

    c = inv.commit(m[0])
    assert (c.state, c.expires_at) == ("committed", None)
    assert b.n_live == 6 and m[0] in state_of(inv).holds.by_id
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
    assert b.expired and r.token in state_of(inv).holds.batches
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
    assert token in state_of(inv).holds.batches
    inv.release(member(r, 1))
    assert token not in state_of(inv).holds.batches
    assert state_of(inv).holds.first_expiry() is None  # nothing left held
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


# -- shortages ---------------------------------------------------------------------


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


# -- durability -------------------------------------------------------------------


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
    live = blocks_state(state_of(inv))
    inv.close()

    again = make_inventory(url)
    assert again.digest() == after
    assert blocks_state(state_of(again)) == live
    assert_sound(again)

    assert again.snapshot() == after_seq
    again.close()
    third = make_inventory(url)
    loaded = third.store.load_snapshot()
    assert loaded is not None and loaded[0] == after_seq
    assert LedgerState.from_bytes(loaded[1]).digest() == after
    assert third.digest() == after
    assert blocks_state(state_of(third)) == live
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


# -- the name-by-name path ----------------------------------------------------------


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
    rows = [r for r in inv.store.filtered(0, None) if r[2] == heldbatches.HELD_BATCH]
    d1, d2 = (json.loads(r[9]) for r in rows[-2:])
    assert [o[1:] for o in heldbatches.columns(d1)[0]] == [
        o[1:] for o in heldbatches.columns(d2)[0]
    ]
    assert [x.tolist() if hasattr(x, "tolist") else x for x in heldbatches.columns(d1)[1:]] == [
        x.tolist() if hasattr(x, "tolist") else x for x in heldbatches.columns(d2)[1:]
    ]
    assert_sound(inv)
