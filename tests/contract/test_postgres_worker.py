"""A worker without a replica (``Inventory.open(url, replica=False)``):
it plans on the counters of what a command names, and its answers are the
replica's, whatever other processes wrote meanwhile (real PostgreSQL).

The 8-process contention run in this mode is in
tests/processes/test_contention.py (``postgresql-workers-without-replica``).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

psycopg = pytest.importorskip("psycopg", reason="psycopg 3 is not installed (omnistock[postgres])")

from conftest import PG_DSN as DSN  # noqa: E402
from conftest import Clock  # noqa: E402
from omnistock import Channel, HoldBatch, Inventory, Line, Location, Order, errors, scoped  # noqa: E402

pytestmark = pytest.mark.postgres  # skipped without a server, failed in CI (conftest)

Open = Callable[..., Inventory]


@pytest.fixture
def url() -> Iterator[str]:
    schema = f"omnistock_wk_{uuid.uuid4().hex[:12]}"
    sep = "&" if "?" in DSN else "?"
    yield f"{DSN}{sep}schema={schema}"
    with psycopg.connect(DSN, autocommit=True) as conn:
        conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")


@pytest.fixture
def clock() -> Clock:
    return Clock(datetime(2026, 1, 1, 12, 0, tzinfo=UTC))


@pytest.fixture
def opened(url: str, clock: Clock) -> Iterator[Open]:
    """Opens inventories on the schema (a replica by default); all closed after."""
    invs: list[Inventory] = []

    def make(replica: bool = True) -> Inventory:
        inv = Inventory.open(url, clock=clock, replica=replica)
        invs.append(inv)
        return inv

    yield make
    for inv in invs:
        inv.close()


@pytest.fixture
def admin(opened: Open) -> Inventory:
    """A replica that set up the network and stock."""
    inv = opened()
    inv.add_location(Location("s1"))
    inv.add_location(Location("s2"))
    inv.add_channel(Channel("web", buffer=1))
    inv.receive("A", "s1", 5)
    inv.receive("A", "s2", 3)
    inv.receive("B", "s1", 10)
    return inv


def _scoped(inv: Inventory) -> bool:
    sc = inv._runner.scoped
    return sc is not None and not sc.replica


def _rows(url: str) -> list[tuple[Any, ...]]:
    with Inventory.open(url) as inv:
        return list(inv.store.read(0))


def test_a_worker_answers_and_writes_as_a_replica_does(
    admin: Inventory, opened: Open, clock: Clock, url: str
) -> None:
    w = opened(replica=False)
    assert (w.available("A"), w.available("A", channel="web"), w.available("A", "s1")) == (8, 7, 5)
    r = w.hold(Order("o1", channel="web", lines=[Line("A", 4, "s1"), Line("B", 2, "s1")]), ttl=60)
    assert (r.id, r.state) == ("o1#1", "held")
    assert w.available("A", "s1") == admin.available("A", "s1") == 1
    assert w.hold(Order("o1", lines=[Line("A", 1, "s1")]), ttl=60).id == "o1#2"
    with pytest.raises(errors.InsufficientStock) as refused:
        w.hold(Order("o2", lines=[Line("A", 1, "s1")]), ttl=60)
    assert refused.value.available == 0

    w2 = opened(replica=False)
    assert w2.commit("o1#1").state == "committed"
    assert w.release("o1#2").state == "released"  # w had it cached as held: still true
    assert w.reservation("o1#1").state == "committed"  # w reads it again
    e = w2.explain("A", channel="web")
    assert (e.available, e.buffer) == (admin.explain("A", channel="web").available, 1)
    a = w.allocate(Order("o5", channel="web", lines=[Line("B", 3)]))
    assert a.status == "allocated" and a.reservation is not None
    assert admin.reservation(a.reservation.id).lines == a.reservation.lines
    assert _scoped(w) and _scoped(w2)
    report = admin.check()
    assert report.ok, report.problems


def test_stale_figures_never_decide(admin: Inventory, opened: Open) -> None:
    """A worker's counters of A went stale twice: stock arrived (its refusal
    is checked again on fresh counters) and stock left (the database's guard
    refuses its append; it plans again and refuses truly)."""
    w = opened(replica=False)
    assert w.available("A", "s1") == 5
    admin.receive("A", "s1", 10)
    r = w.hold(Order("big", lines=[Line("A", 12, "s1")]), ttl=60)  # needs the new units
    assert r.state == "held"
    admin.sell("s1", [Line("A", 3)])  # walk-in sale on a replica: ATP 0 now
    with pytest.raises(errors.InsufficientStock):
        w.hold(Order("late", lines=[Line("A", 1, "s1")]), ttl=60)
    assert admin.available("A", "s1") == 0 and _scoped(w)
    assert admin.check().ok


def test_a_due_hold_frees_its_units_for_any_worker_once(
    admin: Inventory, opened: Open, clock: Clock, url: str
) -> None:
    w1, w2 = opened(replica=False), opened(replica=False)
    cart = w1.hold(Order("cart", lines=[Line("A", 5, "s1")]), ttl=30).id
    assert w2.available("A", "s1") == 0
    clock.advance(31)
    assert w2.available("A", "s1") == 5  # read: its expiry is journaled
    assert w1.hold(Order("next", lines=[Line("A", 5, "s1")]), ttl=30).state == "held"
    expired = [r for r in _rows(url) if r[2] == "expired"]
    assert [(r[6], r[5]) for r in expired] == [(cart, 5)]  # once, by one worker
    assert admin.reservation(cart).state == "expired"
    assert _scoped(w1) and _scoped(w2)  # expiring needed no replica
    assert admin.check().ok


@pytest.mark.parametrize("siblings", [0, 1, 3])
def test_an_order_id_stays_a_natural_key_across_workers(
    admin: Inventory, opened: Open, monkeypatch: pytest.MonkeyPatch, siblings: int
) -> None:
    """A repeat of an open order returns its reservation, on any worker,
    whatever it reads before planning (``SIBLINGS``): minting an id that is
    taken conflicts, and the worker reads it and plans again."""
    monkeypatch.setattr(scoped, "SIBLINGS", siblings)
    w1, w2 = opened(replica=False), opened(replica=False)
    assert w1.hold(Order("o", lines=[Line("B", 1, "s1")]), ttl=60).id == "o#1"
    w1.release("o#1")
    assert w1.hold(Order("o", lines=[Line("B", 2, "s1")]), ttl=60).id == "o#2"
    assert w2.hold(Order("o", lines=[Line("B", 2, "s1")]), ttl=60).id == "o#2"  # a retry
    with pytest.raises(errors.IdempotencyConflict):
        w2.hold(Order("o", lines=[Line("B", 3, "s1")]), ttl=60)
    mine = [r.id for r in admin.reservations() if r.order_id == "o"]
    assert mine == ["o#1", "o#2"] and admin.available("B", "s1") == 8
    assert admin.check().ok


def test_a_location_added_later_is_known_after_one_recheck(admin: Inventory, opened: Open) -> None:
    w = opened(replica=False)
    assert w.available("A", "s1") == 5
    admin.add_location(Location("s3"))
    admin.receive("A", "s3", 2)
    assert w.hold(Order("o3", lines=[Line("A", 2, "s3")]), ttl=60).id == "o3#1"
    assert sorted(w.locations) == ["s1", "s2", "s3"]


def test_promise_reads_the_skus_open_supply(admin: Inventory, opened: Open, clock: Clock) -> None:
    """``promise()`` on a worker: ATP from the counters, then the SKU's open
    purchase orders and transfers in transit, read afresh each time."""
    w = opened(replica=False)
    po = admin.expect("A", "s1", 6, eta=clock.now + timedelta(days=2))
    admin.transfer("A", "s2", "s1", 2, eta=clock.now + timedelta(days=1))
    admin.expect("B", "s1", 50, eta=clock.now + timedelta(days=1))  # another SKU's
    for qty in (3, 8, 12, 20):
        assert w.promise("A", qty) == admin.promise("A", qty), qty
    admin.receive("A", "s1", 4, ref=po)  # part of the PO arrives
    assert w.promise("A", 12) == admin.promise("A", 12)
    assert w.promise("A", 12, channel="web") == admin.promise("A", 12, channel="web")
    assert _scoped(w)
    assert admin.check().ok


@pytest.mark.parametrize(
    "call",
    [
        lambda inv: inv.count("A", "s1", 4),
        lambda inv: inv.sell("s1", [Line("A", 1)]),
        lambda inv: inv.hold_many(HoldBatch(["h1"], ["B"], ["s1"], [1])),
        lambda inv: inv.at(3),
        lambda inv: inv.reservations(),
        lambda inv: inv.check().ok,
        lambda inv: inv.allocate(Order("p", lines=[Line("A", 1)], method="pickup", pickup_at="s1")),
        lambda inv: inv.head,
    ],
    ids=["count", "sell", "bulk", "at", "reservations", "check", "bopis", "head"],
)
def test_what_needs_the_ledger_loads_the_replica_and_answers_as_one(
    admin: Inventory, opened: Open, call: Callable[[Inventory], Any]
) -> None:
    w = opened(replica=False)
    assert w.available("A") == 8 and _scoped(w)
    call(w)
    assert not _scoped(w)  # a replica from now on
    assert w.digest() == admin.digest()
    assert admin.check().ok


def test_memory_stays_bounded(
    admin: Inventory, opened: Open, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(scoped, "MAX_SKUS", 4)
    monkeypatch.setattr(scoped, "MAX_HOLDS", 6)
    for i in range(12):
        admin.receive(f"S{i}", "s1", 3)
    w = opened(replica=False)
    for i in range(12):
        assert w.hold(Order(f"m{i}", lines=[Line(f"S{i}", 2, "s1")]), ttl=60).state == "held"
        assert len(w._runner.scoped.skus) <= 5  # type: ignore[union-attr]
        assert len(w._state.holds.by_id) <= 7
    for i in range(12):
        assert w.available(f"S{i}", "s1") == 1
    assert admin.check().ok


@pytest.mark.parametrize(
    ("value", "url_of"),
    [
        ("yes", None),
        (0, None),
        (None, None),
        ("false", None),
        (False, "memory"),
        (False, "sqlite"),
    ],
)
def test_bad_replica_option(url: str, tmp_path: Path, value: object, url_of: str | None) -> None:
    target = {None: url, "memory": "memory://", "sqlite": f"sqlite:///{tmp_path / 'x.db'}"}[url_of]
    with pytest.raises(errors.InvalidInput) as err:
        Inventory.open(target, replica=value)
    assert "replica" in str(err.value) and repr(value) in str(err.value)
    if url_of == "sqlite":
        with Inventory.open(target) as inv:
            assert inv.head == 0  # nothing was written


def test_a_keyed_result_names_the_seq_its_row_took(admin: Inventory, opened: Open) -> None:
    """Another process's rows took the seqs this one planned on: the answer
    and the key's stored answer (a retry's) both name the real seq."""
    late = opened()
    late.available("A")  # its ledger stops here
    for i in range(3):
        admin.receive("B", "s1", 1, key=f"other-{i}")
    first = late.receive("A", "s1", 2, key="grn-7")
    (row,) = [r for r in admin.store.read(0) if r[8] == "grn-7"]
    assert first.seq == row[0]
    again = opened().receive("A", "s1", 2, key="grn-7")  # a retry, in a fresh process
    assert again == first


def test_a_sku_never_seen_is_unknown_as_on_a_replica(
    admin: Inventory, opened: Open, clock: Clock
) -> None:
    w = opened(replica=False)
    for inv in (w, admin):
        with pytest.raises(errors.UnknownSku):
            inv.available("NOPE")
    admin.expect("NEW", "s1", 4, eta=clock.now + timedelta(days=3))  # known, no stock yet
    assert w.available("NEW") == admin.available("NEW") == 0
    assert w.promise("NEW", 3) == admin.promise("NEW", 3)
    w.receive("FRESH", "s2", 2)  # a worker may bring a SKU into being
    assert admin.available("FRESH", "s2") == w.available("FRESH", "s2") == 2


def test_a_backlog_of_due_holds_never_hides_free_units(
    admin: Inventory, opened: Open, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """More holds due than a worker reads at once (``DUE_LIMIT``): a query
    reads page after page, and a refusal that may rest on a hold due past
    the page is decided by the replica."""
    monkeypatch.setattr(scoped, "DUE_LIMIT", 2)
    for i in range(5):
        admin.hold(Order(f"cart{i}", lines=[Line("A", 1, "s1")]), ttl=30)
    clock.advance(31)
    reader = opened(replica=False)
    assert reader.available("A", "s1") == 5  # three pages of due holds
    assert _scoped(reader)
    for i in range(5):
        admin.hold(Order(f"again{i}", lines=[Line("A", 1, "s1")]), ttl=30)
    clock.advance(31)
    writer = opened(replica=False)
    assert writer.hold(Order("big", lines=[Line("A", 5, "s1")]), ttl=30).state == "held"
    assert admin.check().ok


def test_a_due_paid_pickup_is_never_missed_by_a_worker(
    admin: Inventory, opened: Open, clock: Clock, url: str
) -> None:
    """A paid pickup past its due time holds units in the counters until its
    no-show is journaled. The worker reads it among the holds due, cannot
    plan a click & collect order on counters, and so loads the replica:
    its answers are the replica's, never the stale counters'."""
    from omnistock.fulfilment import Policy

    admin.set_policy(Policy(pickup_window_hours=1, pickup_grace_hours=0))
    a = admin.allocate(Order("p1", method="pickup", pickup_at="s1", lines=[("A", 4)]))
    assert a.reservation is not None
    admin.commit(a.reservation.id)
    w = opened(replica=False)
    assert w.available("A", "s1") == 1 and _scoped(w)
    clock.advance(3600)
    assert w.available("A", "s1") == 5  # the no-show is applied first
    assert not _scoped(w)  # it fell back to the replica to know it
    assert w.hold(Order("next", lines=[Line("A", 5, "s1")]), ttl=30).state == "held"
    no_shows = [(r[6], r[5]) for r in _rows(url) if r[2] == "no-show"]
    assert no_shows == [(a.reservation.id, 4)]
    assert admin.reservation(a.reservation.id).state == "released"
    assert admin.check().ok


def test_a_worker_converts_decimal_skus_without_the_replica(admin: Inventory, opened: Open) -> None:
    """A worker knows each SKU's decimals and units from the network rows:
    those declared before it started, and one declared later (the network
    digest moved, so it reads the network again before converting)."""
    from decimal import Decimal

    from omnistock import Sku

    admin.add_sku(Sku("ham", unit="kg", decimals=3, units={"half": Decimal("0.5")}))
    admin.receive("ham", "s1", "2.500")
    w = opened(replica=False)
    assert w.available("ham", "s1") == Decimal("2.500")
    r = w.hold(Order("deli", lines=[Line("ham", 3, "s1", unit="half")]), ttl=60)
    assert r.lines[0].qty == Decimal("1.500")
    assert admin.available("ham", "s1") == w.available("ham", "s1") == Decimal("1.000")
    admin.add_sku(Sku("cheese", decimals=2))
    admin.receive("cheese", "s2", "0.75")
    got = w.hold(Order("c", lines=[Line("cheese", "0.5", "s2")]), ttl=60)
    assert got.lines[0].qty == Decimal("0.50")
    assert admin.available("cheese") == Decimal("0.25")
    assert _scoped(w)  # no replica was needed


def test_a_backorder_through_a_worker_is_right(
    admin: Inventory, opened: Open, clock: Clock
) -> None:
    """Backorders (issue 15, item 2) book dated supply: a worker holds them
    through the replica it loads, and its answers (promise, the reservation,
    a receipt converting it) are the replica's."""
    po = admin.expect("A", "s1", 4, eta=clock.now + timedelta(days=3))
    w = opened(replica=False)
    other = opened(replica=False)
    assert w.promise("A", 7) == admin.promise("A", 7) and _scoped(w)
    r = w.hold(Order("bo1", "web", [Line("A", 7, "s1")], backorder=True), ttl=600)
    eta = clock.now + timedelta(days=3)
    assert [(x.qty, x.eta) for x in r.lines] == [(5, None), (2, eta)]
    assert not _scoped(w)  # a backorder books supply: the replica decides
    assert [(x.ref, x.qty) for x in other.promise("A", 20).supply] == [(po, 2)]
    assert other.promise("A", 3) == admin.promise("A", 3)  # never the booked units
    assert not _scoped(other)
    with pytest.raises(errors.InsufficientStock) as exc:
        other.hold(Order("bo2", "web", [Line("A", 3, "s1")], backorder=True), ttl=600)
    assert exc.value.available == 2
    third = opened(replica=False)
    assert third.commit(r.id).state == "committed"  # its rows: the replica's too
    admin.receive("A", "s1", 4, ref=po)
    assert [(x.qty, x.eta) for x in w.reservation(r.id).lines] == [(7, None)]
    assert admin.reservation(r.id).lines == w.reservation(r.id).lines


def test_kit_lines_fall_back_to_the_replica_and_stay_correct(
    admin: Inventory, opened: Open
) -> None:
    """A worker knows no kits (they are not network rows): a kit it is asked
    about, or a reservation holding kits, makes it load the replica; its
    answers and writes are the replica's, and plain SKUs stay scoped."""
    admin.add_kit("pair", {"A": 1, "B": 2})
    plain = opened(replica=False)
    assert plain.hold(Order("p1", lines=[Line("B", 2, "s1")]), ttl=60).state == "held"
    assert _scoped(plain)  # a component's plain line needs no replica

    w = opened(replica=False)
    assert w.available("pair", "s1") == admin.available("pair", "s1") == 4  # B 8 // 2
    assert not _scoped(w)  # a kit: answered by the replica
    res = w.hold(Order("k1", channel="web", lines=[Line("pair", 3, "s1")]), ttl=60)
    assert [(k.sku, k.location, k.qty) for k in res.kits] == [("pair", "s1", 3)]
    assert sorted((x.sku, x.qty, x.kit) for x in res.lines) == [("A", 3, "pair"), ("B", 6, "pair")]

    w2 = opened(replica=False)
    assert w2.available("B", "s1") == 2 and _scoped(w2)
    assert w2.commit(res.id).kits == res.kits  # a reservation with kits: the replica
    assert not _scoped(w2)
    shipped = w2.ship(res.id, [("pair", 1)])
    assert [(k.sku, k.qty) for k in shipped.kits] == [("pair", 2)]
    with pytest.raises(errors.InsufficientStock):  # s1 builds 1 more: A 2, B 2 // 2
        plain.hold(Order("k2", lines=[Line("pair", 2, "s1")]), ttl=60)
    assert admin.reservation(res.id).kits == shipped.kits
    assert admin.available("pair", "s1") == 1
    report = admin.check()
    assert report.ok, report.problems


def test_a_lotted_sku_is_the_replicas_job_and_stays_correct(
    admin: Inventory, opened: Open, clock: Clock, url: str
) -> None:
    """Lots expire by the clock and ship first-expiry-first-out, which the
    counters cannot tell: a worker that meets a lotted SKU loads the replica
    (``l|lots|sku`` counts its lotted positions) and answers as one."""
    admin.receive("M", "s1", 4, lot="L1", expires=clock() + timedelta(hours=2))
    admin.receive("M", "s1", 3, lot="L2", expires=clock() + timedelta(days=2))
    w = opened(replica=False)
    assert w.available("B", "s1") == 10 and _scoped(w)  # an unlotted SKU: counters
    r = w.hold(Order("m1", lines=[Line("M", 5, "s1")]), ttl=3600 * 24)
    assert not _scoped(w)  # the lotted SKU made it load the replica
    w.commit(r.id)
    shipped = w.ship(r.id)
    assert [(x.lot, x.qty) for x in shipped.lots] == [("L1", 4), ("L2", 1)]
    admin.receive("M", "s1", 2, lot="L3", expires=clock() + timedelta(hours=1))
    clock.advance(3 * 3600)  # L3 has expired, L2 has not
    assert w.available("M", "s1") == admin.available("M", "s1") == 2
    assert w.on_hand("M", "s1", lot="L3") == 2  # on hand, expired: physical truth
    kinds = [r[2] for r in _rows(url)]
    assert kinds.count("lot-expired") == 1  # journaled once
    assert admin.check().ok and w.check().ok


def test_two_replicas_expire_and_take_a_lot_once(
    admin: Inventory, opened: Open, clock: Clock, url: str
) -> None:
    """Each lotted position's book is a guarded record: a replica that took
    or expired lot units from a book another replica changed since conflicts,
    catches up and plans again, so no lot unit is taken or expired twice."""
    admin.receive("M", "s1", 2, lot="L1", expires=clock() + timedelta(hours=1))
    admin.receive("M", "s1", 5, lot="L2", expires=clock() + timedelta(days=1))
    other = opened()
    assert other.available("M", "s1") == 7
    got = admin.sell("s1", [("M", 1)]).lots
    assert [(x.lot, x.qty) for x in got] == [("L1", 1)]
    got = other.sell("s1", [("M", 2)]).lots  # its book was stale: planned again
    assert [(x.lot, x.qty) for x in got] == [("L1", 1), ("L2", 1)]
    admin.receive("M", "s1", 3, lot="L3", expires=clock() + timedelta(hours=2))
    clock.advance(3 * 3600)
    assert admin.available("M", "s1") == other.available("M", "s1") == 4
    assert [r[2] for r in _rows(url)].count("lot-expired") == 1  # L3, once
    assert other.on_hand("M", "s1", "expired") == 3
    for inv in (admin, other):
        report = inv.check()
        assert report.ok, report.problems
