"""Savepoint rollback (internals): the ledger state a group commit folds rows
into, and rolls back when the append fails, is restored exactly.

- any sequence of commands, rolled back after folding its rows, leaves the
  exact digest of before (and the ledger can go forward again);
- a held batch's block rows (an expired block, a member's commit detaching
  it) roll back with every index that points into the block.

These drive ``LedgerState`` and ``Savepoint`` directly, so they live here and
not in ``tests/face``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bulk_holds_support import SIX, Make, assert_sound, batch_of, member, two_stores
from conftest import Clock
from omnistock import Channel, Inventory, Line, Location, Order, errors
from omnistock.ledger import heldbatches
from omnistock.ledger.savepoint import Savepoint
from omnistock.ledger.state import LedgerState
from omnistock.storage.memory import MemoryStore


@pytest.fixture
def inv(make_inventory: Make) -> Inventory:
    return two_stores(make_inventory())


def blocks_state(st: LedgerState) -> dict[str, tuple[list[bool], int, bool]]:
    return {t: (b.live.tolist(), b.n_live, b.expired) for t, b in st.holds.batches.items()}


# -- the undo log -------------------------------------------------------------
command = st.one_of(
    st.tuples(
        st.just("receive"), st.sampled_from("abc"), st.sampled_from(["S1", "S2"]), st.integers(1, 5)
    ),
    st.tuples(
        st.just("hold"), st.sampled_from("abc"), st.sampled_from(["S1", "S2"]), st.integers(1, 5)
    ),
    st.tuples(
        st.just("sell"), st.sampled_from("ab"), st.sampled_from(["S1", "S2"]), st.integers(1, 3)
    ),
    st.tuples(
        st.just("count"), st.sampled_from("ab"), st.sampled_from(["S1", "S2"]), st.integers(0, 4)
    ),
    st.tuples(
        st.just("damage"), st.sampled_from("ab"), st.sampled_from(["S1", "S2"]), st.integers(1, 2)
    ),
    st.tuples(
        st.just("safety"), st.sampled_from("ab"), st.sampled_from(["S1", "S2"]), st.integers(0, 3)
    ),
    st.tuples(
        st.just("close"),
        st.sampled_from(["release", "commit", "ship", "expire"]),
        st.integers(0, 5),
        st.integers(0, 0),
    ),
    st.tuples(
        st.just("expect"), st.sampled_from("ab"), st.sampled_from(["S1", "S2"]), st.integers(1, 5)
    ),
    st.tuples(  # a low-stock mark (network-wide: None), -1 clears it; crossings follow
        st.just("mark"), st.sampled_from("ab"), st.sampled_from(["S1", None]), st.integers(-1, 6)
    ),
)


def _drive(inv: Inventory, clock: Clock, cmds: list[Any]) -> None:
    n = 0
    for cmd in cmds:
        n += 1
        try:
            if cmd[0] == "receive":
                inv.receive(cmd[1], cmd[2], cmd[3])
            elif cmd[0] == "hold":
                inv.hold(Order(f"o{n}", lines=[Line(cmd[1], cmd[3], cmd[2])]), ttl=30)
            elif cmd[0] == "sell":
                inv.sell(cmd[2], [(cmd[1], cmd[3])])
            elif cmd[0] == "count":
                inv.count(cmd[1], cmd[2], cmd[3])
            elif cmd[0] == "damage":
                inv.change_state(cmd[1], cmd[2], cmd[3], to="damaged")
            elif cmd[0] == "safety":
                inv.set_safety(cmd[1], cmd[2], cmd[3])
            elif cmd[0] == "mark":
                inv.set_threshold(cmd[1], cmd[2], low=None if cmd[3] < 0 else cmd[3])
            elif cmd[0] == "expect":
                from datetime import timedelta

                inv.expect(cmd[1], cmd[2], cmd[3], eta=clock.now + timedelta(days=2))
            else:
                open_ = inv.reservations("held") + inv.reservations("committed")
                if not open_:
                    continue
                r = open_[cmd[2] % len(open_)]
                if cmd[1] == "release":
                    inv.release(r.id)
                elif cmd[1] == "commit":
                    inv.commit(r.id)
                elif cmd[1] == "ship" and r.state == "committed":
                    inv.ship(r.id)
                else:
                    clock.advance(31)
        except errors.OmnistockError:
            pass


def _rows(store: MemoryStore, since: int) -> Iterator[Any]:
    return store.read(since)


@settings(max_examples=120, deadline=None)
@given(st.lists(command, max_size=12), st.lists(command, min_size=1, max_size=12))
def test_rollback_restores_the_exact_state(before: list[Any], after: list[Any]) -> None:
    store = MemoryStore()
    clock = Clock()
    writer = Inventory(store=store, clock=clock)
    writer.add_location(Location("S1"))
    writer.add_location(Location("S2"))
    _drive(writer, clock, before)
    mid = writer.head
    _drive(writer, clock, after)

    st_ = LedgerState()
    st_.apply_all(store.read(0, mid))
    digest = st_.digest()
    sp = Savepoint(st_)
    for row in store.read(mid):
        sp.touch(row)
        st_.apply(row)
    assert st_.digest() == writer._state.digest()
    sp.rollback()
    assert st_.digest() == digest
    assert st_.violations() == []
    st_.apply_all(store.read(mid))  # and it can go forward again
    assert st_.digest() == writer._state.digest()


# -- block rows ------------------------------------------------------------------
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
