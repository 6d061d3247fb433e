"""Low-stock thresholds and alerts (issue 16): ``set_threshold`` network-wide
or per location, ``alerts()`` with ATP and days of cover, crossings
journaled with the command that caused them (so the feed carries them),
thresholds from CSV through ``omnistock import``. Every scenario runs on
memory, SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from omnistock import Alert, HoldBatch, Inventory, Line, Location, Order, errors, importer
from omnistock.cli import main

Make = Callable[..., Inventory]


def crossed(inv: Inventory) -> list[tuple[str, str | None, int, bool, int]]:
    """Every ``threshold-crossed`` entry as (sku, location, atp, below, step)."""
    return [
        (e.sku, e.location, e.qty, e.data["below"], e.data["step"])
        for e in inv.history(kind="threshold-crossed")
        if e.sku is not None and e.data is not None
    ]


def shop(inv: Inventory) -> Inventory:
    inv.add_location(Location("A"))
    inv.add_location(Location("B"))
    inv.receive("milk", "A", 10)
    inv.receive("milk", "B", 4)
    return inv


def test_network_and_location_thresholds_alert_at_or_below(
    store_url: str, make_inventory: Make
) -> None:
    inv = shop(make_inventory(store_url))
    inv.set_threshold("milk", low=12)  # network ATP 14
    inv.set_threshold("milk", "B", low=2)  # B's ATP 4
    assert inv.alerts() == []
    assert inv.thresholds() == {("milk", None): 12, ("milk", "B"): 2}

    inv.sell("A", [("milk", 2)])  # network 12: at the mark
    assert [(a.sku, a.location, a.low, a.atp) for a in inv.alerts()] == [("milk", None, 12, 12)]
    res = inv.hold(Order("o1", lines=[Line("milk", 2, "B")]), ttl=60)  # B 2, network 10
    assert [(a.location, a.atp) for a in inv.alerts()] == [(None, 10), ("B", 2)]
    inv.release(res.id)  # B back to 4; network 12 is still at the mark
    assert [(a.location, a.atp) for a in inv.alerts()] == [(None, 12)]
    inv.receive("milk", "A", 1)
    assert inv.alerts() == []

    assert crossed(inv) == [
        ("milk", None, 12, True, 1),
        ("milk", "B", 2, True, 1),
        ("milk", "B", 4, False, -1),
        ("milk", None, 13, False, -1),
    ]
    assert inv.check().ok


def test_a_crossing_is_in_the_commit_of_the_command_that_caused_it(
    store_url: str, make_inventory: Make
) -> None:
    inv = shop(make_inventory(store_url))
    inv.set_threshold("milk", "A", low=5)
    applied = inv.sell("A", [("milk", 6)], key="till-1")
    entries = inv.history(since=applied.seq - 1)
    assert [(e.seq, e.kind) for e in entries] == [
        (applied.seq, "sold"),
        (applied.seq + 1, "threshold-crossed"),
    ]
    # the key's repeat returns the first result and journals nothing again
    head = inv.head
    assert inv.sell("A", [("milk", 6)], key="till-1") == applied
    assert inv.head == head
    assert len(crossed(inv)) == 1


def test_the_feed_carries_crossings(store_url: str, make_inventory: Make) -> None:
    inv = shop(make_inventory(store_url))
    inv.ack("alerts", inv.head)
    inv.set_threshold("milk", "B", low=3)
    inv.sell("B", [("milk", 1)])
    got = [(e.kind, e.sku, e.location, e.qty) for e in inv.feed("alerts")]
    assert got == [
        ("threshold-set", "milk", "B", 3),
        ("sold", "milk", "B", 1),
        ("threshold-crossed", "milk", "B", 3),
    ]


def test_expiry_by_the_clock_journals_the_crossing_back_up(
    store_url: str, make_inventory: Make, clock: Any
) -> None:
    inv = shop(make_inventory(store_url))
    inv.set_threshold("milk", "A", low=4)
    inv.hold(Order("cart", lines=[Line("milk", 7, "A")]), ttl=60)  # A: 3
    assert [(a.location, a.atp) for a in inv.alerts()] == [("A", 3)]
    clock.advance(61)
    assert inv.alerts() == []  # the query expired the cart, and journaled both
    assert crossed(inv) == [("milk", "A", 3, True, 1), ("milk", "A", 10, False, -1)]
    assert inv.check().ok


def test_a_threshold_on_a_sku_not_yet_stocked_alerts_and_clears(
    store_url: str, make_inventory: Make
) -> None:
    inv = shop(make_inventory(store_url))
    inv.set_threshold("cheese", low=0)
    assert [(a.sku, a.atp) for a in inv.alerts()] == [("cheese", 0)]
    with pytest.raises(errors.UnknownSku):
        inv.available("cheese")  # a threshold does not make the SKU known
    inv.receive("cheese", "A", 1)
    assert inv.alerts() == []
    inv.set_threshold("cheese", low=5)
    assert [(a.sku, a.low) for a in inv.alerts()] == [("cheese", 5)]
    inv.set_threshold("cheese", low=None)  # cleared: the alert goes with it
    assert inv.alerts() == []
    assert inv.thresholds() == {}
    assert crossed(inv)[-1] == ("cheese", None, 1, False, -1)
    assert inv.check().ok


def test_setting_the_same_mark_again_journals_nothing(store_url: str, make_inventory: Make) -> None:
    inv = shop(make_inventory(store_url))
    first = inv.set_threshold("milk", "A", low=3)
    assert inv.set_threshold("milk", "A", low=3) == first
    assert [e.kind for e in inv.history(since=first.seq - 1)] == ["threshold-set"]


def test_days_of_cover_from_sales_and_shipments_in_the_window(
    store_url: str, make_inventory: Make, clock: Any
) -> None:
    inv = shop(make_inventory(store_url))
    inv.set_threshold("milk", low=100)
    inv.set_threshold("milk", "B", low=100)
    inv.sell("A", [("milk", 3)])  # 28 days before the report: just outside the window
    clock.advance(86_400)
    inv.sell("A", [("milk", 2)])
    res = inv.commit(inv.hold(Order("o1", lines=[Line("milk", 2, "B")])).id)
    inv.ship(res.id)
    clock.advance(27 * 86_400)
    by = {a.location: a for a in inv.alerts()}
    # in the window: 2 sold at A, 2 shipped from B; network ATP 7
    assert by[None] == Alert("milk", None, 100, 7, 4 / 28, 49.0)
    assert by["B"] == Alert("milk", "B", 100, 2, 2 / 28, 28.0)
    clock.advance(86_400)  # now nothing is left in the window
    assert [a.days_of_cover for a in inv.alerts()] == [None, None]


def test_a_journal_younger_than_the_window_divides_by_its_own_age(
    store_url: str, make_inventory: Make, clock: Any
) -> None:
    inv = shop(make_inventory(store_url))  # the journal starts now
    inv.set_threshold("milk", "A", low=10)
    clock.advance(3600)
    inv.sell("A", [("milk", 4)])
    clock.advance(2 * 86_400 - 3600)  # two days after the journal's first row
    assert inv.alerts() == [Alert("milk", "A", 10, 6, 2.0, 3.0)]
    clock.advance(6 * 3600)  # no less than one day, however young
    half = Alert("milk", "A", 10, 6, 4 / 2.25, 3.4)
    assert inv.alerts() == [half]


def test_a_bulk_hold_journals_its_crossings(store_url: str, make_inventory: Make) -> None:
    inv = shop(make_inventory(store_url))
    inv.set_threshold("milk", "A", low=6)
    batch = HoldBatch(["b1", "b2"], ["milk", "milk"], ["A", "A"], [2, 3])
    result = inv.hold_many(batch)
    assert result.token is not None
    assert crossed(inv) == [("milk", "A", 5, True, 1)]
    assert inv.check().ok


def test_thresholds_survive_reopening_and_snapshots(tmp_path: Path, make_inventory: Make) -> None:
    url = f"sqlite:///{tmp_path / 'x.db'}"
    inv = shop(make_inventory(url))
    inv.set_threshold("milk", "A", low=12)
    inv.snapshot()
    inv.set_threshold("milk", low=1)
    inv.close()
    again = make_inventory(url)
    assert again.thresholds() == {("milk", "A"): 12, ("milk", None): 1}
    assert [(a.location, a.atp) for a in again.alerts()] == [("A", 10)]
    assert again.check().ok


def test_another_process_sees_the_marks_and_alerts(store_url: str, make_inventory: Make) -> None:
    if store_url == "memory://":
        pytest.skip("two processes need a durable store")
    a = shop(make_inventory(store_url))
    b = make_inventory(store_url)
    b.set_threshold("milk", "A", low=9)
    a.sell("A", [("milk", 1)])  # journals the crossing if a saw b's mark (else b's query does)
    assert [(x.sku, x.location, x.atp) for x in b.alerts()] == [("milk", "A", 9)]
    assert crossed(b) == [("milk", "A", 9, True, 1)]
    assert a.check().ok and b.check().ok


def test_a_sweep_journals_a_crossing_left_due(store_url: str, make_inventory: Make) -> None:
    if store_url == "memory://":
        pytest.skip("three processes need a durable store")
    a = shop(make_inventory(store_url))
    b = make_inventory(store_url)
    b.set_threshold("milk", "B", low=3)
    a.sell("B", [("milk", 2)])
    make_inventory(store_url).sweep()  # a worker's sweep, in a third process
    assert crossed(a) == [("milk", "B", 2, True, 1)]
    assert a.check().ok


def test_thresholds_import_from_csv(store_url: str, make_inventory: Make, tmp_path: Path) -> None:
    inv = shop(make_inventory(store_url))
    path = tmp_path / "thresholds.csv"
    path.write_text("sku,location,low\nmilk,,12\nmilk,B,2\nbread,A,0\n")
    p = importer.plan(inv, importer.read_csv(str(path)))
    assert p.kind == "thresholds"
    assert [t.status for t in p.thresholds] == ["new", "new", "new"]
    done = importer.apply(inv, p)
    assert done.written == 3
    assert inv.thresholds() == {("milk", None): 12, ("milk", "B"): 2, ("bread", "A"): 0}
    path.write_text("sku,location,low\nmilk,,12\nmilk,B,3\n")
    again = importer.plan(inv, importer.read_csv(str(path)))
    assert [t.status for t in again.thresholds] == ["same", "update"]
    assert importer.apply(inv, again).written == 1
    assert inv.thresholds()[("milk", "B")] == 3


def test_a_bad_thresholds_file_names_every_problem_and_writes_nothing(
    tmp_path: Path, make_inventory: Make
) -> None:
    inv = shop(make_inventory())
    path = tmp_path / "t.csv"
    path.write_text("sku,location,low\nmilk,Z,1\nmilk,A,-1\nmilk,A,2\nmilk,A,3\n,A,1\n")
    head = inv.head
    with pytest.raises(importer.ImportRefused) as err:
        importer.plan(inv, importer.read_csv(str(path)))
    got = [(p.line, p.column) for p in err.value.problems]
    assert got == [(2, "location"), (3, "low"), (4, "row"), (5, "row"), (6, "sku")]
    assert inv.head == head


def test_omnistock_import_sets_thresholds(tmp_path: Path, capsys: Any) -> None:
    url = f"sqlite:///{tmp_path / 's.db'}"
    with Inventory.open(url) as inv:
        shop(inv)
    path = tmp_path / "thresholds.csv"
    path.write_text("sku,low,location\nmilk,20,\nmilk,1,A\n")
    assert main(["import", str(path), "--store", url]) == 0
    out = capsys.readouterr().out
    assert "2 threshold(s)" in out and "2 new" in out
    assert main(["import", str(path), "--store", url]) == 0
    assert "2 unchanged" in capsys.readouterr().out
    with Inventory.open(url) as inv:
        assert [(a.sku, a.location, a.atp) for a in inv.alerts()] == [("milk", None, 14)]


def test_racing_writers_leave_a_consistent_alert_state(
    store_url: str, make_inventory: Make
) -> None:
    """Two inventories on one store sell and restock one SKU from four
    threads while its marks flip: afterwards (``alerts()`` settles what is
    due) each threshold's crossings alternate low, back up, low, ... one
    step at a time (a crossing relies on the alert state it saw, so racing
    writers never journal one twice), the last says what is true now, and
    both ledgers (and on PostgreSQL the counter tables) equal a replay."""
    if store_url == "memory://":
        pytest.skip("two writers need a durable store")
    a = shop(make_inventory(store_url))
    b = make_inventory(store_url)
    a.set_threshold("milk", low=12)
    b.set_threshold("milk", "A", low=8)
    errors_seen: list[BaseException] = []

    def work(inv: Inventory, k: int) -> None:
        try:
            for i in range(25):
                if (i + k) % 3:
                    inv.sell("A" if i % 2 else "B", [("milk", 1)])
                else:
                    inv.receive("milk", "A", 2)
                if i % 10 == 5:
                    inv.set_threshold("milk", "B", low=k + i % 4)
        except BaseException as exc:
            errors_seen.append(exc)

    import threading

    threads = [threading.Thread(target=work, args=(inv, k)) for k, inv in enumerate([a, b, a, b])]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors_seen == []
    low_now = {(x.sku, x.location) for x in a.alerts()}
    b.refresh()
    seen: dict[tuple[str, str | None], list[tuple[bool, int]]] = {}
    for sku, loc, _atp, below, step in crossed(b):
        seen.setdefault((sku, loc), []).append((below, step))
    for k in set(seen) | low_now:
        got = seen.get(k, [])
        want = [(i % 2 == 0, 1 if i % 2 == 0 else -1) for i in range(len(got))]
        assert got == want, k
        assert len(got) % 2 == (1 if k in low_now else 0), k
    assert {(x.sku, x.location) for x in b.alerts()} == low_now
    assert a.check().ok and b.check().ok
