"""The PostgreSQL store's schema-3 guarantees, on a real server: the safe
horizon (seqs commit out of order, readers never skip one), holes (a seq
taken by an append that never committed), guards checked by the database
against the counter tables, and journal time that never goes backwards.

Seqs are taken from a sequence inside the append function, before COMMIT,
so an append still in flight is made deterministic here by running the
function on a raw connection inside an explicit transaction and deciding
when it ends. Nothing here measures time: waits are bounded loops that
fail with a message when their bound passes.

Needs a server at ``OMNISTOCK_PG_DSN``; skipped (saying why) without one,
failed instead under ``OMNISTOCK_REQUIRE_PG=1``. Every store lives in a
fresh schema, dropped afterwards.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

psycopg = pytest.importorskip("psycopg", reason="psycopg 3 is not installed (omnistock[postgres])")

from conftest import PG_DSN as DSN  # noqa: E402
from omnistock import Inventory, Location  # noqa: E402
from omnistock.errors import ConcurrencyConflict, StorageError  # noqa: E402
from omnistock.storage.base import Commit, Conditions, NewRow, StoreCounters  # noqa: E402
from omnistock.storage.postgres import PostgresStore  # noqa: E402
from omnistock.storage.postgres import tail as _tail  # noqa: E402
from omnistock.storage.postgres.payload import append_payload  # noqa: E402

pytestmark = pytest.mark.postgres  # skipped without a server, failed in CI (conftest)

T = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
SETTLE_AFTER: float = getattr(_tail, "SETTLE_AFTER", 0.05)
"""How long a reader lets a gap stay missing before it asks whether it settled."""
PROOF_BOUND = 30.0
"""Seconds a test polls for a hole to be settled (a reader asks only once a
gap has stayed missing for ``SETTLE_AFTER``) before it fails."""


@pytest.fixture
def schema(pg_schema: str) -> str:
    """A fresh schema name, dropped afterwards (conftest's ``pg_schema``)."""
    return pg_schema


@pytest.fixture
def open_pg(schema: str) -> Iterator[Callable[[], PostgresStore]]:
    """Opens PostgresStores on ``schema`` (each call a new one, its own
    connections); all closed afterwards."""
    stores: list[PostgresStore] = []

    def make() -> PostgresStore:
        store = PostgresStore(DSN, schema=schema)
        stores.append(store)
        return store

    yield make
    for store in stores:
        store.close()


@pytest.fixture
def raw() -> Iterator[Callable[[], Any]]:
    """Opens raw psycopg connections (not autocommit: each statement joins
    the open transaction until commit/rollback); closed afterwards."""
    conns: list[Any] = []

    def make() -> Any:
        conn = psycopg.connect(DSN)
        conns.append(conn)
        return conn

    yield make
    for conn in conns:
        conn.close()


def _ident(name: str) -> Any:
    return psycopg.sql.Identifier(name)


def row(sku: str | None, qty: int = 1, ts: int = 1, ref: str | None = None) -> NewRow:
    return (ts, "received", sku, "L1", qty, ref, None, None, None)


def payload(rows: Sequence[NewRow], cond: Conditions | None = None) -> str:
    """The append function's argument for ``rows`` under ``cond`` (none by
    default), built as ``PostgresStore.append_guarded`` builds it."""
    return append_payload([Commit(tuple(rows))], cond or Conditions())


def append_in_flight(conn: Any, schema: str, rows: Sequence[NewRow]) -> list[int]:
    """Call ``<schema>.append`` on ``conn`` inside its open transaction and
    return the seqs it took; the caller commits or rolls back."""
    q = psycopg.sql.SQL("SELECT {}.append(%s::jsonb)").format(_ident(schema))
    got = conn.execute(q, (payload(rows),)).fetchone()
    return [int(x) for x in got[0]]


def seqs(rows: Sequence[Any]) -> list[int]:
    return [r[0] for r in rows]


def sql(schema: str, stmt: str, *params: Any) -> list[Any]:
    """``stmt`` with ``{s}`` the schema, on a fresh autocommit connection."""
    with psycopg.connect(DSN, autocommit=True) as conn:
        cur = conn.execute(psycopg.sql.SQL(stmt).format(s=_ident(schema)), params)
        return cur.fetchall() if cur.description else []


def tail_until(store: PostgresStore, horizon: int) -> list[Any]:
    """``store.tail(0)`` once its horizon reaches ``horizon`` (a hole
    below it proven); fails after ``PROOF_BOUND`` seconds."""
    deadline = time.monotonic() + PROOF_BOUND
    while True:
        rows, reached = store.tail(0)
        if reached >= horizon:
            return rows
        if time.monotonic() > deadline:
            pytest.fail(f"the horizon stayed at {reached}, below {horizon}")
        time.sleep(0.01)


# -- a: catch-up never skips a row that commits late -------------------------------------


def test_readers_stop_before_an_append_in_flight(
    open_pg: Callable[[], PostgresStore], schema: str, raw: Callable[[], Any]
) -> None:
    s = open_pg()
    assert s.append([Commit((row("A"),))], 0) == 1
    late = raw()
    (g,) = append_in_flight(late, schema, [row("late", ts=2)])
    assert g == 2
    after = [s.append([Commit((row("B", ts=3),))], 0), s.append([Commit((row("C", ts=4),))], 0)]
    assert after == [3, 4]
    assert s.head() == 4  # the sequence: an upper bound, not what readers see

    # Rows 3 and 4 are committed and visible, but 2 may still commit: every
    # reader stops at 1, whatever it asks for.
    assert sql(schema, "SELECT seq FROM {s}.journal ORDER BY seq") == [(1,), (3,), (4,)]
    rows, horizon = s.tail(0)
    assert (seqs(rows), horizon) == ([1], 1)
    assert s.tail(1) == ([], 1)
    assert seqs(s.read()) == [1]
    assert seqs(s.read(0, 4)) == [1]
    assert [r[0][0] for r in s.read_chain()] == [1]
    assert s.holes() == set()
    other = open_pg()  # a second reader, with no gap seen before
    assert other.tail(0)[1] == 1
    assert s.wait(1, 0.2) is False  # the horizon cannot pass 1 while 2 is in flight

    late.commit()
    rows, horizon = s.tail(1)
    assert (seqs(rows), horizon) == ([2, 3, 4], 4)
    assert [r[3] for r in rows] == ["late", "B", "C"]
    assert seqs(s.read()) == [1, 2, 3, 4]
    assert seqs(other.read()) == [1, 2, 3, 4]
    assert s.wait(1, 5.0) is True
    assert s.holes() == set()
    assert sql(schema, "SELECT count(*) FROM {s}.holes") == [(0,)]


def test_catch_up_in_batches_stops_at_the_gap(
    open_pg: Callable[[], PostgresStore], schema: str, raw: Callable[[], Any]
) -> None:
    """A gap far past the first batch: the reader pages up to it and no further."""
    s = open_pg()
    s.READ_BATCH = 4
    s.append([Commit(tuple(row(f"s{i}", ts=i) for i in range(10)))], 0)
    late = raw()
    assert append_in_flight(late, schema, [row("late", ts=20)]) == [11]
    s.append([Commit(tuple(row(f"t{i}", ts=30) for i in range(6)))], 0)
    rows, horizon = s.tail(0)
    assert (seqs(rows), horizon) == (list(range(1, 11)), 10)
    assert seqs(s.read(3)) == list(range(4, 11))
    late.commit()
    rows, horizon = s.tail(horizon)
    assert (seqs(rows), horizon) == (list(range(11, 18)), 17)


def test_a_second_inventory_folds_a_late_commit(
    open_pg: Callable[[], PostgresStore], schema: str
) -> None:
    """Three Inventories on one journal. ``late`` appends a receipt whose
    transaction stays open (a BEGIN sent on its write connection first),
    ``writer`` appends after it, and ``reader`` catches up: it sees a
    journal prefix (neither receipt) until the late one commits, then both,
    nothing skipped."""
    clock = lambda: T  # noqa: E731
    writer = Inventory(store=open_pg(), clock=clock)
    writer.add_location(Location("S"))
    writer.receive("X", "S", 1)
    writer.receive("Y", "S", 1)
    reader = Inventory(store=open_pg(), clock=clock)
    late = Inventory(store=open_pg(), clock=clock)
    assert reader.available("X", "S") == 1 and late.head == 3
    late_conn = late.store._wconn  # type: ignore[attr-defined]
    late_conn.execute("BEGIN")  # the append runs inside it
    try:
        late.receive("X", "S", 5)  # seq 4, not committed
        writer.receive("Y", "S", 7)  # seq 5, committed (another position: no row lock)
        assert reader.store.head() == 5
        assert reader.available("Y", "S") == 1  # behind the horizon: not folded yet
        assert reader.available("X", "S") == 1
        assert reader.head == 3
    finally:
        late_conn.execute("COMMIT")
    assert reader.refresh() == 5
    assert (reader.available("X", "S"), reader.available("Y", "S")) == (6, 8)
    assert [e.seq for e in reader.history()] == [1, 2, 3, 4, 5]
    assert writer.refresh() == 5 and writer.available("X", "S") == 6
    report = reader.check()
    assert report.ok, report.problems
    assert reader.digest() == writer.digest() == late.digest()


def _xid(conn: Any) -> int:
    return int(str(conn.execute("SELECT pg_current_xact_id()").fetchone()[0]))


def test_readers_stop_before_an_append_in_flight_with_a_younger_xid(
    open_pg: Callable[[], PostgresStore], schema: str, raw: Callable[[], Any]
) -> None:
    """``test_readers_stop_before_an_append_in_flight``, but the append in
    flight got its transaction id *after* the one that commits a later seq
    (B's transaction has an id, e.g. from its guards, before A's append
    starts; A takes its seq first), so A's id is past every completed one:
    in no snapshot's xip. Regression: readers deciding holes from
    ``xmin``/``xmax`` recorded A's seq as a hole here and skipped its row."""
    s = open_pg()
    b, a = raw(), raw()
    _xid(b)  # B's transaction has the older id
    (seq_a,) = append_in_flight(a, schema, [row("A")])
    (seq_b,) = append_in_flight(b, schema, [row("B")])
    assert (seq_a, seq_b) == (1, 2)
    b.commit()
    for _ in range(5):  # past the moment readers ask whether a gap settled
        rows, horizon = s.tail(0)
        assert (rows, horizon) == ([], 0), f"skipped 1: read {seqs(rows)}"
        time.sleep(SETTLE_AFTER)
    assert s.holes() == set()
    a.commit()
    assert seqs(s.tail(0)[0]) == [1, 2]


def test_a_negative_since_reads_from_the_first_row(
    open_pg: Callable[[], PostgresStore], schema: str
) -> None:
    s = open_pg()
    s.append([Commit((row("A"), row("B")))], 0)
    assert seqs(s.read(-3, 1)) == [1]
    assert s.tail(-3) == (list(s.read()), 2)
    time.sleep(SETTLE_AFTER)
    assert seqs(s.read(-3)) == [1, 2]
    assert sql(schema, "SELECT seq FROM {s}.holes WHERE seq <= 0") == []


# -- b: a seq taken by an append that never committed is a hole --------------------------


def test_a_rolled_back_append_leaves_a_proven_hole(
    open_pg: Callable[[], PostgresStore], schema: str, raw: Callable[[], Any]
) -> None:
    s = open_pg()
    s.append([Commit((row("A"),))], 0)
    doomed = raw()
    assert append_in_flight(doomed, schema, [row("doomed"), row("doomed")]) == [2, 3]
    s.append([Commit((row("B"),))], 0)
    assert s.tail(0)[1] == 1  # in flight: not a hole yet
    assert s.holes() == set()
    doomed.rollback()
    rows = tail_until(s, 4)
    assert seqs(rows) == [1, 4]
    assert s.holes() == {2, 3}
    assert s.holes(2, 4) == {3}
    assert sql(schema, "SELECT seq FROM {s}.holes ORDER BY seq") == [(2,), (3,)]
    assert seqs(s.read()) == [1, 4]
    # The counters are readable again: every seq up to 4 is a row or a hole.
    counters = s.counters()
    assert counters is not None and counters.seq == 4


def test_a_recorded_hole_does_not_stop_another_reader(
    open_pg: Callable[[], PostgresStore], schema: str, raw: Callable[[], Any]
) -> None:
    s = open_pg()
    s.append([Commit((row("A"),))], 0)
    doomed = raw()
    append_in_flight(doomed, schema, [row("doomed")])
    s.append([Commit((row("B"),))], 0)
    doomed.rollback()
    rows = tail_until(s, 3)
    assert sql(schema, "SELECT seq FROM {s}.holes") == [(2,)]
    other = open_pg()  # a new reader: the hole is recorded, no need to wait on it
    assert other.tail(0) == (rows, 3)
    assert seqs(open_pg().read()) == [1, 3]


def test_check_reports_a_hole(open_pg: Callable[[], PostgresStore]) -> None:
    """An Inventory whose append never commits (its transaction rolled
    back after the append function took seq 4): the others fold around the
    hole, and ``check()`` reports it."""
    clock = lambda: T  # noqa: E731
    writer = Inventory(store=open_pg(), clock=clock)
    writer.add_location(Location("S"))
    writer.receive("X", "S", 1)
    writer.receive("Y", "S", 1)
    doomed = Inventory(store=open_pg(), clock=clock)
    assert doomed.head == 3
    conn = doomed.store._wconn  # type: ignore[attr-defined]
    conn.execute("BEGIN")  # the append runs inside it
    doomed.receive("X", "S", 5)  # takes seq 4
    writer.receive("Y", "S", 7)  # seq 5
    conn.execute("ROLLBACK")
    reader = Inventory(store=open_pg(), clock=clock)
    tail_until(reader.store, 5)  # type: ignore[arg-type]
    assert reader.refresh() == 5
    assert (reader.available("X", "S"), reader.available("Y", "S")) == (1, 8)
    assert reader.store.holes() == {4}
    report = reader.check()
    assert not report.ok
    assert any("seq 4" in p for p in report.problems), report.problems
    # Nothing but the hole: the counters and the ledger agree with the journal.
    assert [p for p in report.problems if "seq 4" not in p] == []


def test_a_hole_at_the_end_is_proven_without_waiting(
    open_pg: Callable[[], PostgresStore],
    schema: str,
    raw: Callable[[], Any],
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from omnistock.tailing import Tailing

    # Shorten the catch-up bound so this (failing) test does not sit out 10 s.
    monkeypatch.setattr(Tailing.catch_up_to, "__defaults__", (1.0,))
    inv = Inventory(store=open_pg(), clock=lambda: T)
    inv.add_location(Location("S"))
    doomed = raw()
    assert append_in_flight(doomed, schema, [row("doomed")]) == [2]
    doomed.rollback()
    with caplog.at_level(logging.WARNING, logger="omnistock"):
        report = inv.check()
    assert not [r for r in caplog.records if "catch-up did not reach" in r.getMessage()]
    assert inv.store.holes() == {2}
    assert any("seq 2" in p for p in report.problems), report.problems


# -- c: guards, checked by the database against the counter tables -----------------------

BASE = Conditions(
    positions=(("A", "S", (5, 2, 0, 0), 0, None),),
    reservations=(("r1", None, ("held", "lines-2", 1000)),),
    usage=(("c|web|A", 3, 10),),
    claims=("t1",),
    network=("", "net-1"),
)
"""What the store holds before each case: A at S (5 holdable, 2 reserved),
reservation r1 held (its lines' digest ``lines-2``) until 1000, 3 units of
A on web (cap 10), transfer id t1 claimed, network digest net-1."""

BASE_COUNTERS = StoreCounters(
    seq=1,
    positions={("A", "S"): (5, 2, 0, 0)},
    reservations={"r1": ("held", "lines-2", 1000)},
    usage={"c|web|A": 3},
    network="net-1",
)

# Changes that hold in every case, made alongside the failing condition: a
# refusal must undo them too.
PASSING = Conditions(
    positions=(("B", "S", (4, 0, 0, 0), None, None),),
    usage=(("p|S|2024-05-01", 1, None),),
    claims=("t2",),
)

REFUSED: list[tuple[str, Conditions, str | None]] = [
    (
        "reserved would pass holdable",
        Conditions(positions=(("A", "S", (0, 4, 0, 0), 0, None),)),
        None,
    ),
    (
        "free checked after every delta (holdable falls)",
        Conditions(positions=(("A", "S", (-4, 0, 0, 0), 0, None),)),
        None,
    ),
    (
        "a hold that did not fit where it stood (stock added after it)",
        Conditions(positions=(("A", "S", (3, 4, 0, 0), -3, None),)),
        None,
    ),
    (
        "position figures not as planned",
        Conditions(positions=(("A", "S", (1, 0, 0, 0), None, (4, 2, 0, 0)),)),
        None,
    ),
    (
        "position planned as absent but present",
        Conditions(positions=(("A", "S", (1, 0, 0, 0), None, (0, 0, 0, 0)),)),
        None,
    ),
    (
        "reservation lines not as planned",
        Conditions(
            reservations=(("r1", ("held", "lines-3", 1000), ("committed", "lines-3", None)),)
        ),
        None,
    ),
    (
        "reservation state not as planned",
        Conditions(reservations=(("r1", ("committed", "lines-2", None), None),)),
        None,
    ),
    (
        "reservation expiry not as planned",
        Conditions(reservations=(("r1", ("held", "lines-2", 999), ("held", "lines-2", 2000)),)),
        None,
    ),
    (
        "reservation planned as absent exists",
        Conditions(reservations=(("r1", None, ("held", "lines-1", 1000)),)),
        None,
    ),
    (
        "reservation planned as present is absent",
        Conditions(reservations=(("r9", ("held", "lines-1", 1000), None),)),
        None,
    ),
    (
        "usage over its limit",
        Conditions(usage=(("c|web|A", 8, 10),)),
        None,
    ),
    ("id claimed before", Conditions(claims=("t1",)), None),
    ("network changed", Conditions(network=("net-0", "net-2")), None),
    ("idempotency key used before", Conditions(), "k-base"),
]


def _conditions(*parts: Conditions) -> Conditions:
    """The union of ``parts``, each field sorted as a caller sorts it."""
    nets = [p.network for p in parts if p.network is not None]
    return Conditions(
        positions=tuple(sorted(x for p in parts for x in p.positions)),
        reservations=tuple(sorted((x for p in parts for x in p.reservations), key=str)),
        usage=tuple(sorted(x for p in parts for x in p.usage)),
        claims=tuple(sorted(x for p in parts for x in p.claims)),
        network=nets[0] if nets else None,
    )


def _based(s: PostgresStore) -> None:
    assert s.append_guarded([Commit((row("A", 5),), key="k-base", fingerprint="f")], BASE) == [1]
    assert s.counters() == BASE_COUNTERS


def _claims(schema: str) -> list[str]:
    return [r[0] for r in sql(schema, "SELECT id FROM {s}.claims ORDER BY id")]


@pytest.mark.parametrize(("case", "failing", "key"), REFUSED, ids=[c[0] for c in REFUSED])
def test_a_failing_guard_conflicts_and_writes_nothing(
    open_pg: Callable[[], PostgresStore],
    schema: str,
    case: str,
    failing: Conditions,
    key: str | None,
) -> None:
    s = open_pg()
    _based(s)
    before = list(s.read())
    commit = Commit((row("B", 4), row("A", 0)), key=key or "k-new", fingerprint="f2", result="r")
    with pytest.raises(ConcurrencyConflict):
        s.append_guarded([commit], _conditions(PASSING, failing))
    assert list(s.read()) == before
    assert s.counters() == BASE_COUNTERS
    assert _claims(schema) == ["t1"]
    assert s.lookup_key("k-new") is None
    rec = s.lookup_key("k-base")
    assert rec is not None and (rec.fingerprint, rec.seq) == ("f", 1)
    # A refusal is decided before any seq is taken: no hole behind it.
    assert s.head() == 1
    assert s.append_guarded([Commit((row("C"),))], PASSING) == [2]
    assert s.holes() == set()


def test_a_passing_guarded_append_updates_the_counters_exactly(
    open_pg: Callable[[], PostgresStore], schema: str
) -> None:
    s = open_pg()
    _based(s)
    cond = _conditions(
        PASSING,
        Conditions(
            positions=(
                ("A", "S", (0, 3, 0, 0), 0, (5, 2, 0, 0)),  # reserved reaches holdable
                ("A", "W", (9, 0, 1, 2), None, (0, 0, 0, 0)),  # new, planned as absent
            ),
            reservations=(
                ("r1", ("held", "lines-2", 1000), ("committed", "lines-2", None)),
                ("r2", None, ("held", "lines-3", 5000)),
            ),
            usage=(("c|web|A", 7, 10),),  # exactly at the limit
            claims=("t3",),
            network=("net-1", "net-2"),
        ),
    )
    commits = [
        Commit((row("A", 0), row("A", 0)), key="k1", fingerprint="f1", result="r1"),
        Commit((row("B", 4),), key="k2", fingerprint="f2"),
    ]
    assert s.append_guarded(commits, cond) == [2, 3, 4]
    assert s.counters() == StoreCounters(
        seq=4,
        positions={("A", "S"): (5, 5, 0, 0), ("A", "W"): (9, 0, 1, 2), ("B", "S"): (4, 0, 0, 0)},
        reservations={"r1": ("committed", "lines-2", None), "r2": ("held", "lines-3", 5000)},
        usage={"c|web|A": 10, "p|S|2024-05-01": 1},
        network="net-2",
    )
    assert _claims(schema) == ["t1", "t2", "t3"]
    assert [s.lookup_key(k).seq for k in ("k1", "k2")] == [3, 4]  # type: ignore[union-attr]
    # Closing a reservation removes it; a position back at zero is not reported.
    s.append_guarded(
        [Commit((row("A", 0),))],
        Conditions(
            positions=(
                ("A", "W", (-9, 0, -1, -2), None, (9, 0, 1, 2)),
                ("B", "S", (1, 4, 0, 0), -1, None),  # 4 held in 4 free, then 1 added
            ),
            reservations=(("r2", ("held", "lines-3", 5000), None),),
            usage=(("c|web|A", -10, None),),
        ),
    )
    got = s.counters()
    assert got is not None
    assert got.positions == {("A", "S"): (5, 5, 0, 0), ("B", "S"): (5, 4, 0, 0)}
    assert got.reservations == {"r1": ("committed", "lines-2", None)}
    assert got.usage == {"p|S|2024-05-01": 1}


def test_two_writers_racing_for_one_reservation_exactly_one_wins(
    open_pg: Callable[[], PostgresStore],
) -> None:
    """Both planned against r1 as held for 2: the database serialises them
    on its row and the second finds it changed."""
    s, t = open_pg(), open_pg()
    _based(s)
    barrier = threading.Barrier(2, timeout=30)
    outcome: dict[str, str] = {}

    def commit(name: str, store: PostgresStore, after: Any) -> None:
        barrier.wait()
        try:
            store.append_guarded(
                [Commit((row("A", 0, ref=name),))],
                Conditions(reservations=(("r1", ("held", "lines-2", 1000), after),)),
            )
            outcome[name] = "won"
        except ConcurrencyConflict:
            outcome[name] = "lost"

    threads = [
        threading.Thread(target=commit, args=("commit", s, ("committed", "lines-2", None))),
        threading.Thread(target=commit, args=("release", t, ("released", "lines-0", None))),
    ]
    for th in threads:
        th.start()
    for th in threads:
        th.join(60)
    assert sorted(outcome.values()) == ["lost", "won"]
    winner = next(k for k, v in outcome.items() if v == "won")
    counters = s.counters()
    assert counters is not None
    assert counters.reservations["r1"][0] == {"commit": "committed", "release": "released"}[winner]
    assert [r[6] for r in s.read()] == [None, winner]
    assert s.head() == 2  # the loser took no seq


def test_a_taken_reservation_id_is_a_conflict_that_names_it(
    open_pg: Callable[[], PostgresStore],
) -> None:
    """A new reservation whose id another writer took: the database's
    unique violation is the port's conflict, naming the id, and nothing is
    written (no seq either)."""
    s = open_pg()
    _based(s)
    taken = Conditions(reservations=(("r1", None, ("held", "lines-1", 1000)),))
    with pytest.raises(ConcurrencyConflict, match=r"reservation id .*r1"):
        s.append_guarded([Commit((row("A", 0),))], taken)
    assert s.counters() == BASE_COUNTERS
    assert s.head() == 1


def test_two_writers_creating_one_position_both_land(
    open_pg: Callable[[], PostgresStore], schema: str
) -> None:
    """The first append to a new position inserts its row; a second one,
    planned blind to it, waits on that insert and adds to the row once it
    commits: neither fails and no unit is lost."""
    s, t = open_pg(), open_pg()
    _based(s)
    body = payload([row("N", 5)], Conditions(positions=(("N", "S", (5, 0, 0, 0), None, None),)))
    q = psycopg.sql.SQL("SELECT {}.append(%s::jsonb)").format(_ident(schema))
    done = threading.Event()
    with psycopg.connect(DSN) as first:  # its transaction stays open
        first.execute(q, (body,))

        def second() -> None:
            t.append_guarded(
                [Commit((row("N", 3),))],
                Conditions(positions=(("N", "S", (3, 0, 0, 0), 0, None),)),
            )
            done.set()

        th = threading.Thread(target=second)
        th.start()
        assert not done.wait(0.5), "the second append did not wait for the first's row"
        first.commit()
        th.join(30)
    assert done.is_set()
    counters = s.counters()
    assert counters is not None
    assert counters.positions[("N", "S")] == (8, 0, 0, 0)


# -- d: journal time never goes backwards along the seqs ---------------------------------


def test_times_never_go_backwards(open_pg: Callable[[], PostgresStore]) -> None:
    s, skewed = open_pg(), open_pg()
    s.append([Commit((row("A", ts=100), row("A", ts=50)))], 0)
    skewed.append([Commit((row("B", ts=10),))], 0)  # a writer whose clock runs behind
    s.append([Commit((row("A", ts=100), row("A", ts=150), row("A", ts=120)))], 0)
    skewed.append([Commit((row("B", ts=140),))], 0)
    got = [(r[0], r[1]) for r in s.read()]
    assert got == [(1, 100), (2, 100), (3, 100), (4, 100), (5, 150), (6, 150), (7, 150)]
    times = [t for _, t in got]
    assert times == sorted(times)
    assert (s.seq_at(99), s.seq_at(100), s.seq_at(149), s.seq_at(150)) == (0, 4, 4, 7)


def test_times_never_go_backwards_between_skewed_inventories(
    open_pg: Callable[[], PostgresStore],
) -> None:
    ahead = Inventory(store=open_pg(), clock=lambda: T)
    behind = Inventory(store=open_pg(), clock=lambda: T - timedelta(hours=1))
    ahead.add_location(Location("S"))
    ahead.receive("A", "S", 5)
    behind.refresh()
    behind.receive("A", "S", 7)  # its clock says 11:00; the journal says 12:00
    behind.receive("B", "S", 1)
    entries = ahead.history()
    assert [e.seq for e in entries] == [1, 2, 3, 4]
    assert [e.at for e in entries] == [T] * 4
    assert ahead.at(T - timedelta(seconds=1)).head == 0
    assert ahead.at(T).available("A", "S") == 12
    assert ahead.check().ok and behind.check().ok


def test_a_process_that_only_writes_keeps_few_rows_ahead(
    open_pg: Callable[[], PostgresStore], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two writers interleave, so each one's rows are folded ahead of its
    head (the other's seqs sit between). Neither ever reads; once more than
    ``AHEAD_LIMIT`` of its rows are ahead it catches up on its own: the set
    stays bounded, its head moves, and its ledger equals a replay."""
    from omnistock import Line, Order, tailing

    monkeypatch.setattr(tailing, "AHEAD_LIMIT", 8)
    clock = lambda: T  # noqa: E731
    a = Inventory(store=open_pg(), clock=clock)
    b = Inventory(store=open_pg(), clock=clock)
    a.add_location(Location("S"))
    a.receive("X", "S", 1000)
    b.receive("Y", "S", 1000)
    runner_a = a._runner  # the rows ahead are the runner's, not the face's
    assert runner_a.tailing is not None
    for i in range(40):
        a.hold(Order(f"a{i}", lines=[Line("X", 1, "S")]))
        b.hold(Order(f"b{i}", lines=[Line("Y", 1, "S")]))
        assert len(runner_a.tailing.ahead) <= 9
    assert runner_a.state.head > 40  # it caught up past b's rows without a read
    report = a.check()
    assert report.ok, report.problems
    assert a.digest() == b.digest()


def test_an_error_inside_an_append_never_leaves_the_clock_locked(
    open_pg: Callable[[], PostgresStore], schema: str
) -> None:
    """The seq/time section holds a session advisory lock for microseconds;
    a cancel inside it would leave it held by that session and block every
    writer. After any failed append the store releases its session's
    advisory locks. Simulated: the lock is taken by hand on the writer's
    session (as a cancel inside the section would leave it), then an append
    of that writer fails a guard; another store can append at once."""
    from omnistock.storage.postgres.schema import CLOCK_NAMESPACE, Spec

    a, b = open_pg(), open_pg()
    a.append([Commit((row("X"),))], 0)
    key = Spec(schema, 16, "").clock_key
    conn = a._wconn  # type: ignore[attr-defined]
    conn.execute("SELECT pg_advisory_lock(%s, %s)", (CLOCK_NAMESPACE, key))
    bad = Conditions(reservations=(("nope", ("held", "x", None), None),))
    with pytest.raises(ConcurrencyConflict):
        a.append_guarded([Commit((row("X"),))], bad)
    done: list[list[int]] = []
    t = threading.Thread(
        target=lambda: done.append(b.append_guarded([Commit((row("Y"),))], Conditions()))
    )
    t.start()
    t.join(10)
    assert done and len(done[0]) == 1, "another writer is still blocked on the clock lock"


def _blocked_append(store: PostgresStore) -> tuple[threading.Thread, list[Any]]:
    """``store`` appending one row in a thread while the clock lock (taken
    by the caller on another session) makes it wait; the thread's outcome
    (seqs or the exception) lands in the returned list."""
    out: list[Any] = []

    def run() -> None:
        try:
            out.append(store.append_guarded([Commit((row("B"),))], Conditions()))
        except BaseException as e:  # the outcome under test
            out.append(e)

    t = threading.Thread(target=run)
    t.start()
    return t, out


def _waiting_pid(schema: str, bound: float = 10.0) -> int:
    """The backend of the append waiting on the clock lock, once it waits."""
    end = time.monotonic() + bound
    while time.monotonic() < end:
        got = sql(
            schema,
            "SELECT pid FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE %s",
            f"%{schema}%append%",
        )
        if got:
            return int(got[0][0])
        time.sleep(0.01)
    raise AssertionError(f"no append waited on the clock lock within {bound} s")


@pytest.mark.parametrize("how", ["cancel", "terminate"])
def test_an_append_cancelled_or_cut_off_reports_it_and_the_store_goes_on(
    open_pg: Callable[[], PostgresStore], schema: str, raw: Callable[[], Any], how: str
) -> None:
    """The append is called by name at the protocol level (``calling.py``).
    Cancelled on the server (a statement timeout, an operator) or its
    backend terminated (a failover) while it waits: the call raises
    ``StorageError`` naming what happened, nothing is written, and the same
    store's next append works (on a new connection, prepared again, after
    a termination)."""
    from omnistock.storage.postgres.schema import CLOCK_NAMESPACE, Spec

    s = open_pg()
    assert s.append_guarded([Commit((row("A"),))], Conditions()) == [1]
    holder = raw()
    holder.execute(
        "SELECT pg_advisory_lock(%s, %s)", (CLOCK_NAMESPACE, Spec(schema, 16, "").clock_key)
    )
    t, out = _blocked_append(s)
    pid = _waiting_pid(schema)
    fn = "pg_cancel_backend" if how == "cancel" else "pg_terminate_backend"
    sql(schema, f"SELECT {fn}(%s)", pid)
    t.join(10)
    assert not t.is_alive(), "the append did not return after its backend was stopped"
    holder.execute("SELECT pg_advisory_unlock_all()")
    holder.commit()
    (err,) = out
    assert isinstance(err, StorageError), err
    # A cancel is reported as such; a lost connection cannot tell whether
    # the append landed, and says so (here it had not: it waited on the lock).
    assert ("QueryCanceled" if how == "cancel" else "may or may not have been written") in str(err)
    assert sql(schema, "SELECT count(*) FROM {s}.journal") == [(1,)]
    assert s.append_guarded([Commit((row("C"),))], Conditions())[0] >= 2
    assert sql(schema, "SELECT sku FROM {s}.journal ORDER BY seq") == [("A",), ("C",)]


def test_ctrl_c_during_an_append_cancels_it_on_the_server(
    open_pg: Callable[[], PostgresStore], schema: str, raw: Callable[[], Any]
) -> None:
    """A KeyboardInterrupt while the append waits for the server (a till
    operator's Ctrl-C): the statement is cancelled on the server, not left
    running to commit behind the caller's back; the interrupt reaches the
    caller; the store's next append works."""
    import _thread

    from omnistock.storage.postgres.schema import CLOCK_NAMESPACE, Spec

    s = open_pg()
    s.append_guarded([Commit((row("A"),))], Conditions())
    holder = raw()
    holder.execute(
        "SELECT pg_advisory_lock(%s, %s)", (CLOCK_NAMESPACE, Spec(schema, 16, "").clock_key)
    )
    interrupted = False

    def interrupt() -> None:
        _waiting_pid(schema)
        _thread.interrupt_main()

    t = threading.Thread(target=interrupt)
    t.start()
    try:
        s.append_guarded([Commit((row("B"),))], Conditions())
    except KeyboardInterrupt:
        interrupted = True
    t.join(10)
    assert interrupted, "the append returned instead of being interrupted"
    waiting = sql(
        schema,
        "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE %s",
        f"%{schema}%append%",
    )
    holder.execute("SELECT pg_advisory_unlock_all()")
    holder.commit()
    assert waiting == [(0,)], "the interrupted append still waits on the server"
    assert sql(schema, "SELECT sku FROM {s}.journal ORDER BY seq") == [("A",)]
    assert len(s.append_guarded([Commit((row("C"),))], Conditions())) == 1
    assert sql(schema, "SELECT sku FROM {s}.journal ORDER BY seq") == [("A",), ("C",)]


@pytest.mark.parametrize("reset", ["DEALLOCATE omnistock_append", "DISCARD ALL"])
def test_an_append_whose_statement_was_deallocated_prepares_it_again(
    open_pg: Callable[[], PostgresStore], schema: str, reset: str
) -> None:
    """The append's prepared statement dropped behind the store's back, on
    its own connection (a pooler's ``DISCARD ALL`` between clients, an
    operator): the next append prepares it again and lands once."""
    s = open_pg()
    assert s.append_guarded([Commit((row("A"),))], Conditions()) == [1]
    s._wconn.execute(reset)  # type: ignore[attr-defined]
    assert s.append_guarded([Commit((row("B"),))], Conditions()) == [2]
    assert s.append_guarded([Commit((row("C"),))], Conditions()) == [3]
    assert sql(schema, "SELECT sku FROM {s}.journal ORDER BY seq") == [("A",), ("B",), ("C",)]


def test_a_deallocated_append_inside_an_open_transaction_is_not_sent_twice(
    open_pg: Callable[[], PostgresStore], schema: str
) -> None:
    """Inside a transaction the failed call has aborted it: sending again
    would only fail again, so the error is raised (as ``StorageError``)
    and nothing is written."""
    s = open_pg()
    s.append_guarded([Commit((row("A"),))], Conditions())
    conn = s._wconn  # type: ignore[attr-defined]
    conn.execute("DEALLOCATE omnistock_append")
    conn.execute("BEGIN")
    with pytest.raises(StorageError, match="InvalidSqlStatementName"):
        s.append_guarded([Commit((row("B"),))], Conditions())
    conn.execute("ROLLBACK")
    assert len(s.append_guarded([Commit((row("C"),))], Conditions())) == 1
    assert sql(schema, "SELECT sku FROM {s}.journal ORDER BY seq") == [("A",), ("C",)]


def test_an_append_is_sent_in_the_connections_encoding(
    open_pg: Callable[[], PostgresStore], schema: str
) -> None:
    """A connection whose client encoding is not UTF-8 (LATIN1 here, as
    ``PGCLIENTENCODING`` would set it): text it can carry is stored as
    written; text it cannot is ``InvalidInput`` naming it, and nothing is
    written."""
    from omnistock.errors import InvalidInput

    s = open_pg()
    s._wconn.execute("SET client_encoding TO 'LATIN1'")  # type: ignore[attr-defined]
    assert s.append_guarded([Commit((row("Xü"),))], Conditions()) == [1]
    with pytest.raises(InvalidInput, match="€"):
        s.append_guarded([Commit((row("X€"),))], Conditions())
    assert sql(schema, "SELECT sku FROM {s}.journal ORDER BY seq") == [("Xü",)]


def test_a_schema_made_by_an_older_ddl_text_gets_the_current_functions(
    open_pg: Callable[[], PostgresStore], schema: str
) -> None:
    """Same version, older functions (an earlier build of version 3): the
    opener replaces them under the creation lock and records the DDL id."""
    from omnistock.storage.postgres.schema import DDL_ID

    s = open_pg()
    sql(schema, "UPDATE {s}.meta SET value = %s WHERE name = %s", "older", "ddl")
    sql(schema, "DROP FUNCTION {s}.seq_at(bigint)")
    s.close()
    again = open_pg()
    assert sql(schema, "SELECT value FROM {s}.meta WHERE name = %s", "ddl") == [(DDL_ID,)]
    assert again.seq_at(0) == 0  # the function is back
