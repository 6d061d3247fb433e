"""The durable event feed (issue 17): ``feed``/``ack`` and
``availability``/``ack_availability`` on every store (memory, SQLite,
PostgreSQL; PostgreSQL skipped, saying why, when no server answers).

- the feed gives exactly the journal's entries, in order, across restarts;
- at-least-once: until an ack the same entries come again, also after a
  restart (a crash between delivery and ack);
- two consumers are independent; an ack never moves a cursor backwards and
  a repeated ack changes nothing;
- a bulk hold's row is never split between two deliveries;
- ``wait=`` returns the entry another thread commits meanwhile;
- availability changes after receives, holds, sales and expiries, and
  resume after a restart without resending or missing one;
- bad input raises a typed error naming the field, and leaves the journal
  and every cursor as they were.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from bulk_holds_support import batch_of
from conftest import Clock
from omnistock import Channel, Entry, Inventory, Line, Location, Order, errors
from omnistock.feeds import AvailabilityChange


class Shop:
    """An inventory on one store, and a way to "restart" it: a new
    ``Inventory`` on the same store (a reopened URL, or for ``memory://``
    the same store object)."""

    def __init__(self, url: str, clock: Clock) -> None:
        self.url, self.clock = url, clock
        self.opened: list[Inventory] = []
        self.inv = self._open()

    def _open(self) -> Inventory:
        if self.url == "memory://" and self.opened:
            inv = Inventory(store=self.opened[0].store, clock=self.clock)
        else:
            inv = Inventory.open(self.url, clock=self.clock)
        self.opened.append(inv)
        return inv

    def restart(self) -> Inventory:
        if self.url != "memory://":
            self.inv.close()
        self.inv = self._open()
        return self.inv

    def second(self) -> Inventory:
        """Another ``Inventory`` on the same store, beside ``inv``."""
        if self.url == "memory://":
            other = Inventory(store=self.inv.store, clock=self.clock)
        else:
            other = Inventory.open(self.url, clock=self.clock)
        self.opened.append(other)
        return other

    def close(self) -> None:
        for inv in self.opened:
            inv.close()


@pytest.fixture
def shop(store_url: str, clock: Clock) -> Iterator[Shop]:
    s = Shop(store_url, clock)
    yield s
    s.close()


def stock(inv: Inventory) -> None:
    """Stores s1, s2; channels web (buffer 1) and market; A 10 at s1, 4 at
    s2; B 5 at s1."""
    inv.add_location(Location("s1"))
    inv.add_location(Location("s2"))
    inv.add_channel(Channel("web", buffer=1))
    inv.add_channel(Channel("market", locations=("s1",)))
    inv.receive("A", "s1", 10)
    inv.receive("A", "s2", 4)
    inv.receive("B", "s1", 5)


def trade(inv: Inventory) -> None:
    """Holds, a commit, a release, a sale and a receipt."""
    r1 = inv.hold(Order("o1", channel="web", lines=[Line("A", 2, "s1")]), ttl=600)
    r2 = inv.hold(Order("o2", channel="web", lines=[Line("B", 1, "s1")]), ttl=600)
    inv.commit(r1.id)
    inv.release(r2.id)
    inv.sell("s2", [("A", 1)])
    inv.receive("C", "s2", 3)


def drain(inv: Inventory, consumer: str, limit: int) -> list[Entry]:
    """Feed and ack until nothing is left."""
    got: list[Entry] = []
    while batch := inv.feed(consumer, limit=limit):
        got += batch
        inv.ack(consumer, batch[-1].seq)
    return got


# -- the journal, in order, across restarts ----------------------------------------------


def test_feed_gives_exactly_the_journal_in_order_across_restarts(shop: Shop) -> None:
    inv = shop.inv
    stock(inv)
    first = drain(inv, "erp", limit=3)
    inv = shop.restart()
    trade(inv)
    batch = inv.feed("erp", limit=2)
    inv.ack("erp", batch[-1].seq)
    inv = shop.restart()  # resumes after the last ack
    rest = drain(inv, "erp", limit=4)
    assert first + batch + rest == inv.history()
    seqs = [e.seq for e in first + batch + rest]
    assert seqs == sorted(seqs) and len(set(seqs)) == inv.head
    assert inv.cursor("erp") == inv.head
    assert inv.feed("erp") == []


def test_at_least_once_a_crash_before_the_ack_delivers_again(shop: Shop) -> None:
    inv = shop.inv
    stock(inv)
    got = inv.feed("erp", limit=4)
    assert [e.seq for e in got] == [1, 2, 3, 4]
    assert inv.feed("erp", limit=4) == got  # no ack: the same entries again
    inv = shop.restart()  # "crash" before the ack
    assert inv.feed("erp", limit=4) == got
    assert inv.ack("erp", got[-1].seq) == 4
    inv = shop.restart()
    nxt = inv.feed("erp", limit=4)
    assert [e.seq for e in nxt] == [5, 6, 7]
    assert inv.cursor("erp") == 4


def test_two_consumers_are_independent(shop: Shop) -> None:
    inv = shop.inv
    stock(inv)
    a = inv.feed("erp", limit=2)
    inv.ack("erp", a[-1].seq)
    assert [e.seq for e in inv.feed("wms", limit=2)] == [1, 2]
    assert [e.seq for e in inv.feed("erp", limit=2)] == [3, 4]
    inv.ack("wms", 5)
    assert (inv.cursor("erp"), inv.cursor("wms")) == (2, 5)


def test_ack_never_moves_back_and_a_repeat_changes_nothing(shop: Shop) -> None:
    inv = shop.inv
    stock(inv)
    assert inv.ack("erp", 5) == 5
    assert inv.ack("erp", 5) == 5  # a retry
    assert inv.ack("erp", 2) == 5  # an older seq: the cursor stays
    assert inv.ack("erp", 0) == 5
    assert [e.seq for e in inv.feed("erp")] == [6, 7]
    assert inv.ack("other", inv.head) == 7  # start a new consumer at "now"
    assert inv.feed("other") == []


def test_a_bulk_hold_row_is_never_split_between_deliveries(shop: Shop) -> None:
    inv = shop.inv
    stock(inv)
    orders = [("b1", [("A", 1, "s1"), ("B", 1, "s1")]), ("b2", [("A", 2, "s2")])]
    inv.hold_many(batch_of(orders), ttl=600)  # no fenced channel: one row
    inv.ack("erp", 7)
    got = inv.feed("erp", limit=1)  # one row: all its entries
    assert [(e.kind, e.sku, e.location, e.qty) for e in got] == [
        ("held", "A", "s1", 1),
        ("held", "B", "s1", 1),
        ("held", "A", "s2", 2),
    ]
    assert {e.seq for e in got} == {8}
    assert got == inv.history(since=7)


def test_wait_returns_an_entry_committed_meanwhile(shop: Shop) -> None:
    inv = shop.inv
    stock(inv)
    inv.ack("erp", inv.head)
    assert inv.feed("erp", wait=0.05) == []  # nothing comes: returns empty
    other = shop.second()  # another writer on the store
    started = threading.Event()

    def later() -> None:
        started.wait()
        other.receive("D", "s1", 1)

    t = threading.Thread(target=later)
    t.start()
    started.set()
    got = inv.feed("erp", wait=30)  # bounded: returns when the row is seen
    t.join()
    assert [(e.kind, e.sku) for e in got] == [("received", "D")]


# -- availability ------------------------------------------------------------------------


def avail(changes: list[AvailabilityChange]) -> dict[str, int]:
    assert len({c.seq for c in changes}) <= 1, "one delivery, one seq"
    return {c.sku: c.available for c in changes}


def test_availability_follows_receives_holds_sales_and_expiries(shop: Shop, clock: Clock) -> None:
    inv = shop.inv
    stock(inv)
    first = inv.availability("mkt", "web")
    assert avail(first) == {"A": 13, "B": 4}  # the first call: every SKU (web buffer 1)
    assert inv.availability("mkt", "web") == first  # not acked: again
    assert inv.ack_availability("mkt", "web", first[0].seq) == first[0].seq

    assert inv.availability("mkt", "web") == []  # nothing changed
    inv.hold(Order("o1", channel="web", lines=[Line("A", 2, "s1")]), ttl=60)
    inv.sell("s1", [("B", 1)])
    inv.receive("C", "s2", 3)
    inv.set_safety("A", "s2", 0)  # touches A, moves nothing
    ch = inv.availability("mkt", "web")
    assert avail(ch) == {"A": 11, "B": 3, "C": 2}
    assert all(c.channel == "web" and c.seq == inv.head for c in ch)
    inv = shop.restart()  # a crash before the ack: the same changes again
    assert avail(inv.availability("mkt", "web")) == {"A": 11, "B": 3, "C": 2}
    inv.ack_availability("mkt", "web", ch[0].seq)
    inv = shop.restart()  # after the ack: nothing is resent
    assert inv.availability("mkt", "web") == []

    clock.advance(120)  # o1 expires: availability journals it, like any query
    exp = inv.availability("mkt", "web")
    assert avail(exp) == {"A": 13}
    inv.ack_availability("mkt", "web", exp[0].seq)
    inv.hold(Order("o2", channel="market", lines=[Line("B", 1, "s1")]), ttl=600)
    assert avail(inv.availability("mkt", "market")) == {"A": 10, "B": 3, "C": 0}  # first: all
    assert avail(inv.availability("mkt", "web")) == {"B": 2}


def test_a_change_that_goes_back_before_the_ack_is_not_sent(shop: Shop) -> None:
    inv = shop.inv
    stock(inv)
    inv.ack_availability("mkt", "web", inv.availability("mkt", "web")[0].seq)
    r = inv.hold(Order("o1", channel="web", lines=[Line("B", 2, "s1")]), ttl=600)
    assert avail(inv.availability("mkt", "web")) == {"B": 2}
    inv.release(r.id)
    assert inv.availability("mkt", "web") == []  # back to what was acknowledged
    assert inv.cursor("mkt", "web") == inv.head  # moved on by itself


def test_an_ack_of_a_replaced_delivery_changes_nothing(shop: Shop) -> None:
    inv = shop.inv
    stock(inv)
    old = inv.availability("mkt", "web")
    inv.receive("B", "s1", 1)
    new = inv.availability("mkt", "web")  # replaces the first delivery
    assert inv.ack_availability("mkt", "web", old[0].seq) == 0
    assert inv.availability("mkt", "web") == new
    assert inv.ack_availability("mkt", "web", new[0].seq) == new[0].seq
    assert inv.ack_availability("mkt", "web", new[0].seq) == new[0].seq  # a retry
    assert inv.availability("mkt", "web") == []


# -- bad input ---------------------------------------------------------------------------

BAD: list[tuple[str, Callable[[Any], Any], type[Exception], str]] = [  # Any: wrong types on purpose
    ("empty consumer", lambda inv: inv.feed(""), errors.InvalidInput, "consumer"),
    ("int consumer", lambda inv: inv.feed(7), errors.InvalidInput, "consumer"),
    ("control char", lambda inv: inv.feed("a\nb"), errors.InvalidInput, "consumer"),
    ("long consumer", lambda inv: inv.feed("x" * 201), errors.InvalidInput, "consumer"),
    ("limit 0", lambda inv: inv.feed("erp", limit=0), errors.InvalidInput, "limit"),
    ("limit -1", lambda inv: inv.feed("erp", limit=-1), errors.InvalidInput, "limit"),
    ("limit float", lambda inv: inv.feed("erp", limit=2.0), errors.InvalidInput, "limit"),
    ("limit str", lambda inv: inv.feed("erp", limit="5"), errors.InvalidInput, "limit"),
    ("limit bool", lambda inv: inv.feed("erp", limit=True), errors.InvalidInput, "limit"),
    ("limit huge", lambda inv: inv.feed("erp", limit=10**6), errors.InvalidInput, "limit"),
    ("wait -1", lambda inv: inv.feed("erp", wait=-1), errors.InvalidInput, "wait"),
    ("wait nan", lambda inv: inv.feed("erp", wait=float("nan")), errors.InvalidInput, "wait"),
    ("wait str", lambda inv: inv.feed("erp", wait="1"), errors.InvalidInput, "wait"),
    ("wait long", lambda inv: inv.feed("erp", wait=1e9), errors.InvalidInput, "wait"),
    ("ack past head", lambda inv: inv.ack("erp", 10_000), errors.InvalidInput, "seq"),
    ("ack -1", lambda inv: inv.ack("erp", -1), errors.InvalidInput, "seq"),
    ("ack float", lambda inv: inv.ack("erp", 3.0), errors.InvalidInput, "seq"),
    ("ack str", lambda inv: inv.ack("erp", "3"), errors.InvalidInput, "seq"),
    ("ack None", lambda inv: inv.ack("erp", None), errors.InvalidInput, "seq"),
    ("ack bool", lambda inv: inv.ack("erp", True), errors.InvalidInput, "seq"),
    ("ack consumer", lambda inv: inv.ack("", 1), errors.InvalidInput, "consumer"),
    ("cursor consumer", lambda inv: inv.cursor(None), errors.InvalidInput, "consumer"),
    ("avail consumer", lambda inv: inv.availability("", "web"), errors.InvalidInput, "consumer"),
    ("avail channel", lambda inv: inv.availability("mkt", ""), errors.InvalidInput, "channel"),
    ("avail unknown", lambda inv: inv.availability("mkt", "tv"), errors.UnknownChannel, "channel"),
    (
        "ack av undelivered",
        lambda inv: inv.ack_availability("mkt", "web", inv.head),
        errors.InvalidInput,
        "seq",
    ),
    (
        "ack av far",
        lambda inv: inv.ack_availability("mkt", "web", 10**6),
        errors.InvalidInput,
        "seq",
    ),
    ("ack av -1", lambda inv: inv.ack_availability("mkt", "web", -1), errors.InvalidInput, "seq"),
    ("ack av str", lambda inv: inv.ack_availability("mkt", "web", "x"), errors.InvalidInput, "seq"),
    ("ack av ch", lambda inv: inv.ack_availability("mkt", 3, 1), errors.InvalidInput, "channel"),
]


@pytest.mark.parametrize(("case", "call", "error", "field"), BAD, ids=[b[0] for b in BAD])
def test_bad_input_is_refused_and_changes_nothing(
    shop: Shop,
    case: str,
    call: Callable[[Inventory], Any],
    error: type[Exception],
    field: str,
) -> None:
    inv = shop.inv
    stock(inv)
    inv.ack("erp", 3)
    inv.ack_availability("mkt", "web", inv.availability("mkt", "web")[0].seq)
    inv.receive("B", "s1", 1)  # a change not yet delivered
    before = (inv.history(), inv.cursor("erp"), inv.cursor("mkt", "web"), inv.head)
    with pytest.raises(error) as exc:
        call(inv)
    assert getattr(exc.value, "field", None) == field
    assert field in str(exc.value)
    assert (inv.history(), inv.cursor("erp"), inv.cursor("mkt", "web"), inv.head) == before
    assert [e.seq for e in inv.feed("erp")] == list(range(4, inv.head + 1))
    assert avail(inv.availability("mkt", "web")) == {"B": 5}


def test_wait_sees_a_row_that_commits_right_after_the_first_look(
    shop: Shop, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A commit landing between the feed's first read (nothing) and its
    wait is delivered, not missed until the wait ends."""
    from omnistock.feeds import journal

    inv = shop.inv
    stock(inv)
    inv.ack("erp", inv.head)
    other = shop.second()
    first = journal.rows_after
    calls: list[int] = []

    def look_then_commit(store: Any, since: int, limit: int) -> list[Any]:
        rows = first(store, since, limit)
        if not calls:
            calls.append(since)
            other.receive("E", "s1", 1)  # lands just after the first look
        return rows

    monkeypatch.setattr(journal, "rows_after", look_then_commit)
    got = inv.feed("erp", wait=2)
    assert calls and [(e.kind, e.sku) for e in got] == [("received", "E")]
