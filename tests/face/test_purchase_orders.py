"""The purchase-order lifecycle through the face, on every store: expect,
receive against the PO (partial, over), cancel, re-date, and what
``promise()`` says for a PO that is overdue."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest

from conftest import Clock
from omnistock import Inventory, Location, errors

Make = Callable[..., Inventory]


@pytest.fixture
def inv(make_inventory: Make, store_url: str) -> Inventory:
    inv = make_inventory(store_url)
    inv.add_location(Location("s1"))
    inv.add_location(Location("w1", kind="warehouse"))
    inv.receive("A", "w1", 3)
    return inv


def supply(inv: Inventory, qty: int) -> list[tuple[str, int]]:
    return [(s.ref, s.qty) for s in inv.promise("A", qty).supply]


def test_expect_returns_the_po_line_id(inv: Inventory, clock: Clock) -> None:
    po = inv.expect("A", "w1", 10, eta=clock() + timedelta(days=3))
    assert po == inv.history(kind="expected")[-1].ref
    named = inv.expect("A", "w1", 5, eta=clock() + timedelta(days=4), ref="PO-77/1")
    assert named == "PO-77/1"


def test_a_partial_receipt_draws_the_po_down(inv: Inventory, clock: Clock) -> None:
    eta = clock() + timedelta(days=3)
    po = inv.expect("A", "w1", 10, eta=eta)
    inv.receive("A", "w1", 4, ref=po)
    assert inv.available("A", location="w1") == 7
    p = inv.promise("A", 13)
    assert (p.date, p.from_stock, [(s.ref, s.qty) for s in p.supply]) == (eta, 7, [(po, 6)])
    assert inv.promise("A", 14).date is None  # 7 on hand + 6 still coming
    inv.receive("A", "w1", 6, ref=po)
    assert inv.promise("A", 14).date is None
    assert supply(inv, 14) == []
    with pytest.raises(errors.UnknownSupply, match=f"ref='{po}'"):  # fully received: closed
        inv.receive("A", "w1", 1, ref=po)


def test_an_over_receipt_closes_the_po(inv: Inventory, clock: Clock) -> None:
    po = inv.expect("A", "w1", 10, eta=clock() + timedelta(days=3))
    inv.receive("A", "w1", 12, ref=po)
    assert inv.available("A", location="w1") == 15
    assert supply(inv, 20) == []
    assert inv.check().ok


def test_receiving_against_an_unknown_or_mismatched_ref_is_refused(
    inv: Inventory, clock: Clock
) -> None:
    po = inv.expect("A", "w1", 10, eta=clock() + timedelta(days=3))
    head, digest = inv.head, inv.digest()
    with pytest.raises(errors.UnknownSupply, match="ref='PO-nope'"):
        inv.receive("A", "w1", 1, ref="PO-nope")
    with pytest.raises(errors.InvalidInput, match=r"ref=.*is supply of 'A' at 'w1'"):
        inv.receive("A", "s1", 1, ref=po)
    with pytest.raises(errors.InvalidInput, match="is supply of 'A' at 'w1'"):
        inv.receive("B", "w1", 1, ref=po)
    assert (inv.head, inv.digest()) == (head, digest)


def test_cancel_expected_takes_the_po_out_of_promise(inv: Inventory, clock: Clock) -> None:
    po = inv.expect("A", "w1", 10, eta=clock() + timedelta(days=3))
    inv.receive("A", "w1", 2, ref=po)
    out = inv.cancel_expected(po, key="cancel-po")
    assert out.seq == inv.head
    rows = inv.history(ref=po)
    assert [(e.kind, e.qty) for e in rows] == [
        ("expected", 10),
        ("received", 2),
        ("expected-cancelled", 8),
    ]
    assert supply(inv, 10) == []
    assert inv.promise("A", 6).date is None
    assert inv.cancel_expected(po, key="cancel-po") == out  # a retry: the first result
    with pytest.raises(errors.UnknownSupply):
        inv.cancel_expected(po)  # cancelling twice
    with pytest.raises(errors.UnknownSupply):
        inv.receive("A", "w1", 1, ref=po)
    assert inv.check().ok


def test_redate_moves_the_promise(inv: Inventory, clock: Clock) -> None:
    first = inv.expect("A", "w1", 10, eta=clock() + timedelta(days=3))
    second = inv.expect("A", "w1", 10, eta=clock() + timedelta(days=5))
    assert supply(inv, 8) == [(first, 5)]
    later = clock() + timedelta(days=9)
    inv.redate(first, later)
    # The second PO is now the earliest: promise takes it first.
    p = inv.promise("A", 8)
    assert p.date == clock() + timedelta(days=5)
    assert [(s.ref, s.qty) for s in p.supply] == [(second, 5)]
    p = inv.promise("A", 20)
    assert (p.date, [(s.ref, s.qty) for s in p.supply]) == (later, [(second, 10), (first, 7)])
    rows = inv.history(ref=first, kind="redated")
    assert len(rows) == 1 and rows[0].qty == 10
    assert rows[0].data == {"eta": rows[0].data["eta"], "was": rows[0].data["was"]}
    assert inv.check().ok


def test_an_overdue_po_is_not_promised_until_redated(inv: Inventory, clock: Clock) -> None:
    eta = clock() + timedelta(days=1)
    po = inv.expect("A", "w1", 10, eta=eta)
    assert inv.promise("A", 8).date == eta
    clock.advance(86_400)  # due now: still promised, for now
    assert inv.promise("A", 8).date == clock()
    clock.advance(1)  # overdue: its date is no longer known
    p = inv.promise("A", 8)
    assert (p.date, p.from_stock, p.supply) == (None, 3, ())
    new_eta = clock() + timedelta(days=2)
    inv.redate(po, new_eta)
    assert inv.promise("A", 8).date == new_eta
    inv.receive("A", "w1", 10, ref=po)  # a late PO can still be received
    assert inv.promise("A", 8).now


def test_po_commands_refuse_a_transfer_id(inv: Inventory, clock: Clock) -> None:
    inv.receive("A", "s1", 5)
    t = inv.transfer("A", "s1", "w1", 2)
    with pytest.raises(errors.InvalidInput, match="is a transfer"):
        inv.cancel_expected(t.id)
    with pytest.raises(errors.InvalidInput, match="is a transfer"):
        inv.redate(t.id, clock() + timedelta(days=1))
    with pytest.raises(errors.InvalidInput, match="is a transfer"):
        inv.receive("A", "w1", 2, ref=t.id)
