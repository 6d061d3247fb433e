"""Arithmetic cannot wrap (issue 13, item 6).

Every term of ``atp = on_hand - unsellable - reserved - safety`` stays within
its bound (``|on_hand|, |holdable|, |atp| <= 2**62``; reserved, safety and
unsellable units in ``[0, 2**62]``); a command that would take one past it
is refused with ``InvalidQuantity`` and writes nothing; sums over locations
are exact Python ints; ``check()`` flags a ledger out of bounds.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from conftest import Clock
from omnistock import Channel, Inventory, Line, Location, Order, errors
from omnistock.ledger.rows import Kind, make
from omnistock.storage import Commit
from omnistock.values import UNSELLABLE_STATES

B = 2**62
LOCS = ("s1", "s2")
STATES = ("damaged", "quarantine")


def _inv(url: str = "memory://") -> Inventory:
    inv = Inventory.open(url, clock=Clock())
    for loc in LOCS:
        inv.add_location(Location(loc, accepts_returns=True))
    return inv


def _refused(inv: Inventory, call: Callable[[], Any], error: type[Exception], text: str) -> None:
    """``call`` raises ``error`` naming ``text`` and leaves the ledger as it was."""
    digest, head = inv.digest(), inv.head
    with pytest.raises(error) as e:
        call()
    assert text in str(e.value)
    assert (inv.digest(), inv.head) == (digest, head)


# -- the reproductions -------------------------------------------------------
def test_damaged_sold_then_safety_cannot_wrap_the_network_figure(store_url: str) -> None:
    """receive M, damage M, sell M (physical truth: on_hand 0, atp -M), then
    safety M and a sale of 1 would take holdable/ATP below -2**62: refused.
    Before: available() said 2**63 - 1 and a hold of 10**18 was accepted."""
    inv = _inv(store_url)
    inv.receive("A", "s1", B)
    inv.change_state("A", "s1", B, to="damaged")
    inv.sell("s1", [("A", B)])
    assert inv.on_hand("A", "s1") == 0
    _refused(inv, lambda: inv.set_safety("A", "s1", B), errors.InvalidQuantity, f"qty={B}")
    _refused(inv, lambda: inv.sell("s1", [("A", 1)]), errors.InvalidQuantity, "below -2**62")
    assert inv.available("A") == 0
    assert inv.explain("A").positive_sum == 0
    order = Order("o1", lines=[Line("A", 10**18, "s1")])
    _refused(inv, lambda: inv.hold(order), errors.InsufficientStock, "sku='A'")
    assert inv.check().ok


def test_returned_lines_of_one_position_add_up(store_url: str) -> None:
    """Two return lines of 2**62 each at an empty position: refused as one.
    Before: each line was checked alone and on_hand wrapped to -2**63."""
    inv = _inv(store_url)
    inv.receive("A", "s1", 1)
    inv.sell("s1", [("A", 1)])
    lines = [("A", B), ("A", B)]
    _refused(inv, lambda: inv.return_items("s1", lines), errors.InvalidQuantity, f"qty={B}")
    _refused(
        inv,
        lambda: inv.return_items("s1", lines, condition="damaged"),
        errors.InvalidQuantity,
        "past 2**62",
    )
    assert inv.on_hand("A", "s1") == 0
    assert inv.check().ok
    inv.return_items("s1", [("A", B)])
    assert inv.on_hand("A", "s1") == B


# -- sums over locations ---------------------------------------------------------------
def test_sums_over_locations_are_exact(store_url: str) -> None:
    """Two positions at the bound: the network, channel, explain and promise
    figures are the exact 2**63 (before: int64 wrapped it to -2**63)."""
    inv = _inv(store_url)
    inv.add_channel(Channel("web", buffer=2))
    for loc in LOCS:
        inv.receive("A", loc, B)
    assert inv.available("A") == 2 * B
    assert inv.available("A", channel="web") == 2 * B - 2
    assert inv.explain("A").positive_sum == 2 * B
    assert inv.explain("A", channel="web").available == 2 * B - 2
    p = inv.promise("A", B, channel="web")
    assert p.date is not None and p.from_stock == B
    assert inv.check().ok


def test_check_flags_a_journal_that_went_past_a_bound() -> None:
    """A journal written before the bounds (two receipts of 2**62 folded
    straight in) is reported by ``check()``, not "ok"."""
    inv = _inv()
    inv.receive("A", "s1", B)
    store = inv.store
    row = make(Kind.RECEIVED, 1, sku="A", location="s1", qty=B)
    with pytest.warns(RuntimeWarning):  # numpy: the int64 fold overflows
        store.append([Commit([row])], store.head())
        report = inv.check()
    assert not report.ok
    assert any("on_hand at (A, s1)" in p and "-2**62" in p for p in report.problems)


# -- each command at the bound -----------------------------------------------------------
def _full(inv: Inventory) -> None:
    inv.receive("A", "s1", B)


def _held(inv: Inventory) -> None:
    _full(inv)
    inv.hold(Order("o", lines=[Line("A", B, "s1")]))


CASES: list[tuple[str, Callable[[Inventory], Any], Callable[[Inventory], Any], str]] = [
    ("receive", _full, lambda inv: inv.receive("A", "s1", 1), "on_hand to"),
    (
        "count-unsellable",
        _full,
        lambda inv: inv.count("A", "s1", 1, state="damaged"),
        "on_hand to",
    ),
    (
        "sell-two-lines",
        lambda inv: inv.receive("A", "s1", 1),
        lambda inv: inv.sell("s1", [("A", B), ("A", 2)]),
        "below -2**62",
    ),
    (
        "safety-past-atp",  # 2**62 reserved, one unit sold beyond: atp -1
        lambda inv: (_held(inv), inv.sell("s1", [("A", 1)])),
        lambda inv: inv.set_safety("A", "s1", B),
        "atp to",
    ),
    (
        "change-state-past-atp",  # 2**62 reserved and 2**62 safety: atp -2**62
        lambda inv: (_held(inv), inv.set_safety("A", "s1", B)),
        lambda inv: inv.change_state("A", "s1", 1, to="damaged"),
        "atp to",
    ),
    (
        "hold-lines-add-up",
        lambda inv: inv.receive("A", "s1", 1),
        lambda inv: inv.hold(Order("o", lines=[Line("A", B, "s1"), Line("A", B, "s1")])),
        "add up past 2**62",
    ),
    (
        "expect-same-supply-twice",
        lambda inv: inv.expect("A", "s1", B, eta=Clock()() + timedelta(days=1), ref="po1"),
        lambda inv: inv.expect("A", "s1", 1, eta=Clock()() + timedelta(days=1), ref="po1"),
        "supply po1",
    ),
    (
        "receive-transfer-past-on-hand",
        lambda inv: (inv.receive("A", "s2", 5), inv.transfer("A", "s2", "s1", 5), _full(inv)),
        lambda inv: inv.receive_transfer(inv.transfers()[0].id),
        "on_hand to",
    ),
]


@pytest.mark.parametrize(
    ("setup", "call", "text"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_a_command_past_a_bound_is_refused(
    store_url: str, setup: Callable[[Inventory], Any], call: Callable[[Inventory], Any], text: str
) -> None:
    inv = _inv(store_url)
    setup(inv)
    _refused(inv, lambda: call(inv), errors.InvalidQuantity, text)
    assert inv.check().ok


def test_a_count_cannot_move_more_than_the_bound_in_one_entry(store_url: str) -> None:
    """Sellable at -2**62 (damaged units sold), a count to 2**62 would be one
    entry of 2**63 units, which no int64 column holds: refused; in two steps
    it applies."""
    inv = _inv(store_url)
    inv.receive("A", "s1", B)
    inv.change_state("A", "s1", B, to="damaged")
    inv.sell("s1", [("A", B)])
    inv.count("A", "s1", 0, state="damaged")
    assert inv.on_hand("A", "s1", "sellable") == -B
    _refused(inv, lambda: inv.count("A", "s1", B), errors.InvalidQuantity, "count by")
    inv.count("A", "s1", 0)
    inv.count("A", "s1", B)
    assert inv.available("A") == B
    assert inv.check().ok


# -- property: random commands at the bounds ---------------------------------------------------
QTY = st.one_of(
    st.sampled_from([1, 2, B // 2, B // 2 + 1, B - 1, B]),
    st.integers(1, B),
)
QTY0 = st.one_of(st.just(0), QTY)
LOC = st.sampled_from(LOCS)
OPS = st.one_of(
    st.tuples(st.just("receive"), LOC, QTY),
    st.tuples(st.just("sell"), LOC, st.lists(QTY, min_size=1, max_size=2)),
    st.tuples(st.just("count"), LOC, QTY0, st.sampled_from(("sellable", *STATES))),
    st.tuples(st.just("safety"), LOC, QTY0),
    st.tuples(
        st.just("state"),
        LOC,
        QTY,
        st.sampled_from(("sellable", *STATES)),
        st.sampled_from(("sellable", *STATES)),
    ),
    st.tuples(
        st.just("return"),
        LOC,
        st.lists(QTY, min_size=1, max_size=2),
        st.sampled_from(("sellable", "damaged", "write_off")),
    ),
    st.tuples(st.just("hold"), LOC, st.lists(QTY, min_size=1, max_size=2), st.booleans()),
    st.tuples(st.just("release"), st.integers(0, 9)),
    st.tuples(st.just("ship"), st.integers(0, 9)),
    st.tuples(st.just("transfer"), LOC, QTY),
    st.tuples(st.just("arrive"), st.integers(0, 9)),
)


def _terms(
    inv: Inventory, safety: dict[str, int]
) -> dict[str, tuple[int, dict[str, int], int, int]]:
    """Per location ``(on_hand, unsellable by state, reserved, safety)``, each
    read from its own public source (reservations summed line by line)."""
    reserved = dict.fromkeys(LOCS, 0)
    for r in inv.reservations():
        if r.state in ("held", "committed"):
            for ln in r.lines:
                reserved[ln.location] += ln.qty
    return {
        loc: (
            inv.on_hand("A", loc),
            {
                s: inv.on_hand("A", loc, s)
                for s in UNSELLABLE_STATES  # every state explain() reports
            },
            reserved[loc],
            safety[loc],
        )
        for loc in LOCS
    }


def _within(on_hand: int, unsell: dict[str, int], reserved: int, safety: int) -> bool:
    """The documented bounds, spelled out on the public terms."""
    u = sum(unsell.values())
    holdable = on_hand - u - safety
    atp = holdable - reserved
    return (
        all(-B <= x <= B for x in (on_hand, holdable, atp))
        and all(0 <= x <= B for x in (u, reserved, safety))
        and min(unsell.values()) >= 0
    )


def _predict(op: tuple[Any, ...], before: tuple[int, dict[str, int], int, int]) -> str:
    """For the stock commands: ``"ok"``, ``"short"`` (InsufficientStock) or
    ``"bound"`` (InvalidQuantity) from the terms before; ``"any"`` else."""
    on_hand, unsell, reserved, safety = before
    u = dict(unsell)
    sellable = on_hand - sum(u.values())
    kind = op[0]
    if kind == "receive":
        sellable += op[2]
    elif kind == "sell":
        sellable -= sum(op[2])
    elif kind == "count":
        _, _, q, state = op
        old = sellable if state == "sellable" else u[state]
        if abs(q - old) > B:
            return "bound"
        if state == "sellable":
            sellable = q
        else:
            u[state] = q
    elif kind == "safety":
        safety = op[2]
    elif kind == "state":
        _, _, q, to, frm = op
        if to == frm:
            return "any"
        if (sellable if frm == "sellable" else u[frm]) < q:
            return "short"
        for name, d in ((frm, -q), (to, q)):
            if name == "sellable":
                sellable += d
            else:
                u[name] += d
    elif kind == "return":
        _, _, qs, cond = op
        if cond == "sellable":
            sellable += sum(qs)
        elif cond == "damaged":
            u["damaged"] += sum(qs)
    else:
        return "any"
    ok = _within(sellable + sum(u.values()), u, reserved, safety)
    return "ok" if ok else "bound"


def _run(inv: Inventory, op: tuple[Any, ...], n: int) -> Any:
    kind = op[0]
    if kind == "receive":
        return inv.receive("A", op[1], op[2])
    if kind == "sell":
        return inv.sell(op[1], [("A", q) for q in op[2]])
    if kind == "count":
        return inv.count("A", op[1], op[2], state=op[3])
    if kind == "safety":
        return inv.set_safety("A", op[1], op[2])
    if kind == "state":
        if op[3] == op[4]:
            return None
        return inv.change_state("A", op[1], op[2], to=op[3], from_=op[4])
    if kind == "return":
        return inv.return_items(op[1], [("A", q) for q in op[2]], condition=op[3])
    if kind == "hold":
        lines = [Line("A", q, op[1]) for q in op[2]]
        return inv.hold(Order(f"o{n}", lines=lines, allow_partial=op[3]), ttl=86400)
    open_ = [r for r in inv.reservations() if r.state in ("held", "committed")]
    if kind in ("release", "ship"):
        if not open_:
            return None
        r = open_[op[1] % len(open_)]
        if kind == "release":
            return inv.release(r.id)
        if r.state == "held":
            inv.commit(r.id)
        return inv.ship(r.id)
    if kind == "transfer":
        other = LOCS[1 - LOCS.index(op[1])]
        return inv.transfer("A", op[1], other, op[2])
    moving = inv.transfers()
    return inv.receive_transfer(moving[op[1] % len(moving)].id) if moving else None


@settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(first=QTY, ops=st.lists(OPS, min_size=1, max_size=12))
def test_random_commands_at_the_bounds_keep_every_figure_exact(
    first: int, ops: list[tuple[Any, ...]]
) -> None:
    """After every step: each term within its bound; ``available()`` and
    ``explain()`` equal the Python-int formula over the public terms;
    ``check()`` ok. A refused command changed nothing; a stock command is
    refused for a bound exactly when its outcome would pass one."""
    inv = _inv()
    safety = dict.fromkeys(LOCS, 0)
    inv.receive("A", "s1", first)
    for n, op in enumerate(ops):
        before = _terms(inv, safety)
        expect = _predict(op, before[op[1]]) if isinstance(op[1], str) else "any"
        moving = inv.transfers()
        if op[0] == "arrive" and moving:  # units in (reserved if earmarked)
            t = moving[op[1] % len(moving)]
            on_hand, unsell, reserved, sf = before[t.destination]
            r = inv.reservation(t.reservation) if t.reservation else None
            more = t.qty if r is not None and r.state in ("held", "committed") else 0
            fits = _within(on_hand + t.qty, unsell, reserved + more, sf)
            expect = "ok" if fits else "bound"
        digest, head = inv.digest(), inv.head
        try:
            _run(inv, op, n)
        except (errors.InvalidQuantity, errors.InsufficientStock) as e:
            assert (inv.digest(), inv.head) == (digest, head), op
            got = "bound" if isinstance(e, errors.InvalidQuantity) else "short"
            if isinstance(e, errors.InvalidQuantity):
                assert "qty=" in str(e), str(e)
        else:
            got = "ok"
            if op[0] == "safety":
                safety[op[1]] = op[2]
        event(f"{op[0]}: {got}")
        if expect != "any":
            assert got == expect, (op, before[op[1]], got)
        elif op[0] == "hold" and got == "bound":
            assert sum(op[2]) > B, op
        else:
            assert got != "bound", op
        terms = _terms(inv, safety)
        atp = {}
        for loc, (on_hand, unsell, reserved, sf) in terms.items():
            assert _within(on_hand, unsell, reserved, sf), (loc, terms[loc])
            atp[loc] = on_hand - sum(unsell.values()) - reserved - sf
            assert inv.available("A", location=loc) == max(0, atp[loc])
        total = sum(max(0, a) for a in atp.values())
        assert inv.available("A") == total
        ex = inv.explain("A")
        assert (ex.available, ex.positive_sum) == (total, total)
        for p in ex.positions:
            on_hand, unsell, reserved, sf = terms[p.location]
            assert (p.on_hand, p.reserved, p.safety) == (on_hand, reserved, sf)
            assert p.unsellable == unsell and p.atp == atp[p.location]
        assert inv.check().ok
