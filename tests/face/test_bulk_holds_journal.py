"""Bulk holds in the journal: durability, replay, snapshots, expiry after
reopen, a second writer, and ``history()``.

- a sale's shortages name the same members in the same order live, after a
  reopen from a snapshot and after a reopen by replay;
- a snapshotted batch expires by the clock after reopen;
- a second writer on the same store sees and drives batch members;
- a batch whose append is refused, or decided on a stale ledger, is taken
  back and decided again against the caught-up ledger;
- ``history()`` expands a ``held-batch`` row into one ``held`` entry per line
  and an ``expired-batch`` row into one ``expired`` entry per member.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bulk_holds_support import (
    SIX,
    Make,
    Spec,
    assert_sound,
    batch_of,
    member,
    two_stores,
)
from conftest import Clock
from omnistock import (
    Inventory,
)
from omnistock.holdbatch import HELD, REFUSED


@pytest.fixture
def inv(make_inventory: Make) -> Inventory:
    return two_stores(make_inventory())


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
        assert (again.head == inv.head) and (again.digest() == inv.digest())
        return again

    got = {
        how: _order_ids(build(how).sell("s2", [("A", 6)])) for how in ("live", "snapshot", "replay")
    }
    assert got["snapshot"] == got["live"]
    assert got["replay"] == got["live"]
    assert len(got["live"][0][0]) == 6


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
    assert all(b.reservation(member(r, j)).state == "held" for j in range(6))  # b has the block
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


# -- history ------------------------------------------------------------------------


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
