"""Refusals across processes: a refusal on one SKU is never turned into a
conflict by writes to other SKUs, and a refusal is never returned on a
ledger that missed a receipt of the SKU itself.

Every store re-checks a refusal once, after catching up with every append
committed before it, so appends to other SKUs committed meanwhile cannot
make it retry again and again until it gives up (``ConcurrencyConflict``).

Deterministic by construction where it can be: each refusal is asked with a
ledger known to be behind the journal, each stale hold right after a receipt
its process has provably not read (the receipt's seq is past its head);
counts, never timings, are asserted.

The PostgreSQL cases need a server (``OMNISTOCK_PG_DSN``); they are skipped
without one unless ``OMNISTOCK_REQUIRE_PG=1`` (CI), where they fail.
"""

from __future__ import annotations

import queue
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from _workers import (
    COLD,
    COLD_FREE,
    SCARCE,
    background_writer,
    decode_held_batch,
    receiver,
    refuser,
    setup_refusals,
    stale_holder,
    store_url,
    warm_context,
)

from omnistock import Inventory, Line, Location, Order, errors
from omnistock.ledger import heldbatches

STOCK = 40  # per hot position: the background writers' holds mostly succeed
WRITERS = 4  # background writers on the hot SKUs
REFUSERS = 2
ROUNDS = 32  # refused calls per refuser: 8 of each kind, half of them keyed
STALE_ROUNDS = 16  # stale holds: 4 of each kind, half of them keyed


def _collect(out: Any, n: int, what: str, deadline: float) -> list[dict[str, Any]]:
    got: list[dict[str, Any]] = []
    while len(got) < n:
        try:
            got.append(out.get(timeout=max(0.1, deadline - time.monotonic())))
        except queue.Empty:
            pytest.fail(f"only {len(got)} of {n} {what} reported in time")
    crashed = [r["crash"] for r in got if "crash" in r]
    assert not crashed, f"a {what} process crashed:\n" + "\n".join(crashed)
    return got


def _journal_of(url: str, sku: str) -> list[tuple[Any, ...]]:
    """Every journal row of ``sku``, as (kind, location, qty, ref); a bulk
    hold's row (no SKU of its own) as one ``held`` per member holding
    ``sku``, with the member's reservation id."""
    out: list[tuple[Any, ...]] = []
    with Inventory.open(url) as inv:
        for r in inv.store.read(0):
            if r[2] == heldbatches.HELD_BATCH:
                for o, lines in decode_held_batch(r[9]):
                    out += [("held", l, q, f"{o}#{r[6]}") for s, l, q in lines if s == sku]
            elif r[3] == sku:
                out.append((r[2], r[4], r[5], r[6]))
    return out


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_refusals_stay_refusals_under_writes_to_other_skus(kind: str, tmp_path: Path) -> None:
    """``WRITERS`` processes hold, release, commit, receive and sell the hot
    SKUs without pause while ``REFUSERS`` processes ask for more ``COLD``
    than there is, each call made with a ledger behind the journal: by
    ``hold``, ``allocate``, ``hold_many`` and a bulk hold, keyed and not.
    Every call ends in ``InsufficientStock`` (or an ``unfillable``
    allocation, or a bulk hold that held nothing); none holds anything; on
    PostgreSQL none ends in ``ConcurrencyConflict``. Nothing of ``COLD``
    nor any refused call's key reaches the journal."""
    with store_url(kind, tmp_path, "refusals") as url:
        setup_refusals(url, STOCK)
        cold_before = _journal_of(url, COLD)
        ctx = warm_context()
        barrier = ctx.Barrier(WRITERS + REFUSERS)
        stop = ctx.Event()
        out, bg_out = ctx.Queue(), ctx.Queue()
        procs = [
            ctx.Process(target=background_writer, args=(url, k, stop, barrier, bg_out))
            for k in range(WRITERS)
        ] + [
            ctx.Process(target=refuser, args=(url, k, ROUNDS, barrier, out))
            for k in range(REFUSERS)
        ]
        for p in procs:
            p.start()
        try:
            reports = _collect(out, REFUSERS, "refuser", time.monotonic() + 150)
        finally:
            stop.set()
        try:
            writers = _collect(bg_out, WRITERS, "writer", time.monotonic() + 60)
        finally:
            for p in procs:
                p.join(timeout=30)
                if p.is_alive():
                    p.kill()

        conflicts = []
        for r in reports:
            assert r["check_ok"], (r["k"], r["problems"])
            held = [w for w in r["wrong"] if "ConcurrencyConflict" not in w]
            assert not held, f"refuser {r['k']}: calls that did not end in a refusal: {held}"
            conflicts += [w for w in r["wrong"] if "ConcurrencyConflict" in w]
            assert sum(r["refusals"].values()) + len(r["wrong"]) == ROUNDS, r
        assert not conflicts, f"refusals turned into conflicts: {conflicts}"
        for r in reports:  # every kind of call was refused
            assert r["refusals"] == {
                "hold": ROUNDS // 4,
                "unfillable": ROUNDS // 4,
                "hold_many": ROUNDS // 4,
                "hold_batch": ROUNDS // 4,
            }, r["refusals"]

        # The refusals raced the writers: other processes committed during
        # some of the calls (not a timing: each call waited for a commit by
        # another process before it started, and the writers never pause).
        raced = sum(r["raced"] for r in reports)
        done = [w["done"] for w in writers]
        assert raced > 0 and all(n > 0 for n in done), (raced, done)

        # Nothing of COLD was written, nor any refused call's key.
        assert _journal_of(url, COLD) == cold_before
        with Inventory.open(url) as inv:
            for r in reports:
                for key in r["keys"]:
                    assert inv.store.lookup_key(key) is None, f"refused call's key {key} recorded"
            for loc, n in COLD_FREE.items():
                assert inv.available(COLD, loc) == n, loc
            report = inv.check()
        assert report.ok, report.problems
        print(
            f"\n{kind}: {REFUSERS} refusers x {ROUNDS} calls on {COLD}, all on a stale "
            f"ledger, {raced} of them while others committed; {len(conflicts)} ended in "
            f"ConcurrencyConflict; {WRITERS} writers made {sum(done)} calls on other SKUs "
            f"({sum(w['conflicts'] for w in writers)} gave up)"
        )


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_a_stale_ledger_holds_what_another_process_just_received(kind: str, tmp_path: Path) -> None:
    """A receiver process receives ``SCARCE`` (none available before) and
    tells a holder process the receipt's seq; the holder, whose ledger has
    not folded that seq, at once takes exactly what was received (by
    ``hold``, ``allocate``, ``hold_many``, a bulk hold, keyed and not): the
    refusal its stale ledger would give is re-checked against the journal,
    so it holds. Then one more unit is refused (``InsufficientStock``). On
    PostgreSQL background writers keep committing to other SKUs meanwhile;
    not on SQLite, which plans a command again on any move of the head (a
    steady writer there can make a stale call give up, see the test above)."""
    writers = WRITERS if kind == "postgresql" else 0
    with store_url(kind, tmp_path, "stale_hold") as url:
        setup_refusals(url, STOCK)
        ctx = warm_context()
        barrier = ctx.Barrier(2 + writers)
        stop = ctx.Event()
        out, bg_out = ctx.Queue(), ctx.Queue()
        here, there = ctx.Pipe()
        procs = [
            ctx.Process(target=background_writer, args=(url, k, stop, barrier, bg_out))
            for k in range(writers)
        ] + [
            ctx.Process(target=receiver, args=(url, STALE_ROUNDS, here, barrier)),
            ctx.Process(target=stale_holder, args=(url, STALE_ROUNDS, there, barrier, out)),
        ]
        for p in procs:
            p.start()
        try:
            (report,) = _collect(out, 1, "stale holder", time.monotonic() + 150)
        finally:
            stop.set()
        try:
            _collect(bg_out, writers, "writer", time.monotonic() + 60)
        finally:
            for p in procs:
                p.join(timeout=30)
                if p.is_alive():
                    p.kill()

        assert report["check_ok"], report["problems"]
        rounds = report["rounds"]
        assert len(rounds) == STALE_ROUNDS
        for r in rounds:
            assert r["stale"], f"round {r['i']}: the holder had read the receipt already"
            assert r["held"] == r["want"], f"round {r['i']} ({r['mode']}): {r['outcome']}"
            assert r["more"] == "InsufficientStock", (r["i"], r["mode"], r["more"])

        # The journal: every receipt once, every stale hold once, nothing more of SCARCE.
        rows = _journal_of(url, SCARCE)
        held = sorted((ref, loc, q) for kind_, loc, q, ref in rows if kind_ == "held")
        got = [(r["rid"], r["want"][0][1], r["want"][0][2]) for r in rounds]
        assert held == sorted([("scarce-held#1", "L1", 1), *got])
        received = sum(q for kind_, _loc, q, _ref in rows if kind_ == "received")
        assert received == 1 + sum(r["want"][0][2] for r in rounds)
        with Inventory.open(url) as inv:
            assert inv.available(SCARCE) == 0
            assert inv.check().ok


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_a_stale_refusal_does_not_outlive_its_attempt(kind: str, tmp_path: Path) -> None:
    """Process a's ledger misses that b expired a due hold and received more:
    a's first attempt (the group path, since a hold is due in its ledger)
    refuses on stale figures, catches up and tries again on the lone path
    (nothing is due any more), which holds. The caller must get the hold,
    not the first attempt's refusal (the hold is in the journal either
    way). Two inventories in one process, one clock, deterministic."""
    t0 = datetime(2030, 1, 1, tzinfo=UTC)
    now = [t0]

    def clock() -> datetime:
        return now[0]

    with store_url(kind, tmp_path, "stale_error") as url:
        a = Inventory.open(url, clock=clock)
        b = Inventory.open(url, clock=clock)
        try:
            a.add_location(Location("L1"))
            a.receive("z", "L1", 1)
            a.hold(Order("h1", lines=[Line("z", 1, "L1")]), ttl=10)
            now[0] = t0 + timedelta(seconds=11)  # h1 is due
            b.receive("z", "L1", 2)  # b expires h1 first: 3 available; a has not caught up
            try:
                r = a.hold(Order("o2", lines=[Line("z", 3, "L1")]))
            except errors.InsufficientStock as e:
                journaled = [x[2:7] for x in a.store.read(0) if x[6] == "o2#1"]
                pytest.fail(f"hold refused ({e}) yet journaled: {journaled}")
            assert [(x.location, x.qty) for x in r.lines] == [("L1", 3)]
            assert a.check().ok
        finally:
            a.close()
            b.close()
